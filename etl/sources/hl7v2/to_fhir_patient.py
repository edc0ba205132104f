"""PID/PD1 → Patient, NK1 → RelatedPerson, PID-18 → Account, MRG → Patient.link (merges).

Mappings: v2-to-fhir IG segment maps PID[Patient], PD1[Patient], NK1[RelatedPerson], MRG[Patient];
race and ethnicity as US Core extensions
(http://hl7.org/fhir/us/core/StructureDefinition/us-core-race, ``us-core-ethnicity``).
"""

from __future__ import annotations

from typing import Any

from etl.errors import MappingError
from etl.fhir.datatypes import ts_to_fhir
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import (
    addresses,
    codeable_concept,
    cx,
    dt,
    first_cc,
    human_names,
    identifiers,
    plain_identifier,
    telecoms,
    v2_coded,
)
from etl.sources.hl7v2.model import Message, Segment

Json = dict[str, Any]
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"


def patient_key(msg: Message, seg: Segment | None = None) -> tuple[str, str]:
    """(assigning authority, id) of the first PID-3 repetition: the patient's identity."""
    pid = seg or msg.first("PID")
    reps = pid.reps(3) if pid else []
    if not reps or not reps[0].get(1):
        raise MappingError("PID-3 (patient identifier list) is empty: the patient cannot be identified",
                           code="required").at_expression("PID-3")  # type: ignore[return-value]
    first = reps[0]
    return (first.get(4, 1) or first.get(4, 2), first.get(1))


def _race_ethnicity(pid: Segment, field: int, url: str, omb: dict[str, str], letters: dict[str, str],
                    b: MessageBuilder) -> Json | None:
    """PID-10 / PID-22 (CWE, repeating) → US Core race / ethnicity extension: OMB categories as
    ``ombCategory``, other CDC codes as ``detailed``, and the required ``text``."""
    parts: list[Json] = []
    labels: list[str] = []
    for rep in pid.reps(field):
        code, display = rep.get(1), rep.get(2)
        cdc = letters.get(code.upper(), code) if code not in omb else code
        if cdc in omb:
            parts.append({"url": "ombCategory", "valueCoding": {
                "system": codes.CDC_RACE_SYSTEM, "code": cdc, "display": omb[cdc]}})
        elif cdc in codes.OTHER_RACE or (len(cdc) == 6 and cdc[4] == "-" and cdc.replace("-", "").isdigit()):
            coding = {"system": codes.CDC_RACE_SYSTEM, "code": cdc}
            if display:
                coding["display"] = display
            parts.append({"url": "detailed", "valueCoding": coding})
        elif code:
            b.ctx.problem("is not a CDC race/ethnicity code; kept as the extension's text", f"PID-{field}", code)
        label = display or rep.get(5) or (omb.get(cdc) if cdc in omb else "") or code
        if label:
            labels.append(label)
    if not labels:
        return None
    return {"url": url, "extension": [*parts, {"url": "text", "valueString": ", ".join(labels)}]}


def _patient_identifiers(pid: Segment) -> list[Json]:
    """PID-3, PID-2 (external id), PID-4 (alternate id), PID-19 (SSN), PID-20 (driver's licence)."""
    out = identifiers(pid, 3) + identifiers(pid, 2) + identifiers(pid, 4)
    ssn = pid.get(19)
    if ssn and not any(i.get("value") == ssn for i in out):
        ident = plain_identifier(ssn, "SS")
        ident["system"] = SSN_SYSTEM
        out.append(ident)
    for rep in pid.reps(20):  # DLN: number .1, issuing state/province/country .2, expiration .3
        if not rep.get(1):
            continue
        dl = plain_identifier(rep.get(1), "DL")
        if rep.get(3) and (end := ts_to_fhir(rep.get(3), date_only=True)):
            dl["period"] = {"end": end}
        if rep.get(2):
            dl["assigner"] = {"display": rep.get(2)}
        out.append(dl)
    return out


