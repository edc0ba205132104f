"""837P / 837I / 837D claims → FHIR R4 Claim, Patient, Coverage, Organization, Practitioner.

Sources: ASC X12N 005010X222A1 (837P), X223A2 (837I), X224A2 (837D): 1000A submitter, 2000A/2010AA
billing provider, 2010AB pay-to, 2000B SBR + 2010BA subscriber + 2010BB payer, 2000C/2010CA patient,
2300 CLM claim, 2310x providers, 2400 LX service lines; parties (2000A-2010CA) in
:mod:`etl.sources.x12.to_fhir_837_parties`, HI codes and SV1/SV2/SV3 lines in
:mod:`etl.sources.x12.to_fhir_837_coding`, 837D teeth and orthodontics in
:mod:`etl.sources.x12.to_fhir_837_oral`, other payers (2320/2330/2430) in
:mod:`etl.sources.x12.to_fhir_837_other_payers`, service facility, ambulance, drugs and line control
numbers in :mod:`etl.sources.x12.to_fhir_837_services`. Targets follow CARIN Blue Button naming
(http://hl7.org/fhir/us/carin-bb/) on https://hl7.org/fhir/R4/claim.html.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.adjudication import care_team_role
from etl.sources.x12.claims import check_charges, check_faults, reject_claim
from etl.sources.x12.common import (
    Resource,
    address,
    concept,
    date,
    info_category,
    local_system,
    money,
    name_loop,
    party,
    period,
    ref,
)
from etl.sources.x12.model import Seg, Transaction
from etl.sources.x12.people import People
from etl.sources.x12.to_fhir_837_coding import add_hi, add_service, new_line, order_item
from etl.sources.x12.to_fhir_837_oral import add_tooth, oral_sites, orthodontics, tooth_status
from etl.sources.x12.to_fhir_837_other_payers import add_other_payers
from etl.sources.x12.to_fhir_837_parties import Parties, finish_people, patient_of, payer_of
from etl.sources.x12.to_fhir_837_services import add_services

CLAIM_TYPE = {"837P": "professional", "837I": "institutional", "837D": "oral"}
CLAIM_SUPERSEDED = {"7": "replacement", "8": "void"}


def _fail(msg: str, tx: Transaction, seg: Seg | None, expr: str) -> MappingError:
    return MappingError(msg, tx.env.location(seg, expr), code="required")




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
    c = Parties()
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
                c = Parties()
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
                c.payer = payer_of(ctx, s, n3, n4)
                emit(c.payer)
            elif loop == "2010BA":
                c.sub_nm1 = s
                c.member_id = s.get(9)
                if not c.member_id:  # rejects each claim of this subscriber, each with its own record
                    c.sub_error = _fail("the subscriber has no member id (NM109)", tx, s, "2010BA NM109")
                c.subscriber = patient_of(s, n3, n4, dmg, ctx, "")
            else:  # 2010CA patient (a dependent)
                c.patient = patient_of(s, n3, n4, dmg, ctx, "dependent")
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
                finish_people(c, ctx, people)
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
                add_hi(s, kind, diagnoses, procedures, ctx)
            elif sid == "CL1":
                if q:
                    info("admtype", codes.NUBC_PRIORITY, q)
                if s.get(2):
                    info("pointoforigin", codes.NUBC_POINT_OF_ORIGIN, s.get(2))
                if s.get(3):
                    info("discharge-status", codes.NUBC_PATIENT_STATUS, s.get(3))
            elif sid == "DN1":
                orthodontics(s, appliance_placed, info, ctx)
            elif sid == "DN2":
                tooth_status(s, info, ctx)
        elif loop == "2400":
            if current_line is None:
                if sid == "LX":
                    current_line = new_line(s, items)
            elif sid in ("SV1", "SV2", "SV3"):
                add_service(s, current_line, kind, facility, ctx)
            elif sid == "DTP":
                if s.get(1) == "472":
                    p = period(s.get(2), s.get(3), ctx, "DTP03 (472 service date)")
                    if p:
                        if p.get("start") == p.get("end"):
                            current_line["servicedDate"] = p["start"]
                        else:
                            current_line["servicedPeriod"] = p
            elif sid == "LX":
                current_line = new_line(s, items)
            elif sid == "TOO":
                add_tooth(s, current_line, ctx)
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
        oral_sites(item, info, ctx)
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
    claim["item"] = [order_item(it) for it in items]
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



def _fallback_created(tx: Transaction) -> str:
    # Claim.created is required: without BHT04 and service dates, use the interchange date ISA09.
    d = tx.env.isa_date
    return f"20{d[:2]}-{d[2:4]}-{d[4:6]}" if len(d) == 6 and d.isdigit() else "1900-01-01"
