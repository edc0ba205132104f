"""837 service details → ``Claim.facility``, ambulance ``supportingInfo``, drug ``item.detail`` and line
control numbers.

Source: ASC X12N 005010X222A1 (837P), X223A2 (837I), X224A2 (837D):

- service facility location: 837P/837D 2310C, 837I 2310E ``NM1*77`` + N3/N4 (NM109 its NPI) →
  ``Claim.facility`` (a ``Location`` managed by the facility's Organization);
- ambulance (837P): 2300/2400 ``CR1`` transport information (CR102 patient weight, CR104 transport
  reason, CR106 distance, CR109 round trip purpose, CR110 stretcher purpose), ``CRC*07`` ambulance
  certification (CRC02 answer, CRC03-07 conditions), 2310E/2420G ``NM1*PW`` pick-up and 2310F/2420H
  ``NM1*45`` drop-off location (N3/N4) → ``Claim.supportingInfo`` with CARIN BB's transportation
  categories (C4BBSupportingInfoType patientweight, ambulancetransportreason, transportationdistance,
  roudtrippurpose, stretcherpurpose, pickuplocation, dropofflocation, as C4BB-ExplanationOfBenefit-
  Professional-NonClinician slices them; the certification as ``info`` with the X12 condition code),
  each pointed to by ``item.informationSequence`` (CARIN's EOB-prof-all-transportation-supportinginfo-
  linked-to-line: a claim-level one by every line, a line-level one by its line);
- drug identification (2410): ``LIN03`` NDC (LIN02 = N4), ``CTP04`` quantity with ``CTP05-1`` unit,
  ``REF*XZ`` prescription number → ``item.detail`` (productOrService NDC, quantity in UCUM, as CARIN
  BB's Pharmacy EOB carries a drug in ``item.detail``), the prescription number in the fhirflow
  extension :data:`EXT_PRESCRIPTION` (R4 ``Claim.item.detail`` has no identifier);
- line item control number: 2400 ``REF*6R`` → the Da Vinci PAS ``extension-itemTraceNumber``
  (an Identifier that "uniquely identifies this claim item") on ``Claim.item``.

Targets: https://hl7.org/fhir/R4/claim.html, https://hl7.org/fhir/R4/location.html.
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.fhir.datatypes import decimal
from etl.sources.x12 import codes
from etl.sources.x12.common import (
    Resource,
    address,
    coding,
    concept,
    info_category,
    local_system,
    name_loop,
    party_id,
)
from etl.sources.x12.model import Seg

EXT_PRESCRIPTION = "https://fhirflow.dev/fhir/StructureDefinition/prescription-number"
EXT_ITEM_TRACE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber"
ROLE_LOOPS = {"PW": "pickuplocation", "45": "dropofflocation"}  # NM101 of 2310E/F and 2420G/H (837P)


class _Supporting:
    """Appends to a claim's supportingInfo; an entry made inside a line is pointed to by that line."""

    def __init__(self, claim: Resource) -> None:
        self.items: list[dict[str, Any]] = claim.get("item", [])
        self.entries: list[dict[str, Any]] = claim.setdefault("supportingInfo", [])
        self.claim_level: list[int] = []  # sequences every line points to
        self.line = -1

    def add(self, category: str, **value: Any) -> None:
        entry: dict[str, Any] = {"sequence": len(self.entries) + 1,
                                 "category": info_category(category), **value}
        self.entries.append(entry)
        if 0 <= self.line < len(self.items):
            self.items[self.line].setdefault("informationSequence", []).append(entry["sequence"])
        else:
            self.claim_level.append(entry["sequence"])


def add_services(claim: Resource, segs: list[Seg], ctx: MappingContext, submitter: str, kind: str,
                 out: list[Resource]) -> None:
    """Add facility, ambulance, drug and line-control details of one claim (segments ``segs``, CLM
    first) to ``claim``; a Location it names is appended to ``out``."""
    info = _Supporting(claim)
    items = info.items
    detail: dict[str, Any] | None = None
    for i, s in enumerate(segs):
        sid, loop = s.e[0], s.loop
        line = info.line
        if sid == "LX" and loop == "2400":
            info.line, detail = line + 1, None
        elif sid == "NM1" and s.get(1) == "77" and loop.startswith("2310"):
            claim["facility"] = _facility(s, segs, i, ctx, submitter, out)
        elif sid == "NM1" and s.get(1) in ROLE_LOOPS and kind == "837P" and loop.startswith(("2310", "2420")):
            n3, n4, _, _ = name_loop(segs, i)
            info.add(ROLE_LOOPS[s.get(1)], valueString=_place(s, n3, n4))
        elif sid == "CR1" and loop in ("2300", "2400"):
            _ambulance(s, info, ctx)
        elif sid == "CRC" and s.get(1) == "07" and loop in ("2300", "2400"):
            _certification(s, info)
        elif not 0 <= line < len(items):
            continue
        elif sid == "REF" and loop == "2400" and s.get(1) == "6R" and s.get(2):
            items[line].setdefault("extension", []).append(
                {"url": EXT_ITEM_TRACE, "valueIdentifier": {"system": local_system("line-item-control-number", submitter),
                                                           "value": s.get(2)}})
        elif loop == "2410":
            detail = _drug(s, items[line], detail, ctx, submitter)
    if info.claim_level:
        for item in items:
            item["informationSequence"] = info.claim_level + item.get("informationSequence", [])
    if not info.entries:
        claim.pop("supportingInfo")


