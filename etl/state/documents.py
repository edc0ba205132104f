"""The C-CDA document ledger: which documents were converted, and which are on the server.

A document is identified by ``ClinicalDocument/id`` **and** a SHA-256 of its canonical XML (C14N),
and carries its ``setId`` and ``versionNumber``: the C-CDA source asks it (:mod:`etl.sources.ccda.identity`)
whether a document is a re-sent copy, a new version of a set already converted (it supersedes the
earlier Composition: same resource ids), an older version, or another document reusing an id (a
warning naming both files; it is kept apart by a key with its digest, recorded here as ``id_key``).

States as in the X12 ledger (:mod:`etl.state.interchanges`): ``converted`` (recorded once the
run's output was published) and ``loaded`` (set only by the load step, after ``$import`` completed
and the server's counts were checked). Only a ``loaded`` copy with the same id and digest is skipped
by a later run; a document with a section that could not be read is recorded with ``complete``
false and never marked loaded, so sending it again converts it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, or_, select

from etl.state.schema import ccda_document as T
from etl.state.tracked import Tracked, forget, mark_loaded

if TYPE_CHECKING:
    from etl.state.store import StateStore


@dataclass(frozen=True)
class DocumentIdentity:
    """What names one C-CDA document: ClinicalDocument/id, setId, versionNumber, and the content digest."""

    doc_id: tuple[str, str]
    set_id: tuple[str, str] | None
    version: int | None
    digest: str

    def __str__(self) -> str:
        text = "ClinicalDocument/id " + "^".join(p for p in self.doc_id if p)
        if self.set_id:
            text += " setId " + "^".join(p for p in self.set_id if p)
        if self.version is not None:
            text += f" versionNumber {self.version}"
        return text


@dataclass(frozen=True, kw_only=True)
class DocumentRecord(Tracked):
    """One row of the ledger."""

    id: int
    identity: DocumentIdentity
    id_key: tuple[str, ...]


@dataclass(frozen=True)
class ConvertedDocument:
    """A document a run converted (what :meth:`DocumentLedger.record_converted` writes)."""

    identity: DocumentIdentity
    id_key: tuple[str, ...]
    complete: bool
    file: str


def _record(row: Any) -> DocumentRecord:
    set_id = (row.set_root, row.set_ext) if row.set_root else None
    return DocumentRecord(id=row.id, identity=DocumentIdentity((row.doc_root, row.doc_ext), set_id, row.version,
                                                               row.digest),
                          id_key=tuple(json.loads(row.id_key)), state=row.state, complete=bool(row.complete),
                          file=row.file, run_id=row.run_id, output=row.output, converted_at=row.converted_at,
                          loaded_at=row.loaded_at)


class DocumentLedger:
    """The ledger's operations; reach it as ``StateStore.documents``."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def matching(self, identity: DocumentIdentity) -> list[DocumentRecord]:
        """Every recorded document with this ClinicalDocument/id or this setId (any digest), oldest first."""
        cond = and_(T.c.doc_root == identity.doc_id[0], T.c.doc_ext == identity.doc_id[1])
        if identity.set_id:
            cond = or_(cond, and_(T.c.set_root == identity.set_id[0], T.c.set_ext == identity.set_id[1]))
        with self._store.read() as conn:
            rows = conn.execute(select(T).where(cond).order_by(T.c.id)).all()
        return [_record(r) for r in rows]

    def by_doc_id(self, doc_id: tuple[str, str]) -> list[DocumentRecord]:
        """The recorded documents whose ClinicalDocument/id is ``doc_id`` (relatedDocument RPLC)."""
        with self._store.read() as conn:
            rows = conn.execute(select(T).where(T.c.doc_root == doc_id[0], T.c.doc_ext == doc_id[1])
                                .order_by(T.c.id)).all()
        return [_record(r) for r in rows]

    def record_converted(self, entries: list[ConvertedDocument], run_id: str, output: str, when: str) -> None:
        """Record what one run converted into ``output``, in one transaction; a document already
        recorded (same id and digest) is updated in place and stays loaded if it was."""
        if not entries:
            return
        stmt = self._store.insert(T)
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.doc_root, T.c.doc_ext, T.c.digest],
            set_={"file": stmt.excluded.file, "run_id": stmt.excluded.run_id, "output": stmt.excluded.output,
                  "converted_at": stmt.excluded.converted_at, "complete": stmt.excluded.complete,
                  "id_key": stmt.excluded.id_key,
                  "state": case((T.c.state == "loaded", "loaded"), else_="converted")},
        )
        rows = [{"doc_root": e.identity.doc_id[0], "doc_ext": e.identity.doc_id[1],
                 "set_root": e.identity.set_id[0] if e.identity.set_id else "",
                 "set_ext": e.identity.set_id[1] if e.identity.set_id else "", "version": e.identity.version,
                 "digest": e.identity.digest, "id_key": json.dumps(list(e.id_key)), "state": "converted",
                 "complete": e.complete, "file": e.file, "run_id": run_id, "output": output,
                 "converted_at": when} for e in entries]
        with self._store.write() as conn:
            for row in rows:  # one statement per row: executemany with ON CONFLICT differs by driver
                conn.execute(stmt, row)

    def mark_loaded(self, output: str, receipt_id: int, when: str) -> int:
        """The load step verified ``output`` on the server: its complete documents are loaded."""
        return mark_loaded(self._store, T, output, receipt_id, when)

    def all(self, state: str | None = None) -> list[DocumentRecord]:
        query = select(T).order_by(T.c.id)
        if state:
            query = query.where(T.c.state == state)
        with self._store.read() as conn:
            return [_record(r) for r in conn.execute(query).all()]

    def forget(self, ids: list[int] | None = None) -> int:
        """Delete rows by id (all when None): the next run converts those documents as new."""
        return forget(self._store, T, ids)
