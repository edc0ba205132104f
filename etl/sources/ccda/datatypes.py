"""HL7 v3 data types (CDA R2) → FHIR R4 data types.

C-CDA on FHIR data-type mapping: https://build.fhir.org/ig/HL7/ccda-on-fhir/mappingGuidance.html
(CD/CE → CodeableConcept, II → Identifier, IVL_TS → Period, PQ → Quantity, EN/PN → HumanName,
AD → Address, TEL → ContactPoint). Values never leave these functions as invented data: a
nullFlavor becomes absence, or a data-absent-reason where FHIR requires the element.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from etl.fhir.context import MappingContext
from etl.fhir.datatypes import decimal, ts_to_fhir
from etl.sources.ccda import codes
from etl.sources.ccda.model import XSI_TYPE, Document, Element, attr, find, findall, local, text

Json = dict[str, Any]
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")


def system_uri(oid: str) -> str | None:
    """A codeSystem OID as a FHIR system URI (the table in :mod:`codes`, else ``urn:oid:``)."""
    if not oid:
        return None
    if oid in codes.CODE_SYSTEMS:
        return codes.CODE_SYSTEMS[oid]
    if _UUID.match(oid):
        return f"urn:uuid:{oid.lower()}"
    return f"urn:oid:{oid}" if _OID.match(oid) else None


def data_absent(reason: str = "unknown") -> Json:
    """The data-absent-reason extension (http://hl7.org/fhir/StructureDefinition/data-absent-reason)."""
    return {"url": codes.DATA_ABSENT, "valueCode": reason}


def null_reason(el: Element | None) -> str:
    """A nullFlavor as a data-absent-reason code (NI/UNK → unknown, ASKU → asked-unknown, ...)."""
    flavor = attr(el, "nullFlavor")
    return {"ASKU": "asked-unknown", "NAV": "temp-unknown", "NASK": "not-asked", "MSK": "masked",
            "NA": "not-applicable", "NINF": "negative-infinity", "PINF": "positive-infinity",
            "OTH": "unsupported", "NP": "unknown"}.get(flavor, "unknown")


def data_absent_coding(el: Element | None) -> Json:
    """The nullFlavor of ``el`` as a Coding of http://terminology.hl7.org/CodeSystem/data-absent-reason."""
    code = null_reason(el)
    return {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": code,
            "display": codes.DATA_ABSENT_DISPLAY[code]}


def original_text(el: Element | None, doc: Document) -> str:
    """``originalText``: its own text, or the narrative it points to with ``reference/@value``."""
    ot = find(el, "originalText")
    if ot is None:
        return ""
    ref = attr(find(ot, "reference"), "value")
    if ref.startswith("#"):
        target = doc.by_id(ref)
        if target is not None:
            return text(target)
    return text(ot)


def coding(el: Element | None) -> Json | None:
    """One CD/CE/CV/CO (without translations) as a Coding."""
    code = attr(el, "code")
    if not code or el is None or el.get("nullFlavor"):
        return None
    out: Json = {}
    uri = system_uri(attr(el, "codeSystem"))
    if uri:
        out["system"] = uri
    out["code"] = code
    display = attr(el, "displayName")
    if display:
        out["display"] = display
    return out


def codeable(el: Element | None, doc: Document) -> Json | None:
    """CD/CE (plus ``translation``s, ``originalText``) → CodeableConcept; None when nothing is known."""
    if el is None:
        return None
    codings = [c for c in [coding(el), *(coding(t) for t in findall(el, "translation"))] if c]
    out: Json = {}
    if codings:
        out["coding"] = codings
    txt = original_text(el, doc)
    if txt:
        out["text"] = txt
    return out or None


def required_codeable(el: Element | None, doc: Document) -> Json:
    """A CodeableConcept FHIR requires: the code, or a data-absent-reason coding when null.

    Why a coding: CodeableConcept has no value to hang the extension on, and US Core accepts
    ``http://terminology.hl7.org/CodeSystem/data-absent-reason`` codes in required bindings.
    """
    cc = codeable(el, doc)
    if cc:
        return cc
    return {"coding": [data_absent_coding(el)]}


def identifier(el: Element | None) -> Json | None:
    """II → Identifier: ``root`` + ``extension`` → system + value; a lone root is itself the value."""
    if el is None or el.get("nullFlavor"):
        return None
    root, ext = attr(el, "root"), attr(el, "extension")
    if not root and not ext:
        return None
    if ext:
        out: Json = {"value": ext}
        system = codes.IDENTIFIER_SYSTEMS.get(root) or system_uri(root)
        if system:
            out["system"] = system
        return out
    if _UUID.match(root):
        return {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{root.lower()}"}
    if _OID.match(root):
        return {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{root}"}
    return {"value": root}


def identifiers(el: Element | None, path: str = "id") -> list[Json]:
    return [i for i in (identifier(x) for x in findall(el, path)) if i]


def id_key(el: Element | None, path: str = "id") -> tuple[str, str] | None:
    """(root, extension) of the first usable ``id``: the key of a deterministic resource id."""
    for x in findall(el, path):
        if not x.get("nullFlavor") and (attr(x, "root") or attr(x, "extension")):
            return attr(x, "root"), attr(x, "extension")
    return None


# A UTC offset FHIR accepts: -14:00 ... +14:00 (R4 dateTime regex: ``(Z|(+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))``).
_OFFSET = re.compile(r"^[+-](?:(?:0\d|1[0-3])[0-5]\d|1400)$")


def ts(el: Element | None, ctx: MappingContext, where: str = "effectiveTime") -> str | None:
    """A TS value as FHIR date/dateTime (precision and offset kept, see ``ts_to_fhir``). An offset
    outside ±14:00 (``-5000``) is no time zone at all: FHIR (and HAPI) refuse it, so it is dropped
    with a warning and the value read as if it had none (``--timezone`` then places it)."""
    value = attr(el, "value")
    if not value:
        return None
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit() and not _OFFSET.match(value[-5:]):
        ctx.problem("has a UTC offset outside -1400..+1400; the offset is dropped", where, value)
        value = value[:-5]
    out = ts_to_fhir(value, ctx.source_timezone)
    if out is not None and len(out) >= 10:
        try:
            date.fromisoformat(out[:10])
        except ValueError:
            out = None  # e.g. 20120231: the pattern matched, the calendar disagrees
    if out is None:
        ctx.problem("is not a valid HL7 v3 TS (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])", where, value)
    return out


def instant(el: Element | None, ctx: MappingContext) -> str | None:
    """A TS as a FHIR instant, only when it carries seconds-level time and an offset."""
    value = ts(el, ctx)
    return value if value and "T" in value and len(value) >= 25 else None


def period(el: Element | None, ctx: MappingContext, where: str = "effectiveTime") -> Json | None:
    """IVL_TS (``low``/``high``, or a lone ``value``) → Period."""
    if el is None:
        return None
    out: Json = {}
    start = ts(find(el, "low"), ctx, where + "/low") or ts(el, ctx, where)
    end = ts(find(el, "high"), ctx, where + "/high")
    if start:
        out["start"] = start
    if end:
        out["end"] = end
    return out or None


def effective(el: Element | None, ctx: MappingContext, prefix: str, where: str = "effectiveTime") -> Json:
    """An effectiveTime as ``<prefix>DateTime`` (a point) or ``<prefix>Period`` (an interval)."""
    if el is None:
        return {}
    if attr(el, "value") and find(el, "low") is None and find(el, "high") is None:
        v = ts(el, ctx, where)
        return {f"{prefix}DateTime": v} if v else {}
    p = period(el, ctx, where)
    if not p:
        return {}
    if set(p) == {"start"} and find(el, "high") is None and local(el) == "effectiveTime" and prefix == "effective":
        return {f"{prefix}DateTime": p["start"]}
    return {f"{prefix}Period": p}


def quantity(el: Element | None, ctx: MappingContext, where: str = "value") -> Json | None:
    """PQ → Quantity with UCUM system/code (C-CDA units are UCUM by specification)."""
    if el is None or el.get("nullFlavor"):
        return None
    raw = attr(el, "value")
    if not raw:
        return None
    value = decimal(raw)
    if value is None:
        ctx.problem("PQ/@value is not a number", where, raw)
        return None
    out: Json = {"value": value}
    unit = attr(el, "unit")
    if unit and is_ucum(unit):
        out.update({"unit": unit, "system": "http://unitsofmeasure.org", "code": unit})
    elif unit:
        # C-CDA requires UCUM, but senders write "Puffs" or "tablet": keep the text, claim no code.
        out["unit"] = unit
        ctx.problem("PQ/@unit is not a UCUM unit; kept as text only", where + "/@unit", unit)
    return out


# A conservative UCUM grammar (https://ucum.org/ucum): prefixed atoms with exponents, joined by
# "." or "/", plus 10*n, annotations {…} and 1. Enough for clinical units; anything else is text.
_UCUM_ATOM = (r"(?:[YZEPTGMkhdcmunpfazy]|da)?(?:g|L|l|m|s|min|h|d|wk|mo|a|mol|eq|U|\[iU\]|\[IU\]|Cel|K|Pa|bar|"
              r"\[degF\]|\[lb_av\]|\[oz_av\]|\[in_i\]|\[ft_i\]|\[mi_i\]|mm\[Hg\]|\[drp\]|\[pH\]|kat|"
              r"cal|\[Cal\]|J|W|V|A|Hz|Ohm|S|F|osm|%|\[ppm\]|\[ppb\]|\[arb'U\]|\[CFU\]|\[HPF\]|\[LPF\]|"
              r"\[tbs_us\]|\[tsp_us\]|\[foz_us\]|\[pt_us\]|\[qt_us\]|\[gal_us\]|\[sft_i\]|b|Bq|Ci|Gy|Sv|R)")
_UCUM_TERM = rf"(?:{_UCUM_ATOM}[-+]?\d*(?:\{{[^{{}}]*\}})?|10\*[-+]?\d+|10\^[-+]?\d+|\{{[^{{}}]*\}}|1|\d+)"
_UCUM = re.compile(rf"^/?{_UCUM_TERM}(?:[./]{_UCUM_TERM})*$")


def is_ucum(unit: str) -> bool:
    """True when ``unit`` parses as a (common) UCUM expression."""
    return bool(_UCUM.match(unit))


def value_x(el: Element | None, doc: Document, ctx: MappingContext, where: str = "value") -> Json:
    """An observation ``value`` (xsi:type ANY) → ``value[x]`` (empty when null or unknown type)."""
    if el is None or (el.get("nullFlavor") and find(el, "originalText") is None):
        return {}
    xtype = (el.get(XSI_TYPE) or "").split(":")[-1]
    if xtype in ("PQ", "REAL", "MO"):
        qv = quantity(el, ctx, where)
        return {"valueQuantity": qv} if qv else {}
    if xtype in ("INT",):
        iv = decimal(attr(el, "value"))
        return {"valueInteger": iv} if isinstance(iv, int) else {}
    if xtype in ("CD", "CE", "CV", "CO", "CS"):
        cc = codeable(el, doc)
        return {"valueCodeableConcept": cc} if cc else {}
    if xtype in ("ST", "ED", "SC"):
        s = text(el) or original_text(el, doc)
        if xtype == "ED" and not s:
            ref = attr(find(el, "reference"), "value")
            target = doc.by_id(ref) if ref.startswith("#") else None
            s = text(target)
        return {"valueString": s} if s else {}
    if xtype == "BL":
        v = attr(el, "value")
        return {"valueBoolean": v == "true"} if v in ("true", "false") else {}
    if xtype == "TS":
        t = ts(el, ctx, where)
        return {"valueDateTime": t} if t else {}
    if xtype == "IVL_PQ":
        rng: Json = {}
        low, high = quantity(find(el, "low"), ctx, where), quantity(find(el, "high"), ctx, where)
        if low:
            rng["low"] = low
        if high:
            rng["high"] = high
        return {"valueRange": rng} if rng else {}
    if xtype in ("RTO", "RTO_PQ_PQ", "RTO_INT_INT"):
        num, den = find(el, "numerator"), find(el, "denominator")
        ratio = {k: v for k, v in (("numerator", quantity(num, ctx)), ("denominator", quantity(den, ctx))) if v}
        return {"valueRatio": ratio} if ratio else {}
    s = text(el)
    return {"valueString": s} if s else {}


# --- people, places, contacts -------------------------------------------------------------------

def human_name(el: Element | None) -> Json | None:
    """PN/EN → HumanName (``use`` from EntityNameUse, given/family/prefix/suffix, validTime)."""
    if el is None or el.get("nullFlavor"):
        return None
    out: Json = {}
    use = codes.NAME_USE.get(attr(el, "use").split(" ")[0])
    if use:
        out["use"] = use
    family = [text(f) for f in findall(el, "family") if text(f)]
    given = [text(g) for g in findall(el, "given") if text(g)]
    prefix = [text(p) for p in findall(el, "prefix") if text(p)]
    suffix = [text(s) for s in findall(el, "suffix") if text(s)]
    if family:
        out["family"] = " ".join(family)
    if given:
        out["given"] = given
    if prefix:
        out["prefix"] = prefix
    if suffix:
        out["suffix"] = suffix
    if not (family or given):
        whole = "".join(t for t in el.itertext()).strip()
        whole = " ".join(whole.split())
        if whole:
            out["text"] = whole
    return out if set(out) - {"use"} else None


def names(el: Element | None, path: str = "name") -> list[Json]:
    return [n for n in (human_name(x) for x in findall(el, path)) if n]


def address(el: Element | None, ctx: MappingContext) -> Json | None:
    """AD → Address."""
    if el is None or el.get("nullFlavor"):
        return None
    out: Json = {}
    use = codes.ADDRESS_USE.get(attr(el, "use").split(" ")[0])
    if use:
        out["use"] = use
    lines = [text(x) for x in findall(el, "streetAddressLine") if text(x)]
    if lines:
        out["line"] = lines
    for cda, fhir in (("city", "city"), ("county", "district"), ("state", "state"),
                      ("postalCode", "postalCode"), ("country", "country")):
        part = find(el, cda)
        v = text(part)
        if v and part is not None and not part.get("nullFlavor"):
            out[fhir] = v
    p = period(find(el, "useablePeriod"), ctx, "addr/useablePeriod")
    if p:
        out["period"] = p
    return out if set(out) - {"use"} else None


def addresses(el: Element | None, ctx: MappingContext, path: str = "addr") -> list[Json]:
    return [a for a in (address(x, ctx) for x in findall(el, path)) if a]


def telecom(el: Element | None) -> Json | None:
    """TEL (``tel:``, ``mailto:``, ``fax:``, ``http:`` URLs) → ContactPoint."""
    if el is None or el.get("nullFlavor"):
        return None
    value = attr(el, "value")
    if not value:
        return None
    scheme, sep, rest = value.partition(":")
    system = codes.TELECOM_SCHEMES.get(scheme.lower()) if sep else None
    out: Json = {"system": system or "other",
                 "value": (rest if system in ("phone", "fax", "email") else value).strip()}
    use = codes.TELECOM_USE.get(attr(el, "use").split(" ")[0])
    if use:
        out["use"] = use
    return out if out["value"] else None


def telecoms(el: Element | None, path: str = "telecom") -> list[Json]:
    return [t for t in (telecom(x) for x in findall(el, path)) if t]


def put(target: Json, key: str, value: Any) -> None:
    """Set ``target[key]`` only when ``value`` is not empty."""
    if value not in (None, "", [], {}):
        target[key] = value
