"""ORC/OBR → ServiceRequest; RXA → Immunization or MedicationAdministration; RXE/RXO →
MedicationRequest; RXD → MedicationDispense; the drug codes → Medication.

Mappings: v2-to-fhir IG segment maps ORC[ServiceRequest], OBR[ServiceRequest], RXA[Immunization],
RXA[MedicationAdministration], RXE[MedicationRequest], RXO[MedicationRequest],
RXD[MedicationDispense], RXR (route, site).
"""

from __future__ import annotations

from typing import Any

from etl.errors import MappingError
from etl.fhir.datatypes import decimal
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import codeable_concept, coded, dt, ei, first_cc
from etl.sources.hl7v2.model import Segment
from etl.sources.hl7v2.to_fhir_results import order_key

Json = dict[str, Any]


def _request_status(orc: Segment | None) -> str:
    if orc is None:
        return "active"
    return codes.ORDER_STATUS.get(orc.get(5).upper()) or codes.ORDER_CONTROL_STATUS.get(orc.get(1).upper(), "unknown")


def _order_identifiers(orc: Segment | None, obr: Segment | None) -> list[Json]:
    out: list[Json] = []
    seen: set[tuple[str, str]] = set()
    for seg, fields in ((orc, ((2, "PLAC"), (3, "FILL"), (4, "PGN"))), (obr, ((2, "PLAC"), (3, "FILL")))):
        if seg is None:
            continue
        for field, type_code in fields:
            for rep in seg.reps(field):
                ident = ei(rep, type_code if type_code != "PGN" else "")
                if ident is not None and type_code == "PGN":  # placer group number: not in table 0203
                    ident["type"] = {"text": "placer group number"}
                if ident is not None and (type_code, str(ident["value"])) not in seen:
                    seen.add((type_code, str(ident["value"])))
                    out.append(ident)
    return out


def order_id(b: MessageBuilder, rtype: str, orc: Segment | None, obr: Segment | None, *extra: str) -> str:
    """Placer and filler order numbers (ORC-2/3, else OBR-2/3) within the sending facility."""
    key = order_key(orc, 2, 3) if orc is not None else ("", "", "", "")
    if not any(key) and obr is not None:
        key = order_key(obr, 2, 3)
    if any(key):
        return b.ctx.make(rtype, "hl7v2", b.facility, *key, *extra)
    return b.ctx.make(rtype, "hl7v2", "msg", b.facility, b.msg.control_id, *extra)


def _requester(b: MessageBuilder, orc: Segment | None, obr: Segment | None) -> dict[str, str] | None:
    for seg, field in ((orc, 12), (obr, 16)):
        if seg is not None:
            for rep in seg.reps(field):
                if (ref := b.practitioner(rep)) is not None:
                    return ref
    return None


def to_fhir_service_request(b: MessageBuilder, orc: Segment | None, obr: Segment | None,
                            code: Json | None = None) -> Json | None:
    """ORC (+ OBR) → ServiceRequest: code OBR-4, identifiers ORC-2/3/4 and OBR-2/3, status ORC-5
    (else ORC-1), requester ORC-12 (else OBR-16), authored ORC-9, occurrence OBR-7/TQ1-7, reason
    OBR-31. None when there is neither a code nor an order number.

    :return: https://hl7.org/fhir/R4/servicerequest.html (mapping: v2-to-fhir IG, ORC/OBR[ServiceRequest])
    """
    ctx = b.ctx
    code = code or (first_cc(obr, 4) if obr is not None else None)
    ident = _order_identifiers(orc, obr)
    if code is None and not ident:
        return None
    res: Json = {"resourceType": "ServiceRequest", "id": order_id(b, "ServiceRequest", orc, obr)}
    if ident:
        res["identifier"] = ident
    res["status"] = _request_status(orc)
    res["intent"] = "order"
    if obr is not None and obr.get(5).upper() == "S" or orc is not None and orc.get(7, 6).upper() == "S":
        res["priority"] = "stat"
    res["code"] = code or {"text": "order"}
    res["subject"] = b.patient_ref()
    if b.encounter_id:
        res["encounter"] = reference("Encounter", b.encounter_id)
    tq1 = b.msg.first("TQ1")
    when = (dt(obr.get(7), ctx, "OBR-7") if obr is not None else None) or \
        (dt(tq1.get(7), ctx, "TQ1-7") if tq1 is not None else None)
    if when:
        res["occurrenceDateTime"] = when
    if orc is not None and (authored := dt(orc.get(9), ctx, "ORC-9")):
        res["authoredOn"] = authored
    if (req := _requester(b, orc, obr)) is not None:
        res["requester"] = req
    if obr is not None:
        reasons = [cc for cc in (codeable_concept(rep) for rep in obr.reps(31)) if cc]
        if reasons:
            res["reasonCode"] = reasons
    return res


