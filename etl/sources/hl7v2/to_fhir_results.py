"""OBX → Observation, OBR → DiagnosticReport, SPM → Specimen (ORU^R01/R30, OUL, MDM, ADT OBX).

Mapping: v2-to-fhir IG segment maps OBX[Observation], OBR[DiagnosticReport], SPM[Specimen].
A report's identity is its placer (OBR-2) and filler (OBR-3) order numbers within the sending
facility (MSH-4), so two OBR groups that share one of them stay two reports.
"""

from __future__ import annotations

from typing import Any

from etl.errors import MappingError
from etl.fhir.datatypes import decimal
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import codeable_concept, dt, ei, first_cc
from etl.sources.hl7v2.model import Component, Message, Segment

Json = dict[str, Any]
UCUM = "http://unitsofmeasure.org"
LAB_CATEGORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory", "display": "Laboratory"}]}


def order_key(obr_or_orc: Segment, placer_field: int, filler_field: int) -> tuple[str, str, str, str]:
    """(placer number, its namespace, filler number, its namespace) of an ORC or OBR."""
    placer, filler = obr_or_orc.reps(placer_field), obr_or_orc.reps(filler_field)
    p = (placer[0].get(1), placer[0].get(2)) if placer else ("", "")
    f = (filler[0].get(1), filler[0].get(2)) if filler else ("", "")
    return (*p, *f)


def report_id(msg: Message, obr: Segment, b: MessageBuilder) -> str:
    """Placer and filler numbers within the sending facility; the OBR's code and place when the
    message repeats a pair (or has neither), so no OBR group shares another's report."""
    key = order_key(obr, 2, 3)
    if any(key):
        rid = b.ctx.make("DiagnosticReport", "hl7v2", b.facility, *key)
        if not b.has("DiagnosticReport", rid):
            return rid
        return b.ctx.make("DiagnosticReport", "hl7v2", b.facility, *key, obr.get(4, 1), obr.get(1))
    return b.ctx.make("DiagnosticReport", "hl7v2", "msg", b.facility, msg.control_id, obr.get(1), obr.get(4, 1))


def _unit(unit: Component | None) -> Json:
    """OBX-6 (CWE) → Quantity unit/system/code: UCUM when OBX-6.3 (or the alternate, .6) names
    UCUM, the unit text otherwise (a local spelling is often not UCUM: coding it would be wrong)."""
    if unit is None or not (unit.get(1) or unit.get(2)):
        return {}
    out: Json = {"unit": unit.get(2) or unit.get(1)}
    for code_i, sys_i in ((1, 3), (4, 6)):
        if unit.get(sys_i).upper() in ("UCUM", "ANSI+", "ISO+") and unit.get(code_i):
            out["system"] = UCUM
            out["code"] = unit.get(code_i)
            break
    return out


