"""Allergies, problems, medications, immunizations, procedures and encounters → FHIR.

Each mapper names its C-CDA R2.1 entry template and its US Core target; status rules follow the
C-CDA on FHIR mapping tables (https://build.fhir.org/ig/HL7/ccda-on-fhir/mappingGuidance.html).
Every mapper returns the References that the Composition section lists as ``entry``.
"""

from __future__ import annotations

from etl.sources.ccda import codes
from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import (
    Json,
    address,
    codeable,
    coding,
    effective,
    id_key,
    identifiers,
    period,
    put,
    quantity,
    required_codeable,
    ts,
)
from etl.sources.ccda.model import (
    XSI_TYPE,
    Element,
    attr,
    find,
    findall,
    negated,
    related,
    require,
    status_code,
    template_ids,
    text,
)
from etl.sources.ccda.to_fhir_header import encounter_class
from etl.sources.ccda.to_fhir_participants import authors, performers, to_fhir_organization

Refs = list[dict[str, str]]
CLINICAL = "http://terminology.hl7.org/CodeSystem/"


def base(b: DocumentBuilder, rtype: str, el: Element, *qualifier: str) -> Json:
    """``{"resourceType", "id", "identifier"}`` for the resource made from statement ``el``."""
    res: Json = {"resourceType": rtype, "id": b.key_id(rtype, el, *qualifier)}
    put(res, "identifier", identifiers(el))
    return res


def author_time(el: Element, b: DocumentBuilder) -> str | None:
    return ts(find(el, "author/time"), b.ctx, "author/time")


def _status_cc(system: str, code: str) -> Json:
    return {"coding": [{"system": system, "code": code}]}


# --- allergies ----------------------------------------------------------------------------------

def to_fhir_allergy_concern(act: Element, b: DocumentBuilder) -> Refs:
    """Allergy Concern Act (2.16.840.1.113883.10.20.22.4.30) → one AllergyIntolerance per
    Allergy - Intolerance Observation it holds (an observation of another known kind, e.g. a
    Severity Observation misplaced on the act, is not an allergy)."""
    return [r for obs in related(act, None) if codes.ENTRY_TEMPLATES.get(_tpl(obs)) == "allergy"
            or (obs.tag.endswith("}observation") and not set(template_ids(obs)) & codes.ALLERGY_CONCERN_PARTS)
            for r in to_fhir_allergy_intolerance(obs, b, act)]


def _tpl(el: Element) -> str:
    ids = template_ids(el)
    return next((t for t in ids if t in codes.ENTRY_TEMPLATES), ids[0] if ids else "")


