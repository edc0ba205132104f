"""Plan of treatment, medical equipment, payers and notes → ServiceRequest, MedicationRequest,
Device, Coverage, DocumentReference, and the CarePlan of a Care Plan document.

Targets: US Core ServiceRequest, Coverage, DocumentReference, CarePlan; FHIR Device — per
C-CDA on FHIR (https://hl7.org/fhir/us/ccda/).
"""

from __future__ import annotations

import base64

from etl.sources.ccda import codes
from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import (
    Json,
    codeable,
    effective,
    id_key,
    identifiers,
    instant,
    period,
    put,
    required_codeable,
)
from etl.sources.ccda.model import Element, attr, find, findall, negated, related, require, status_code, text
from etl.sources.ccda.to_fhir_clinical import (
    Refs,
    author_time,
    base,
    to_fhir_medication_request,
    to_fhir_procedure,
    to_fhir_product_device,
)
from etl.sources.ccda.to_fhir_participants import authors, performers, to_fhir_organization


def to_fhir_service_request(act: Element, b: DocumentBuilder) -> Refs:
    """Planned Act/Encounter/Procedure/Observation/Supply (2.16.840.1.113883.10.20.22.4.39/.40/.41/
    .44/.43) → ServiceRequest; the moodCode gives the intent (INT plan, RQO order, PRP proposal).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-servicerequest
    """
    res = base(b, "ServiceRequest", act)
    res["status"] = codes.REQUEST_STATUS.get(status_code(act), "active")
    res["intent"] = codes.REQUEST_INTENT.get(attr(act, "moodCode"), "plan")
    if negated(act):
        res["doNotPerform"] = True
    code_el = find(act, "code")
    if code_el is None and act.tag.endswith("}supply"):
        code_el = find(act, "product/manufacturedProduct/manufacturedMaterial/code")
    res["code"] = required_codeable(code_el, b.doc)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    res.update(effective(find(act, "effectiveTime"), b.ctx, "occurrence"))
    put(res, "authoredOn", author_time(act, b))
    who = authors(act, b)
    if who:
        res["requester"] = who[0]
    put(res, "performer", performers(act, b))
    reasons = [c for c in (codeable(find(r, "value"), b.doc) for r in related(act)
                           if r.tag.endswith("}observation") and find(r, "value") is not None) if c]
    put(res, "reasonCode", reasons)
    return [b.add(res)]


def to_fhir_planned_medication(sa: Element, b: DocumentBuilder) -> Refs:
    """Planned Medication Activity (2.16.840.1.113883.10.20.22.4.42) → MedicationRequest."""
    return to_fhir_medication_request(sa, b)


def to_fhir_supply(supply: Element, b: DocumentBuilder) -> Refs:
    """Non-Medicinal Supply Activity (2.16.840.1.113883.10.20.22.4.50) → Device of its Product
    Instance (.4.37)."""
    out: Refs = []
    for part in findall(supply, "participant"):
        role = find(part, "participantRole")
        if role is not None:
            ref = to_fhir_product_device(role, b)
            if ref:
                out.append(ref)
    return out


def to_fhir_device_organizer(org: Element, b: DocumentBuilder) -> Refs:
    """Medical Equipment Organizer (2.16.840.1.113883.10.20.22.4.135) → the Devices of its supplies
    and procedures."""
    out: Refs = []
    for st in related(org, None, "component"):
        if st.tag.endswith("}supply"):
            out += to_fhir_supply(st, b)
        elif st.tag.endswith("}procedure"):
            out += to_fhir_procedure(st, b)
    return out


def to_fhir_coverage_activity(act: Element, b: DocumentBuilder) -> Refs:
    """Coverage Activity (2.16.840.1.113883.10.20.22.4.60) → a Coverage per Policy Activity (.4.61)."""
    out: Refs = []
    for policy in related(act, codes.POLICY_ACTIVITY) or [p for p in related(act) if p.tag.endswith("}act")]:
        out += to_fhir_coverage(policy, b)
    return out