def _insurance_identifiers(msg: Message) -> list[Json]:
    """The patient's identifiers carried elsewhere (v2-to-fhir IG IN2[Patient], DB1[Patient]): IN2-6
    Medicare card (MC), IN2-8 Medicaid case (MA), IN2-10 military id (MI? kept as text), IN2-61
    member number (MB); DB1-3 when DB1-2 says the disabled person is the patient (PT)."""
    out: list[Json] = []
    for in2 in msg.all("IN2"):
        for field, type_code, system in ((6, "MC", "http://hl7.org/fhir/sid/us-medicare"), (8, "MA", ""),
                                         (10, "", ""), (61, "MB", "")):
            value = in2.get(field)
            if value and not any(i.get("value") == value for i in out):
                ident = plain_identifier(value, type_code)
                if system:
                    ident["system"] = system
                out.append(ident)
    for db1 in msg.all("DB1"):
        if db1.get(2).upper() == "PT":
            out += identifiers(db1, 3)
    return out


def to_fhir_patient(msg: Message, b: MessageBuilder, pid: Segment | None = None) -> Json:
    """PID (+ PD1) → Patient.

    :return: https://hl7.org/fhir/R4/patient.html (mapping: v2-to-fhir IG, PID[Patient], PD1[Patient])
    """
    pid = pid or msg.first("PID")
    if pid is None:
        raise MappingError("the message has no PID segment", code="required").at_expression("PID")  # type: ignore[misc]
    ctx = b.ctx
    patient: Json = {"resourceType": "Patient", "id": ctx.make("Patient", "hl7v2", *patient_key(msg, pid))}
    ext = [e for e in (
        _race_ethnicity(pid, 10, codes.US_CORE_RACE, codes.OMB_RACE, codes.RACE_LETTERS, b),
        _race_ethnicity(pid, 22, codes.US_CORE_ETHNICITY, codes.OMB_ETHNICITY, codes.ETHNICITY_LETTERS, b),
    ) if e is not None]
    maiden = pid.reps(6)
    if maiden and maiden[0].get(1, 1):
        ext.append({"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                    "valueString": maiden[0].get(1, 1)})
    if ext:
        patient["extension"] = ext
    patient["identifier"] = _patient_identifiers(pid) + _insurance_identifiers(msg)
    if names := human_names(pid, 5) + human_names(pid, 9):  # PID-9: patient alias (before v2.7)
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
    if death_time and (when := dt(death_time, ctx, "PID-29")):
        patient["deceasedDateTime"] = when
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
    order = pid.get(25)
    if order.isdigit():
        patient["multipleBirthInteger"] = int(order)
    elif pid.get(24) in ("Y", "N"):
        patient["multipleBirthBoolean"] = pid.get(24) == "Y"
    if (lang := first_cc(pid, 15)) is not None:
        if not any("system" in c for c in lang.get("coding", [])):
            lang = {"text": lang.get("text") or pid.get(15)}  # a bare "EN": no code system to name
        patient["communication"] = [{"language": lang}]
    gp = []
    pd1 = msg.first("PD1")
    if pd1 is not None:
        gp += [r for r in (b.organization(rep) for rep in pd1.reps(3)) if r is not None]
        gp += [r for r in (b.practitioner(rep) for rep in pd1.reps(4)) if r is not None]
    if gp:
        patient["generalPractitioner"] = gp
    return patient


def to_fhir_related_person(nk1: Segment, b: MessageBuilder) -> Json | None:
    """NK1 → RelatedPerson (name .2, relationship .3, address .4, phones .5/.6, contact role .7,
    organization name .13, sex .15, birth date .16, identifiers .33). None for an empty NK1.

    :return: https://hl7.org/fhir/R4/relatedperson.html (mapping: v2-to-fhir IG, NK1[RelatedPerson])
    """
    names = human_names(nk1, 2)
    org = nk1.get(13)
    if not names and not org and not nk1.reps(33):
        return None
    first = names[0] if names else {}
    rid = b.ctx.make("RelatedPerson", b.patient_id, first.get("family", ""), *first.get("given", []), org,
                     nk1.get(3))
    res: Json = {"resourceType": "RelatedPerson", "id": rid, "patient": b.patient_ref()}
    if ids := identifiers(nk1, 33):
        res["identifier"] = ids
    rel = []
    for field in (3, 7):
        for rep in nk1.reps(field):
            cc = codeable_concept(rep) or {}
            code = rep.get(1).upper()
            if field == 3 and code in codes.RELATIONSHIP:
                cc = {"coding": [{"system": codes.ROLE_CODE_SYSTEM, "code": codes.RELATIONSHIP[code]}],
                      "text": rep.get(2) or code}
            elif field == 7 and code:
                cc = v2_coded("0131", code, rep.get(2))
            elif cc:
                cc.pop("coding", None)  # a local code has no system: its text says what it is
                cc["text"] = cc.get("text") or code
            if cc:
                rel.append(cc)
    if rel:
        res["relationship"] = rel
    if names:
        res["name"] = names
    elif org:
        res["name"] = [{"text": org}]
    if phones := telecoms(nk1, 5, "home") + telecoms(nk1, 6, "work"):
        res["telecom"] = phones
    sex = nk1.get(15).upper()
    if sex in codes.ADMINISTRATIVE_SEX:
        res["gender"] = codes.ADMINISTRATIVE_SEX[sex]
    if (birth := ts_to_fhir(nk1.get(16), date_only=True)) if nk1.get(16) else None:
        res["birthDate"] = birth
    if addr := addresses(nk1, 4):
        res["address"] = addr
    start, end = ts_to_fhir(nk1.get(8), date_only=True), ts_to_fhir(nk1.get(9), date_only=True)
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return res


def to_fhir_account(pid: Segment, b: MessageBuilder) -> Json | None:
    """PID-18 (patient account number, CX) → Account. None when PID-18 is empty.

    :return: https://hl7.org/fhir/R4/account.html (mapping: v2-to-fhir IG, PID[Account])
    """
    reps = pid.reps(18)
    ident = cx(reps[0]) if reps else None
    if ident is None:
        return None
    return {"resourceType": "Account", "id": b.ctx.make("Account", "hl7v2", b.facility, ident["value"]),
            "identifier": [ident], "status": "active", "subject": [b.patient_ref()]}


def merged_patients(msg: Message, b: MessageBuilder, survivor: Json) -> list[Json]:
    """MRG (ADT^A34/A35/A36/A39/A40/A41/A42/A44/A45/A46/A47/A49/A50/A51): the survivor (the PID
    patient) gets ``link`` type ``replaces`` to each retired patient (MRG-1 prior patient id,
    the same key as the id it was given when it was the PID patient), and each retired Patient is
    emitted with ``active`` false, its prior identifiers and ``link`` type ``replaced-by``.

    :return: https://hl7.org/fhir/R4/patient.html#links (mapping: v2-to-fhir IG, MRG[Patient])
    """
    out = []
    for n, mrg in enumerate(msg.all("MRG"), start=1):
        reps = mrg.reps(1)
        if not reps or not reps[0].get(1):
            if mrg.reps(3) or mrg.reps(5) or mrg.reps(6):
                continue  # an account or visit move (A44/A45/A47 with MRG-3/5/6): the patient stays
            raise MappingError(f"MRG-1 (prior patient identifier list) of MRG segment {n} is empty: the "
                               "retired patient cannot be identified", code="required").at_expression("MRG-1")
        first = reps[0]
        key = (first.get(4, 1) or first.get(4, 2), first.get(1))
        rid = b.ctx.make("Patient", "hl7v2", *key)
        if rid == survivor["id"]:
            continue
        survivor.setdefault("link", []).append({"other": reference("Patient", rid), "type": "replaces"})
        retired: Json = {"resourceType": "Patient", "id": rid, "active": False,
                         "identifier": identifiers(mrg, 1) + identifiers(mrg, 4),
                         "link": [{"other": reference("Patient", survivor["id"]), "type": "replaced-by"}]}
        if names := human_names(mrg, 7):
            retired["name"] = names
        out.append(retired)
    return out