def to_fhir_allergy_intolerance(obs: Element, b: DocumentBuilder, concern: Element | None = None) -> Refs:
    """Allergy - Intolerance Observation (2.16.840.1.113883.10.20.22.4.7) → AllergyIntolerance.

    ``negationInd`` with no specific allergen is "no known allergy" (SNOMED 716186003); with one,
    the allergy is refuted.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-allergyintolerance
    """
    res = base(b, "AllergyIntolerance", obs)
    allergen_el = find(obs, "participant/participantRole/playingEntity/code")
    allergen = codeable(allergen_el, b.doc)
    status = next((attr(find(s, "value"), "code") for s in related(obs, codes.ALLERGY_STATUS)), "")
    clinical = codes.CLINICAL_STATUS.get(status)
    eff = find(obs, "effectiveTime")
    if clinical is None:
        clinical = "resolved" if attr(find(eff, "high"), "value") else "active"
    clinical = {"remission": "inactive", "recurrence": "active"}.get(clinical, clinical)
    verification = "confirmed"
    if negated(obs) and (allergen is None or not allergen.get("coding")):
        allergen = {"coding": [{"system": "http://snomed.info/sct", "code": "716186003",
                                "display": "No known allergy"}]}
    elif negated(obs):
        verification = "refuted"
    res["clinicalStatus"] = _status_cc(CLINICAL + "allergyintolerance-clinical", clinical)
    res["verificationStatus"] = _status_cc(CLINICAL + "allergyintolerance-verification", verification)
    kind = codes.ALLERGY_TYPE.get(attr(find(obs, "value"), "code"))
    if kind:
        res["type"] = kind[0]
        if kind[1]:
            res["category"] = [kind[1]]
    res["code"] = allergen or required_codeable(allergen_el, b.doc)
    res["patient"] = b.patient_ref
    onset = ts(find(eff, "low"), b.ctx) or ts(eff, b.ctx)
    put(res, "onsetDateTime", onset)
    put(res, "recordedDate", author_time(obs, b) or (author_time(concern, b) if concern is not None else None))
    recorder = authors(obs, b)
    if recorder:
        res["recorder"] = recorder[0]
    overall = next((codes.SEVERITY_CODES.get(attr(find(s, "value"), "code"))
                    for s in related(obs, codes.SEVERITY)), None)
    reactions = []
    for rx in related(obs, codes.REACTION):
        manifestation = codeable(find(rx, "value"), b.doc)
        if not manifestation:
            continue
        reaction: Json = {"manifestation": [manifestation]}
        # The reaction's own substance, when the Reaction Observation names one (a consumable
        # participant, shaped as the allergy's own): it may differ from the allergen in ``code``
        # (an allergy to a drug class, a reaction to one drug of it). Otherwise FHIR reads
        # reaction.substance as ``code``, so nothing is invented.
        put(reaction, "substance", codeable(find(rx, "participant/participantRole/playingEntity/code"), b.doc))
        sev = next((codes.SEVERITY_CODES.get(attr(find(s, "value"), "code"))
                    for s in related(rx, codes.SEVERITY)), None) or overall
        put(reaction, "severity", sev)
        put(reaction, "onset", ts(find(rx, "effectiveTime/low"), b.ctx))
        reactions.append(reaction)
    put(res, "reaction", reactions)
    return [b.add(res)]


# --- problems -----------------------------------------------------------------------------------

def to_fhir_problem_concern(act: Element, b: DocumentBuilder, category: str = "problem-list-item") -> Refs:
    """Problem Concern Act (2.16.840.1.113883.10.20.22.4.3), Hospital Admission/Discharge Diagnosis
    (.4.34/.4.33), Encounter Diagnosis (.4.80) and Pre-/Postoperative Diagnosis (.4.65/.4.51) → a
    Condition per Problem Observation."""
    if set(template_ids(act)) & codes.ENCOUNTER_DIAGNOSIS_ACTS:
        category = "encounter-diagnosis"
    out: Refs = []
    for obs in related(act):
        if obs.tag.endswith("}observation") and (
                "2.16.840.1.113883.10.20.22.4.4" in template_ids(obs) or not template_ids(obs)
                or not any(t in codes.ENTRY_TEMPLATES for t in template_ids(obs))):
            out += to_fhir_condition(obs, b, category, act)
        elif obs.tag.endswith("}act"):
            out += to_fhir_problem_concern(obs, b, category)
    return out


def to_fhir_health_concern(act: Element, b: DocumentBuilder) -> Refs:
    """Health Concern Act (2.16.840.1.113883.10.20.22.4.132) → Condition(s), category health-concern."""
    out: Refs = []
    for obs in related(act):
        if obs.tag.endswith("}observation") and find(obs, "value") is not None:
            out += to_fhir_condition(obs, b, "health-concern", act)
    if not out and find(act, "code") is not None and act.tag.endswith("}observation"):
        out = to_fhir_condition(act, b, "health-concern")
    return out


