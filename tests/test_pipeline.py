"""A fault of fhirflow's own on one unit rejects that unit only, like bad data would.

An unexpected exception while one unit maps (or while a file is read) becomes an error record of
code ``exception`` that names the exception type and fhirflow's code location, never the
exception's text (it may quote patient data); the other units and files still convert. Faults of
the machine (``OSError``) stop the run instead: the output folder stays as it was, a re-run starts
clean.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from etl.config import JobConfig
from etl.fhir.outcome import source_excerpt
from etl.pipeline import convert
from etl.sources.hl7v2.source import Hl7v2Source
from etl.state import StateStore

DATA = Path(__file__).resolve().parent / "data"
BATCH = DATA / "hl7v2" / "python-hl7" / "sample_batch1.hl7"  # two messages
OTHER = DATA / "hl7v2" / "fhir-converter" / "ADT-A01-01.hl7"
PHI = "Huckleberry 19630815"  # stands for data a buggy mapper's exception might quote


def _errors(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for p in sorted((out / "errors").glob("*.ndjson")) for line in p.read_bytes().splitlines()]


def test_a_mapper_bug_on_one_message_rejects_it_and_the_rest_converts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real = Hl7v2Source.to_fhir
    calls = []

    def buggy(self: Hl7v2Source, record: Any, ctx: Any, config: JobConfig) -> list[dict[str, Any]]:
        calls.append(1)
        if len(calls) == 2:
            raise TypeError(f"unexpected value {PHI}")
        return real(self, record, ctx, config)

    monkeypatch.setattr(Hl7v2Source, "to_fhir", buggy)
    caplog.set_level(logging.DEBUG)
    summary = convert([BATCH, OTHER], tmp_path / "out", JobConfig(parquet=False))

    assert (summary.attempted, summary.succeeded, summary.rejected) == (3, 2, 1)
    (record,) = _errors(tmp_path / "out")
    issue = record["issue"][0]
    assert issue["code"] == "exception"
    text = issue["details"]["text"]
    assert "TypeError" in text and "etl/" in text and "fhirflow bug" in text
    assert "sample_batch1.hl7" in issue["diagnostics"] and "message 2" in issue["diagnostics"]
    assert "MSH-10" in source_excerpt(issue)
    everything = caplog.text + orjson.dumps(record).decode()
    assert PHI not in everything and "internal error" in caplog.text


def test_a_reader_bug_rejects_the_rest_of_its_file_and_the_next_file_converts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Hl7v2Source.read

    def buggy(self: Hl7v2Source, path: Path, config: JobConfig) -> Iterator[Any]:
        units = real(self, path, config)
        if path == BATCH:
            yield next(iter(units))
            raise IndexError(f"list index out of range near {PHI}")
        yield from units

    monkeypatch.setattr(Hl7v2Source, "read", buggy)
    summary = convert([BATCH, OTHER], tmp_path / "out", JobConfig(parquet=False))
    assert (summary.succeeded, summary.rejected) == (2, 1)
    (record,) = _errors(tmp_path / "out")
    text = record["issue"][0]["details"]["text"]
    assert "IndexError" in text and "after its first 1 unit(s)" in text and PHI not in orjson.dumps(record).decode()


def test_a_machine_fault_while_mapping_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Hl7v2Source, record: Any, ctx: Any, config: JobConfig) -> list[dict[str, Any]]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Hl7v2Source, "to_fhir", full)
    with pytest.raises(OSError):
        convert([BATCH], tmp_path / "out", JobConfig(parquet=False))
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_an_x12_set_that_hit_a_bug_is_not_recorded_as_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Were the interchange in the ledger, sending the file again after the fix would skip it, and its
    # claims would never load.
    import etl.sources.x12.source as x12_source

    def buggy(tx: Any, ctx: Any) -> Iterator[dict[str, Any]]:
        raise KeyError(PHI)
        yield {}

    src = DATA / "x12" / "837P" / "uhin-x12-parser" / "837.edi"
    config = JobConfig(parquet=False, state_url=str(tmp_path / "state.db"))
    monkeypatch.setattr(x12_source, "to_fhir", buggy)
    summary = convert([src], tmp_path / "out", config)
    assert summary.rejected == 1 and summary.succeeded == 0
    assert _errors(tmp_path / "out")[0]["issue"][0]["code"] == "exception"
    with StateStore.open(tmp_path / "state.db") as state:
        receipt = state.receipts.start(str((tmp_path / "out").resolve()), "r", "u", "s", {}, "t")
        assert state.receipts.complete(receipt, {}, "", "t") == 0  # loading the rest marks nothing loaded
        assert [(r.state, r.complete) for r in state.interchanges.all()] == [("converted", False)]
    monkeypatch.undo()
    fixed = convert([src], tmp_path / "out-fixed", config)
    assert (fixed.succeeded, fixed.skipped, fixed.rejected) == (1, 0, 0)
