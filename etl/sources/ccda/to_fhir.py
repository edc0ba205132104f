"""A C-CDA document → FHIR R4 resources: header first, then section by section.

Entries are dispatched on their clinical-statement templateId (:data:`codes.ENTRY_TEMPLATES`); an
entry whose template we do not know is tried by its section's kind and element name
(:data:`codes.SECTION_FALLBACK`), so C-CDA R1.1 and vendor templates still convert where the shape
is the standard one; anything else is left in the narrative only.

A section is all-or-nothing: if one of its entries cannot be read, none of its resources are kept,
its narrative stays in the Composition, and a :class:`MappingError` naming the file, document id and
section is appended to ``Document.broken`` — the Source yields it as an error record of its own,
while the rest of the document converts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from etl.config import Strictness
from etl.errors import InputError, Location, MappingError
from etl.fhir.context import MappingContext
from etl.sources.ccda import codes
from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import Json, codeable
from etl.sources.ccda.model import (
    Document,
    Element,
    EntryOutcome,
    attr,
    find,
    findall,
    local,
    related,
    statement,
    template_ids,
    text,
)
from etl.sources.ccda.narrative import to_xhtml
from etl.sources.ccda.to_fhir_clinical import (
    Refs,
    to_fhir_allergy_concern,
    to_fhir_allergy_intolerance,
    to_fhir_condition,
    to_fhir_encounter_activity,
    to_fhir_health_concern,
    to_fhir_immunization,
    to_fhir_medication_activity,
    to_fhir_problem_concern,
    to_fhir_procedure,
)
from etl.sources.ccda.to_fhir_document import document_type, to_fhir_composition, to_fhir_document_reference
from etl.sources.ccda.to_fhir_header import to_fhir_encompassing_encounter, to_fhir_patient, to_fhir_related_person
from etl.sources.ccda.to_fhir_observations import (
    to_fhir_family_history,
    to_fhir_finding,
    to_fhir_goal,
    to_fhir_nutrition,
    to_fhir_result_observation,
    to_fhir_result_organizer,
    to_fhir_social_history,
    to_fhir_status_observation,
    to_fhir_status_organizer,
    to_fhir_vital_sign,
    to_fhir_vital_signs,
)
from etl.sources.ccda.to_fhir_plan import (
    to_fhir_care_plan,
    to_fhir_consent,
    to_fhir_coverage_activity,
    to_fhir_device_organizer,
    to_fhir_note,
    to_fhir_planned_medication,
    to_fhir_service_request,
    to_fhir_supply,
)

log = logging.getLogger(__name__)
Handler = Callable[[Element, DocumentBuilder], Refs]

ENTRY_HANDLERS: dict[str, Handler] = {
    "allergy-concern": to_fhir_allergy_concern,
    "allergy": lambda el, b: to_fhir_allergy_intolerance(el, b),
    "problem-concern": lambda el, b: to_fhir_problem_concern(el, b),
    "problem": lambda el, b: to_fhir_condition(el, b),
    "health-concern": to_fhir_health_concern,
    "medication": to_fhir_medication_activity,
    "planned-medication": to_fhir_planned_medication,
    "immunization": to_fhir_immunization,
    "result-organizer": to_fhir_result_organizer,
    "result": to_fhir_result_observation,
    "vital-organizer": to_fhir_vital_signs,
    "vital": to_fhir_vital_sign,
    "procedure": to_fhir_procedure,
    "encounter": to_fhir_encounter_activity,
    "social": to_fhir_social_history,
    "planned": to_fhir_service_request,
    "goal": to_fhir_goal,
    "status-organizer": to_fhir_status_organizer,
    "status": to_fhir_status_observation,
    "supply": to_fhir_supply,
    "device-organizer": to_fhir_device_organizer,
    "coverage-act": to_fhir_coverage_activity,
    "note": to_fhir_note,
    "family-history": to_fhir_family_history,
    "advance-directive": to_fhir_consent,
    "nutrition": to_fhir_nutrition,
    "finding": to_fhir_finding,
    # Discharge Medication (.4.35) / Admission Medication (.4.36) acts wrap Medication Activities.
    "discharge-medication": lambda el, b: [
        r for sa in related(el) if sa.tag.endswith("}substanceAdministration")
        for r in to_fhir_medication_activity(sa, b)],
    "advance-directive-organizer": lambda el, b: [
        r for st in related(el, None, "component") if st.tag.endswith("}observation") for r in to_fhir_consent(st, b)],
}
# Errors in a section's content that mean "this section cannot be read" rather than a bug to crash on.
_UNREADABLE = (InputError, ValueError, TypeError, AttributeError, KeyError, IndexError)


def section_kind(section: Element) -> str:
    """The section's kind from its templateId, else its LOINC code ('' when unknown)."""
    for t in template_ids(section):
        if t in codes.SECTION_TEMPLATES:
            return codes.SECTION_TEMPLATES[t]
    return codes.SECTION_CODES.get(attr(find(section, "code"), "code"), "")


