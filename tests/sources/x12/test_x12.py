"""X12 source: every 5010 sample converts with exact counts, bad input ends in error records."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.config import JobConfig, Strictness
from etl.errors import InputError
from etl.fhir.context import MappingContext
from etl.fhir.validation import validate_model
from etl.pipeline import convert
from etl.sources.x12.envelope import read_transactions
from etl.sources.x12.ledger import Ledger
from etl.sources.x12.source import X12Source

DATA = Path(__file__).resolve().parents[2] / "data" / "x12"
SOURCE = X12Source()


def _samples(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (DATA / f).rglob("*") if p.is_file())


def _convert(path: Path, strictness: Strictness = Strictness.WARN) -> tuple[list[dict[str, Any]], list[InputError]]:
    config = JobConfig(strictness=strictness)
    ctx = MappingContext("test-salt", strictness)
    resources: list[dict[str, Any]] = []
    errors: list[InputError] = []
    for unit in SOURCE.read(path, config):
        if unit.error is not None:
            errors.append(unit.error)
            continue
        if unit.skip:
            continue
        try:
            resources += SOURCE.to_fhir(unit.record, ctx, config)
        except InputError as exc:
            errors.append(exc)
    return resources, errors


def _count(path: Path, seg: str) -> int:
    text = path.read_bytes().lstrip(b"\xef\xbb\xbf \r\n")
    el = chr(text[3])
    term = text.decode("latin-1").split(el, 16)[16][1]
    return sum(1 for s in text.decode("latin-1").split(term) if s.strip().startswith(seg + el))


VALID = [p for p in _samples("837P", "837I", "835", "834") if p.name != "x12_many_claims.txt"] + [
    DATA / "837P" / "imsweb-x12-parser" / "x12_many_claims.txt",
    DATA / "malformed" / "imsweb-x12-parser" / "x12_valid_different_separators.txt"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_5010_sample_converts_with_exact_counts(path: Path) -> None:
    resources, errors = _convert(path)
    # several imsweb samples have wrong GE01/IEA01 counts: those are separate envelope error
    # records; no transaction set may be rejected
    assert not [e for e in errors if "ST02=" in str(e)], [str(e) for e in errors]
    assert all(("GE01" in str(e) or "IEA01" in str(e)) for e in errors)
    by_type: dict[str, int] = {}
    for r in resources:
        by_type[r["resourceType"]] = by_type.get(r["resourceType"], 0) + 1
    assert by_type.get("Claim", 0) == _count(path, "CLM")
    assert by_type.get("ExplanationOfBenefit", 0) == _count(path, "CLP")
    if path.parent.parent.name == "834":
        assert by_type.get("Coverage", 0) == _count(path, "HD")
    for r in resources[:200]:
        assert validate_model(r) == [], (r["resourceType"], validate_model(r))


MALFORMED = [p for p in _samples("malformed", "837-4010", "270", "277", "acks")
             if p.name != "x12_valid_different_separators.txt"]


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_bad_or_unsupported_input_ends_in_error_records(path: Path, tmp_path: Path) -> None:
    summary = convert([path], tmp_path / "out", JobConfig(parquet=False))
    assert summary.rejected >= 1
    lines = [json.loads(x) for f in (tmp_path / "out" / "errors").glob("*.ndjson") for x in f.read_text().splitlines()]
    assert lines and all(x["resourceType"] == "OperationOutcome" for x in lines)
    assert all(x["issue"][0]["diagnostics"].startswith(path.name) for x in lines)


@pytest.mark.parametrize(("name", "expected"), [
    ("x12_bad_first_line.txt", "ISA02 is 9 characters long"),
    ("x12_bad_segment_identifier.txt", "segment 4"),
    ("x12_loop_errors3_missing_loops.txt", "2010AA"),
    ("x12_missing_elements.txt", "CLM05-1"),
    ("x12_segment_errors.txt", "has no N3"),
    ("x12_segments_out_of_order.txt", "out of order in loop 2010AA"),
    ("bad_elements.txt", "004010"),
])
def test_malformed_messages_name_the_problem(name: str, expected: str) -> None:
    path = next(DATA.rglob(name))
    _, errors = _convert(path)
    assert any(expected in str(e) for e in errors), [str(e) for e in errors]


def test_unsupported_transaction_names_it() -> None:
    _, errors = _convert(DATA / "270" / "linuxforhealth-x12" / "subscriber-health-benefit-check.270")
    assert "transaction set 270" in str(errors[0]) and "005010X279A1" in str(errors[0])


def test_837p_fields_against_sample_text() -> None:
    res, _ = _convert(DATA / "837P" / "uhin-x12-parser" / "837.edi")
    claim = next(r for r in res if r["resourceType"] == "Claim")
    # CLM*1606*2***11:B:1*Y*A*Y*Y*P ; HI*ABK:R69 ; SV1*HC:90834*2*UN*1***1 ; DTP*472*RD8*20240815-20240820
    assert claim["identifier"][0]["value"] == "1606"
    assert claim["total"] == {"value": 2, "currency": "USD"}
    assert claim["type"]["coding"][0]["code"] == "professional"
    assert claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "R69"
    item = claim["item"][0]
    assert item["productOrService"]["coding"][0]["code"] == "90834"
    assert item["servicedPeriod"] == {"start": "2024-08-15", "end": "2024-08-20"}
    assert item["locationCodeableConcept"]["coding"][0]["code"] == "11"
    patient = next(r for r in res if r["resourceType"] == "Patient")
    assert patient["name"][0]["family"] == "MARQUARDT" and patient["birthDate"] == "1946-11-11"
    assert patient["gender"] == "female"


def test_837i_institutional_fields() -> None:
    res, _ = _convert(DATA / "837I" / "linuxforhealth-x12" / "institutional-claim.837i")
    claim = next(r for r in res if r["resourceType"] == "Claim")
    assert claim["type"]["coding"][0]["code"] == "institutional"
    cats = {s["category"]["coding"][0]["code"]: s for s in claim["supportingInfo"]}
    assert cats["typeofbill"]["code"]["coding"][0]["code"] == "0141"  # CLM05 14:A:1
    assert cats["admtype"]["code"]["coding"][0]["code"] == "3"  # CL1*3**01
    assert cats["discharge-status"]["code"]["coding"][0]["code"] == "01"
    assert claim["billablePeriod"]["start"] == "1996-09-11"  # DTP*434*D8*19960911
    assert any(c["role"]["coding"][0]["code"] == "attending" for c in claim["careTeam"])  # NM1*71


def test_835_eob_and_payment_reconciliation() -> None:
    res, _ = _convert(DATA / "835" / "linuxforhealth-x12" / "secondary-payment.835")
    eobs = [r for r in res if r["resourceType"] == "ExplanationOfBenefit"]
    assert [e["identifier"][0]["value"] for e in eobs] == ["05090256390", "05630626430"]  # CLP07
    second = eobs[1]
    assert second["total"][1]["amount"]["value"] == 310  # CLP04
    adj = second["item"][1]["adjudication"]
    assert {"PR", "CO"} <= {a["category"]["coding"][0]["code"] for a in adj if "reason" in a}
    pr = next(r for r in res if r["resourceType"] == "PaymentReconciliation")
    assert pr["paymentAmount"]["value"] == 1222 and pr["identifier"][0]["value"] == "0012524965"


def test_835_balance_mismatch_is_a_warning(tmp_path: Path) -> None:
    src = DATA / "835" / "linuxforhealth-x12" / "secondary-payment.835"
    path = tmp_path / "unbalanced.835"
    path.write_bytes(src.read_bytes().replace(b"BPR*I*1222.00*", b"BPR*I*1200.00*"))
    ctx = MappingContext("s", Strictness.WARN)
    unit = next(iter(SOURCE.read(path, JobConfig())))
    SOURCE.to_fhir(unit.record, ctx, JobConfig())
    assert any("BPR02" in w for w in ctx.warnings)


def test_834_coverage_status_and_dependents() -> None:
    res, _ = _convert(DATA / "834" / "pyx12" / "834_deident_family.txt")
    assert sum(r["resourceType"] == "RelatedPerson" for r in res) == 2
    cov = next(r for r in res if r["resourceType"] == "Coverage")
    assert cov["status"] == "active" and cov["period"]["start"] == "2026-04-01"
    res, _ = _convert(DATA / "834" / "linuxforhealth-x12" / "cancel-dependent.834")
    assert all(r.get("status") != "active" for r in res if r["resourceType"] == "Coverage")


def _837(clm05: str, control: str = "000000001", clm01: str = "PCN1", amount: str = "100") -> bytes:
    segs = [
        f"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*{control}*0*T*:",
        "GS*HC*SENDER*RECEIVER*20240101*1200*1*X*005010X222A1", "ST*837*0001*005010X222A1",
        "BHT*0019*00*1*20240101*1200*CH", "NM1*41*2*SUBMITTER*****46*SUB1", "NM1*40*2*RECEIVER*****46*RCV1",
        "HL*1**20*1", "NM1*85*2*CLINIC*****XX*1234567893", "N3*1 MAIN ST", "N4*TOWN*MD*20705", "REF*EI*123456789",
        "HL*2*1*22*0", "SBR*P*18*GRP******CI", "NM1*IL*1*DOE*JANE****MI*M123", "DMG*D8*19800101*F",
        "NM1*PR*2*PAYER*****PI*P1", f"CLM*{clm01}*{amount}***{clm05}*Y*A*Y*Y", "HI*ABK:E119",
        "LX*1", "SV1*HC:99213:25*100*UN*1***1", "DTP*472*D8*20240102",
    ]
    n = len(segs) - 2 + 1
    segs += [f"SE*{n}*0001", "GE*1*1", f"IEA*1*{control}"]
    return ("~\n".join(segs) + "~\n").encode()


def test_replacement_and_void_keep_the_claim_id(tmp_path: Path) -> None:
    ids = {}
    for freq in ("1", "7", "8"):
        p = tmp_path / f"c{freq}.x12"
        p.write_bytes(_837(f"11:B:{freq}", amount="100" if freq == "1" else "120"))
        res, errors = _convert(p)
        assert not errors
        claim = next(r for r in res if r["resourceType"] == "Claim")
        ids[freq] = claim["id"]
        if freq == "8":
            assert claim["status"] == "entered-in-error"
    assert len(set(ids.values())) == 1
    assert claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "E11.9"


def test_ledger_skips_a_resent_interchange(tmp_path: Path) -> None:
    ledger = tmp_path / "x12-ledger.json"
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.x12").write_bytes(_837("11:B:1"))
    config = JobConfig(parquet=False, x12_ledger=ledger)
    first = convert([src], tmp_path / "out", config)
    assert first.succeeded == 1 and Ledger(ledger).seen("SENDER", "000000001")
    # Re-running the same run (same output folder) is not a re-send: same output again.
    assert convert([src], tmp_path / "out", config).succeeded == 1
    (src / "b.x12").write_bytes(_837("11:B:1"))  # the same interchange, re-sent under another name
    second = convert([src], tmp_path / "out-next-day", config)
    assert second.succeeded == 0 and second.skipped == 2
    assert "already loaded" in second.files[0].notes[0]
    assert convert([src], tmp_path / "again", replace(config, x12_reprocess=True)).succeeded == 2
    assert Ledger(ledger).forget("SENDER", "000000001")


def test_large_transaction_set_is_split_into_parts(tmp_path: Path) -> None:
    body = _837("11:B:1").decode()
    head, _, rest = body.partition("CLM*")
    claim = "CLM*" + rest.split("~\nSE*")[0] + "~\n"
    many = head + "".join(claim.replace("PCN1", f"PCN{i}") for i in range(7)) + "SE*1*0001~\nGE*1*1~\nIEA*1*000000001~\n"
    p = tmp_path / "big.x12"
    p.write_text(many)
    units = list(read_transactions(p, max_bodies=3))
    assert [u.record.bodies for u in units if u.record] == [3, 3, 1]
    ctx = MappingContext("s")
    claims = [r for u in units if u.record for r in SOURCE.to_fhir(u.record, ctx, JobConfig()) if r["resourceType"] == "Claim"]
    assert len({c["id"] for c in claims}) == 7


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600), cut=st.integers(min_value=0, max_value=900), junk=st.binary(max_size=20))
def test_fuzz_reader_only_yields_input_errors(tmp_path: Path, data: bytes, cut: int, junk: bytes) -> None:
    base = _837("11:B:1")
    for blob in (data, base[:cut] + junk + base[cut:], b"ISA" + data):
        p = tmp_path / "f.x12"
        p.write_bytes(blob)
        ctx = MappingContext("s")
        for unit in SOURCE.read(p, JobConfig()):
            if unit.record is not None:
                try:
                    SOURCE.to_fhir(unit.record, ctx, JobConfig())
                except InputError:
                    pass
            elif not unit.skip:
                assert isinstance(unit.error, InputError)


@pytest.mark.hapi
def test_one_of_each_type_validates_on_hapi(hapi_url: str) -> None:
    import httpx

    from etl.fhir.validation import validate_on_server

    seen: dict[str, dict[str, Any]] = {}
    for path in (DATA / "837P" / "linuxforhealth-x12" / "demo.example1.837",
                 DATA / "837I" / "linuxforhealth-x12" / "institutional-claim.837i",
                 DATA / "835" / "linuxforhealth-x12" / "secondary-payment.835",
                 DATA / "834" / "pyx12" / "834_deident_family.txt"):
        for r in _convert(path)[0]:
            seen.setdefault(r["resourceType"], r)
    with httpx.Client(timeout=60) as client:
        for r in seen.values():
            assert validate_on_server(client, hapi_url, r) == [], r["resourceType"]
