"""A small FHIRPath subset: what SQL-on-FHIR v2 ViewDefinitions in ``schemas/views`` need.

Supported: member navigation (choice types via ``value.ofType(Quantity)``), indexers ``[0]``,
literals (string, number, boolean, ``{}``), ``%constants`` and ``%rowIndex``, ``= != > < >= <=``, ``and or``,
``not()``, ``|`` (union), arithmetic ``+ - * / div mod`` (``+`` and ``&`` on strings concatenate), and
the functions ``first last exists empty count join where ofType extension getResourceKey
getReferenceKey lowBoundary highBoundary`` (the boundaries in :mod:`etl.fhir.boundary`). Anything
else raises :class:`ConfigError` when the view is compiled, never while rows are produced.

Spec: https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/ (shareable FHIRPath subset).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from etl.errors import ConfigError
from etl.fhir.boundary import bound
from etl.fhir.fhirpath_ops import binary as _binary
from etl.fhir.fhirpath_ops import logic as _logic
from etl.fhir.fhirpath_ops import truth as _truth

Coll = list[Any]
Expr = Callable[[Coll, dict[str, Any]], Coll]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>\d+(?:\.\d+)?)|(?P<const>%[A-Za-z_]\w*)"
    r"|(?P<id>\$this|[A-Za-z_]\w*|`[^`]+`)|(?P<op>!=|>=|<=|\{\s*\}|[.()\[\],=<>+\-*/&|]))"
)
_FUNCS = {"first", "last", "exists", "empty", "count", "join", "where", "ofType", "extension",
          "getResourceKey", "getReferenceKey", "not", "lowBoundary", "highBoundary"}
# Environment variables every view has (SQL-on-FHIR v2 "Environment Variables").
BUILTIN_CONSTANTS = frozenset({"rowIndex"})


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigError(f"FHIRPath: cannot read {text[pos:]!r} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _children(item: Any, name: str) -> Coll:
    if not isinstance(item, dict):
        return []
    if name in item:
        value = item[name]
    else:
        # Choice elements (value[x]) are navigated by their base name.
        value = next((v for k, v in item.items() if k.startswith(name) and k[len(name):][:1].isupper()), None)
        if value is None:
            return []
    return list(value) if isinstance(value, list) else [value]


def _choice(item: dict[str, Any], base: str, type_name: str) -> Coll:
    key = base + type_name[:1].upper() + type_name[1:]
    v = item.get(key)
    return [] if v is None else (list(v) if isinstance(v, list) else [v])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise ConfigError(f"FHIRPath: unexpected end of {self.text!r}")
        tok = self.toks[self.i]
        if expected is not None and tok[1] != expected:
            raise ConfigError(f"FHIRPath: expected {expected!r} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        e = self.or_()
        if self.i != len(self.toks):
            raise ConfigError(f"FHIRPath: unexpected {self.peek()!r} in {self.text!r}")
        return e

    def or_(self) -> Expr:
        left = self.and_()
        while self.peek() == "or":
            self.take()
            left = _logic(left, self.and_(), any)
        return left

    def and_(self) -> Expr:
        left = self.cmp()
        while self.peek() == "and":
            self.take()
            left = _logic(left, self.cmp(), all)
        return left

    # FHIRPath precedence, loosest first: or, and, = !=, < > <= >=, |, + - &, * / div mod.
    def cmp(self) -> Expr:
        left = self.ineq()
        while self.peek() in ("=", "!="):
            left = _binary(self.take()[1], left, self.ineq())
        return left

    def ineq(self) -> Expr:
        left = self.union()
        while self.peek() in (">", "<", ">=", "<="):
            left = _binary(self.take()[1], left, self.union())
        return left

    def union(self) -> Expr:
        left = self.add()
        while self.peek() == "|":
            left = _binary(self.take()[1], left, self.add())
        return left

    def add(self) -> Expr:
        left = self.mul()
        while self.peek() in ("+", "-", "&"):
            left = _binary(self.take()[1], left, self.mul())
        return left

    def mul(self) -> Expr:
        left = self.unary()
        while self.peek() in ("*", "/", "div", "mod"):
            left = _binary(self.take()[1], left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.peek() == "-":
            self.take()
            inner = self.path()
            return lambda c, env: [-v for v in inner(c, env) if isinstance(v, (int, float, Decimal))]
        return self.path()

    def path(self) -> Expr:
        expr = self.term()
        while self.peek() in (".", "["):
            if self.take()[1] == "[":
                index = self.or_()
                self.take("]")

                def indexed(c: Coll, env: dict[str, Any], e: Expr = expr, ix: Expr = index) -> Coll:
                    i = ix(c, env)
                    return e(c, env)[i[0] : i[0] + 1] if i and isinstance(i[0], int) else []

                expr = indexed
            else:
                expr = self.step(expr)
        return expr

    def term(self) -> Expr:
        kind, val = self.take()
        if kind == "str":
            s = val[1:-1].replace("\\'", "'")
            return lambda c, env: [s]
        if kind == "num":
            # A decimal literal keeps its digits (0.1 + 0.2 = 0.3, as FHIRPath's decimal is exact).
            n: Any = Decimal(val) if "." in val else int(val)
            return lambda c, env: [n]
        if kind == "const":
            name = val[1:]
            return lambda c, env: list(env.get(name, []))
        if val == "(":
            e = self.or_()
            self.take(")")
            return e
        if val == "$this":
            return lambda c, env: c
        if val.startswith("{"):  # {}: the empty collection (a null column in a unionAll branch)
            return lambda c, env: []
        if val in ("true", "false"):
            b = val == "true"
            return lambda c, env: [b]
        self.i -= 1
        return self.step(lambda c, env: c)

    def step(self, base: Expr) -> Expr:
        kind, name = self.take()
        if kind != "id":
            raise ConfigError(f"FHIRPath: expected a name in {self.text!r}")
        name = name.strip("`")
        if self.peek() != "(":
            return _Member(base, name)
        self.take("(")
        if name not in _FUNCS:
            raise ConfigError(f"FHIRPath: function {name}() is not supported in {self.text!r}")
        args_src: list[Expr] = []
        raw: list[str] = []
        while self.peek() != ")":
            start = self.i
            args_src.append(self.or_())
            raw.append(" ".join(t[1] for t in self.toks[start : self.i]))
            if self.peek() == ",":
                self.take()
        self.take(")")
        return _function(name, base, args_src, raw)


def _function(name: str, base: Expr, args: list[Expr], raw: list[str]) -> Expr:
    if name == "first":
        return lambda c, env: base(c, env)[:1]
    if name == "last":
        return lambda c, env: base(c, env)[-1:]
    if name == "exists":
        if args:
            return lambda c, env: [any(_truth(args[0]([x], env)) for x in base(c, env))]
        return lambda c, env: [bool(base(c, env))]
    if name == "empty":
        return lambda c, env: [not base(c, env)]
    if name == "count":
        return lambda c, env: [len(base(c, env))]
    if name == "not":
        return lambda c, env: [not _truth(base(c, env))]
    if name == "join":
        return lambda c, env: [(args[0]([], env)[0] if args else "").join(str(x) for x in base(c, env))]
    if name == "where":
        return lambda c, env: [x for x in base(c, env) if _truth(args[0]([x], env))]
    if name == "extension":
        return lambda c, env: [
            e for item in base(c, env) for e in _children(item, "extension")
            if isinstance(e, dict) and [e.get("url")] == args[0]([], env)
        ]
    if name == "ofType":
        type_name = raw[0].split(".")[-1].strip()

        def of_type(c: Coll, env: dict[str, Any]) -> Coll:
            # ofType on a choice element: re-navigate the parent with the typed name.
            return [v for x in base(c, env) for v in ([x] if _is_type(x, type_name) else [])]

        return _retarget_choice(base, type_name) or _Typed(of_type, type_name)
    if name in ("lowBoundary", "highBoundary"):
        hint = _type_hint(base)
        precision = args[0] if args else None

        def boundary(c: Coll, env: dict[str, Any], high: bool = name == "highBoundary") -> Coll:
            p = precision(c, env) if precision is not None else []
            digits = p[0] if p and isinstance(p[0], int) else None
            out = []
            for x in base(c, env):
                b = bound(x, hint, high, digits)
                if b is not None:
                    out.append(b)
            return out

        return boundary
    if name == "getResourceKey":
        return lambda c, env: [x["id"] for x in base(c, env) if isinstance(x, dict) and "id" in x]
    if name == "getReferenceKey":
        want = raw[0].strip() if raw else None

        def ref_key(c: Coll, env: dict[str, Any]) -> Coll:
            out = []
            for x in base(c, env):
                ref = x.get("reference", "") if isinstance(x, dict) else ""
                rtype, _, rid = ref.rpartition("/")
                if rid and (want is None or rtype.split("/")[-1] == want):
                    out.append(rid)
            return out

        return ref_key
    raise ConfigError(f"FHIRPath: function {name}() is not supported")


class _Member:
    """``base.name``; remembers both so ``ofType()`` can resolve a choice element's typed name."""

    def __init__(self, parent: Expr, name: str) -> None:
        self.parent, self.name = parent, name

    def __call__(self, c: Coll, env: dict[str, Any]) -> Coll:
        return _navigate(self.parent(c, env), self.name)


