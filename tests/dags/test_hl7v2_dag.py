"""Run the hl7v2_batches DAG with dag.test() on sample files against the real HAPI server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from dag_helpers import found, land, load_dag, staged_ids

from etl.fhir.outcome import source_excerpt

pytestmark = [pytest.mark.airflow, pytest.mark.hapi]

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2"


def _on_server(hapi_url: str, root: Path) -> dict[str, int]:
    """Per type, how many distinct staged resource ids the server has (all of them, or it fails)."""
    out: dict[str, int] = {}
    for rtype, ids in staged_ids(root, "hl7v2").items():
        out[rtype] = found(hapi_url, rtype, ids)
        assert out[rtype] == len(set(ids)), rtype
    return out


def test_clean_run_loads_and_archives(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    root = tmp_path / "root"
    land(root, "hl7v2", HL7 / "fhir-converter" / "ADT-A01-01.hl7", HL7 / "fhir-converter" / "ORU-R01-01.hl7",
          HL7 / "python-hl7" / "sample_batch1.hl7", uploading="MSH|")
    run = load_dag("hl7v2_batches").test(run_conf={"root": str(root), "fhir_url": hapi_url, "id_salt": "dag-test",
                                "max_retry_after_s": 2, "batch_files": 2})
    assert run.state == "success"
    archived = sorted(p.name for p in root.glob("archive/hl7v2/*/*"))
    assert archived == ["ADT-A01-01.hl7", "ORU-R01-01.hl7", "sample_batch1.hl7"]
    assert [p.name for p in (root / "landing" / "hl7v2").iterdir()] == ["still-uploading.hl7v2.part"]
    assert len(list(root.glob("staged/hl7v2/*/*/batch-*/manifest.json"))) == 2  # 3 files, batches of 2
    found = _on_server(hapi_url, root)
    assert found["Patient"] >= 3 and found["Encounter"] >= 1 and found["Observation"] >= 1
    assert list(root.glob("staged/hl7v2/*/*/batch-*/parquet/Patient/part-000.parquet"))


def test_rejected_message_quarantines_file_loads_the_rest_and_fails_run(
    tmp_path: Path, hapi_url: str, airflow_db: Path
) -> None:
    root = tmp_path / "root"
    bad = tmp_path / "mixed.hl7"
    good = (HL7 / "fhir-converter" / "ADT-A04-01.hl7").read_bytes().rstrip(b"\r\n")
    bad.write_bytes(good + b"\rMSH|^~\\&|X|Y|Z|W|20240101||ADT^A01|BROKEN1|P|2.5\rPID|1||^^^X||Nobody\r")
    land(root, "hl7v2", bad, HL7 / "fhir-converter" / "LAB-ORU-1.hl7", uploading="MSH|")
    run = load_dag("hl7v2_batches").test(run_conf={"root": str(root), "fhir_url": hapi_url, "id_salt": "dag-test",
                                "max_retry_after_s": 2})
    assert run.state == "failed"  # settle fails the run so operators see the rejection
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["load"] == "success" and states["settle"] == "failed"
    assert [p.name for p in root.glob("archive/hl7v2/*/*")] == ["LAB-ORU-1.hl7"]
    quarantined = sorted(p.name for p in root.glob("quarantine/hl7v2/*/*"))
    assert quarantined == ["mixed.hl7", "mixed.hl7.errors.ndjson"]
    (err,) = [orjson.loads(x) for x in next(root.glob("quarantine/hl7v2/*/mixed.hl7.errors.ndjson")).read_bytes().splitlines()]
    assert source_excerpt(err["issue"][0])["MSH-10"] == "BROKEN1"
    # The good message of the mixed file was loaded too: its patient and encounter are on the server.
    found = _on_server(hapi_url, root)
    assert found["Patient"] == 2 and found["Encounter"] == 1 and found["Observation"] >= 1


def test_transaction_dialect_loads_through_the_dag(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    """The load step's dialect is a run param: transaction Bundles of PUTs instead of $import."""
    root = tmp_path / "root"
    land(root, "hl7v2", HL7 / "fhir-converter" / "ADT-A01-01.hl7", HL7 / "python-hl7" / "sample_batch1.hl7")
    run = load_dag("hl7v2_batches").test(run_conf={"root": str(root), "fhir_url": hapi_url, "id_salt": "dag-test-tx",
                                                   "max_retry_after_s": 2, "dialect": "transaction",
                                                   "bundle_size": 2, "load_concurrency": 2})
    assert run.state == "success"
    (load_ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "load"]
    assert sorted(p.name for p in root.glob("archive/hl7v2/*/*")) == ["ADT-A01-01.hl7", "sample_batch1.hl7"]
    assert _on_server(hapi_url, root)["Patient"] >= 2
    assert load_ti.state == "success"