def to_fhir_observation(obx: Segment, b: MessageBuilder, *, obs_id: str, effective: str | None,
                        category: Json | None = LAB_CATEGORY) -> Json:
    """OBX → Observation; the value type follows OBX-2.

    :return: https://hl7.org/fhir/R4/observation.html (mapping: v2-to-fhir IG, OBX[Observation])
    """
    ctx = b.ctx
    code = first_cc(obx, 3)
    if code is None:
        raise MappingError("OBX-3 (observation identifier) is empty", code="required").at_expression("OBX-3")  # type: ignore[misc]
    status_code = obx.get(11).upper()
    obs: Json = {
        "resourceType": "Observation",
        "id": obs_id,
        "status": codes.OBSERVATION_STATUS.get(status_code, "final" if not status_code else "unknown"),
    }
    if category is not None:
        obs["category"] = [category]
    obs["code"] = code
    obs["subject"] = b.patient_ref()
    if b.encounter_id:
        obs["encounter"] = reference("Encounter", b.encounter_id)
    if status_code and status_code not in codes.OBSERVATION_STATUS:
        ctx.problem("result status is not in HL7 table 0085", "OBX-11", status_code)
    when = dt(obx.get(14), ctx, "OBX-14") or effective
    if when:
        obs["effectiveDateTime"] = when
    _observation_value(obx, obs, b)
    interp = obx.get(8)
    if interp:
        coding: dict[str, str] = {"code": interp}
        if interp in codes.INTERPRETATION:
            coding = {"system": codes.INTERPRETATION_SYSTEM, "code": interp}
        obs["interpretation"] = [{"coding": [coding]}]
    if obx.get(7):
        obs["referenceRange"] = [{"text": obx.get(7)}]
    performers = [r for r in (b.practitioner(rep) for f in (16, 25) for rep in obx.reps(f)) if r is not None]
    performers += [r for r in (b.organization(rep) for rep in obx.reps(23)) if r is not None]
    if performers:
        obs["performer"] = performers
    if (method := first_cc(obx, 17)) is not None:
        obs["method"] = method
    if (issued := dt(obx.get(19), ctx, "OBX-19")) and "T" in issued:
        obs["issued"] = issued
    return obs