def medication(b: MessageBuilder, cc: Json | None, form: Json | None = None) -> dict[str, str] | None:
    """A coded drug (RXE-2, RXO-1, RXD-2, RXA-5) → a reference to its Medication, one per code."""
    if cc is None:
        return None
    first = (cc.get("coding") or [{}])[0]
    rid = b.ctx.make("Medication", "hl7v2", first.get("system", ""), first.get("code", ""), cc.get("text", ""))
    if not b.has("Medication", rid):
        res: Json = {"resourceType": "Medication", "id": rid, "code": cc}
        if form is not None:
            res["form"] = form
        b.add(res)
    return reference("Medication", rid)


def _quantity(value: str, unit: Segment | None, field: int) -> Json | None:
    number = decimal(value)
    if number is None:
        return None
    q: Json = {"value": number}
    reps = unit.reps(field) if unit is not None else []
    if reps and (reps[0].get(2) or reps[0].get(1)):
        q["unit"] = reps[0].get(2) or reps[0].get(1)
        if reps[0].get(3).upper() == "UCUM":
            q["system"] = "http://unitsofmeasure.org"
            q["code"] = reps[0].get(1)
    return q


def _route(rxr: Segment | None) -> Json:
    out: Json = {}
    if rxr is None:
        return out
    if (route := first_cc(rxr, 1)) is not None:
        out["route"] = route
    if (site := first_cc(rxr, 2)) is not None:
        out["site"] = site
    return out


