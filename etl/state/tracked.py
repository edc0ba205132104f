"""What the X12 interchange ledger and the C-CDA document ledger share: a row's life from
``converted`` (its output published) to ``loaded`` (the load step found it on the server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Table, delete, update

if TYPE_CHECKING:
    from etl.state.store import StateStore


@dataclass(frozen=True, kw_only=True)
class Tracked:
    """The state of one tracked unit: where and when it was converted, and whether it is loaded
    (``complete`` false: part of it was rejected, so it is never marked loaded)."""

    state: str
    complete: bool
    file: str
    run_id: str
    output: str
    converted_at: str
    loaded_at: str | None

    @property
    def loaded(self) -> bool:
        return self.state == "loaded"


def mark_loaded(store: StateStore, table: Table, output: str, receipt_id: int, when: str) -> int:
    """The load step verified ``output`` on the server: its complete rows of ``table`` are loaded.
    Returns how many."""
    with store.write() as conn:
        result = conn.execute(update(table).where(table.c.output == output, table.c.complete.is_(True))
                              .values(state="loaded", loaded_at=when, receipt_id=receipt_id))
    return int(result.rowcount or 0)


def forget(store: StateStore, table: Table, ids: list[int] | None) -> int:
    """Delete rows of ``table`` by id (all rows when ``ids`` is None)."""
    query = delete(table) if ids is None else delete(table).where(table.c.id.in_(ids))
    with store.write() as conn:
        return int(conn.execute(query).rowcount or 0)