def section_label(section: Element) -> str:
    """How an error names a section: title, templateId and LOINC code (no patient data)."""
    title = text(find(section, "title")) or "(untitled)"
    tids = ", ".join(t for t in template_ids(section) if t) or "none"
    code = attr(find(section, "code"), "code") or "none"
    return f"section {title!r} (templateId {tids}; code {code})"


def handler_for(st: Element, kind: str) -> Handler | None:
    """The mapper of one clinical statement: by templateId, else by (section kind, element)."""
    for t in template_ids(st):
        name = codes.ENTRY_TEMPLATES.get(t)
        if name:
            return ENTRY_HANDLERS[name]
    name = codes.SECTION_FALLBACK.get((kind, local(st)))
    return ENTRY_HANDLERS[name] if name else None


def _section_head(section: Element, b: DocumentBuilder) -> Json:
    """``Composition.section`` title and code from the section's ``title`` and ``code``."""
    out: Json = {}
    title = text(find(section, "title"))
    if title:
        out["title"] = title
    cc = codeable(find(section, "code"), b.doc)
    if cc:
        out["code"] = cc
    return out


def map_section(section: Element, b: DocumentBuilder, place: str = "1") -> Json:
    """One ``section`` (and its subsections) → a ``Composition.section``; its entries' resources go
    into ``b``. Raises what a broken entry raises; the caller decides what that costs.

    Every ``entry`` ends as resources or as a warning naming the section (its ordinal ``place`` in
    the body, LOINC code) and the entry (ordinal, element, templateIds): never silently. Each
    outcome is also logged in ``Document.entries`` (what the tests count)."""
    kind = section_kind(section)
    b.section_kind = kind
    out = _section_head(section, b)
    entries: Refs = []
    code = attr(find(section, "code"), "code") or "none"
    for n, entry in enumerate(findall(section, "entry"), start=1):
        st = statement(entry)
        handler = handler_for(st, kind) if st is not None else None
        refs = handler(st, b) if handler is not None else []
        if refs:
            b.doc.entries.append(EntryOutcome(place, code, n, tuple(refs), ""))
        else:
            why = unmapped_reason(st, handler is not None)
            b.doc.entries.append(EntryOutcome(place, code, n, (), why))
            tids = ", ".join(t for t in template_ids(st) if t) or "none"
            element = local(st) if st is not None else "no clinical statement"
            b.note(f"section {place} (LOINC {code}), entry {n} ({element}, templateId {tids}): {why}; "
                   "it stays in the section narrative only")
        for ref in refs:
            if ref not in entries:
                entries.append(ref)
    div = to_xhtml(find(section, "text")) if find(section, "text") is not None else None
    if div:
        out["text"] = {"status": "additional", "div": div}
    if entries:
        out["entry"] = entries
    subs = []
    for i, comp in enumerate(findall(section, "component/section"), start=1):
        subs.append(map_section(comp, b, f"{place}.{i}"))
        b.section_kind = kind
    if subs:
        out["section"] = subs
    if not div and not entries and not subs:
        _empty(out, section)
    return out


