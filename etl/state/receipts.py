"""Load receipts: one per output folder loaded with ``$import`` (a CLI output or an Airflow batch).

``start`` is written at kick-off (the server's status URL, so a resumed load can poll the same job
instead of starting another), ``complete`` after the job finished and the counts were verified on the
server, ``fail`` when it failed permanently, ``cancel`` when ``fhirflow import --cancel`` stopped it. Only ``complete`` marks the folder's X12 interchanges
and C-CDA documents loaded (:meth:`etl.state.interchanges.InterchangeLedger.mark_loaded`,
:meth:`etl.state.documents.DocumentLedger.mark_loaded`), in the same call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from etl.state.schema import load_receipt as T

if TYPE_CHECKING:
    from etl.state.store import StateStore


@dataclass(frozen=True)
class Receipt:
    id: int
    output: str
    run_id: str
    fhir_url: str
    status_url: str
    state: str
    started_at: str
    finished_at: str | None
    sent: dict[str, int]
    found: dict[str, int]
    message: str


def _receipt(row: Any) -> Receipt:
    return Receipt(row.id, row.output, row.run_id, row.fhir_url, row.status_url, row.state, row.started_at,
                   row.finished_at, json.loads(row.sent or "{}"), json.loads(row.found or "{}"), row.message)


class LoadReceipts:
    """Reach it as ``StateStore.receipts``."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def start(self, output: str, run_id: str, fhir_url: str, status_url: str, sent: dict[str, int], when: str) -> int:
        """A job was kicked off for ``output``; returns the receipt id (one per output, reused)."""
        stmt = self._store.insert(T)
        values = {"output": output, "run_id": run_id, "fhir_url": fhir_url, "status_url": status_url,
                  "state": "started", "started_at": when, "finished_at": None, "sent": json.dumps(sent, sort_keys=True),
                  "found": "{}", "message": ""}
        stmt = stmt.values(**values).on_conflict_do_update(
            index_elements=[T.c.output], set_={k: v for k, v in values.items() if k != "output"})
        with self._store.write() as conn:
            conn.execute(stmt)
            return int(conn.execute(select(T.c.id).where(T.c.output == output)).scalar_one())

    def complete(self, receipt_id: int, found: dict[str, int], message: str, when: str) -> int:
        """The job completed and ``found`` was verified: the receipt is closed and the output's
        complete X12 interchanges (returns how many) and C-CDA documents become loaded."""
        with self._store.write() as conn:
            conn.execute(update(T).where(T.c.id == receipt_id).values(
                state="completed", finished_at=when, found=json.dumps(found, sort_keys=True), message=message))
            output = conn.execute(select(T.c.output).where(T.c.id == receipt_id)).scalar_one()
        self._store.documents.mark_loaded(output, receipt_id, when)
        return self._store.interchanges.mark_loaded(output, receipt_id, when)

    def unverified(self, receipt_id: int, message: str, when: str) -> None:
        """The job completed but nobody counted on the server (``--no-verify``): nothing is marked
        loaded, so a re-send of its interchanges converts and loads again (it upserts)."""
        with self._store.write() as conn:
            conn.execute(update(T).where(T.c.id == receipt_id).values(state="unverified", finished_at=when,
                                                                      message=message[:2000]))

    def fail(self, receipt_id: int, message: str, when: str) -> None:
        with self._store.write() as conn:
            conn.execute(update(T).where(T.c.id == receipt_id).values(state="failed", finished_at=when,
                                                                      message=message[:2000]))

    def cancel(self, receipt_id: int, message: str, when: str) -> None:
        """The job was cancelled on the server (``fhirflow import --cancel``): nothing is loaded."""
        with self._store.write() as conn:
            conn.execute(update(T).where(T.c.id == receipt_id).values(state="cancelled", finished_at=when,
                                                                      message=message[:2000]))

    def open_at(self, fhir_url: str) -> list[Receipt]:
        """Receipts of jobs kicked off at ``fhir_url`` and not yet finished (servers that run one
        import at a time, resumable loads)."""
        with self._store.read() as conn:
            rows = conn.execute(select(T).where(T.c.fhir_url == fhir_url, T.c.state == "started")).all()
        return [_receipt(r) for r in rows]

    def for_output(self, output: str) -> Receipt | None:
        with self._store.read() as conn:
            row = conn.execute(select(T).where(T.c.output == output)).first()
        return _receipt(row) if row is not None else None

    def all(self) -> list[Receipt]:
        with self._store.read() as conn:
            return [_receipt(r) for r in conn.execute(select(T).order_by(T.c.id)).all()]
