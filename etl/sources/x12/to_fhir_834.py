"""834 enrollment → FHIR R4 Patient, Coverage (one per 2300 HD) and RelatedPerson (dependents).

Source: ASC X12N 005010X220A1: 1000A sponsor (N1*P5), 1000B payer (N1*IN), 2000 INS member level
detail (INS01 subscriber flag, INS02 relationship, INS03 maintenance type), REF*0F subscriber id,
2100A NM1*IL (or NM1*74, corrected insured) member name/DMG, 2300 HD health coverage with DTP*348/349
benefit dates. Who is which Patient: :mod:`etl.sources.x12.people` (a dependent, INS01 = N, is its own
Patient; two subscribers under one member id are never merged).
Targets: https://hl7.org/fhir/R4/coverage.html, patient.html, relatedperson.html.
"""

from __future__ import annotations

from typing import Any

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.claims import check_faults, reject_claim
from etl.sources.x12.common import (
    Resource,
    address,
    concept,
    date,
    human_name,
    local_system,
    patient_id,
    payer_organization,
    ref,
)
from etl.sources.x12.model import Seg, Transaction
from etl.sources.x12.people import People

ROLE_CODE = {"01": "SPS", "19": "CHILD", "53": "DOMPART", "18": "ONESELF"}


def to_fhir_834(tx: Transaction, ctx: MappingContext) -> list[Resource]:
    """Every INS member → Patient (+ RelatedPerson for a dependent) and one Coverage per HD."""
    payer_nm = tx.first("N1", "1000B", "IN")
    sponsor_nm = tx.first("N1", "1000A", "P5")
    payer_key = (payer_nm.get(4) or payer_nm.get(2)) if payer_nm is not None else tx.env.gs03
    out: list[Resource] = []
    payer = payer_organization(ctx, payer_key, payer_nm.get(2) if payer_nm else "")
    out.append(payer)
    sponsor: Resource | None = None
    if sponsor_nm is not None and (sponsor_nm.get(4) or sponsor_nm.get(2)):
        skey = sponsor_nm.get(4) or sponsor_nm.get(2)
        sponsor = {"resourceType": "Organization", "id": ctx.make("Organization", "x12-sponsor", skey),
                   "identifier": [{"system": codes.EIN if sponsor_nm.get(3) == "FI" else local_system("sponsor"),
                                   "value": skey}], "active": True,
                   "name": sponsor_nm.get(2) or skey}
        out.append(sponsor)
    members: list[list[Seg]] = []
    for s in tx.segments:
        if s.e[0] == "INS":
            members.append([s])
        elif members and s.loop.startswith("2") and s.e[0] not in ("SE",):
            members[-1].append(s)
    people = People()
    subscriber_rejected = False
    for k, m in enumerate(members):
        ref0f = next((s.get(2) for s in m if s.e[0] == "REF" and s.get(1) == "0F"), "")
        try:  # a defect of this member rejects it alone (etl.sources.x12.claims)
            check_faults(tx, m[0])
            if subscriber_rejected and m[0].get(1) != "Y":
                raise MappingError("the dependent's subscriber (the INS01=Y member before it) was rejected: its "
                                   "Coverage would name a subscriber that is not converted", tx.env.location(m[0], "INS01"))
            res = to_fhir_member(tx, m, ctx, payer, sponsor, payer_key, people)
            subscriber_rejected = False
        except Exception as exc:  # noqa: BLE001 - reject_claim re-raises machine faults
            subscriber_rejected = subscriber_rejected or m[0].get(1) == "Y"
            reject_claim(ctx, tx, exc, m[0], tx.first_body + k, "REF*0F", ref0f)
            continue
        out += res
    return out


