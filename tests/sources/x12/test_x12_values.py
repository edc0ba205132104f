"""Unusual but valid X12 values convert exactly or are a clear data error for their claim, never an
``exception`` record: open-ended RD8 ranges, 18- and 20-digit amounts, exponents, long counts,
negative zero (property-tested over the 837P, 835 and 834 elements that carry them)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from x12_build import claim_837, clp, file_834, file_835, file_837, member, run, subscriber_837

from etl.config import JobConfig
from etl.fhir.datatypes import decimal
from etl.pipeline import convert


@pytest.mark.parametrize(("text", "json"), [
    ("12", b"12"), ("-0", b"0"), ("-0.00", b"0.0"), ("1E3", b"1000"), ("1.5E2", b"150"), ("1e-3", b"0.001"),
    ("123456789012345678", b"123456789012345678"),  # 18 digits: beyond a double, still an int64
    ("1234567890123456.78", b"1234567890123456.78"),  # 18 digits: kept exactly, not rounded by a double
    ("-0.000000000000000001", b"-1e-18"),  # FHIR R4 decimals may carry an exponent
])
def test_decimals_are_exact_json_numbers(text: str, json: bytes) -> None:
    assert orjson.dumps(decimal(text)) == json


@pytest.mark.parametrize("text", ["1e309", "12345678901234567890", "1" * 40, "1e-30", "NaN", "Infinity", "1,0"])
def test_numbers_beyond_18_digits_or_not_finite_are_no_json_number(text: str) -> None:
    assert decimal(text) is None


def _codes(found: dict[str, list[Any]]) -> list[str]:
    return [e["issue"][0]["code"] for e in found.get("errors", [])]


def test_open_ended_rd8_ranges_convert(tmp_path: Path) -> None:
    segs = claim_837("PCN1")
    segs[-1] = "DTP*472*RD8*20240101-"
    second = claim_837("PCN2")
    second[-1] = "DTP*472*RD8*-20240131"
    _, found = run(tmp_path, file_837(subscriber_837("M1", [segs, second])))
    assert _codes(found) == []
    by_id = {c["identifier"][0]["value"]: c for c in found["Claim"]}
    assert by_id["PCN1"]["billablePeriod"] == {"start": "2024-01-01", "end": "2024-01-01"}
    assert by_id["PCN1"]["item"][0]["servicedPeriod"] == {"start": "2024-01-01"}
    assert by_id["PCN2"]["item"][0]["servicedPeriod"] == {"end": "2024-01-31"}


def test_long_amounts_convert_exactly_or_reject_their_claim_as_a_value_error(tmp_path: Path) -> None:
    eighteen = "1234567890123456.78"
    twenty = "123456789012345678.91"
    data = file_837(subscriber_837("M1", [claim_837("PCN1", eighteen, (eighteen,)), claim_837("PCN2", twenty, (twenty,)),
                                          claim_837("PCN3", "1E3", ("1000",))]))
    summary, found = run(tmp_path, data)
    assert _codes(found) == ["value"]
    by_id = {c["identifier"][0]["value"]: c for c in found["Claim"]}
    assert sorted(by_id) == ["PCN1", "PCN3"]
    raw = next((tmp_path / "out-in.x12" / "fhir").glob("Claim.*.ndjson")).read_bytes()
    assert b'"value":1234567890123456.78' in raw  # the exact digits, not a double's
    assert by_id["PCN3"]["total"]["value"] == 1000


def test_a_huge_line_number_and_unit_count_do_not_reach_the_writer(tmp_path: Path) -> None:
    segs = claim_837("PCN1")
    segs[2] = "LX*123456789012345678901234567890"
    segs[3] = "SV1*HC:99213*100*UN*123456789012345678901234***1"
    _, found = run(tmp_path, file_837(subscriber_837("M1", [segs, claim_837("PCN2")])))
    assert _codes(found) == ["value"] and [c["identifier"][0]["value"] for c in found["Claim"]] == ["PCN2"]


def test_1e309_in_a_plb_amount_is_a_value_error_not_an_exception(tmp_path: Path) -> None:
    summary, found = run(tmp_path, file_835([clp("A", "10")], "10", "PLB*1559123456*20241231*WO:X*1e309"))
    assert _codes(found) == ["value"] and "PLB04" in found["errors"][0]["issue"][0]["expression"][0]
    summary, found = run(tmp_path, file_835([clp("A", "10")], "9", "PLB*1559123456*20241231*WO:X*1E0"), name="b.x12")
    assert _codes(found) == [] and summary.warnings == 0


# --- the property: any such value in any such element ----------------------------------------------
NUMBERS = st.one_of(
    st.sampled_from(["1E3", "1e309", "-0", "-0.00", "0", "123456789012345678", "1234567890123456.78",
                     "12345678901234567890", ".5", "5.", "1e-3", "-12.5", "1E+17", "9" * 30, "0.1", "1e-30"]),
    st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]{0,8})?([eE][+-]?[0-9]{1,3})?\Z"),
)
DAY = st.from_regex(r"\A(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])\Z")
DATES = st.one_of(DAY, st.from_regex(r"\A[0-9]{0,9}\Z"))
RANGES = st.one_of(st.tuples(st.one_of(DAY, st.just("")), st.one_of(DAY, st.just(""))).map("-".join), DATES)
COUNTS = st.from_regex(r"\A[0-9]{1,30}\Z")


def _outcome(data: bytes, suffix: str) -> tuple[dict[str, list[Any]], int]:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"in.{suffix}"
        src.write_bytes(data)
        summary = convert([src], Path(tmp) / "out", JobConfig())
        assert summary.attempted == summary.succeeded + summary.rejected
        found: dict[str, list[Any]] = {}
        for folder in ("fhir", "errors"):
            for p in (Path(tmp) / "out" / folder).glob("*.ndjson"):
                key = p.name.split(".")[0] if folder == "fhir" else folder
                found.setdefault(key, []).extend(orjson.loads(x) for x in p.read_bytes().splitlines())
        return found, summary.rejected


def _accounted(found: dict[str, list[Any]], rtype: str, bodies: int) -> None:
    """No ``exception`` record; every claim is a resource or an error record of its own, or the
    transaction set's record covers them all."""
    assert "exception" not in _codes(found), found["errors"]
    errors = found.get("errors", [])
    claim_level = [e for e in errors if " (CLM at segment" in e["issue"][0]["diagnostics"]
                   or " (CLP at segment" in e["issue"][0]["diagnostics"] or " (INS at segment" in e["issue"][0]["diagnostics"]]
    if len(claim_level) < len(errors):  # the set was rejected: nothing of it was written
        assert not found.get(rtype)
    else:
        assert len(found.get(rtype, [])) + len(claim_level) == bodies


