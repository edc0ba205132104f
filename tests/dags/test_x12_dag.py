"""Run the x12_claims DAG with dag.test() on sample files against the real HAPI server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from dag_helpers import found, land, load_dag, staged_ids

from etl.stage.lake import duckdb_views
from etl.state import StateStore

pytestmark = [pytest.mark.airflow, pytest.mark.hapi]

X12 = Path(__file__).resolve().parents[1] / "data" / "x12"


def _conf(root: Path, hapi_url: str) -> dict[str, Any]:
    return {"root": str(root), "fhir_url": hapi_url, "id_salt": "dag-test-x12", "max_retry_after_s": 2}


def _xcom(run: Any, task_id: str) -> list[Any]:
    """Return values of every (mapped) instance of ``task_id`` in ``run``."""
    return [ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index) for ti in run.get_task_instances()
            if ti.task_id == task_id]


def _interchange(control: str, sets: list[tuple[str, str, str]]) -> bytes:
    """An 837P interchange; ``sets`` = (ST02, CLM01, CLM05) per transaction set."""
    segs = [f"ISA*00*          *00*          *ZZ*DAGTESTSENDER  *ZZ*DAGTESTRCVR    *250102*0800*^*00501*{control}*0*T*:",
            "GS*HC*DAGTESTSENDER*DAGTESTRCVR*20250102*0800*77*X*005010X222A1"]
    for st02, clm01, clm05 in sets:
        body = [
            f"ST*837*{st02}*005010X222A1", "BHT*0019*00*1*20250102*0800*CH", "NM1*41*2*SUBMITTER*****46*DAGSUB",
            "NM1*40*2*RECEIVER*****46*DAGRCV", "HL*1**20*1", "NM1*85*2*DAG CLINIC*****XX*1234567893",
            "N3*1 MAIN ST", "N4*TOWN*MD*20705", "REF*EI*123456789", "HL*2*1*22*0", "SBR*P*18*GRP******CI",
            f"NM1*IL*1*DOE*JANE****MI*DAG{clm01}", "DMG*D8*19800101*F", "NM1*PR*2*PAYER*****PI*DAGPAYER",
            f"CLM*{clm01}*100***{clm05}*Y*A*Y*Y", "HI*ABK:E119", "LX*1", "SV1*HC:99213*100*UN*1***1",
            "DTP*472*D8*20250101"]
        segs += body + [f"SE*{len(body) + 1}*{st02}"]
    segs += [f"GE*{len(sets)}*77", f"IEA*1*{control}"]
    return ("~\n".join(segs) + "~\n").encode()


def test_clean_run_loads_claims_remittance_and_enrollment(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    root = tmp_path / "root"
    # three distinct interchanges (many public samples share ISA06/ISA13, which the ledger treats as re-sends)
    inputs = [X12 / "837P" / "uhin-x12-parser" / "837.edi",
              X12 / "835" / "linuxforhealth-x12" / "secondary-payment.835",
              X12 / "834" / "pyx12" / "834_deident_family.txt"]
    land(root, "x12", *inputs)
    run = load_dag("x12_claims").test(run_conf=_conf(root, hapi_url))
    assert run.state == "success"
    assert sorted(p.name for p in root.glob("archive/x12/*/*")) == sorted(p.name for p in inputs)
    assert list((root / "landing" / "x12").iterdir()) == []
    assert not list(root.glob("quarantine/x12/*/*"))
    staged = staged_ids(root, "x12")
    for rtype in ("Claim", "ExplanationOfBenefit", "PaymentReconciliation", "Coverage", "Patient", "RelatedPerson"):
        assert staged.get(rtype), rtype
        assert found(hapi_url, rtype, sorted(set(staged[rtype]))) == len(set(staged[rtype])), rtype
    (converted,) = _xcom(run, "convert")
    assert converted["rejected"] == 0 and converted["skipped"] == 0
    assert converted["resources"]["ExplanationOfBenefit"] == 2  # secondary-payment.835: two CLP
    with StateStore.open(root / "state.db") as state:  # loaded only after the server had them
        assert sorted(r.state for r in state.interchanges.all()) == ["loaded"] * 3
        assert [r.state for r in state.receipts.all()] == ["completed"]
    # the analyst tables are staged with the batch, and the batch is merged into the current state
    assert list(root.glob("staged/x12/*/*/batch-000/parquet/claim_item/*.parquet"))
    con = duckdb.connect()
    tables = duckdb_views(con, root / "lake")
    assert {"Claim", "claim_item", "eob_total", "ExplanationOfBenefit"} <= set(tables)
    assert con.sql('select count(*) from "ExplanationOfBenefit"').fetchall() == [(2,)]


def test_a_bad_user_view_fails_the_run_at_its_start(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    root = tmp_path / "root"
    views = tmp_path / "views"
    views.mkdir()
    (views / "bad.json").write_text('{"resourceType": "ViewDefinition", "name": "bad", "resource": "Claim", '
                                    '"select": [{"column": [{"name": "x", "path": "nope("}]}]}')
    land(root, "x12", X12 / "837P" / "uhin-x12-parser" / "837.edi")
    run = load_dag("x12_claims").test(run_conf={**_conf(root, hapi_url), "views": str(views)})
    assert run.state == "failed"
    assert [p.name for p in (root / "landing" / "x12").iterdir()] == ["837.edi"]  # nothing claimed
    assert not (root / "lake").exists()


def test_bad_transaction_set_quarantines_file_loads_good_set_and_fails_run(
    tmp_path: Path, hapi_url: str, airflow_db: Path
) -> None:
    root = tmp_path / "root"
    mixed = tmp_path / "mixed.837"
    # ST 0001 is good; ST 0002 has no claim frequency code (CLM05-3), which the mapper rejects
    mixed.write_bytes(_interchange("000000811", [("0001", "GOOD1", "11:B:1"), ("0002", "BAD2", "11:B")]))
    land(root, "x12", mixed, X12 / "835" / "pyx12" / "835_mult_loops.txt")
    run = load_dag("x12_claims").test(run_conf=_conf(root, hapi_url))
    assert run.state == "failed"  # settle fails the run so operators see the rejection
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["load"] == "success" and states["settle"] == "failed"
    assert [p.name for p in root.glob("archive/x12/*/*")] == ["835_mult_loops.txt"]
    assert sorted(p.name for p in root.glob("quarantine/x12/*/*")) == ["mixed.837", "mixed.837.errors.ndjson"]
    (err,) = [orjson.loads(x) for x in next(root.glob("quarantine/x12/*/mixed.837.errors.ndjson")).read_bytes().splitlines()]
    text = err["issue"][0]["diagnostics"]
    assert "ISA13=000000811" in text and "GS06=77" in text and "ST02=0002" in text and "CLM05-3" in text
    staged = staged_ids(root, "x12")
    claims = staged["Claim"]
    assert len(claims) == 1  # the good set of the mixed file …
    assert found(hapi_url, "Claim", claims) == 1  # … was loaded
    assert found(hapi_url, "ExplanationOfBenefit", staged["ExplanationOfBenefit"]) == len(staged["ExplanationOfBenefit"])
    # the interchange was not clean: never marked loaded, so a corrected re-send is converted
    with StateStore.open(root / "state.db") as state:
        (mixed_row,) = [r for r in state.interchanges.all() if r.key.isa13 == "000000811"]
        assert (mixed_row.state, mixed_row.complete) == ("converted", False)


def test_resent_interchange_is_skipped_in_a_later_run(tmp_path: Path, hapi_url: str, airflow_db: Path) -> None:
    root = tmp_path / "root"
    original = tmp_path / "claims-monday.837"
    original.write_bytes(_interchange("000000912", [("0001", "RESEND1", "11:B:1")]))
    land(root, "x12", original)
    first = load_dag("x12_claims").test(run_conf=_conf(root, hapi_url))
    assert first.state == "success"
    # the same interchange (same ISA06 + ISA13) dropped again under another name in a later run
    land(root, "x12", original, names=["claims-monday-resent.837"])
    second = load_dag("x12_claims").test(run_conf=_conf(root, hapi_url))
    assert second.state == "success"
    (converted,) = _xcom(second, "convert")
    assert converted["skipped"] == 1 and converted["succeeded"] == 0 and converted["rejected"] == 0
    assert converted["files"] == {"claims-monday-resent.837": 0}
    assert converted["resources"] == {}
    manifest = orjson.loads(next(Path(converted["out"]).glob("manifest.json")).read_bytes())
    summary = manifest["extension"]["https://fhirflow.dev/summary"]
    notes = [n for f in summary["files"] for n in f.get("notes", [])]
    assert any("ISA06=DAGTESTSENDER" in n and "ISA13=000000912" in n and "already loaded" in n for n in notes), notes
    # the skip is in the task's XCom and the manifest, and the file is set aside as a duplicate
    (skip,) = converted["skips"]
    assert skip["file"] == "claims-monday-resent.837" and skip["loaded_file"] == "claims-monday.837"
    assert summary["skips"] == converted["skips"]
    (settled,) = _xcom(second, "settle")
    assert settled["duplicates"] == 1 and settled["skips"] == converted["skips"]
    assert [p.name for p in root.glob("archive/x12/*/*")] == ["claims-monday.837"]
    assert [p.name for p in root.glob("duplicates/x12/*/*")] == ["claims-monday-resent.837"]