def to_fhir_member(
    tx: Transaction, m: list[Seg], ctx: MappingContext, payer: Resource, sponsor: Resource | None, payer_key: str,
    people: People,
) -> list[Resource]:
    """One 2000 member loop → Patient, RelatedPerson (dependent), Coverage per HD.

    :return: https://hl7.org/fhir/R4/coverage.html
    """
    ins = m[0]
    is_sub = ins.get(1) == "Y"
    rel, maint = ins.get(2), ins.get(3)
    ref0f = next((s.get(2) for s in m if s.e[0] == "REF" and s.get(1) == "0F"), "")
    nm1 = next((s for s in m if s.e[0] == "NM1" and s.loop == "2100A"), None)
    if not ref0f:
        raise MappingError("the member has no REF*0F subscriber identifier", tx.env.location(ins, "REF02"))
    if nm1 is None:
        raise MappingError("the member has no 2100A NM1*IL or NM1*74 member name", tx.env.location(ins, "2100A NM1"))
    dmg = next((s for s in m if s.e[0] == "DMG" and s.loop == "2100A"), None)
    n3 = next((s for s in m if s.e[0] == "N3" and s.loop == "2100A"), None)
    n4 = next((s for s in m if s.e[0] == "N4" and s.loop == "2100A"), None)
    patient: Resource = {"resourceType": "Patient", "id": ""}
    birth = date(dmg.get(2), ctx, "DMG02") if dmg is not None and dmg.get(1) == "D8" else None
    given = " ".join(x for x in (nm1.get(4), nm1.get(5)) if x)
    person = (nm1.get(3).upper(), given.upper(), birth or "")
    if is_sub:
        patient["id"] = people.subscriber_id(ctx, payer_key, ref0f, person, "2000 REF*0F")
    else:
        patient["id"] = patient_id(ctx, payer_key, ref0f, person)
    patient["identifier"] = [{"type": concept(codes.V2_ID_TYPE, "MB"), "system": local_system("member-id", payer_key),
                              "value": ref0f}]
    if nm1.get(9) and nm1.get(8) == "34":
        patient["identifier"].append({"type": concept(codes.V2_ID_TYPE, "SS"),
                                      "system": "http://hl7.org/fhir/sid/us-ssn", "value": nm1.get(9)})
    if name := human_name(nm1):
        patient["name"] = [name]
    if dmg is not None and dmg.get(3) in codes.GENDER:
        patient["gender"] = codes.GENDER[dmg.get(3)]
    if birth:
        patient["birthDate"] = birth
    if addr := address(n3, n4):
        patient["address"] = [addr]
    out: list[Resource] = [patient]
    # the dependent's subscriber is the one of its own REF*0F, not whichever member came before it
    subscriber_ref = ref(patient) if is_sub else people.subscriber_ref(ctx, payer_key, ref0f)
    if not is_sub:
        rp: Resource = {"resourceType": "RelatedPerson", "id": ctx.make("RelatedPerson", patient["id"]),
                        "active": maint != "024", "patient": subscriber_ref,
                        "relationship": [concept("http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                                 ROLE_CODE.get(rel, "FAMMEMB"))]}
        for k in ("name", "gender", "birthDate", "address"):
            if k in patient:
                rp[k] = patient[k]
        out.append(rp)
    # member-level dates: 356 eligibility begin, 357 eligibility end (2000 DTP)
    elig_start = next((date(s.get(3), ctx, "DTP03 (356)") for s in m if s.e[0] == "DTP" and s.loop == "2000" and s.get(1) == "356"), None)
    elig_end = next((date(s.get(3), ctx, "DTP03 (357)") for s in m if s.e[0] == "DTP" and s.loop == "2000" and s.get(1) == "357"), None)
    hds = [i for i, s in enumerate(m) if s.e[0] == "HD"]
    groups = [s.get(2) for s in m if s.e[0] == "REF" and s.get(1) == "1L"]
    for idx, hi in enumerate(hds):
        hd = m[hi]
        block = m[hi:hds[idx + 1]] if idx + 1 < len(hds) else m[hi:]
        block = [s for s in block if s.loop == "2300" or s is hd]
        hd_maint = hd.get(1) or maint
        start = next((date(s.get(3), ctx, "DTP03 (348)") for s in block if s.e[0] == "DTP" and s.get(1) == "348"), None)
        end = next((date(s.get(3), ctx, "DTP03 (349)") for s in block if s.e[0] == "DTP" and s.get(1) == "349"), None)
        status = codes.MAINTENANCE_STATUS.get(hd_maint)
        if status is None:
            ctx.problem("maintenance type code is not in X12 element 875", "HD01", hd_maint)
            status = "active"
        if maint == "024":
            status = "cancelled"
        cov: Resource = {"resourceType": "Coverage",
                         "id": ctx.make("Coverage", "x12-834", payer_key, patient["id"], hd.get(3), hd.get(4)),
                         "identifier": [{"type": concept(codes.V2_ID_TYPE, "MB"),
                                         "system": local_system("member-id", payer_key), "value": ref0f}],
                         "status": status}
        if hd.get(3):
            cov["type"] = concept(codes.INSURANCE_TYPE, hd.get(3))
        if sponsor is not None:
            cov["policyHolder"] = ref(sponsor)
        cov["subscriber"] = subscriber_ref
        cov["subscriberId"] = ref0f
        cov["beneficiary"] = ref(patient)
        cov["relationship"] = concept(codes.SUBSCRIBER_RELATIONSHIP, codes.RELATIONSHIP.get(rel, "other"))
        per = {k: v for k, v in (("start", start or elig_start), ("end", end or (elig_end if maint == "024" else None))) if v}
        if per:
            cov["period"] = per
        cov["payor"] = [ref(payer)]
        classes: list[dict[str, Any]] = []
        if groups:
            classes.append({"type": concept(codes.COVERAGE_CLASS, "group"), "value": groups[0]})
        if hd.get(4):
            classes.append({"type": concept(codes.COVERAGE_CLASS, "plan"), "value": hd.get(4)})
        if classes:
            cov["class"] = classes
        out.append(cov)
    return out
