"""Current-state Delta tables (etl/stage/lake.py): a replaced claim is one row with the new values,
a voided one keeps its row with its status, a re-run changes nothing, a late old batch does not win,
and two processes merging at once lose no rows."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
import pytest
from deltalake import DeltaTable

from etl.config import JobConfig
from etl.pipeline import convert
from etl.stage.lake import duckdb_views, merge_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources" / "x12"))
from x12_build import claim_837, file_837, subscriber_837  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _batch(tmp_path: Path, name: str, data: bytes, lake: Path, when: str) -> Path:
    src = tmp_path / f"{name}.x12"
    src.write_bytes(data)
    out = tmp_path / f"out-{name}"
    convert([src], out, JobConfig(id_salt="lake", transaction_time=when, lake_root=str(lake)))
    return out


def _table(lake: Path, name: str) -> list[dict[str, Any]]:
    con = duckdb.connect()
    duckdb_views(con, lake)
    rel = con.sql(f'select * exclude (_as_of, _hash) from "{name}"')
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


def test_replacement_replaces_void_keeps_the_row_rerun_changes_nothing(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    day1 = file_837(subscriber_837("M1", [claim_837("PCN1", "300", ("100", "200")), claim_837("PCN2", "50", ("50",))]))
    out1 = _batch(tmp_path, "day1", day1, lake, "2026-01-01T00:00:00+00:00")
    assert len(_table(lake, "Claim")) == 2 and len(_table(lake, "claim_item")) == 3
    # day 2: PCN1 replaced (CLM05-3 = 7) with one line of 120
    _batch(tmp_path, "day2", file_837(subscriber_837("M1", [claim_837("PCN1", "120", ("120",), clm05="11:B:7")]),
                                      control="000000002"), lake, "2026-01-02T00:00:00+00:00")
    claims = {r["claim_identifier"]: r for r in _table(lake, "Claim")}
    assert len(claims) == 2 and claims["PCN1"]["total_value"] == Decimal("120.00")
    items = _table(lake, "claim_item")
    assert sorted((r["patient_control_number"], r["net"]) for r in items) == [
        ("PCN1", Decimal("120.00")), ("PCN2", Decimal("50.00"))]  # the replaced claim's second line is gone
    # day 3: PCN2 voided (8): its row stays, with its status
    _batch(tmp_path, "day3", file_837(subscriber_837("M1", [claim_837("PCN2", "50", ("50",), clm05="11:B:8")]),
                                      control="000000003"), lake, "2026-01-03T00:00:00+00:00")
    claims = {r["claim_identifier"]: r for r in _table(lake, "Claim")}
    assert len(claims) == 2 and claims["PCN2"]["status"] != "active"
    before = {t.name: DeltaTable(str(t)).version() for t in lake.iterdir()}
    state = sorted(map(str, _table(lake, "claim_item")))
    merge_batch(lake, tmp_path / "out-day3", "2026-01-03T00:00:00+00:00")  # the same batch again
    assert {t.name: DeltaTable(str(t)).version() for t in lake.iterdir()} == before
    merge_batch(lake, out1, "2026-01-01T00:00:00+00:00")  # an old batch merged late: changes nothing
    assert sorted(map(str, _table(lake, "claim_item"))) == state
    assert {r["claim_identifier"]: r["total_value"] for r in _table(lake, "Claim")}["PCN1"] == Decimal("120.00")
    # Polars reads the tables as they are
    assert pl.read_delta(str(lake / "Claim")).height == 2


_WORKER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from etl.stage.lake import merge_batch
for out in sys.argv[2:]:
    merge_batch(Path(sys.argv[1]), Path(out), "2026-01-01T00:00:00+00:00")
"""


def _staged(folder: Path, ids: list[str]) -> Path:
    """A converted output folder's shape (parquet/Claim/ and parquet/claim_item/) for these claims."""
    from etl.stage.parquet import ndjson_to_parquet
    from etl.stage.tables import write_tables
    from etl.stage.views import analyst_views, load_views

    nd = folder / "fhir" / "Claim.000.ndjson"
    nd.parent.mkdir(parents=True)
    nd.write_bytes(b"".join(orjson.dumps({"resourceType": "Claim", "id": i, "status": "active", "item": [
        {"sequence": 1, "net": {"value": 10.25}}, {"sequence": 2, "net": {"value": 1}}]}) + b"\n" for i in ids))
    ndjson_to_parquet(nd, folder / "parquet" / "Claim" / "part-000.parquet", load_views()["Claim"], 1000)
    write_tables([v for v in analyst_views() if v.name == "claim_item"], {"Claim": [(nd, len(ids))]},
                 folder / "parquet", "t", 0o640)
    return folder


@pytest.mark.timeout(600)
def test_two_processes_merging_at_once_lose_no_rows(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    batches = {w: [_staged(tmp_path / f"{w}-{b}", [f"{w}{b}-{k}" for k in range(40)]) for b in range(4)] for w in "ab"}
    script = _WORKER.format(root=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(lake), *map(str, outs)],
                              stderr=subprocess.PIPE, text=True) for outs in batches.values()]
    for p in procs:
        _, err = p.communicate(timeout=500)
        assert p.returncode == 0, err[-2000:]
    claims = _table(lake, "Claim")
    assert len(claims) == 2 * 4 * 40 == len({r["id"] for r in claims})
    items = _table(lake, "claim_item")
    assert len(items) == 2 * 4 * 40 * 2
    assert sum(r["net"] for r in items) == Decimal("11.25") * 320
