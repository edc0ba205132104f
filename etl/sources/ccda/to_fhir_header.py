"""The CDA header → Patient, RelatedPerson, Encounter and Location.

Source: US Realm Header (2.16.840.1.113883.10.20.22.1.1, C-CDA R2.1; R1.1 without extension):
``recordTarget/patientRole`` and ``componentOf/encompassingEncounter``. Targets: US Core Patient
and Encounter, per C-CDA on FHIR "CDA → FHIR" patient mapping
(https://build.fhir.org/ig/HL7/ccda-on-fhir/CF-patient.html).
"""

from __future__ import annotations

from etl.errors import MappingError
from etl.sources.ccda import codes
from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import (
    Json,
    addresses,
    codeable,
    coding,
    id_key,
    identifiers,
    names,
    period,
    put,
    telecoms,
    ts,
)
from etl.sources.ccda.model import Element, attr, find, findall, first_of, text
from etl.sources.ccda.to_fhir_participants import participant_ref, to_fhir_organization


def _race_ethnicity(patient: Element, path: str, sdtc_path: str, omb: set[str], url: str) -> Json | None:
    """US Core race/ethnicity extension: OMB categories as ``ombCategory``, others as ``detailed``."""
    parts: list[Json] = []
    labels: list[str] = []
    for el in [*findall(patient, path), *findall(patient, sdtc_path)]:
        c = coding(el)
        if c is None:
            continue
        c["system"] = codes.CDC_RACE_SYSTEM
        parts.append({"url": "ombCategory" if c["code"] in omb else "detailed", "valueCoding": c})
        labels.append(c.get("display") or c["code"])
    if not parts:
        return None
    return {"url": url, "extension": [*parts, {"url": "text", "valueString": ", ".join(labels)}]}


def to_fhir_patient(role: Element, b: DocumentBuilder) -> Json:
    """``recordTarget/patientRole`` → Patient.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient
    """
    key = id_key(role)
    if key is None:
        raise MappingError("recordTarget/patientRole has no usable id: the patient cannot be identified",
                           code="required").at_expression("recordTarget/patientRole/id")
    patient = find(role, "patient")
    res: Json = {"resourceType": "Patient", "id": b.ctx.make("Patient", *key)}
    ext = [e for e in (
        _race_ethnicity(patient, "raceCode", "sdtc:raceCode", codes.OMB_RACE, codes.US_CORE_RACE),
        _race_ethnicity(patient, "ethnicGroupCode", "sdtc:ethnicGroupCode", codes.OMB_ETHNICITY,
                        codes.US_CORE_ETHNICITY),
    ) if e]
    put(res, "extension", ext)
    put(res, "identifier", identifiers(role))
    put(res, "name", names(patient))
    put(res, "telecom", telecoms(role))
    gender_el = find(patient, "administrativeGenderCode")
    gender = codes.GENDER.get(attr(gender_el, "code"))
    if gender:
        res["gender"] = gender
    elif gender_el is not None and gender_el.get("nullFlavor"):
        res["gender"] = "unknown"
    birth = ts(find(patient, "birthTime"), b.ctx, "patient/birthTime")
    if birth:
        res["birthDate"] = birth[:10]
    deceased_time = ts(find(patient, "sdtc:deceasedTime"), b.ctx, "patient/sdtc:deceasedTime")
    if deceased_time:
        res["deceasedDateTime"] = deceased_time
    elif attr(find(patient, "sdtc:deceasedInd"), "value") in ("true", "false"):
        res["deceasedBoolean"] = attr(find(patient, "sdtc:deceasedInd"), "value") == "true"
    put(res, "address", addresses(role, b.ctx))
    put(res, "maritalStatus", codeable(find(patient, "maritalStatusCode"), b.doc))
    comms = []
    for lang in findall(patient, "languageCommunication"):
        code = attr(find(lang, "languageCode"), "code")
        if not code:
            continue
        comm: Json = {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]}}
        pref = attr(find(lang, "preferenceInd"), "value")
        if pref in ("true", "false"):
            comm["preferred"] = pref == "true"
        comms.append(comm)
    put(res, "communication", comms)
    org = to_fhir_organization(find(role, "providerOrganization"), b)
    if org:
        res["managingOrganization"] = org
    b.patient_ref = b.add(res)
    for guardian in findall(patient, "guardian"):
        to_fhir_related_person(guardian, b, "GUARD")
    return res


