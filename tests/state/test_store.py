"""The run-state database on SQLite and on a real PostgreSQL 15: migrations, unique keys under
concurrent writers, receipts that mark interchanges loaded, settled files."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from etl.errors import ConfigError
from etl.state import StateStore
from etl.state.interchanges import Converted, InterchangeId
from etl.state.schema import VERSION

KEY = InterchangeId("ZZ", "SENDER", "ZZ", "RECEIVER", "000000001")


def _entry(digest: str = "a" * 64, complete: bool = True, file: str = "a.x12") -> Converted:
    return Converted(KEY, digest, "240101 1200", complete, file)


def test_a_new_database_is_migrated_once_and_reopened_as_it_is(state_url: str) -> None:
    with StateStore.open(state_url) as store:
        with store.read() as conn:
            assert conn.execute(text("SELECT version FROM fhirflow_schema")).scalars().all() == [VERSION]
        store.interchanges.record_converted([_entry()], "run-1", "/out/1", "2026-01-01T00:00:00+00:00")
    with StateStore.open(state_url) as store:
        with store.read() as conn:
            assert conn.execute(text("SELECT version FROM fhirflow_schema")).scalars().all() == [VERSION]
        assert [r.run_id for r in store.interchanges.all()] == ["run-1"]


def test_a_database_from_a_newer_fhirflow_is_refused(state_url: str) -> None:
    with StateStore.open(state_url) as store, store.write() as conn:
        conn.execute(text("UPDATE fhirflow_schema SET version = :v"), {"v": VERSION + 1})
    with pytest.raises(ConfigError, match="newer than this fhirflow"):
        StateStore.open(state_url)


def test_converted_then_loaded_by_the_receipt_of_its_output(state_url: str) -> None:
    with StateStore.open(state_url) as store:
        ledger, receipts = store.interchanges, store.receipts
        ledger.record_converted([_entry(), _entry("b" * 64, complete=False, file="b.x12")], "run-1", "/out/1", "t1")
        receipt = receipts.start("/out/1", "run-1", "http://fhir", "http://fhir/poll?_jobId=1", {"Claim": 2}, "t2")
        assert receipts.for_output("/out/1").state == "started"  # type: ignore[union-attr]
        assert receipts.complete(receipt, {"Claim": 2}, "ok", "t3") == 1  # the partly rejected one is not
        states = {r.file: (r.state, r.loaded_at) for r in ledger.all()}
        assert states == {"a.x12": ("loaded", "t3"), "b.x12": ("converted", None)}
        done = receipts.for_output("/out/1")
        assert done is not None and (done.state, done.found, done.status_url) == (
            "completed", {"Claim": 2}, "http://fhir/poll?_jobId=1")
        # Converted again into another output (a re-run): it stays loaded, its output moves.
        ledger.record_converted([_entry()], "run-2", "/out/2", "t4")
        (a,) = [r for r in ledger.all() if r.file == "a.x12"]
        assert (a.state, a.output, a.run_id) == ("loaded", "/out/2", "run-2")
        assert len(ledger.matching(KEY)) == 2
        assert ledger.forget([a.id]) == 1 and len(ledger.all()) == 1


def test_a_failed_load_marks_nothing_loaded(state_url: str) -> None:
    with StateStore.open(state_url) as store:
        store.interchanges.record_converted([_entry()], "run-1", "/out/1", "t1")
        receipt = store.receipts.start("/out/1", "run-1", "http://fhir", "http://fhir/poll", {}, "t2")
        store.receipts.fail(receipt, "HTTP 500 from $import", "t3")
        assert [r.state for r in store.interchanges.all()] == ["converted"]
        assert store.receipts.for_output("/out/1").state == "failed"  # type: ignore[union-attr]


def test_settled_files_record_where_each_original_went(state_url: str) -> None:
    with StateStore.open(state_url) as store:
        store.files.record("run-1", "x12", "a.x12", "c" * 64, "archived", "archive/x12/2026-01-01/a.x12", "t1")
        store.files.record("run-1", "x12", "a.x12", "c" * 64, "archived", "archive/x12/2026-01-01/a.c.x12", "t2")
        (only,) = store.files.for_run("run-1")
        assert only.destination.endswith("a.c.x12") and store.files.by_hash("c" * 64) == [only]


def _record_many(url: str, worker: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    store = StateStore.open(url)
    barrier.wait()
    for i in range(20):
        # every worker records the same 20 interchanges: the unique key must keep one row each
        key = InterchangeId("ZZ", "SENDER", "ZZ", "RECEIVER", f"{i:09d}")
        store.interchanges.record_converted([Converted(key, "d" * 64, "", True, f"w{worker}.x12")],
                                            f"run-{worker}", f"/out/{worker}", "t")
    store.close()


def _race(url: str, workers: int) -> None:
    """``workers`` processes run :func:`_record_many` at once (released together by a barrier)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_record_many, args=(url, w, barrier)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0


def test_parallel_writers_on_separate_processes_keep_one_row_per_interchange(state_url: str) -> None:
    StateStore.open(state_url).close()  # created before the race, like a DAG's first run
    _race(state_url, 4)
    with StateStore.open(state_url) as store:
        rows = store.interchanges.all()
    assert len(rows) == 20 and len({r.key.isa13 for r in rows}) == 20


def test_first_use_by_parallel_processes_migrates_once(state_url: str) -> None:
    _race(state_url, 3)
    with StateStore.open(state_url) as store, store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM fhirflow_schema")).scalar() == 1


def test_a_sqlite_state_file_is_private(tmp_path: Path) -> None:
    StateStore.open(tmp_path / "deep" / "state.db").close()
    assert oct(os.stat(tmp_path / "deep" / "state.db").st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("bad", ["postgresql+nosuchdriver://x@127.0.0.1/db", "sqlite:////proc/no/such/dir/x.db"])
def test_an_unusable_state_url_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="--state"):
        StateStore.open(bad)
