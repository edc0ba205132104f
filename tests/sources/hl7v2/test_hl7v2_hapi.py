"""Every resource type fhirflow emits from every HL7 v2 sample, checked by the real server's ``$validate``.

All inputs under tests/data/hl7v2 (FHIR-Converter inputs, CDC ELR feeds, python-hl7, hl7apy,
LinuxForHealth samples) go through :func:`etl.pipeline.convert`; from each file's output up to
:data:`PER_TYPE` resources per type are sampled (first, middle, last), so every (file, type) pair
is validated at least once.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from etl.config import JobConfig
from etl.fhir.validation import validate_on_server
from etl.pipeline import convert

DATA = Path(__file__).resolve().parents[2] / "data" / "hl7v2"
PER_TYPE = 2


def _sample(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(rows) <= PER_TYPE:
        return rows
    return [rows[0], rows[-1]]


@pytest.mark.hapi
def test_every_type_of_every_sample_validates_on_hapi(hapi_url: str, tmp_path: Path) -> None:
    samples: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(p for p in DATA.rglob("*.hl7") if "expected" not in p.parts):
        dest = tmp_path / path.stem
        convert([path], dest, JobConfig(id_salt="hapi"))
        by_type: dict[str, list[dict[str, Any]]] = {}
        for f in sorted((dest / "fhir").glob("*.ndjson")):
            for line in f.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                by_type.setdefault(r["resourceType"], []).append(r)
        samples += [(path.name, r) for rows in by_type.values() for r in _sample(rows)]
    types = {r["resourceType"] for _, r in samples}
    assert {"Patient", "Encounter", "Observation", "DiagnosticReport", "Immunization", "MedicationRequest",
            "Appointment", "DocumentReference", "ChargeItem", "Provenance", "Location", "Practitioner",
            "RelatedPerson", "Coverage", "ServiceRequest", "Specimen"} <= types
    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: (s, validate_on_server(client, hapi_url, s[1])), samples))
    problems = {f"{name}: {r['resourceType']}/{r['id']}": issues for (name, r), issues in results if issues}
    assert problems == {}
