"""HL7 v2 messages → FHIR R4 resources, by message type (MSH-9).

Field mappings follow the HL7 Version 2 to FHIR IG (https://build.fhir.org/ig/HL7/v2-to-fhir/):
each segment goes to the resource the IG's message maps name (PID → Patient, PV1 → Encounter, OBR
→ DiagnosticReport and ServiceRequest, OBX → Observation, RXA → Immunization, ...; the segment
mappers live in the ``to_fhir_*`` modules). Message types are dispatched through
:data:`MESSAGE_MAPPERS`; every other type is rejected by name. Every message also gets one
Provenance targeting all its resources (:func:`etl.sources.hl7v2.to_fhir_admin.to_fhir_provenance`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from etl.errors import MappingError, UnsupportedError
from etl.fhir.context import MappingContext
from etl.fhir.ids import reference
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import dt, first_cc, identifiers
from etl.sources.hl7v2.model import Message, Segment
from etl.sources.hl7v2.to_fhir_admin import to_fhir_appointment, to_fhir_document_reference, to_fhir_provenance
from etl.sources.hl7v2.to_fhir_clinical import (
    to_fhir_allergy,
    to_fhir_charge_item,
    to_fhir_condition,
    to_fhir_coverage,
    to_fhir_procedure,
)
from etl.sources.hl7v2.to_fhir_encounter import to_fhir_encounter
from etl.sources.hl7v2.to_fhir_orders import (
    to_fhir_immunization,
    to_fhir_medication_administration,
    to_fhir_medication_dispense,
    to_fhir_medication_request,
    to_fhir_service_request,
)
from etl.sources.hl7v2.to_fhir_patient import merged_patients, to_fhir_account, to_fhir_patient, to_fhir_related_person
from etl.sources.hl7v2.to_fhir_results import (
    LAB_CATEGORY,
    report_id,
    to_fhir_diagnostic_report,
    to_fhir_observation,
    to_fhir_specimen,
)
from etl.sources.hl7v2.to_fhir_roles import (
    to_fhir_episode_of_care,
    to_fhir_guarantor,
    to_fhir_insured,
    to_fhir_practitioner_role,
)

Resource = dict[str, Any]
Mapper = Callable[[Message, MessageBuilder], None]

# Segments that open the next ORDER group (ORC), observation request (OBR) or patient group: an
# OBR's OBX/NTE/PRT/SPM... belong to it up to one of these (v2.5.1 ch. 4 and 7).
_ORDER_BOUNDARY = frozenset({"ORC", "OBR", "PID", "PD1", "PV1", "MSH", "BHS", "BTS", "FHS", "FTS", "TXA", "SCH"})


class OrderGroup:
    """One ORC and/or OBR (or RXE/RXA/... order detail) with the segments that follow it."""

    def __init__(self, orc: Segment | None) -> None:
        self.orc = orc
        self.obr: Segment | None = None
        self.members: list[Segment] = []

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.members if s.name == name]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.members if s.name == name), None)


def order_groups(msg: Message) -> list[OrderGroup]:
    """ORC … and OBR … runs, an OBR after an ORC joining it (one ORDER group)."""
    groups: list[OrderGroup] = []
    current: OrderGroup | None = None
    for seg in msg.segments:
        if seg.name == "ORC":
            current = OrderGroup(seg)
            groups.append(current)
        elif seg.name == "OBR":
            if current is None or current.obr is not None or current.members and current.orc is None:
                current = OrderGroup(None)
                groups.append(current)
            current.obr = seg
            current.members = []
        elif seg.name in _ORDER_BOUNDARY:
            current = None
        elif current is not None:
            current.members.append(seg)
    return groups


# --- the parts most messages share ----------------------------------------------------------------

def _patient_part(msg: Message, b: MessageBuilder, *, pid: Segment | None = None) -> Resource:
    """Patient, Account (PID-18, its GT1 guarantors), RelatedPerson (NK1, GT1, IN1 insured),
    Encounter (PV1, its EpisodeOfCare PV1-54), PractitionerRole (ROL, PRT), and the visit's
    Condition (DG1), Procedure (PR1), AllergyIntolerance (AL1/IAM), Coverage (IN1), ChargeItem (FT1)."""
    patient = to_fhir_patient(msg, b, pid)
    b.patient_id = patient["id"]
    b.add(patient)
    pid = pid or msg.first("PID")
    assert pid is not None
    if (account := to_fhir_account(pid, b)) is not None:
        b.add(account)  # filled in below (guarantors): the builder holds the same dict
    for nk1 in msg.all("NK1"):
        if (rp := to_fhir_related_person(nk1, b)) is not None:
            b.add(rp)
    for gt1 in msg.all("GT1"):
        guarantor = to_fhir_guarantor(gt1, b)
        party = reference("RelatedPerson", b.add(guarantor)) if guarantor is not None else b.patient_ref()
        if account is not None:
            account.setdefault("guarantor", []).append({"party": party})
    enc = to_fhir_encounter(msg, b)
    pv1 = msg.first("PV1")
    if enc is not None and pv1 is not None:
        b.encounter_id = enc["id"]
        if (episode := to_fhir_episode_of_care(pv1, b)) is not None:
            enc["episodeOfCare"] = [reference("EpisodeOfCare", b.add(episode))]
        b.add(enc)
    for seg in msg.all("ROL") + msg.all("PRT"):
        if (role := to_fhir_practitioner_role(seg, b)) is not None:
            b.add(role)
    for name, fn in (("AL1", to_fhir_allergy), ("IAM", to_fhir_allergy), ("DG1", to_fhir_condition),
                     ("PR1", to_fhir_procedure)):
        for seg in msg.all(name):
            if (res := fn(seg, b)) is not None:
                b.add(res)
    for in1 in msg.all("IN1"):
        coverage = to_fhir_coverage(in1, b)
        insured = to_fhir_insured(in1, b)
        coverage["subscriber"] = reference("RelatedPerson", b.add(insured)) if insured is not None else b.patient_ref()
        b.add(coverage)
    for ft1 in msg.all("FT1"):
        if (item := to_fhir_charge_item(ft1, b, account["id"] if account else None)) is not None:
            b.add(item)
    return patient


def _loose_observations(msg: Message, b: MessageBuilder) -> None:
    """OBX segments outside any order (ADT, SIU, DFT: height, weight, ...) → Observation."""
    in_order = {id(s) for g in order_groups(msg) for s in g.members}
    seen: Counter[tuple[str, str, str]] = Counter()
    for obx in msg.all("OBX"):
        if id(obx) in in_order:
            continue
        key = (obx.get(3, 1), obx.get(3, 3), obx.get(4))
        seen[key] += 1
        obs_id = b.ctx.make("Observation", b.patient_id, b.encounter_id or b.msg.control_id, *key, seen[key])
        b.add(to_fhir_observation(obx, b, obs_id=obs_id, effective=None, category=None))


def _group_observations(group: OrderGroup, b: MessageBuilder, parent: str, effective: str | None,
                        category: Resource | None) -> list[str]:
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for obx in group.all("OBX"):
        key = (obx.get(3, 1), obx.get(3, 3), obx.get(4))
        seen[key] += 1
        obs = to_fhir_observation(obx, b, obs_id=b.ctx.make("Observation", parent, *key, seen[key]),
                                  effective=effective, category=category)
        out.append(b.add(obs))
    return out


def _specimens(group: OrderGroup, b: MessageBuilder) -> list[str]:
    return [b.add(s) for s in (to_fhir_specimen(spm, b) for spm in group.all("SPM")) if s is not None]


# --- message types ------------------------------------------------------------------------------

# ADT events whose MRG names a patient retired into the PID patient (merges, identifier changes).
_PATIENT_MERGES = frozenset({"A18", "A30", "A34", "A36", "A39", "A40", "A46", "A47", "A48"})


def map_adt(msg: Message, b: MessageBuilder) -> None:
    """ADT^A01-A62 → Patient (+ link for merges and A24 links), Encounter, and what the message
    carries (NK1, DG1, PR1, AL1/IAM, IN1, OBX); MRG identifiers of account and visit moves
    (A41/A42/A44/A45/A49/A50/A51) become old identifiers of the Account and Encounter."""
    event = msg.get("MSH-9.2") or msg.get("EVN-1")
    pids = msg.all("PID")
    if event in _PATIENT_MERGES or event in ("A24", "A37") and len(pids) > 1:
        patients = []
        for group in msg.groups("PID", frozenset({"MSH"})):
            sub = Message([msg.segments[0].text, *(s.text for s in group)])
            patient = to_fhir_patient(sub, b, group[0])
            b.patient_id = patient["id"]
            if event in _PATIENT_MERGES:
                for retired in merged_patients(sub, b, patient):
                    b.add(retired)
            b.add(patient)
            patients.append(patient)
            enc = to_fhir_encounter(sub, b)
            if enc is not None:
                b.encounter_id = enc["id"]
                b.add(enc)
        if event == "A24" and len(patients) > 1:
            first, second = patients[0], patients[1]
            first.setdefault("link", []).append({"other": reference("Patient", second["id"]), "type": "seealso"})
            second.setdefault("link", []).append({"other": reference("Patient", first["id"]), "type": "seealso"})
        return
    _patient_part(msg, b)
    _loose_observations(msg, b)
    mrg = msg.first("MRG")
    if mrg is not None:
        _moved_identifiers(mrg, b)


def _moved_identifiers(mrg: Segment, b: MessageBuilder) -> None:
    """MRG-3 (prior account) → Account.identifier, MRG-5/6 (prior visit) → Encounter.identifier,
    both ``use`` old: the record of where the moved account or visit came from."""
    for res in b.resources:
        fields = {"Account": (3,), "Encounter": (5, 6)}.get(str(res["resourceType"]), ())
        if res["resourceType"] == "Patient" and res["id"] == b.patient_id:
            fields = (1, 4)
        for field in fields:
            for ident in identifiers(mrg, field):
                ident["use"] = "old"
                res.setdefault("identifier", []).append(ident)


def map_results(msg: Message, b: MessageBuilder) -> None:
    """ORU^R01/R30/R32, OUL^R22/R23/R24 → Patient, Encounter, and per OBR a ServiceRequest, its
    Specimens (SPM), one Observation per OBX and the DiagnosticReport over them."""
    _patient_part(msg, b)
    groups = [g for g in order_groups(msg) if g.obr is not None]
    if not groups:
        raise MappingError(f"{msg.message_type} without an OBR segment has no result to report",
                           code="required").at_expression("OBR")  # type: ignore[misc]
    for group in groups:
        obr = group.obr
        assert obr is not None
        rid = report_id(msg, obr, b)
        sr = to_fhir_service_request(b, group.orc, obr)
        sr_id = b.add(sr) if sr is not None else None
        specimens = _specimens(group, b)
        effective = dt(obr.get(7), b.ctx, "OBR-7")
        results = _group_observations(group, b, rid, effective, LAB_CATEGORY)
        b.add(to_fhir_diagnostic_report(obr, b, rid=rid, results=results, based_on=sr_id, specimens=specimens))


def map_orders(msg: Message, b: MessageBuilder) -> None:
    """ORM^O01, OML^O21/O33/O35, OMG^O19, OMB^O27, OMP^O09 → Patient, Encounter, per order a
    ServiceRequest (or MedicationRequest for an RXO pharmacy order), Specimens, and the order's
    supporting Observations."""
    _patient_part(msg, b)
    groups = order_groups(msg)
    if not groups:
        raise MappingError(f"{msg.message_type} without an ORC or OBR segment has no order",
                           code="required").at_expression("ORC")  # type: ignore[misc]
    for group in groups:
        rxo = group.first("RXO")
        if rxo is not None:
            b.add(to_fhir_medication_request(b, group.orc, rxo, group.first("RXR")))
            continue
        code = None
        if group.obr is None:
            for name, field in (("OBR", 4), ("ODS", 3), ("BPO", 2), ("RXO", 1)):
                seg = group.first(name)
                if seg is not None and (code := first_cc(seg, field)) is not None:
                    break
        sr = to_fhir_service_request(b, group.orc, group.obr, code)
        if sr is None:
            continue
        specimens = _specimens(group, b)
        if specimens:
            sr["specimen"] = [reference("Specimen", s) for s in specimens]
        sr_id = b.add(sr)
        _group_observations(group, b, sr_id, None, None)


def map_vaccination(msg: Message, b: MessageBuilder) -> None:
    """VXU^V04 → Patient, NK1 RelatedPersons, Encounter, one Immunization per RXA (its RXR route and
    site, its ORC), and the OBX observations that follow each RXA (VIS, eligibility, funding)."""
    _patient_part(msg, b)
    groups = order_groups(msg)
    rxas = [(g, s) for g in groups for s in g.all("RXA")]
    if not rxas:
        loose = msg.all("RXA")
        if not loose:
            raise MappingError("VXU^V04 without an RXA segment has no immunization", code="required").at_expression("RXA")  # type: ignore[misc]
        rxas = [(OrderGroup(None), s) for s in loose]
    for group, rxa in rxas:
        imm = to_fhir_immunization(rxa, b, group.orc, group.first("RXR"))
        b.add(imm)
        _group_observations(group, b, imm["id"], imm["occurrenceDateTime"], None)


def map_pharmacy(msg: Message, b: MessageBuilder) -> None:
    """RDE^O11/O25, RDS^O13, RAS^O17, RGV^O15 → Patient, Encounter, per order a MedicationRequest
    (RXE or RXO), MedicationDispense (RXD) and MedicationAdministration (RXA), with Medications."""
    _patient_part(msg, b)
    groups = order_groups(msg)
    if not groups:
        raise MappingError(f"{msg.message_type} without an ORC segment has no order", code="required").at_expression("ORC")  # type: ignore[misc]
    for group in groups:
        rxr = group.first("RXR")
        request_id = None
        rx = group.first("RXE") or group.first("RXO")
        if rx is not None:
            request_id = b.add(to_fhir_medication_request(b, group.orc, rx, rxr))
        for rxd in group.all("RXD"):
            b.add(to_fhir_medication_dispense(b, group.orc, rxd, request_id))
        for rxa in group.all("RXA"):
            b.add(to_fhir_medication_administration(b, group.orc, rxa, rxr, request_id))
        _group_observations(group, b, request_id or b.msg.control_id, None, None)


def map_schedule(msg: Message, b: MessageBuilder) -> None:
    """SIU^S12-S26 → Patient, Encounter, Appointment (SCH with AIS/AIG/AIL/AIP)."""
    sch = msg.first("SCH")
    if sch is None:
        raise MappingError(f"{msg.message_type} without an SCH segment has no appointment", code="required").at_expression("SCH")  # type: ignore[misc]
    if msg.first("PID") is not None:
        _patient_part(msg, b)
        _loose_observations(msg, b)
    appt = to_fhir_appointment(sch, b, msg.get("MSH-9.2"))
    if not b.patient_id:
        appt["participant"] = appt["participant"][1:] or [{"actor": {"display": "unknown"}, "status": "needs-action"}]
    b.add(appt)


def map_document(msg: Message, b: MessageBuilder) -> None:
    """MDM^T01-T11 → Patient, Encounter, DocumentReference (TXA, with the OBX content of T02/T04/
    T06/T08/T10); T11 (cancel) marks the document entered-in-error."""
    txa = msg.first("TXA")
    if txa is None:
        raise MappingError(f"{msg.message_type} without a TXA segment has no document", code="required").at_expression("TXA")  # type: ignore[misc]
    _patient_part(msg, b)
    for group in order_groups(msg):
        sr = to_fhir_service_request(b, group.orc, group.obr)
        if sr is not None:
            b.add(sr)
    txa_at = msg.segments.index(txa)
    content = [s for s in msg.segments[txa_at:] if s.name == "OBX"]
    b.add(to_fhir_document_reference(txa, b, content, cancelled=msg.get("MSH-9.2") == "T11"))


def map_financial(msg: Message, b: MessageBuilder) -> None:
    """DFT^P03/P11, BAR^P01/P02/P05/P06/P10/P12 → Patient, Account, Encounter, Coverage, Condition,
    Procedure, and one ChargeItem per FT1."""
    _patient_part(msg, b)
    _loose_observations(msg, b)
    account = next((r for r in b.resources if r["resourceType"] == "Account"), None)
    if account is not None and msg.get("MSH-9.2") == "P06":
        account["status"] = "inactive"


def map_referral(msg: Message, b: MessageBuilder) -> None:
    """REF^I12-I15 → Patient, Encounter, ServiceRequest (RF1 referral, its PRD providers)."""
    _patient_part(msg, b)
    rf1 = msg.first("RF1")
    if rf1 is None:
        return
    code = first_cc(rf1, 5) or first_cc(rf1, 3) or {"text": "referral"}
    ident = rf1.get(6, 1)
    sr: Resource = {"resourceType": "ServiceRequest",
                    "id": b.ctx.make("ServiceRequest", "hl7v2", b.facility, "referral", ident or b.msg.control_id),
                    "status": {"A": "active", "P": "draft", "R": "revoked", "E": "completed"}.get(rf1.get(1, 1).upper(), "active"),
                    "intent": "order", "category": [{"text": "referral"}], "code": code, "subject": b.patient_ref()}
    if ident:
        sr["identifier"] = [{"value": ident}]
    if (when := dt(rf1.get(7), b.ctx, "RF1-7")):
        sr["authoredOn"] = when
    b.add(sr)


def map_problems(msg: Message, b: MessageBuilder) -> None:
    """PPR^PC1-PC3 → Patient, Encounter, a problem-list Condition per PRB (code .3, onset .16)."""
    _patient_part(msg, b)
    for prb in msg.all("PRB"):
        code = first_cc(prb, 3)
        if code is None:
            continue
        cond: Resource = {"resourceType": "Condition",
                          "id": b.ctx.make("Condition", b.patient_id, "problem", prb.get(4, 1) or prb.get(3, 1)),
                          "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                                    "code": "problem-list-item"}]}],
                          "code": code, "subject": b.patient_ref()}
        if (onset := dt(prb.get(16), b.ctx, "PRB-16")):
            cond["onsetDateTime"] = onset
        b.add(cond)


def map_patient_query_response(msg: Message, b: MessageBuilder) -> None:
    """RSP^K11/K21/K22/K23/K31, QBP responses carrying PID → Patient per PID (nothing else)."""
    pids = msg.all("PID")
    if not pids:
        raise UnsupportedError(f"{msg.message_type} carries no patient data (no PID): nothing to convert",
                               code="not-supported").at_expression("PID")  # type: ignore[misc]
    for pid in pids:
        patient = to_fhir_patient(msg, b, pid)
        b.add(patient)


def _events(prefix: str, events: str) -> list[str]:
    return [f"{prefix}^{e}" for e in events.split()]


MESSAGE_MAPPERS: dict[str, Mapper] = {
    **{t: map_adt for t in _events("ADT", " ".join(f"A{n:02d}" for n in range(1, 63)))},
    **{t: map_results for t in _events("ORU", "R01 R30 R32") + _events("OUL", "R21 R22 R23 R24")},
    **{t: map_orders for t in _events("ORM", "O01") + _events("OML", "O21 O33 O35 O39 O59")
       + _events("OMG", "O19") + _events("OMB", "O27") + _events("OMP", "O09") + _events("OMI", "O23")},
    "VXU^V04": map_vaccination,
    **{t: map_pharmacy for t in _events("RDE", "O11 O25") + _events("RDS", "O13") + _events("RAS", "O17")
       + _events("RGV", "O15")},
    **{t: map_schedule for t in _events("SIU", " ".join(f"S{n}" for n in range(12, 27)))},
    **{t: map_document for t in _events("MDM", " ".join(f"T{n:02d}" for n in range(1, 12)))},
    **{t: map_financial for t in _events("DFT", "P03 P11") + _events("BAR", "P01 P02 P05 P06 P10 P12")},
    **{t: map_referral for t in _events("REF", "I12 I13 I14 I15")},
    **{t: map_problems for t in _events("PPR", "PC1 PC2 PC3")},
    **{t: map_patient_query_response for t in _events("RSP", "K11 K21 K22 K23 K31")},
}


def to_fhir(msg: Message, ctx: MappingContext) -> list[Resource]:
    """Map one message by its type (MSH-9); unsupported types are rejected by name."""
    mtype = msg.message_type
    mapper = MESSAGE_MAPPERS.get(mtype)
    if mapper is None:
        raise UnsupportedError(
            f"message type {mtype or '(empty)'} is not converted (supported: ADT^A01-A62, ORU^R01/R30/R32, "
            "OUL^R21-R24, ORM^O01, OML, OMG, OMB, OMP, OMI, VXU^V04, RDE^O11/O25, RDS^O13, RAS^O17, RGV^O15, "
            "SIU^S12-S26, MDM^T01-T11, DFT^P03/P11, BAR^P01-P12, REF^I12-I15, PPR^PC1-PC3, RSP^K11-K31)",
            code="not-supported",
        ).at_expression("MSH-9")  # type: ignore[misc]
    b = MessageBuilder(msg, ctx)
    mapper(msg, b)
    provenance = to_fhir_provenance(b, msg.source_file, msg.position)
    if provenance is not None:
        b.add(provenance)
    else:
        ctx.problem("MSH-7 (date/time of message) is empty or not a timestamp: no Provenance (its recorded "
                    "time is required)", "MSH-7")
    return b.resources
