"""The DICOM study index: every instance header read, by SOP Instance UID, across runs.

An ImagingStudy spans files and runs, and ``$import`` replaces whole resources: a run that emitted
only the series it read would erase the others on the server. So the DICOM source records each
instance it reads here (its header-derived record and a SHA-256 of it), and emits, for every study
it touched, the whole study as known so far (:meth:`StudyIndex.instances`).

- Re-reading an instance with the same header changes nothing (same digest: no write).
- A changed header updates the row; if it moved the instance to another study or series, both
  studies count as touched, so the old one is emitted without it.
- The table holds header values (patient name, ids): it is PHI, protected like the output (the
  SQLite file is created 0600). Deleting it loses only the memory of earlier runs' instances: the
  next run emits a study with the instances it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, func, select

from etl.state.schema import dicom_instance as T
from etl.state.schema import dicom_touched as TOUCHED

if TYPE_CHECKING:
    from etl.state.store import StateStore

_CHUNK = 500  # UIDs per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class InstanceRow:
    """One instance to record: its UIDs, its record (JSON-able) and where it was read."""

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    record: dict[str, Any]
    file: str


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()


class StudyIndex:
    """Reach it as ``StateStore.studies``."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def record(self, rows: Iterable[InstanceRow], run_id: str, when: str) -> tuple[set[str], int]:
        """Record ``rows`` in one transaction. Returns the studies they touch (theirs, plus the one an
        instance moved out of) and how many rows were new or changed."""
        latest: dict[str, tuple[InstanceRow, str]] = {}
        for row in rows:  # the same instance twice in a batch: the later read wins
            latest[row.sop_instance_uid] = (row, digest(row.record))
        touched = {row.study_uid for row, _ in latest.values()}
        changed = 0
        uids = list(latest)
        with self._store.write() as conn:
            known: dict[str, tuple[str, str]] = {}
            for i in range(0, len(uids), _CHUNK):
                part = uids[i:i + _CHUNK]
                for uid, study, dig in conn.execute(
                        select(T.c.sop_instance_uid, T.c.study_uid, T.c.digest).where(T.c.sop_instance_uid.in_(part))):
                    known[uid] = (study, dig)
            inserts = []
            for uid, (row, dig) in latest.items():
                old = known.get(uid)
                if old is not None and old[1] == dig:
                    continue  # read before, same header: nothing changes
                changed += 1
                values = {"sop_instance_uid": uid, "study_uid": row.study_uid, "series_uid": row.series_uid,
                          "digest": dig, "record": orjson.dumps(row.record).decode(), "file": row.file,
                          "run_id": run_id, "updated_at": when}
                if old is None:
                    inserts.append({**values, "first_seen": when})
                    continue
                touched.add(old[0])
                stmt = self._store.insert(T).values(**values, first_seen=when).on_conflict_do_update(
                    index_elements=[T.c.sop_instance_uid], set_={k: v for k, v in values.items() if k != "sop_instance_uid"})
                conn.execute(stmt)
            if inserts:
                # on conflict (another task inserted it meanwhile): keep theirs only if the digest is the same
                stmt = self._store.insert(T)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[T.c.sop_instance_uid],
                    set_={c: stmt.excluded[c] for c in ("study_uid", "series_uid", "digest", "record", "file",
                                                         "run_id", "updated_at")})
                conn.execute(stmt, inserts)
        return touched, changed

    def instances(self, study_uid: str) -> list[dict[str, Any]]:
        """The records of every instance known of ``study_uid`` (in no particular order)."""
        with self._store.read() as conn:
            rows = conn.execute(select(T.c.record).where(T.c.study_uid == study_uid)).scalars().all()
        return [orjson.loads(r) for r in rows]

    def count(self, study_uid: str | None = None) -> int:
        with self._store.read() as conn:
            q = select(func.count()).select_from(T)
            if study_uid is not None:
                q = q.where(T.c.study_uid == study_uid)
            return int(conn.execute(q).scalar_one())

    def forget(self, study_uid: str) -> int:
        """Forget a study's instances (the next run emits what it reads of it); returns how many."""
        with self._store.write() as conn:
            return int(conn.execute(delete(T).where(T.c.study_uid == study_uid)).rowcount or 0)

    def mark_touched(self, run_key: str, study_uids: Iterable[str]) -> None:
        """Remember that a task of run ``run_key`` read instances of ``study_uids`` (for :meth:`touched`)."""
        rows = [{"run_key": run_key, "study_uid": uid} for uid in sorted(set(study_uids))]
        if not rows:
            return
        with self._store.write() as conn:
            conn.execute(self._store.insert(TOUCHED).on_conflict_do_nothing(
                index_elements=[TOUCHED.c.run_key, TOUCHED.c.study_uid]), rows)

    def touched(self, run_key: str) -> list[str]:
        """The studies the tasks of run ``run_key`` touched, in UID order."""
        with self._store.read() as conn:
            q = select(TOUCHED.c.study_uid).where(TOUCHED.c.run_key == run_key).order_by(TOUCHED.c.study_uid)
            return list(conn.execute(q).scalars().all())
