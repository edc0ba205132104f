"""``fhirflow views run|validate`` end to end: formats, gzip input, exact decimals, Parquet metadata,
invalid views (exit 2, nothing written) and a view that fails on the data (exit 1, only it missing)."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import __version__, cli

PATIENTS = [
    {"resourceType": "Patient", "id": "p1", "birthDate": "1970-06-01", "name": [{"family": "A"}, {"family": "B"}]},
    {"resourceType": "Patient", "id": "p2", "birthDate": "1981"},
]
CLAIMS = [
    {"resourceType": "Claim", "id": "c1", "total": {"value": 100.5}, "item": [
        {"sequence": 1, "net": {"value": 0.1}}, {"sequence": 2, "net": {"value": 100.4}}]},
]
NAMES = {"resourceType": "ViewDefinition", "name": "patient_name", "resource": "Patient", "select": [
    {"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "birth", "path": "birthDate", "type": "date"}]},
    {"forEach": "name", "column": [{"name": "family", "path": "family"}, {"name": "n", "path": "%rowIndex",
                                                                         "type": "integer"}]}]}
ITEMS = {"resourceType": "ViewDefinition", "name": "claim_line", "resource": "Claim", "select": [
    {"column": [{"name": "claim_id", "path": "getResourceKey()"}]},
    {"forEach": "item", "column": [
        {"name": "net", "path": "net.value", "type": "decimal", "tag": [{"name": "ansi/type", "value": "DECIMAL(20,2)"}]}]}]}


def _setup(tmp_path: Path, views: list[dict[str, Any]]) -> tuple[Path, list[str]]:
    src = tmp_path / "in" / "day1"
    src.mkdir(parents=True)
    (src / "Patient.000.ndjson").write_text("".join(json.dumps(r) + "\n" for r in PATIENTS))
    with gzip.open(src / "Claim.000.ndjson.gz", "wt") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in CLAIMS))
    paths = []
    for v in views:
        p = tmp_path / f"{v['name']}.json"
        p.write_text(json.dumps(v))
        paths.append(str(p))
    return tmp_path / "in", paths


def test_parquet_tables_have_exact_decimals_and_metadata(tmp_path: Path) -> None:
    src, views = _setup(tmp_path, [NAMES, ITEMS])
    out = tmp_path / "out"
    assert cli.main(["views", "run", *views, "--input", str(src), "--output", str(out), "--run-id", "r-7"]) == 0
    names = pq.read_table(out / "patient_name.parquet")
    assert names.to_pylist() == [{"id": "p1", "birth": "1970-06-01", "family": "A", "n": 0},
                                 {"id": "p1", "birth": "1970-06-01", "family": "B", "n": 1}]
    items = pq.read_table(out / "claim_line.parquet")
    assert items.schema.field("net").type == pa.decimal128(20, 2)  # never float64
    assert [r["net"] for r in items.to_pylist()] == [Decimal("0.10"), Decimal("100.40")]
    assert sum(r["net"] for r in items.to_pylist()) == Decimal("100.50")
    meta = pq.read_schema(out / "claim_line.parquet").metadata
    assert meta[b"fhirflow.view"] == b"claim_line" and meta[b"fhirflow.run"] == b"r-7"
    assert meta[b"fhirflow.version"] == __version__.encode() and len(meta[b"fhirflow.view_hash"]) == 16


def test_typed_dates_add_a_date_column_only_for_full_dates(tmp_path: Path) -> None:
    view = {**NAMES, "select": NAMES["select"][:1]}
    src, views = _setup(tmp_path, [view])
    out = tmp_path / "out"
    assert cli.main(["views", "run", *views, "--input", str(src), "--output", str(out), "--typed-dates"]) == 0
    rows = pq.read_table(out / "patient_name.parquet").to_pylist()
    assert [(r["birth"], r["birth_date"] and r["birth_date"].isoformat()) for r in rows] == [
        ("1970-06-01", "1970-06-01"), ("1981", None)]


def test_csv_and_ndjson(tmp_path: Path) -> None:
    src, views = _setup(tmp_path, [ITEMS])
    for fmt in ("csv", "ndjson"):
        out = tmp_path / fmt
        assert cli.main(["views", "run", *views, "--input", str(src), "--output", str(out), "--format", fmt]) == 0
    with open(tmp_path / "csv" / "claim_line.csv", newline="") as fh:
        assert list(csv.reader(fh)) == [["claim_id", "net"], ["c1", "0.1"], ["c1", "100.4"]]
    lines = (tmp_path / "ndjson" / "claim_line.ndjson").read_text().splitlines()
    assert lines == ['{"claim_id":"c1","net":0.1}', '{"claim_id":"c1","net":100.4}']


def test_a_float_that_may_have_lost_digits_is_read_again_exactly(tmp_path: Path) -> None:
    src, views = _setup(tmp_path, [ITEMS | {"select": [ITEMS["select"][0], {"forEach": "item", "column": [
        {"name": "net", "path": "net.value", "type": "decimal",
         "tag": [{"name": "ansi/type", "value": "DECIMAL(38,20)"}]}]}]}])
    (src / "day1" / "Claim.001.ndjson").write_text(
        '{"resourceType":"Claim","id":"c2","item":[{"net":{"value":0.12345678901234567891}}]}\n')
    out = tmp_path / "out"
    assert cli.main(["views", "run", *views, "--input", str(src), "--output", str(out)]) == 0
    nets = {r["net"] for r in pq.read_table(out / "claim_line.parquet").to_pylist()}
    assert Decimal("0.12345678901234567891") in nets


def test_invalid_view_exits_2_names_it_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"resourceType": "ViewDefinition", "name": "broken", "resource": "Patient",
           "select": [{"column": [{"name": "id", "path": "id", "colour": "red"}]}]}
    src, views = _setup(tmp_path, [NAMES, bad])
    out = tmp_path / "out"
    assert cli.main(["views", "run", *views, "--input", str(src), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'broken'" in err and "select[0].column[0].colour" in err and "not an element" in err
    assert not out.exists() or list(out.iterdir()) == []
    assert cli.main(["views", "validate", *views]) == 2
    assert cli.main(["views", "validate", views[0]]) == 0
    assert "ok patient_name: Patient, 4 columns" in capsys.readouterr().out


def test_a_view_failing_on_the_data_leaves_no_table_and_the_others_are_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = {"resourceType": "ViewDefinition", "name": "wrong_type", "resource": "Patient",
             "select": [{"column": [{"name": "b", "path": "birthDate", "type": "integer"}]}]}
    src, views = _setup(tmp_path, [NAMES, wrong])
    out = tmp_path / "out"
    assert cli.main(["views", "run", *views, "--input", str(src), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "'wrong_type', column 'b'" in err and "1970" not in err  # names the column, never the value
    assert sorted(p.name for p in out.iterdir()) == ["patient_name.parquet"]
