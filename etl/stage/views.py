"""Run SQL-on-FHIR v2 ViewDefinitions over resources: the rows of every analyst table.

A :class:`View` is a compiled ViewDefinition: :meth:`View.rows` gives the rows one resource
contributes, following the spec's processing algorithm (``forEach``, ``forEachOrNull``,
``repeat``, ``unionAll``, nested ``select``s cross-joined, ``%rowIndex``, constants, ``where``).
A definition that breaks the spec (an element it does not define, FHIRPath outside
:mod:`etl.fhir.fhirpath`, a column ``type`` that is no FHIR type or contradicts its path, a
repeated or inconsistent column) is a :class:`ConfigError` at compile time naming the view and the
element, never a surprise while rows are produced.

The shipped views live in ``schemas/views/``: ``<ResourceType>.json`` are the one-row-per-resource
columns of each staged type (:func:`load_views`), the others (``claim_item.json``, ...) the
analyst tables (:func:`load_view_files`). Arrow types, typed date columns and writing are in
:mod:`etl.stage.view_table`.

Spec: https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/StructureDefinition-ViewDefinition.html
("Processing Algorithm", "Environment Variables", "Recursive Traversal with Repeat").
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import etl
from etl.errors import ConfigError
from etl.fhir.fhirpath import Expr, compile_path

# An installed package carries a copy in etl/schemas/views (setup.py); the source tree has schemas/
# beside etl/. From the (never compiled) package's path: a compiled module has no reliable __file__.
_PACKAGE = Path(etl.__file__).resolve().parent
_INSTALLED = _PACKAGE / "schemas" / "views"
VIEWS_DIR = _INSTALLED if _INSTALLED.is_dir() else _PACKAGE.parent / "schemas" / "views"

# The elements of ViewDefinition (a CanonicalResource; input/fsh/models.fsh of the spec) and of its parts.
_VIEW_KEYS = frozenset({
    "resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension",
    "modifierExtension", "url", "identifier", "version", "versionAlgorithmString", "versionAlgorithmCoding",
    "name", "title", "status", "experimental", "date", "publisher", "contact", "description", "useContext",
    "jurisdiction", "purpose", "copyright", "copyrightLabel", "resource", "profile", "fhirVersion",
    "constant", "select", "where",
})
_SELECT_KEYS = frozenset({"id", "extension", "column", "select", "forEach", "forEachOrNull", "repeat", "unionAll"})
_COLUMN_KEYS = frozenset({"id", "extension", "name", "path", "description", "collection", "type", "tag"})
_WHERE_KEYS = frozenset({"id", "extension", "path", "description"})
_CONSTANT_TYPES = ("Base64Binary", "Boolean", "Canonical", "Code", "Date", "DateTime", "Decimal", "Id", "Instant",
                   "Integer", "Integer64", "Oid", "String", "PositiveInt", "Time", "UnsignedInt", "Uri", "Url", "Uuid")
_SQL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# FHIR R4/R5 primitive types, and the families whose members a declared type may stand for.
PRIMITIVES = frozenset({
    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer",
    "integer64", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "xhtml",
})
_FAMILY = {t: "string" for t in ("base64Binary", "canonical", "code", "id", "markdown", "oid", "string", "uri",
                                 "url", "uuid", "xhtml")}
_FAMILY.update({t: "integer" for t in ("integer", "integer64", "positiveInt", "unsignedInt")})
_FAMILY.update({"boolean": "boolean", "decimal": "decimal", "date": "date", "dateTime": "date", "instant": "date",
                "time": "time"})
# What a path's last step says about its FHIR type (spec "Column Types", rule 3).
_RETURNS = {"exists": "boolean", "empty": "boolean", "not": "boolean", "count": "integer", "join": "string",
            "getResourceKey": "id", "getReferenceKey": "id"}


@dataclass
class Column:
    """One output column: its FHIRPath, FHIR type, and the tags given (``ansi/type`` and so on)."""

    name: str
    path: str
    expr: Expr
    type: str
    collection: bool
    tags: dict[str, str]


@dataclass
class _Select:
    columns: list[Column]
    selects: list[_Select]
    for_each: Expr | None
    or_null: bool
    repeat: list[Expr]
    union: list[_Select]
    names: list[str]  # every column this structure contributes (its null row under forEachOrNull)


class View:
    """A compiled ViewDefinition. ``name`` is the view's ``name``, else ``default_name`` (a file's stem)."""

    def __init__(self, definition: dict[str, Any], default_name: str | None = None) -> None:
        if not isinstance(definition, dict):
            raise ConfigError(f"ViewDefinition {default_name!r}: not a JSON object")
        self.definition = definition
        self.name = str(definition.get("name") or default_name or definition.get("resource") or "view")
        self._where_ctx = f"ViewDefinition {self.name!r}"
        if definition.get("resourceType", "ViewDefinition") != "ViewDefinition":
            raise self._error("resourceType", f"is {definition['resourceType']!r}, not 'ViewDefinition'")
        _known(definition, _VIEW_KEYS, self, "")
        if definition.get("name") is not None and not _SQL_NAME.match(str(definition["name"])):
            raise self._error("name", "must be letters, digits and _ starting with a letter (sql-name)")
        self.resource = definition.get("resource")
        if not self.resource or not isinstance(self.resource, str):
            raise self._error("resource", "is missing: name the FHIR resource type the view reads")
        self.constants: dict[str, list[Any]] = {}
        for i, c in enumerate(_list(definition, "constant", self, "")):
            where = f"constant[{i}]"
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise self._error(where, "needs a name")
            values = [(k, v) for k, v in c.items() if k.startswith("value")]
            bad = [k for k in c if k not in ("id", "extension", "name") and not k.startswith("value")]
            if bad:
                raise self._error(f"{where}.{bad[0]}", "is not an element of a constant")
            if len(values) != 1 or values[0][0][5:] not in _CONSTANT_TYPES:
                raise self._error(where, f"constant {c['name']!r} needs exactly one value[x] of a FHIR primitive type")
            self.constants[c["name"]] = [values[0][1]]
        consts = set(self.constants)
        self.where: list[Expr] = []
        for i, w in enumerate(_list(definition, "where", self, "")):
            if not isinstance(w, dict) or not isinstance(w.get("path"), str):
                raise self._error(f"where[{i}]", "needs a FHIRPath 'path'")
            _known(w, _WHERE_KEYS, self, f"where[{i}]")
            self.where.append(self._path(w["path"], consts, f"where[{i}].path"))
        selects = _list(definition, "select", self, "")
        if not selects:
            raise self._error("select", "is missing: a view needs at least one select with columns")
        self.select = self._compile_select({"select": selects}, consts, "")
        self.columns: list[Column] = []
        self._collect(self.select, self.columns)
        if not self.columns:
            raise self._error("select", "defines no column")
        digest = hashlib.sha256(orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.hash = digest[:16]

    def _error(self, element: str, what: str) -> ConfigError:
        at = f", {element}" if element else ""
        return ConfigError(f"{self._where_ctx}{at}: {what}")

    def _path(self, text: Any, consts: set[str], element: str) -> Expr:
        if not isinstance(text, str) or not text.strip():
            raise self._error(element, "must be a FHIRPath string")
        try:
            return compile_path(text, consts)
        except ConfigError as exc:
            raise self._error(element, str(exc)) from None

    def _compile_select(self, node: dict[str, Any], consts: set[str], at: str) -> _Select:
        if at:
            _known(node, _SELECT_KEYS, self, at)
        iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in node]
        if len(iterators) > 1:
            raise self._error(at, f"has {' and '.join(iterators)}: at most one of forEach, forEachOrNull, repeat")
        fe_key = "forEach" if "forEach" in node else "forEachOrNull" if "forEachOrNull" in node else None
        for_each = self._path(node[fe_key], consts, f"{at}.{fe_key}".lstrip(".")) if fe_key else None
        repeat: list[Expr] = []
        if "repeat" in node:
            paths = node["repeat"]
            if not isinstance(paths, list) or not paths:
                raise self._error(f"{at}.repeat", "must be a non-empty list of FHIRPath strings")
            repeat = [self._path(p, consts, f"{at}.repeat[{i}]") for i, p in enumerate(paths)]
        columns = [self._column(c, consts, f"{at}.column[{i}]".lstrip("."))
                   for i, c in enumerate(_list(node, "column", self, at))]
        selects = [self._compile_select(s, consts, f"{at}.select[{i}]".lstrip("."))
                   for i, s in enumerate(_list(node, "select", self, at))]
        union = [self._compile_select(s, consts, f"{at}.unionAll[{i}]".lstrip("."))
                 for i, s in enumerate(_list(node, "unionAll", self, at))]
        names = [c.name for c in columns]
        for s in selects:
            names += s.names
        if union:
            first = union[0].names
            for i, u in enumerate(union[1:], 1):
                if u.names != first:
                    raise self._error(f"{at}.unionAll[{i}]".lstrip("."),
                                      f"has columns {u.names}, unionAll[0] has {first}: every branch needs the "
                                      "same columns in the same order")
            names += first
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise self._error(at or "select", f"column {n!r} is defined twice")
            seen.add(n)
        return _Select(columns, selects, for_each, fe_key == "forEachOrNull", repeat, union, names)

    def _column(self, c: Any, consts: set[str], at: str) -> Column:
        if not isinstance(c, dict):
            raise self._error(at, "must be an object with name and path")
        _known(c, _COLUMN_KEYS, self, at)
        name = c.get("name")
        if not isinstance(name, str) or not _SQL_NAME.match(name):
            raise self._error(f"{at}.name", f"{name!r} is not a column name (letters, digits, _; a letter first)")
        expr = self._path(c.get("path"), consts, f"{at}.path")
        ftype = c.get("type", "string")
        if not isinstance(ftype, str) or not ftype:
            raise self._error(f"{at}.type", "must be a FHIR type name")
        ftype = ftype.removeprefix("http://hl7.org/fhir/StructureDefinition/")
        if not (ftype in PRIMITIVES or re.match(r"^[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*)*$", ftype)):
            raise self._error(f"{at}.type", f"{ftype!r} is not a FHIR type")
        implied = _implied_type(c["path"])
        if implied and _FAMILY.get(implied, implied) != _FAMILY.get(ftype, ftype):
            raise self._error(f"{at}.type", f"is {ftype!r} but the path {c['path']!r} gives {implied!r}")
        collection = c.get("collection", False)
        if not isinstance(collection, bool):
            raise self._error(f"{at}.collection", "must be true or false")
        tags: dict[str, str] = {}
        for i, t in enumerate(_list(c, "tag", self, at)):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not isinstance(t.get("value"), str):
                raise self._error(f"{at}.tag[{i}]", "needs a name and a value (strings)")
            tags[t["name"]] = t["value"]
        return Column(name, c["path"], expr, ftype, collection, tags)

    def _collect(self, sel: _Select, out: list[Column]) -> None:
        out += sel.columns
        for s in sel.selects:
            self._collect(s, out)
        if sel.union:
            self._collect(sel.union[0], out)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def rows(self, resource: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows one resource contributes (several with forEach, repeat or unionAll), each with
        every column of the view."""
        if resource.get("resourceType") != self.resource:
            return []
        env: dict[str, Any] = {**self.constants, "rowIndex": [0]}
        for w in self.where:
            res = w([resource], env)
            if res and not isinstance(res[0], bool):
                raise self._error("where", "a 'where' path must give a boolean")
            if not (res and res[0] is True):
                return []
        return list(self._process(self.select, resource, env))

    def _process(self, sel: _Select, node: Any, env: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if sel.repeat:
            foci: list[Any] = []
            _traverse(node, sel.repeat, env, foci)
        elif sel.for_each is not None:
            foci = sel.for_each([node], env)
        else:  # no iteration: %rowIndex stays the enclosing one
            yield from self._rows_at(sel, node, env)
            return
        if not foci:
            if sel.or_null:
                yield {n: None for n in sel.names} | {
                    c.name: 0 for c in self.columns if c.path.strip() == "%rowIndex" and c.name in sel.names}
            return
        for i, f in enumerate(foci):
            yield from self._rows_at(sel, f, {**env, "rowIndex": [i]})

    def _rows_at(self, sel: _Select, node: Any, env: dict[str, Any]) -> Iterator[dict[str, Any]]:
        base: dict[str, Any] = {}
        for col in sel.columns:
            vals = col.expr([node], env)
            if col.collection:
                base[col.name] = vals
            elif len(vals) > 1:
                raise self._error(f"column {col.name!r}", f"the path gave {len(vals)} values for one row; "
                                  "add first() or set collection: true")
            else:
                base[col.name] = vals[0] if vals else None
        if not sel.selects and not sel.union:
            yield base
            return
        parts: list[list[dict[str, Any]]] = [list(self._process(child, node, env)) for child in sel.selects]
        if sel.union:
            parts.append([r for child in sel.union for r in self._process(child, node, env)])
        for combo in itertools.product(*parts):
            row = dict(base)
            for p in combo:
                row.update(p)
            yield row


def _traverse(node: Any, paths: list[Expr], env: dict[str, Any], out: list[Any]) -> None:
    """``repeat``: every node the paths reach, at any depth, depth first (the spec's ``traverse``)."""
    for p in paths:
        for child in p([node], env):
            out.append(child)
            _traverse(child, paths, env, out)


def _implied_type(path: str) -> str | None:
    """The FHIR type a path's last step fixes (``exists()`` boolean, ``ofType(integer)``...), if any."""
    p = path.strip()
    top = _top_level(p)
    if re.search(r"[=<>~]| and | or | implies | xor ", top):
        return "boolean"
    if re.search(r"[-+*/&|]| div | mod ", top):
        return None  # arithmetic or a union: whatever its operands are
    m = re.search(r"\.?([A-Za-z]+)\(([^()]*)\)$", p)
    if m and m[1] in _RETURNS:
        return _RETURNS[m[1]]
    if m and m[1] == "ofType" and m[2].strip() in PRIMITIVES:
        return m[2].strip()
    if p == "%rowIndex":
        return "integer"
    return None


def _top_level(path: str) -> str:
    """``path`` without its string literals and what is inside parentheses or brackets, so that
    ``where(x = 1)`` does not read as a comparison."""
    out, depth, i = [], 0, 0
    while i < len(path):
        ch = path[i]
        if ch == "'":
            j = i + 1
            while j < len(path) and path[j] != "'":
                j += 2 if path[j] == "\\" else 1
            i = j + 1
            out.append("''")
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
        i += 1
    return "".join(out)


def _known(node: dict[str, Any], allowed: frozenset[str], view: View, at: str) -> None:
    if not isinstance(node, dict):
        raise view._error(at, "must be a JSON object")
    for key in node:
        if key not in allowed and not key.startswith("_"):
            raise view._error(f"{at}.{key}".lstrip("."), "is not an element of a ViewDefinition here")


def _list(node: dict[str, Any], key: str, view: View, at: str) -> list[Any]:
    value = node.get(key, [])
    if not isinstance(value, list):
        raise view._error(f"{at}.{key}".lstrip("."), "must be a list")
    return value


def read_view(path: Path) -> View:
    """A ViewDefinition file, compiled; a file that is no JSON is a ConfigError naming it."""
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"ViewDefinition {path}: cannot be read as JSON ({type(exc).__name__})") from None
    return View(definition, default_name=path.stem)


