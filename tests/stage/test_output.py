"""The output folder is a transaction: complete or untouched, and the same on a re-run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from etl.config import JobConfig
from etl.pipeline import convert
from etl.stage.manifest import read_manifest

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2"


def _digest(folder: Path) -> dict[str, str]:
    """The NDJSON as readers find it: through the output folder's own paths (``OUT/fhir/...``)."""
    return {f"{part}/{p.relative_to(folder / part)}": hashlib.sha256(p.read_bytes()).hexdigest()
            for part in ("fhir", "errors", "warnings") if (folder / part).is_dir()
            for p in sorted((folder / part).rglob("*.ndjson"))}


def test_same_input_twice_gives_identical_ndjson(tmp_path: Path, config: JobConfig) -> None:
    inputs = [HL7 / "fhir-converter", HL7 / "python-hl7"]
    convert(inputs, tmp_path / "a", config)
    convert(inputs, tmp_path / "b", config)
    convert(inputs, tmp_path / "a", config)  # re-run into the same folder
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")


def test_manifest_lists_every_file_with_counts(tmp_path: Path, config: JobConfig) -> None:
    summary = convert([HL7 / "python-hl7"], tmp_path, config)
    m = read_manifest(tmp_path)
    assert m["transactionTime"] == "2026-01-01T00:00:00+00:00"
    assert {o["type"] for o in m["output"]} == set(summary.resources)
    for o in m["output"] + m["error"]:
        lines = (tmp_path / o["url"]).read_bytes().count(b"\n")
        assert lines == o["count"]
    assert sum(e["count"] for e in m["error"]) == summary.rejected
    assert m["extension"]["https://fhirflow.dev/summary"]["attempted"] == summary.attempted


def test_parquet_tables_have_fixed_schema_and_query_in_duckdb(tmp_path: Path, config: JobConfig) -> None:
    convert([HL7 / "fhir-converter"], tmp_path, config)
    rows = duckdb.sql(
        f"select gender, count(*) from read_parquet('{tmp_path}/parquet/Patient/*.parquet') group by 1 order by 1"
    ).fetchall()
    assert sum(n for _, n in rows) == read_manifest(tmp_path)["extension"]["https://fhirflow.dev/summary"]["resources"]["Patient"]
    obs = duckdb.sql(
        f"select code, value_quantity, patient_id, json_extract_string(resource, '$.status') as status "
        f"from read_parquet('{tmp_path}/parquet/Observation/*.parquet') where value_quantity is not null"
    ).fetchall()
    assert obs and all(status for *_, status in obs)
