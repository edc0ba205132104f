"""A view's rows as a table: Arrow types, exact money, typed dates, and the Parquet/NDJSON/CSV writers.

Types (SQL-on-FHIR v2 "Column Types"; the physical type is the implementation's):

- ``boolean`` → bool; ``integer``, ``integer64``, ``positiveInt``, ``unsignedInt`` → int64.
- ``decimal`` → ``decimal128``, never float64: a column's precision and scale come from its
  ``ansi/type`` tag (``DECIMAL(20,2)``, what the shipped money columns carry: 18 digits, X12 R's most: X12 amounts have at most
  2 decimals), else ``DECIMAL(38,9)``. A value with more decimals than its column's scale is an error
  naming the view and column (set the tag), never rounded. JSON numbers keep their own digits: a
  float is taken through its shortest text (what fhirflow's NDJSON writes), and a value of 16 or more
  significant digits, which a float may not hold, makes the runner read that resource again with
  exact decimals (:data:`IMPRECISE`).
- dates, times, codes, strings → string, as written (a FHIR date keeps its precision: ``2024``,
  ``2024-05``). With ``typed_dates``, each ``date``/``dateTime``/``instant`` column ``x`` also gets
  ``x_date`` (Arrow date32), set where the value holds a full date (a dateTime's own local date).
- anything else (a complex type: ``Quantity``, ``Reference``) → its JSON text; ``collection: true``
  → a list of the above.

Parquet files carry key-value metadata: ``fhirflow.view``, ``fhirflow.view_hash`` (of the
definition), ``fhirflow.version`` and ``fhirflow.run``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from etl import __version__
from etl.errors import StageError
from etl.stage.views import Column, View

DEFAULT_DECIMAL = (38, 9)
_ANSI_DECIMAL = re.compile(r"^\s*(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$", re.I)
_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_INTS = frozenset({"integer", "integer64", "positiveInt", "unsignedInt"})
_DATES = frozenset({"date", "dateTime", "instant"})
FORMATS = ("parquet", "ndjson", "csv")


class Imprecise(Exception):
    """A float in a decimal column may not be its source's digits: read the resource exactly."""


def decimal_type(col: Column) -> pa.Decimal128Type:
    """``decimal128(p, s)`` of a decimal column (its ``ansi/type`` tag, else :data:`DEFAULT_DECIMAL`)."""
    tag = col.tags.get("ansi/type", "")
    m = _ANSI_DECIMAL.match(tag)
    p, s = (int(m[1]), int(m[2])) if m else DEFAULT_DECIMAL
    return pa.decimal128(min(max(p, 1), 38), min(s, p))


def _arrow_type(col: Column) -> pa.DataType:
    if col.type == "boolean":
        t: pa.DataType = pa.bool_()
    elif col.type in _INTS:
        t = pa.int64()
    elif col.type == "decimal":
        t = decimal_type(col)
    else:
        t = pa.string()
    return pa.list_(t) if col.collection else t


def has_typed_date(col: Column) -> bool:
    return col.type in _DATES and not col.collection


# The lineage columns of a staged analyst table: the resource a row comes from and its place among
# that resource's rows (what the current-state tables merge on: etl.stage.lake).
LINEAGE = (pa.field("_resource_id", pa.string()), pa.field("_row", pa.int32()))


def arrow_schema(view: View, typed_dates: bool = False, lineage: bool = False) -> pa.Schema:
    """The Arrow schema of a view's table (with the ``*_date`` columns when ``typed_dates``, and
    ``_resource_id`` / ``_row`` when ``lineage``)."""
    fields = list(LINEAGE) if lineage else []
    for col in view.columns:
        fields.append(pa.field(col.name, _arrow_type(col)))
        if typed_dates and has_typed_date(col):
            fields.append(pa.field(f"{col.name}_date", pa.date32()))
    names = [f.name for f in fields]
    if len(names) != len(set(names)):
        dup = next(n for n in names if names.count(n) > 1)
        raise StageError(f"ViewDefinition {view.name!r}: column {dup!r} collides with a typed date column (x_date)")
    return pa.schema(fields)


