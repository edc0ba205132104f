"""Shared X12 → FHIR pieces: names, addresses, parties (NM1 loops), keys of shared resources.

Identity rules (see :mod:`etl.fhir.ids`; every id is an HMAC of the job salt and these keys):

- Patient: payer id + member id (``x12-member``); a dependent without its own id adds last name,
  first name and birth date (``x12-dependent``). 834 and 837 of one member converge when the payer
  id (837 2010BB NM109 / 834 N1*IN N104) and member id (837 2010BA NM109 / 834 REF*0F) agree. Two
  different subscribers under one member id are never merged: :mod:`etl.sources.x12.people`.
- Coverage (837): payer id + member id + SBR03 group (``x12-member``), the key the 835 computes again
  from REF*2U / NM109 / REF*1L; a dependent's Coverage adds its Patient id (:func:`coverage_id`).
- Organization / Practitioner: NPI when sent (NM108 = XX), else the sender's id for that party.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import orjson

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.fhir.datatypes import MAX_DIGITS, decimal, digits, parse_decimal, ts_to_fhir
from etl.fhir.ids import reference
from etl.sources.x12 import codes
from etl.sources.x12.model import Seg

Resource = dict[str, Any]


@lru_cache(maxsize=4096)
def local_system(kind: str, qualifier: str = "") -> str:
    """A fhirflow URI for identifiers that only the sender defines (payer ids, member ids)."""
    return codes.LOCAL + kind + (f"/{quote(qualifier, safe='')}" if qualifier else "")


def human_name(nm1: Seg) -> dict[str, Any] | None:
    """NM103 family, NM104 first, NM105 middle, NM106 prefix, NM107 suffix → HumanName."""
    family, first, middle, prefix, suffix = nm1.els(8)[3:]
    name: dict[str, Any] = {}
    if family:
        name["family"] = family
    if first or middle:
        name["given"] = [g for g in (first, middle) if g]
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name or None


def address(n3: Seg | None, n4: Seg | None) -> dict[str, Any] | None:
    """N301/N302 lines, N401 city, N402 state, N403 postal code, N404 country → Address."""
    addr: dict[str, Any] = {}
    if n3 is not None:
        _, line1, line2 = n3.els(3)
        if line1 or line2:
            addr["line"] = [x for x in (line1, line2) if x]
    if n4 is not None:
        _, city, state, postal, country = n4.els(5)
        if city:
            addr["city"] = city
        if state:
            addr["state"] = state
        if postal:
            addr["postalCode"] = postal
        if country:
            addr["country"] = country
    return addr or None


def date(value: str, ctx: MappingContext, path: str) -> str | None:
    """A D8 (CCYYMMDD) value as a FHIR date; a problem when it is not a date."""
    if not value:
        return None
    out = ts_to_fhir(value[:8], date_only=True) if len(value) >= 8 else None
    if out is None or len(out) != 10:
        ctx.problem("is not a valid CCYYMMDD date", path, value)
        return None
    return out


def period(fmt: str, value: str, ctx: MappingContext, path: str) -> dict[str, str] | None:
    """DTP02 format D8 / RD8 (CCYYMMDD-CCYYMMDD) → Period. An open-ended range (``20240101-``,
    ``-20240131``) keeps the end it has; a range that ends before it starts is a problem and keeps
    its start only (FHIR per-1: start <= end)."""
    if fmt == "RD8" and "-" in value:
        a, _, b = value.partition("-")
        start, end = date(a, ctx, path), date(b, ctx, path)
        if start and end and end < start:
            ctx.problem("the range ends before it starts; its end was left out", path)
            end = None
        out = {k: v for k, v in (("start", start), ("end", end)) if v}
        return out or None
    d = date(value, ctx, path)
    return {"start": d, "end": d} if d else None


def number(value: str, ctx: MappingContext, path: str) -> float | int | orjson.Fragment | None:
    """An X12 R (decimal) or N0 value as an exact JSON number (see :func:`etl.fhir.datatypes.decimal`:
    ``1E3``, negative zero and 18-digit values convert exactly). Not a number: a problem, None. A
    number of more than 18 digits (``1e309``, a 20-digit amount): X12 allows at most 18 and FHIR
    output cannot keep it, so a :class:`MappingError` (code ``value``) rejects what holds it."""
    if value == "":
        return None
    v = decimal(value)
    if v is None:
        d = parse_decimal(value)
        if d is not None:
            raise MappingError(f"the number has {digits(d)} digits: X12 numbers have at most {MAX_DIGITS}",
                               code="value").at_expression(path).quote(path, value)
        ctx.problem("is not a number", path, value)
    return v


_CENT = Decimal("0.01")


def money(value: str, ctx: MappingContext, path: str) -> dict[str, Any] | None:
    """An X12 R (decimal) amount (data element 782) → Money in USD; a problem when it is not a number
    (see :func:`number`). More than cents is a :class:`MappingError` (code ``value``) rejecting what
    holds it: the HIPAA TR3s limit DE 782 to dollars and cents (section B.1.1.3.1.2, "reported or
    implied places for cents"), and the analyst tables hold money as DECIMAL(20,2), exactly."""
    v = number(value, ctx, path)
    if v is None:
        return None
    if not _cents(value):
        raise MappingError("a monetary amount (X12 data element 782) with more than 2 decimal places: the TR3 "
                           "(B.1.1.3.1.2) limits amounts to cents", code="value").at_expression(path).quote(path, value)
    return {"value": v, "currency": "USD"}


def _cents(value: str) -> bool:
    """True when ``value`` (a valid X12 number) has no non-zero digit beyond the hundredths."""
    exp = "e" in value or "E" in value
    dot = value.find(".")
    if not exp:
        return dot < 0 or len(value[dot + 1:].rstrip("0")) <= 2
    d = parse_decimal(value)
    return d is None or d == d.quantize(_CENT)


def coding(system: str | None, code: str, display: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {}
    if system:
        c["system"] = system
    c["code"] = code
    if display:
        c["display"] = display
    return c


def concept(system: str | None, code: str, display: str | None = None) -> dict[str, Any]:
    # ``coding`` inlined: this runs for every code of every claim.
    if system:
        c: dict[str, Any] = {"system": system, "code": code}
    else:
        c = {"code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def info_category(code: str) -> dict[str, Any]:
    """A Claim/EOB ``supportingInfo.category``: CARIN's C4BBSupportingInfoType, except ``info``, which
    CARIN does not define (THO claiminformationcategory does)."""
    return concept(codes.CLAIM_INFO_CATEGORY if code == "info" else codes.C4BB_SUPPORTING_INFO, code)


def payer_organization(ctx: MappingContext, key: str, name: str = "", addr: dict[str, Any] | None = None) -> Resource:
    """The payer as an Organization (type ``pay``), keyed on its payer id alone so the 837, 835 and
    834 of one payer meet on one resource (837 NM1*PR NM109, 835 REF*2U / TRN03 / N104, 834 N104).

    :return: https://hl7.org/fhir/R4/organization.html (C4BB Organization)
    """
    res: Resource = {"resourceType": "Organization", "id": ctx.make("Organization", "x12-payer", key),
                     "identifier": [{"system": local_system("payer-id"), "value": key}], "active": True,
                     "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "pay")],
                     "name": name or key}
    if addr:
        res["address"] = [addr]
    return res


def patient_id(ctx: MappingContext, payer: str, member: str, dependent: tuple[str, str, str] | None = None) -> str:
    """The Patient id of a member (``dependent`` = last name, first name, birth date)."""
    if dependent is None:
        return ctx.make("Patient", "x12-member", payer, member)
    return ctx.make("Patient", "x12-dependent", payer, member, *(p.upper() for p in dependent))


def coverage_id(ctx: MappingContext, payer: str, member: str, group: str, dependent: str | None = None) -> str:
    """The Coverage id of a member's plan as an 837 names it (2010BB payer id, 2010BA member id, SBR03
    group) and the 835 can compute it again (REF*1L group); a dependent's (the Patient id of the
    beneficiary) is its own, as a Coverage names one beneficiary."""
    if dependent is None:
        return ctx.make("Coverage", "x12-member", payer, member, group)
    return ctx.make("Coverage", "x12-dependent", payer, member, group, dependent)


def party_id(ctx: MappingContext, nm1: Seg, scope: str) -> tuple[str, str]:
    """(resource type, id) of the party an NM1 names: Practitioner for a person (NM102 = 1),
    Organization otherwise; keyed by NPI (NM108 = XX) or by ``scope`` + qualifier + id + name."""
    e = nm1.els(10)
    rtype = "Practitioner" if e[2] == "1" else "Organization"
    if e[8] == "XX" and e[9]:
        return rtype, ctx.make(rtype, "npi", e[9])
    return rtype, ctx.make(rtype, "x12-party", scope, e[1], e[8], e[9], e[3], e[4])


def party(ctx: MappingContext, nm1: Seg, scope: str, n3: Seg | None = None, n4: Seg | None = None,
          refs: list[Seg] | None = None, org_type: str | None = None) -> Resource:
    """NM1 (+ N3/N4, REF) → Practitioner or Organization.

    :return: https://hl7.org/fhir/R4/organization.html or https://hl7.org/fhir/R4/practitioner.html
        (US Core / C4BB Organization and Practitioner: NPI and TIN identifiers)
    """
    rtype, rid = party_id(ctx, nm1, scope)
    res: Resource = {"resourceType": rtype, "id": rid}
    idents: list[dict[str, Any]] = []
    e = nm1.els(10)
    if e[9]:
        q = e[8]
        system = codes.ID_QUALIFIER_SYSTEM.get(q) or local_system("id", q or "unknown")
        ident: dict[str, Any] = {"system": system, "value": e[9]}
        if q == "XX":
            ident["type"] = concept(codes.V2_ID_TYPE, "NPI")
        idents.append(ident)
    for ref in refs or []:
        if ref.get(1) in ("EI", "TJ") and ref.get(2):
            idents.append({"type": concept(codes.V2_ID_TYPE, "TAX"), "system": codes.EIN, "value": ref.get(2)})
    if idents:
        res["identifier"] = idents
    res["active"] = True
    if rtype == "Organization":
        if org_type:
            res["type"] = [concept("http://terminology.hl7.org/CodeSystem/organization-type", org_type)]
        res["name"] = e[3] or "(name not sent)"
    else:
        name = human_name(nm1)
        if name:
            res["name"] = [name]
    addr = address(n3, n4)
    if addr:
        res["address"] = [addr]
    return res


def name_loop(segments: list[Seg], start: int) -> tuple[Seg | None, Seg | None, list[Seg], Seg | None]:
    """(N3, N4, REFs, DMG) following the NM1 at ``segments[start]`` in the same loop."""
    nm1 = segments[start]
    n3 = n4 = dmg = None
    refs: list[Seg] = []
    for j in range(start + 1, len(segments)):
        s = segments[j]
        if s.loop != nm1.loop or s.e[0] == "NM1":
            break
        sid = s.e[0]
        if sid == "N3":
            n3 = s
        elif sid == "N4":
            n4 = s
        elif sid == "REF":
            refs.append(s)
        elif sid == "DMG":
            dmg = s
    return n3, n4, refs, dmg


def ref(resource: Resource) -> dict[str, str]:
    return reference(resource["resourceType"], resource["id"])
