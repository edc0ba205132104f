"""Parquet staging: ``parquet/<ResourceType>/part-NNN.parquet``, one per NDJSON part.

Columns: ``id``, the flat columns of the type's ViewDefinition (``schemas/views``), and
``resource`` — the full resource as JSON text. The schema is fixed per resource type (it comes from
the view, not from the batch), so every part of every run has the same columns and
``read_parquet('parquet/Patient/*.parquet')`` just works in DuckDB, Spark and pandas.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from etl.stage.views import View


def table_schema(view: View | None) -> pa.Schema:
    """Arrow schema of a staged table for a resource type with (or without) a view."""
    fields = [pa.field("id", pa.string())]
    if view is not None:
        fields += [f for f in view.arrow_schema() if f.name not in ("id", "resource")]
    fields.append(pa.field("resource", pa.string()))
    return pa.schema(fields)


def ndjson_to_parquet(src: Path, dst: Path, view: View | None, row_group: int) -> int:
    """Write ``dst`` from the NDJSON file ``src``, ``row_group`` rows at a time; returns rows."""
    schema = table_schema(view)
    names = [f.name for f in schema]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    n = 0
    with open(src, "rb") as fh, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for line in fh:
            resource = orjson.loads(line)
            row: dict[str, Any] = {"id": resource.get("id"), "resource": line.rstrip(b"\n").decode()}
            if view is not None:
                rows = view.rows(resource)
                if rows:
                    row.update({k: v for k, v in rows[0].items() if k in names and k != "resource"})
                    row["id"] = resource.get("id")
            batch.append(row)
            if len(batch) >= row_group:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
                batch = []
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    os.replace(tmp, dst)
    return n
