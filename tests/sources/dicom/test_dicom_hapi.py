"""Against the real HAPI FHIR server: every DICOM resource passes ``$validate``, and a study split over
two runs (two ``$import`` s) is one ImagingStudy with all its series on the server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from dicom_helpers import DATA, make_instance, resources

from etl.config import ImportConfig, JobConfig
from etl.fhir.validation import validate_on_server
from etl.load.importer import import_folder
from etl.pipeline import convert

pytestmark = pytest.mark.hapi


def test_every_dicom_resource_validates_on_hapi(tmp_path: Path, hapi_url: str) -> None:
    out = tmp_path / "out"
    make_instance(tmp_path / "gen" / "a.dcm", "1.2.826.0.9.1", "1.2.826.0.9.1.1", "1.2.826.0.9.1.1.1",
                  TimezoneOffsetFromUTC="-0500", Laterality="R", PerformingPhysicianName="Performer^Pat")
    cfg = JobConfig(id_salt="dicom-hapi", state_url=str(tmp_path / "state.db"),
                    dicom_endpoint="https://pacs.example.org/dicom-web")
    convert([DATA, tmp_path / "gen"], out, cfg)
    every = [r for t in ("ImagingStudy", "Patient", "Practitioner", "Endpoint") for r in resources(out, t)]
    assert {r["resourceType"] for r in every} == {"ImagingStudy", "Patient", "Practitioner", "Endpoint"}
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda r: (r, validate_on_server(client, hapi_url, r)), every))
    problems = {f"{r['resourceType']}/{r['id']}": issues for r, issues in results if issues}
    assert problems == {}


def test_study_split_over_two_runs_is_one_study_with_all_series_on_the_server(tmp_path: Path, hapi_url: str) -> None:
    study = "1.2.826.0.9.2"
    make_instance(tmp_path / "day1" / "s1.dcm", study, f"{study}.1", f"{study}.1.1")
    make_instance(tmp_path / "day2" / "s2a.dcm", study, f"{study}.2", f"{study}.2.1", SeriesNumber="2")
    make_instance(tmp_path / "day2" / "s2b.dcm", study, f"{study}.2", f"{study}.2.2", SeriesNumber="2",
                  InstanceNumber="2")
    cfg = JobConfig(id_salt="dicom-hapi-split", state_url=str(tmp_path / "state.db"),
                    load=ImportConfig(fhir_url=hapi_url, max_retry_after_s=2, poll_interval_s=1))
    for day in ("day1", "day2"):
        convert([tmp_path / day], tmp_path / f"out-{day}", cfg)
        report = import_folder(tmp_path / f"out-{day}", cfg)
        assert report.found == report.sent
    (first,) = resources(tmp_path / "out-day1", "ImagingStudy")
    (second,) = resources(tmp_path / "out-day2", "ImagingStudy")
    assert first["id"] == second["id"] and first["numberOfSeries"] == 1
    found = httpx.get(f"{hapi_url}/ImagingStudy", params={"identifier": f"urn:dicom:uid|urn:oid:{study}"}, timeout=60).json()
    (entry,) = found["entry"]
    on_server = entry["resource"]
    assert on_server["id"] == first["id"]
    assert [s["uid"] for s in on_server["series"]] == [f"{study}.1", f"{study}.2"]
    assert on_server["numberOfInstances"] == 3 and on_server["numberOfSeries"] == 2
