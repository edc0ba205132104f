"""Claim-level rejection (277CA semantics) and the integrity checks of X12 5010 claims.

A defect confined to one claim rejects that claim alone (an error record naming ISA13/GS06/ST02, the
claim's ordinal and segment, with CLM01 / CLP01 / REF*0F quoted), its siblings convert; SE01 that
disagrees rejects the set (a warning with ``--strictness ignore``); CLM02 must balance its lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from x12_build import claim_837, claim_ids, clp, file_834, file_835, file_837, member, quoted, run, subscriber_837

from etl.config import Strictness
from etl.state import StateStore
from etl.state.store import now


# --- 837: one claim's defect rejects that claim only -----------------------------------------------
def test_a_claim_without_service_lines_is_rejected_alone(tmp_path: Path) -> None:
    no_lines = [s for s in claim_837("PCN2") if not s.startswith(("LX", "SV1", "DTP"))]
    data = file_837(subscriber_837("M1", [claim_837("PCN1"), no_lines, claim_837("PCN3")]))
    summary, found = run(tmp_path, data)
    assert claim_ids(found) == ["PCN1", "PCN3"]
    (err,) = found["errors"]
    diag = err["issue"][0]["diagnostics"]
    assert "ISA13=000000001 GS06=1 ST02=0001, claim 2 (CLM at segment" in diag and "2400 LX" in diag
    assert err["issue"][0]["code"] == "required"
    assert quoted(err) == {"CLM01": "PCN2"} and "PCN2" not in err["issue"][0]["details"]["text"]
    assert (summary.attempted, summary.succeeded, summary.rejected) == (2, 1, 1)


def test_a_claim_with_a_missing_required_element_is_rejected_alone(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1", clm05="11:B"), claim_837("PCN2")]))
    summary, found = run(tmp_path, data)
    assert claim_ids(found) == ["PCN2"]
    (err,) = found["errors"]
    assert "claim 1 (CLM at segment" in err["issue"][0]["diagnostics"] and "CLM05-3" in err["issue"][0]["diagnostics"]
    assert quoted(err)["CLM01"] == "PCN1"
    assert summary.rejected == 1


def test_resources_only_a_rejected_claim_introduced_are_not_written(tmp_path: Path) -> None:
    # the second subscriber's only claim is rejected: its Patient and Coverage must not be written
    data = file_837(subscriber_837("M1", [claim_837("PCN1")]),
                    subscriber_837("M2", [claim_837("PCN2", clm05="11:B")], hl=3, name="ROE*RICHARD"))
    _, found = run(tmp_path, data)
    assert claim_ids(found) == ["PCN1"]
    assert [p["identifier"][0]["value"] for p in found["Patient"]] == ["M1"]
    assert [c["subscriberId"] for c in found["Coverage"]] == ["M1"]


def test_shared_parties_still_come_with_the_claims_after_a_rejected_first_claim(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1", clm05="11:B"), claim_837("PCN2")]))
    _, found = run(tmp_path, data)
    assert claim_ids(found) == ["PCN2"]
    claim = found["Claim"][0]
    orgs = {o["id"] for o in found["Organization"]}
    assert claim["provider"]["reference"].split("/")[1] in orgs and claim["insurer"]["reference"].split("/")[1] in orgs
    assert claim["patient"]["reference"].split("/")[1] in {p["id"] for p in found["Patient"]}


def test_a_subscriber_without_member_id_rejects_each_of_its_claims_not_the_others(tmp_path: Path) -> None:
    data = file_837(subscriber_837("", [claim_837("PCN1"), claim_837("PCN2")]),
                    subscriber_837("M2", [claim_837("PCN3")], hl=3))
    summary, found = run(tmp_path, data)
    assert claim_ids(found) == ["PCN3"]
    assert sorted(quoted(e)["CLM01"] for e in found["errors"]) == ["PCN1", "PCN2"]
    assert all(e["issue"][0]["expression"] == ["2010BA NM109"] for e in found["errors"])
    assert summary.rejected == 2


def test_a_billing_provider_defect_still_rejects_the_transaction_set(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1")])).replace(b"N3*1 MAIN ST~\n", b"")
    summary, found = run(tmp_path, data)
    assert "Claim" not in found and len(found["errors"]) == 1
    assert "has no N3" in found["errors"][0]["issue"][0]["diagnostics"]
    assert summary.rejected == 1


def test_a_partly_rejected_set_is_visible_everywhere_and_never_recorded_as_loaded(tmp_path: Path) -> None:
    from etl.cli import main

    data = file_837(subscriber_837("M1", [claim_837("PCN1"), claim_837("PCN2", clm05="11:B")]))
    state_url = str(tmp_path / "state.db")
    summary, found = run(tmp_path, data, state_url=state_url)
    assert claim_ids(found) == ["PCN1"]  # converted in part ...
    assert summary.files[0].rejected == 1 and not summary.files[0].clean  # ... and that is visible
    # what the Airflow task reports per file (etl.flows.tasks.convert_batch): > 0 sends it to quarantine
    assert {f.name: f.rejected for f in summary.files} == {"in.x12": 1}
    with StateStore.open(state_url) as state:  # a load that completes does not mark it loaded
        receipt = state.receipts.start(str((tmp_path / "out-in.x12").resolve()), "test", "http://fhir",
                                       "http://fhir/status", {}, now())
        state.receipts.complete(receipt, {}, "done", now())
        (row,) = state.interchanges.all()
        assert not row.complete and row.state != "loaded"
    (tmp_path / "cli.x12").write_bytes(data)
    assert main(["convert", str(tmp_path / "cli.x12"), "--out", str(tmp_path / "cli-out"), "--no-parquet"]) == 3


# --- integrity: SE01, CLM02 ------------------------------------------------------------------------
def test_a_wrong_se01_rejects_the_set_unless_strictness_is_ignore(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1")]), se01=5)
    summary, found = run(tmp_path, data)
    assert "Claim" not in found and summary.rejected == 1
    assert "SE01" in found["errors"][0]["issue"][0]["diagnostics"]
    summary, found = run(tmp_path, data, name="ignore.x12", strictness=Strictness.IGNORE)
    assert claim_ids(found) == ["PCN1"] and summary.rejected == 0 and summary.warnings == 1
    assert any("SE01" in i["details"]["text"] for w in found["warnings"] for i in w["issue"])


@pytest.mark.parametrize(("amount", "lines", "balanced"), [
    ("0.3", ("0.1", "0.2"), True),  # exact decimals: 0.1 + 0.2 is 0.3 (it is not in floating point)
    ("100", ("100.00",), True),
    ("150", ("100",), False),  # a service line lost in transit
    ("100", ("60", "50"), False),
])
def test_clm02_must_equal_the_sum_of_the_line_charges(tmp_path: Path, amount: str, lines: tuple[str, ...],
                                                      balanced: bool) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1", amount, lines), claim_837("PCN2")]))
    summary, found = run(tmp_path, data)
    assert claim_ids(found) == (["PCN1", "PCN2"] if balanced else ["PCN2"])
    if not balanced:
        (err,) = found["errors"]
        assert "CLM02" in err["issue"][0]["diagnostics"] and err["issue"][0]["code"] == "value"
        assert quoted(err)["CLM01"] == "PCN1" and quoted(err)["CLM02"] == amount
        assert summary.rejected == 1


# --- 835 and 834 -----------------------------------------------------------------------------------
def test_an_835_claim_payment_without_member_id_is_rejected_alone(tmp_path: Path) -> None:
    data = file_835([clp("A", "10"), clp("B", "20", member=""), clp("C", "30")], "60")
    summary, found = run(tmp_path, data)
    assert sorted(e["claim"]["identifier"]["value"] for e in found["ExplanationOfBenefit"]) == ["A", "C"]
    (err,) = found["errors"]
    assert "claim 2 (CLP at segment" in err["issue"][0]["diagnostics"] and quoted(err)["CLP01"] == "B"
    assert len(found["PaymentReconciliation"]) == 1 and summary.rejected == 1


def test_the_835_balance_is_exact_and_rejects_only_with_strictness_raise(tmp_path: Path) -> None:
    plb = "PLB*1559123456*20241231*WO:X*0.1"
    summary, found = run(tmp_path, file_835([clp("A", "0.2"), clp("B", "0.2")], "0.3", plb))
    assert summary.warnings == 0 and summary.rejected == 0  # 0.2 + 0.2 - 0.1 is exactly 0.3
    summary, found = run(tmp_path, file_835([clp("A", "10")], "9", plb), name="off.x12")
    assert summary.warnings == 1 and summary.rejected == 0
    # one cent off at 18 digits: the same double, not the same amount
    summary, found = run(tmp_path, file_835([clp("A", "1234567890123456.78")], "1234567890123456.79"), name="cent.x12")
    assert summary.warnings == 1 and summary.rejected == 0
    summary, found = run(tmp_path, file_835([clp("A", "10")], "9", plb), name="raise.x12", strictness=Strictness.RAISE)
    assert summary.rejected == 1 and "BPR02" in found["errors"][0]["issue"][0]["diagnostics"]


def test_an_834_member_without_a_name_is_rejected_alone_with_its_dependents(tmp_path: Path) -> None:
    data = file_834([member("Y", "S1"), member("Y", "S2", name=None), member("N", "S2", "SMITH*MARY", "01"),
                     member("Y", "S3")])
    summary, found = run(tmp_path, data)
    assert sorted(c["subscriberId"] for c in found["Coverage"]) == ["S1", "S3"]
    assert sorted(quoted(e)["REF*0F"] for e in found["errors"]) == ["S2", "S2"]
    assert any("member 2 (INS at segment" in e["issue"][0]["diagnostics"] for e in found["errors"])
    assert any("member 3 (INS at segment" in e["issue"][0]["diagnostics"] for e in found["errors"])
    assert summary.rejected == 2
