"""837D oral content: teeth (TOO), oral cavity areas (SV304), tooth status (DN2), orthodontics (DN1).

Source: ASC X12N 005010X224A2. Target: Claim.item.bodySite/subSite and supportingInfo as CARIN BB Oral
(C4BB-ExplanationOfBenefit-Oral) names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.common import concept, local_system, number
from etl.sources.x12.model import Seg

Info = Callable[..., int]  # the claim's supportingInfo appender: (category, system, code, text, **value) -> sequence


def add_tooth(s: Seg, item: dict[str, Any], ctx: MappingContext) -> None:
    """TOO01 code list (JP), TOO02 tooth number, TOO03 surfaces: collected on the line, placed by
    :func:`oral_sites` once the line is complete."""
    tooth = s.get(2)
    if not tooth:
        ctx.problem("TOO segment without a tooth number", "TOO02")
        return
    if s.get(1) != codes.TOOTH_QUALIFIER:
        ctx.problem("tooth code list qualifier is not JP (ADA Universal); tooth kept as sent", "TOO01", s.get(1))
    surfaces = [x for x in s.comps(3) if x]
    item.setdefault("_teeth", []).append((s.get(1), tooth, surfaces))


def tooth_concept(qualifier: str, tooth: str) -> dict[str, Any]:
    if qualifier == codes.TOOTH_QUALIFIER:
        return concept(codes.TOOTH, tooth)
    return concept(local_system("tooth", qualifier or "unknown"), tooth)


def oral_sites(item: dict[str, Any], info: Info, ctx: MappingContext) -> None:
    """837D line body sites, as CARIN BB Oral does it (C4BB-ExplanationOfBenefit-Oral):

    - the first tooth (TOO02) → ``item.bodySite`` (ADA Universal tooth number), its surfaces (TOO03) →
      ``item.subSite`` (ADA tooth surface codes);
    - without a tooth, the first oral cavity area (SV304) → ``item.bodySite`` (ADA area of oral cavity);
    - every further tooth or area → a ``supportingInfo`` of category ``additionalbodysite`` that the line
      points to with ``item.informationSequence`` (R4 has one bodySite per item).
    """
    teeth: list[tuple[str, str, list[str]]] = item.pop("_teeth", [])
    areas: list[str] = item.pop("_areas", [])
    sites = [tooth_concept(q, t) for q, t, _ in teeth] + [concept(codes.ORAL_CAVITY, a) for a in areas]
    if not sites:
        return
    item["bodySite"] = sites[0]
    if teeth and teeth[0][2]:
        item["subSite"] = [concept(codes.SURFACE, x) for x in teeth[0][2]]
    for _, tooth, surfaces in teeth[1:]:
        if surfaces:
            ctx.problem("the surfaces of a second tooth cannot be kept: item.subSite holds the first tooth's", "TOO03", tooth)
    for site in sites[1:]:
        code = site["coding"][0]
        seq = info("additionalbodysite", code.get("system"), code["code"])
        item.setdefault("informationSequence", []).append(seq)


def tooth_status(s: Seg, info: Info, ctx: MappingContext) -> None:
    """DN2 tooth status (2300): DN201 tooth number, DN202 status (M missing, E to be extracted), DN205 JP.

    A missing tooth is CARIN's ``missingtoothnumber`` supporting info; a tooth to be extracted is kept as
    ``info`` with the status as text.
    """
    tooth, status = s.get(1), s.get(2)
    if not tooth:
        ctx.problem("DN2 without a tooth number", "DN201")
        return
    q = s.get(5) or codes.TOOTH_QUALIFIER
    tc = tooth_concept(q, tooth)["coding"][0]
    if status == "M":
        info("missingtoothnumber", tc.get("system"), tooth)
    elif status in codes.TOOTH_STATUS:
        info("info", tc.get("system"), tooth, valueString=f"tooth status: {codes.TOOTH_STATUS[status]}")
    else:
        ctx.problem("tooth status code is not E or M (X12 element 1368)", "DN202", status)


def orthodontics(s: Seg, placed: str | None, info: Info, ctx: MappingContext) -> None:
    """DN1 orthodontic total months of treatment (DN101), months remaining (DN102) and DTP*452 appliance
    placement date → CARIN ``orthodontics`` supporting info (total, placement date) and an ``info`` entry
    (remaining); months as UCUM ``mo`` quantities."""
    for k in (1, 2):
        raw = s.get(k)
        if not raw:
            continue
        months = number(raw, ctx, f"DN1{k:02d}")
        if months is None:
            continue
        quantity = {"value": months, "unit": "month", "system": "http://unitsofmeasure.org", "code": "mo"}
        if k == 1:
            timing = {"timingDate": placed} if placed else {}
            info("orthodontics", **timing, valueQuantity=quantity)
        else:
            info("info", text="orthodontic treatment months remaining (DN102)", valueQuantity=quantity)
