"""Run dicom_metadata (landing files) and dicomweb_metadata (a real Orthanc) with dag.test() against
the real HAPI server."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from dag_helpers import land, load_dag

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources" / "dicom"))
from dicom_helpers import DATA, make_instance, upload  # noqa: E402

pytestmark = [pytest.mark.airflow, pytest.mark.hapi]


def _staged(root: Path, fmt: str, rtype: str) -> list[dict[str, object]]:
    return [orjson.loads(x) for p in sorted(root.glob(f"staged/{fmt}/*/*/*/fhir/{rtype}.*.ndjson"))
            for x in p.read_bytes().splitlines()]


def _on_server(hapi_url: str, study_uid: str) -> dict[str, object]:
    bundle = httpx.get(f"{hapi_url}/ImagingStudy", params={"identifier": f"urn:dicom:uid|urn:oid:{study_uid}"},
                       timeout=60).json()
    (entry,) = bundle["entry"]
    return entry["resource"]  # type: ignore[no-any-return]


def test_dicom_metadata_one_study_over_batches_and_a_bad_file(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    study = "1.2.826.0.9.77"
    src = tmp_path / "src"
    files = [make_instance(src / f"i{n}.dcm", study, f"{study}.{n % 2 + 1}", f"{study}.{n % 2 + 1}.{n}",
                           SeriesNumber=str(n % 2 + 1), InstanceNumber=str(n)) for n in range(1, 6)]
    bad = src / "cut.dcm"
    bad.write_bytes(files[0].read_bytes()[:300])
    root = tmp_path / "root"
    land(root, "dicom", *files, bad, uploading="DICM")
    run = load_dag("dicom_metadata").test(run_conf={"root": str(root), "fhir_url": hapi_url, "id_salt": "dicom-dag",
                                                    "max_retry_after_s": 2, "batch_files": 2})
    assert run.state == "failed"  # the cut-off file: quarantined, and the run says so
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["studies"] == "success" and states["load"] == "success" and states["settle"] == "failed"
    assert sorted(p.name for p in root.glob("quarantine/dicom/*/*")) == ["cut.dcm", "cut.dcm.errors.ndjson"]
    assert sorted(p.name for p in root.glob("archive/dicom/*/*")) == sorted(f.name for f in files)
    # three batches, one study: staged once, whole, by the studies task
    (staged,) = _staged(root, "dicom", "ImagingStudy")
    assert staged["numberOfInstances"] == 5 and staged["numberOfSeries"] == 2
    assert not list(root.glob("staged/dicom/*/*/batch-*/fhir/ImagingStudy.*"))
    on_server = _on_server(hapi_url, study)
    assert on_server["numberOfInstances"] == 5 and len(on_server["series"]) == 2  # type: ignore[arg-type]


@pytest.mark.orthanc
def test_dicomweb_metadata_reads_the_data_interval(tmp_path: Path, hapi_url: str, airflow_db: Path,
                                                   orthanc_url: str) -> None:
    ct, mr = DATA / "pydicom" / "CT_small.dcm", DATA / "pydicom" / "MR_small.dcm"  # StudyDate 20040119, 20040826
    assert all(upload(orthanc_url, [ct, mr]).values())
    root = tmp_path / "root"
    run = load_dag("dicomweb_metadata").test(
        logical_date=datetime(2004, 1, 19, tzinfo=UTC),
        run_conf={"root": str(root), "fhir_url": hapi_url, "dicomweb_url": orthanc_url, "id_salt": "dicomweb-dag",
                  "max_retry_after_s": 2})
    assert run.state == "success"
    uids = {s["identifier"][0]["value"] for s in _staged(root, "dicomweb", "ImagingStudy")}  # type: ignore[index]
    assert "urn:oid:1.3.6.1.4.1.5962.1.2.1.20040119072730.12322" in uids
    assert "urn:oid:1.3.6.1.4.1.5962.1.2.4.20040826185059.5457" not in uids
    assert _on_server(hapi_url, "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322")["endpoint"]