def to_fhir_immunization(rxa: Segment, b: MessageBuilder, orc: Segment | None, rxr: Segment | None) -> Json:
    """RXA (+ RXR, ORC) → Immunization: vaccine RXA-5 (CVX), occurrence RXA-3, dose RXA-6/7, lot
    RXA-15, expiration RXA-16, manufacturer RXA-17 (MVX), refusal RXA-18, status RXA-20/21,
    performer RXA-10, primary source RXA-9 (``00`` = new record).

    :return: https://hl7.org/fhir/R4/immunization.html (mapping: v2-to-fhir IG, RXA[Immunization])
    """
    ctx = b.ctx
    vaccine = first_cc(rxa, 5)
    if vaccine is None:
        raise MappingError("RXA-5 (administered code) is empty: no vaccine to record", code="required").at_expression("RXA-5")  # type: ignore[misc]
    when = dt(rxa.get(3), ctx, "RXA-3")
    if when is None:
        raise MappingError("RXA-3 (date/time start of administration) is empty or not a timestamp",
                           code="required").at_expression("RXA-3")  # type: ignore[misc]
    key = order_key(orc, 2, 3) if orc is not None else ("", "", "", "")
    rid = ctx.make("Immunization", "hl7v2", b.facility, *key) if any(key) else \
        ctx.make("Immunization", "hl7v2", b.patient_id, rxa.get(5, 1), rxa.get(3))
    if b.has("Immunization", rid):
        rid = ctx.make("Immunization", "hl7v2", rid, rxa.get(5, 1), rxa.get(3), rxa.get(2))
    completion = rxa.get(20).upper()
    status = "entered-in-error" if rxa.get(21).upper() == "D" else codes.IMMUNIZATION_STATUS.get(completion, "completed")
    res: Json = {"resourceType": "Immunization", "id": rid}
    ident = _order_identifiers(orc, None)
    if ident:
        res["identifier"] = ident
    res["status"] = status
    if status == "not-done" and (reason := first_cc(rxa, 18)) is not None:
        res["statusReason"] = reason
    res["vaccineCode"] = vaccine
    res["patient"] = b.patient_ref()
    if b.encounter_id:
        res["encounter"] = reference("Encounter", b.encounter_id)
    res["occurrenceDateTime"] = when
    source = rxa.get(9)
    if source:
        res["primarySource"] = source == "00"
    if (mvx := rxa.reps(17)) and mvx[0].get(1):
        org = b.organization_named(mvx[0].get(2) or mvx[0].get(1),
                                   {"system": codes.MVX_SYSTEM, "value": mvx[0].get(1)} if mvx[0].get(3).upper() == "MVX"
                                   else {"value": mvx[0].get(1)})
        if org is not None:
            res["manufacturer"] = org
    if rxa.get(15):
        res["lotNumber"] = rxa.get(15)
    if exp := dt(rxa.get(16), ctx, "RXA-16"):
        res["expirationDate"] = exp[:10]
    res.update(_route(rxr))
    if rxa.get(6) and rxa.get(6) != "999" and (dose := _quantity(rxa.get(6), rxa, 7)) is not None:
        res["doseQuantity"] = dose
    performers = [{"function": coded("http://terminology.hl7.org/CodeSystem/v2-0443", "AP"), "actor": r}
                  for r in (b.practitioner(rep) for rep in rxa.reps(10)) if r is not None]
    if orc is not None and (req := b.practitioner(orc.reps(12)[0]) if orc.reps(12) else None) is not None:
        performers.append({"function": coded("http://terminology.hl7.org/CodeSystem/v2-0443", "OP"), "actor": req})
    if performers:
        res["performer"] = performers
    return res


def to_fhir_medication_request(b: MessageBuilder, orc: Segment | None, rx: Segment, rxr: Segment | None) -> Json:
    """RXE (give code .2, amount .3, units .5, form .6, dispense .10/.11, refills .12) or RXO
    (requested give code .1, amount .2, units .4, form .5) + ORC → MedicationRequest.

    :return: https://hl7.org/fhir/R4/medicationrequest.html (mapping: v2-to-fhir IG, RXE/RXO[MedicationRequest])
    """
    ctx = b.ctx
    is_rxe = rx.name == "RXE"
    code_field, amount, units, form_field = (2, 3, 5, 6) if is_rxe else (1, 2, 4, 5)
    med = medication(b, first_cc(rx, code_field), first_cc(rx, form_field))
    if med is None:
        raise MappingError(f"{rx.name}-{code_field} (give code) is empty: no medication to order",
                           code="required").at_expression(f"{rx.name}-{code_field}")  # type: ignore[misc]
    res: Json = {"resourceType": "MedicationRequest", "id": order_id(b, "MedicationRequest", orc, None)}
    if ident := _order_identifiers(orc, None):
        res["identifier"] = ident
    res["status"] = codes.MEDICATION_STATUS.get(_request_status(orc), "unknown")
    res["intent"] = "order"
    res["medicationReference"] = med
    res["subject"] = b.patient_ref()
    if b.encounter_id:
        res["encounter"] = reference("Encounter", b.encounter_id)
    if orc is not None and (authored := dt(orc.get(9), ctx, "ORC-9")):
        res["authoredOn"] = authored
    if (req := _requester(b, orc, None)) is not None:
        res["requester"] = req
    dosage: Json = {}
    if (instr := first_cc(rx, 7 if is_rxe else 6)) is not None and instr.get("text"):
        dosage["text"] = instr["text"]
    dosage.update(_route(rxr))
    if (dose := _quantity(rx.get(amount), rx, units)) is not None:
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    if dosage:
        res["dosageInstruction"] = [dosage]
    if is_rxe:
        disp: Json = {}
        if (qty := _quantity(rx.get(10), rx, 11)) is not None:
            disp["quantity"] = qty
        if rx.get(12).isdigit():
            disp["numberOfRepeatsAllowed"] = int(rx.get(12))
        if disp:
            res["dispenseRequest"] = disp
    return res


