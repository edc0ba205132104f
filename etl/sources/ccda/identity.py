"""A document's identity across files and runs: re-sent copies, new versions, reused ids.

A C-CDA document names itself three ways (CDA R2 §4.2.1): ``ClinicalDocument/id`` (this version),
``setId`` (every version of the document) and ``versionNumber``; a replacement may also say which
document it replaces (``relatedDocument[@typeCode="RPLC"]/parentDocument/id``). The Composition and
DocumentReference ids come from the setId (:attr:`Document.id_parts`), so a new version is the same
resources, and it supersedes the earlier one as an X12 replacement claim does (CLM05-3 = 7: the
same Claim id, the last one written kept, ``summary.superseded`` counting it within a run, an upsert
on the server across runs). What each document is, decided before it is mapped, from the documents
read earlier in this run and the run-state database (:mod:`etl.state.documents`):

============================================  ====================================================
same id and same content (digest)             read earlier in this run: **skipped**, visibly;
                                              loaded by an earlier run: **skipped**, visibly (the
                                              X12 ledger's rule: only what is on the server); only
                                              converted by an earlier run: converted again, with a
                                              warning, onto the same ids
same setId, higher versionNumber              a new version: converted onto the same ids (it
                                              supersedes the earlier Composition), with a warning
                                              naming the version and file it replaces
same setId, lower versionNumber               an older version: **skipped**, visibly (it would
                                              overwrite the newer one)
relatedDocument RPLC of a known document      a replacement: converted onto that document's ids
  without a setId
same id, or same setId and versionNumber,     a collision: converted apart (its key gains its
  with other content                          digest, so neither overwrites the other), with a
                                              warning naming both files: ask the sender
============================================  ====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etl.sources.ccda.model import Document
from etl.state.documents import DocumentIdentity, DocumentRecord
from etl.state.store import StateStore


@dataclass(frozen=True)
class Seen:
    """A document as the verdict compares it: read in this run, or a ledger row."""

    identity: DocumentIdentity
    id_key: tuple[str, ...]
    file: str
    where: str  # "read in this run", "converted by run R", "loaded by run R on T"
    loaded_by: str = ""
    loaded_at: str = ""


@dataclass
class Verdict:
    """What to do with one document: skip it (``skip`` is the note), or map it with ``id_key``."""

    id_key: tuple[str, ...]
    skip: str = ""
    detail: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def identity(doc: Document) -> DocumentIdentity:
    return DocumentIdentity(doc.doc_id, doc.set_id, doc.version, doc.digest)


def _from_row(r: DocumentRecord) -> Seen:
    where = f"loaded by run {r.run_id} on {r.loaded_at}" if r.loaded else f"converted by run {r.run_id}"
    return Seen(r.identity, r.id_key, r.file, where, r.run_id if r.loaded else "", r.loaded_at or "")


class DocumentIdentities:
    """The documents one run has read, and the verdict on each next one (one per C-CDA source)."""

    def __init__(self, state: StateStore | None) -> None:
        self.state = state
        # Documents read in this run, by ClinicalDocument/id and by setId (as the X12 source keeps
        # the interchanges of its run): one small record per document.
        self._by_id: dict[tuple[str, str], list[Seen]] = {}
        self._by_set: dict[tuple[str, str], list[Seen]] = {}

    def _remember(self, seen: Seen) -> None:
        self._by_id.setdefault(seen.identity.doc_id, []).append(seen)
        if seen.identity.set_id is not None:
            self._by_set.setdefault(seen.identity.set_id, []).append(seen)

    def _earlier(self, ident: DocumentIdentity, run_id: str | None) -> list[Seen]:
        here = list(self._by_id.get(ident.doc_id, []))
        if ident.set_id is not None:
            here += [s for s in self._by_set.get(ident.set_id, []) if s.identity.doc_id != ident.doc_id]
        if self.state is None:
            return here
        rows = [r for r in self.state.documents.matching(ident) if r.run_id != run_id or r.loaded]
        return here + [_from_row(r) for r in rows]

    def verdict(self, doc: Document, file: str, run_id: str | None) -> Verdict:
        ident = identity(doc)
        default = doc.id_parts
        earlier = self._earlier(ident, run_id)
        out = Verdict(default)
        versions = [s for s in earlier if ident.set_id and s.identity.set_id == ident.set_id
                    and s.identity.version is not None and s.identity.version != ident.version]
        newest = max(versions, key=lambda s: s.identity.version or 0) if versions else None
        if ident.version is not None and newest is not None and (newest.identity.version or 0) > ident.version:
            out.skip = (f"{ident} is an older version than versionNumber {newest.identity.version} (file "
                        f"{newest.file}, {newest.where}); skipped: the newer version stands")
            out.detail = {"document": str(ident), "file": file, "newer_file": newest.file,
                          "newer_version": str(newest.identity.version)}
            return out
        same = [s for s in earlier if s.identity.doc_id == ident.doc_id and s.identity.digest == ident.digest]
        if same:
            return self._same(same, ident, file)
        if ident.version is not None and versions:
            older = max(versions, key=lambda s: s.identity.version or 0)
            out.warnings.append(f"{ident} is a new version of versionNumber {older.identity.version} (file "
                                f"{older.file}, {older.where}): its Composition supersedes the earlier one "
                                "(same resource ids)")
        elif not ident.set_id:
            for parent in doc.replaces:
                replaced = [s for s in self._by_doc_id(parent, run_id) if s.identity.doc_id != ident.doc_id]
                if replaced:
                    out.id_key = replaced[-1].id_key
                    out.warnings.append(f"{ident} replaces (relatedDocument RPLC) the document of file "
                                        f"{replaced[-1].file} ({replaced[-1].where}): its Composition supersedes "
                                        "the earlier one (same resource ids)")
                    break

        def version_pair(s: Seen) -> bool:
            return (ident.set_id is not None and s.identity.set_id == ident.set_id and ident.version is not None
                    and s.identity.version is not None and s.identity.version != ident.version)

        # Other content under the same ClinicalDocument/id, or under the same key (same setId and
        # versionNumber): the ids would overwrite each other. A new version is not a clash.
        clash = [s for s in earlier if s.identity.digest != ident.digest and not version_pair(s)
                 and (s.identity.doc_id == ident.doc_id or s.id_key == out.id_key)]
        if clash:
            first = clash[0]
            what = ("the same ClinicalDocument/id" if first.identity.doc_id == ident.doc_id
                    else "the same setId and versionNumber")
            if any(s.id_key == out.id_key for s in clash):
                out.id_key = (*out.id_key, "digest", ident.digest[:32])
            out.warnings.append(f"{ident} has {what} as a document with other content (file {first.file}, "
                                f"{first.where}); this one (file {file}) is converted as a separate document: "
                                "ask the sender to keep document ids unique")
        self._remember(Seen(ident, out.id_key, file, "read in this run"))
        return out

    def _same(self, same: list[Seen], ident: DocumentIdentity, file: str) -> Verdict:
        here = next((s for s in same if s.where == "read in this run"), None)
        if here is not None:
            return Verdict(here.id_key, skip=f"{ident} was already read in this run (file {here.file}, the same "
                                             "content); skipped",
                           detail={"document": str(ident), "file": file, "same_as_file": here.file})
        loaded = next((s for s in same if s.loaded_by), None)
        if loaded is not None:
            return Verdict(loaded.id_key, skip=f"{ident} already loaded by run {loaded.loaded_by} on "
                                               f"{loaded.loaded_at} (file {loaded.file}); skipped",
                           detail={"document": str(ident), "file": file, "loaded_by": loaded.loaded_by,
                                   "loaded_at": loaded.loaded_at, "loaded_file": loaded.file})
        first = same[0]
        self._remember(Seen(ident, first.id_key, file, "read in this run"))
        return Verdict(first.id_key, warnings=[
            f"{ident} was {first.where} (file {first.file}) with the same content but is not known to be loaded; "
            "converted again onto the same ids"])

    def _by_doc_id(self, doc_id: tuple[str, str], run_id: str | None) -> list[Seen]:
        here = list(self._by_id.get(doc_id, []))
        if self.state is None:
            return here
        return here + [_from_row(r) for r in self.state.documents.by_doc_id(doc_id) if r.run_id != run_id or r.loaded]
