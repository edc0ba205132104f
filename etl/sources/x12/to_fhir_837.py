"""837P / 837I / 837D claims → FHIR R4 Claim, Patient, Coverage, Organization, Practitioner.

Sources: ASC X12N 005010X222A1 (837P), X223A2 (837I), X224A2 (837D): 1000A submitter, 2000A/2010AA
billing provider, 2010AB pay-to, 2000B SBR + 2010BA subscriber + 2010BB payer, 2000C/2010CA patient,
2300 CLM claim, 2310x providers, 2400 LX service lines; other payers (2320/2330/2430) in
:mod:`etl.sources.x12.to_fhir_837_other_payers`, service facility, ambulance, drugs and line control
numbers in :mod:`etl.sources.x12.to_fhir_837_services`. Targets follow CARIN Blue Button naming
(http://hl7.org/fhir/us/carin-bb/) on https://hl7.org/fhir/R4/claim.html.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.adjudication import care_team_role
from etl.sources.x12.claims import check_charges, check_faults, reject_claim
from etl.sources.x12.common import (
    Resource,
    address,
    coding,
    concept,
    coverage_id,
    date,
    human_name,
    info_category,
    local_system,
    money,
    name_loop,
    number,
    party,
    patient_id,
    payer_organization,
    period,
    ref,
)
from etl.sources.x12.model import Seg, Transaction
from etl.sources.x12.people import People, person_of
from etl.sources.x12.to_fhir_837_other_payers import add_other_payers
from etl.sources.x12.to_fhir_837_services import add_services

CLAIM_TYPE = {"837P": "professional", "837I": "institutional", "837D": "oral"}
CLAIM_SUPERSEDED = {"7": "replacement", "8": "void"}


def _fail(msg: str, tx: Transaction, seg: Seg | None, expr: str) -> MappingError:
    return MappingError(msg, tx.env.location(seg, expr), code="required")


class _Ctx:
    """The hierarchical context a claim inherits while the segments are walked."""

    def __init__(self) -> None:
        self.billing: Resource | None = None
        self.payto: Resource | None = None
        self.subscriber: Resource | None = None
        self.sub_nm1: Seg | None = None
        self.sbr: Seg | None = None
        self.payer: Resource | None = None
        self.payer_id = ""
        self.member_id = ""
        self.patient: Resource | None = None
        self.coverage: Resource | None = None
        self.sub_error: MappingError | None = None  # a subscriber problem every claim under it shares


def to_fhir_837(tx: Transaction, ctx: MappingContext) -> Iterator[Resource]:
    """Map one 837 transaction set (or part): every CLM gives a Claim; shared parties are emitted
    once per unit (the NDJSON sink deduplicates them across units).

    Resources are yielded claim by claim, each complete when yielded (the billing provider's pay-to
    address and the member ids are filled in before the first claim that uses them), so the
    pipeline can serialize them as they come instead of holding 5,000 claims of dicts.
    """
    segs = tx.segments
    out: list[Resource] = []
    emitted: set[str] = set()

    def emit(res: Resource) -> None:
        if res["id"] not in emitted:
            emitted.add(res["id"])
            out.append(res)

    submitter = ""
    created = None
    bht = tx.first("BHT")
    if bht is not None:
        created = date(bht.get(4), ctx, "BHT04")
    c = _Ctx()
    people = People()
    i = 0
    n = len(segs)
    ordinal = 0  # claims of this unit so far
    while i < n:
        s = segs[i]
        sid, loop = s.e[0], s.loop
        if sid == "NM1" and loop == "1000A":
            submitter = s.get(9)
        elif sid == "HL":
            level = s.get(3)
            if level == "20":
                c = _Ctx()
            elif level == "22":
                c.subscriber = c.patient = c.coverage = c.payer = c.sbr = c.sub_nm1 = None
                c.sub_error = None
            else:
                c.patient = c.coverage = None  # a dependent has a Coverage of its own (beneficiary)
        elif sid == "SBR" and loop == "2000B":
            c.sbr = s
        elif sid == "NM1" and loop in ("2010AA", "2010AB", "2010BA", "2010BB", "2010CA"):
            n3, n4, refs, dmg = name_loop(segs, i)
            if loop == "2010AA":
                c.billing = party(ctx, s, tx.env.gs02, n3, n4, refs, "prov")
                emit(c.billing)
            elif loop == "2010AB":
                c.payto = None  # pay-to address only: kept on the billing provider's Organization below
                if c.billing is not None and (addr := address(n3, n4)):
                    c.billing.setdefault("address", [])
                    if addr not in c.billing["address"]:
                        c.billing["address"].append({**addr, "use": "billing"})
            elif loop == "2010BB":
                c.payer_id = s.get(9) or s.get(3)
                c.payer = _payer(ctx, s, n3, n4)
                emit(c.payer)
            elif loop == "2010BA":
                c.sub_nm1 = s
                c.member_id = s.get(9)
                if not c.member_id:  # rejects each claim of this subscriber, each with its own record
                    c.sub_error = _fail("the subscriber has no member id (NM109)", tx, s, "2010BA NM109")
                c.subscriber = _patient(s, n3, n4, dmg, ctx, "")
            else:  # 2010CA patient (a dependent)
                c.patient = _patient(s, n3, n4, dmg, ctx, "dependent")
        elif sid == "CLM":
            end = i + 1
            while end < n and segs[end].e[0] not in ("CLM", "HL", "SE"):
                end += 1
            ordinal += 1
            try:  # a defect of this claim rejects it alone (etl.sources.x12.claims)
                check_faults(tx, s)
                if c.sub_error is not None:
                    raise c.sub_error
                if c.billing is None or c.subscriber is None or c.sub_nm1 is None or c.payer is None:
                    raise _fail("claim without billing provider (2010AA), subscriber (2010BA) or payer (2010BB)",
                                tx, s, "2000B")
                # the shared parties again: a rejected claim before this one may have taken them back
                emit(c.billing)
                emit(c.payer)
                _finish_people(c, ctx, people)
                assert c.subscriber is not None and c.coverage is not None
                patient = c.patient or c.subscriber
                emit(patient)
                if c.patient is not None:
                    emit(c.subscriber)
                emit(c.coverage)
                claim, extra = to_fhir_claim(tx, segs[i:end], ctx, submitter or tx.env.gs02, created, patient,
                                             c.coverage, c.payer, c.billing)
                check_charges(tx, segs[i:end])
                for res in extra:
                    emit(res)
                out.append(claim)
                yield from out
            except Exception as exc:  # noqa: BLE001 - reject_claim re-raises machine faults
                # what only this claim introduced is not written: the next claim emits it again
                emitted.difference_update(r["id"] for r in out)
                reject_claim(ctx, tx, exc, s, tx.first_body + ordinal - 1, "CLM01", s.get(1))
            out.clear()
            i = end
            continue
        i += 1
    yield from out


def _payer(ctx: MappingContext, nm1: Seg, n3: Seg | None, n4: Seg | None) -> Resource:
    """2010BB NM1*PR → Organization (type pay), keyed on the payer id NM109."""
    return payer_organization(ctx, nm1.get(9) or nm1.get(3), nm1.get(3), address(n3, n4))


def _patient(nm1: Seg, n3: Seg | None, n4: Seg | None, dmg: Seg | None, ctx: MappingContext, role: str) -> Resource:
    """2010BA / 2010CA NM1 + N3/N4 + DMG → Patient (id set later, when the payer is known).

    :return: https://hl7.org/fhir/R4/patient.html (C4BB Patient)
    """
    res: Resource = {"resourceType": "Patient", "id": ""}
    if name := human_name(nm1):
        res["name"] = [name]
    if dmg is not None:
        sex = dmg.get(3)
        if sex:
            if sex in codes.GENDER:
                res["gender"] = codes.GENDER[sex]
            else:
                ctx.problem("gender code is not F, M or U", "DMG03", sex)
        if dmg.get(1) == "D8" and dmg.get(2):
            birth = date(dmg.get(2), ctx, "DMG02")
            if birth:
                res["birthDate"] = birth
    if addr := address(n3, n4):
        res["address"] = [addr]
    res["_role"] = role
    return res


def _finish_people(c: _Ctx, ctx: MappingContext, people: People) -> None:
    """Ids of subscriber/patient and the Coverage once the payer is known (2010BB follows 2010BA).

    Keys: :mod:`etl.sources.x12.people` (a dependent is its own Patient; two subscribers under one
    member id are never merged). The Coverage is the subscriber's (payer, member id, SBR03 group) and,
    for a dependent's claims, the dependent's own: a Coverage names one beneficiary.
    """
    assert c.subscriber is not None and c.sub_nm1 is not None and c.payer is not None
    if c.subscriber.get("_role") is not None:
        c.subscriber.pop("_role")
        c.subscriber["id"] = people.subscriber_id(ctx, c.payer_id, c.member_id, person_of(c.subscriber), "2010BA NM109")
        c.subscriber["identifier"] = [{"type": concept(codes.V2_ID_TYPE, "MB"),
                                       "system": local_system("member-id", c.payer_id), "value": c.member_id}]
        c.subscriber = {k: c.subscriber[k] for k in ("resourceType", "id", "identifier", *[
            k for k in c.subscriber if k not in ("resourceType", "id", "identifier")])}
    if c.patient is not None and c.patient.get("_role") is not None:
        c.patient.pop("_role")
        c.patient["id"] = patient_id(ctx, c.payer_id, c.member_id, person_of(c.patient))
    if c.coverage is None:
        sbr = c.sbr
        rel = "self"
        if c.patient is not None:
            rel = "other"
            # 2000C PAT01 individual relationship code: the patient's relation to the subscriber
        if sbr is not None and sbr.get(2):
            rel = codes.RELATIONSHIP.get(sbr.get(2), "other")
        cov: Resource = {
            "resourceType": "Coverage",
            "id": coverage_id(ctx, c.payer_id, c.member_id, sbr.get(3) if sbr else "", _own_key(c, ctx)),
            "identifier": [{"type": concept(codes.V2_ID_TYPE, "MB"), "system": local_system("member-id", c.payer_id),
                            "value": c.member_id}],
            "status": "active",
        }
        if sbr is not None and sbr.get(9):
            cov["type"] = concept(codes.CLAIM_FILING, sbr.get(9))
        cov["subscriber"] = ref(c.subscriber)
        cov["subscriberId"] = c.member_id
        cov["beneficiary"] = ref(c.patient or c.subscriber)
        cov["relationship"] = concept(codes.SUBSCRIBER_RELATIONSHIP, rel)
        cov["payor"] = [ref(c.payer)]
        if sbr is not None and (sbr.get(3) or sbr.get(4)):
            cls: dict[str, Any] = {"type": concept(codes.COVERAGE_CLASS, "group"), "value": sbr.get(3) or sbr.get(4)}
            if sbr.get(4):
                cls["name"] = sbr.get(4)
            cov["class"] = [cls]
        if sbr is not None and sbr.get(1) in codes.PAYER_SEQUENCE:
            cov["order"] = codes.PAYER_SEQUENCE[sbr.get(1)]
        c.coverage = cov


def _own_key(c: _Ctx, ctx: MappingContext) -> str | None:
    """The beneficiary's Patient id when it is not the member id's own (a dependent, or a second person
    under one member id): their Coverage is theirs alone."""
    beneficiary = c.patient or c.subscriber
    assert beneficiary is not None
    return None if beneficiary["id"] == patient_id(ctx, c.payer_id, c.member_id) else str(beneficiary["id"])


def _icd(system: str, code: str) -> str:
    # X12 sends ICD-10-CM without the dot; FHIR's ICD-10-CM system uses the dotted form.
    if system == codes.ICD10CM and len(code) > 3 and "." not in code:
        return f"{code[:3]}.{code[3:]}"
    return code


def _accident(clm: Seg, segs: list[Seg], ctx: MappingContext) -> dict[str, Any] | None:
    """CLM11 related causes (AA auto accident, EM employment, OA other accident) + 2300 DTP*439
    accident date → Claim.accident; CLM11-4/-5 are the state and country of an auto accident."""
    causes = [clm.get(11, i) for i in (1, 2, 3) if clm.get(11, i)]
    kinds = [codes.RELATED_CAUSE[c] for c in causes if c in codes.RELATED_CAUSE]
    if not kinds:
        return None
    when = next((s for s in segs if s.e[0] == "DTP" and s.loop == "2300" and s.get(1) == "439"), None)
    day = date(when.get(3), ctx, "DTP03 (439 accident date)") if when is not None else None
    if day is None:
        # R4 requires Claim.accident.date: without DTP*439 the cause cannot be recorded there.
        ctx.problem("a related cause is given without a 2300 DTP*439 accident date; "
                    "Claim.accident was left out", "CLM11", clm.get(11))
        return None
    out: dict[str, Any] = {"date": day}
    code, display = kinds[0]
    out["type"] = concept(codes.ACT_INCIDENT, code, display) if code else {"text": display}
    state, country = clm.get(11, 4), clm.get(11, 5)
    if state or country:
        out["locationAddress"] = {k: v for k, v in (("state", state), ("country", country)) if v}
    return out


def to_fhir_claim(
    tx: Transaction, segs: list[Seg], ctx: MappingContext, submitter: str, created: str | None,
    patient: Resource, coverage: Resource, payer: Resource, billing: Resource,
) -> tuple[Resource, list[Resource]]:
    """2300 CLM (+ 2310x, 2320, 2400) → Claim; returns the Claim and the care-team parties.

    :return: https://hl7.org/fhir/R4/claim.html (CARIN BB naming; http://hl7.org/fhir/us/carin-bb/)
    """
    clm = segs[0]
    kind = tx.kind
    clm01 = clm.get(1)
    if not clm01:
        raise _fail("CLM01 patient control number is empty: the claim cannot be identified", tx, clm, "CLM01")
    total = money(clm.get(2), ctx, "CLM02")
    if total is None:
        raise _fail("CLM02 total claim charge amount is missing or not a number", tx, clm, "CLM02")
    facility, qual, freq = clm.get(5, 1), clm.get(5, 2), clm.get(5, 3)
    if clm.alien_separator(5):
        ctx.problem("the composite uses '>' although ISA16 declares another component separator; read as '>'",
                    "CLM05")
    if not facility:
        raise _fail("CLM05-1 place of service / facility type code is missing", tx, clm, "CLM05-1")
    if not freq:
        raise _fail("CLM05-3 claim frequency type code is missing", tx, clm, "CLM05-3")
    if freq not in codes.CLAIM_FREQUENCY_TEXT:
        ctx.problem("claim frequency code is not in the NUBC list (0-9)", "CLM05-3", freq)
    claim: Resource = {
        "resourceType": "Claim",
        "id": ctx.make("Claim", submitter, clm01),
        "identifier": [
            {"type": concept("http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType", "uc"),
             "system": local_system("claim", submitter), "value": clm01},
            {"system": local_system("patient-control-number"), "value": clm01},
        ],
        "status": "entered-in-error" if freq == "8" else "active",
        "type": concept(codes.CLAIM_TYPE, CLAIM_TYPE[kind]),
        "use": "claim",
        "patient": ref(patient),
    }
    extra: list[Resource] = []
    lines: list[Seg] = []  # 2400 DTP*472 service dates
    bp = None
    for s in segs:
        if s.e[0] != "DTP":
            continue
        loop, q = s.loop, s.get(1)
        if loop == "2400":
            if q == "472":
                lines.append(s)
        elif loop == "2300":
            if q == "434":
                bp = period(s.get(2), s.get(3), ctx, "DTP03 (434 statement dates)")
            elif q == "472" and bp is None:
                bp = period(s.get(2), s.get(3), ctx, "DTP03 (472 claim service date)")  # 837P/837D 2300
    if bp is None and lines:
        periods = [p for s in lines if (p := period(s.get(2), s.get(3), ctx, "DTP03 (472 service date)"))]
        starts = [p.get("start") or p["end"] for p in periods]  # open-ended RD8: the bound it has
        ends = [p.get("end") or p["start"] for p in periods]
        if periods:
            bp = {"start": min(starts), "end": max(ends)}
    if bp:
        claim["billablePeriod"] = bp
    claim["created"] = created or (bp or {}).get("start") or _fallback_created(tx)
    if (accident := _accident(clm, segs, ctx)) is not None:
        claim["accident"] = accident
    claim["insurer"] = ref(payer)
    claim["provider"] = ref(billing)
    claim["priority"] = concept(codes.PROCESS_PRIORITY, "normal")
    related = []
    supporting: list[dict[str, Any]] = []
    diagnoses: list[dict[str, Any]] = []
    procedures: list[dict[str, Any]] = []
    care_team: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []

    def info(category: str, system: str | None = None, code: str | None = None, text: str | None = None,
             **value: Any) -> int:
        entry: dict[str, Any] = {"sequence": len(supporting) + 1, "category": info_category(category)}
        if code:
            entry["code"] = concept(system, code)
        elif text:
            entry["code"] = {"text": text}
        entry.update(value)
        supporting.append(entry)
        return int(entry["sequence"])

    info("patientaccountnumber", valueString=clm01)
    if kind == "837I":
        tob = f"0{facility}{freq}" if qual == "A" else f"{facility}{freq}"
        info("typeofbill", codes.NUBC_TYPE_OF_BILL, tob)
    if freq in CLAIM_SUPERSEDED or freq != "1":
        info("info", codes.CLAIM_FREQUENCY, freq, valueString=codes.CLAIM_FREQUENCY_TEXT.get(freq, freq))
    pre_auth: list[str] = []
    appliance_placed: str | None = None
    current_line: dict[str, Any] | None = None
    for i in range(1, len(segs)):
        s = segs[i]
        e = s.e
        sid, loop = e[0], s.loop
        if loop == "2300":
            q = e[1] if len(e) > 1 else ""
            if sid == "REF":
                if q == "F8" and s.get(2):
                    related.append({"claim": {"identifier": {"system": local_system("payer-claim-control-number"),
                                                             "value": s.get(2)}},
                                    "relationship": concept(codes.RELATED_CLAIM, "prior")})
                elif q == "G1" and s.get(2):
                    pre_auth.append(s.get(2))  # prior authorization number -> insurance.preAuthRef
            elif sid == "DTP":
                if q == "435":
                    d = date(s.get(3)[:8], ctx, "DTP03 (435 admission date)")
                    if d:
                        info("admissionperiod", timingPeriod={"start": d})
                elif q == "452":
                    appliance_placed = date(s.get(3)[:8], ctx, "DTP03 (452 appliance placement date)")
            elif sid == "HI":
                _hi(s, kind, diagnoses, procedures, ctx)
            elif sid == "CL1":
                if q:
                    info("admtype", codes.NUBC_PRIORITY, q)
                if s.get(2):
                    info("pointoforigin", codes.NUBC_POINT_OF_ORIGIN, s.get(2))
                if s.get(3):
                    info("discharge-status", codes.NUBC_PATIENT_STATUS, s.get(3))
            elif sid == "DN1":
                _orthodontics(s, appliance_placed, info, ctx)
            elif sid == "DN2":
                _tooth_status(s, info, ctx)
        elif loop == "2400":
            if current_line is None:
                if sid == "LX":
                    current_line = _line(s, items)
            elif sid in ("SV1", "SV2", "SV3"):
                _service(s, current_line, kind, facility, ctx)
            elif sid == "DTP":
                if s.get(1) == "472":
                    p = period(s.get(2), s.get(3), ctx, "DTP03 (472 service date)")
                    if p:
                        if p.get("start") == p.get("end"):
                            current_line["servicedDate"] = p["start"]
                        else:
                            current_line["servicedPeriod"] = p
            elif sid == "LX":
                current_line = _line(s, items)
            elif sid == "TOO":
                _tooth(s, current_line, ctx)
        elif sid == "NM1" and loop.startswith(("2310", "2420")):
            role = care_team_role(s.get(1))
            n3, n4, refs, _ = name_loop(segs, i)
            if role is not None:
                p = party(ctx, s, submitter, n3, n4, refs, "prov")
                extra.append(p)
                member = _care_team_member(care_team, ref(p), role)
                if loop.startswith("2420") and current_line is not None:
                    current_line.setdefault("careTeamSequence", []).append(member["sequence"])
            elif s.get(1) == "77" and loop.startswith("2310"):
                extra.append(party(ctx, s, submitter, n3, n4, refs, "prov"))
    for item in items:
        _oral_sites(item, info, ctx)
    if related:
        claim["related"] = related
    if care_team:
        claim["careTeam"] = care_team
    claim["supportingInfo"] = supporting
    if diagnoses:
        claim["diagnosis"] = diagnoses
    if procedures:
        claim["procedure"] = procedures
    claim["insurance"] = [{"sequence": 1, "focal": True, "coverage": ref(coverage)}]
    if pre_auth:
        claim["insurance"][0]["preAuthRef"] = pre_auth
    for item in items:
        if "productOrService" not in item:
            raise _fail(f"service line {item['sequence']} has no SV1/SV2/SV3 (the procedure billed)", tx, None,
                        "2400 SV1")
        item.pop("_pointers", None)
        item.setdefault("servicedDate", claim.get("billablePeriod", {}).get("start")) if "servicedPeriod" not in item else None
        if item.get("servicedDate") is None:
            item.pop("servicedDate", None)
    claim["item"] = [_order_item(it) for it in items]
    claim["total"] = total
    add_other_payers(claim, segs, ctx, patient, coverage, extra)  # 2320/2330/2430
    add_services(claim, segs, ctx, submitter, kind, extra)  # facility, ambulance, drugs, REF*6R
    return claim, extra


def _care_team_member(care_team: list[dict[str, Any]], provider: dict[str, str], role: dict[str, Any]) -> dict[str, Any]:
    """The care team entry of ``provider`` in ``role``, added once however many lines name it (an ordering
    provider repeated in every 2420E)."""
    for member in care_team:
        if member["provider"] == provider and member["role"] == role:
            return member
    member = {"sequence": len(care_team) + 1, "provider": provider, "role": role}
    care_team.append(member)
    return member


def _line(lx: Seg, items: list[dict[str, Any]]) -> dict[str, Any]:
    """2400 LX: a new claim item, numbered by LX01 (or by position when LX01 is not a number)."""
    lx01 = lx.get(1)
    # positiveInt: LX01 of up to 9 digits (a longer one, or none, numbers the line by position)
    line = {"sequence": int(lx01) if lx01.isascii() and lx01.isdigit() and 0 < len(lx01) <= 9 and int(lx01) > 0
            else len(items) + 1}
    items.append(line)
    return line


_ITEM_ORDER = ("sequence", "careTeamSequence", "diagnosisSequence", "informationSequence", "revenue", "productOrService", "modifier",
               "servicedDate", "servicedPeriod", "locationCodeableConcept", "quantity", "unitPrice", "net",
               "bodySite", "subSite", "detail")


def _order_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in _ITEM_ORDER if k in item}


def _fallback_created(tx: Transaction) -> str:
    # Claim.created is required: without BHT04 and service dates, use the interchange date ISA09.
    d = tx.env.isa_date
    return f"20{d[:2]}-{d[2:4]}-{d[4:6]}" if len(d) == 6 and d.isdigit() else "1900-01-01"


def _hi(s: Seg, kind: str, diagnoses: list[dict[str, Any]], procedures: list[dict[str, Any]],
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


def _service(s: Seg, item: dict[str, Any], kind: str, facility: str, ctx: MappingContext) -> None:
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


_Info = Callable[..., int]  # the claim's supportingInfo appender: (category, system, code, text, **value) -> sequence


def _tooth(s: Seg, item: dict[str, Any], ctx: MappingContext) -> None:
    """TOO01 code list (JP), TOO02 tooth number, TOO03 surfaces: collected on the line, placed by
    :func:`_oral_sites` once the line is complete."""
    tooth = s.get(2)
    if not tooth:
        ctx.problem("TOO segment without a tooth number", "TOO02")
        return
    if s.get(1) != codes.TOOTH_QUALIFIER:
        ctx.problem("tooth code list qualifier is not JP (ADA Universal); tooth kept as sent", "TOO01", s.get(1))
    surfaces = [x for x in s.comps(3) if x]
    item.setdefault("_teeth", []).append((s.get(1), tooth, surfaces))


def _tooth_concept(qualifier: str, tooth: str) -> dict[str, Any]:
    if qualifier == codes.TOOTH_QUALIFIER:
        return concept(codes.TOOTH, tooth)
    return concept(local_system("tooth", qualifier or "unknown"), tooth)


def _oral_sites(item: dict[str, Any], info: _Info, ctx: MappingContext) -> None:
    """837D line body sites, as CARIN BB Oral does it (C4BB-ExplanationOfBenefit-Oral):

    - the first tooth (TOO02) → ``item.bodySite`` (ADA Universal tooth number), its surfaces (TOO03) →
      ``item.subSite`` (ADA tooth surface codes);
    - without a tooth, the first oral cavity area (SV304) → ``item.bodySite`` (ADA area of oral cavity);
    - every further tooth or area → a ``supportingInfo`` of category ``additionalbodysite`` that the line
      points to with ``item.informationSequence`` (R4 has one bodySite per item).
    """
    teeth: list[tuple[str, str, list[str]]] = item.pop("_teeth", [])
    areas: list[str] = item.pop("_areas", [])
    sites = [_tooth_concept(q, t) for q, t, _ in teeth] + [concept(codes.ORAL_CAVITY, a) for a in areas]
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


def _tooth_status(s: Seg, info: _Info, ctx: MappingContext) -> None:
    """DN2 tooth status (2300): DN201 tooth number, DN202 status (M missing, E to be extracted), DN205 JP.

    A missing tooth is CARIN's ``missingtoothnumber`` supporting info; a tooth to be extracted is kept as
    ``info`` with the status as text.
    """
    tooth, status = s.get(1), s.get(2)
    if not tooth:
        ctx.problem("DN2 without a tooth number", "DN201")
        return
    q = s.get(5) or codes.TOOTH_QUALIFIER
    tc = _tooth_concept(q, tooth)["coding"][0]
    if status == "M":
        info("missingtoothnumber", tc.get("system"), tooth)
    elif status in codes.TOOTH_STATUS:
        info("info", tc.get("system"), tooth, valueString=f"tooth status: {codes.TOOTH_STATUS[status]}")
    else:
        ctx.problem("tooth status code is not E or M (X12 element 1368)", "DN202", status)


def _orthodontics(s: Seg, placed: str | None, info: _Info, ctx: MappingContext) -> None:
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


def quote_key(value: str) -> str:
    return quote(value, safe="")
