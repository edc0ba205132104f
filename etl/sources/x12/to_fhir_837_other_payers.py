"""837 other payers (coordination of benefits) → further ``Claim.insurance`` entries, with what each
other payer paid and adjusted.

Source: ASC X12N 005010X222A1 (837P), X223A2 (837I), X224A2 (837D): 2320 other subscriber information
(SBR01 payer responsibility sequence, SBR02 the patient's relationship to the other subscriber, SBR03
group, SBR09 claim filing indicator; CAS claim-level adjustments; AMT*D payer paid amount, AMT*A8
noncovered charges, AMT*EAF remaining patient liability), 2330A other subscriber name (NM1*IL),
2330B other payer name (NM1*PR), 2430 line adjudication (SVD01 other payer id = 2330B NM109, SVD02
paid amount; CAS line adjustments).

Targets (https://hl7.org/fhir/R4/claim.html, coverage.html, relatedperson.html):

- one ``Claim.insurance`` per 2320 loop, ``focal`` false, its ``Coverage`` keyed like the claim's own
  (other payer id, other subscriber's member id, SBR03; the patient's own when the patient is not the
  other subscriber, see :func:`etl.sources.x12.common.coverage_id`); the entries, the claim's own
  included, are numbered in SBR01 order (P, S, T, …), so ``sequence`` is the coordination order;
- the other subscriber, when not the patient (SBR02 other than 18), as a ``RelatedPerson`` of the
  patient and the ``Coverage.subscriber``;
- the other payer's amounts and CAS adjustments in the shape of ``ExplanationOfBenefit.adjudication``
  (CARIN categories: ``priorpayerpaid`` for AMT*D and SVD02, CAS as in
  :mod:`etl.sources.x12.adjudication`) in the fhirflow extension
  :data:`etl.sources.x12.adjudication.EXT_ADJUDICATION`: claim-level ones on that ``Claim.insurance``
  entry, line-level ones (2430) on the ``Claim.item``, naming the entry by its sequence. R4 ``Claim``
  has no adjudication element, and an unknown extension is valid R4.
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.sources.x12 import codes
from etl.sources.x12.adjudication import amount_adjudication, as_extension, cas_adjudications
from etl.sources.x12.common import (
    Resource,
    address,
    concept,
    coverage_id,
    human_name,
    local_system,
    name_loop,
    payer_organization,
    ref,
)
from etl.sources.x12.model import Seg

# 2320 SBR02 (the patient's relationship to the other subscriber) -> the other subscriber's relationship
# to the patient (RelatedPerson.relationship, v3 RoleCode): a child's subscriber is its parent.
SUBSCRIBER_ROLE = {"01": "SPS", "19": "PRN", "53": "DOMPART"}
SELF = "18"


class _OtherPayer:
    def __init__(self, sbr: Seg) -> None:
        self.sbr = sbr
        self.payer_nm1: Seg | None = None
        self.payer_loop: tuple[Seg | None, Seg | None] = (None, None)
        self.subscriber_nm1: Seg | None = None
        self.adjudication: list[dict[str, Any]] = []

    @property
    def payer_id(self) -> str:
        nm1 = self.payer_nm1
        return (nm1.get(9) or nm1.get(3)) if nm1 is not None else ""


def _collect(segs: list[Seg], ctx: MappingContext) -> list[_OtherPayer]:
    """The 2320 loops of one claim with their 2330A/2330B names and claim-level amounts."""
    out: list[_OtherPayer] = []
    for i, s in enumerate(segs):
        sid, loop = s.e[0], s.loop
        if loop == "2320":
            if sid == "SBR":
                out.append(_OtherPayer(s))
            elif not out:
                continue
            elif sid == "CAS":
                out[-1].adjudication += cas_adjudications(s, ctx)
            elif sid == "AMT" and s.get(1) in codes.OTHER_PAYER_AMOUNT:
                adj = amount_adjudication(codes.OTHER_PAYER_AMOUNT[s.get(1)], s.get(2), ctx, f"2320 AMT02 ({s.get(1)})")
                if adj is not None:
                    out[-1].adjudication.append(adj)
        elif out and sid == "NM1" and loop == "2330A":
            out[-1].subscriber_nm1 = s
        elif out and sid == "NM1" and loop == "2330B":
            out[-1].payer_nm1 = s
            n3, n4, _, _ = name_loop(segs, i)
            out[-1].payer_loop = (n3, n4)
    return out


def _coverage(other: _OtherPayer, ctx: MappingContext, patient: Resource, payer: Resource,
              out: list[Resource]) -> Resource:
    sbr = other.sbr
    sub = other.subscriber_nm1
    member = sub.get(9) if sub is not None else ""
    rel = sbr.get(2)
    is_self = rel == SELF
    cov: Resource = {
        "resourceType": "Coverage",
        "id": coverage_id(ctx, other.payer_id, member, sbr.get(3), None if is_self else patient["id"]),
        "status": "active",
    }
    if member:
        cov["identifier"] = [{"type": concept(codes.V2_ID_TYPE, "MB"),
                              "system": local_system("member-id", other.payer_id), "value": member}]
    if sbr.get(9):
        cov["type"] = concept(codes.CLAIM_FILING, sbr.get(9))
    if is_self:
        cov["subscriber"] = ref(patient)
    elif sub is not None:
        person: Resource = {"resourceType": "RelatedPerson",
                            "id": ctx.make("RelatedPerson", "x12-other-subscriber", other.payer_id, member,
                                           patient["id"]),
                            "active": True, "patient": ref(patient)}
        if rel in SUBSCRIBER_ROLE:
            person["relationship"] = [concept(codes.ROLE_CODE, SUBSCRIBER_ROLE[rel])]
        if name := human_name(sub):
            person["name"] = [name]
        out.append(person)
        cov["subscriber"] = ref(person)
    if member:
        cov["subscriberId"] = member
    cov["beneficiary"] = ref(patient)
    cov["relationship"] = concept(codes.SUBSCRIBER_RELATIONSHIP, codes.RELATIONSHIP.get(rel, "other"))
    cov["payor"] = [ref(payer)]
    if sbr.get(3) or sbr.get(4):
        cls: dict[str, Any] = {"type": concept(codes.COVERAGE_CLASS, "group"), "value": sbr.get(3) or sbr.get(4)}
        if sbr.get(4):
            cls["name"] = sbr.get(4)
        cov["class"] = [cls]
    if sbr.get(1) in codes.PAYER_SEQUENCE:
        cov["order"] = codes.PAYER_SEQUENCE[sbr.get(1)]
    return cov


def add_other_payers(claim: Resource, segs: list[Seg], ctx: MappingContext, patient: Resource,
                     coverage: Resource, out: list[Resource]) -> None:
    """Add the claim's 2320 other payers to ``claim["insurance"]`` (renumbered in SBR01 order) and
    their 2430 line adjudications to ``claim["item"]``; the Coverages, payers and other subscribers
    they name are appended to ``out``."""
    others = _collect(segs, ctx)
    if not others:
        return
    focal = claim["insurance"][0]
    entries: list[tuple[int, dict[str, Any], str]] = [(int(coverage.get("order", 1)), focal, "")]
    for other in others:
        if other.payer_nm1 is None:
            ctx.problem("the other payer (2320 SBR) has no 2330B NM1*PR other payer name; it is left out", "2330B NM1")
            continue
        n3, n4 = other.payer_loop
        payer = payer_organization(ctx, other.payer_id, other.payer_nm1.get(3), address(n3, n4))
        cov = _coverage(other, ctx, patient, payer, out)
        out += [payer, cov]
        entry: dict[str, Any] = {"sequence": 0, "focal": False, "coverage": ref(cov)}
        if other.adjudication:
            entry["extension"] = [as_extension(a) for a in other.adjudication]
        entries.append((codes.PAYER_SEQUENCE.get(other.sbr.get(1), 99), entry, other.payer_id))
    entries.sort(key=lambda e: e[0])  # stable: the claim's own payer first among equals
    by_payer: dict[str, int] = {}
    for n, (_, entry, payer_id) in enumerate(entries, start=1):
        entry["sequence"] = n
        if payer_id:
            by_payer.setdefault(payer_id, n)
    claim["insurance"] = [e for _, e, _ in entries]
    _line_adjudications(claim, segs, ctx, by_payer)


def _line_adjudications(claim: Resource, segs: list[Seg], ctx: MappingContext, by_payer: dict[str, int]) -> None:
    """2430 SVD (+ CAS) → the EXT_ADJUDICATION extensions of the line they follow."""
    items: list[dict[str, Any]] = claim.get("item", [])
    line = -1
    insurance: int | None = None
    for s in segs:
        sid, loop = s.e[0], s.loop
        if sid == "LX" and loop == "2400":
            line += 1
        elif loop != "2430" or not 0 <= line < len(items):
            continue
        elif sid == "SVD":
            insurance = by_payer.get(s.get(1))
            if insurance is None:
                ctx.problem("SVD01 names no other payer of this claim (2330B NM109); the line adjudication "
                            "is kept without its payer", "2430 SVD01")
            adj = amount_adjudication(codes.CAS_PRIOR_PAYER, s.get(2), ctx, "2430 SVD02")
            if adj is not None:
                items[line].setdefault("extension", []).append(as_extension(adj, insurance))
        elif sid == "CAS":
            items[line].setdefault("extension", []).extend(as_extension(a, insurance)
                                                           for a in cas_adjudications(s, ctx))
