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


# Rows are turned into Arrow arrays this many at a time, so that Python holds only a small slice of a
# row group (the ``resource`` JSON of 10,000 claims alone is ~40 MB as Python strings).
_CHUNK = 1000
# A row group also ends at this much resource JSON: 10,000 claims would be ~40 MB, and the writer
# holds a row group's data two or three times over while encoding and compressing it.
_GROUP_BYTES = 8 * 1024 * 1024


def ndjson_to_parquet(src: Path, dst: Path, view: View | None, row_group: int) -> int:
    """Write ``dst`` from the NDJSON file ``src``, ``row_group`` rows at a time; returns rows.

    Memory: Python objects for at most :data:`_CHUNK` rows, plus the Arrow data of one row group.
    """
    schema = table_schema(view)
    names = [f.name for f in schema]
    types = [f.type for f in schema]
    view_cols = [(i, name) for i, name in enumerate(names) if name not in ("id", "resource")] if view else []
    id_col, res_col = names.index("id"), names.index("resource")
    float_cols = {i for i, t in enumerate(types) if pa.types.is_floating(t)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    n = 0
    # No dictionary for the resource JSON: every value is distinct, so a dictionary only costs
    # memory (and pages that fall back to plain anyway).
    dictionary = [name for name in names if name != "resource"]
    with open(src, "rb") as fh, pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=dictionary) as writer:
        cols: list[list[Any]] = [[] for _ in names]  # the rows of the current chunk, column-wise
        chunks: list[list[pa.Array]] = [[] for _ in names]  # Arrow chunks of the current row group
        pending = 0  # rows in the current row group (chunks + cols)
        size = 0  # bytes of resource JSON in it

        def flush_chunk() -> None:
            for i, col in enumerate(cols):
                if i in float_cols:
                    # a whole number beyond 2^53 (an 18-digit amount) in a double column: Arrow refuses
                    # the rounding, the view is for analytics and the ``resource`` JSON keeps every digit
                    col = [float(v) if type(v) is int else v for v in col]
                chunks[i].append(pa.array(col, type=types[i]))
                cols[i] = []

        def write_group() -> None:
            flush_chunk()
            # Chunked, not combined: one row group either way, without a second copy of its data.
            arrays = [pa.chunked_array(c, type=t) for c, t in zip(chunks, types)]
            for c in chunks:
                c.clear()
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=max(pending, 1))

        for line in fh:
            resource = orjson.loads(line)
            rid = resource.get("id")
            cols[id_col].append(rid)
            cols[res_col].append(line.rstrip(b"\n"))  # valid UTF-8: orjson just parsed it
            if view is not None and view_cols:
                rows = view.rows(resource)
                first = rows[0] if rows else {}
                for i, name in view_cols:
                    cols[i].append(first.get(name))
            pending += 1
            size += len(line)
            if pending >= row_group or size >= _GROUP_BYTES:
                write_group()
                n += pending
                pending = size = 0
            elif len(cols[id_col]) >= _CHUNK:
                flush_chunk()
        if pending or n == 0:
            write_group()
            n += pending
    os.replace(tmp, dst)
    return n
