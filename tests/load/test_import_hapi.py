"""Against the real HAPI FHIR JPA server: $import, verification, re-load without duplicates, $validate."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from etl.config import ImportConfig, JobConfig
from etl.fhir.validation import validate_on_server
from etl.load.importer import import_folder
from etl.pipeline import convert

pytestmark = pytest.mark.hapi

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2"


def _count(base: str, rtype: str, ids: list[str]) -> int:
    r = httpx.post(f"{base}/{rtype}/_search", data={"_id": ",".join(ids), "_summary": "count"}, timeout=60)
    return int(r.json()["total"])


def test_import_then_reimport_does_not_duplicate(tmp_path: Path, hapi_url: str) -> None:
    cfg = JobConfig(id_salt="hapi-import-test", load=ImportConfig(fhir_url=hapi_url, max_retry_after_s=2, poll_interval_s=1))
    summary = convert([HL7 / "fhir-converter" / "ADT-A01-01.hl7", HL7 / "fhir-converter" / "ORU-R01-01.hl7",
                       HL7 / "python-hl7" / "sample_batch1.hl7"], tmp_path, cfg)
    report = import_folder(tmp_path, cfg)
    assert report.found == report.sent == dict(summary.resources)
    ids = [orjson.loads(x)["id"] for x in (tmp_path / "fhir" / "Patient.000.ndjson").read_bytes().splitlines()]
    assert _count(hapi_url, "Patient", ids) == len(ids)
    again = import_folder(tmp_path, cfg)  # a re-load upserts the same ids
    assert again.found == again.sent
    assert _count(hapi_url, "Patient", ids) == len(ids)
    # The references resolve on the server: observations point at the imported patient.
    obs = orjson.loads((tmp_path / "fhir" / "Observation.000.ndjson").read_bytes().splitlines()[0])
    patient_ref = obs["subject"]["reference"]
    assert httpx.get(f"{hapi_url}/{patient_ref}", timeout=30).status_code == 200


def test_emitted_resources_pass_hapi_validate(tmp_path: Path, hapi_url: str, config: JobConfig) -> None:
    convert([HL7], tmp_path, config)
    problems: list[str] = []
    with httpx.Client(timeout=120) as client:
        for path in sorted((tmp_path / "fhir").glob("*.ndjson")) + sorted((tmp_path / "errors").glob("*.ndjson")):
            lines = path.read_bytes().splitlines()
            for line in lines[:: max(1, len(lines) // 5)][:5]:  # a sample of each type
                resource = orjson.loads(line)
                problems += [f"{resource['resourceType']}: {p}" for p in validate_on_server(client, hapi_url, resource)]
    assert problems == []