def to_fhir_condition(obs: Element, b: DocumentBuilder, category: str = "problem-list-item",
                      concern: Element | None = None) -> Refs:
    """Problem Observation (2.16.840.1.113883.10.20.22.4.4) → Condition.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition
    """
    res = base(b, "Condition", obs)
    eff = find(obs, "effectiveTime")
    low, high = ts(find(eff, "low"), b.ctx) or ts(eff, b.ctx), ts(find(eff, "high"), b.ctx)
    status = next((attr(find(s, "value"), "code") for s in related(obs, codes.PROBLEM_STATUS)), "")
    clinical = codes.CLINICAL_STATUS.get(status) or ("resolved" if high else "active")
    if high and clinical in ("active", "recurrence"):
        clinical = "resolved"  # FHIR con-4: an abated condition is inactive, resolved or in remission
    res["clinicalStatus"] = _status_cc(CLINICAL + "condition-clinical", clinical)
    res["verificationStatus"] = _status_cc(CLINICAL + "condition-ver-status",
                                           "refuted" if negated(obs) else "confirmed")
    cat_system = ("http://hl7.org/fhir/us/core/CodeSystem/condition-category" if category == "health-concern"
                  else CLINICAL + "condition-category")
    res["category"] = [_status_cc(cat_system, category)]
    res["code"] = required_codeable(find(obs, "value"), b.doc)
    res["subject"] = b.patient_ref
    put(res, "onsetDateTime", low)
    put(res, "abatementDateTime", high)
    put(res, "recordedDate", author_time(obs, b) or (author_time(concern, b) if concern is not None else None))
    recorder = authors(obs, b)
    if recorder:
        res["recorder"] = recorder[0]
    return [b.add(res)]


# --- medications --------------------------------------------------------------------------------

def to_fhir_medication(product: Element | None, b: DocumentBuilder) -> dict[str, str]:
    """Medication Information (2.16.840.1.113883.10.20.22.4.23) / Immunization Medication
    Information (.4.54) → Medication, keyed on its code so one drug is one resource.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-medication
    """
    material = find(product, "manufacturedMaterial")
    code_el = find(material, "code")
    first = coding(code_el)
    if first and first.get("system"):
        rid = b.ctx.make("Medication", first["system"], first["code"])
    else:
        rid = b.key_id("Medication", product)
    res: Json = {"resourceType": "Medication", "id": rid}
    put(res, "identifier", identifiers(product))
    res["code"] = required_codeable(code_el, b.doc)
    put(res, "manufacturer", to_fhir_organization(find(product, "manufacturerOrganization"), b))
    lot = text(find(material, "lotNumberText"))
    if lot:
        res["batch"] = {"lotNumber": lot}
    return b.add(res)


_PERIOD_UNITS = {"s": "s", "min": "min", "h": "h", "d": "d", "wk": "wk", "mo": "mo", "a": "a"}


def dosage(sa: Element, b: DocumentBuilder) -> Json:
    """Medication Activity ``effectiveTime`` (PIVL_TS/EIVL_TS), route, dose, PRN → Dosage."""
    out: Json = {}
    repeat: Json = {}
    for et in findall(sa, "effectiveTime"):
        xtype = (et.get(XSI_TYPE) or "").split(":")[-1]
        if xtype == "PIVL_TS":
            p = find(et, "period")
            value, unit = attr(p, "value"), attr(p, "unit")
            q = quantity(p, b.ctx, "effectiveTime/period")
            if q and unit in _PERIOD_UNITS:
                repeat.update({"period": q["value"], "periodUnit": _PERIOD_UNITS[unit], "frequency": 1})
            elif value:
                b.ctx.problem("PIVL_TS period unit is not a UCUM time unit", "effectiveTime/period")
        elif xtype == "EIVL_TS":
            event = attr(find(et, "event"), "code")
            if event:
                repeat["when"] = [event]
    if repeat:
        out["timing"] = {"repeat": repeat}
    sig = text(find(sa, "text"))
    ref = attr(find(sa, "text/reference"), "value")
    if ref.startswith("#"):
        sig = text(b.doc.by_id(ref)) or sig
    put(out, "text", sig or None)
    if find(sa, "precondition") is not None:
        out["asNeededBoolean"] = True
    put(out, "route", codeable(find(sa, "routeCode"), b.doc))
    put(out, "site", codeable(find(sa, "approachSiteCode"), b.doc))
    dose_el = find(sa, "doseQuantity")
    dose = quantity(dose_el, b.ctx, "doseQuantity") or quantity(find(dose_el, "low"), b.ctx, "doseQuantity/low")
    if dose:
        out["doseAndRate"] = [{"doseQuantity": dose}]
    return out


