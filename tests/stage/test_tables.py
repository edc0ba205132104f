"""The analyst tables staged with every conversion: the shipped views under ``parquet/<view>/``
(exact money, typed dates, metadata), an analyst's own ``--views``, and a bad one stopping the run
before it starts."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import cli
from etl.stage.view_table import Converter
from etl.stage.views import VIEWS_DIR, analyst_views

DATA = Path(__file__).resolve().parents[1] / "data" / "x12"
SAMPLES = [DATA / "837P" / "handwritten" / "ambulance-cob-drug.837p", DATA / "835" / "handwritten" / "rendering-no-bpr16.835",
           DATA / "834" / "handwritten" / "corrected-insured-family.834"]
SHIPPED = {"claim_item", "claim_diagnosis", "claim_insurance", "eob_item", "eob_item_adjudication", "eob_total",
           "payment_reconciliation_detail", "coverage_class", "observation_component", "patient_identifier"}


def _rows(out: Path, table: str) -> list[dict[str, Any]]:
    return [r for p in sorted((out / "parquet" / table).glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tables") / "out"
    assert cli.main(["convert", *map(str, SAMPLES), "-o", str(out), "--no-state", "-q"]) == 0
    return out


def test_every_shipped_view_is_there_and_valid() -> None:
    assert {v.name for v in analyst_views()} == SHIPPED
    assert all((VIEWS_DIR / f"{name}.json").is_file() for name in SHIPPED)


def test_claim_lines_and_adjudications_are_staged_with_exact_money_and_typed_dates(converted: Path) -> None:
    items = _rows(converted, "claim_item")
    first = next(r for r in items if r["product_code"] == "A0428")
    assert first["net"] == Decimal("300.00") and first["serviced"] == "2024-01-02"
    assert first["serviced_date"].isoformat() == "2024-01-02" and first["sequence"] == 1
    schema = pq.read_schema(next((converted / "parquet" / "claim_item").glob("*.parquet")))
    assert schema.field("net").type == pa.decimal128(20, 2) and schema.field("serviced_date").type == pa.date32()
    assert schema.metadata[b"fhirflow.view"] == b"claim_item" and schema.metadata[b"fhirflow.run"]
    assert not any(pa.types.is_floating(f.type) for f in schema)
    adj = _rows(converted, "eob_item_adjudication")
    co45 = [r for r in adj if r["group_code"] == "CO" and r["reason_carc"] == "45"]
    assert co45 and all(isinstance(r["amount"], Decimal) for r in co45)
    assert any(r["item_sequence"] is None for r in adj)  # the claim's own adjudications (CAS on CLP)
    totals = {r["category"]: r["amount"] for r in _rows(converted, "eob_total") if r["patient_control_number"] == "AMB1"}
    assert totals["submitted"] == Decimal("350.00") and totals["benefit"] == Decimal("80.00")
    assert {r["prior_payer_paid"] for r in _rows(converted, "claim_insurance")} >= {Decimal("200.00")}
    assert _rows(converted, "coverage_class") and _rows(converted, "patient_identifier")
    assert _rows(converted, "claim_diagnosis")[0]["code"]
    manifest = json.loads((converted / "manifest.json").read_text())
    tables = {t["table"] for t in manifest["extension"]["https://fhirflow.dev/tables"]}
    assert {"claim_item", "eob_total", "payment_reconciliation_detail"} <= tables


def test_per_type_money_is_decimal_too(converted: Path) -> None:
    schema = pq.read_schema(next((converted / "parquet" / "Claim").glob("*.parquet")))
    assert schema.field("total_value").type == pa.decimal128(20, 2)
    assert schema.field("created_date").type == pa.date32()


def test_observation_components_one_row_each() -> None:
    view = next(v for v in analyst_views() if v.name == "observation_component")
    bp = {"resourceType": "Observation", "id": "bp1", "subject": {"reference": "Patient/p1"},
          "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}, "effectiveDateTime": "2024-03-01T10:00:00Z",
          "component": [
              {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
              {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 80.5, "unit": "mm[Hg]"}}]}
    rows = view.rows(bp)
    assert [(r["component_code"], r["value_quantity"], r["component_index"]) for r in rows] == [
        ("8480-6", 120, 0), ("8462-4", 80.5, 1)]
    arrays = Converter(view, typed_dates=True).arrays(rows)
    by_name = dict(zip(Converter(view, typed_dates=True).schema.names, arrays))
    assert by_name["value_quantity"].to_pylist() == [Decimal("120"), Decimal("80.5")]
    assert by_name["effective_date"].to_pylist()[0].isoformat() == "2024-03-01"


def test_user_views_are_staged_beside_the_shipped_ones(tmp_path: Path) -> None:
    mine = tmp_path / "views"
    mine.mkdir()
    (mine / "my_claims.json").write_text(json.dumps({
        "resourceType": "ViewDefinition", "name": "my_claims", "resource": "Claim",
        "select": [{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "use", "path": "use", "type": "code"}]}]}))
    out = tmp_path / "out"
    assert cli.main(["convert", str(SAMPLES[0]), "-o", str(out), "--no-state", "-q", "--views", str(mine)]) == 0
    assert {r["use"] for r in _rows(out, "my_claims")} == {"claim"}
    assert _rows(out, "claim_item")


def test_a_bad_user_view_stops_the_run_before_it_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "views"
    mine.mkdir()
    (mine / "broken.json").write_text(json.dumps({
        "resourceType": "ViewDefinition", "name": "broken", "resource": "Claim",
        "select": [{"column": [{"name": "id", "path": "getResourceKey("}]}]}))
    out = tmp_path / "out"
    assert cli.main(["convert", str(SAMPLES[0]), "-o", str(out), "--no-state", "-q", "--views", str(mine)]) == 2
    assert "'broken'" in capsys.readouterr().err
    assert not out.exists()  # nothing converted, nothing written


def test_an_x12_amount_beyond_cents_rejects_its_claim_and_the_tables_hold_the_others(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """DE 782 is dollars and cents (TR3 B.1.1.3.1.2): the claim with 100.125 is rejected with an error
    record (exit 3); the claim beside it is staged in claim_item with its exact DECIMAL(20,2) amount."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources" / "x12"))
    from x12_build import claim_837, file_837, subscriber_837

    src = tmp_path / "in.x12"
    src.write_bytes(file_837(subscriber_837("M1", [claim_837("PCN1", "100.125", ("100.125",)),
                                                   claim_837("PCN2", "50.5", ("50.5",))])))
    out = tmp_path / "out"
    with caplog.at_level("WARNING"):
        assert cli.main(["convert", str(src), "-o", str(out), "--no-state", "-q"]) == 3
    nets = {r["patient_control_number"]: r["net"] for r in _rows(out, "claim_item")}
    assert nets == {"PCN2": Decimal("50.50")}
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "100.125" not in said
