"""PV1/PV2 → Encounter, with its Locations (PV1-3/6/11) and Practitioners (PV1-7/8/9/17).

Mapping: v2-to-fhir IG segment maps PV1[Encounter] and PV2[Encounter]; Encounter.status follows
the ADT trigger event (IG message maps ADT_A01 ... ADT_A62).
"""

from __future__ import annotations

from typing import Any

from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import coded, dt, first_cc, v2_coded
from etl.sources.hl7v2.model import Message, Segment
from etl.sources.hl7v2.to_fhir_patient import patient_key

Json = dict[str, Any]
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def encounter_id(msg: Message, b: MessageBuilder, pv1: Segment | None = None) -> str:
    """Visit number (PV1-19) within the sending facility, else the admit time per patient, else
    the message: the same visit gets the same id in every message about it."""
    pv1 = pv1 or msg.first("PV1")
    visit = pv1.reps(19)[0] if pv1 and pv1.reps(19) else None
    if visit is not None and visit.get(1):
        return b.ctx.make("Encounter", "hl7v2", msg.get("MSH-4.1"), visit.get(4, 1), visit.get(1))
    admit = pv1.get(44) if pv1 else ""
    if admit:
        return b.ctx.make("Encounter", "hl7v2", *patient_key(msg), admit)
    return b.ctx.make("Encounter", "hl7v2", "msg", msg.get("MSH-3.1"), msg.get("MSH-4.1"), msg.control_id)


def _status(msg: Message, pv1: Segment, event: str) -> str:
    """The ADT event's state (A03 finished, A11 cancelled, ...); for updates (A08, A28, A31) and
    other message types the visit's own: discharged (PV1-45) finished, pre-admit class planned,
    else in progress (v2-to-fhir IG PV1[Encounter] status rules)."""
    if msg.get("MSH-9.1") == "ADT" and event in codes.ENCOUNTER_STATUS and event not in codes.UPDATE_EVENTS:
        return codes.ENCOUNTER_STATUS[event]
    if pv1.get(45):
        return "finished"
    if pv1.get(2).upper() == "P":
        return "planned"
    return "in-progress"


def to_fhir_encounter(msg: Message, b: MessageBuilder, *, status: str | None = None) -> Json | None:
    """PV1 (+ PV2) → Encounter; None when there is no PV1 or it is empty (``PV1|1|N`` in a
    message about something else is often only a placeholder: kept when it carries a class).

    :return: https://hl7.org/fhir/R4/encounter.html (mapping: v2-to-fhir IG, PV1[Encounter])
    """
    pv1 = msg.first("PV1")
    if pv1 is None or len(pv1.text.strip(pv1.enc.field + " 0123456789")) <= 3:
        return None
    ctx = b.ctx
    event = msg.get("MSH-9.2") or msg.get("EVN-1")
    enc: Json = {
        "resourceType": "Encounter",
        "id": encounter_id(msg, b, pv1),
        "status": status or _status(msg, pv1, event),
    }
    ident = []
    for rep in pv1.reps(19):
        if rep.get(1):
            ident.append({"type": coded(codes.IDENTIFIER_TYPE_SYSTEM, "VN"), "value": rep.get(1)})
    if pv1.get(5):
        ident.append({"type": coded(codes.IDENTIFIER_TYPE_SYSTEM, "PRN"), "value": pv1.get(5)})
    if ident:
        enc["identifier"] = ident
    patient_class = pv1.get(2).upper()
    code, display = codes.PATIENT_CLASS.get(patient_class, ("", ""))
    if code:
        enc["class"] = {"system": codes.ACT_CODE, "code": code, "display": display}
    else:
        if patient_class:
            ctx.problem("patient class is not in HL7 table 0004", "PV1-2", patient_class)
        # Encounter.class is required (1..1) in R4: say explicitly that it is unknown.
        enc["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK",
                        "display": "unknown"}
    if pv1.get(4):
        enc["type"] = [v2_coded("0007", pv1.get(4))]
    if pv1.get(10):
        enc["serviceType"] = v2_coded("0069", pv1.get(10))
    enc["subject"] = b.patient_ref()
    period: dict[str, str] = {}
    if (start := dt(pv1.get(44), ctx, "PV1-44")):
        period["start"] = start
    if (end := dt(pv1.get(45), ctx, "PV1-45")):
        period["end"] = end
    if period:
        enc["period"] = period
    participants = []
    for field, role in ((7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM")):
        for rep in pv1.reps(field):
            ref = b.practitioner(rep)
            if ref is not None:
                participants.append({"type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": role}]}],
                                     "individual": ref})
    if participants:
        enc["participant"] = participants
    pv2 = msg.first("PV2")
    if pv2 is not None and (reason := first_cc(pv2, 3)) is not None:
        enc["reasonCode"] = [reason]
    locations = []
    finished = enc["status"] in ("finished", "cancelled")
    for field, loc_status in ((3, "completed" if finished else "active"), (6, "completed"), (11, "active"),
                              (42, "planned"), (43, "completed")):
        for rep in pv1.reps(field):
            ref = b.location(rep)
            if ref is not None:
                locations.append({"location": ref, "status": loc_status})
    if locations:
        enc["location"] = locations
    hosp: Json = {}
    if pv1.get(5):
        hosp["preAdmissionIdentifier"] = {"value": pv1.get(5)}
    if pv1.get(14):
        hosp["admitSource"] = v2_coded("0023", pv1.get(14))
    if pv1.get(13) == "R":
        hosp["reAdmission"] = v2_coded("0092", "R")
    if pv1.get(36):
        hosp["dischargeDisposition"] = v2_coded("0112", pv1.get(36))
    dest = pv1.reps(37)
    if dest and (ref := b.location(dest[0])) is not None:
        hosp["destination"] = ref
    if hosp:
        enc["hospitalization"] = hosp
    provider = pv1.reps(39)
    if provider and provider[0].get(1):
        org = b.organization_named(provider[0].get(1), None)
        if org is not None:
            enc["serviceProvider"] = org
    return enc


def encounter_ref(b: MessageBuilder) -> dict[str, str] | None:
    """The message's Encounter, when it has one."""
    return reference("Encounter", b.encounter_id) if b.encounter_id else None
