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

from etl.stage.view_table import Converter, parquet_metadata, view_rows
from etl.stage.views import View


def table_schema(view: View | None) -> pa.Schema:
    """Arrow schema of a staged table for a resource type with (or without) a view: ``id``, the
    view's columns (money as decimal128, a ``*_date`` beside each date), ``resource``."""
    fields = [pa.field("id", pa.string())]
    if view is not None:
        fields += [f for f in Converter(view, typed_dates=True).schema if f.name not in ("id", "resource")]
    fields.append(pa.field("resource", pa.string()))
    return pa.schema(fields)


# Rows are turned into Arrow arrays this many at a time, so that Python holds only a small slice of a
# row group (the ``resource`` JSON of 10,000 claims alone is ~40 MB as Python strings).
_CHUNK = 1000
# A row group also ends at this much resource JSON: 10,000 claims would be ~40 MB, and the writer
# holds a row group's data two or three times over while encoding and compressing it.
_GROUP_BYTES = 8 * 1024 * 1024


def ndjson_to_parquet(src: Path, dst: Path, view: View | None, row_group: int, run: str = "") -> int:
    """Write ``dst`` from the NDJSON file ``src``, ``row_group`` rows at a time; returns rows.

    Memory: Python objects for at most :data:`_CHUNK` rows, plus the Arrow data of one row group.
    """
    schema = table_schema(view)
    if view is not None:
        schema = schema.with_metadata(parquet_metadata(view, run))
    conv = Converter(view, typed_dates=True, strict=False) if view is not None else None
    view_names = [f.name for f in conv.schema] if conv is not None else []
    keep = [i for i, n in enumerate(view_names) if n not in ("id", "resource")]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    n = 0
    # No dictionary for the resource JSON: every value is distinct, so a dictionary only costs
    # memory (and pages that fall back to plain anyway).
    dictionary = [f.name for f in schema if f.name != "resource"]
    with open(src, "rb") as fh, pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=dictionary) as writer:
        ids: list[Any] = []
        lines: list[bytes] = []
        rows: list[dict[str, Any]] = []  # the view's (first) row of each resource of the current chunk
        chunks: list[list[pa.Array]] = [[] for _ in schema]  # Arrow chunks of the current row group
        pending = 0  # rows in the current row group (chunks + the current chunk)
        size = 0  # bytes of resource JSON in it

        def flush_chunk() -> None:
            arrays = [pa.array(ids, type=pa.string())]
            if conv is not None:
                view_arrays = conv.arrays(rows)
                arrays += [view_arrays[i] for i in keep]
            arrays.append(pa.array(lines, type=pa.string()))
            for i, a in enumerate(arrays):
                chunks[i].append(a)
            ids.clear()
            lines.clear()
            rows.clear()

        def write_group() -> None:
            flush_chunk()
            # Chunked, not combined: one row group either way, without a second copy of its data.
            arrays = [pa.chunked_array(c, type=f.type) for c, f in zip(chunks, schema)]
            for c in chunks:
                c.clear()
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=max(pending, 1))

        for line in fh:
            resource = orjson.loads(line)
            ids.append(resource.get("id"))
            lines.append(line.rstrip(b"\n"))  # valid UTF-8: orjson just parsed it
            if conv is not None and view is not None:
                found = view_rows(view, conv, resource, line)
                rows.append(found[0] if found else {})
            pending += 1
            size += len(line)
            if pending >= row_group or size >= _GROUP_BYTES:
                write_group()
                n += pending
                pending = size = 0
            elif len(ids) >= _CHUNK:
                flush_chunk()
        if pending or n == 0:
            write_group()
            n += pending
    os.replace(tmp, dst)
    if conv is not None and view is not None:
        from etl.stage.tables import warn_unfit

        warn_unfit(dst.parent.name, conv.unfit)
    return n
