"""Per-document mapping state: the patient, the resources made so far, and id rules.

Ids are deterministic (:mod:`etl.fhir.ids`): an entry with an ``id`` is keyed on its
``root``/``extension``, so the same entry in two documents becomes one resource; an entry without
one is keyed on the document's key (:attr:`Document.id_parts`: its setId, else its id) and its
position in the document (stable for a re-run of the same document; a later version of the
document replaces it, and it is never shared with another document).
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.fhir.ids import reference
from etl.sources.ccda.datatypes import Json, id_key
from etl.sources.ccda.model import Document, Element


class DocumentBuilder:
    """Collects the resources of one document, first writer wins for a repeated (type, id)."""

    def __init__(self, doc: Document, ctx: MappingContext) -> None:
        self.doc = doc
        self.ctx = ctx
        self.resources: dict[tuple[str, str], Json] = {}
        self.patient_ref: dict[str, str] = {}
        self.encounter_ref: dict[str, str] | None = None
        self.section_kind = ""
        # Warnings about entries that gave no resource: they reach the context (and the unit's
        # warning record) only if their section maps, since a broken section is an error record.
        self.notes: list[str] = []
        # id -> signature of the element it was made from: tells a repeated entry (same id, same
        # content: one resource) from an id a sender reused for a different entry.
        self._owners: dict[str, tuple[tuple[str, str, str], ...]] = {}

    def key_id(self, resource_type: str, el: Element | None, *qualifier: str) -> str:
        """The id of the resource made from ``el``: its ``id`` when it has one, else its position."""
        key = id_key(el) if el is not None else None
        parts = self.doc.id_parts
        if key is not None and el is not None:
            rid = self.ctx.make(resource_type, *key, *qualifier)
            sig = _signature(el)
            seen = self._owners.setdefault(rid, sig)
            if seen == sig:
                return rid
            self.ctx.problem(f"the same id is used for two different {resource_type} entries in one document; "
                             "the second is kept as a separate resource", "id")
            path = el.getroottree().getpath(el)
            return self.ctx.make(resource_type, *key, *qualifier, "document", *parts, path)
        path = el.getroottree().getpath(el) if el is not None else ""
        return self.ctx.make(resource_type, "document", *parts, path, *qualifier)

    def add(self, resource: Json) -> dict[str, str]:
        """Keep ``resource`` (unless one with its type and id is already kept: see :func:`_keep`); its
        Reference."""
        rtype, rid = resource["resourceType"], resource["id"]
        _keep(self.resources, (rtype, rid), resource)
        return reference(rtype, rid)

    def has(self, resource_type: str, rid: str) -> bool:
        return (resource_type, rid) in self.resources

    def fork(self) -> DocumentBuilder:
        """A builder for one section: merged with :meth:`merge` only if the whole section maps."""
        child = DocumentBuilder(self.doc, self.ctx)
        child.patient_ref = self.patient_ref
        child.encounter_ref = self.encounter_ref
        child.resources = {}
        child.notes = []
        child._owners = self._owners
        child._parent = self  # type: ignore[attr-defined]
        return child

    def merge(self, child: DocumentBuilder) -> None:
        for key, res in child.resources.items():
            _keep(self.resources, key, res)
        self.notes += child.notes

    def note(self, message: str) -> None:
        """A warning of this document that no strictness turns into a rejection (an entry we do
        not convert is a limit of the mapping, not an error in the data); ``ignore`` drops it."""
        self.notes.append(message)

    def drop_notes(self) -> None:
        self.notes = []

    def lookup(self, resource_type: str, rid: str) -> Json | None:
        """The resource kept by this builder or the document's builder, if any."""
        parent: Any = getattr(self, "_parent", None)
        found = self.resources.get((resource_type, rid))
        if found is None and parent is not None:
            found = parent.resources.get((resource_type, rid))
        return found

    def known(self, resource_type: str, rid: str) -> bool:
        """True if this builder or the document's builder already holds the resource."""
        parent: Any = getattr(self, "_parent", None)
        return self.has(resource_type, rid) or (parent is not None and parent.has(resource_type, rid))


def _signature(el: Element) -> tuple[tuple[str, str, str], ...]:
    """What makes two elements with one id the same entry: their codes, values and times."""
    out = []
    for d in el.iter():
        tag = d.tag if isinstance(d.tag, str) else ""
        name = tag.rsplit("}", 1)[-1]
        if name in ("code", "value", "low", "high", "effectiveTime"):
            out.append((name, d.get("code") or "", d.get("value") or ""))
    return tuple(out)


# People and organizations are often named in full once (the header) and by id alone elsewhere
# (``<assignedAuthor><id …/></assignedAuthor>``), and an Encounter Activity may repeat the header's
# encounter: the fuller record of one id wins, whatever the order.
_FULLER_WINS = frozenset({"Practitioner", "Organization", "Encounter"})


def _keep(kept: dict[tuple[str, str], Json], key: tuple[str, str], resource: Json) -> None:
    old = kept.get(key)
    if old is None or (key[0] in _FULLER_WINS and _size(resource) > _size(old)):
        kept[key] = resource


def _size(resource: Json) -> int:
    return sum(len(v) if isinstance(v, list) else 1 for v in resource.values())
