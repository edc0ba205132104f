"""Results, vital signs, social history, functional/mental status, goals, family history → FHIR.

Targets: US Core Laboratory Result Observation, Vital Signs, Smoking Status, Simple Observation,
DiagnosticReport for Laboratory Results, Goal; FHIR FamilyMemberHistory — per C-CDA on FHIR.
"""

from __future__ import annotations

from etl.sources.ccda import codes
from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import (
    Json,
    codeable,
    data_absent_coding,
    effective,
    put,
    quantity,
    required_codeable,
    ts,
    value_x,
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
from etl.sources.ccda.to_fhir_clinical import Refs, author_time, base
from etl.sources.ccda.to_fhir_participants import authors, performers

CATEGORY_SYSTEM = codes.OBS_CATEGORY
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"


def _category(code: str, system: str = CATEGORY_SYSTEM) -> list[Json]:
    return [{"coding": [{"system": system, "code": code}]}]


def to_fhir_observation(obs: Element, b: DocumentBuilder, category: list[Json]) -> Json:
    """Any CDA ``observation`` → Observation (code, value[x], status, effective, interpretation,
    reference range); callers add the category. The resource is returned, not yet kept.

    :return: https://hl7.org/fhir/R4/observation.html
    """
    res = base(b, "Observation", obs)
    res["status"] = codes.OBSERVATION_STATUS.get(status_code(obs), "final")
    res["category"] = category
    res["code"] = required_codeable(require(obs, "code", "the observation"), b.doc)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    res.update(effective(find(obs, "effectiveTime"), b.ctx, "effective"))
    actors = [a for a in performers(obs, b) + authors(obs, b)
              if not a["reference"].startswith("Device/")]
    put(res, "performer", actors[:1] if actors else None)
    value = value_x(find(obs, "value"), b.doc, b.ctx)
    if value:
        res.update(value)
    else:
        # obs-6: no value, so say why (the CDA nullFlavor, or "unknown").
        res["dataAbsentReason"] = {"coding": [data_absent_coding(find(obs, "value"))]}
    if negated(obs):
        # A negated observation ("no X found"): keep the fact via interpretation text.
        res["interpretation"] = [{"text": "negated (negationInd=true)"}]
    interp = [c for c in (codeable(i, b.doc) for i in findall(obs, "interpretationCode")) if c]
    if interp:
        res["interpretation"] = interp
    ranges = []
    for rr in findall(obs, "referenceRange/observationRange"):
        rng: Json = {}
        v = find(rr, "value")
        if v is not None and (v.get(XSI_TYPE) or "").endswith("IVL_PQ"):
            put(rng, "low", quantity(find(v, "low"), b.ctx, "referenceRange/low"))
            put(rng, "high", quantity(find(v, "high"), b.ctx, "referenceRange/high"))
        put(rng, "text", text(find(rr, "text")) or None)
        if rng:
            ranges.append(rng)
    put(res, "referenceRange", ranges)
    return res


def to_fhir_result_observation(obs: Element, b: DocumentBuilder) -> Refs:
    """Result Observation (2.16.840.1.113883.10.20.22.4.2) → Observation, category laboratory.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab
    """
    return [b.add(to_fhir_observation(obs, b, _category("laboratory")))]


def to_fhir_result_organizer(org: Element, b: DocumentBuilder) -> Refs:
    """Result Organizer (2.16.840.1.113883.10.20.22.4.1) → DiagnosticReport with its Observations.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-diagnosticreport-lab
    """
    results = [r for obs in related(org, None, "component") if obs.tag.endswith("}observation")
               for r in to_fhir_result_observation(obs, b)]
    res = base(b, "DiagnosticReport", org)
    res["status"] = {"completed": "final", "active": "partial", "aborted": "cancelled",
                     "cancelled": "cancelled"}.get(status_code(org), "final")
    res["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB",
                                    "display": "Laboratory"}]}]
    res["code"] = required_codeable(require(org, "code", "the result organizer"), b.doc)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    when = effective(find(org, "effectiveTime"), b.ctx, "effective")
    if not when and results:
        first = b.resources.get(("Observation", results[0]["reference"].split("/")[1]), {})
        when = {k: v for k, v in first.items() if k.startswith("effective")}
    res.update(when)
    put(res, "performer", [a for a in performers(org, b) if not a["reference"].startswith("Device/")])
    put(res, "result", results)
    return [b.add(res)]


