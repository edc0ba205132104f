"""The X12 interchange ledger: which interchanges were converted, and which are on the server.

An interchange is identified by ISA05/ISA06 (sender), ISA07/ISA08 (receiver) and ISA13 (control
number) **and** a SHA-256 of its bytes (ISA through IEA, line breaks normalised: see
:func:`etl.sources.x12.scan.scan_interchanges`). Sample files from one vendor often share an
envelope while carrying different claims; the digest tells them apart.

States: ``converted`` (recorded after the run's output was published, naming that output) and
``loaded`` (set only by the load step, after ``$import`` completed and the server's counts were
checked). Only a ``loaded`` interchange with the same identity and digest is skipped by a later run.
An interchange with a rejected transaction set or claim is recorded with ``complete`` false and is
never marked loaded, so sending it again converts it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, or_, select

from etl.state.schema import x12_interchange as T
from etl.state.tracked import Tracked, forget, mark_loaded

if TYPE_CHECKING:
    from etl.state.store import StateStore


@dataclass(frozen=True)
class InterchangeId:
    """ISA05/ISA06, ISA07/ISA08 and ISA13 of an interchange, trimmed."""

    isa05: str
    isa06: str
    isa07: str
    isa08: str
    isa13: str

    def __str__(self) -> str:
        return f"ISA06={self.isa06} ISA08={self.isa08} ISA13={self.isa13}"


@dataclass(frozen=True, kw_only=True)
class InterchangeRecord(Tracked):
    """One row of the ledger."""

    id: int
    key: InterchangeId
    digest: str
    stamp: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "isa05": self.key.isa05, "isa06": self.key.isa06, "isa07": self.key.isa07,
                "isa08": self.key.isa08, "isa13": self.key.isa13, "digest": self.digest, "stamp": self.stamp,
                "state": self.state, "complete": self.complete, "file": self.file, "run_id": self.run_id,
                "output": self.output, "converted_at": self.converted_at, "loaded_at": self.loaded_at}


@dataclass(frozen=True)
class Converted:
    """An interchange a run converted (what :meth:`InterchangeLedger.record_converted` writes)."""

    key: InterchangeId
    digest: str
    stamp: str
    complete: bool
    file: str


def _record(row: Any) -> InterchangeRecord:
    return InterchangeRecord(id=row.id, key=InterchangeId(row.isa05, row.isa06, row.isa07, row.isa08, row.isa13),
                             digest=row.digest, stamp=row.stamp, state=row.state, complete=bool(row.complete),
                             file=row.file, run_id=row.run_id, output=row.output, converted_at=row.converted_at,
                             loaded_at=row.loaded_at)


def _is(key: InterchangeId) -> Any:
    return and_(T.c.isa05 == key.isa05, T.c.isa06 == key.isa06, T.c.isa07 == key.isa07,
                T.c.isa08 == key.isa08, T.c.isa13 == key.isa13)


class InterchangeLedger:
    """The ledger's operations; reach it as ``StateStore.interchanges``."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def matching(self, key: InterchangeId) -> list[InterchangeRecord]:
        """Every recorded interchange with these control numbers (any digest), oldest first, and
        the entries taken over from the old JSON ledger with this sender and ISA13 (it kept no
        qualifiers, receiver or digest: :mod:`etl.state.legacy`)."""
        legacy = and_(T.c.digest == "", T.c.isa05 == "", T.c.isa06 == key.isa06, T.c.isa13 == key.isa13)
        with self._store.read() as conn:
            rows = conn.execute(select(T).where(or_(_is(key), legacy)).order_by(T.c.id)).all()
        return [_record(r) for r in rows]

    def record_converted(self, entries: list[Converted], run_id: str, output: str, when: str) -> None:
        """Record what one run converted into ``output``, in one transaction. An interchange already
        recorded (same identity and digest) is updated in place: a later conversion moves its
        ``output`` and ``file``, and an interchange already loaded stays loaded."""
        if not entries:
            return
        stmt = self._store.insert(T)
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.isa05, T.c.isa06, T.c.isa07, T.c.isa08, T.c.isa13, T.c.digest],
            set_={"file": stmt.excluded.file, "run_id": stmt.excluded.run_id, "output": stmt.excluded.output,
                  "converted_at": stmt.excluded.converted_at, "complete": stmt.excluded.complete,
                  "stamp": stmt.excluded.stamp,
                  "state": case((T.c.state == "loaded", "loaded"), else_="converted")},
        )
        rows = [{"isa05": e.key.isa05, "isa06": e.key.isa06, "isa07": e.key.isa07, "isa08": e.key.isa08,
                 "isa13": e.key.isa13, "digest": e.digest, "stamp": e.stamp, "state": "converted",
                 "complete": e.complete, "file": e.file, "run_id": run_id, "output": output,
                 "converted_at": when} for e in entries]
        with self._store.write() as conn:
            for row in rows:  # one statement per row: executemany with ON CONFLICT differs by driver
                conn.execute(stmt, row)

    def mark_loaded(self, output: str, receipt_id: int, when: str) -> int:
        """The load step verified ``output`` on the server: its complete interchanges are loaded.
        Returns how many."""
        return mark_loaded(self._store, T, output, receipt_id, when)

    def all(self, state: str | None = None) -> list[InterchangeRecord]:
        query = select(T).order_by(T.c.id)
        if state:
            query = query.where(T.c.state == state)
        with self._store.read() as conn:
            return [_record(r) for r in conn.execute(query).all()]

    def get(self, row_id: int) -> InterchangeRecord | None:
        with self._store.read() as conn:
            row = conn.execute(select(T).where(T.c.id == row_id)).first()
        return _record(row) if row is not None else None

    def find(self, isa13: str, isa06: str | None = None) -> list[InterchangeRecord]:
        """Rows by control number (and sender), for ``fhirflow ledger show``."""
        query = select(T).where(T.c.isa13 == isa13.strip()).order_by(T.c.id)
        if isa06:
            query = query.where(T.c.isa06 == isa06.strip())
        with self._store.read() as conn:
            return [_record(r) for r in conn.execute(query).all()]

    def forget(self, ids: list[int] | None = None) -> int:
        """Delete rows by id (all rows when ``ids`` is None): the next run converts those
        interchanges again (their resources upsert onto the same ids)."""
        return forget(self._store, T, ids)

    def add_legacy(self, key: InterchangeId, stamp: str, file: str, run_id: str, when: str) -> bool:
        """An entry of the JSON ledger fhirflow kept before this database: recorded as loaded, with
        no digest (``""``) and its ISA09/ISA10 stamp. False when it was there already."""
        stmt = self._store.insert(T).values(
            isa05=key.isa05, isa06=key.isa06, isa07=key.isa07, isa08=key.isa08, isa13=key.isa13, digest="",
            stamp=stamp, state="loaded", complete=True, file=file, run_id=run_id, output="", converted_at=when,
            loaded_at=when).on_conflict_do_nothing()
        with self._store.write() as conn:
            return bool(conn.execute(stmt).rowcount)