def to_fhir_medication_dispense(b: MessageBuilder, orc: Segment | None, rxd: Segment, request_id: str | None) -> Json:
    """RXD (dispense code .2, date .3, amount .4/.5, prescription number .7, provider .10) →
    MedicationDispense.

    :return: https://hl7.org/fhir/R4/medicationdispense.html (mapping: v2-to-fhir IG, RXD[MedicationDispense])
    """
    med = medication(b, first_cc(rxd, 2))
    if med is None:
        raise MappingError("RXD-2 (dispense/give code) is empty", code="required").at_expression("RXD-2")  # type: ignore[misc]
    res: Json = {"resourceType": "MedicationDispense",
                 "id": order_id(b, "MedicationDispense", orc, None, rxd.get(1), rxd.get(7), rxd.get(3))}
    if rxd.get(7):
        res["identifier"] = [{"value": rxd.get(7)}]
    res["status"] = "completed"
    res["medicationReference"] = med
    res["subject"] = b.patient_ref()
    if request_id:
        res["authorizingPrescription"] = [reference("MedicationRequest", request_id)]
    if (qty := _quantity(rxd.get(4), rxd, 5)) is not None:
        res["quantity"] = qty
    if (when := dt(rxd.get(3), b.ctx, "RXD-3")):
        res["whenHandedOver"] = when
    performers = [{"actor": r} for r in (b.practitioner(rep) for rep in rxd.reps(10)) if r is not None]
    if performers:
        res["performer"] = performers
    return res


def to_fhir_medication_administration(b: MessageBuilder, orc: Segment | None, rxa: Segment, rxr: Segment | None,
                                      request_id: str | None) -> Json:
    """RXA (start .3, end .4, code .5, amount .6/.7, administering provider .10, completion .20) →
    MedicationAdministration (RAS^O17).

    :return: https://hl7.org/fhir/R4/medicationadministration.html (mapping: v2-to-fhir IG,
        RXA[MedicationAdministration])
    """
    ctx = b.ctx
    med = medication(b, first_cc(rxa, 5))
    if med is None:
        raise MappingError("RXA-5 (administered code) is empty", code="required").at_expression("RXA-5")  # type: ignore[misc]
    start = dt(rxa.get(3), ctx, "RXA-3")
    if start is None:
        raise MappingError("RXA-3 (start of administration) is empty or not a timestamp",
                           code="required").at_expression("RXA-3")  # type: ignore[misc]
    res: Json = {"resourceType": "MedicationAdministration",
                 "id": order_id(b, "MedicationAdministration", orc, None, rxa.get(1), rxa.get(2), rxa.get(3))}
    res["status"] = "entered-in-error" if rxa.get(21).upper() == "D" else \
        codes.ADMINISTRATION_STATUS.get(rxa.get(20).upper(), "completed")
    res["medicationReference"] = med
    res["subject"] = b.patient_ref()
    if b.encounter_id:
        res["context"] = reference("Encounter", b.encounter_id)
    end = dt(rxa.get(4), ctx, "RXA-4")
    res["effectivePeriod" if end and end != start else "effectiveDateTime"] = \
        {"start": start, "end": end} if end and end != start else start
    performers = [{"actor": r} for r in (b.practitioner(rep) for rep in rxa.reps(10)) if r is not None]
    if performers:
        res["performer"] = performers
    if request_id:
        res["request"] = reference("MedicationRequest", request_id)
    dosage: Json = {}
    route = _route(rxr)
    if "route" in route:
        dosage["route"] = route["route"]
    if "site" in route:
        dosage["site"] = route["site"]
    if (dose := _quantity(rxa.get(6), rxa, 7)) is not None:
        dosage["dose"] = dose
    if dosage:
        res["dosage"] = dosage
    return res