def _navigate(items: Coll, name: str) -> Coll:
    """``items.name``: every item's ``name`` element, lists flattened."""
    out: Coll = []
    for item in items:
        # ``_children`` inlined for the usual case (the element is present under its own name).
        if isinstance(item, dict) and name in item:
            value = item[name]
            if isinstance(value, list):
                out.extend(value)
            else:
                out.append(value)
        else:
            out.extend(_children(item, name))
    return out


class _Typed:
    """``base.ofType(T)``: remembers ``T`` so a following function (``lowBoundary``) knows a
    ``dateTime`` from a ``date`` of the same text."""

    def __init__(self, run: Expr, type_name: str) -> None:
        self.run, self.type_name = run, type_name

    def __call__(self, c: Coll, env: dict[str, Any]) -> Coll:
        return self.run(c, env)


def _type_hint(base: Expr) -> str | None:
    return base.type_name if isinstance(base, _Typed) else None


def _retarget_choice(base: Expr, type_name: str) -> Expr | None:
    if not isinstance(base, _Member):
        return None
    parent, elem = base.parent, base.name
    return _Typed(lambda c, env: [v for item in parent(c, env) if isinstance(item, dict)
                                  for v in _choice(item, elem, type_name)], type_name)


def _is_type(x: Any, type_name: str) -> bool:
    t = type_name.lower()
    if t == "string":
        return isinstance(x, str)
    if t == "integer":
        return isinstance(x, int) and not isinstance(x, bool)
    if t == "boolean":
        return isinstance(x, bool)
    if t == "decimal":
        return isinstance(x, (int, float, Decimal)) and not isinstance(x, bool)
    return isinstance(x, dict) and x.get("resourceType") == type_name


