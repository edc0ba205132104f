"""837 parties: the hierarchical context a claim inherits (2000A/2000B/2000C) and the people in it.

Source: ASC X12N 005010X222A1 / X223A2 / X224A2 loops 2010AA billing provider, 2000B SBR, 2010BA
subscriber, 2010BB payer, 2010CA patient. Targets: https://hl7.org/fhir/R4/patient.html (C4BB Patient),
https://hl7.org/fhir/R4/coverage.html (C4BB Coverage), Organization (C4BB Organization, payer).
"""

from __future__ import annotations

from typing import Any

from etl.errors import MappingError
from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.common import (
    Resource,
    address,
    concept,
    coverage_id,
    date,
    human_name,
    local_system,
    patient_id,
    payer_organization,
    ref,
)
from etl.sources.x12.model import Seg
from etl.sources.x12.people import People, person_of


class Parties:
    """The hierarchical context a claim inherits while the segments are walked."""

    def __init__(self) -> None:
        self.billing: Resource | None = None
        self.payto: Resource | None = None
        self.subscriber: Resource | None = None
        self.sub_nm1: Seg | None = None
        self.sbr: Seg | None = None
        self.payer: Resource | None = None
        self.payer_id = ""
        self.member_id = ""
        self.patient: Resource | None = None
        self.coverage: Resource | None = None
        self.sub_error: MappingError | None = None  # a subscriber problem every claim under it shares




def payer_of(ctx: MappingContext, nm1: Seg, n3: Seg | None, n4: Seg | None) -> Resource:
    """2010BB NM1*PR → Organization (type pay), keyed on the payer id NM109."""
    return payer_organization(ctx, nm1.get(9) or nm1.get(3), nm1.get(3), address(n3, n4))


def patient_of(nm1: Seg, n3: Seg | None, n4: Seg | None, dmg: Seg | None, ctx: MappingContext, role: str) -> Resource:
    """2010BA / 2010CA NM1 + N3/N4 + DMG → Patient (id set later, when the payer is known).

    :return: https://hl7.org/fhir/R4/patient.html (C4BB Patient)
    """
    res: Resource = {"resourceType": "Patient", "id": ""}
    if name := human_name(nm1):
        res["name"] = [name]
    if dmg is not None:
        sex = dmg.get(3)
        if sex:
            if sex in codes.GENDER:
                res["gender"] = codes.GENDER[sex]
            else:
                ctx.problem("gender code is not F, M or U", "DMG03", sex)
        if dmg.get(1) == "D8" and dmg.get(2):
            birth = date(dmg.get(2), ctx, "DMG02")
            if birth:
                res["birthDate"] = birth
    if addr := address(n3, n4):
        res["address"] = [addr]
    res["_role"] = role
    return res


def finish_people(c: Parties, ctx: MappingContext, people: People) -> None:
    """Ids of subscriber/patient and the Coverage once the payer is known (2010BB follows 2010BA).

    Keys: :mod:`etl.sources.x12.people` (a dependent is its own Patient; two subscribers under one
    member id are never merged). The Coverage is the subscriber's (payer, member id, SBR03 group) and,
    for a dependent's claims, the dependent's own: a Coverage names one beneficiary.
    """
    assert c.subscriber is not None and c.sub_nm1 is not None and c.payer is not None
    if c.subscriber.get("_role") is not None:
        c.subscriber.pop("_role")
        c.subscriber["id"] = people.subscriber_id(ctx, c.payer_id, c.member_id, person_of(c.subscriber), "2010BA NM109")
        c.subscriber["identifier"] = [{"type": concept(codes.V2_ID_TYPE, "MB"),
                                       "system": local_system("member-id", c.payer_id), "value": c.member_id}]
        c.subscriber = {k: c.subscriber[k] for k in ("resourceType", "id", "identifier", *[
            k for k in c.subscriber if k not in ("resourceType", "id", "identifier")])}
    if c.patient is not None and c.patient.get("_role") is not None:
        c.patient.pop("_role")
        c.patient["id"] = patient_id(ctx, c.payer_id, c.member_id, person_of(c.patient))
    if c.coverage is None:
        sbr = c.sbr
        rel = "self"
        if c.patient is not None:
            rel = "other"
            # 2000C PAT01 individual relationship code: the patient's relation to the subscriber
        if sbr is not None and sbr.get(2):
            rel = codes.RELATIONSHIP.get(sbr.get(2), "other")
        cov: Resource = {
            "resourceType": "Coverage",
            "id": coverage_id(ctx, c.payer_id, c.member_id, sbr.get(3) if sbr else "", _own_key(c, ctx)),
            "identifier": [{"type": concept(codes.V2_ID_TYPE, "MB"), "system": local_system("member-id", c.payer_id),
                            "value": c.member_id}],
            "status": "active",
        }
        if sbr is not None and sbr.get(9):
            cov["type"] = concept(codes.CLAIM_FILING, sbr.get(9))
        cov["subscriber"] = ref(c.subscriber)
        cov["subscriberId"] = c.member_id
        cov["beneficiary"] = ref(c.patient or c.subscriber)
        cov["relationship"] = concept(codes.SUBSCRIBER_RELATIONSHIP, rel)
        cov["payor"] = [ref(c.payer)]
        if sbr is not None and (sbr.get(3) or sbr.get(4)):
            cls: dict[str, Any] = {"type": concept(codes.COVERAGE_CLASS, "group"), "value": sbr.get(3) or sbr.get(4)}
            if sbr.get(4):
                cls["name"] = sbr.get(4)
            cov["class"] = [cls]
        if sbr is not None and sbr.get(1) in codes.PAYER_SEQUENCE:
            cov["order"] = codes.PAYER_SEQUENCE[sbr.get(1)]
        c.coverage = cov


def _own_key(c: Parties, ctx: MappingContext) -> str | None:
    """The beneficiary's Patient id when it is not the member id's own (a dependent, or a second person
    under one member id): their Coverage is theirs alone."""
    beneficiary = c.patient or c.subscriber
    assert beneficiary is not None
    return None if beneficiary["id"] == patient_id(ctx, c.payer_id, c.member_id) else str(beneficiary["id"])