def exact(value: Any) -> Decimal:
    """A JSON number as a Decimal of its own digits; :class:`Imprecise` when a float cannot promise that."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        text = repr(value)
        if len(text.lstrip("-").replace(".", "").lstrip("0").split("e")[0]) >= 16:
            raise Imprecise(text)
        return Decimal(text)
    if isinstance(value, str):  # a decimal held as text (a constant, an extension's valueString)
        try:
            return Decimal(value)
        except InvalidOperation:
            raise TypeError("not a number") from None
    raise TypeError(f"a {type(value).__name__} is not a decimal")


def full_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    m = _FULL_DATE.match(value)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _json_text(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=str).decode()
    return value


class Converter:
    """Turns rows of a view into Arrow arrays column by column, checking each value against its type."""

    def __init__(self, view: View, typed_dates: bool, lineage: bool = False) -> None:
        self.view = view
        self.schema = arrow_schema(view, typed_dates, lineage)
        self.typed_dates = typed_dates
        self.lineage = lineage
        self.decimal_cols = [c.name for c in view.columns if c.type == "decimal"]

    def check_exact(self, rows: list[dict[str, Any]]) -> None:
        """Raise :class:`Imprecise` when a decimal value of these rows needs the exact reading."""
        for r in rows:
            for name in self.decimal_cols:
                v = r.get(name)
                if isinstance(v, float):
                    exact(v)
                elif isinstance(v, list):
                    for x in v:
                        if isinstance(x, float):
                            exact(x)

    def arrays(self, rows: list[dict[str, Any]]) -> list[pa.Array]:
        out: list[pa.Array] = []
        if self.lineage:
            out.append(pa.array([r["_resource_id"] for r in rows], type=pa.string()))
            out.append(pa.array([r["_row"] for r in rows], type=pa.int32()))
        for col in self.view.columns:
            values = [r.get(col.name) for r in rows]
            out.append(self._array(col, values))
            if self.typed_dates and has_typed_date(col):
                out.append(pa.array([full_date(v) for v in values], type=pa.date32()))
        return out

    def _array(self, col: Column, values: list[Any]) -> pa.Array:
        t = _arrow_type(col)
        scalar = t.value_type if col.collection else t
        if not col.collection and _plain_kind(scalar, values):
            return pa.array(values, type=t)  # already of the column's type: no per-value checks
        try:
            if col.collection:
                values = [None if v is None else [self._value(col, scalar, x) for x in v] for v in values]
            else:
                values = [self._value(col, scalar, v) for v in values]
            return pa.array(values, type=t)
        except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            # The message names the view, the column and the kind of problem, never the value.
            raise StageError(f"ViewDefinition {self.view.name!r}, column {col.name!r} ({col.type}): "
                             f"a value does not fit ({type(exc).__name__}: {_reason(exc)})") from None

    def _value(self, col: Column, t: pa.DataType, v: Any) -> Any:
        if v is None:
            return None
        if pa.types.is_decimal(t):
            d = exact(v)
            scale = t.scale
            exp = d.as_tuple().exponent
            if isinstance(exp, int) and -exp > scale and d != d.quantize(Decimal(1).scaleb(-scale)):
                raise ValueError(f"more than {scale} decimals; give the column an ansi/type tag DECIMAL(p,s)")
            return d
        if pa.types.is_boolean(t):
            if not isinstance(v, bool):
                raise TypeError(f"a {type(v).__name__} in a boolean column")
            return v
        if pa.types.is_integer(t):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"a {type(v).__name__} in an integer column")
            return v
        if isinstance(v, (dict, list)):
            return orjson.dumps(v, default=str).decode()
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)


def _plain_kind(t: pa.DataType, values: list[Any]) -> bool:
    """Every value is None or already the Python type Arrow takes for ``t`` as it is."""
    if pa.types.is_string(t):
        want: type = str
    elif pa.types.is_integer(t):
        want = int
    elif pa.types.is_boolean(t):
        want = bool
    else:
        return False
    return all(v is None or type(v) is want for v in values)


def _reason(exc: BaseException) -> str:
    # Arrow's messages may quote the value; ours never do.
    return str(exc) if isinstance(exc, (TypeError, ValueError)) and not isinstance(exc, pa.ArrowException) else "wrong type"


def parquet_metadata(view: View, run: str) -> dict[bytes, bytes]:
    return {b"fhirflow.view": view.name.encode(), b"fhirflow.view_hash": view.hash.encode(),
            b"fhirflow.resource": str(view.resource).encode(),
            b"fhirflow.version": __version__.encode(), b"fhirflow.run": run.encode()}


class TableWriter:
    """Writes one view's rows to ``dst`` (``.parquet``, ``.ndjson`` or ``.csv``) through a temporary
    file, renamed into place by :meth:`close`; :meth:`abort` leaves nothing behind."""

    CHUNK = 5000

    def __init__(self, view: View, dst: Path, fmt: str, run: str, typed_dates: bool = False,
                 file_mode: int = 0o640, lineage: bool = False) -> None:
        self.view, self.dst, self.fmt = view, dst, fmt
        self.conv = Converter(view, typed_dates, lineage)
        self.tmp = dst.with_name(f".{dst.name}.tmp")
        self.rows = 0
        self.file_mode = file_mode
        self._pending: list[dict[str, Any]] = []
        dst.parent.mkdir(parents=True, exist_ok=True)
        self._pq: pq.ParquetWriter | None = None
        self._fh: io.BufferedWriter | None = None
        self._csv: Any = None
        self._text: io.TextIOWrapper | None = None
        if fmt == "parquet":
            schema = self.conv.schema.with_metadata(parquet_metadata(view, run))
            self._pq = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        elif fmt == "ndjson":
            self._fh = open(self.tmp, "wb")  # noqa: SIM115 - closed by close()/abort()
        elif fmt == "csv":
            self._text = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._text)
            self._csv.writerow([f.name for f in self.conv.schema])
        else:
            raise StageError(f"unknown table format {fmt!r} (one of {', '.join(FORMATS)})")

    def add(self, rows: list[dict[str, Any]]) -> None:
        self._pending += rows
        if len(self._pending) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        rows, self._pending = self._pending, []
        if not rows:
            return
        arrays = self.conv.arrays(rows)  # type checks for every format
        self.rows += len(rows)
        if self._pq is not None:
            self._pq.write_table(pa.Table.from_arrays(arrays, schema=self._pq.schema))
            return
        names = [f.name for f in self.conv.schema]
        if self._fh is not None:
            cols = [_plain(a, keep_nested=True) for a in arrays]
            for i in range(len(rows)):
                rec = {n: _cell(rows[i], n, c[i]) for n, c in zip(names, cols)}
                self._fh.write(orjson.dumps(rec, default=_exact_json) + b"\n")
        elif self._csv is not None:
            cols = [_plain(a, keep_nested=False) for a in arrays]
            for i in range(len(rows)):
                self._csv.writerow([_csv_cell(rows[i], n, c[i]) for n, c in zip(names, cols)])

    def close(self) -> int:
        self._flush()
        if self._pq is not None:
            self._pq.close()
        for fh in (self._fh, self._text):
            if fh is not None:
                fh.close()
        os.chmod(self.tmp, self.file_mode)
        os.replace(self.tmp, self.dst)
        return self.rows

    def abort(self) -> None:
        for closer in (self._pq, self._fh, self._text):
            if closer is not None:
                try:
                    closer.close()
                except Exception:  # noqa: BLE001,S110 - already failing; the file goes anyway
                    pass
        self.tmp.unlink(missing_ok=True)


def _plain(arr: pa.Array, keep_nested: bool) -> list[Any]:
    values: list[Any] = arr.to_pylist()
    if pa.types.is_date32(arr.type):
        return [None if v is None else v.isoformat() for v in values]
    if not keep_nested and pa.types.is_list(arr.type):
        return [None if v is None else orjson.dumps(v, default=_exact_json).decode() for v in values]
    return values


def _cell(row: dict[str, Any], name: str, converted: Any) -> Any:
    """NDJSON keeps a complex value as JSON (not its text) and a decimal as its own digits."""
    raw = row.get(name)
    if isinstance(raw, dict) or (isinstance(raw, list) and any(isinstance(x, dict) for x in raw)):
        return raw
    if isinstance(converted, Decimal):
        return orjson.Fragment(_decimal_text(exact(raw)).encode())
    return converted


def _csv_cell(row: dict[str, Any], name: str, converted: Any) -> Any:
    """CSV: empty for null, true/false, a decimal's own digits, JSON text for lists and objects."""
    if converted is None:
        return ""
    if isinstance(converted, bool):
        return "true" if converted else "false"
    if isinstance(converted, Decimal):
        return _decimal_text(exact(row.get(name)))
    return converted


def _decimal_text(d: Decimal) -> str:
    text = format(d, "f")
    return text


def _exact_json(v: Any) -> Any:
    if isinstance(v, Decimal):
        return orjson.Fragment(_decimal_text(v).encode())
    raise TypeError(type(v).__name__)


def view_rows(view: View, conv: Converter, res: dict[str, Any], line: bytes) -> list[dict[str, Any]]:
    """The view's rows of one resource; read again with exact decimals when a float may have lost digits."""
    rows = view.rows(res)
    if conv.decimal_cols:
        try:
            conv.check_exact(rows)
        except Imprecise:
            rows = view.rows(json.loads(line, parse_float=Decimal))
    return rows
