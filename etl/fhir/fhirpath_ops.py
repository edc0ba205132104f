"""FHIRPath operators on collections: ``and``/``or``, comparison, union, concatenation and
arithmetic, with FHIRPath's empty-propagation (an empty operand gives an empty result).

Spec: https://hl7.org/fhirpath/#operations (used by :mod:`etl.fhir.fhirpath`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

Coll = list[Any]
Expr = Callable[[Coll, dict[str, Any]], Coll]


def logic(a: Expr, b: Expr, combine: Callable[[list[bool]], bool]) -> Expr:
    def run(c: Coll, env: dict[str, Any]) -> Coll:
        return [combine([truth(a(c, env)), truth(b(c, env))])]

    return run


def binary(op: str, a: Expr, b: Expr) -> Expr:
    def run(c: Coll, env: dict[str, Any]) -> Coll:
        x, y = a(c, env), b(c, env)
        if op == "|":
            return x + y
        if op == "&":  # concatenation that treats empty as ''
            return ["".join(str(v) for v in x[:1] + y[:1])]
        if op in ARITHMETIC:
            return _arith(op, x, y)
        return _compare(op, x, y)

    return run


ARITHMETIC = frozenset({"+", "-", "*", "/", "div", "mod"})
_Number = (int, float, Decimal)


def _arith(op: str, a: Coll, b: Coll) -> Coll:
    """FHIRPath math on singletons: empty in, empty out; ``+`` on two strings concatenates;
    ``/`` is always a decimal (``3 / 2`` is 1.5), dividing by zero is empty, as the spec says."""
    if len(a) != 1 or len(b) != 1:
        return []
    x, y = a[0], b[0]
    if op == "+" and isinstance(x, str) and isinstance(y, str):
        return [x + y]
    if not isinstance(x, _Number) or not isinstance(y, _Number) or isinstance(x, bool) or isinstance(y, bool):
        return []
    if isinstance(x, float) or isinstance(y, float):  # JSON numbers: exact through their shortest digits
        x, y = _exact(x), _exact(y)
    if op == "+":
        r: Any = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    elif y == 0:
        return []
    elif op == "/":
        r = Decimal(x) / Decimal(y)
    elif op == "div":
        r = int(Decimal(x) // Decimal(y))
    else:
        r = x % y
    return [r]


def _exact(v: Any) -> Any:
    return Decimal(repr(v)) if isinstance(v, float) else v


def truth(coll: Coll) -> bool:
    return bool(coll) and coll[0] is not False


def _bool(b: bool) -> Coll:
    return [b]


def _compare(op: str, a: Coll, b: Coll) -> Coll:
    if not a or not b:
        return []
    x, y = a[0], b[0]
    try:
        if op == "=":
            return [x == y]
        if op == "!=":
            return [x != y]
        if op == ">":
            return [x > y]
        if op == "<":
            return [x < y]
        if op == ">=":
            return [x >= y]
        return [x <= y]
    except TypeError:
        return []
