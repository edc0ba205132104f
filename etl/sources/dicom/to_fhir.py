"""DICOM study headers to FHIR R4: ImagingStudy, Patient, Practitioner, Endpoint (pure mappers).

Follows the mapping table of https://hl7.org/fhir/R4/imagingstudy-mappings.html#dicom (the tags are
named in each line; docs/dicom.md has the whole table). One ImagingStudy per StudyInstanceUID, built
from every instance known of the study (:class:`etl.sources.dicom.model.Study`), so that a
``$import`` (which replaces whole resources) never loses series another run converted. Study-level
values come from the first instance in study order (series number, instance number, UIDs), so the
result does not depend on which file was read first; instances that disagree on the patient are a
data problem of the study.

Ids (:mod:`etl.fhir.ids`): ImagingStudy from the StudyInstanceUID; Patient from IssuerOfPatientID
and PatientID (from the study when the PatientID is empty); Practitioner from the name as written;
Endpoint from its address.
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.fhir.datatypes import ts_to_fhir
from etl.fhir.ids import IdFactory
from etl.sources.dicom.codes import (
    BODY_PARTS,
    CODING_SCHEMES,
    DCM,
    GENDER,
    LATERALITY,
    MODALITIES,
    SNOMED,
    SOP_CLASSES,
    URI,
)
from etl.sources.dicom.model import Code, Instance, PersonName, Study
from etl.sources.dicom.validate import is_uid

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
ACSN = {"coding": [{"system": V2_0203, "code": "ACSN", "display": "Accession ID"}]}


def to_fhir(study: Study, ctx: MappingContext) -> list[dict[str, Any]]:
    """Every resource of one study: Patient, Practitioners, Endpoint, then the ImagingStudy."""
    first = study.instances[0]
    if len({(i.issuer, i.patient_id) for i in study.instances}) > 1:
        ctx.problem("the study's instances disagree on IssuerOfPatientID/PatientID: the first in study order "
                    "is the subject", "(0010,0020)")
    out: list[dict[str, Any]] = [to_fhir_patient(first, ctx)]
    if not first.patient_id:
        ctx.problem("PatientID is empty: the patient is known by this study only", "(0010,0020)")
    names: dict[str, PersonName] = {}
    if any(first.referrer):
        names[_pn_key(first.referrer)] = first.referrer
    for inst in study.instances:
        for pn in inst.performers:
            names.setdefault(_pn_key(pn), pn)
    out += [to_fhir_practitioner(pn, ctx) for pn in names.values()]
    if study.endpoint:
        out.append(to_fhir_endpoint(study.endpoint, ctx))
    out.append(to_fhir_imaging_study(study, ctx, ctx.source_timezone))
    return out


def patient_key(inst: Instance) -> tuple[str, ...]:
    return ("dicom", inst.issuer, inst.patient_id) if inst.patient_id else ("dicom-study", inst.study_uid)


def to_fhir_patient(inst: Instance, ids: IdFactory) -> dict[str, Any]:
    """PatientID (0010,0020) + IssuerOfPatientID (0010,0021), PatientName (0010,0010), PatientBirthDate
    (0010,0030), PatientSex (0010,0040).

    :return: https://hl7.org/fhir/R4/patient.html
    """
    p: dict[str, Any] = {"resourceType": "Patient", "id": ids.make("Patient", *patient_key(inst))}
    if inst.patient_id:
        ident: dict[str, Any] = {"value": inst.patient_id}
        if inst.issuer and is_uid(inst.issuer):
            ident["system"] = f"urn:oid:{inst.issuer}"
        elif inst.issuer:
            ident["assigner"] = {"display": inst.issuer}
        p["identifier"] = [ident]
    names = human_names(inst.patient_name)
    if names:
        p["name"] = names
    p["gender"] = GENDER.get(inst.sex, "unknown")
    if inst.birth_date:
        p["birthDate"] = inst.birth_date
    return p


def to_fhir_practitioner(pn: PersonName, ids: IdFactory) -> dict[str, Any]:
    """A named physician (ReferringPhysicianName (0008,0090), PerformingPhysicianName (0008,1050)).

    :return: https://hl7.org/fhir/R4/practitioner.html
    """
    return {"resourceType": "Practitioner", "id": ids.make("Practitioner", "dicom-pn", _pn_key(pn)),
            "name": human_names(pn)}


def to_fhir_endpoint(address: str, ids: IdFactory) -> dict[str, Any]:
    """The DICOMweb WADO-RS base the study is retrieved from.

    :return: https://hl7.org/fhir/R4/endpoint.html
    """
    return {
        "resourceType": "Endpoint", "id": ids.make("Endpoint", address), "status": "active",
        "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                           "code": "dicom-wado-rs", "display": "DICOM WADO-RS"},
        "payloadType": [{"text": "DICOM"}],
        "payloadMimeType": ["application/dicom"],
        "address": address,
    }


def to_fhir_imaging_study(study: Study, ids: IdFactory, source_timezone: str | None = None) -> dict[str, Any]:
    """The whole study: identifier (0020,000D) and AccessionNumber (0008,0050), started (0008,0020 +
    0008,0030 + 0008,0201), modality (0008,0060 of every series), description (0008,1030), referrer
    (0008,0090), basedOn (0008,0050 as a ServiceRequest identifier), procedureCode (0008,1032),
    reasonCode (0040,1002 / 0040,100A), and one series per SeriesInstanceUID (0020,000E) with its
    instances (0008,0018, 0008,0016, 0020,0013).

    :return: https://hl7.org/fhir/R4/imagingstudy.html
    """
    first = study.instances[0]
    endpoint = [ids.ref("Endpoint", study.endpoint)] if study.endpoint else []
    series: dict[str, list[Instance]] = {}
    for inst in study.instances:
        series.setdefault(inst.series_uid, []).append(inst)
    r: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": ids.make("ImagingStudy", study.study_uid),
        "identifier": [{"use": "official", "system": "urn:dicom:uid", "value": f"urn:oid:{study.study_uid}"}],
        "status": "available",
    }
    if first.accession:
        r["identifier"].append({"use": "usual", "type": ACSN, "value": first.accession})
    modalities: dict[str, dict[str, str]] = {}
    for members in series.values():
        modalities.setdefault(members[0].modality, modality_coding(members[0].modality))
    r["modality"] = list(modalities.values())
    r["subject"] = ids.ref("Patient", *patient_key(first))
    started = _started(first.study_date, first.study_time, first.tz_offset, source_timezone)
    if started:
        r["started"] = started
    if first.accession:
        r["basedOn"] = [{"type": "ServiceRequest", "identifier": {"type": ACSN, "value": first.accession}}]
    if any(first.referrer):
        r["referrer"] = ids.ref("Practitioner", "dicom-pn", _pn_key(first.referrer))
    if endpoint:
        r["endpoint"] = endpoint
    r["numberOfSeries"] = len(series)
    r["numberOfInstances"] = len(study.instances)
    if first.procedure_codes:
        r["procedureCode"] = [codeable(c) for c in first.procedure_codes]
    reasons = [codeable(c) for c in first.reason_codes] + ([{"text": first.reason}] if first.reason else [])
    if reasons:
        r["reasonCode"] = reasons
    if first.study_description:
        r["description"] = first.study_description
    r["series"] = [_series(uid, members, ids, endpoint, source_timezone) for uid, members in series.items()]
    return r


def _series(uid: str, members: list[Instance], ids: IdFactory, endpoint: list[dict[str, str]],
            source_timezone: str | None) -> dict[str, Any]:
    head = members[0]
    s: dict[str, Any] = {"uid": uid}
    if head.series_number:
        s["number"] = int(head.series_number)
    s["modality"] = modality_coding(head.modality)
    if head.series_description:
        s["description"] = head.series_description
    s["numberOfInstances"] = len(members)
    if endpoint:
        s["endpoint"] = endpoint
    if head.body_part:
        code = BODY_PARTS.get(head.body_part.upper())
        s["bodySite"] = {"system": SNOMED, "code": code[0], "display": code[1]} if code else {"display": head.body_part}
    side = LATERALITY.get(head.laterality.upper()) if head.laterality else None
    if side:
        s["laterality"] = {"system": SNOMED, "code": side[0], "display": side[1]}
    started = _started(head.series_date, head.series_time, head.tz_offset, source_timezone)
    if started:
        s["started"] = started
    performers: dict[str, dict[str, Any]] = {}
    for inst in members:
        for pn in inst.performers:
            performers.setdefault(_pn_key(pn), {"actor": ids.ref("Practitioner", "dicom-pn", _pn_key(pn))})
    if performers:
        s["performer"] = list(performers.values())
    s["instance"] = [_instance(i) for i in members]
    return s


def _instance(inst: Instance) -> dict[str, Any]:
    coding = {"system": URI, "code": f"urn:oid:{inst.sop_class_uid}"}
    name = SOP_CLASSES.get(inst.sop_class_uid)
    if name:
        coding["display"] = name
    out: dict[str, Any] = {"uid": inst.sop_instance_uid, "sopClass": coding}
    if inst.instance_number:
        out["number"] = int(inst.instance_number)
    if inst.title:
        out["title"] = inst.title
    return out


def modality_coding(code: str) -> dict[str, str]:
    """A DCM Coding for Modality (0008,0060) (PS3.16 CID 33)."""
    display = MODALITIES.get(code)
    return {"system": DCM, "code": code, **({"display": display} if display else {})}


def codeable(code: Code) -> dict[str, Any]:
    """A code sequence item as a CodeableConcept (scheme URI from PS3.16 Table 8-1; a local scheme
    keeps the code meaning as text only)."""
    value, scheme, meaning = code
    system = CODING_SCHEMES.get(scheme)
    out: dict[str, Any] = {}
    if system and value:
        coding = {"system": system, "code": value}
        if meaning:
            coding["display"] = meaning
        out["coding"] = [coding]
    if meaning or not out:
        out["text"] = meaning or value
    return out


def human_names(pn: PersonName) -> list[dict[str, Any]]:
    """A DICOM PN (PS3.5 6.2.1) as HumanNames: the alphabetic group, then the ideographic and
    phonetic groups, each marked with the iso21090-EN-representation extension (IDE, SYL)."""
    out = []
    for group, rep in zip(pn, ("ABC", "IDE", "SYL"), strict=True):
        name = _human_name(group, western=rep == "ABC")
        if name is None:
            continue
        if rep != "ABC":
            name["extension"] = [{"url": EN_REPRESENTATION, "valueCode": rep}]
        out.append(name)
    return out


def _human_name(group: str, *, western: bool) -> dict[str, Any] | None:
    """One component group; its text in reading order (ideographic and phonetic groups: family
    name first, as written in CJK names)."""
    family, given, middle, prefix, suffix = ([p.strip() for p in group.split("^")] + [""] * 5)[:5]
    order = (prefix, given, middle, family, suffix) if western else (family, given, middle)
    text = " ".join(p for p in order if p)
    if not text:
        return None
    name: dict[str, Any] = {"text": text}
    if family:
        name["family"] = family
    givens = [g for g in (given, middle) if g]
    if givens:
        name["given"] = givens
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name


def _pn_key(pn: PersonName) -> str:
    return "=".join(pn).rstrip("=")


def _started(date: str, time: str, offset: str, source_timezone: str | None) -> str | None:
    """A FHIR dateTime from a validated date and time: with the UTC offset (0008,0201), else placed in
    the job's source time zone, else the date alone (a dateTime with a time needs an offset)."""
    if not date:
        return None
    if not time:
        return date
    if offset:
        return f"{date}T{time}{offset}"
    compact = date.replace("-", "") + time.replace(":", "")
    return ts_to_fhir(compact, source_timezone) or date
