"""The issue's promises, one by one: the twelve document types, R1.1 and R2.1 headers, unknown
templates, several documents in one file, nullFlavor and TS precision."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from ccda_helpers import INPUTS, SALT, convert_bytes, convert_file, of_type
from ccda_minimal import REALM_HEADER, document

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.fhir.validation import validate_model
from etl.sources.ccda import codes
from etl.sources.ccda.datatypes import ts
from etl.sources.ccda.model import find
from etl.sources.ccda.parse import parse_bytes
from etl.sources.ccda.source import CcdaSource
from etl.sources.ccda.to_fhir import to_fhir
from etl.sources.ccda.to_fhir_document import document_type

LOINC = "http://loinc.org"
DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
T = "2.16.840.1.113883.10.20.22.1."


def _sample(prefix: str) -> Path:
    return next(p for p in INPUTS if p.name.startswith(prefix))


# (type name, sample, (templateId, code) replaced to derive a type without a sample, Composition.type code).
# The LOINC codes are those of the C-CDA R2.1 document templates; Unstructured Document has none of its
# own (any LOINC document code), so its expectation is the sample's own code.
DOCUMENT_TYPE_CASES: list[tuple[str, str, tuple[str, str, str, str] | None, str]] = [
    ("CCD", "CCD.ccda", None, "34133-9"),
    ("Discharge Summary", "Discharge_Summary", None, "18842-5"),
    ("Referral Note", "Referral_Note", None, "57133-1"),
    ("Progress Note", "Progress_Note", None, "11506-3"),
    ("History and Physical", "History_and_Physical", None, "34117-2"),
    ("Consultation Note", "Consultation_Note", None, "11488-4"),
    ("Operative Note", "Operative_Note", None, "11504-8"),
    ("Procedure Note", "Operative_Note", (T + "7", T + "6", "11504-8", "28570-0"), "28570-0"),
    ("Transfer Summary", "Discharge_Summary", (T + "8", T + "13", "18842-5", "18761-7"), "18761-7"),
    ("Care Plan", "Care_Plan", None, "52521-2"),
    ("Diagnostic Imaging Report", "Progress_Note", (T + "9", T + "5", "11506-3", "18748-4"), "18748-4"),
    ("Unstructured Document", "CDA_with_Embedded_PDF", None, "81334-5"),
]


def test_every_document_type_has_a_template() -> None:
    assert {c[0] for c in DOCUMENT_TYPE_CASES} <= set(codes.DOCUMENT_TYPES.values())
    assert len(DOCUMENT_TYPE_CASES) == 12


@pytest.mark.parametrize(("name", "sample", "swap", "loinc"), DOCUMENT_TYPE_CASES, ids=[c[0] for c in DOCUMENT_TYPE_CASES])
def test_document_type(name: str, sample: str, swap: tuple[str, str, str, str] | None, loinc: str,
                       tmp_path: Path) -> None:
    path = _sample(sample)
    if swap:
        old_t, new_t, old_code, new_code = swap
        text = path.read_text(encoding="utf-8")
        assert text.count(f'root="{old_t}"') == 1 and text.count(f'code="{old_code}"') == 1
        text = text.replace(f'root="{old_t}"', f'root="{new_t}"').replace(f'code="{old_code}"', f'code="{new_code}"')
        path = tmp_path / f"{name}.xml"
        path.write_text(text, encoding="utf-8")
    assert document_type(parse_bytes(path.read_bytes()).root) == name
    resources, errors = convert_file(path)
    assert errors == []
    (comp,) = of_type(resources, "Composition")
    # Composition.type is the document's own code (ClinicalDocument.code), not a table lookup.
    assert comp["type"]["coding"][0]["system"] == LOINC and comp["type"]["coding"][0]["code"] == loinc
    # The document's own DocumentReference (a Notes section may add others, for its note activities).
    (doc_ref,) = [d for d in of_type(resources, "DocumentReference") if d.get("masterIdentifier") == comp["identifier"]]
    assert doc_ref["type"] == comp["type"]
    assert of_type(resources, "CarePlan") if name == "Care Plan" else not of_type(resources, "CarePlan")
    content = doc_ref["content"][0]
    if name == "Unstructured Document":
        att = content["attachment"]
        assert att["contentType"] == "application/pdf"
        assert base64.b64decode(att["data"]).startswith(b"%PDF-") and att["size"] == len(base64.b64decode(att["data"]))
        assert content["format"]["code"] == "urn:hl7-org:sdwg:ccda-nonXMLBody:2.1"
        assert "section" not in comp or all("entry" not in s for s in comp["section"])
    else:
        assert content["format"]["code"].startswith("urn:hl7-org:sdwg:ccda-structuredBody:")


def test_composition_type_is_the_document_code_and_the_template_names_a_null_one() -> None:
    other = convert_bytes(document(code='<code code="81222-2" codeSystem="2.16.840.1.113883.6.1"/>').encode())
    assert of_type(other, "Composition")[0]["type"] == {"coding": [{"system": LOINC, "code": "81222-2"}]}
    null = convert_bytes(document(code='<code nullFlavor="NAV"/>').encode())
    comp = of_type(null, "Composition")[0]
    assert comp["type"] == {"coding": [{"system": DAR, "code": "temp-unknown", "display": "Temporarily Unknown"}],
                            "text": "Progress Note"}
    assert validate_model(comp) == []


def test_unstructured_document_with_inline_text_is_embedded() -> None:
    body = ('<component><nonXMLBody><text mediaType="text/plain" representation="B64">'
            + base64.b64encode(b"Hello note").decode() + "</text></nonXMLBody></component>")
    templates = f'<templateId root="{REALM_HEADER}"/><templateId root="{T}10"/>'
    resources = convert_bytes(document(doc_templates=templates, body=body).encode())
    att = of_type(resources, "DocumentReference")[0]["content"][0]
    assert att["attachment"]["contentType"] == "text/plain" and base64.b64decode(att["attachment"]["data"]) == b"Hello note"
    assert att["format"]["code"] == "urn:hl7-org:sdwg:ccda-nonXMLBody:1.1"


# --- R1.1 and R2.1 headers -------------------------------------------------------------------------

def _without_embedded_xml(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in resources:
        if r["resourceType"] == "DocumentReference":
            r = {**r, "content": [{"format": c["format"]} for c in r["content"]]}
        out.append(r)
    return out


def test_r11_and_r21_headers_convert_alike() -> None:
    r11 = document(doc_templates=f'<templateId root="{REALM_HEADER}"/><templateId root="{T}9"/>')
    r21 = document(doc_templates=f'<templateId root="{REALM_HEADER}" extension="2015-08-01"/>'
                                 f'<templateId root="{T}9" extension="2015-08-01"/>')
    a, b = convert_bytes(r11.encode()), convert_bytes(r21.encode())
    assert document_type(parse_bytes(r11.encode()).root) == document_type(parse_bytes(r21.encode()).root) == "Progress Note"
    # The only intended difference: the DocumentReference format code names the C-CDA release
    # (IHE format codes urn:hl7-org:sdwg:ccda-structuredBody:1.1 / :2.1), and the embedded XML differs.
    formats = [of_type(rs, "DocumentReference")[0]["content"][0]["format"]["code"] for rs in (a, b)]
    assert formats == ["urn:hl7-org:sdwg:ccda-structuredBody:1.1", "urn:hl7-org:sdwg:ccda-structuredBody:2.1"]
    others = [[r for r in rs if r["resourceType"] != "DocumentReference"] for rs in (a, b)]
    assert others[0] == others[1]
    ref_a, ref_b = (of_type(_without_embedded_xml(rs), "DocumentReference")[0] for rs in (a, b))
    assert {**ref_a, "content": None} == {**ref_b, "content": None}
    for r in a + b:
        assert validate_model(r) == [], r["resourceType"]


# --- unknown templates ---------------------------------------------------------------------------

UNKNOWN_SECTION = """<component><section>
  <templateId root="1.2.3.4.5.997" extension="2099-01-01"/>
  <code code="99999-9" codeSystem="2.16.840.1.113883.6.1" displayName="Vendor notes"/>
  <title>Vendor notes</title>
  <text><paragraph>Vendor narrative</paragraph></text>
  <entry><observation classCode="OBS" moodCode="EVN"><templateId root="1.2.3.4.5.996"/>
    <code code="Y" codeSystem="1.2.3.4.5"/></observation></entry>