def compile_path(text: str, constants: set[str] | None = None) -> Expr:
    """Compile a FHIRPath expression of the supported subset; evaluate as ``expr([resource], env)``.

    With ``constants`` given, a ``%name`` not among them is an error now rather than an empty
    value later.
    """
    parser = _Parser(text)
    if constants is not None:
        for kind, val in parser.toks:
            if kind == "const" and val[1:] not in constants and val[1:] not in BUILTIN_CONSTANTS:
                raise ConfigError(f"FHIRPath: constant {val} is not defined in the view")
    expr = parser.parse()
    steps = _plain_chain(parser.toks)
    return _chain(steps) if steps is not None else expr


_FIRST = None  # a step of a plain chain that is ``first()``


def _plain_chain(toks: list[tuple[str, str]]) -> list[str | None] | None:
    """The steps of ``a.b.first().c``-style paths (names and ``first()`` only), else None.

    Most view columns are such paths; :func:`_chain` walks them in one loop instead of one call
    per step, which is most of the cost of building the Parquet columns."""
    steps: list[str | None] = []
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        if kind != "id" or val.startswith(("`", "$")) or val in ("true", "false", "and", "or"):
            return None
        if val == "first" and toks[i + 1 : i + 3] == [("op", "("), ("op", ")")]:
            if not steps:
                return None
            steps.append(_FIRST)
            i += 3
        elif i + 1 < len(toks) and toks[i + 1] == ("op", "("):
            return None  # any other function
        else:
            steps.append(val)
            i += 1
        if i < len(toks):
            if toks[i] != ("op", "."):
                return None
            i += 1
            if i == len(toks):
                return None
    return steps or None


def _chain(steps: list[str | None]) -> Expr:
    """The same result as the parsed expression of a plain chain (see :func:`_plain_chain`)."""

    def run(c: Coll, env: dict[str, Any]) -> Coll:
        cur = c
        for name in steps:
            cur = cur[:1] if name is None else _navigate(cur, name)
        return cur

    return run
