"""Check one instance's header values before it joins its study (PS3.5 6.2 value representations).

Required for an ImagingStudy instance (R4 ``ImagingStudy.series.uid``, ``.instance.uid``,
``.instance.sopClass`` are 1..1, and the study is keyed by its UID): StudyInstanceUID (0020,000D),
SeriesInstanceUID (0020,000E), SOPInstanceUID (0008,0018), SOPClassUID (0008,0016). Missing or not a
UID (PS3.5 9.1: digits and dots, no leading zero in a component, at most 64 characters): the
instance is rejected, an error record naming the file and the tag.

Optional values (dates DA, times TM, the UTC offset, IS numbers, PatientSex): an invalid one is a
data problem (:meth:`MappingContext.problem`: a warning under ``--strictness warn``) and is left
out; the instance converts. Dates and times come out in FHIR's form (``2004-01-19``, ``07:27:30``).
"""

from __future__ import annotations

import copy
import re

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.sources.dicom.model import Instance

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")
_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")  # YYYYMMDD; ACR-NEMA's YYYY.MM.DD still met in old files
_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(\.\d{1,6})?)?)?$")  # HH[MM[SS[.F]]]; ACR-NEMA HH:MM:SS
_TZ = re.compile(r"^([+-])(\d{2})(\d{2})$")  # &ZZXX, PS3.3 C.12.1.1.8
_IS = re.compile(r"^[+]?\d{1,12}$")

REQUIRED_UIDS = (
    ("study_uid", "(0020,000D)", "StudyInstanceUID"),
    ("series_uid", "(0020,000E)", "SeriesInstanceUID"),
    ("sop_instance_uid", "(0008,0018)", "SOPInstanceUID"),
    ("sop_class_uid", "(0008,0016)", "SOPClassUID"),
)


def is_uid(value: str) -> bool:
    return len(value) <= 64 and _UID.match(value) is not None


def fhir_date(value: str) -> str | None:
    """A DA value as a FHIR date, or None when it is not a calendar date."""
    m = _DA.match(value)
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= _days(y, mo)) or y == 0:
        return None
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}"


def fhir_time(value: str) -> str | None:
    """A TM value as a FHIR time (``HH:MM:SS[.f]``, missing parts zero), or None when invalid."""
    m = _TM.match(value)
    if not m:
        return None
    h, mi, s, frac = m.group(1), m.group(2) or "00", m.group(3) or "00", m.group(4) or ""
    if int(h) > 23 or int(mi) > 59 or int(s) > 60:
        return None
    return f"{h}:{mi}:{'59' if s == '60' else s}{frac}"  # a leap second has no FHIR time


def fhir_offset(value: str) -> str | None:
    """TimezoneOffsetFromUTC ``+HHMM`` as a FHIR offset ``+HH:MM``, or None when invalid."""
    m = _TZ.match(value)
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}"


def _days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def validate_instance(inst: Instance, ctx: MappingContext) -> Instance:
    """``inst`` with its optional values in FHIR form (invalid ones dropped, each a data problem);
    :class:`MappingError` naming the tag when a required UID is missing or invalid."""
    for attr, tag, keyword in REQUIRED_UIDS:
        value = getattr(inst, attr)
        if not value:
            raise MappingError(f"{keyword} {tag} is missing: the instance cannot join a study",
                               code="required").at_expression(tag)
        if not is_uid(value):
            raise MappingError(f"{keyword} {tag} is not a valid UID (PS3.5 9.1: digits and dots, "
                               "at most 64 characters)", code="value").at_expression(tag).quote(tag, value)
    out = copy.copy(inst)  # shallow: the lists are not changed
    for attr, tag, keyword in (("study_date", "(0008,0020)", "StudyDate"), ("series_date", "(0008,0021)", "SeriesDate"),
                               ("birth_date", "(0010,0030)", "PatientBirthDate")):
        setattr(out, attr, _checked(getattr(inst, attr), fhir_date, ctx, tag, f"{keyword} is not a date (DA, YYYYMMDD)"))
    for attr, tag, keyword in (("study_time", "(0008,0030)", "StudyTime"), ("series_time", "(0008,0031)", "SeriesTime")):
        setattr(out, attr, _checked(getattr(inst, attr), fhir_time, ctx, tag, f"{keyword} is not a time (TM, HHMMSS.FFFFFF)"))
    out.tz_offset = _checked(inst.tz_offset, fhir_offset, ctx, "(0008,0201)",
                             "TimezoneOffsetFromUTC is not an offset (+HHMM)")
    for attr, tag, keyword in (("instance_number", "(0020,0013)", "InstanceNumber"),
                               ("series_number", "(0020,0011)", "SeriesNumber")):
        out_value = _checked(getattr(inst, attr), lambda v: str(int(v)) if _IS.match(v) else None, ctx, tag,
                             f"{keyword} is not a non-negative integer (IS)")
        setattr(out, attr, out_value)
    if inst.sex not in ("", "M", "F", "O"):
        ctx.problem("PatientSex is not M, F or O: the patient's gender is unknown", "(0010,0040)", inst.sex)
        out.sex = ""
    if not inst.modality:
        ctx.problem("Modality is missing: the series is coded OT (other)", "(0008,0060)")
        out.modality = "OT"
    return out


def _checked(value: str, convert: object, ctx: MappingContext, tag: str, message: str) -> str:
    if not value:
        return ""
    assert callable(convert)
    result = convert(value)
    if result is None:
        ctx.problem(f"{message}: left out", tag, value)
        return ""
    return str(result)