def to_fhir_medication_activity(sa: Element, b: DocumentBuilder) -> Refs:
    """Medication Activity (2.16.840.1.113883.10.20.22.4.16) → MedicationStatement (moodCode EVN),
    MedicationAdministration (EVN in a Medications Administered section), or MedicationRequest (INT).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest
    """
    mood = attr(sa, "moodCode") or "EVN"
    if mood != "EVN":
        return to_fhir_medication_request(sa, b)
    if b.section_kind in ("medications-administered", "procedures"):
        return to_fhir_medication_administration(sa, b)
    product = find(require(sa, "consumable", "the medication activity"), "manufacturedProduct")
    res = base(b, "MedicationStatement", sa)
    res["status"] = "not-taken" if negated(sa) else codes.MED_STATEMENT_STATUS.get(status_code(sa), "completed")
    res["medicationReference"] = to_fhir_medication(product, b)
    res["subject"] = b.patient_ref
    eff = next((e for e in findall(sa, "effectiveTime")
                if (e.get(XSI_TYPE) or "IVL_TS").split(":")[-1] in ("IVL_TS", "TS")), None)
    res.update(effective(eff, b.ctx, "effective"))
    put(res, "dateAsserted", author_time(sa, b))
    who = authors(sa, b)
    if who:
        res["informationSource"] = who[0]
    d = dosage(sa, b)
    if d:
        res["dosage"] = [d]
    return [b.add(res), *to_fhir_medication_supplies(sa, res["medicationReference"], b)]


def to_fhir_medication_supplies(sa: Element, medication: dict[str, str], b: DocumentBuilder) -> Refs:
    """The Medication Supply Order (2.16.840.1.113883.10.20.22.4.17) and Medication Dispense (.4.18)
    entries of a Medication Activity → MedicationRequest (intent ``order``) and MedicationDispense
    (C-CDA on FHIR, medication mapping); the dispense points at the order it fills when there is one."""
    out: Refs = []
    orders = [to_fhir_supply_order(s, medication, b) for s in related(sa, codes.MEDICATION_SUPPLY_ORDER)]
    out += orders
    for dispense in related(sa, codes.MEDICATION_DISPENSE):
        out.append(to_fhir_medication_dispense(dispense, medication, orders[:1], b))
    return out


def _supply_medication(supply: Element, fallback: dict[str, str], b: DocumentBuilder) -> dict[str, str]:
    product = find(supply, "product/manufacturedProduct")
    if product is not None and find(product, "manufacturedMaterial/code") is not None:
        return to_fhir_medication(product, b)
    return fallback


def to_fhir_supply_order(supply: Element, medication: dict[str, str], b: DocumentBuilder) -> dict[str, str]:
    """Medication Supply Order (2.16.840.1.113883.10.20.22.4.17, supply moodCode INT) → MedicationRequest.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest
    """
    res = base(b, "MedicationRequest", supply)
    res["status"] = codes.MED_REQUEST_STATUS.get(status_code(supply), "active")
    res["intent"] = "order"
    res["medicationReference"] = _supply_medication(supply, medication, b)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    put(res, "authoredOn", author_time(supply, b))
    who = authors(supply, b)
    if who:
        res["requester"] = who[0]
    dispense: Json = {}
    repeats = attr(find(supply, "repeatNumber"), "value")
    if repeats.isdigit():
        dispense["numberOfRepeatsAllowed"] = max(int(repeats) - 1, 0)
    put(dispense, "quantity", quantity(find(supply, "quantity"), b.ctx, "supply/quantity"))
    eff = next((e for e in findall(supply, "effectiveTime")
                if (e.get(XSI_TYPE) or "IVL_TS").split(":")[-1] == "IVL_TS"), None)
    put(dispense, "validityPeriod", period(eff, b.ctx, "supply/effectiveTime"))
    put(res, "dispenseRequest", dispense)
    return b.add(res)


