"""FHIRPath ``lowBoundary()`` / ``highBoundary()``: the least and greatest value a value of some
precision may stand for (FHIRPath 3.0 / R5 "Utility functions", used by SQL-on-FHIR v2 views).

- decimal: half a unit of the last digit either side (``1.0`` → 0.95 .. 1.05), to ``precision``
  decimal places when given (FHIRPath's default: 8); the digits are the JSON number's own.
- date: the first or last day the value covers (``1970-06`` → 1970-06-01 .. 1970-06-30).
- dateTime: the first or last millisecond, at the earliest (+14:00) or latest (-12:00) offset the
  value could be in when it has none (``2010-10-10`` → 2010-10-10T00:00:00.000+14:00).
- time: to the millisecond (``12:34`` → 12:34:00.000 .. 12:34:59.999).

Which of date and dateTime a string is comes from the ``ofType()`` before the call when there is
one (``value.ofType(dateTime)``), else from its shape (a ``T`` makes a dateTime).

Spec: https://build.fhir.org/ig/HL7/FHIRPath/#lowboundaryprecision-integer-decimal--date--datetime--time
"""

from __future__ import annotations

import calendar
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?)?)?(Z|[+-]\d{2}:\d{2})?$"
)
_TIME = re.compile(r"^(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")


def bound(value: Any, type_hint: str | None, high: bool, precision: int | None) -> Any:
    """The boundary of one value, or None where the function gives empty (not a boundable type)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return _decimal(value, high, precision)
    if not isinstance(value, str):
        return None
    kind = (type_hint or "").lower()
    if kind == "time" or (not kind and _TIME.match(value) and ":" in value):
        return _time(value, high)
    if kind == "date" or (not kind and _DATE.match(value)):
        return _date(value, high)
    if kind in ("datetime", "instant", "") and "T" in value or kind in ("datetime", "instant"):
        return _datetime(value, high)
    return None


def _decimal(value: int | float | Decimal, high: bool, precision: int | None) -> Decimal | None:
    d = value if isinstance(value, Decimal) else Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    exp = d.as_tuple().exponent
    if not isinstance(exp, int):  # NaN or infinity
        return None
    places = -exp if exp < 0 else 0
    half = Decimal(5).scaleb(-(places + 1))
    edge = d + half if high else d - half
    if precision is None:
        return edge
    if precision < 0 or precision > 28:
        return None
    q = Decimal(1).scaleb(-precision)
    return edge.quantize(q, rounding=ROUND_CEILING if high else ROUND_FLOOR)


def _date(value: str, high: bool) -> str | None:
    m = _DATE.match(value)
    if not m:
        return None
    year, month, day = int(m[1]), m[2], m[3]
    mm = int(month) if month else (12 if high else 1)
    if not 1 <= mm <= 12:
        return None
    dd = int(day) if day else (calendar.monthrange(year, mm)[1] if high else 1)
    return f"{year:04d}-{mm:02d}-{dd:02d}"


def _datetime(value: str, high: bool) -> str | None:
    m = _DATETIME.match(value)
    if not m:
        return None
    date = _date("-".join(p for p in (m[1], m[2], m[3]) if p), high)
    if date is None:
        return None
    hh = m[4] or ("23" if high else "00")
    mi = m[5] or ("59" if high else "00")
    ss = m[6] or ("59" if high else "00")
    frac = _millis(m[7], high)
    zone = m[8] or ("-12:00" if high else "+14:00")
    return f"{date}T{hh}:{mi}:{ss}.{frac}{zone}"


def _time(value: str, high: bool) -> str | None:
    m = _TIME.match(value)
    if not m:
        return None
    mi = m[2] or ("59" if high else "00")
    ss = m[3] or ("59" if high else "00")
    return f"{m[1]}:{mi}:{ss}.{_millis(m[4], high)}"


def _millis(frac: str | None, high: bool) -> str:
    if frac:
        return frac[:3].ljust(3, "9" if high else "0")
    return "999" if high else "000"