def is_type_view(path: Path) -> bool:
    """``schemas/views/Patient.json`` (one row per resource, staged per type) rather than an analyst view."""
    return path.stem[:1].isupper()


def load_views(folder: Path = VIEWS_DIR) -> dict[str, View]:
    """The staging view of each resource type (``<ResourceType>.json``), keyed by resource type."""
    if not folder.is_dir():
        # Without them every Parquet table would silently lose its flat columns.
        raise ConfigError(f"the SQL-on-FHIR views are not at {folder}: install fhirflow from a wheel or run it "
                          "from its source tree (schemas/ beside etl/), or convert with --no-parquet")
    views: dict[str, View] = {}
    for path in sorted(folder.glob("*.json")):
        if is_type_view(path):
            view = read_view(path)
            assert view.resource is not None
            views[view.resource] = view
    return views


def load_view_files(paths: list[Path]) -> list[View]:
    """Views from files and folders (every ``*.json`` in a folder); names must be distinct."""
    views: list[View] = []
    for p in paths:
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
        if p.is_dir() and not files:
            raise ConfigError(f"views folder {p}: has no *.json ViewDefinition")
        for f in files:
            if not f.is_file():
                raise ConfigError(f"ViewDefinition {f}: no such file")
            views.append(read_view(f))
    seen: dict[str, int] = {}
    for v in views:
        seen[v.name] = seen.get(v.name, 0) + 1
    dup = sorted(n for n, k in seen.items() if k > 1)
    if dup:
        raise ConfigError(f"ViewDefinition {dup[0]!r}: two views have this name, and each names its output table")
    return views


def analyst_views(folder: Path = VIEWS_DIR) -> list[View]:
    """The shipped analyst tables (``claim_item``, ``eob_item_adjudication``, ...): every view in
    ``schemas/views`` that is not a per-type staging view."""
    return load_view_files([p for p in sorted(folder.glob("*.json")) if not is_type_view(p)]) if folder.is_dir() else []