def to_fhir_medication_dispense(supply: Element, medication: dict[str, str], orders: Refs,
                                b: DocumentBuilder) -> dict[str, str]:
    """Medication Dispense (2.16.840.1.113883.10.20.22.4.18, supply moodCode EVN) → MedicationDispense.

    :return: https://hl7.org/fhir/R4/medicationdispense.html
    """
    res = base(b, "MedicationDispense", supply)
    res["status"] = codes.MED_DISPENSE_STATUS.get(status_code(supply), "completed")
    res["medicationReference"] = _supply_medication(supply, medication, b)
    res["subject"] = b.patient_ref
    put(res, "context", b.encounter_ref)
    put(res, "performer", [{"actor": a} for a in performers(supply, b)])
    put(res, "authorizingPrescription", orders)
    put(res, "quantity", quantity(find(supply, "quantity"), b.ctx, "supply/quantity"))
    eff = find(supply, "effectiveTime")
    put(res, "whenHandedOver", ts(eff, b.ctx, "supply/effectiveTime")
        or ts(find(eff, "high"), b.ctx, "supply/effectiveTime/high"))
    return b.add(res)


def to_fhir_medication_request(sa: Element, b: DocumentBuilder) -> Refs:
    """Medication Activity in moodCode INT (.4.16) or Planned Medication Activity (.4.42) →
    MedicationRequest.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest
    """
    product = find(require(sa, "consumable", "the medication activity"), "manufacturedProduct")
    res = base(b, "MedicationRequest", sa)
    res["status"] = codes.MED_REQUEST_STATUS.get(status_code(sa), "active")
    planned = "2.16.840.1.113883.10.20.22.4.42" in template_ids(sa)
    res["intent"] = codes.REQUEST_INTENT.get(attr(sa, "moodCode"), "plan") if planned else "order"
    if negated(sa):
        res["doNotPerform"] = True
    res["medicationReference"] = to_fhir_medication(product, b)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    put(res, "authoredOn", author_time(sa, b))
    who = authors(sa, b)
    if who:
        res["requester"] = who[0]
    d = dosage(sa, b)
    if d:
        res["dosageInstruction"] = [d]
    repeats = attr(find(sa, "repeatNumber"), "value")
    if repeats.isdigit():
        res["dispenseRequest"] = {"numberOfRepeatsAllowed": max(int(repeats) - 1, 0)}
    return [b.add(res), *to_fhir_medication_supplies(sa, res["medicationReference"], b)]


def to_fhir_medication_administration(sa: Element, b: DocumentBuilder) -> Refs:
    """Medication Activity (.4.16, moodCode EVN) in Medications Administered (2.16.840.1.113883.10.20.22.2.38)
    or inside a procedure → MedicationAdministration.

    :return: https://hl7.org/fhir/R4/medicationadministration.html
    """
    product = find(require(sa, "consumable", "the medication activity"), "manufacturedProduct")
    res = base(b, "MedicationAdministration", sa)
    res["status"] = "not-done" if negated(sa) else {"completed": "completed", "active": "in-progress",
                                                      "aborted": "stopped", "cancelled": "not-done"}.get(
        status_code(sa), "completed")
    res["medicationReference"] = to_fhir_medication(product, b)
    res["subject"] = b.patient_ref
    put(res, "context", b.encounter_ref)
    eff = next((e for e in findall(sa, "effectiveTime")
                if (e.get(XSI_TYPE) or "IVL_TS").split(":")[-1] in ("IVL_TS", "TS")), None)
    when = effective(eff, b.ctx, "effective")
    if not when:
        # effective[x] is 1..1: say why it is missing instead of inventing a time.
        when = {"_effectiveDateTime": {"extension": [{"url": codes.DATA_ABSENT, "valueCode": "unknown"}]}}
    res.update(when)
    actors = performers(sa, b)
    put(res, "performer", [{"actor": a} for a in actors])
    d = dosage(sa, b)
    dose: Json = {}
    put(dose, "text", d.get("text"))
    put(dose, "route", d.get("route"))
    put(dose, "site", d.get("site"))
    if d.get("doseAndRate"):
        dose["dose"] = d["doseAndRate"][0]["doseQuantity"]
    put(res, "dosage", dose)
    return [b.add(res)]


# --- immunizations ------------------------------------------------------------------------------

