"""AL1/IAM → AllergyIntolerance, DG1 → Condition, PR1 → Procedure, IN1 (+IN2) → Coverage,
FT1 → ChargeItem.

Mappings: v2-to-fhir IG segment maps AL1[AllergyIntolerance], IAM[AllergyIntolerance],
DG1[Condition], PR1[Procedure], IN1[Coverage], FT1[ChargeItem].
"""

from __future__ import annotations

from typing import Any

from etl.fhir.datatypes import decimal
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import addresses, coded, cx, dt, first_cc, identifiers, telecoms
from etl.sources.hl7v2.model import Segment

Json = dict[str, Any]
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


def to_fhir_allergy(seg: Segment, b: MessageBuilder) -> Json | None:
    """AL1 (type .2, allergen .3, severity .4, reactions .5, identified .6) or IAM (the same
    fields; action code .6 ``D`` = deleted, identified .11) → AllergyIntolerance. None without an
    allergen.

    :return: https://hl7.org/fhir/R4/allergyintolerance.html (mapping: v2-to-fhir IG, AL1/IAM[AllergyIntolerance])
    """
    code = first_cc(seg, 3)
    if code is None:
        return None
    is_iam = seg.name == "IAM"
    rid = b.ctx.make("AllergyIntolerance", b.patient_id, seg.get(3, 1), seg.get(3, 3), seg.get(3, 2))
    res: Json = {"resourceType": "AllergyIntolerance", "id": rid}
    deleted = is_iam and seg.get(6).upper() == "D"
    res["clinicalStatus"] = coded(CLINICAL_STATUS, "inactive" if deleted else "active")
    res["verificationStatus"] = coded(VERIFICATION, "entered-in-error" if deleted else "confirmed")
    allergen_type = seg.get(2).upper()
    if allergen_type in codes.ALLERGEN_TYPE:
        res["type"] = codes.ALLERGEN_TYPE[allergen_type]
    if allergen_type in codes.ALLERGEN_CATEGORY:
        res["category"] = [codes.ALLERGEN_CATEGORY[allergen_type]]
    severity = seg.get(4).upper()
    if severity in codes.ALLERGY_CRITICALITY:
        res["criticality"] = codes.ALLERGY_CRITICALITY[severity]
    res["code"] = code
    res["patient"] = b.patient_ref()
    onset = seg.get(11) if is_iam else seg.get(6)
    if onset and (when := dt(onset, b.ctx, f"{seg.name}-{11 if is_iam else 6}")):
        res["onsetDateTime"] = when
    reactions = [r for r in (rep.get(2) or rep.get(1) for rep in seg.reps(5)) if r]
    if reactions:
        reaction: Json = {"manifestation": [{"text": r} for r in reactions]}
        if severity in codes.ALLERGY_SEVERITY:
            reaction["severity"] = codes.ALLERGY_SEVERITY[severity]
        res["reaction"] = [reaction]
    return res


