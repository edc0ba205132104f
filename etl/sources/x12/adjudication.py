"""CAS adjustments and care-team roles as CARIN Blue Button expects them, for the 835 and the 837.

Sources: ASC X12N 005010X221A1 (835) 2100/2110 CAS and 005010X222A1 / X223A2 / X224A2 (837) 2320 and
2430 CAS claim adjustment segments: CAS01 group code (X12 element 1033), then up to six triplets of
reason (CARC), amount and quantity. Target: ``ExplanationOfBenefit.adjudication`` /
``item.adjudication`` as CARIN BB slices them (http://hl7.org/fhir/us/carin-bb/, the
C4BBAdjudicationCategoryDiscriminator value set on ``adjudication.category``).

An adjudication's ``category`` carries two codings: CARIN's (deductible, coinsurance, copay, member
liability, prior payer paid, or the ``adjustmentreason`` discriminator) and, beside it, the X12 CAS
group code, so neither the CARIN reading nor the payer's own classification is lost.

R4 ``Claim`` has no adjudication. What another payer decided (837 2320 AMT/CAS, 2430 SVD/CAS) is
kept on the Claim in the same shape inside a fhirflow extension (:data:`EXT_ADJUDICATION`: sub-
extensions ``category``, ``reason``, ``amount`` and, on a line, ``insurance`` = the
``Claim.insurance.sequence`` of the payer that adjudicated it). CARIN BB calls the amount an earlier
payer paid ``priorpayerpaid`` (C4BBAdjudication); Da Vinci PAS has no element for it, and FHIR R4
has no standard extension, hence fhirflow's own, which R4 validators accept as an unknown extension.
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.common import coding, money
from etl.sources.x12.model import Seg

EXT_ADJUDICATION = "https://fhirflow.dev/fhir/StructureDefinition/claim-adjudication"


def cas_category(group: str, reason: str) -> dict[str, Any]:
    """CAS01 group + CAS02 reason → the CARIN category, with the X12 group code beside it."""
    if reason == codes.CARC_PRIOR_PAYER:
        system, code = codes.CAS_PRIOR_PAYER
    elif group == "PR":
        system, code = codes.CAS_PATIENT_SHARE.get(reason, codes.CAS_MEMBER_LIABILITY)
    else:
        system, code = codes.CAS_ADJUSTMENT
    return {"coding": [coding(system, code), coding(codes.CAS_GROUP, group, codes.CAS_GROUP_TEXT.get(group))]}


def cas_adjudications(cas: Seg, ctx: MappingContext) -> list[dict[str, Any]]:
    """CAS01 group, then up to six (CARC reason, amount, quantity) triplets → adjudication entries."""
    out: list[dict[str, Any]] = []
    group = cas.get(1)
    for k in (2, 5, 8, 11, 14, 17):
        reason, amount = cas.get(k), cas.get(k + 1)
        if not reason:
            continue
        adj: dict[str, Any] = {"category": cas_category(group, reason),
                               "reason": {"coding": [coding(codes.CARC, reason, codes.CARC_TEXT.get(reason))]}}
        if (m := money(amount, ctx, f"CAS{k + 1:02d}")) is not None:
            adj["amount"] = m
        out.append(adj)
    return out


def amount_adjudication(category: tuple[str, str], value: str, ctx: MappingContext, path: str) -> dict[str, Any] | None:
    """An amount element (AMT02, SVD02) as an adjudication entry of ``category`` (system, code)."""
    m = money(value, ctx, path)
    if m is None:
        return None
    return {"category": {"coding": [coding(*category)]}, "amount": m}


def as_extension(adjudication: dict[str, Any], insurance: int | None = None) -> dict[str, Any]:
    """An adjudication entry as the :data:`EXT_ADJUDICATION` extension (for a Claim, which has none)."""
    parts: list[dict[str, Any]] = []
    if insurance is not None:
        parts.append({"url": "insurance", "valuePositiveInt": insurance})
    parts.append({"url": "category", "valueCodeableConcept": adjudication["category"]})
    if "reason" in adjudication:
        parts.append({"url": "reason", "valueCodeableConcept": adjudication["reason"]})
    if "amount" in adjudication:
        parts.append({"url": "amount", "valueMoney": adjudication["amount"]})
    return {"url": EXT_ADJUDICATION, "extension": parts}


def care_team_role(nm101: str) -> dict[str, Any] | None:
    """NM101 entity identifier → careTeam.role (CARIN or THO code; X12 code beside "other")."""
    role = codes.CARE_TEAM_ROLE.get(nm101)
    if role is None:
        return None
    concept: dict[str, Any] = {"coding": [coding(*role)]}
    if nm101 in codes.ENTITY_IDENTIFIER_TEXT:
        concept["coding"].append(coding(codes.ENTITY_IDENTIFIER, nm101, codes.ENTITY_IDENTIFIER_TEXT[nm101]))
    return concept
