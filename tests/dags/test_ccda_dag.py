"""Run the ccda_documents DAG with dag.test() on sample documents against the real HAPI server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from dag_helpers import found, land, load_dag, staged_ids

pytestmark = [pytest.mark.airflow, pytest.mark.hapi]

CCDA = Path(__file__).resolve().parents[1] / "data" / "ccda" / "fhir-converter" / "input"
SECRET = "TOP-SECRET-ccda-dag-4d1e"


def test_clean_run_loads_and_archives(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    root = tmp_path / "root"
    docs = [CCDA / "CCD.ccda", CCDA / "Discharge_Summary.ccda", CCDA / "sample.ccda"]
    land(root, "ccda", *docs, uploading="<ClinicalDocument")
    run = load_dag("ccda_documents").test(run_conf={"root": str(root), "fhir_url": hapi_url, "id_salt": "ccda-dag-test",
                                "max_retry_after_s": 2, "batch_files": 2})
    assert run.state == "success"
    assert sorted(p.name for p in root.glob("archive/ccda/*/*")) == sorted(p.name for p in docs)
    assert [p.name for p in (root / "landing" / "ccda").iterdir()] == ["still-uploading.ccda.part"]
    assert not list(root.glob("quarantine/ccda/*/*"))
    assert len(list(root.glob("staged/ccda/*/*/batch-*/manifest.json"))) == 2  # 3 files, batches of 2
    staged = staged_ids(root, "ccda")
    assert len(staged["Composition"]) == 3 and len(staged["Patient"]) == 3
    assert {"Composition", "Patient", "Condition", "AllergyIntolerance", "Observation", "DiagnosticReport",
            "DocumentReference", "Practitioner", "Organization", "Encounter", "Immunization", "Procedure",
            "MedicationRequest"} <= set(staged)
    for rtype, ids in staged.items():  # every resource staged is on the server, by id
        assert found(hapi_url, rtype, sorted(set(ids))) == len(set(ids)), rtype
    assert list(root.glob("staged/ccda/*/*/batch-*/parquet/Composition/part-000.parquet"))


def test_bad_files_are_quarantined_the_rest_loaded_and_run_fails(
    tmp_path: Path, hapi_url: str, airflow_db: Path
) -> None:
    root = tmp_path / "root"
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    good = (CCDA / "Progress_Note.ccda").read_text(encoding="utf-8")
    head, _, body = good.partition("<ClinicalDocument")
    xxe = tmp_path / "xxe.xml"
    xxe.write_text('<?xml version="1.0"?>\n'
                   f'<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
                   "<ClinicalDocument" + body.replace("<title>", "<title>&xxe;", 1), encoding="utf-8")
    truncated = tmp_path / "truncated.xml"
    truncated.write_text(good[: len(good) // 2], encoding="utf-8")  # not well-formed XML
    land(root, "ccda", xxe, truncated, CCDA / "Care_Plan.ccda")
    run = load_dag("ccda_documents").test(run_conf={"root": str(root), "fhir_url": hapi_url, "id_salt": "ccda-dag-test",
                                "max_retry_after_s": 2})
    assert run.state == "failed"  # settle fails the run so operators see the rejections
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["load"] == "success" and states["settle"] == "failed"
    assert [p.name for p in root.glob("archive/ccda/*/*")] == ["Care_Plan.ccda"]
    quarantined = sorted(p.name for p in root.glob("quarantine/ccda/*/*"))
    assert quarantined == ["truncated.xml", "truncated.xml.errors.ndjson", "xxe.xml", "xxe.xml.errors.ndjson"]
    (xxe_err,) = [orjson.loads(x) for x in next(root.glob("quarantine/ccda/*/xxe.xml.errors.ndjson")).read_bytes().splitlines()]
    text = xxe_err["issue"][0]["diagnostics"]
    assert "xxe.xml" in text and "DTD" in text and xxe_err["issue"][0]["code"] == "security"
    (bad_err,) = [orjson.loads(x) for x in next(root.glob("quarantine/ccda/*/truncated.xml.errors.ndjson")).read_bytes().splitlines()]
    assert "truncated.xml" in bad_err["issue"][0]["diagnostics"] and "not well-formed" in bad_err["issue"][0]["diagnostics"]
    # Nothing read from outside the document reached any output, staged or quarantined.
    for f in root.rglob("*"):
        if f.is_file() and f.name != "xxe.xml":
            assert SECRET.encode() not in f.read_bytes(), f
    # The good document was loaded regardless.
    staged = staged_ids(root, "ccda")
    assert len(staged["Composition"]) == 1 and found(hapi_url, "Composition", staged["Composition"]) == 1
    assert found(hapi_url, "CarePlan", staged["CarePlan"]) == 1
    assert found(hapi_url, "Goal", sorted(set(staged["Goal"]))) == len(set(staged["Goal"]))