def to_fhir_immunization(sa: Element, b: DocumentBuilder) -> Refs:
    """Immunization Activity (2.16.840.1.113883.10.20.22.4.52) → Immunization; ``negationInd``
    → status ``not-done`` with the Immunization Refusal Reason (.4.53) as statusReason.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-immunization
    """
    product = find(require(sa, "consumable", "the immunization activity"), "manufacturedProduct")
    material = find(product, "manufacturedMaterial")
    res = base(b, "Immunization", sa)
    if negated(sa):
        res["status"] = "not-done"
        reason = next((codeable(find(r, "code"), b.doc) for r in related(sa, codes.IMMUNIZATION_REFUSAL)), None)
        put(res, "statusReason", reason)
    else:
        res["status"] = {"nullified": "entered-in-error", "aborted": "not-done", "cancelled": "not-done"}.get(
            status_code(sa), "completed")
    res["vaccineCode"] = required_codeable(find(material, "code"), b.doc)
    res["patient"] = b.patient_ref
    eff = next(iter(findall(sa, "effectiveTime")), None)
    when = ts(eff, b.ctx) or ts(find(eff, "low"), b.ctx)
    if when:
        res["occurrenceDateTime"] = when
    else:
        # occurrence[x] is 1..1 in R4: a data-absent-reason instead of an invented date.
        res["_occurrenceDateTime"] = {"extension": [{"url": codes.DATA_ABSENT, "valueCode": "unknown"}]}
    put(res, "recorded", author_time(sa, b))
    put(res, "manufacturer", to_fhir_organization(find(product, "manufacturerOrganization"), b))
    put(res, "lotNumber", text(find(material, "lotNumberText")) or None)
    put(res, "site", codeable(find(sa, "approachSiteCode"), b.doc))
    put(res, "route", codeable(find(sa, "routeCode"), b.doc))
    dose = quantity(find(sa, "doseQuantity"), b.ctx, "doseQuantity")
    put(res, "doseQuantity", dose)
    put(res, "performer", [{"actor": a} for a in performers(sa, b)])
    return [b.add(res)]


# --- procedures, devices, encounters --------------------------------------------------------------

def to_fhir_product_device(role: Element, b: DocumentBuilder) -> dict[str, str] | None:
    """Product Instance (2.16.840.1.113883.10.20.22.4.37) → Device (UDI as identifier and udiCarrier).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-implantable-device
    """
    res = base(b, "Device", role)
    dev_type = codeable(find(role, "playingDevice/code"), b.doc)
    model = text(find(role, "playingDevice/manufacturerModelName"))
    if not dev_type and not res.get("identifier") and not model:
        return None
    udi = next((attr(i, "extension") for i in findall(role, "id") if attr(i, "root") == "2.16.840.1.113883.3.3719"),
               "")
    if udi:
        res["udiCarrier"] = [{"carrierHRF": udi}]
    put(res, "type", dev_type)
    put(res, "modelNumber", model or None)
    res["patient"] = b.patient_ref
    put(res, "owner", to_fhir_organization(find(role, "scopingEntity"), b)
        if find(role, "scopingEntity/desc") is not None and find(role, "scopingEntity/id") is not None else None)
    return b.add(res)


def to_fhir_procedure(proc: Element, b: DocumentBuilder) -> Refs:
    """Procedure Activity Procedure/Observation/Act (2.16.840.1.113883.10.20.22.4.14/.13/.12) → Procedure;
    product instances become Devices and MedicationActivities inside become MedicationAdministrations.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-procedure
    """
    res = base(b, "Procedure", proc)
    res["status"] = "not-done" if negated(proc) else codes.PROCEDURE_STATUS.get(status_code(proc), "completed")
    res["code"] = required_codeable(require(proc, "code", "the procedure"), b.doc)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    res.update(effective(find(proc, "effectiveTime"), b.ctx, "performed"))
    put(res, "performer", [{"actor": a} for a in performers(proc, b)])
    sites = [c for c in (codeable(s, b.doc) for s in findall(proc, "targetSiteCode")) if c]
    put(res, "bodySite", sites)
    devices = []
    for part in findall(proc, "participant"):
        role = find(part, "participantRole")
        if attr(part, "typeCode") == "DEV" and role is not None:
            ref = to_fhir_product_device(role, b)
            if ref:
                devices.append({"manipulated": ref})
    put(res, "focalDevice", devices)
    reasons = [c for c in (codeable(find(r, "value"), b.doc) for r in related(proc)
                           if "2.16.840.1.113883.10.20.22.4.19" in template_ids(r)) if c]
    put(res, "reasonCode", reasons)
    refs = [b.add(res)]
    saved, b.section_kind = b.section_kind, "procedures"
    try:
        for sa in related(proc):
            if sa.tag.endswith("}substanceAdministration") and "2.16.840.1.113883.10.20.22.4.16" in template_ids(sa):
                to_fhir_medication_administration(sa, b)
    finally:
        b.section_kind = saved
    return refs