def _observation_value(obx: Segment, obs: Json, b: MessageBuilder) -> None:
    ctx = b.ctx
    vtype = obx.get(2).upper()
    reps = obx.reps(5)
    if not reps:
        if obx.get(11).upper() not in ("X", "D", "N"):
            obs["dataAbsentReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}
        return
    first = reps[0]
    unit = _unit(obx.reps(6)[0] if obx.reps(6) else None)
    if vtype == "NM":
        number = decimal(first.get(1))
        if number is None:
            ctx.problem("numeric result is not a number; kept as text", "OBX-5", first.get(1))
            obs["valueString"] = first.raw
            return
        obs["valueQuantity"] = {"value": number, **unit}
    elif vtype in ("CE", "CWE", "CNE", "CF"):
        cc = codeable_concept(first)
        if cc:
            obs["valueCodeableConcept"] = cc
    elif vtype == "SN":
        comparator, num1, sep, num2 = first.get(1), first.get(2), first.get(3), first.get(4)
        n1 = decimal(num1)
        if n1 is not None and not sep and comparator in ("", "<", "<=", ">", ">=", "="):
            q: Json = {"value": n1}
            if comparator and comparator != "=":
                q["comparator"] = comparator
            obs["valueQuantity"] = {**q, **unit}
        elif n1 is not None and sep in ("-", "^") and (n2 := decimal(num2)) is not None and not comparator:
            obs["valueRange"] = {"low": {"value": n1, **unit}, "high": {"value": n2, **unit}}
        elif n1 is not None and sep in (":", "/") and (n2 := decimal(num2)) is not None and not comparator:
            obs["valueRatio"] = {"numerator": {"value": n1}, "denominator": {"value": n2}}
        else:
            obs["valueString"] = "".join(x for x in (comparator, num1, sep, num2) if x)
    elif vtype in ("DT", "TS", "DTM"):
        when = dt(first.get(1), ctx, "OBX-5")
        if when:
            obs["valueDateTime"] = when
    elif vtype == "TM":
        t = first.get(1)
        if len(t) >= 4 and t[:4].isdigit():
            obs["valueTime"] = f"{t[:2]}:{t[2:4]}:{t[4:6] if t[4:6].isdigit() else '00'}"
    elif vtype == "ED":  # encapsulated data: type .2/.3, encoding .4, data .5 (as text for R4 Observation)
        obs["valueString"] = first.get(5) or first.raw
    else:  # ST, TX, FT and anything textual
        text = "\n".join(r.get(1) if vtype != "FT" else b.msg.encoding.unescape(r.raw) for r in reps).strip()
        if text:
            obs["valueString"] = text


def to_fhir_diagnostic_report(obr: Segment, b: MessageBuilder, *, rid: str, results: list[str],
                              based_on: str | None = None, specimens: list[str] | None = None) -> Json:
    """OBR → DiagnosticReport, pointing at the Observations of its OBX segments.

    :return: https://hl7.org/fhir/R4/diagnosticreport.html (mapping: v2-to-fhir IG, OBR[DiagnosticReport])
    """
    ctx = b.ctx
    code = first_cc(obr, 4)
    if code is None:
        raise MappingError("OBR-4 (universal service identifier) is empty", code="required").at_expression("OBR-4")  # type: ignore[misc]
    status_code = obr.get(25).upper()
    report: Json = {"resourceType": "DiagnosticReport", "id": rid}
    ident = [i for i in (ei(rep, t) for f, t in ((2, "PLAC"), (3, "FILL")) for rep in obr.reps(f)) if i is not None]
    if ident:
        report["identifier"] = ident
    if based_on:
        report["basedOn"] = [reference("ServiceRequest", based_on)]
    report["status"] = codes.REPORT_STATUS.get(status_code, "unknown" if status_code else "final")
    section = obr.get(24).upper()
    report["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                       "code": section if section in codes.DIAGNOSTIC_SECTION else "LAB"}]}]
    report["code"] = code
    report["subject"] = b.patient_ref()
    if b.encounter_id:
        report["encounter"] = reference("Encounter", b.encounter_id)
    if (eff := dt(obr.get(7), ctx, "OBR-7")):
        end = dt(obr.get(8), ctx, "OBR-8")
        if end and end != eff:
            report["effectivePeriod"] = {"start": eff, "end": end}
        else:
            report["effectiveDateTime"] = eff
    if (issued := dt(obr.get(22), ctx, "OBR-22")) and "T" in issued:
        report["issued"] = issued
    interpreters = [r for r in (b.practitioner(rep) for rep in obr.reps(32)) if r is not None]
    if interpreters:
        report["resultsInterpreter"] = interpreters
    if specimens:
        report["specimen"] = [reference("Specimen", s) for s in specimens]
    if results:
        report["result"] = [reference("Observation", r) for r in results]
    return report


def to_fhir_specimen(spm: Segment, b: MessageBuilder) -> Json | None:
    """SPM → Specimen (id .2, type .4, collection method .7, body site .8, collected .17,
    received .18). None when SPM-2 and SPM-4 are both empty.

    :return: https://hl7.org/fhir/R4/specimen.html (mapping: v2-to-fhir IG, SPM[Specimen])
    """
    ctx = b.ctx
    ids = spm.reps(2)
    stype = first_cc(spm, 4)
    if not ids and stype is None:
        return None
    placer, filler = (ids[0].get(1, 1), ids[0].get(2, 1)) if ids else ("", "")
    key = (placer, filler) if placer or filler else ("msg", b.msg.control_id, spm.get(1))
    res: Json = {"resourceType": "Specimen", "id": ctx.make("Specimen", "hl7v2", b.facility, *key)}
    ident = []
    if placer:
        ident.append({"type": {"coding": [{"system": codes.IDENTIFIER_TYPE_SYSTEM, "code": "PLAC"}]}, "value": placer})
    if filler:
        ident.append({"type": {"coding": [{"system": codes.IDENTIFIER_TYPE_SYSTEM, "code": "FILL"}]}, "value": filler})
    if ident:
        res["identifier"] = ident
    if stype is not None:
        res["type"] = stype
    res["subject"] = b.patient_ref()
    if (received := dt(spm.get(18), ctx, "SPM-18")) and "T" in received:
        res["receivedTime"] = received
    collection: Json = {}
    if (collected := dt(spm.get(17), ctx, "SPM-17")):
        collection["collectedDateTime"] = collected
    if (method := first_cc(spm, 7)) is not None:
        collection["method"] = method
    if (site := first_cc(spm, 8)) is not None:
        collection["bodySite"] = site
    if collection:
        res["collection"] = collection
    return res