def to_fhir_coverage(policy: Element, b: DocumentBuilder) -> Refs:
    """Policy Activity (2.16.840.1.113883.10.20.22.4.61) → Coverage (payer performer → payor,
    covered party → subscriberId). A policy with no payer organization is reported and skipped
    (Coverage.payor is 1..*).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-coverage
    """
    payors: list[dict[str, str]] = []
    for perf in findall(policy, "performer"):
        org = to_fhir_organization(find(perf, "assignedEntity/representedOrganization"), b)
        if org and "2.16.840.1.113883.10.20.22.4.87" in [attr(t, "root") for t in findall(perf, "templateId")]:
            payors.insert(0, org)
        elif org:
            payors.append(org)
    if not payors:
        b.ctx.problem("the policy activity names no payer organization; no Coverage made",
                      "act[templateId/@root='2.16.840.1.113883.10.20.22.4.61']/performer")
        return []
    res = base(b, "Coverage", policy)
    res["status"] = "cancelled" if status_code(policy) in ("aborted", "cancelled") else "active"
    put(res, "type", codeable(find(policy, "code"), b.doc))
    for part in findall(policy, "participant"):
        if attr(part, "typeCode") == "COV":
            role = find(part, "participantRole")
            member = id_key(role)
            if member and member[1]:
                res["subscriberId"] = member[1]
            rel = attr(find(role, "code"), "code")
            rel_map = {"SELF": "self", "SPS": "spouse", "CHILD": "child", "FAMDEP": "child", "HUSB": "spouse",
                       "WIFE": "spouse", "DOMPART": "common"}
            if rel in rel_map:
                res["relationship"] = {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": rel_map[rel]}]}
            put(res, "period", period(find(part, "time"), b.ctx, "participant/time"))
    res["beneficiary"] = b.patient_ref
    res["payor"] = payors
    return [b.add(res)]


def to_fhir_note(act: Element, b: DocumentBuilder) -> Refs:
    """Note Activity (2.16.840.1.113883.10.20.22.4.202) → DocumentReference with the note text.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference
    """
    res = base(b, "DocumentReference", act)
    res["status"] = "current"
    res["type"] = required_codeable(require(act, "code", "the note activity"), b.doc)
    res["category"] = [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                                    "code": "clinical-note", "display": "Clinical Note"}]}]
    res["subject"] = b.patient_ref
    put(res, "date", instant(find(act, "author/time"), b.ctx))
    put(res, "author", authors(act, b))
    text_el = find(act, "text")
    attachment: Json = {}
    if text_el is not None and attr(text_el, "representation") == "B64":
        attachment = {"contentType": attr(text_el, "mediaType") or "application/octet-stream",
                      "data": "".join((text_el.text or "").split())}
    else:
        ref = attr(find(text_el, "reference"), "value")
        body = text(b.doc.by_id(ref)) if ref.startswith("#") else ""
        body = body or "".join(t for t in (text_el.itertext() if text_el is not None else [])).strip()
        if body:
            attachment = {"contentType": attr(text_el, "mediaType") or "text/plain",
                          "data": base64.b64encode(body.encode()).decode()}
    if not attachment:
        attachment = {"contentType": "text/plain", "title": "note text not available"}
    res["content"] = [{"attachment": attachment}]
    ctx: Json = {}
    put(ctx, "encounter", [b.encounter_ref] if b.encounter_ref else None)
    put(ctx, "period", period(find(act, "effectiveTime"), b.ctx))
    put(res, "context", ctx)
    return [b.add(res)]


