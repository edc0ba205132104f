"""Run SQL-on-FHIR v2 ViewDefinitions over resources: the flat columns of the Parquet tables.

The views live in ``schemas/views/<ResourceType>.json`` (declarative, reviewed like code). Each
Parquet table gets the view's columns plus ``resource`` (the whole resource as JSON), so analysts
query flat columns and can still reach anything else with DuckDB's JSON functions.

Spec: https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/StructureDefinition-ViewDefinition.html
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

import etl
from etl.errors import ConfigError
from etl.fhir.fhirpath import Expr, compile_path

# An installed package carries a copy in etl/schemas/views (setup.py); the source tree has schemas/
# beside etl/. From the (never compiled) package's path: a compiled module has no reliable __file__.
_PACKAGE = Path(etl.__file__).resolve().parent
_INSTALLED = _PACKAGE / "schemas" / "views"
VIEWS_DIR = _INSTALLED if _INSTALLED.is_dir() else _PACKAGE.parent / "schemas" / "views"

# FHIR primitive -> Arrow type. Dates stay strings: FHIR dates carry their precision ("2024",
# "2024-05") and a timestamp column would invent days and months.
ARROW_TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "integer": pa.int64(),
    "unsignedInt": pa.int64(),
    "positiveInt": pa.int64(),
    "integer64": pa.int64(),
    "decimal": pa.float64(),
}


@dataclass
class _Column:
    name: str
    expr: Expr
    type: str
    collection: bool


@dataclass
class _Select:
    columns: list[_Column]
    selects: list[_Select]
    for_each: Expr | None
    or_null: bool
    union: list[_Select]


def _compile_select(node: dict[str, Any], consts: set[str]) -> _Select:
    fe = node.get("forEach") or node.get("forEachOrNull")
    if fe is not None and not isinstance(fe, str):
        raise ConfigError(f"forEach must be a FHIRPath string, not {fe!r}")
    union = node.get("unionAll", [])
    if union:
        shapes = {tuple(c[0] for c in _column_defs([u])) for u in union}
        if len(shapes) > 1:
            raise ConfigError("every unionAll branch must have the same columns in the same order")
    return _Select(
        columns=[
            _Column(c["name"], compile_path(c["path"], consts), c.get("type", "string"), bool(c.get("collection")))
            for c in node.get("column", [])
        ],
        selects=[_compile_select(s, consts) for s in node.get("select", [])],
        for_each=compile_path(fe, consts) if fe else None,
        or_null="forEachOrNull" in node,
        union=[_compile_select(s, consts) for s in union],
    )


class View:
    """A compiled ViewDefinition."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.definition = definition
        self.resource = definition.get("resource")
        if not self.resource:
            raise ConfigError(f"ViewDefinition {definition.get('name')!r} has no 'resource'")
        self.constants: dict[str, list[Any]] = {}
        for c in definition.get("constant", []):
            values = [v for k, v in c.items() if k.startswith("value")]
            if len(values) != 1:
                raise ConfigError(f"constant {c.get('name')!r} needs exactly one value[x]")
            self.constants[c["name"]] = values
        consts = set(self.constants)
        self.where = [compile_path(w["path"], consts) for w in definition.get("where", [])]
        self.select = _compile_select({"select": definition.get("select", [])}, consts)
        self.columns = _column_defs(definition.get("select", []))
        names = [c[0] for c in self.columns]
        if len(names) != len(set(names)):
            raise ConfigError(f"ViewDefinition {definition.get('name')!r} repeats a column name")

    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of the view's columns (collections become lists)."""
        fields = []
        for name, ftype, coll in self.columns:
            t = ARROW_TYPES.get(ftype, pa.string())
            fields.append(pa.field(name, pa.list_(t) if coll else t))
        return pa.schema(fields)

    def rows(self, resource: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows one resource contributes (several when the view uses forEach)."""
        if resource.get("resourceType") != self.resource:
            return []
        env = self.constants
        for w in self.where:
            res = w([resource], env)
            if res and not isinstance(res[0], bool):
                raise ConfigError("a ViewDefinition 'where' path must give a boolean")
            if not (res and res[0] is True):
                return []
        return list(_eval(self.select, resource, env))


def _column_defs(selects: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    for s in selects:
        out += [(c["name"], c.get("type", "string"), bool(c.get("collection"))) for c in s.get("column", [])]
        out += _column_defs(s.get("select", []))
        if s.get("unionAll"):
            out += _column_defs(s["unionAll"][:1])
    return out


def _eval(sel: _Select, node: Any, env: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if sel.for_each is not None:
        items = sel.for_each([node], env)
        if not items:
            if sel.or_null:
                yield from _combine(sel, None, env)
            return
        for item in items:
            yield from _combine(sel, item, env)
    else:
        yield from _combine(sel, node, env)


def _combine(sel: _Select, node: Any, env: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base: dict[str, Any] = {}
    for col in sel.columns:
        vals = col.expr([node], env) if node is not None else []
        if col.collection:
            base[col.name] = vals
        elif len(vals) > 1:
            raise ConfigError(f"column {col.name!r} returned {len(vals)} values; add first() or collection")
        else:
            base[col.name] = vals[0] if vals else None
    if not sel.selects and not sel.union:  # a flat select: one row, the columns themselves
        yield base
        return
    parts: list[list[dict[str, Any]]] = []
    for child in sel.selects:
        parts.append(list(_eval(child, node, env)) if node is not None else list(_nulls(child)))
    if sel.union:
        u: list[dict[str, Any]] = []
        for child in sel.union:
            u += list(_eval(child, node, env)) if node is not None else []
        parts.append(u)
    for combo in itertools.product(*parts):
        row = dict(base)
        for p in combo:
            row.update(p)
        yield row


def _nulls(sel: _Select) -> Iterator[dict[str, Any]]:
    row = {c.name: None for c in sel.columns}
    for child in sel.selects:
        for r in _nulls(child):
            row.update(r)
    yield row


def load_views(folder: Path = VIEWS_DIR) -> dict[str, View]:
    """The staging view of each resource type, keyed by resource type."""
    if not folder.is_dir():
        # Without them every Parquet table would silently lose its flat columns.
        raise ConfigError(f"the SQL-on-FHIR views are not at {folder}: install fhirflow from a wheel or run it "
                          "from its source tree (schemas/ beside etl/), or convert with --no-parquet")
    views: dict[str, View] = {}
    for path in sorted(folder.glob("*.json")):
        view = View(json.loads(path.read_text()))
        assert view.resource is not None
        views[view.resource] = view
    return views
