"""Every sample converts to resources that validate, with deterministic, shared ids."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from ccda_helpers import INPUTS, SALT, convert_file, of_type
from lxml import etree

from etl.fhir.validation import validate_model

XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_sample_converts_and_validates(path: Path) -> None:
    resources, errors = convert_file(path)
    assert errors == []
    assert len(of_type(resources, "Patient")) == 1
    assert len(of_type(resources, "Composition")) == 1
    assert len(of_type(resources, "DocumentReference")) >= 1
    problems = {f"{r['resourceType']}/{r['id']}": validate_model(r) for r in resources}
    assert {k: v for k, v in problems.items() if v} == {}
    keys = Counter((r["resourceType"], r["id"]) for r in resources)
    assert [k for k, n in keys.items() if n > 1] == []
    # Every reference points at a resource of the same document (the bundle is closed).
    known = {f"{t}/{i}" for t, i in keys}
    refs = _references(resources)
    assert sorted(refs - known) == []


def _references(node: object) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            out.add(ref)
        for v in node.values():
            out |= _references(v)
    elif isinstance(node, list):
        for v in node:
            out |= _references(v)
    return out


def test_ids_are_deterministic() -> None:
    a, _ = convert_file(INPUTS[1])
    b, _ = convert_file(INPUTS[1])
    assert a == b


def test_the_same_entry_in_two_documents_is_one_resource(tmp_path: Path) -> None:
    ccd = next(p for p in INPUTS if p.name == "CCD.ccda")
    copy = tmp_path / "copy.xml"
    # Another document (its own id and setId) stating the same entries.
    text = ccd.read_text(encoding="utf-8")
    assert text.count('extension="sTT988"') == 1
    copy.write_text(text.replace("EHRVersion2.0", "EHRVersion3.0").replace('extension="sTT988"', 'extension="other"'),
                    encoding="utf-8")
    first, _ = convert_file(ccd)
    second, _ = convert_file(copy)
    assert of_type(first, "Composition")[0]["id"] != of_type(second, "Composition")[0]["id"]
    for rtype in ("Patient", "AllergyIntolerance", "Observation", "DiagnosticReport", "Procedure"):
        assert {r["id"] for r in of_type(first, rtype)} == {r["id"] for r in of_type(second, rtype)}, rtype


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.stem)
def test_section_narrative_is_fhir_xhtml(path: Path) -> None:
    resources, _ = convert_file(path)
    for comp in of_type(resources, "Composition"):
        for section in _sections(comp.get("section", [])):
            if "text" not in section:
                assert "entry" in section or "section" in section or "emptyReason" in section
                continue
            div = etree.fromstring(section["text"]["div"].encode())
            assert div.tag == XHTML + "div"
            assert "".join(div.itertext()).strip()
            allowed = {"div", "p", "span", "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "td", "th",
                       "caption", "br", "a", "sub", "sup", "col", "colgroup"}
            for el in div.iter():
                assert el.tag.startswith(XHTML) and el.tag[len(XHTML):] in allowed, el.tag
                assert not any(k.lower().startswith("on") for k in el.attrib)


def _sections(sections: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for s in sections:
        out.append(s)
        out += _sections(s.get("section", []))
    return out


def test_no_warnings_salt_changes_ids() -> None:
    from etl.config import JobConfig

    a, _ = convert_file(INPUTS[2], JobConfig(id_salt=SALT))
    b, _ = convert_file(INPUTS[2], JobConfig(id_salt="other"))
    assert of_type(a, "Patient")[0]["id"] != of_type(b, "Patient")[0]["id"]
