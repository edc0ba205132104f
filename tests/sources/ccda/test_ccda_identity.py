"""A document identity that cannot collide: reused ids, re-sent copies, new versions (issue 10).

The FHIR-Converter samples are the real case: C-CDA_R2-1_CCD, Consultation_Note, Discharge_Summary,
History_and_Physical, Operative_Note and Unstructured_Document_reference are six different
documents that all say ClinicalDocument/id 2.16.840.1.113883.19.5.99999.1^TT988, setId
…99999.19^sTT988, versionNumber 1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ccda_helpers import DATA, INPUTS, SALT
from ccda_minimal import document

from etl.config import JobConfig
from etl.pipeline import convert
from etl.state import StateStore
from etl.summary import RunSummary

BY_NAME = {p.name: p for p in INPUTS}
SHARED_ID = ["C-CDA_R2-1_CCD.xml.ccda", "Consultation_Note.ccda", "Discharge_Summary.ccda"]
CASES = DATA / "documents" / "handmade-invalid-cases.xml"


def _run(inputs: list[Path], out: Path, state: Path | None = None) -> tuple[RunSummary, dict[str, list[dict[str, Any]]], list[str]]:
    cfg = JobConfig(id_salt=SALT, state_url=str(state) if state else None, parquet=False)
    summary = convert(inputs, out, cfg)
    resources: dict[str, list[dict[str, Any]]] = {}
    for f in sorted((out / "fhir").glob("*.ndjson")):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            resources.setdefault(r["resourceType"], []).append(r)
    warnings = [i["details"]["text"] for f in (out / "warnings").glob("*.ndjson")
                for line in f.read_text().splitlines() for i in json.loads(line)["issue"]]
    return summary, resources, warnings


def _version(tmp: Path, name: str, version: int, doc_id: str, extra: str = "") -> Path:
    text = CASES.read_text(encoding="utf-8")
    assert text.count('<versionNumber value="1"/>') == 1 and text.count('extension="handmade-invalid-cases"') == 1
    text = text.replace('<versionNumber value="1"/>', f'<versionNumber value="{version}"/>')
    text = text.replace('extension="handmade-invalid-cases"', f'extension="{doc_id}"').replace("Asthma", "Asthma" + extra)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_documents_sharing_an_id_in_one_run_are_kept_apart_with_a_warning(tmp_path: Path) -> None:
    summary, resources, warnings = _run([BY_NAME[n] for n in SHARED_ID], tmp_path / "out")
    assert len({c["id"] for c in resources["Composition"]}) == 3  # none overwrote another
    assert len({d["id"] for d in resources["DocumentReference"]}) >= 3
    assert all("Composition" not in f.superseded for f in summary.files)
    clashes = [w for w in warnings if "as a document with other content" in w]
    assert len(clashes) == 2
    assert "file C-CDA_R2-1_CCD.xml.ccda" in clashes[0] and "(file Consultation_Note.ccda)" in clashes[0]
    assert "ClinicalDocument/id 2.16.840.1.113883.19.5.99999.1^TT988" in clashes[0]


def test_a_collision_across_runs_is_noticed_through_the_state_database(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    _, first, _ = _run([BY_NAME["Consultation_Note.ccda"]], tmp_path / "one", state)
    _, second, warnings = _run([BY_NAME["History_and_Physical.ccda"]], tmp_path / "two", state)
    assert first["Composition"][0]["id"] != second["Composition"][0]["id"]
    (clash,) = [w for w in warnings if "as a document with other content" in w]
    assert "file Consultation_Note.ccda, converted by run" in clash and "(file History_and_Physical.ccda)" in clash
    with StateStore.open(state) as store:
        rows = store.documents.all()
    assert [r.file for r in rows] == ["Consultation_Note.ccda", "History_and_Physical.ccda"]
    assert rows[1].id_key[-2] == "digest" and rows[0].id_key == ("setId", "2.16.840.1.113883.19.5.99999.19", "sTT988")
    # The second document converted again keeps its own ids (the ledger remembers its key).
    _, again, warnings = _run([BY_NAME["History_and_Physical.ccda"]], tmp_path / "three", state)
    assert again["Composition"][0]["id"] == second["Composition"][0]["id"]
    assert any("with the same content but is not known to be loaded" in w for w in warnings)


def test_an_identical_document_is_skipped_only_once_it_is_loaded(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    src = BY_NAME["Progress_Note.ccda"]
    _run([src], tmp_path / "one", state)
    # Converted, not loaded: converted again, with a warning (the X12 ledger's rule).
    summary, resources, warnings = _run([src], tmp_path / "two", state)
    assert summary.files[0].skipped == 0 and resources["Composition"]
    assert any("not known to be loaded" in w for w in warnings)
    with StateStore.open(state) as store:
        receipt = store.receipts.start(str((tmp_path / "two").resolve()), "run-2", "http://fhir", "", {}, "t0")
        store.receipts.complete(receipt, {}, "", "t1")
        assert [r.state for r in store.documents.all()] == ["loaded"]
    summary, resources, _ = _run([src], tmp_path / "three", state)
    assert summary.files[0].skipped == 1 and summary.files[0].attempted == 0 and resources == {}
    (note,) = summary.files[0].notes
    assert "already loaded by run" in note and "(file Progress_Note.ccda)" in note
    assert summary.files[0].skips[0]["loaded_file"] == "Progress_Note.ccda"


def test_the_same_document_twice_in_one_run_is_read_once(tmp_path: Path) -> None:
    copy = tmp_path / "in" / "copy.ccda"
    copy.parent.mkdir()
    shutil.copy(BY_NAME["sample.ccda"], copy)
    summary, resources, _ = _run([BY_NAME["sample.ccda"], copy], tmp_path / "out")
    assert len(resources["Composition"]) == 1
    assert summary.files[1].skipped == 1 and "already read in this run (file sample.ccda" in summary.files[1].notes[0]


def test_a_new_version_supersedes_the_earlier_composition(tmp_path: Path) -> None:
    v1 = _version(tmp_path, "v1.xml", 1, "doc-v1")
    v2 = _version(tmp_path, "v2.xml", 2, "doc-v2", extra=" (revised)")
    summary, resources, warnings = _run([v1, v2], tmp_path / "out")
    (comp,) = resources["Composition"]  # one Composition: the new version replaced the first
    assert comp["identifier"]["value"] == "doc-v2"
    assert comp["extension"] == [{"url": "http://hl7.org/fhir/us/ccda/StructureDefinition/VersionNumber",
                                  "valueInteger": 2}]
    assert summary.files[1].superseded.get("Composition") == 1  # counted as X12 replacements are
    assert any("is a new version of versionNumber 1 (file v1.xml" in w for w in warnings)
    # The other order: the older version is skipped, visibly, and the newer one stands.
    summary, resources, _ = _run([v2, v1], tmp_path / "reverse")
    assert [c["identifier"]["value"] for c in resources["Composition"]] == ["doc-v2"]
    assert summary.files[1].skipped == 1 and "older version than versionNumber 2 (file v2.xml" in summary.files[1].notes[0]


def test_a_new_version_across_runs_gets_the_same_ids(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    _, first, _ = _run([_version(tmp_path, "v1.xml", 1, "doc-v1")], tmp_path / "one", state)
    _, second, warnings = _run([_version(tmp_path, "v2.xml", 2, "doc-v2", " (revised)")], tmp_path / "two", state)
    assert first["Composition"][0]["id"] == second["Composition"][0]["id"]  # an upsert on the server
    assert any("new version of versionNumber 1 (file v1.xml, converted by run" in w for w in warnings)
    summary, resources, _ = _run([tmp_path / "v1.xml"], tmp_path / "three", state)
    assert summary.files[0].skipped == 1 and "older version" in summary.files[0].notes[0]


def test_a_replacement_without_set_id_supersedes_its_parent(tmp_path: Path) -> None:
    parent = tmp_path / "a.xml"
    parent.write_text(document(doc_id="A"), encoding="utf-8")
    child = tmp_path / "b.xml"
    rplc = ('<relatedDocument typeCode="RPLC"><parentDocument><id root="2.16.840.1.113883.19.5" extension="A"/>'
            '</parentDocument></relatedDocument>')
    child.write_text(document(doc_id="B").replace("<component><structuredBody>", rplc + "<component><structuredBody>"),
                     encoding="utf-8")
    summary, resources, warnings = _run([parent, child], tmp_path / "out")
    (comp,) = resources["Composition"]
    assert comp["identifier"]["value"] == "B"
    assert comp["relatesTo"] == [{"code": "replaces",
                                  "targetIdentifier": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "A"}}]
    assert any("replaces (relatedDocument RPLC) the document of file a.xml" in w for w in warnings)


def test_the_cli_converts_with_the_default_state_and_lists_the_documents(tmp_path: Path, capsys: Any) -> None:
    from etl.cli import EXIT_OK, main

    inputs = [str(BY_NAME[n]) for n in SHARED_ID[:2]]
    assert main(["convert", *inputs, "-o", str(tmp_path / "out"), "--quiet", "--no-parquet"]) == EXIT_OK
    capsys.readouterr()
    state = tmp_path / ".fhirflow-state.db"  # the default, beside the output folder
    assert main(["ledger", "--state", str(state), "documents"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("\tconverted\t" in x and "TT988" in x for x in lines)
    assert lines[0].endswith("C-CDA_R2-1_CCD.xml.ccda") and lines[1].endswith("Consultation_Note.ccda")
    assert main(["ledger", "--state", str(state), "documents", "--forget"]) == EXIT_OK
    assert "forgot 2 document(s)" in capsys.readouterr().out