# FHIRFLOW_PROPERTY_EXAMPLES=500 for a longer search than the suite's
PROPERTY = settings(max_examples=int(os.environ.get("FHIRFLOW_PROPERTY_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(amount=NUMBERS, charge=NUMBERS, units=NUMBERS, lx=COUNTS, dates=RANGES, birth=DATES)
# found by this test: an 18-digit whole amount stopped the Parquet step (Arrow refuses ints > 2^53 in
# a double column)
@example(amount="123456789012345678", charge="123456789012345678", units="1E3", lx="0", dates="", birth="")
def test_837p_numbers_dates_and_counts_never_hit_a_fhirflow_bug(
        amount: str, charge: str, units: str, lx: str, dates: str, birth: str) -> None:
    odd = [f"CLM*PCN1*{amount}***11:B:1*Y*A*Y*Y", "HI*ABK:E119", f"DTP*434*RD8*{dates}", f"LX*{lx}",
           f"SV1*HC:99213*{charge}*UN*{units}***1", f"DTP*472*RD8*{dates}"]
    sub = subscriber_837("M1", [claim_837("PCN0"), odd, claim_837("PCN2")])
    sub[3] = f"DMG*D8*{birth}*F"
    found, _ = _outcome(file_837(sub), "x12")
    _accounted(found, "Claim", 3)


@PROPERTY
@given(charge=NUMBERS, paid=NUMBERS, svc=NUMBERS, cas=NUMBERS, plb=NUMBERS, bpr=NUMBERS, day=DATES, units=NUMBERS)
@example(charge="1E3", paid="1E3", svc="1E3", cas="1E3", plb="1E3", bpr="1E+17", day="", units="1E3")
def test_835_numbers_and_dates_never_hit_a_fhirflow_bug(
        charge: str, paid: str, svc: str, cas: str, plb: str, bpr: str, day: str, units: str) -> None:
    odd = [f"CLP*B*1*{charge}*{paid}*{paid}*12*ICNB", "NM1*QC*1*DOE*JANE****MI*M1", f"DTM*232*{day}",
           f"SVC*HC:99213*{svc}*{paid}**{units}", f"DTM*472*{day}", f"CAS*CO*45*{cas}"]
    data = file_835([clp("A", "10"), odd, clp("C", "5")], bpr, f"PLB*1559123456*20241231*WO:X*{plb}")
    found, _ = _outcome(data.replace(b"*20240105~", f"*{day}~".encode(), 1), "x12")
    _accounted(found, "ExplanationOfBenefit", 3)


@PROPERTY
@given(start=DATES, birth=DATES, elig=DATES)
def test_834_dates_never_hit_a_fhirflow_bug(start: str, birth: str, elig: str) -> None:
    odd = member("Y", "S2")
    odd[3] = f"DMG*D8*{birth}*M"
    odd[5] = f"DTP*348*D8*{start}"
    odd.insert(2, f"DTP*356*D8*{elig}")
    found, _ = _outcome(file_834([member("Y", "S1"), odd, member("Y", "S3")]), "x12")
    _accounted(found, "Coverage", 3)


@pytest.mark.parametrize("amount", ["10.001", "1e-3", "0.125"])
def test_an_amount_beyond_cents_rejects_the_one_claim_that_carries_it(amount: str) -> None:
    """DE 782 is dollars and cents (TR3 B.1.1.3.1.2): a third decimal rejects that claim with a
    ``value`` error naming CLP04, and the claims beside it and the analyst tables (DECIMAL(20,2)) stay."""
    odd = [f"CLP*B*1*100*{amount}*0*12*ICNB", "NM1*QC*1*DOE*JANE****MI*M1"]
    found, rejected = _outcome(file_835([clp("A", "10"), odd, clp("C", "5")], "15", ""), "x12")
    assert rejected == 1 and len(found["ExplanationOfBenefit"]) == 2
    (error,) = found["errors"]
    assert error["issue"][0]["code"] == "value" and "CLP04" in error["issue"][0]["expression"]
    assert "more than 2 decimal places" in error["issue"][0]["diagnostics"]
