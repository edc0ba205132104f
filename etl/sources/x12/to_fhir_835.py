"""835 remittance → FHIR R4 ExplanationOfBenefit (one per CLP) and PaymentReconciliation.

Source: ASC X12N 005010X221A1: BPR/TRN header, 1000A payer (N1*PR), 1000B payee (N1*PE), 2100 CLP
claim payment, 2110 SVC service payment, CAS adjustments (CARC), LQ remarks (RARC), PLB provider
adjustments. Targets: https://hl7.org/fhir/R4/explanationofbenefit.html (CARIN BB naming,
http://hl7.org/fhir/us/carin-bb/) and https://hl7.org/fhir/R4/paymentreconciliation.html.

As CARIN BB's EOB profiles expect: the rendering provider (2100 NM1*82) in ``careTeam`` (role
``rendering``); CAS adjustments with CARIN's adjudication category beside the X12 group code
(:mod:`etl.sources.x12.adjudication`); ``insurance.coverage`` a reference to the Coverage the 837
names for the same payer id, member id and group (2100 REF*1L; see
:func:`etl.sources.x12.common.coverage_id`) when the patient is the subscriber, else the member id
alone; ``payment.date`` from BPR16, with a warning when it falls back to the interchange date ISA09.
A patient who is not the insured (NM1*IL sent beside NM1*QC) is a dependent: keyed by the insured's
member id and the patient's own name (the 835 has no birth date), never the insured's Patient.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.fhir.datatypes import parse_decimal
from etl.sources.x12 import codes
from etl.sources.x12.adjudication import care_team_role, cas_adjudications
from etl.sources.x12.claims import check_faults, reject_claim
from etl.sources.x12.common import (
    Resource,
    concept,
    coverage_id,
    date,
    human_name,
    local_system,
    money,
    number,
    party,
    patient_id,
    payer_organization,
    ref,
)
from etl.sources.x12.model import Seg, Transaction


def _amount(category: str, value: str, ctx: MappingContext, path: str, system: str = codes.ADJUDICATION) -> dict[str, Any] | None:
    m = money(value, ctx, path)
    return {"category": concept(system, category), "amount": m} if m is not None else None


def to_fhir_835(tx: Transaction, ctx: MappingContext) -> list[Resource]:
    """One 835 transaction set (or part) → EOBs, payer/payee Organizations, Patients and, in the
    last part, the PaymentReconciliation (with the BPR02 balance check)."""
    segs = tx.segments
    bpr = tx.first("BPR")
    trn = tx.first("TRN")
    if bpr is None or trn is None or not trn.get(2):
        raise MappingError("the 835 has no BPR or no TRN02 check/EFT trace number", tx.env.location(None, "TRN02"))
    payer_nm = tx.first("N1", "1000A", "PR")
    payee_nm = tx.first("N1", "1000B", "PE")
    payer_key = (tx.first("REF", "1000A", "2U") or trn).get(3 if tx.first("REF", "1000A", "2U") is None else 2) \
        or (payer_nm.get(4) if payer_nm else "") or tx.env.gs02
    out: list[Resource] = []
    payer = payer_organization(ctx, payer_key, payer_nm.get(2) if payer_nm else "")
    out.append(payer)
    payee: Resource | None = None
    if payee_nm is not None:
        nm1 = Seg(payee_nm.n, ["NM1", "PE", "2", payee_nm.get(2), "", "", "", "", payee_nm.get(3), payee_nm.get(4)],
                  "1000B", payee_nm.c)
        payee = party(ctx, nm1, payer_key, tx.first("N3", "1000B"), tx.first("N4", "1000B"),
                      [s for s in tx.loop("1000B") if s.e[0] == "REF"], "prov")
        out.append(payee)
    pay_date = date(bpr.get(16), ctx, "BPR16")
    if pay_date is None:
        pay_date = date(tx.env.isa_date and "20" + tx.env.isa_date, ctx, "ISA09")
        ctx.problem("the payment effective date is missing or not a date; the payment date is the interchange "
                    "date ISA09", "BPR16")
    created = pay_date
    dtm405 = tx.first("DTM", None, "405")
    if dtm405 is not None:
        created = date(dtm405.get(2), ctx, "DTM02 (405 production date)") or created
    claims: list[list[Seg]] = []
    for s in segs:
        if s.e[0] == "CLP":
            claims.append([s])
        elif claims and s.loop in ("2100", "2110"):
            claims[-1].append(s)
    for k, cl in enumerate(claims):
        try:  # a defect of this claim payment rejects it alone (etl.sources.x12.claims)
            check_faults(tx, cl[0])
            eob, parties = to_fhir_eob(tx, cl, ctx, payer, payee, payer_key, trn.get(2), pay_date, created or "1900-01-01")
        except Exception as exc:  # noqa: BLE001 - reject_claim re-raises machine faults
            reject_claim(ctx, tx, exc, cl[0], tx.first_body + k, "CLP01", cl[0].get(1))
            continue
        out += parties
        out.append(eob)
    if tx.last_part:
        out.append(to_fhir_payment_reconciliation(tx, ctx, bpr, trn, payer, payee, pay_date, created, payer_key))
    return out


def to_fhir_eob(
    tx: Transaction, cl: list[Seg], ctx: MappingContext, payer: Resource, payee: Resource | None, payer_key: str,
    check: str, pay_date: str | None, created: str,
) -> tuple[Resource, list[Resource]]:
    """2100 CLP (+ 2110 SVC) → ExplanationOfBenefit, and the Patient (NM1*QC) and rendering provider
    (NM1*82) it names.

    :return: https://hl7.org/fhir/R4/explanationofbenefit.html
    """
    clp = cl[0]
    pcn, status, payer_icn = clp.get(1), clp.get(2), clp.get(7)
    if not pcn or not payer_icn:
        raise MappingError("CLP01 patient control number and CLP07 payer claim control number are required",
                           tx.env.location(clp, "CLP07" if pcn else "CLP01"))
    qc = next((s for s in cl if s.e[0] == "NM1" and s.get(1) == "QC"), None)
    il = next((s for s in cl if s.e[0] == "NM1" and s.get(1) == "IL"), None)
    member_nm = il if il is not None and il.get(9) else qc
    member = member_nm.get(9) if member_nm is not None else ""
    if not member:
        raise MappingError("the claim names no member id (2100 NM1*QC / NM1*IL NM109)",
                           tx.env.location(clp, "NM109"))
    dependent = il is not None and qc is not None and human_name(qc) is not None
    pid = patient_id(ctx, payer_key, member, (qc.get(3), " ".join(x for x in (qc.get(4), qc.get(5)) if x), "")) \
        if dependent and qc is not None else patient_id(ctx, payer_key, member)
    patient: Resource = {"resourceType": "Patient", "id": pid,
                         "identifier": [{"type": concept(codes.V2_ID_TYPE, "MB"),
                                         "system": local_system("member-id", payer_key), "value": member}]}
    if qc is not None and (name := human_name(qc)):
        patient["name"] = [name]
    institutional = any(s.e[0] in ("MIA",) for s in cl) or any(
        s.e[0] == "SVC" and (s.get(1, 1) == "NU" or s.get(4)) for s in cl) or clp.get(6) == "MA"
    eob: Resource = {
        "resourceType": "ExplanationOfBenefit",
        "id": ctx.make("ExplanationOfBenefit", payer_key, payer_icn),
        "identifier": [{"type": concept("http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType", "uc"),
                        "system": local_system("payer-claim-control-number", payer_key), "value": payer_icn}],
        "status": "active",
        "type": concept(codes.CLAIM_TYPE, "institutional" if institutional else "professional"),
        "use": "claim",
        "patient": ref(patient),
    }
    start = next((s for s in cl if s.e[0] == "DTM" and s.get(1) in ("232", "150")), None)
    end = next((s for s in cl if s.e[0] == "DTM" and s.get(1) in ("233", "151")), None)
    if start is not None:
        bp = {"start": date(start.get(2), ctx, "DTM02 (232)")}
        if end is not None:
            bp["end"] = date(end.get(2), ctx, "DTM02 (233)")
        bp = {k: v for k, v in bp.items() if v}
        if bp:
            eob["billablePeriod"] = bp
    eob["created"] = created
    eob["insurer"] = ref(payer)
    eob["provider"] = ref(payee) if payee is not None else ref(payer)
    eob["claim"] = {"identifier": {"system": local_system("patient-control-number"), "value": pcn}}
    eob["outcome"] = codes.CLP_STATUS_OUTCOME.get(status, "complete")
    if status not in codes.CLP_STATUS_OUTCOME:
        ctx.problem("claim status code is not in X12 element 1029", "CLP02", status)
    if status in codes.CLP_STATUS_TEXT:
        eob["disposition"] = codes.CLP_STATUS_TEXT[status]
    coverage: dict[str, Any] = {"identifier": {"system": local_system("member-id", payer_key), "value": member}}
    if not dependent:
        group = next((s.get(2) for s in cl if s.e[0] == "REF" and s.loop == "2100" and s.get(1) == "1L"), "")
        coverage = {"reference": f"Coverage/{coverage_id(ctx, payer_key, member, group)}", **coverage}
    eob["insurance"] = [{"focal": True, "coverage": coverage}]
    parties: list[Resource] = [patient]
    rendering = next((s for s in cl if s.e[0] == "NM1" and s.loop == "2100" and s.get(1) == "82"), None)
    if rendering is not None and (rendering.get(9) or rendering.get(3)):
        prov = party(ctx, rendering, payer_key)
        parties.append(prov)
        eob["careTeam"] = [{"sequence": 1, "provider": ref(prov), "role": care_team_role("82")}]
    items: list[dict[str, Any]] = []
    header_adj: list[dict[str, Any]] = []
    item: dict[str, Any] | None = None
    for s in cl[1:]:
        sid = s.e[0]
        if sid == "SVC":
            comps = s.comps(1)
            item = {"sequence": len(items) + 1}
            if len(comps) >= 2:
                system = codes.PRODUCT_SERVICE_SYSTEM.get(comps[0])
                if comps[0] == "HC" and comps[1][:1].isdigit():
                    system = codes.CPT
                if comps[0] == "NU":
                    item["revenue"] = concept(codes.NUBC_REVENUE, comps[1])
                item["productOrService"] = concept(system, comps[1])
                if mods := [m for m in comps[2:6] if m]:
                    item["modifier"] = [concept(codes.HCPCS if system != codes.CPT else codes.CPT, m) for m in mods]
            else:
                ctx.problem("SVC01 composite has no code (component separator?)", "SVC01", s.get(1))
                item["productOrService"] = {"text": s.get(1) or "unknown"}
            if s.get(4):
                item["revenue"] = concept(codes.NUBC_REVENUE, s.get(4))
            if (q := number(s.get(5), ctx, "SVC05")) is not None:
                item["quantity"] = {"value": q}
            adj = [a for a in (_amount("submitted", s.get(2), ctx, "SVC02"), _amount("benefit", s.get(3), ctx, "SVC03")) if a]
            item["adjudication"] = adj
            items.append(item)
        elif item is not None and s.loop == "2110":
            if sid == "DTM" and s.get(1) in ("472", "150"):
                d = date(s.get(2), ctx, "DTM02 (472)")
                if d:
                    item["servicedDate"] = d
            elif sid == "CAS":
                item["adjudication"] += cas_adjudications(s, ctx)
            elif sid == "AMT" and s.get(1) == "B6":
                if a := _amount("eligible", s.get(2), ctx, "AMT02 (B6 allowed)"):
                    item["adjudication"].append(a)
            elif sid == "REF" and s.get(1) == "HPI" and s.get(2):  # 2110 rendering provider NPI
                item["careTeamSequence"] = [_line_rendering(eob, parties, ctx, s.get(2))]
            elif sid == "LQ" and s.get(1) == "HE" and s.get(2):
                item["adjudication"].append({"category": concept(codes.C4BB_ADJUDICATION_DISCRIMINATOR,
                                                                 "adjustmentreason"),
                                             "reason": concept(codes.RARC, s.get(2))})
        elif sid == "CAS":
            header_adj += cas_adjudications(s, ctx)
    for it in items:
        it.setdefault("servicedDate", eob.get("billablePeriod", {}).get("start")) if "servicedDate" not in it else None
        if it.get("servicedDate") is None:
            it.pop("servicedDate", None)
        it.setdefault("productOrService", {"text": "unknown"})
    if items:
        eob["item"] = [{k: it[k] for k in ("sequence", "careTeamSequence", "revenue", "productOrService", "modifier",
                                           "servicedDate", "quantity", "adjudication") if k in it} for it in items]
    if header_adj:
        eob["adjudication"] = header_adj
    totals = [t for t in (_amount("submitted", clp.get(3), ctx, "CLP03"), _amount("benefit", clp.get(4), ctx, "CLP04"),
                          _amount("memberliability", clp.get(5), ctx, "CLP05", codes.C4BB_ADJUDICATION)) if t]
    if totals:
        eob["total"] = totals
    paid = money(clp.get(4), ctx, "CLP04") or {"value": 0, "currency": "USD"}
    payment: dict[str, Any] = {"type": concept(codes.PAYMENT_TYPE, "complete")}
    if pay_date:
        payment["date"] = pay_date
    payment["amount"] = paid
    payment["identifier"] = {"system": local_system("check-eft-trace-number", payer_key), "value": check}
    eob["payment"] = payment
    return eob, parties


def _line_rendering(eob: Resource, parties: list[Resource], ctx: MappingContext, npi: str) -> int:
    """The careTeam sequence of a line's rendering provider (2110 REF*HPI, its NPI): the claim's NM1*82
    when it has that NPI, else a Practitioner keyed by the NPI (as the 837 keys a person with one)."""
    team: list[dict[str, Any]] = eob.setdefault("careTeam", [])
    for member in team:
        prov = next((p for p in parties if ref(p) == member["provider"]), None)
        if prov is not None and any(i.get("system") == codes.NPI and i.get("value") == npi
                                    for i in prov.get("identifier", [])):
            return int(member["sequence"])
    prov = {"resourceType": "Practitioner", "id": ctx.make("Practitioner", "npi", npi),
            "identifier": [{"type": concept(codes.V2_ID_TYPE, "NPI"), "system": codes.NPI, "value": npi}], "active": True}
    parties.append(prov)
    team.append({"sequence": len(team) + 1, "provider": ref(prov), "role": care_team_role("82")})
    return len(team)


def to_fhir_payment_reconciliation(
    tx: Transaction, ctx: MappingContext, bpr: Seg, trn: Seg, payer: Resource, payee: Resource | None,
    pay_date: str | None, created: str | None, payer_key: str,
) -> Resource:
    """BPR/TRN + every CLP04 and PLB → PaymentReconciliation; checks BPR02 = ΣCLP04 − ΣPLB, exactly
    (a problem: a warning, or with ``--strictness raise`` the transaction set is rejected).

    :return: https://hl7.org/fhir/R4/paymentreconciliation.html
    """
    total = money(bpr.get(2), ctx, "BPR02") or {"value": 0, "currency": "USD"}
    details: list[dict[str, Any]] = []
    plb_sum = Decimal(0)
    for s in tx.segments:
        if s.e[0] != "PLB":
            continue
        for k in range(3, len(s.e) - 1, 2):
            reason, amount = s.get(k, 1), s.get(k + 1)
            if not reason and not amount:
                continue
            path = f"PLB{k + 1:02d}"
            v = parse_decimal(amount)
            if not reason or v is None:
                ctx.problem("provider adjustment without a reason code or amount; left out", path)
                continue
            money(amount, ctx, path)  # more than 18 digits, or more than cents, rejects the set
            negated = number(str(-v), ctx, path)
            plb_sum += v
            detail: dict[str, Any] = {"identifier": {"system": codes.PLB_REASON, "value": s.get(k)},
                                      "type": concept(codes.PAYMENT_DETAIL_TYPE, "adjustment")}
            if payee is not None:
                detail["payee"] = ref(payee)
            detail["amount"] = {"value": negated, "currency": "USD"}
            details.append(detail)
    expected = tx.claim_charge_total - plb_sum
    paid = parse_decimal(bpr.get(2) or "0")
    if paid is None or paid != expected:
        ctx.problem("BPR02 total payment does not balance with the sum of CLP04 less the PLB adjustments", "BPR02",
                    f"BPR02 {bpr.get(2)}; CLP04 sum {tx.claim_charge_total}; PLB {plb_sum}; expected {expected}")
    method = bpr.get(4)
    res: Resource = {
        "resourceType": "PaymentReconciliation",
        "id": ctx.make("PaymentReconciliation", payer_key, trn.get(2)),
        "identifier": [{"system": local_system("check-eft-trace-number", payer_key), "value": trn.get(2)}],
        "status": "active",
        "created": created or pay_date or "1900-01-01",
        "paymentIssuer": ref(payer),
    }
    if payee is not None:
        res["requestor"] = ref(payee)
    res["outcome"] = "complete"
    if method in codes.PAYMENT_METHOD:
        res["disposition"] = codes.PAYMENT_METHOD[method]
    res["paymentDate"] = pay_date or created or "1900-01-01"
    res["paymentAmount"] = total
    res["paymentIdentifier"] = {"system": local_system("check-eft-trace-number", payer_key), "value": trn.get(2)}
    if details:
        res["detail"] = details
    return res
