"""HL7 v2 messages → FHIR R4 resources: pure mappers, one per target resource.

Field mappings follow the HL7 Version 2 to FHIR IG (https://build.fhir.org/ig/HL7/v2-to-fhir/):
PID → Patient, PV1 → Encounter, OBR → DiagnosticReport, OBX → Observation. Message types are
dispatched through :data:`MESSAGE_MAPPERS`; covering more of HL7 v2 means adding entries there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from etl.errors import MappingError, UnsupportedError
from etl.fhir.context import MappingContext
from etl.fhir.datatypes import decimal, ts_to_fhir
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.model import Component, Message, Segment

Resource = dict[str, Any]


# --- data types -------------------------------------------------------------------------------

def _system(name: str) -> str | None:
    """A v2 coding-system name (Table 0396) as a FHIR system URI, if it has one."""
    return codes.CODING_SYSTEM.get(name.upper().replace("-", "")) if name else None


def codeable_concept(c: Component | None) -> dict[str, Any] | None:
    """CE/CWE/CNE → CodeableConcept: the primary triplet (.1-.3) and the alternate (.4-.6)."""
    if c is None or not c:
        return None
    codings = []
    for code_i, text_i, sys_i in ((1, 2, 3), (4, 5, 6)):
        code, display, sys_name = c.get(code_i), c.get(text_i), c.get(sys_i)
        if not code:
            continue
        coding: dict[str, Any] = {}
        uri = _system(sys_name)
        if uri:
            coding["system"] = uri
        coding["code"] = code
        if display:
            coding["display"] = display
        codings.append(coding)
    out: dict[str, Any] = {}
    if codings:
        out["coding"] = codings
    text = c.get(9) or c.get(2) or c.get(5)
    if text:
        out["text"] = text
    return out or None


def _dt(value: str, ctx: MappingContext, path: str) -> str | None:
    if not value:
        return None
    out = ts_to_fhir(value, ctx.source_timezone)
    if out is None:
        ctx.problem("is not a valid HL7 timestamp (expected YYYY[MM[DD[HHMM[SS]]]][+ZZZZ])", path, value)
    return out


# An ISO OID as FHIR's oid type and HAPI's validator accept it: at least three arcs, no leading zeros.
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*)){2,}")


def identifiers(seg: Segment, field: int) -> list[dict[str, Any]]:
    """CX repetitions → Identifier (value .1, assigning authority .4, identifier type .5)."""
    out = []
    for rep in seg.reps(field):
        value = rep.get(1)
        if not value:
            continue
        ident: dict[str, Any] = {}
        type_code = rep.get(5)
        if type_code in codes.IDENTIFIER_TYPES:
            ident["type"] = {"coding": [{"system": codes.IDENTIFIER_TYPE_SYSTEM, "code": type_code}]}
        elif type_code:
            ident["type"] = {"text": type_code}
        authority_oid, authority = rep.get(4, 2), rep.get(4, 1)
        if rep.get(4, 3).upper() == "ISO" and _OID.fullmatch(authority_oid):
            ident["system"] = f"urn:oid:{authority_oid}"
        elif authority:
            ident["system"] = codes.LOCAL_ID_SYSTEM + quote(authority, safe="")
        ident["value"] = value
        out.append(ident)
    return out


def human_names(seg: Segment, field: int) -> list[dict[str, Any]]:
    """XPN → HumanName (family .1.1, given .2 and .3, suffix .4, prefix .5)."""
    out = []
    for rep in seg.reps(field):
        name: dict[str, Any] = {}
        family = rep.get(1, 1)
        if family:
            name["family"] = family
        given = [g for g in (rep.get(2), rep.get(3)) if g]
        if given:
            name["given"] = given
        if rep.get(5):
            name["prefix"] = [rep.get(5)]
        if rep.get(4):
            name["suffix"] = [rep.get(4)]
        if rep.get(7) == "L":
            name["use"] = "official"
        if name:
            out.append(name)
    return out


def addresses(seg: Segment, field: int) -> list[dict[str, Any]]:
    """XAD → Address (street .1.1 and .2, city .3, state .4, zip .5, country .6)."""
    out = []
    for rep in seg.reps(field):
        addr: dict[str, Any] = {}
        lines = [x for x in (rep.get(1, 1), rep.get(2)) if x]
        if lines:
            addr["line"] = lines
        for key, comp in (("city", 3), ("state", 4), ("postalCode", 5), ("country", 6)):
            if rep.get(comp):
                addr[key] = rep.get(comp)
        if addr:
            out.append(addr)
    return out


def telecoms(seg: Segment, field: int, default_use: str) -> list[dict[str, Any]]:
    """XTN → ContactPoint (number .1 or .12, e-mail .4)."""
    out = []
    for rep in seg.reps(field):
        use_code = rep.get(2)
        email = rep.get(4)
        number = rep.get(1) or rep.get(12) or "".join(x for x in (rep.get(6), rep.get(7)) if x)
        cp: dict[str, Any]
        if email and (rep.get(3) in ("Internet", "X.400") or not number):
            cp = {"system": "email", "value": email}
        elif number:
            cp = {"system": "phone", "value": number}
        else:
            continue
        use = codes.TELECOM_USE.get(use_code, default_use) if use_code else default_use
        if use:
            cp["use"] = use
        out.append(cp)
    return out


# --- resources ----------------------------------------------------------------------------------

def patient_key(msg: Message) -> tuple[str, str]:
    """(assigning authority, id) of the first PID-3 repetition: the patient's identity."""
    pid = msg.first("PID")
    reps = pid.reps(3) if pid else []
    if not reps or not reps[0].get(1):
        raise MappingError("PID-3 (patient identifier list) is empty: the patient cannot be identified",
                           code="required").at_expression("PID-3")  # type: ignore[return-value]
    first = reps[0]
    return (first.get(4, 1) or first.get(4, 2), first.get(1))


