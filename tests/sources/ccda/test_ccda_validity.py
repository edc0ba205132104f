"""The hand-made cases of tests/data/ccda/documents (issue 10): what HAPI refused before, and
allergy reactions. ``test_ccda_hapi`` posts the same output to the server's ``$validate``."""

from __future__ import annotations

from typing import Any

from ccda_helpers import DATA, SALT, of_type
from lxml import etree

from etl.fhir.context import MappingContext
from etl.fhir.validation import validate_model
from etl.sources.ccda.parse import parse_bytes
from etl.sources.ccda.to_fhir import to_fhir

CASES = DATA / "documents" / "handmade-invalid-cases.xml"
DIR = DATA / "documents" / "handmade-diagnostic-imaging-report.xml"
XHTML = "{http://www.w3.org/1999/xhtml}"


def _convert(path: Any) -> tuple[list[dict[str, Any]], list[str]]:
    ctx = MappingContext(SALT)
    resources = to_fhir(parse_bytes(path.read_bytes(), path.name), ctx)
    return resources, ctx.warnings


def _section(resources: list[dict[str, Any]], code: str) -> dict[str, Any]:
    (comp,) = of_type(resources, "Composition")
    return next(s for s in comp["section"] if s["code"]["coding"][0]["code"] == code)


def test_an_offset_outside_14_hours_is_dropped_with_a_warning() -> None:
    resources, warnings = _convert(CASES)
    (cond,) = of_type(resources, "Condition")
    assert cond["onsetDateTime"] == "2020-03-01"  # -5000 is no time zone: the time cannot be placed
    assert "effectiveTime: has a UTC offset outside -1400..+1400; the offset is dropped" in warnings
    # An offset at the limit is kept.
    from etl.sources.ccda.datatypes import ts

    el = etree.fromstring('<low xmlns="urn:hl7-org:v3" value="20200301230000+1400"/>')
    assert ts(el, MappingContext(SALT)) == "2020-03-01T23:00:00+14:00"


def test_captions_never_nest_a_p_in_a_p() -> None:
    resources, _ = _convert(CASES)
    div = etree.fromstring(_section(resources, "10164-2")["text"]["div"].encode())
    for p in div.iter(XHTML + "p"):
        assert not any(d.tag in (XHTML + "p", XHTML + "ul", XHTML + "table") for d in p.iterdescendants()), \
            etree.tostring(p)
    for cap in div.iter(XHTML + "caption"):
        assert cap.getparent().tag == XHTML + "table"
    text = "".join(div.itertext())
    assert "Onset" in text and "Symptoms" in text and "Readings" in text and "Day 1" in text


def test_a_section_with_only_a_null_flavor_has_a_narrative_saying_so() -> None:
    resources, _ = _convert(CASES)
    section = _section(resources, "47519-4")
    assert section["emptyReason"]["coding"][0]["code"] == "nilknown"
    assert "No information" in section["text"]["div"] and "entry" not in section  # cmp-1 and cmp-2


def test_an_immunization_without_effective_time_has_a_data_absent_occurrence() -> None:
    resources, _ = _convert(CASES)
    (imm,) = of_type(resources, "Immunization")
    assert "occurrenceDateTime" not in imm
    assert imm["_occurrenceDateTime"]["extension"][0]["valueCode"] == "unknown"
    # (fhir.resources' models want a value beside the extension; HAPI, the authority, accepts it:
    # test_ccda_hapi posts this very resource.)


def test_a_reaction_keeps_its_own_substance_and_severity() -> None:
    resources, _ = _convert(CASES)
    (allergy,) = of_type(resources, "AllergyIntolerance")
    assert allergy["code"]["coding"][0]["display"] == "Penicillins (class)"  # the allergen stays in code
    hives, nausea = allergy["reaction"]
    assert hives["substance"]["coding"][0] == {"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                               "code": "723", "display": "Amoxicillin"}
    assert hives["severity"] == "severe"  # its own Severity Observation
    assert "substance" not in nausea and nausea["severity"] == "moderate"  # the allergy's severity
    assert validate_model(allergy) == []


def test_a_diagnostic_imaging_report() -> None:
    resources, warnings = _convert(DIR)
    obs = {o["code"]["coding"][0]["code"]: o for o in of_type(resources, "Observation")}
    assert set(obs) == {"121071", "121206", "121073"}
    assert all(o["category"][0]["coding"][0]["code"] == "imaging" for o in obs.values())
    assert obs["121071"]["code"]["coding"][0]["system"] == "http://dicom.nema.org/resources/ontology/DCM"
    assert obs["121071"]["valueString"] == "Patchy opacity in the right lower lobe."
    assert obs["121206"]["valueQuantity"]["value"] == 12
    assert obs["121073"]["valueCodeableConcept"]["coding"][0]["code"] == "233604007"
    catalog, findings = [w for w in warnings if w.startswith("section ")]
    assert catalog.startswith("section 1 (LOINC 121181), entry 1 (act, templateId 2.16.840.1.113883.10.20.6.2.6)")
    assert findings.startswith("section 3 (LOINC 121070), entry 3 (act, templateId 2.16.840.1.113883.10.20.6.2.5)")
    assert "History" in _section(resources, "121060")["title"]
    for r in resources:
        assert validate_model(r) == [], r["resourceType"]
