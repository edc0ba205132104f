"""What the mapping means: data types, statuses, negation, document types."""

from __future__ import annotations

import base64

from ccda_helpers import DATA, INPUTS, convert_file, of_type

from etl.sources.ccda import codes
from etl.sources.ccda.datatypes import system_uri

CCD = next(p for p in INPUTS if p.name == "CCD.ccda")
CCD21 = next(p for p in INPUTS if p.name.startswith("C-CDA_R2-1_CCD"))
UNSTRUCTURED = next(p for p in INPUTS if p.name.startswith("CDA_with_Embedded_PDF"))


def test_code_system_table() -> None:
    assert system_uri("2.16.840.1.113883.6.1") == "http://loinc.org"
    assert system_uri("2.16.840.1.113883.6.96") == "http://snomed.info/sct"
    assert system_uri("2.16.840.1.113883.6.88") == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert system_uri("2.16.840.1.113883.6.90") == "http://hl7.org/fhir/sid/icd-10-cm"
    assert system_uri("2.16.840.1.113883.12.292") == "http://hl7.org/fhir/sid/cvx"
    assert system_uri("2.16.840.1.113883.6.69") == "http://hl7.org/fhir/sid/ndc"
    assert system_uri("2.16.840.1.113883.5.25") == codes.V3 + "v3-Confidentiality"
    assert system_uri("1.2.3.4") == "urn:oid:1.2.3.4"


def test_header_patient_and_composition() -> None:
    res, _ = convert_file(CCD21)
    patient = of_type(res, "Patient")[0]
    assert patient["gender"] in ("male", "female")
    assert len(patient["birthDate"]) == 10
    urls = {e["url"] for e in patient.get("extension", [])}
    assert {codes.US_CORE_RACE, codes.US_CORE_ETHNICITY} <= urls
    race = next(e for e in patient["extension"] if e["url"] == codes.US_CORE_RACE)
    assert any(p["url"] == "ombCategory" for p in race["extension"])
    assert any(p["url"] == "text" for p in race["extension"])
    assert patient["communication"][0]["language"]["coding"][0]["system"] == "urn:ietf:bcp:47"
    comp = of_type(res, "Composition")[0]
    assert comp["type"]["coding"][0] == {"system": "http://loinc.org", "code": "34133-9",
                                         "display": "Summarization of Episode Note"}
    assert comp["subject"]["reference"] == f"Patient/{patient['id']}"
    assert comp["confidentiality"] == "N"
    assert comp["date"].startswith("20") and ("+" in comp["date"] or "-0" in comp["date"][10:])
    assert comp["custodian"]["reference"].startswith("Organization/")
    assert {a["mode"] for a in comp["attester"]} >= {"legal"}
    refs = {e["reference"] for s in comp["section"] for e in s.get("entry", [])}
    kinds = {r.split("/")[0] for r in refs}
    assert {"AllergyIntolerance", "Condition", "MedicationStatement", "Immunization", "DiagnosticReport",
            "Observation", "Procedure"} <= kinds


def test_timestamps_keep_precision_and_offset() -> None:
    res, _ = convert_file(CCD)
    comp = of_type(res, "Composition")[0]
    assert comp["date"] == "2014-10-15T10:30:26-05:00"  # effectiveTime 20141015103026-0500


def test_vital_signs_are_ucum_quantities() -> None:
    res, _ = convert_file(CCD21)
    vitals = [o for o in of_type(res, "Observation")
              if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    assert vitals
    for v in vitals:
        if "valueQuantity" in v:
            assert v["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert isinstance(v["valueQuantity"]["value"], (int, float))


def test_negation_and_statuses() -> None:
    h_and_p = next(p for p in INPUTS if p.name.startswith("History_and_Physical"))
    res, _ = convert_file(h_and_p)
    imms = of_type(res, "Immunization")
    assert any(i["status"] == "not-done" and "statusReason" in i for i in imms)
    for a in of_type(res, "AllergyIntolerance"):
        assert a["clinicalStatus"]["coding"][0]["code"] in ("active", "inactive", "resolved")
    for c in of_type(res, "Condition"):
        if "abatementDateTime" in c:
            assert c["clinicalStatus"]["coding"][0]["code"] in ("inactive", "resolved", "remission")


def test_no_known_allergy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res, _ = convert_file(CCD)
    allergies = of_type(res, "AllergyIntolerance")
    assert allergies and all("code" in a for a in allergies)


def test_translations_become_extra_codings() -> None:
    res, _ = convert_file(CCD21)
    category = of_type(res, "Consent")[0]["category"][0]["coding"]
    assert {"system": "http://snomed.info/sct", "code": "304251008", "display": "Resuscitation"} in category
    assert {"system": "http://loinc.org", "code": "75320-2", "display": "Advance directive"} in category


def test_unstructured_document_keeps_embedded_content() -> None:
    res, _ = convert_file(UNSTRUCTURED)
    doc = of_type(res, "DocumentReference")[0]
    att = doc["content"][0]["attachment"]
    assert att["contentType"] == "application/pdf"
    assert base64.b64decode(att["data"])[:5] == b"%PDF-"
    assert doc["content"][0]["format"]["code"].startswith("urn:hl7-org:sdwg:ccda-nonXMLBody")
    reference = next(p for p in INPUTS if p.name.startswith("Unstructured_Document_reference"))
    res, _ = convert_file(reference)
    att = of_type(res, "DocumentReference")[0]["content"][0]["attachment"]
    assert att["url"] == "UD_sample.pdf"


def test_structured_document_embeds_its_xml() -> None:
    res, _ = convert_file(CCD)
    att = next(d for d in of_type(res, "DocumentReference")
               if d["content"][0]["format"]["code"].startswith("urn:hl7-org:sdwg:ccda-structuredBody"))
    xml = base64.b64decode(att["content"][0]["attachment"]["data"])
    assert b"ClinicalDocument" in xml and att["content"][0]["attachment"]["size"] == len(xml)


def test_care_plan_document_makes_a_care_plan() -> None:
    care_plan = next(p for p in INPUTS if p.name.startswith("Care_Plan"))
    res, _ = convert_file(care_plan)
    plan = of_type(res, "CarePlan")[0]
    assert plan["intent"] == "plan" and plan.get("goal") and plan.get("addresses")


def test_advance_directives_become_consent_and_payers_coverage() -> None:
    res, _ = convert_file(CCD21)
    consent = of_type(res, "Consent")
    assert consent and consent[0]["scope"]["coding"][0]["code"] == "adr"
    cov = of_type(res, "Coverage")[0]
    assert cov["payor"][0]["reference"].startswith("Organization/")
    assert cov["beneficiary"] == of_type(res, "Consent")[0]["patient"]


def test_data_dir_has_provenance() -> None:
    text = (DATA / "PROVENANCE.md").read_text()
    for p in INPUTS:
        assert p.name in text
