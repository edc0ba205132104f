"""FHIR R4 primitive conversions shared by the sources (dates, decimals).

https://hl7.org/fhir/R4/datatypes.html#dateTime — a dateTime with a time SHALL carry a time zone,
so a source timestamp without one is either placed in the job's ``source_timezone`` or cut to its
date: never given an invented offset.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import orjson

_TS = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?(?P<f>\.\d+)?"
    r"(?P<tz>[+-]\d{4}|Z)?$"
)


def ts_to_fhir(value: str, source_timezone: str | None = None, *, date_only: bool = False) -> str | None:
    """An HL7 v2 TS/DTM, HL7 v3 TS or X12 ``CCYYMMDD[HHMM]`` value as a FHIR date or dateTime.

    Precision is kept (``2024`` stays a year). Returns None for text that is not a timestamp.
    """
    if value and len(value) == 8 and value.isascii() and value.isdigit():  # CCYYMMDD, by far the commonest
        if 1 <= int(value[4:6]) <= 12 and 1 <= int(value[6:]) <= 31:
            return f"{value[:4]}-{value[4:6]}-{value[6:]}"
        return None
    m = _TS.match(value.strip()) if value else None
    if not m:
        return None
    y, mo, d, h, mi, s, f, tz = (m.group(k) for k in ("y", "mo", "d", "h", "mi", "s", "f", "tz"))
    if mo and not 1 <= int(mo) <= 12 or d and not 1 <= int(d) <= 31:
        return None
    date = y + (f"-{mo}" if mo else "") + (f"-{d}" if mo and d else "")
    if date_only or not (h and d):
        return date
    if h and int(h) > 23 or mi and int(mi) > 59 or s and int(s) > 60:
        return None
    time = f"{h}:{mi or '00'}:{s or '00'}{f or ''}"
    if tz == "Z":
        offset = "Z"
    elif tz:
        offset = f"{tz[:3]}:{tz[3:]}"
    elif source_timezone:
        try:
            local = datetime(int(y), int(mo), int(d), int(h), int(mi or 0), int(s or 0),
                             tzinfo=ZoneInfo(source_timezone))
        except (ValueError, KeyError):
            return date
        off = local.strftime("%z")
        offset = f"{off[:3]}:{off[3:]}"
    else:
        return date
    return f"{date}T{time}{offset}"


# The most digits a number may carry (integer and fraction digits as written in fixed notation):
# X12 R amounts are at most 18 digits (element 782, R 1/18), and FHIR decimals of more digits than
# that are not kept exactly by the tools downstream (the Parquet step parses NDJSON as IEEE doubles).
MAX_DIGITS = 18
_INT64 = 2**63 - 1


def parse_decimal(value: str) -> Decimal | None:
    """A source number (``12``, ``-0.50``, ``1E3``) as an exact :class:`Decimal` of any size, or None
    when the text is not a finite number."""
    try:
        d = Decimal(value.strip())
    except (InvalidOperation, AttributeError, ValueError):
        return None
    return d if d.is_finite() else None


def digits(d: Decimal) -> int:
    """Digits of ``d`` written in fixed notation without leading zeros (``1E3`` has 4, ``0.05`` 2)."""
    _, ds, exp = d.as_tuple()
    assert isinstance(exp, int)  # finite numbers only (parse_decimal)
    n = len(ds)
    return max(n + exp, n, 1) if exp >= 0 else max(n, -exp)


def json_number(d: Decimal) -> float | int | orjson.Fragment | None:
    """An exact Decimal as a JSON number orjson writes without loss: an int when whole (64-bit), a
    float when its shortest form is the same number, else the number's own text (an orjson
    :class:`~orjson.Fragment`). None when it has more than :data:`MAX_DIGITS` digits. Negative zero
    is zero (FHIR decimals compare by value)."""
    if digits(d) > MAX_DIGITS:
        return None
    if d == 0:
        d = abs(d)
    if d == d.to_integral_value() and d.as_tuple().exponent >= 0:  # type: ignore[operator]
        return int(d) if abs(d) <= _INT64 else None
    f = float(d)
    if Decimal(repr(f)) == d:
        return f
    return orjson.Fragment(format(d, "f").encode())


def decimal(value: str) -> float | int | orjson.Fragment | None:
    """A source number as a JSON number (int when whole), or None if it is not a number or has more
    than :data:`MAX_DIGITS` digits (see :func:`json_number`: never one orjson or a reader of the
    NDJSON cannot take)."""
    if isinstance(value, str) and value.isascii():
        # Plain [-]digits[.digits] of at most 15 digits: what Decimal would give, without building one.
        if value.isdigit() and len(value) <= 15:
            return int(value)
        whole, dot, frac = (value[1:] if value[:1] == "-" else value).partition(".")
        if whole.isdigit() and (not dot or frac.isdigit()) and len(whole) + len(frac) <= 15:
            if dot:
                f = float(value)
                return f if f else 0.0
            return int(value)
    d = parse_decimal(value)
    return json_number(d) if d is not None else None