def to_fhir_patient(msg: Message, ctx: MappingContext) -> Resource:
    """PID → Patient.

    :return: https://hl7.org/fhir/R4/patient.html (mapping: v2-to-fhir IG, PID[Patient])
    """
    pid = msg.first("PID")
    if pid is None:
        raise MappingError("the message has no PID segment", code="required").at_expression("PID")  # type: ignore[misc]
    patient: Resource = {"resourceType": "Patient", "id": ctx.make("Patient", "hl7v2", *patient_key(msg))}
    patient["identifier"] = identifiers(pid, 3) + identifiers(pid, 2)
    if names := human_names(pid, 5):
        patient["name"] = names
    if phones := telecoms(pid, 13, "home") + telecoms(pid, 14, "work"):
        patient["telecom"] = phones
    sex = pid.get(8)
    if sex:
        gender = codes.ADMINISTRATIVE_SEX.get(sex.upper())
        if gender:
            patient["gender"] = gender
        else:
            ctx.problem("administrative sex is not in HL7 table 0001", "PID-8", sex)
    if pid.get(7):
        birth = ts_to_fhir(pid.get(7), date_only=True)
        if birth:
            patient["birthDate"] = birth
        else:
            ctx.problem("birth date is not a valid HL7 date", "PID-7", pid.get(7))
    death_flag, death_time = pid.get(30), pid.get(29)
    if death_time and (dt := _dt(death_time, ctx, "PID-29")):
        patient["deceasedDateTime"] = dt
    elif death_flag in ("Y", "N"):
        patient["deceasedBoolean"] = death_flag == "Y"
    if addr := addresses(pid, 11):
        patient["address"] = addr
    marital = pid.get(16)
    if marital:
        if marital.upper() in codes.MARITAL_STATUS:
            patient["maritalStatus"] = {"coding": [{"system": codes.MARITAL_STATUS_SYSTEM, "code": marital.upper()}]}
        else:
            ctx.problem("marital status is not in HL7 table 0002", "PID-16", marital)
    if pid.get(15):
        patient["communication"] = [{"language": {"text": pid.get(15)}}]
    return patient


def _encounter_id(msg: Message, ctx: MappingContext) -> str:
    pv1 = msg.first("PV1")
    visit = pv1.reps(19)[0] if pv1 and pv1.reps(19) else None
    if visit is not None and visit.get(1):
        return ctx.make("Encounter", "hl7v2", msg.get("MSH-4.1"), visit.get(4, 1), visit.get(1))
    admit = pv1.get(44) if pv1 else ""
    if admit:
        return ctx.make("Encounter", "hl7v2", *patient_key(msg), admit)
    return ctx.make("Encounter", "hl7v2", "msg", msg.get("MSH-3.1"), msg.get("MSH-4.1"), msg.control_id)


