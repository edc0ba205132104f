"""C-CDA as a :class:`etl.sources.base.Source`.

Config fields read when present (``getattr``, so older :class:`JobConfig` versions work):
``ccda_max_bytes`` (document size limit, default 50 MiB) and ``ccda_embed_document`` (put the CDA
XML in the document's DocumentReference, default True).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl.config import JobConfig, Strictness
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.ccda.identity import DocumentIdentities, identity
from etl.sources.ccda.model import Document
from etl.sources.ccda.parse import read_documents
from etl.sources.ccda.to_fhir import to_fhir
from etl.sources.encoding import utf8_head
from etl.state.documents import ConvertedDocument
from etl.state.store import StateStore, now


class CcdaSource:
    """C-CDA R1.1/R2.1 documents (``ClinicalDocument`` XML); one unit per document, plus one error
    unit per section that could not be read.

    Each document's identity is checked before it maps (:mod:`etl.sources.ccda.identity`): a copy
    already read in this run or loaded by an earlier one is skipped visibly, a new version of a set
    supersedes the earlier Composition, an older version is skipped, and another document under a
    used id is converted apart with a warning naming both files. With a run-state database
    (``state``) this holds across runs: what a run converted is recorded by :meth:`finish`, after
    its output is published; only the load step marks it loaded. One object serves one run.
    """

    name = "ccda"
    stateful = True  # takes the run-state database (registry.new_source)

    def __init__(self, state: StateStore | None = None) -> None:
        self.state = state
        self._identities = DocumentIdentities(state)
        # converted in this run, to record at finish: (doc id, digest) -> entry
        self._converted: dict[tuple[tuple[str, str], str], ConvertedDocument] = {}
        self._dirty: set[tuple[tuple[str, str], str]] = set()

    def sniff(self, head: bytes) -> bool:
        body = utf8_head(head).lstrip()
        if not body.startswith(b"<"):
            return False
        return b"ClinicalDocument" in body or b"urn:hl7-org:v3" in body

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Document]]:
        for unit in read_documents(path, config):
            doc = unit.record
            if doc is not None:
                verdict = self._identities.verdict(doc, path.name, config.run_id)
                if verdict.skip:
                    yield Unit(unit.location, skip=True, note=verdict.skip, skip_detail=verdict.detail)
                    continue
                doc.key_override = verdict.id_key if verdict.id_key != doc.id_parts else None
                if config.strictness is not Strictness.IGNORE:
                    unit.warnings += verdict.warnings
                ident = identity(doc)
                self._converted[(ident.doc_id, ident.digest)] = ConvertedDocument(ident, doc.id_parts, True, path.name)
            yield unit

    def to_fhir(self, record: Document, ctx: MappingContext, config: JobConfig) -> list[dict[str, Any]]:
        resources = to_fhir(record, ctx, embed_document=config.ccda_embed_document)
        if record.broken:  # a section became an error record: the document is not wholly converted
            self._dirty.add((record.doc_id, record.digest))
        return resources

    def rejected(self, record: Document) -> None:
        """The document failed to map: recorded as not complete, so it is never marked loaded."""
        self._dirty.add((record.doc_id, record.digest))

    def finish(self, config: JobConfig, out_dir: Path) -> None:
        """Record what this run converted into ``out_dir`` (after it was published) as
        ``converted``; the load step marks it ``loaded`` once the server has it."""
        converted, dirty = self._converted, self._dirty
        self._converted, self._dirty = {}, set()
        if self.state is None or not converted:
            return
        entries = [ConvertedDocument(e.identity, e.id_key, key not in dirty, e.file) for key, e in converted.items()]
        self.state.documents.record_converted(entries, config.run_id or str(out_dir.resolve()),
                                              str(out_dir.resolve()), config.transaction_time or now())