def unmapped_reason(st: Element | None, had_handler: bool) -> str:
    """Why an entry gave no resource (no data, only spec names)."""
    if st is None:
        return "the entry holds no clinical statement"
    for t in template_ids(st):
        if t in codes.UNMAPPED_ENTRIES:
            return codes.UNMAPPED_ENTRIES[t]
    if find(st, "reference/externalDocument") is not None and len(findall(st, "entryRelationship")) == 0:
        return "the entry only refers to another document (reference/externalDocument), not part of this one"
    if had_handler:
        return "the entry holds nothing its mapper converts (no allergy, problem or value inside)"
    return "no mapping for this entry template"


def _empty(out: Json, section: Element) -> None:
    """cmp-1 wants text, entries or sub-sections, and ``emptyReason`` alone does not satisfy it
    (HAPI checks the invariant): say why it is empty, and give a one-line narrative saying so."""
    reason = "nilknown" if attr(section, "nullFlavor") == "NI" else "unavailable"
    out["emptyReason"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                                      "code": reason}]}
    words = "No information" if reason == "nilknown" else "Section content unavailable"
    out["text"] = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{words}</p></div>'}


def to_fhir(doc: Document, ctx: MappingContext, *, embed_document: bool = True) -> list[dict[str, Any]]:
    """All resources of one document; raises :class:`InputError` when the header is unusable."""
    b = DocumentBuilder(doc, ctx)
    where = f"document {doc.doc_id_text}"
    role = find(doc.root, "recordTarget/patientRole")
    if role is None:
        raise MappingError("the document has no recordTarget/patientRole (US Realm Header requires one)",
                           Location(doc.file, where, "recordTarget"))
    to_fhir_patient(role, b)
    for part in findall(doc.root, "participant"):
        if find(part, "associatedEntity") is not None and attr(find(part, "associatedEntity"), "classCode") in (
                "NOK", "ECON", "GUARD", "CAREGIVER", "PRS", "AGNT"):
            to_fhir_related_person(find(part, "associatedEntity"), b)
    enc = find(doc.root, "componentOf/encompassingEncounter")
    if enc is not None:
        to_fhir_encompassing_encounter(enc, b)

    sections: list[Json] = []
    for place, section in enumerate(findall(doc.root, "component/structuredBody/component/section"), start=1):
        part_b = b.fork()
        logged = len(doc.entries)
        try:
            sections.append(map_section(section, part_b, str(place)))
        except _UNREADABLE as exc:
            reason = exc.message if isinstance(exc, InputError) else f"unexpected structure ({type(exc).__name__})"
            expression = exc.location.expression if isinstance(exc, InputError) and exc.location else None
            err = MappingError(f"the section could not be read: {reason}",
                               Location(doc.file, f"{where}, {section_label(section)}", expression),
                               code=exc.code if isinstance(exc, InputError) else "structure",
                               quoted=exc.quoted if isinstance(exc, InputError) else None)
            doc.broken.append(err)
            del doc.entries[logged:]  # the section's error record accounts for its entries
            part_b.drop_notes()
            fallback = map_section_narrative_only(section, b)
            sections.append(fallback)
            continue
        b.merge(part_b)

    if ctx.strictness is not Strictness.IGNORE:
        ctx.warnings += b.notes
    composition = to_fhir_composition(b, sections)
    b.add(composition)
    b.add(to_fhir_document_reference(b, composition, embed_document))
    if document_type(doc.root) == "Care Plan":
        to_fhir_care_plan(b, composition)
    return list(b.resources.values())


def map_section_narrative_only(section: Element, b: DocumentBuilder) -> Json:
    """The Composition.section of a section whose entries failed: title, code and narrative only."""
    out = _section_head(section, b)
    div = to_xhtml(find(section, "text")) if find(section, "text") is not None else None
    if div:
        out["text"] = {"status": "additional", "div": div}
    else:
        _empty(out, section)
    return out