def to_fhir_encounter(msg: Message, ctx: MappingContext, patient_id: str) -> Resource | None:
    """PV1 → Encounter (status from the ADT trigger event). None when there is no PV1.

    :return: https://hl7.org/fhir/R4/encounter.html (mapping: v2-to-fhir IG, PV1[Encounter])
    """
    pv1 = msg.first("PV1")
    if pv1 is None:
        return None
    event = msg.get("MSH-9.2") or msg.get("EVN-1")
    enc: Resource = {
        "resourceType": "Encounter",
        "id": _encounter_id(msg, ctx),
        "status": codes.ENCOUNTER_STATUS.get(event, "unknown"),
    }
    visit = pv1.reps(19)
    if visit:
        enc["identifier"] = [{"value": visit[0].get(1)}]
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
    enc["subject"] = reference("Patient", patient_id)
    period: dict[str, str] = {}
    if (start := _dt(pv1.get(44), ctx, "PV1-44")):
        period["start"] = start
    if (end := _dt(pv1.get(45), ctx, "PV1-45")):
        period["end"] = end
    if period:
        enc["period"] = period
    participants = []
    for field, role in ((7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM")):
        for rep in pv1.reps(field):
            name = " ".join(x for x in (rep.get(6), rep.get(3), rep.get(2)) if x)
            if name or rep.get(1):
                participants.append({
                    "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                          "code": role}]}],
                    "individual": {"display": name or rep.get(1)},
                })
    if participants:
        enc["participant"] = participants
    loc = pv1.reps(3)
    if loc:
        text = "^".join(x for x in (loc[0].get(4), loc[0].get(1), loc[0].get(2), loc[0].get(3)) if x)
        if text:
            enc["location"] = [{"location": {"display": text}}]
    disposition = pv1.get(36)
    if disposition:
        enc["hospitalization"] = {"dischargeDisposition": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0112", "code": disposition}]}}
    return enc


def _report_id(msg: Message, obr: Segment, ctx: MappingContext) -> str:
    filler, placer = obr.reps(3), obr.reps(2)
    for order in (filler, placer):
        if order and order[0].get(1):
            return ctx.make("DiagnosticReport", "hl7v2", order[0].get(2), order[0].get(1))
    return ctx.make("DiagnosticReport", "hl7v2", "msg", msg.get("MSH-4.1"), msg.control_id, obr.get(1))


def to_fhir_observation(
    obx: Segment, ctx: MappingContext, *, obs_id: str, patient_id: str, effective: str | None
) -> Resource:
    """OBX → Observation; the value type follows OBX-2.

    :return: https://hl7.org/fhir/R4/observation.html (mapping: v2-to-fhir IG, OBX[Observation])
    """
    code = codeable_concept(obx.reps(3)[0] if obx.reps(3) else None)
    if code is None:
        raise MappingError("OBX-3 (observation identifier) is empty", code="required").at_expression("OBX-3")  # type: ignore[misc]
    status_code = obx.get(11).upper()
    obs: Resource = {
        "resourceType": "Observation",
        "id": obs_id,
        "status": codes.OBSERVATION_STATUS.get(status_code, "final" if not status_code else "unknown"),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory", "display": "Laboratory"}]}],
        "code": code,
        "subject": reference("Patient", patient_id),
    }
    if status_code and status_code not in codes.OBSERVATION_STATUS:
        ctx.problem("result status is not in HL7 table 0085", "OBX-11", status_code)
    when = _dt(obx.get(14), ctx, "OBX-14") or effective
    if when:
        obs["effectiveDateTime"] = when
    _observation_value(obx, obs, ctx)
    interp = obx.get(8)
    if interp:
        coding: dict[str, str] = {"code": interp}
        if interp in codes.INTERPRETATION:
            coding = {"system": codes.INTERPRETATION_SYSTEM, "code": interp}
        obs["interpretation"] = [{"coding": [coding]}]
    if obx.get(7):
        obs["referenceRange"] = [{"text": obx.get(7)}]
    return obs


def _observation_value(obx: Segment, obs: Resource, ctx: MappingContext) -> None:
    vtype = obx.get(2).upper()
    reps = obx.reps(5)
    if not reps:
        if obx.get(11).upper() not in ("X", "D", "N"):
            obs["dataAbsentReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}
        return
    first = reps[0]
    if vtype == "NM":
        number = decimal(first.get(1))
        if number is None:
            ctx.problem("numeric result is not a number; kept as text", "OBX-5", first.get(1))
            obs["valueString"] = first.raw
            return
        qty: dict[str, Any] = {"value": number}
        unit = obx.reps(6)[0] if obx.reps(6) else None
        if unit is not None and unit.get(1):
            qty["unit"] = unit.get(2) or unit.get(1)
            # Only a unit the sender declares UCUM (OBX-6.3) is coded: an undeclared one is often a
            # local spelling ("giga.l-1") that is not UCUM, and a wrong UCUM code fails validation.
            if unit.get(3).upper() == "UCUM":
                qty["system"] = "http://unitsofmeasure.org"
                qty["code"] = unit.get(1)
        obs["valueQuantity"] = qty
    elif vtype in ("CE", "CWE", "CNE", "CF"):
        cc = codeable_concept(first)
        if cc:
            obs["valueCodeableConcept"] = cc
    elif vtype == "SN":
        comparator, num1, sep, num2 = first.get(1), first.get(2), first.get(3), first.get(4)
        n1 = decimal(num1)
        if n1 is not None and not sep and comparator in ("", "<", "<=", ">", ">=", "="):
            q: dict[str, Any] = {"value": n1}
            if comparator and comparator != "=":
                q["comparator"] = comparator
            obs["valueQuantity"] = q
        else:
            obs["valueString"] = "".join(x for x in (comparator, num1, sep, num2) if x)
    elif vtype in ("DT", "TS", "DTM"):
        when = _dt(first.get(1), ctx, "OBX-5")
        if when:
            obs["valueDateTime"] = when
    else:  # ST, TX, FT and anything textual
        text = "\n".join(r.get(1) if vtype != "FT" else r.raw for r in reps).strip()
        if text:
            obs["valueString"] = text


def to_fhir_diagnostic_report(
    obr: Segment, ctx: MappingContext, *, report_id: str, patient_id: str, results: list[str]
) -> Resource:
    """OBR → DiagnosticReport, pointing at the Observations of its OBX segments.

    :return: https://hl7.org/fhir/R4/diagnosticreport.html (mapping: v2-to-fhir IG, OBR[DiagnosticReport])
    """
    code = codeable_concept(obr.reps(4)[0] if obr.reps(4) else None)
    if code is None:
        raise MappingError("OBR-4 (universal service identifier) is empty", code="required").at_expression("OBR-4")  # type: ignore[misc]
    status_code = obr.get(25).upper()
    report: Resource = {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "status": codes.REPORT_STATUS.get(status_code, "unknown" if status_code else "final"),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": code,
        "subject": reference("Patient", patient_id),
    }
    ident = []
    for field, type_code in ((2, "PLAC"), (3, "FILL")):
        for rep in obr.reps(field):
            if rep.get(1):
                ident.append({"type": {"coding": [{"system": codes.IDENTIFIER_TYPE_SYSTEM, "code": type_code}]},
                              "value": rep.get(1)})
    if ident:
        report["identifier"] = ident
    if (eff := _dt(obr.get(7), ctx, "OBR-7")):
        report["effectiveDateTime"] = eff
    if results:
        report["result"] = [reference("Observation", r) for r in results]
    return report


# --- message types -------------------------------------------------------------------------------

def map_adt(msg: Message, ctx: MappingContext) -> list[Resource]:
    """ADT^A01/A03/A04/A08 → Patient + Encounter."""
    patient = to_fhir_patient(msg, ctx)
    out = [patient]
    enc = to_fhir_encounter(msg, ctx, patient["id"])
    if enc is not None:
        out.append(enc)
    return out


# Segments that open the next ORDER_OBSERVATION or PATIENT_RESULT group of ORU^R01 (v2.5.1 ch. 7):
# an OBR's OBX/NTE/PRT/SPM... belong to it up to one of these.
_ORDER_BOUNDARY = frozenset({"ORC", "PID", "PD1", "PV1", "MSH", "BHS", "BTS", "FHS", "FTS"})


def map_oru(msg: Message, ctx: MappingContext) -> list[Resource]:
    """ORU^R01 → Patient + one DiagnosticReport per OBR + one Observation per OBX."""
    patient = to_fhir_patient(msg, ctx)
    out: list[Resource] = [patient]
    groups = list(msg.groups("OBR", _ORDER_BOUNDARY))
    if not groups:
        raise MappingError("ORU^R01 without an OBR segment has no result to report", code="required").at_expression("OBR")  # type: ignore[misc]
    for group in groups:
        obr = group[0]
        report_id = _report_id(msg, obr, ctx)
        effective = _dt(obr.get(7), ctx, "OBR-7")
        seen: Counter[tuple[str, str, str]] = Counter()
        observations = []
        for obx in (s for s in group if s.name == "OBX"):
            key = (obx.get(3, 1), obx.get(3, 3), obx.get(4))
            seen[key] += 1
            obs_id = ctx.make("Observation", report_id, *key, seen[key])
            observations.append(to_fhir_observation(obx, ctx, obs_id=obs_id, patient_id=patient["id"],
                                                    effective=effective))
        out.append(to_fhir_diagnostic_report(obr, ctx, report_id=report_id, patient_id=patient["id"],
                                             results=[o["id"] for o in observations]))
        out += observations
    return out


MESSAGE_MAPPERS: dict[str, Callable[[Message, MappingContext], list[Resource]]] = {
    "ADT^A01": map_adt,
    "ADT^A03": map_adt,
    "ADT^A04": map_adt,
    "ADT^A08": map_adt,
    "ORU^R01": map_oru,
}


def to_fhir(msg: Message, ctx: MappingContext) -> list[Resource]:
    """Map one message by its type (MSH-9); unsupported types are rejected by name."""
    mtype = msg.message_type
    mapper = MESSAGE_MAPPERS.get(mtype)
    if mapper is None:
        supported = ", ".join(sorted(MESSAGE_MAPPERS))
        raise UnsupportedError(
            f"message type {mtype or '(empty)'} is not converted (supported: {supported})",
            code="not-supported",
        ).at_expression("MSH-9")  # type: ignore[misc]
    return mapper(msg, ctx)
