"""Every section entry of every sample document ends as resources or as a warning naming the
section (place, LOINC) and the entry (ordinal, templateId): source entries = mapped + warned."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ccda_helpers import ALL_INPUTS, SALT, of_type

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.pipeline import convert
from etl.sources.ccda.model import Document, attr, find, findall
from etl.sources.ccda.source import CcdaSource

WARNED = re.compile(r"^section (?P<place>[\d.]+) \(LOINC (?P<code>[^)]+)\), entry (?P<n>\d+) \(")


def _source_entries(doc: Document) -> dict[str, tuple[str, int]]:
    """section place -> (LOINC code, number of entries), read straight from the XML."""
    out: dict[str, tuple[str, int]] = {}

    def walk(section: Any, place: str) -> None:
        out[place] = (attr(find(section, "code"), "code") or "none", len(findall(section, "entry")))
        for i, sub in enumerate(findall(section, "component/section"), start=1):
            walk(sub, f"{place}.{i}")

    for i, section in enumerate(findall(doc.root, "component/structuredBody/component/section"), start=1):
        walk(section, str(i))
    return out


def _convert(path: Path) -> list[tuple[Document, list[dict[str, Any]], list[str]]]:
    src, cfg = CcdaSource(), JobConfig(id_salt=SALT)
    out = []
    for unit in src.read(path, cfg):
        if unit.record is None:
            continue
        ctx = MappingContext(SALT)
        try:
            resources = list(src.to_fhir(unit.record, ctx, cfg))
        except Exception:  # a document without recordTarget: rejected whole (an error record), nothing to count
            continue
        out.append((unit.record, resources, list(ctx.warnings)))
    return out


@pytest.mark.parametrize("path", ALL_INPUTS, ids=lambda p: p.name)
def test_every_entry_is_a_resource_or_a_warning(path: Path) -> None:
    for doc, resources, warnings in _convert(path):
        known = {f"{r['resourceType']}/{r['id']}" for r in resources}
        warned = Counter()
        for w in warnings:
            m = WARNED.match(w)
            if m:
                warned[(m["place"], m["code"])] += 1
        for place, (code, n) in _source_entries(doc).items():
            logged = [e for e in doc.entries if e.section == place]
            assert all(e.section_code == code for e in logged)
            mapped = [e for e in logged if e.refs]
            assert n == len(mapped) + warned[(place, code)], (path.name, place, code)
            assert len(logged) == n
            for e in mapped:
                assert {r["reference"] for r in e.refs} <= known
        assert not doc.broken, [e.message for e in doc.broken]


def test_the_issue_sections_convert() -> None:
    """Nutrition, Procedure Indications, Reason for Referral, Health Status Outcomes, Interventions."""
    by_name = {p.name: p for p in ALL_INPUTS}
    (_, consult, _), = _convert(by_name["Consultation_Note.ccda"])
    nutrition = {o["code"]["coding"][0]["code"]: o for o in of_type(consult, "Observation")
                 if o["code"]["coding"][0]["code"] in ("75305-3", "75303-8")}
    assert set(nutrition) == {"75305-3", "75303-8"}
    status = nutrition["75305-3"]
    assert status["valueCodeableConcept"]["coding"][0]["code"] == "248324001"
    assert len(status["hasMember"]) == 2  # the two Nutrition Assessments
    assert any(s["code"]["coding"][0]["code"] == "42349-1" and s["entry"] for s in
               of_type(consult, "Composition")[0]["section"])  # Reason for Referral → ServiceRequest
    (_, operative, _), = _convert(by_name["Operative_Note.ccda"])
    (indication,) = [o for o in of_type(operative, "Observation") if o["code"]["coding"][0]["code"] == "75321-0"]
    assert indication["valueCodeableConcept"]["coding"][0]["code"] == "414992000"
    assert indication["category"][0]["coding"][0]["code"] == "exam"
    (_, care_plan, warnings), = _convert(by_name["Care_Plan.ccda"])
    assert any(o["code"]["coding"][0]["code"] == "44616-1" for o in of_type(care_plan, "Observation"))  # outcome
    assert any("externalDocument" in w for w in warnings)
    (_, _, amb_warnings), = _convert(by_name["170.314B2_Amb_CCD.ccda"])
    assert sum("Instruction (.4.20)" in w for w in amb_warnings) == 2


def test_the_warnings_reach_the_warning_records(tmp_path: Path) -> None:
    amb = next(p for p in ALL_INPUTS if p.name == "170.314B2_Amb_CCD.ccda")
    summary = convert([amb], tmp_path / "out", JobConfig(id_salt=SALT))
    records = [json.loads(line) for f in (tmp_path / "out" / "warnings").glob("*.ndjson")
               for line in f.read_text().splitlines()]
    texts = [i["details"]["text"] for r in records for i in r["issue"]]
    assert sum(bool(WARNED.match(t)) and "templateId 2.16.840.1.113883.10.20.22.4.20" in t for t in texts) == 2
    assert summary.files[0].warnings == len(texts)


@pytest.mark.parametrize("name", ["Health_Concerns_Link_to_Problems_SectionC-CDA2.1.xml",
                                  "Planned_Encounter_-_Reason_for_ReferralC-CDAR2.1.xml",
                                  "Intervention_Planned_Referral_and_Note_Completeting_ReferralC-CDAR2.1.xml"])
def test_the_header_less_hl7_examples_under_a_header(name: str, tmp_path: Path) -> None:
    """The HL7 examples of Health Concerns and referrals are bodies without a header (rejected as
    they are): under the minimal test header, their every entry is accounted for too."""
    from ccda_minimal import document

    text = (next(p for p in ALL_INPUTS if p.name == name)).read_text(encoding="utf-8")
    body = text[text.index("<component>"):text.rindex("</ClinicalDocument>")]
    path = tmp_path / name
    path.write_text(document(body=body).replace('<ClinicalDocument xmlns="urn:hl7-org:v3">',
                                                '<ClinicalDocument xmlns="urn:hl7-org:v3" '
                                                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'),
                    encoding="utf-8")
    ((doc, resources, _),) = _convert(path)
    assert sum(n for _, n in _source_entries(doc).values()) == len(doc.entries) > 0
    if name.startswith("Health_Concerns"):
        concerns = [c for c in of_type(resources, "Condition")
                    if c["category"][0]["coding"][0]["code"] == "health-concern"]
        assert concerns
    else:
        assert of_type(resources, "ServiceRequest")  # the referral