def to_fhir_vital_signs(org: Element, b: DocumentBuilder) -> Refs:
    """Vital Signs Organizer (2.16.840.1.113883.10.20.22.4.26) → one Observation per Vital Sign
    Observation (.4.27), category vital-signs, values in UCUM.

    :return: http://hl7.org/fhir/StructureDefinition/vitalsigns
    """
    out: Refs = []
    for obs in related(org, None, "component"):
        if obs.tag.endswith("}observation"):
            out += to_fhir_vital_sign(obs, b)
    return out


def to_fhir_vital_sign(obs: Element, b: DocumentBuilder) -> Refs:
    """Vital Sign Observation (2.16.840.1.113883.10.20.22.4.27) → Observation (vital-signs)."""
    return [b.add(to_fhir_observation(obs, b, _category("vital-signs")))]


def to_fhir_social_history(obs: Element, b: DocumentBuilder) -> Refs:
    """Smoking Status - Meaningful Use (2.16.840.1.113883.10.20.22.4.78), Tobacco Use (.4.85),
    Social History Observation (.4.38), Birth Sex (.4.200) → Observation, category social-history.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-smokingstatus
    """
    return [b.add(to_fhir_observation(obs, b, _category("social-history")))]


def to_fhir_status_observation(obs: Element, b: DocumentBuilder) -> Refs:
    """Functional Status Observation (2.16.840.1.113883.10.20.22.4.67), Mental/Cognitive Status
    Observation (.4.74/.4.73) → Observation, US Core category functional-status / cognitive-status.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-clinical-result
    """
    tids = template_ids(obs)
    kind = "functional-status" if ("2.16.840.1.113883.10.20.22.4.67" in tids
                                   or b.section_kind == "functional-status") else "cognitive-status"
    category = _category("survey") + _category(kind, US_CORE_CATEGORY)
    return [b.add(to_fhir_observation(obs, b, category))]


def to_fhir_status_organizer(org: Element, b: DocumentBuilder) -> Refs:
    """Functional/Mental Status Organizer (2.16.840.1.113883.10.20.22.4.66/.4.75) → its Observations."""
    return [r for obs in related(org, None, "component") if obs.tag.endswith("}observation")
            for r in to_fhir_status_observation(obs, b)]


def to_fhir_goal(obs: Element, b: DocumentBuilder) -> Refs:
    """Goal Observation (2.16.840.1.113883.10.20.22.4.121) → Goal: the code (with a coded value) as
    description, a quantity value as the target.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-goal
    """
    res = base(b, "Goal", obs)
    res["lifecycleStatus"] = codes.GOAL_STATUS.get(status_code(obs), "active")
    code_cc = codeable(find(obs, "code"), b.doc)
    value = value_x(find(obs, "value"), b.doc, b.ctx)
    desc = value.get("valueCodeableConcept") or code_cc
    if not desc:
        desc = {"text": text(find(obs, "text")) or "goal"}
    res["description"] = desc
    res["subject"] = b.patient_ref
    eff = find(obs, "effectiveTime")
    start = ts(find(eff, "low"), b.ctx) or ts(eff, b.ctx)
    put(res, "startDate", start[:10] if start else None)
    target: Json = {}
    if code_cc and value:
        target["measure"] = code_cc
        for k, v in value.items():
            target[k.replace("value", "detail", 1)] = v
        target = {k: v for k, v in target.items()
                  if k in ("measure", "detailQuantity", "detailRange", "detailCodeableConcept", "detailString",
                           "detailBoolean", "detailInteger", "detailRatio")}
    due = ts(find(eff, "high"), b.ctx)
    if due:
        target["dueDate"] = due[:10]
    if target:
        res["target"] = [target]
    who = authors(obs, b)
    if who and who[0]["reference"].startswith(("Patient/", "Practitioner/", "PractitionerRole/", "RelatedPerson/")):
        res["expressedBy"] = who[0]
    return [b.add(res)]