def to_fhir_related_person(el: Element, b: DocumentBuilder, role: str | None = None) -> dict[str, str] | None:
    """``guardian`` or a participant ``associatedEntity`` → RelatedPerson.

    :return: https://hl7.org/fhir/R4/relatedperson.html
    """
    person = first_of(el, "guardianPerson", "associatedPerson", "relatedPerson")
    person_names = names(person)
    if not person_names and id_key(el) is None:
        return None
    root, ext = b.doc.doc_id
    key = id_key(el)
    rid = (b.ctx.make("RelatedPerson", *key) if key
           else b.ctx.make("RelatedPerson", "document", root, ext, el.getroottree().getpath(el)))
    res: Json = {"resourceType": "RelatedPerson", "id": rid, "patient": b.patient_ref}
    put(res, "identifier", identifiers(el))
    rel = [r for r in (codeable(find(el, "code"), b.doc),) if r]
    if role and not rel:
        rel = [{"coding": [{"system": codes.V3 + "v3-RoleCode", "code": role}]}]
    elif role:
        rel.append({"coding": [{"system": codes.V3 + "v3-RoleCode", "code": role}]})
    put(res, "relationship", rel)
    put(res, "name", person_names)
    put(res, "telecom", telecoms(el))
    put(res, "address", addresses(el, b.ctx))
    return b.add(res)


def to_fhir_location(facility: Element, b: DocumentBuilder) -> dict[str, str] | None:
    """``healthCareFacility`` → Location (name and address of its ``location/place``).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-location
    """
    place = find(facility, "location")
    name = text(find(place, "name"))
    addrs = addresses(place, b.ctx)
    key = id_key(facility)
    if key is None and not name:
        return None
    rid = b.ctx.make("Location", *key) if key else b.ctx.make("Location", "name", name)
    res: Json = {"resourceType": "Location", "id": rid, "status": "active"}
    put(res, "identifier", identifiers(facility))
    put(res, "name", name)
    type_cc = codeable(find(facility, "code"), b.doc)
    if type_cc:
        res["type"] = [type_cc]
    if addrs:
        res["address"] = addrs[0]
    put(res, "managingOrganization", to_fhir_organization(find(facility, "serviceProviderOrganization"), b))
    return b.add(res)


def encounter_class(code_el: Element | None) -> Json:
    """Encounter.class (1..1): the code when it is a v3 ActCode (AMB, IMP, EMER…), else ``UNK``
    (v3-NullFlavor, as C-CDA on FHIR does when the CDA code is a CPT or SNOMED code)."""
    if code_el is not None and attr(code_el, "codeSystem") == "2.16.840.1.113883.5.4" and attr(code_el, "code"):
        c = coding(code_el)
        if c:
            return c
    for tr in findall(code_el, "translation"):
        if attr(tr, "codeSystem") == "2.16.840.1.113883.5.4":
            c = coding(tr)
            if c:
                return c
    return {"system": codes.V3 + "v3-NullFlavor", "code": "UNK", "display": "unknown"}


def to_fhir_encompassing_encounter(enc: Element, b: DocumentBuilder) -> Json:
    """``componentOf/encompassingEncounter`` → Encounter (the encounter the document documents).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter
    """
    rid = b.key_id("Encounter", enc)
    res: Json = {"resourceType": "Encounter", "id": rid}
    put(res, "identifier", identifiers(enc))
    p = period(find(enc, "effectiveTime"), b.ctx, "encompassingEncounter/effectiveTime")
    res["status"] = "finished" if p and p.get("end") else "unknown"
    res["class"] = encounter_class(find(enc, "code"))
    type_cc = codeable(find(enc, "code"), b.doc)
    if type_cc:
        res["type"] = [type_cc]
    res["subject"] = b.patient_ref
    parts = []
    for ep in findall(enc, "encounterParticipant"):
        ref = participant_ref(find(ep, "assignedEntity"), b)
        if ref and ref["reference"].startswith(("Practitioner/", "PractitionerRole/", "RelatedPerson/")):
            part: Json = {"individual": ref}
            tc = attr(ep, "typeCode")
            if tc:
                part["type"] = [{"coding": [{"system": codes.V3 + "v3-ParticipationType", "code": tc}]}]
            parts.append(part)
    resp = find(enc, "responsibleParty/assignedEntity")
    if resp is not None:
        ref = participant_ref(resp, b)
        if ref and ref["reference"].startswith("Practitioner/"):
            parts.append({"type": [{"coding": [{"system": codes.V3 + "v3-ParticipationType", "code": "RESP"}]}],
                          "individual": ref})
    put(res, "participant", parts)
    put(res, "period", p)
    disp = codeable(find(enc, "dischargeDispositionCode"), b.doc)
    if disp:
        res["hospitalization"] = {"dischargeDisposition": disp}
    facility = find(enc, "location/healthCareFacility")
    if facility is not None:
        loc = to_fhir_location(facility, b)
        if loc:
            res["location"] = [{"location": loc}]
        sp = to_fhir_organization(find(facility, "serviceProviderOrganization"), b)
        put(res, "serviceProvider", sp)
    b.encounter_ref = b.add(res)
    return res