def to_fhir_consent(obs: Element, b: DocumentBuilder) -> Refs:
    """Advance Directive Observation (2.16.840.1.113883.10.20.22.4.48) → Consent, scope ``adr``;
    the directive's type is the category, its value the provision code, the referenced document
    (``reference/externalDocument``) a DocumentReference that is the Consent's source.

    :return: https://hl7.org/fhir/R4/consent.html
    """
    res = base(b, "Consent", obs)
    res["status"] = "inactive" if attr(find(obs, "effectiveTime/high"), "value") else "active"
    res["scope"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "adr",
                                "display": "Advanced Care Directive"}]}
    category = codeable(find(obs, "code"), b.doc)
    res["category"] = [category] if category else [{"coding": [{"system": "http://loinc.org", "code": "42348-3"}]}]
    res["patient"] = b.patient_ref
    put(res, "dateTime", author_time(obs, b))
    source = to_fhir_external_document(find(obs, "reference/externalDocument"), obs, b)
    if source:
        res["sourceReference"] = source
    # ppc-1 requires a policy or policyRule; C-CDA states none, so the rule names its own kind.
    res["policyRule"] = {"text": "advance directive"}
    value = codeable(find(obs, "value"), b.doc)
    period_ = period(find(obs, "effectiveTime"), b.ctx)
    provision: Json = {}
    put(provision, "period", period_)
    if value:
        provision["code"] = [value]
    put(res, "provision", provision)
    return [b.add(res)]


def to_fhir_external_document(ext: Element | None, owner: Element, b: DocumentBuilder) -> dict[str, str] | None:
    """``reference/externalDocument`` (e.g. the scanned advance directive, C-CDA Advance Directive
    Observation .4.48) → DocumentReference pointing at the document (``text/reference/@value``); None
    when it names no document.

    :return: https://hl7.org/fhir/R4/documentreference.html
    """
    if ext is None:
        return None
    url = attr(find(ext, "text/reference"), "value")
    ids = id_key(ext)
    if not url and ids is None:
        return None
    res: Json = {"resourceType": "DocumentReference",
                 "id": b.key_id("DocumentReference", ext) if ids else b.key_id("DocumentReference", owner, "source")}
    put(res, "identifier", identifiers(ext))
    res["status"] = "current"
    res["type"] = codeable(find(ext, "code"), b.doc) or {"coding": [{
        "system": "http://loinc.org", "code": "42348-3", "display": "Advance healthcare directives"}]}
    res["subject"] = b.patient_ref
    attachment: Json = {}
    put(attachment, "contentType", attr(find(ext, "text"), "mediaType") or None)
    put(attachment, "url", url or None)
    if not attachment:
        attachment = {"title": "referenced document"}
    res["content"] = [{"attachment": attachment}]
    return b.add(res)


def to_fhir_care_plan(b: DocumentBuilder, composition: Json) -> dict[str, str]:
    """Care Plan document (2.16.840.1.113883.10.20.22.1.15) → CarePlan tying the document's health
    concerns, goals and planned activities together.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan
    """
    root, ext = b.doc.doc_id
    res: Json = {"resourceType": "CarePlan", "id": b.ctx.make("CarePlan", "document", root, ext),
                 "status": "active", "intent": "plan",
                 "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                                           "code": "assess-plan"}]}],
                 "subject": b.patient_ref}
    serv = find(b.doc.root, "documentationOf/serviceEvent/effectiveTime")
    put(res, "period", period(serv, b.ctx))
    put(res, "author", composition.get("author", [None])[0])
    concerns, goals, activities = [], [], []
    for (rtype, rid), r in b.resources.items():
        ref = {"reference": f"{rtype}/{rid}"}
        if rtype == "Condition" and any(c.get("code") == "health-concern" for cat in r.get("category", [])
                                        for c in cat.get("coding", [])):
            concerns.append(ref)
        elif rtype == "Goal":
            goals.append(ref)
        elif rtype in ("ServiceRequest", "MedicationRequest"):
            activities.append({"reference": ref})
    put(res, "addresses", concerns)
    put(res, "goal", goals)
    put(res, "activity", activities)
    narrative = "Care plan"
    if composition.get("title"):
        narrative = composition["title"]
    from xml.sax.saxutils import escape
    res["text"] = {"status": "generated",
                   "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(narrative)}</div>'}
    return b.add(res)