def to_fhir_encounter_activity(enc: Element, b: DocumentBuilder) -> Refs:
    """Encounter Activity (2.16.840.1.113883.10.20.22.4.49) → Encounter (diagnoses → Condition).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter
    """
    res = base(b, "Encounter", enc)
    p = period(find(enc, "effectiveTime"), b.ctx)
    res["status"] = codes.ENCOUNTER_STATUS.get(status_code(enc), "finished" if p else "unknown")
    code_el = find(enc, "code")
    res["class"] = encounter_class(code_el)
    type_cc = codeable(code_el, b.doc)
    if type_cc:
        res["type"] = [type_cc]
    res["subject"] = b.patient_ref
    put(res, "participant", [{"individual": a} for a in performers(enc, b)
                             if a["reference"].startswith(("Practitioner/", "PractitionerRole/"))])
    put(res, "period", p)
    locations = []
    for part in findall(enc, "participant"):
        role = find(part, "participantRole")
        if attr(part, "typeCode") == "LOC" and role is not None:
            place = role.find("{urn:hl7-org:v3}playingEntity")
            if place is not None:
                loc = _service_location(role, b)
                if loc:
                    locations.append({"location": loc})
    put(res, "location", locations)
    diagnoses = []
    for act in related(enc):
        tids = template_ids(act)
        if "2.16.840.1.113883.10.20.22.4.80" in tids:
            for ref in to_fhir_problem_concern(act, b, "encounter-diagnosis"):
                diagnoses.append({"condition": ref})
        elif "2.16.840.1.113883.10.20.22.4.19" in tids:
            reason = codeable(find(act, "value"), b.doc)
            if reason:
                res.setdefault("reasonCode", []).append(reason)
    put(res, "diagnosis", diagnoses)
    return [b.add(_with_document_encounter(enc, res, b))]


def _with_document_encounter(enc: Element, res: Json, b: DocumentBuilder) -> Json:
    """An Encounter Activity that repeats the header's encompassingEncounter (same ``id``) is that
    encounter: one resource, the header's values first, lists joined."""
    header = find(b.doc.root, "componentOf/encompassingEncounter")
    key = id_key(enc)
    if header is None or key is None or key != id_key(header) or b.encounter_ref is None:
        return res
    rid = b.encounter_ref["reference"].split("/", 1)[1]
    first = b.lookup("Encounter", rid)
    if first is None:
        return res
    merged: Json = dict(first)
    for k, v in res.items():
        if k == "id":
            continue
        if k not in merged or (k == "class" and merged[k].get("code") == "UNK"):
            merged[k] = v
        elif isinstance(v, list) and isinstance(merged[k], list):
            merged[k] = merged[k] + [x for x in v if x not in merged[k]]
    return merged


def _service_location(role: Element, b: DocumentBuilder) -> dict[str, str] | None:
    """Service Delivery Location (2.16.840.1.113883.10.20.22.4.32) → Location."""
    name = text(find(role, "playingEntity/name"))
    res = base(b, "Location", role)
    if not name and not res.get("identifier"):
        return None
    if not res.get("identifier"):
        res["id"] = b.ctx.make("Location", "name", name)
    res["status"] = "active"
    put(res, "name", name or None)
    type_cc = codeable(find(role, "code"), b.doc)
    if type_cc:
        res["type"] = [type_cc]
    put(res, "address", address(find(role, "addr"), b.ctx))
    return b.add(res)
