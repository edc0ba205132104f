"""Claim-level rejection, as a 277CA does it, and the integrity checks of one claim.

The smallest unit an X12 defect rejects (ASC X12N 005010X214 277CA: claim-level acknowledgment):

- 837 (X222A1 / X223A2 / X224A2): one claim, its 2300 loop and below (2310x, 2320/2330, 2400 and
  their children). Its CLM01 patient control number is quoted in the error record;
- 835 (X221A1): one claim payment, its CLP 2100 loop and the 2110 service payments under it (CLP01);
- 834 (X220A1): one member, its INS 2000 loop and below (REF*0F subscriber identifier), and the
  dependents that follow a rejected subscriber (their Coverage names it as subscriber).

A defect there (a required element missing or invalid, a structure problem the reader found inside
the claim, a number that cannot be kept exactly, CLM02 that does not balance) rejects that claim:
its resources are not written, its error record names ISA13/GS06/ST02, the claim's ordinal in the
transaction set and its segment position, and the mapper goes on with its siblings. What every
claim under it depends on (envelope, BHT header, 1000A/B, the 2000A/2010AA billing provider, and
the HL loop structure the reader checks) still rejects the transaction set; a subscriber (2010BA)
without a member id rejects each claim under that subscriber, each with its own record.
"""

from __future__ import annotations

import copy
import logging

from etl.errors import FhirflowError, InputError, InternalError, Location, MappingError
from etl.fhir.context import MappingContext
from etl.fhir.datatypes import parse_decimal
from etl.sources.x12.model import Seg, Transaction

log = logging.getLogger(__name__)

# 2400 service line segment -> element of its line item charge amount (SV102, SV203, SV302)
LINE_CHARGE = {"SV1": 2, "SV2": 3, "SV3": 2}


def check_faults(tx: Transaction, body: Seg) -> None:
    """Raise the structure problem the reader found inside the claim that starts at ``body``."""
    fault = tx.faults.get(body.n)
    if fault is not None:
        raise fault


def reject_claim(
    ctx: MappingContext, tx: Transaction, exc: Exception, body: Seg, ordinal: int, key_path: str, key: str,
) -> None:
    """Record the claim that starts at ``body`` (the ``ordinal``-th of its transaction set) as
    rejected for ``exc``, with its ``key`` (CLM01, CLP01, REF*0F) quoted for the error record.

    ``exc`` that is not an :class:`InputError` is a fhirflow bug on this claim: an ``exception``
    record (:class:`InternalError`), logged without its text. Machine faults are re-raised.
    """
    if isinstance(exc, (OSError, MemoryError)) or (isinstance(exc, FhirflowError) and not isinstance(exc, InputError)):
        raise exc
    if isinstance(exc, InputError):
        # a copy: one error may stand for several claims (a subscriber's), or a unit be mapped again
        err = copy.copy(exc)
        err.quoted = dict(exc.quoted)
    else:
        err = InternalError.from_exception(exc, "mapping this claim")
        log.error("internal error in %s: %s", tx.env.file, err.message)
    noun = "member" if tx.kind == "834" else "claim"
    base = tx.env.where()
    where = f"{base}, {noun} {ordinal} ({body.e[0]} at segment {body.n})"
    loc = err.location
    detail = loc.where if loc is not None else ""
    if detail.startswith(base):
        detail = detail[len(base):].lstrip(", ")
    if detail and detail != f"segment {body.n} ({body.e[0]})":
        where += f", {detail}"
    err.location = Location(tx.env.file, where, loc.expression if loc is not None else None)
    err.quote(key_path, key)
    ctx.reject(err)


def check_charges(tx: Transaction, segs: list[Seg]) -> None:
    """CLM02 total claim charge = the sum of the line item charges (SV102 / SV203 / SV302), compared
    as exact decimals (the 837 TR3s: "the total claim charge amount must balance to the sum of the
    service line charge amounts"). A claim that lost a service line in transit does not balance."""
    clm = segs[0]
    total = parse_decimal(clm.get(2))
    if total is None:
        return  # the mapper rejects a CLM02 that is not a number
    line_sum = parse_decimal("0")
    assert line_sum is not None
    lines = 0
    for s in segs:
        k = LINE_CHARGE.get(s.e[0])
        if k is None or s.loop != "2400":
            continue
        lines += 1
        charge = parse_decimal(s.get(k))
        if charge is None:
            raise MappingError(f"{s.e[0]}{k:02d} line item charge amount of service line {lines} is missing or not "
                               "a number: CLM02 cannot be balanced", tx.env.location(s, f"{s.e[0]}{k:02d}"),
                               code="value").quote(f"{s.e[0]}{k:02d}", s.get(k))
        line_sum += charge
    if lines and line_sum != total:
        name = {"837I": "SV203", "837D": "SV302"}.get(tx.kind, "SV102")
        raise MappingError(
            f"CLM02 total claim charge does not equal the sum of the {lines} service line charge(s) ({name}): "
            "a service line may have been lost in transit, so the claim is rejected",
            tx.env.location(clm, "CLM02"), code="value").quote("CLM02", clm.get(2)).quote(
            f"sum of {name}", str(line_sum))
