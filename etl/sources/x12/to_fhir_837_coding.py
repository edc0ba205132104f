"""837 coded content: HI diagnoses and procedures (2300) and the 2400 service lines (LX, SV1/SV2/SV3).

Source: ASC X12N 005010X222A1 (SV1), X223A2 (SV2, HI with POA), X224A2 (SV3). Target: Claim.diagnosis,
Claim.procedure and Claim.item of https://hl7.org/fhir/R4/claim.html, CARIN BB naming.
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.common import coding, concept, date, money, number
from etl.sources.x12.model import Seg


def _icd(system: str, code: str) -> str:
    # X12 sends ICD-10-CM without the dot; FHIR's ICD-10-CM system uses the dotted form.
    if system == codes.ICD10CM and len(code) > 3 and "." not in code:
        return f"{code[:3]}.{code[3:]}"
    return code



def new_line(lx: Seg, items: list[dict[str, Any]]) -> dict[str, Any]:
    """2400 LX: a new claim item, numbered by LX01 (or by position when LX01 is not a number)."""
    lx01 = lx.get(1)
    # positiveInt: LX01 of up to 9 digits (a longer one, or none, numbers the line by position)
    line = {"sequence": int(lx01) if lx01.isascii() and lx01.isdigit() and 0 < len(lx01) <= 9 and int(lx01) > 0
            else len(items) + 1}
    items.append(line)
    return line


ITEM_ORDER = ("sequence", "careTeamSequence", "diagnosisSequence", "informationSequence", "revenue", "productOrService", "modifier",
               "servicedDate", "servicedPeriod", "locationCodeableConcept", "quantity", "unitPrice", "net",
               "bodySite", "subSite", "detail")


def order_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ITEM_ORDER if k in item}


def add_hi(s: Seg, kind: str, diagnoses: list[dict[str, Any]], procedures: list[dict[str, Any]],
        ctx: MappingContext) -> None:
    """HI01…HI12 composites: qualifier-1, code-2, date-4 (procedures), POA-9 (837I)."""
    for k in range(1, min(len(s.e), 13)):
        parts = s.comps(k)  # parts[j - 1] == s.get(k, j)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            continue
        q, code = parts[0], parts[1]
        if q in codes.HI_DIAGNOSIS:
            system, role = codes.HI_DIAGNOSIS[q]
            if kind != "837I":
                role = codes.DIAGNOSIS_ROLE_NON_INSTITUTIONAL.get(role, role)
            type_system, type_code = codes.DIAGNOSIS_ROLE[role]
            entry: dict[str, Any] = {"sequence": len(diagnoses) + 1,
                                     "diagnosisCodeableConcept": concept(system, _icd(system, code)),
                                     "type": [concept(type_system, type_code)]}
            poa = parts[8] if len(parts) > 8 else ""
            if kind == "837I" and poa:
                entry["onAdmission"] = concept(codes.POA, poa)
            diagnoses.append(entry)
        elif q in codes.HI_PROCEDURE:
            system, ptype = codes.HI_PROCEDURE[q]
            proc: dict[str, Any] = {"sequence": len(procedures) + 1,
                                    "type": [concept(codes.C4BB_PROCEDURE_TYPE, ptype)]}
            if len(parts) > 3 and parts[2] == "D8" and parts[3]:
                d = date(parts[3], ctx, f"HI{k:02d}-4")
                if d:
                    proc["date"] = d
            proc["procedureCodeableConcept"] = concept(system, code)
            procedures.append(proc)
        elif q in codes.HI_VALUE_QUALIFIERS:
            continue  # value/occurrence/condition codes: not mapped yet (kept in the source file)
        else:
            ctx.problem("HI code list qualifier is not mapped", f"HI{k:02d}-1", q)


def add_service(s: Seg, item: dict[str, Any], kind: str, facility: str, ctx: MappingContext) -> None:
    """SV1 (837P), SV2 (837I), SV3 (837D) → item code, modifiers, revenue, units, net, location."""
    sid = s.e[0]
    if sid == "SV2":
        rev = s.get(1)
        if rev:
            item["revenue"] = concept(codes.NUBC_REVENUE, rev)
        comp_el, charge_el, units_el = 2, 3, 5
    elif sid == "SV1":
        comp_el, charge_el, units_el = 1, 2, 4
    else:
        comp_el, charge_el, units_el = 1, 2, 6
    comps = s.comps(comp_el)
    if len(comps) >= 2 and comps[1]:
        system = codes.PRODUCT_SERVICE_SYSTEM.get(comps[0])
        code = comps[1]
        if comps[0] == "HC" and code[:1].isdigit():
            system = codes.CPT  # HCPCS Level I (CPT) codes are numeric
        elif system is None:
            ctx.problem("product/service id qualifier is not mapped", f"{sid}{comp_el:02d}-1", comps[0])
        item["productOrService"] = concept(system, code)
        mods = [m for m in comps[2:6] if m]
        if mods:
            item["modifier"] = [concept(codes.CPT if system == codes.CPT else codes.HCPCS, m) for m in mods]
    elif sid == "SV2" and "revenue" in item:
        item["productOrService"] = {"coding": [coding(codes.NUBC_REVENUE, item["revenue"]["coding"][0]["code"])]}
    net = money(s.get(charge_el), ctx, f"{sid}{charge_el:02d}")
    if net is not None:
        item["net"] = net
    q = number(s.get(units_el), ctx, f"{sid}{units_el:02d}")
    if q is not None:
        item["quantity"] = {"value": q}
    if sid == "SV1":
        pos = s.get(5) or facility
        if pos:
            item["locationCodeableConcept"] = concept(codes.CMS_POS, pos, codes.PLACE_OF_SERVICE.get(pos))
        ptrs = _pointers(s.comps(7))
        if ptrs:
            item["diagnosisSequence"] = ptrs
    elif sid == "SV3":
        pos = s.get(3) or facility
        if pos:
            item["locationCodeableConcept"] = concept(codes.CMS_POS, pos, codes.PLACE_OF_SERVICE.get(pos))
        # SV304: up to five oral cavity designation codes (X12 element 1361); resolved in _oral_sites
        item.setdefault("_areas", []).extend(a for a in s.comps(4) if a)
        ptrs = _pointers(s.comps(11))
        if ptrs:
            item["diagnosisSequence"] = ptrs
    elif facility and kind == "837I":
        pass


def _pointers(comps: list[str]) -> list[int]:
    """SV107 / SV311 diagnosis code pointers (1-12, X12 element 1328) → diagnosisSequence."""
    return [int(p) for p in comps if p.isascii() and p.isdigit() and len(p) <= 2 and int(p) > 0]
