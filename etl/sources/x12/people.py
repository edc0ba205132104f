"""Patient ids of the people an 834 or 837 names, so that two different people are never merged.

Identity rule (both TR3s, 005010X220A1 and 005010X222A1 / X223A2 / X224A2):

- a **subscriber** (834 INS01 = Y with REF*0F; 837 2010BA NM109) is keyed by payer id + member id
  alone, the key the 835 and the 834 can compute too (:func:`etl.sources.x12.common.patient_id`);
- a **dependent** (834 INS01 = N; 837 2000C / 2010CA) is keyed by the subscriber's member id plus its
  own last name, first (and middle) name and birth date: a dependent is its own Patient.

A member id names one subscriber. When one unit (a transaction set, or one part of a split one)
names two subscribers under one member id whose names or birth dates differ, they are two people:
the first keeps the member key, the later one gets the dependent-style key of its own name and birth
date, and a warning names the key's spec path (never the values). A value the source leaves out
(no DMG segment) is not a difference. Within one unit only: units are mapped apart, so a conflict
across files is not seen here.
"""

from __future__ import annotations

from etl.fhir.context import MappingContext
from etl.sources.x12.common import Resource, patient_id

Person = tuple[str, str, str]  # last name, first (+ middle) name, birth date (CCYY-MM-DD or "")


def person_of(patient: Resource) -> Person:
    """(last name, given names, birth date) of a mapped Patient, upper-cased (the key's form)."""
    name = (patient.get("name") or [{}])[0]
    return (str(name.get("family", "")).upper(), " ".join(name.get("given", [])).upper(),
            str(patient.get("birthDate", "")))


def _differs(a: str, b: str) -> bool:
    return bool(a) and bool(b) and a != b


class People:
    """The subscribers seen in one unit, by member key, and the Patient id each was given."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Person] = {}
        self._ids: dict[tuple[str, str], str] = {}

    def subscriber_id(self, ctx: MappingContext, payer: str, member: str, person: Person, path: str) -> str:
        """The Patient id of the subscriber ``person`` under ``payer`` + ``member`` (``path`` names the
        member id element, e.g. ``2010BA NM109`` or ``2000 REF*0F``)."""
        key = (payer, member)
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = person
            pid = patient_id(ctx, payer, member)
            self._ids[key] = pid
            return pid
        if not any(_differs(a, b) for a, b in zip(first, person, strict=True)):
            return patient_id(ctx, payer, member)
        ctx.problem("two subscribers with a different name (NM103/NM104) or birth date (DMG02) share this member "
                    "id; the later one is kept as its own Patient, keyed by its own name and birth date", path)
        return patient_id(ctx, payer, member, person)

    def subscriber_ref(self, ctx: MappingContext, payer: str, member: str) -> dict[str, str]:
        """A reference to the subscriber of ``member``: the one seen in this unit, else the member key's."""
        pid = self._ids.get((payer, member)) or patient_id(ctx, payer, member)
        return {"reference": f"Patient/{pid}"}