</section></component>"""
UNKNOWN_ENTRIES = (
    # No template we know and no standard shape for a problem: left in the narrative.
    '<entry><encounter classCode="ENC" moodCode="EVN"><templateId root="1.2.3.4.5.998"/>'
    '<code code="X" codeSystem="1.2.3.4.5"/></encounter></entry>'
    # An unknown act in the Problems section is read as a concern act; it wraps no problem, so it gives none.
    '<entry><act classCode="ACT" moodCode="EVN"><templateId root="1.2.3.4.5.999"/>'
    '<code code="X" codeSystem="1.2.3.4.5"/></act></entry>')


def test_unknown_templates_are_kept_as_narrative_and_the_rest_converts(tmp_path: Path) -> None:
    templates = f'<templateId root="{REALM_HEADER}" extension="2015-08-01"/><templateId root="1.2.3.4.5.1"/>'
    xml = document(doc_templates=templates, extra_entry=UNKNOWN_ENTRIES, extra_sections=UNKNOWN_SECTION)
    doc = parse_bytes(xml.encode())
    assert document_type(doc.root) == "US Realm Header"  # an unknown document template: the generic header
    ctx = MappingContext(SALT)
    resources = to_fhir(doc, ctx)
    # Nothing rejected, and every entry that gave no resource is a warning naming the section (its
    # place and LOINC code) and the entry (ordinal, element, templateId): never a silent skip.
    assert doc.broken == []
    assert ctx.warnings == [
        "section 1 (LOINC 11450-4), entry 2 (encounter, templateId 1.2.3.4.5.998): no mapping for this entry "
        "template; it stays in the section narrative only",
        "section 1 (LOINC 11450-4), entry 3 (act, templateId 1.2.3.4.5.999): the entry holds nothing its mapper "
        "converts (no allergy, problem or value inside); it stays in the section narrative only",
        "section 3 (LOINC 99999-9), entry 1 (observation, templateId 1.2.3.4.5.996): no mapping for this entry "
        "template; it stays in the section narrative only"]
    assert len(of_type(resources, "Condition")) == 1 and len(of_type(resources, "Observation")) == 1
    assert len(of_type(resources, "DiagnosticReport")) == 1
    comp = of_type(resources, "Composition")[0]
    assert comp["type"]["coding"][0]["code"] == "11506-3"
    problems, results, vendor = comp["section"]
    assert len(problems["entry"]) == 1 and len(results["entry"]) == 1
    assert vendor["title"] == "Vendor notes"
    assert vendor["code"]["coding"][0] == {"system": LOINC, "code": "99999-9", "display": "Vendor notes"}
    assert "Vendor narrative" in vendor["text"]["div"] and "entry" not in vendor
    for r in resources:
        assert validate_model(r) == [], r["resourceType"]
    path = tmp_path / "unknown.xml"
    path.write_text(xml, encoding="utf-8")
    (unit,) = CcdaSource().read(path, JobConfig(id_salt=SALT))
    assert unit.error is None and unit.warnings == []  # reading warns of nothing; mapping does (above)


# --- several documents in one file ---------------------------------------------------------------

def _batch(wrapper: str, *docs: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{wrapper}>' + "".join(docs) + f"</{wrapper}>"


@pytest.mark.parametrize("wrapper", ["ClinicalDocuments", "documents", "batch"])
def test_a_wrapper_of_documents_is_read_one_document_at_a_time(wrapper: str, tmp_path: Path) -> None:
    path = tmp_path / "batch.xml"
    path.write_text(_batch(wrapper, *(document(doc_id=i, declaration=False) for i in "ABC")), encoding="utf-8")
    src, cfg = CcdaSource(), JobConfig(id_salt=SALT)
    ctx = MappingContext(cfg.id_salt)
    units, compositions = [], []
    for unit in src.read(path, cfg):
        assert unit.error is None and unit.record is not None
        units.append(unit)
        compositions += of_type(src.to_fhir(unit.record, ctx, cfg), "Composition")
    assert [u.location.where for u in units] == [f"document 2.16.840.1.113883.19.5^{i}" for i in "ABC"]
    assert {u.location.file for u in units} == {"batch.xml"}
    assert [c["identifier"]["value"] for c in compositions] == ["A", "B", "C"]
    assert len({c["id"] for c in compositions}) == 3
    # Streamed: each document's tree is released once the next one is read.
    assert all(u.record is not None and len(u.record.root) == 0 for u in units)


def test_a_malformed_document_in_a_batch_does_not_lose_the_ones_before_it(tmp_path: Path) -> None:
    bad = document(doc_id="B", declaration=False).replace("</recordTarget>", "</recordTargetX>", 1)
    path = tmp_path / "batch.xml"
    path.write_text(_batch("ClinicalDocuments", document(doc_id="A", declaration=False), bad,
                           document(doc_id="C", declaration=False)), encoding="utf-8")
    resources, errors = convert_file(path)
    assert [c["identifier"]["value"] for c in of_type(resources, "Composition")] == ["A"]
    (err,) = errors
    assert err.error.code == "structure" and "not well-formed XML" in err.error.message
    assert err.location.file == "batch.xml"
    assert err.location.where == "the document after document 2.16.840.1.113883.19.5^A"


# --- nullFlavor, negation and TS ------------------------------------------------------------------

def test_null_problem_code_is_data_absent() -> None:
    resources = convert_bytes(document(problem_value=f'<value {XSI} xsi:type="CD" nullFlavor="UNK"/>').encode())
    (cond,) = of_type(resources, "Condition")
    assert cond["code"] == {"coding": [{"system": DAR, "code": "unknown", "display": "Unknown"}]}
    assert validate_model(cond) == []


@pytest.mark.parametrize(("flavor", "reason"), [("NAV", "temp-unknown"), ("ASKU", "asked-unknown"),
                                                ("MSK", "masked"), ("UNK", "unknown"), ("NI", "unknown")])
def test_null_observation_value_is_data_absent_reason(flavor: str, reason: str) -> None:
    resources = convert_bytes(document(result_value=f'<value {XSI} xsi:type="PQ" nullFlavor="{flavor}"/>').encode())
    (obs,) = of_type(resources, "Observation")
    assert not any(k.startswith("value") for k in obs)
    assert obs["dataAbsentReason"]["coding"][0]["system"] == DAR
    assert obs["dataAbsentReason"]["coding"][0]["code"] == reason
    assert validate_model(obs) == []


def test_negated_problem_is_refuted() -> None:
    (cond,) = of_type(convert_bytes(document(negation=True).encode()), "Condition")
    assert cond["verificationStatus"]["coding"][0]["code"] == "refuted"
    (cond,) = of_type(convert_bytes(document().encode()), "Condition")
    assert cond["verificationStatus"]["coding"][0]["code"] == "confirmed"


def test_timestamps_in_resources_keep_precision_and_zone() -> None:
    resources = convert_bytes(document().encode())
    assert of_type(resources, "Condition")[0]["onsetDateTime"] == "2020-03-01"  # 20200301
    assert of_type(resources, "Observation")[0]["effectiveDateTime"] == "2020-03-01T12:30:00-05:00"  # 202003011230-0500
    assert of_type(resources, "Composition")[0]["date"] == "2020-03-01T12:30:00-05:00"  # 20200301123000-0500
    assert of_type(resources, "Patient")[0]["birthDate"] == "1970-01-01"


@pytest.mark.parametrize(("value", "expected"), [
    ("2020", "2020"), ("202003", "2020-03"), ("20200301", "2020-03-01"),
    ("202003011230-0500", "2020-03-01T12:30:00-05:00"),
    ("20200301123045+0000", "2020-03-01T12:30:45+00:00"),
    ("20200301123045.123+0130", "2020-03-01T12:30:45.123+01:30"),
])
def test_ts_precision_and_zone(value: str, expected: str) -> None:
    el = parse_bytes(document().replace('<effectiveTime value="20200301123000-0500"/>',
                                        f'<effectiveTime value="{value}"/>').encode()).root
    assert ts(find(el, "effectiveTime"), MappingContext(SALT)) == expected
