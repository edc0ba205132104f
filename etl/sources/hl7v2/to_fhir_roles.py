"""ROL/PRT → PractitionerRole, GT1 and IN1's insured → RelatedPerson, PV1-54 → EpisodeOfCare,
MSH-3 → Device.

Mappings: v2-to-fhir IG segment maps ROL[PractitionerRole], PRT[PractitionerRole],
GT1[RelatedPerson], IN1[RelatedPerson], PV1[EpisodeOfCare], and HD[Device] for MSH-3 (the
sending application, the Provenance agent acting for the sending facility of MSH-4).
"""

from __future__ import annotations

from typing import Any

from etl.fhir.datatypes import ts_to_fhir
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import addresses, authority_system, human_names, identifiers, telecoms, v2_coded
from etl.sources.hl7v2.model import Segment

Json = dict[str, Any]


def to_fhir_practitioner_role(seg: Segment, b: MessageBuilder) -> Json | None:
    """ROL (role .3, person .4, period .5/.6, address .11, phone .12, organization .14) or PRT
    (role .4, person .5, organization .8, period .11/.12, address .14, phone .15) → PractitionerRole.
    None when the segment names no person.

    :return: https://hl7.org/fhir/R4/practitionerrole.html (mapping: v2-to-fhir IG, ROL/PRT[PractitionerRole])
    """
    is_rol = seg.name == "ROL"
    role_f, person_f, org_f, start_f, end_f, tel_f = (3, 4, 14, 5, 6, 12) if is_rol else (4, 5, 8, 11, 12, 15)
    people = seg.reps(person_f)
    practitioner = b.practitioner(people[0]) if people else None
    if practitioner is None:
        return None
    role_code = seg.get(role_f, 1)
    role = v2_coded("0443", role_code, seg.get(role_f, 2)) if role_code else None
    rid = b.ctx.make("PractitionerRole", practitioner["reference"], seg.get(role_f, 1), b.facility)
    res: Json = {"resourceType": "PractitionerRole", "id": rid, "practitioner": practitioner}
    if role is not None:
        res["code"] = [role]
    orgs = seg.reps(org_f)
    if orgs and (org := b.organization(orgs[0])) is not None:
        res["organization"] = org
    start, end = ts_to_fhir(seg.get(start_f)) if seg.get(start_f) else None, ts_to_fhir(seg.get(end_f)) if seg.get(end_f) else None
    if start and end and start > end:
        start = end = None  # a period that ends before it starts is not one
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if phones := telecoms(seg, tel_f, "work"):
        res["telecom"] = phones
    return res


def _person(b: MessageBuilder, key: str, seg: Segment, name_f: int, rel_f: int, addr_f: int, tel_f: int,
            birth_f: int, sex_f: int) -> Json | None:
    names = human_names(seg, name_f)
    if not names:
        return None
    first = names[0]
    rel_code = seg.get(rel_f, 1).upper()
    rid = b.ctx.make("RelatedPerson", b.patient_id, first.get("family", ""), *first.get("given", []), rel_code)
    res: Json = {"resourceType": "RelatedPerson", "id": rid, "patient": b.patient_ref()}
    rel: list[Json] = []
    if rel_code in codes.RELATIONSHIP:
        rel.append({"coding": [{"system": codes.ROLE_CODE_SYSTEM, "code": codes.RELATIONSHIP[rel_code]}]})
    elif rel_code:
        rel.append({"text": seg.get(rel_f, 2) or rel_code})
    rel.append({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": key}]})
    res["relationship"] = rel
    res["name"] = names
    if phones := telecoms(seg, tel_f, "home"):
        res["telecom"] = phones
    sex = seg.get(sex_f).upper()
    if sex in codes.ADMINISTRATIVE_SEX:
        res["gender"] = codes.ADMINISTRATIVE_SEX[sex]
    if seg.get(birth_f) and (birth := ts_to_fhir(seg.get(birth_f), date_only=True)):
        res["birthDate"] = birth
    if addr := addresses(seg, addr_f):
        res["address"] = addr
    return res


def to_fhir_guarantor(gt1: Segment, b: MessageBuilder) -> Json | None:
    """GT1 (name .3, address .5, phone .6, birth .8, sex .9, relationship .11) → RelatedPerson,
    unless the guarantor is the patient (GT1-11 ``SEL``).

    :return: https://hl7.org/fhir/R4/relatedperson.html (mapping: v2-to-fhir IG, GT1[RelatedPerson])
    """
    if gt1.get(11, 1).upper() == "SEL":
        return None
    res = _person(b, "GUAR", gt1, 3, 11, 5, 6, 8, 9)
    if res is not None and (ids := identifiers(gt1, 2)):
        res["identifier"] = ids
    return res


def to_fhir_insured(in1: Segment, b: MessageBuilder) -> Json | None:
    """IN1's insured (name .16, relationship .17, birth .18, address .19, sex .43) → RelatedPerson,
    unless the insured is the patient (IN1-17 ``SEL``).

    :return: https://hl7.org/fhir/R4/relatedperson.html (mapping: v2-to-fhir IG, IN1[RelatedPerson])
    """
    if in1.get(17, 1).upper() in ("SEL", "01", "18", ""):
        return None
    return _person(b, "POLHOLD", in1, 16, 17, 19, 7, 18, 43)


def to_fhir_episode_of_care(pv1: Segment, b: MessageBuilder) -> Json | None:
    """PV1-54 service episode identifier (v2.6 and later) → EpisodeOfCare. None when empty.

    :return: https://hl7.org/fhir/R4/episodeofcare.html (mapping: v2-to-fhir IG, PV1[EpisodeOfCare])
    """
    if b.msg.get("MSH-12.1")[:3] < "2.6":
        return None  # PV1-54 is another field before v2.6
    ids = identifiers(pv1, 54)
    if not ids:
        return None
    return {"resourceType": "EpisodeOfCare", "id": b.ctx.make("EpisodeOfCare", "hl7v2", b.facility, ids[0]["value"]),
            "identifier": ids, "status": "active", "patient": b.patient_ref()}


def sending_application(b: MessageBuilder) -> dict[str, str] | None:
    """MSH-3 (HD: namespace .1, universal id .2 and its type .3) → a reference to its Device."""
    name, uid, uid_type = b.msg.get("MSH-3.1"), b.msg.get("MSH-3.2"), b.msg.get("MSH-3.3")
    if not name and not uid:
        return None
    rid = b.ctx.make("Device", "hl7v2", name, uid)
    if not b.has("Device", rid):
        res: Json = {"resourceType": "Device", "id": rid}
        if uid and (system := authority_system("", uid, uid_type)) is not None and system.startswith("urn:oid:"):
            res["identifier"] = [{"system": system, "value": uid}]
        elif uid:
            res["identifier"] = [{"value": uid}]
        if name:
            res["deviceName"] = [{"name": name, "type": "user-friendly-name"}]
        b.add(res)
    return reference("Device", rid)
