"""One parsed C-CDA document and namespace-aware access to its elements.

CDA elements live in the ``urn:hl7-org:v3`` namespace (``sdtc:`` extensions in ``urn:hl7-org:sdtc``).
Paths here are written without prefixes (``"recordTarget/patientRole/patient/name"``) and resolved in
the v3 namespace; ``sdtc:`` steps name the SDTC namespace (``"patient/sdtc:deceasedInd"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from etl.errors import MappingError

V3_NS = "urn:hl7-org:v3"
SDTC_NS = "urn:hl7-org:sdtc"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

Element = Any  # lxml.etree._Element (lxml ships no type stubs)


@lru_cache(maxsize=1024)
def q(path: str) -> str:
    """``"a/sdtc:b"`` → ``"{urn:hl7-org:v3}a/{urn:hl7-org:sdtc}b"`` (an lxml ElementPath)."""
    steps = []
    for step in path.split("/"):
        if step in (".", "..", "*", ""):
            steps.append(step)
        elif step.startswith("sdtc:"):
            steps.append(f"{{{SDTC_NS}}}{step[5:]}")
        else:
            steps.append(f"{{{V3_NS}}}{step}")
    return "/".join(steps)


def find(el: Element | None, path: str) -> Element | None:
    """The first element at ``path`` under ``el``, or None."""
    return None if el is None else el.find(q(path))


def findall(el: Element | None, path: str) -> list[Element]:
    """All elements at ``path`` under ``el``."""
    return [] if el is None else el.findall(q(path))


def attr(el: Element | None, name: str) -> str:
    """An attribute's value, stripped; '' when the element or attribute is absent."""
    if el is None:
        return ""
    value = el.get(name)
    return value.strip() if value else ""


def text(el: Element | None) -> str:
    """All text inside ``el``, whitespace-collapsed."""
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def local(el: Element) -> str:
    """The element's local name (``observation``)."""
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def template_ids(el: Element | None) -> list[str]:
    """The ``templateId/@root`` values of ``el``."""
    return [attr(t, "root") for t in findall(el, "templateId")]


def is_null(el: Element | None) -> bool:
    """True when the element is absent or carries a ``nullFlavor``."""
    return el is None or bool(el.get("nullFlavor"))


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one section ``entry``: the References it gave, or why it gave none (then a
    warning says so). ``section`` is the section's ordinal place in the body (``3``, ``3.1``)."""

    section: str
    section_code: str
    entry: int
    refs: tuple[dict[str, str], ...]
    unmapped: str


@dataclass
class Document:
    """One ``ClinicalDocument``; ``broken`` collects section errors found while mapping it (the
    Source yields them as extra error units after the document's own unit)."""

    file: str
    root: Element
    index: int = 0
    source_bytes: bytes | None = None
    broken: list[MappingError] = field(default_factory=list)
    entries: list[EntryOutcome] = field(default_factory=list)
    # SHA-256 (hex) of the document's canonical XML (C14N), set by the reader: tells a re-sent copy
    # from another document under the same id.
    digest: str = ""
    # The key its ids are made from when the Source chose one (a colliding id: see ``id_parts``).
    key_override: tuple[str, ...] | None = None
    _ids: dict[str, Element] | None = None

    @property
    def doc_id(self) -> tuple[str, str]:
        """``ClinicalDocument/id`` as (root, extension): the document's identity (not PHI)."""
        el = find(self.root, "id")
        return attr(el, "root"), attr(el, "extension")

    @property
    def doc_id_text(self) -> str:
        root, ext = self.doc_id
        return f"{root}^{ext}" if ext else root or "<no id>"

    @property
    def set_id(self) -> tuple[str, str] | None:
        """``ClinicalDocument/setId`` as (root, extension): what stays the same across versions."""
        el = find(self.root, "setId")
        root = attr(el, "root")
        return (root, attr(el, "extension")) if root else None

    @property
    def version(self) -> int | None:
        """``ClinicalDocument/versionNumber/@value`` (an integer, CDA INT), None when absent or not one."""
        value = attr(find(self.root, "versionNumber"), "value")
        return int(value) if value.isdigit() else None

    @property
    def replaces(self) -> list[tuple[str, str]]:
        """``relatedDocument[@typeCode="RPLC"]/parentDocument/id``: the documents this one replaces."""
        out = []
        for rel in findall(self.root, "relatedDocument"):
            if attr(rel, "typeCode") == "RPLC":
                el = find(rel, "parentDocument/id")
                if attr(el, "root"):
                    out.append((attr(el, "root"), attr(el, "extension")))
        return out

    @property
    def id_parts(self) -> tuple[str, ...]:
        """The business key of the document's Composition and DocumentReference (and of entries
        without an ``id``): ``setId`` when present, so every version of a document is one
        Composition and a new version replaces the earlier one (FHIR: Composition.identifier is
        version-independent); else ``ClinicalDocument/id``. The Source overrides it for a document
        that collides with another one under the same identity (:mod:`etl.sources.ccda.identity`)."""
        if self.key_override is not None:
            return self.key_override
        set_id = self.set_id
        return ("setId", *set_id) if set_id else self.doc_id

    def by_id(self, ref: str) -> Element | None:
        """The narrative element whose ``ID`` is ``ref`` (``#x`` or ``x``), for ``reference/@value``."""
        if self._ids is None:
            self._ids = {}
            for el in self.root.iter():
                i = el.get("ID") if isinstance(el.tag, str) else None
                if i:
                    self._ids.setdefault(i, el)
        return self._ids.get(ref.lstrip("#"))


STATEMENTS = ("act", "observation", "organizer", "substanceAdministration", "supply", "procedure",
              "encounter", "observationMedia", "regionOfInterest")


def first_of(el: Element | None, *paths: str) -> Element | None:
    """The first of ``paths`` that exists under ``el`` (lxml elements must not be used with ``or``:
    their truth value is their child count)."""
    for path in paths:
        found = find(el, path)
        if found is not None:
            return found
    return None


def statement(container: Element | None) -> Element | None:
    """The clinical statement inside an ``entry``/``entryRelationship``/``component``."""
    if container is None:
        return None
    for child in container:
        if isinstance(child.tag, str) and local(child) in STATEMENTS:
            return child
    return None


def related(el: Element | None, template: str | None = None, path: str = "entryRelationship") -> list[Element]:
    """The statements under ``el``'s ``entryRelationship`` (or ``component``), optionally only those
    declaring ``template``."""
    out = []
    for rel in findall(el, path):
        st = statement(rel)
        if st is not None and (template is None or template in template_ids(st)):
            out.append(st)
    return out


def negated(el: Element | None) -> bool:
    """``@negationInd="true"``: the act did not happen / the observation is not so."""
    return attr(el, "negationInd") == "true"


def status_code(el: Element | None) -> str:
    """``statusCode/@code`` (ActStatus), '' when absent."""
    return attr(find(el, "statusCode"), "code")


def require(el: Element, path: str, what: str) -> Element:
    """The element at ``path``, or :class:`MappingError` naming it (CDA makes it mandatory)."""
    found = find(el, path)
    if found is None:
        raise MappingError(f"{what} has no {path} element, which CDA requires",
                           code="required").at_expression(f"{local(el)}/{path}")  # type: ignore[misc]
    return found