def _facility(nm1: Seg, segs: list[Seg], i: int, ctx: MappingContext, submitter: str,
              out: list[Resource]) -> dict[str, str]:
    """2310C/2310E NM1*77 + N3/N4 → a Location (managed by the facility Organization the 837 mapper
    makes of the same NM1); returns the reference for ``Claim.facility``."""
    n3, n4, _, _ = name_loop(segs, i)
    addr = address(n3, n4)
    e = nm1.els(10)
    if e[8] == "XX" and e[9]:
        lid = ctx.make("Location", "npi", e[9])
    else:
        lid = ctx.make("Location", "x12-service-facility", submitter, e[3], e[8], e[9],
                       *(str(v) for v in (addr or {}).values()))
    loc: Resource = {"resourceType": "Location", "id": lid}
    if e[9]:
        system = codes.ID_QUALIFIER_SYSTEM.get(e[8]) or local_system("id", e[8] or "unknown")
        loc["identifier"] = [{"system": system, "value": e[9]}]
    loc["status"] = "active"
    loc["name"] = e[3] or "(name not sent)"
    if addr:
        loc["address"] = addr
    rtype, oid = party_id(ctx, nm1, submitter)
    loc["managingOrganization"] = {"reference": f"{rtype}/{oid}"}
    out.append(loc)
    return {"reference": f"Location/{lid}"}


def _place(nm1: Seg, n3: Seg | None, n4: Seg | None) -> str:
    # CARIN's pickuplocation / dropofflocation are strings: "name; street; city, state postal code".
    addr = address(n3, n4) or {}
    city = ", ".join(x for x in (addr.get("city"), " ".join(v for v in (addr.get("state"), addr.get("postalCode")) if v))
                     if x)
    return "; ".join(x for x in (nm1.get(3), *addr.get("line", []), city) if x) or "(address not sent)"


def _quantity(value: str, unit: str, ctx: MappingContext, path: str) -> dict[str, Any] | None:
    v = decimal(value) if value else None
    if v is None:
        if value:
            ctx.problem("is not a number", path)
        return None
    out: dict[str, Any] = {"value": v}
    if unit in codes.UNIT_UCUM:
        text, code = codes.UNIT_UCUM[unit]
        out.update(unit=text, system=codes.UCUM, code=code)
    elif unit:
        ctx.problem(f"unit code {unit!r} is not mapped to UCUM; the quantity is kept without its unit", path)
    return out


def _ambulance(cr1: Seg, info: _Supporting, ctx: MappingContext) -> None:
    """CR1 ambulance transport information → CARIN transportation supporting info."""
    if (weight := _quantity(cr1.get(2), cr1.get(1) or "LB", ctx, "CR102")) is not None:
        info.add("patientweight", valueQuantity=weight)
    reason = cr1.get(4)
    if reason:
        if reason not in codes.AMBULANCE_TRANSPORT_REASON_TEXT:
            ctx.problem(f"ambulance transport reason code {reason!r} is not A-E (X12 element 1317)", "CR104")
        info.add("ambulancetransportreason", reason={"coding": [coding(
            codes.AMBULANCE_TRANSPORT_REASON, reason, codes.AMBULANCE_TRANSPORT_REASON_TEXT.get(reason))]})
    if (distance := _quantity(cr1.get(6), cr1.get(5) or "DH", ctx, "CR106")) is not None:
        info.add("transportationdistance", valueQuantity=distance)
    if cr1.get(9):
        info.add("roudtrippurpose", valueString=cr1.get(9))
    if cr1.get(10):
        info.add("stretcherpurpose", valueString=cr1.get(10))


def _certification(crc: Seg, info: _Supporting) -> None:
    """CRC*07 ambulance certification: CRC02 Y/N, CRC03-07 condition codes → ``info`` entries."""
    answer = crc.get(2)
    for k in range(3, 8):
        code = crc.get(k)
        if code:
            info.add("info", code={"coding": [coding(codes.CONDITION_INDICATOR, code, codes.AMBULANCE_CONDITION_TEXT.get(code))]},
                 valueBoolean=answer == "Y")


def _drug(s: Seg, item: dict[str, Any], detail: dict[str, Any] | None, ctx: MappingContext,
          submitter: str) -> dict[str, Any] | None:
    """One 2410 segment (LIN, CTP, REF) into the line's drug ``detail``; returns the current detail."""
    sid = s.e[0]
    if sid == "LIN":
        if s.get(2) != "N4":
            ctx.problem(f"product id qualifier {s.get(2)!r} is not N4 (National Drug Code)", "LIN02")
        if not s.get(3):
            ctx.problem("drug identification without a product id", "LIN03")
            return None
        details: list[dict[str, Any]] = item.setdefault("detail", [])
        detail = {"sequence": len(details) + 1,
                  "productOrService": concept(codes.NDC if s.get(2) == "N4" else local_system("product-id", s.get(2)),
                                              s.get(3))}
        details.append(detail)
        return detail
    if detail is None:
        return None
    if sid == "CTP":
        if (q := _quantity(s.get(4), s.get(5, 1), ctx, "CTP04")) is not None:
            detail["quantity"] = q
    elif sid == "REF" and s.get(1) in ("XZ", "VY") and s.get(2):
        # XZ pharmacy prescription number; VY link sequence number (a compound's ingredient link)
        kind = "prescription-number" if s.get(1) == "XZ" else "link-sequence-number"
        detail.setdefault("extension", []).append(
            {"url": EXT_PRESCRIPTION if s.get(1) == "XZ" else f"https://fhirflow.dev/fhir/StructureDefinition/{kind}",
             "valueIdentifier": {"system": local_system(kind, submitter), "value": s.get(2)}})
    return detail