def to_fhir_condition(dg1: Segment, b: MessageBuilder) -> Json | None:
    """DG1 (code .3, description .4, date .5, type .6, clinician .16) → Condition, an
    encounter-diagnosis of the visit. None without a code or description.

    :return: https://hl7.org/fhir/R4/condition.html (mapping: v2-to-fhir IG, DG1[Condition])
    """
    code = first_cc(dg1, 3) or ({"text": dg1.get(4)} if dg1.get(4) else None)
    if code is None:
        return None
    rid = b.ctx.make("Condition", b.patient_id, b.encounter_id, dg1.get(3, 1), dg1.get(3, 3), dg1.get(4))
    res: Json = {"resourceType": "Condition", "id": rid,
                 "verificationStatus": coded("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                             "provisional" if dg1.get(6).upper() in ("A", "W") else "confirmed"),
                 "category": [coded(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")],
                 "code": code, "subject": b.patient_ref()}
    if b.encounter_id:
        res["encounter"] = reference("Encounter", b.encounter_id)
    if (when := dt(dg1.get(5), b.ctx, "DG1-5")):
        res["onsetDateTime"] = when
    for rep in dg1.reps(16):
        if (ref := b.practitioner(rep)) is not None:
            res["asserter"] = ref
            break
    return res


def to_fhir_procedure(pr1: Segment, b: MessageBuilder) -> Json | None:
    """PR1 (code .3, description .4, date .5, anesthesiologist .8, surgeon .11, practitioner .12)
    → Procedure, completed. None without a code or description.

    :return: https://hl7.org/fhir/R4/procedure.html (mapping: v2-to-fhir IG, PR1[Procedure])
    """
    code = first_cc(pr1, 3) or ({"text": pr1.get(4)} if pr1.get(4) else None)
    if code is None:
        return None
    rid = b.ctx.make("Procedure", b.patient_id, pr1.get(3, 1), pr1.get(3, 3), pr1.get(5), pr1.get(4))
    res: Json = {"resourceType": "Procedure", "id": rid, "status": "completed", "code": code,
                 "subject": b.patient_ref()}
    if b.encounter_id:
        res["encounter"] = reference("Encounter", b.encounter_id)
    if (when := dt(pr1.get(5), b.ctx, "PR1-5")):
        res["performedDateTime"] = when
    performers = []
    for field, fn in ((11, "SURG"), (8, "ANEST"), (12, "PPRF")):
        for rep in pr1.reps(field):
            if (ref := b.practitioner(rep)) is not None:
                performers.append({"function": {"text": fn}, "actor": ref})
    if performers:
        res["performer"] = performers
    return res


def to_fhir_coverage(in1: Segment, b: MessageBuilder) -> Json:
    """IN1 (plan .2, insurer id .3 and name .4, address .5, phone .7, group .8/.9, period .12/.13,
    plan type .15, relationship .17, policy number .36, insured id .49) → Coverage, its payor
    the insurer's Organization (the patient when IN1 names none: payor is required).

    :return: https://hl7.org/fhir/R4/coverage.html (mapping: v2-to-fhir IG, IN1[Coverage])
    """
    insurer_ids = identifiers(in1, 3)
    name = in1.get(4)
    payor = b.organization_named(name, insurer_ids[0] if insurer_ids else None, "ins",
                                 addresses(in1, 5), telecoms(in1, 7, "work"))
    policy = in1.get(36)
    rid = b.ctx.make("Coverage", b.patient_id, in1.get(3, 1), in1.get(2, 1), policy, in1.get(1))
    res: Json = {"resourceType": "Coverage", "id": rid}
    if policy:
        res["identifier"] = [{"type": coded(codes.IDENTIFIER_TYPE_SYSTEM, "MB"), "value": policy}]
    res["status"] = "active"
    if (plan_type := first_cc(in1, 15)) is not None:
        plan_type.pop("coding", None)
        if plan_type:
            res["type"] = plan_type
    if policy:
        res["subscriberId"] = policy
    res["beneficiary"] = b.patient_ref()
    rel = in1.get(17).upper()
    if rel in codes.SUBSCRIBER_RELATIONSHIP:
        res["relationship"] = coded("http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                    codes.SUBSCRIBER_RELATIONSHIP[rel])
    start, end = dt(in1.get(12), b.ctx, "IN1-12"), dt(in1.get(13), b.ctx, "IN1-13")
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    res["payor"] = [payor or b.patient_ref()]
    classes = []
    if in1.get(8):
        classes.append({"type": coded("http://terminology.hl7.org/CodeSystem/coverage-class", "group"),
                        "value": in1.get(8), **({"name": in1.get(9)} if in1.get(9) else {})})
    if in1.get(2, 1):
        classes.append({"type": coded("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                        "value": in1.get(2, 1), **({"name": in1.get(2, 2)} if in1.get(2, 2) else {})})
    if classes:
        res["class"] = classes
    return res


def to_fhir_charge_item(ft1: Segment, b: MessageBuilder, account_id: str | None) -> Json | None:
    """FT1 (transaction id .2, date .4, type .6, code .7, quantity .10, performer .20, orderer .21,
    procedure code .25) → ChargeItem, billable. None without a transaction code.

    :return: https://hl7.org/fhir/R4/chargeitem.html (mapping: v2-to-fhir IG, FT1[ChargeItem])
    """
    code = first_cc(ft1, 7) or first_cc(ft1, 25)
    if code is None:
        return None
    key = (ft1.get(2),) if ft1.get(2) else ("msg", b.msg.control_id, ft1.get(1), ft1.get(7, 1))
    res: Json = {"resourceType": "ChargeItem", "id": b.ctx.make("ChargeItem", "hl7v2", b.facility, *key)}
    if ft1.get(2):
        res["identifier"] = [{"value": ft1.get(2)}]
    res["status"] = "billable"
    res["code"] = code
    res["subject"] = b.patient_ref()
    if b.encounter_id:
        res["context"] = reference("Encounter", b.encounter_id)
    if (when := dt(ft1.get(4), b.ctx, "FT1-4")):
        res["occurrenceDateTime"] = when
    performers = [{"actor": r} for r in (b.practitioner(rep) for rep in ft1.reps(20)) if r is not None]
    if performers:
        res["performer"] = performers
    for rep in ft1.reps(21):
        if (ref := b.practitioner(rep)) is not None:
            res["enterer"] = ref
            break
    qty = decimal(ft1.get(10))
    if qty is not None:
        res["quantity"] = {"value": qty}
    if account_id:
        res["account"] = [reference("Account", account_id)]
    return res


def guarantor_ids(gt1: Segment) -> list[Json]:
    """GT1-2 guarantor number (CX)."""
    return [i for i in (cx(rep) for rep in gt1.reps(2)) if i is not None]