def to_fhir_family_history(org: Element, b: DocumentBuilder) -> Refs:
    """Family History Organizer (2.16.840.1.113883.10.20.22.4.45) → FamilyMemberHistory, one
    condition per Family History Observation (.4.46).

    :return: https://hl7.org/fhir/R4/familymemberhistory.html
    """
    res = base(b, "FamilyMemberHistory", org)
    res["status"] = "completed"
    res["patient"] = b.patient_ref
    rel = find(org, "subject/relatedSubject")
    res["relationship"] = required_codeable(find(rel, "code"), b.doc)
    sex = attr(find(rel, "subject/administrativeGenderCode"), "code")
    if sex in codes.GENDER:
        res["sex"] = {"coding": [{"system": "http://hl7.org/fhir/administrative-gender",
                                  "code": codes.GENDER[sex]}]}
    born = ts(find(rel, "subject/birthTime"), b.ctx)
    put(res, "bornDate", born[:10] if born else None)
    conditions = []
    for obs in related(org, None, "component"):
        cc = codeable(find(obs, "value"), b.doc)
        if not cc:
            continue
        cond: Json = {"code": cc}
        for age in related(obs):
            if "2.16.840.1.113883.10.20.22.4.31" in template_ids(age):
                q = quantity(find(age, "value"), b.ctx, "age/value")
                if q:
                    cond["onsetAge"] = {**q, "system": "http://unitsofmeasure.org"}
            elif "2.16.840.1.113883.10.20.22.4.47" in template_ids(age):
                res["deceasedBoolean"] = True
        conditions.append(cond)
    put(res, "condition", conditions)
    put(res, "date", author_time(org, b))
    return [b.add(res)]


def to_fhir_nutrition(obs: Element, b: DocumentBuilder) -> Refs:
    """Nutritional Status Observation (2.16.840.1.113883.10.20.22.4.124) → Observation (category
    exam) whose Nutrition Assessments (.4.138) are Observations of their own, its ``hasMember``; a
    Nutrition Assessment on its own → one Observation. C-CDA on FHIR maps no nutrition template;
    this is what FHIR-Converter's C-CDA templates write (one Observation per template, code and
    value as given).

    :return: https://hl7.org/fhir/R4/observation.html
    """
    members = [b.add(to_fhir_observation(a, b, _category("exam"))) for a in related(obs)
               if codes.NUTRITION_ASSESSMENT in template_ids(a)]
    res = to_fhir_observation(obs, b, _category("exam"))
    put(res, "hasMember", members)
    return [b.add(res), *members]


INDICATION = "2.16.840.1.113883.10.20.22.4.19"
CLINICAL_FINDING = {"system": "http://loinc.org", "code": "75321-0", "display": "Clinical finding"}


def to_fhir_finding(obs: Element, b: DocumentBuilder) -> Refs:
    """Indication (2.16.840.1.113883.10.20.22.4.19), Outcome Observation (.4.144), Wound
    Characteristic (.4.114) and the Diagnostic Imaging Report's Text / Code / Quantity Measurement
    Observations (2.16.840.1.113883.10.20.6.2.12/.13/.14) → Observation (category exam, imaging for
    the DIR ones). An Indication whose code is null gets LOINC 75321-0 "Clinical finding", the code
    C-CDA R2.1 gives it (Indication (V2) code from the Problem Type value set) and C-CDA on FHIR
    reads its value as the finding.

    :return: https://hl7.org/fhir/R4/observation.html
    """
    tids = set(template_ids(obs))
    imaging = bool(tids & codes.IMAGING_FINDINGS) or b.section_kind == "imaging"
    res = to_fhir_observation(obs, b, _category("imaging" if imaging else "exam"))
    code_el = find(obs, "code")
    if INDICATION in tids and (code_el is None or code_el.get("nullFlavor")):
        res["code"] = {"coding": [CLINICAL_FINDING]}
    return [b.add(res)]
