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


def decimal(value: str) -> float | int | None:
    """A source number as a JSON number (int when whole), or None if it is not a number."""
    if isinstance(value, str) and value.isascii():
        # Plain [-]digits[.digits]: what Decimal would give, without building one.
        if value.isdigit():
            return int(value)
        whole, dot, frac = (value[1:] if value[:1] == "-" else value).partition(".")
        if whole.isdigit() and (not dot or frac.isdigit()):
            return float(value) if dot else int(value)
    try:
        d = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not d.is_finite():
        return None
    return int(d) if d == d.to_integral_value() and "." not in value else float(d)
