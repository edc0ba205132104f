"""Bad input becomes error records naming file, document id and section; the rest converts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from ccda_helpers import DATA, INPUTS, SALT, convert_file, of_type

from etl.config import JobConfig, Strictness
from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.pipeline import convert
from etl.sources.ccda.source import CcdaSource

CCD = next(p for p in INPUTS if p.name == "CCD.ccda")


def test_not_xml(tmp_path: Path) -> None:
    path = tmp_path / "junk.xml"
    path.write_text("<ClinicalDocument xmlns='urn:hl7-org:v3'><id root='1'/>")  # truncated
    resources, errors = convert_file(path)
    assert resources == [] and len(errors) == 1
    assert errors[0].error.code == "structure"
    assert "not well-formed XML" in errors[0].error.message
    assert errors[0].location.file == "junk.xml"


def test_not_a_clinical_document() -> None:
    resources, errors = convert_file(DATA / "documents" / "Active_ProblemC-CDA2.1.xml")
    assert resources == [] and len(errors) == 1
    assert errors[0].error.code == "not-supported"
    assert "root element is 'section'" in errors[0].error.message


def test_fragment_without_patient_is_rejected_by_the_pipeline(tmp_path: Path) -> None:
    summary = convert([DATA / "documents" / "US_Realm_Header_V3_Example.xml"], tmp_path / "out",
                      JobConfig(id_salt=SALT))
    assert summary.errors == 1
    record = json.loads(next((tmp_path / "out" / "errors").glob("*.ndjson")).read_text().splitlines()[0])
    text = record["issue"][0]["diagnostics"]
    assert "US_Realm_Header_V3_Example.xml" in text and "2.16.840.1.113883.19.5.99999.1^TT988" in text
    assert "recordTarget" in text


def test_document_without_namespace_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "nons.xml"
    path.write_text(CCD.read_text(encoding="utf-8").replace('xmlns="urn:hl7-org:v3"', "", 1), encoding="utf-8")
    src = CcdaSource()
    units = list(src.read(path, JobConfig(id_salt=SALT)))
    assert len(units) == 1 and units[0].error is None
    assert any("namespace" in w for w in units[0].warnings)
    resources, errors = convert_file(path)
    expected, _ = convert_file(CCD)
    assert errors == []
    assert Counter(r["resourceType"] for r in resources) == Counter(r["resourceType"] for r in expected)
    assert of_type(resources, "Patient")[0]["id"] == of_type(expected, "Patient")[0]["id"]


def test_stub_document_without_header_is_rejected_naming_the_missing_part() -> None:
    path = DATA / "documents" / "Health_Concerns_Link_to_Problems_SectionC-CDA2.1.xml"
    src = CcdaSource()
    units = list(src.read(path, JobConfig(id_salt=SALT)))
    # One unit: read despite the undeclared xsi: prefix (a warning says so), and no second error
    # record when libxml2 reports that prefix again at the end of the stream.
    (unit,) = units
    assert unit.error is None and unit.record is not None
    assert any("xmlns:xsi" in w for w in unit.warnings)
    with pytest.raises(MappingError, match="recordTarget"):
        src.to_fhir(unit.record, MappingContext(SALT), JobConfig(id_salt=SALT))
    # Strictness "raise": the undeclared prefix itself rejects the document, once.
    (strict,) = list(src.read(path, JobConfig(id_salt=SALT, strictness=Strictness.RAISE)))
    assert strict.error is not None and "NS_ERR_UNDEFINED_NAMESPACE" in strict.error.message
    assert "Namespace prefix xsi" in strict.error.quoted["libxml2"]  # libxml2's text: the excerpt only


def test_undeclared_xsi_prefix_keeps_value_types(tmp_path: Path) -> None:
    text = CCD.read_text(encoding="utf-8")
    assert 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in text
    path = tmp_path / "no-xsi.xml"
    path.write_text(text.replace('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"', "", 1), encoding="utf-8")
    resources, errors = convert_file(path)
    expected, _ = convert_file(CCD)
    assert errors == []
    assert Counter(r["resourceType"] for r in resources) == Counter(r["resourceType"] for r in expected)
    values = lambda rs: sorted(str(r.get("valueQuantity")) for r in of_type(rs, "Observation"))
    assert values(resources) == values(expected)


def test_broken_section_is_an_error_record_and_the_rest_converts(tmp_path: Path) -> None:
    text = CCD.read_text(encoding="utf-8")
    # Break the Results section: drop the code of its first result observation (CDA requires one).
    start = text.index('<templateId root="2.16.840.1.113883.10.20.22.4.2"')
    code_at = text.index("<code ", start)
    code_end = text.index("/>", code_at) + 2
    if text[code_at:code_end].count("<") == 1 and not text[code_at:code_end].endswith("/>"):
        raise AssertionError("unexpected sample layout")
    broken = text[:code_at] + text[code_end:]
    path = tmp_path / "broken.xml"
    path.write_text(broken, encoding="utf-8")

    resources, errors = convert_file(path)
    assert len(errors) == 1
    err = errors[0].error
    assert err.code == "required"
    assert err.location.file == "broken.xml"
    where = err.location.where
    assert "be84a8e4-a22e-4210-a4a6-b3c48273e84c^EHRVersion2.0" in where
    assert "RESULTS" in where.upper() and "2.16.840.1.113883.10.20.22.2.3.1" in where and "30954-2" in where
    assert err.location.expression == "observation/code"
    # The rest of the document converted: the Results section lost its entries but kept its narrative.
    ok, _ = convert_file(CCD)
    assert of_type(resources, "DiagnosticReport") == []
    assert len(of_type(resources, "AllergyIntolerance")) == len(of_type(ok, "AllergyIntolerance")) >= 1
    comp = of_type(resources, "Composition")[0]
    results = next(s for s in comp["section"] if s.get("code", {}).get("coding", [{}])[0].get("code") == "30954-2")
    assert "entry" not in results and results["text"]["div"].startswith("<div")

    out = tmp_path / "out"
    summary = convert([path], out, JobConfig(id_salt=SALT))
    assert summary.errors == 1 and summary.resources["Composition"] == 1
    record = json.loads(next((out / "errors").glob("*.ndjson")).read_text().splitlines()[0])
    assert record["resourceType"] == "OperationOutcome"
    assert "section" in record["issue"][0]["diagnostics"]
