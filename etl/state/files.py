"""Settled files: where each input went when its run archived, quarantined or set it aside as a
duplicate, by content hash (an operator finds the original of any load, even when names repeat)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from etl.state.schema import settled_file as T

if TYPE_CHECKING:
    from etl.state.store import StateStore


@dataclass(frozen=True)
class SettledFile:
    run_id: str
    fmt: str
    name: str
    sha256: str
    outcome: str
    destination: str
    settled_at: str


class SettledFiles:
    """Reach it as ``StateStore.files``."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def record(self, run_id: str, fmt: str, name: str, sha256: str, outcome: str, destination: str, when: str) -> None:
        """Record (or, for a retried settle of the same run, update) where ``name`` went."""
        values = {"run_id": run_id, "fmt": fmt, "name": name, "sha256": sha256, "outcome": outcome,
                  "destination": destination, "settled_at": when}
        stmt = self._store.insert(T).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[T.c.run_id, T.c.fmt, T.c.name],
                                          set_={k: values[k] for k in ("sha256", "outcome", "destination", "settled_at")})
        with self._store.write() as conn:
            conn.execute(stmt)

    def by_hash(self, sha256: str) -> list[SettledFile]:
        with self._store.read() as conn:
            rows = conn.execute(select(T).where(T.c.sha256 == sha256).order_by(T.c.id)).all()
        return [_settled(r) for r in rows]

    def for_run(self, run_id: str) -> list[SettledFile]:
        with self._store.read() as conn:
            rows = conn.execute(select(T).where(T.c.run_id == run_id).order_by(T.c.id)).all()
        return [_settled(r) for r in rows]


def _settled(row: Any) -> SettledFile:
    return SettledFile(row.run_id, row.fmt, row.name, row.sha256, row.outcome, row.destination, row.settled_at)
