"""The X12 interchange ledger in the run-state database: only a loaded interchange with the same
control numbers and the same bytes is skipped; skips are visible; nothing is lost to a shared
envelope, a failed load, a rejected set or a killed run."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_x12 import DATA, _837

from etl.cli import main
from etl.config import JobConfig
from etl.pipeline import convert
from etl.state import StateStore
from etl.state.interchanges import InterchangeRecord
from etl.state.store import now


def _config(tmp_path: Path, **changes: Any) -> JobConfig:
    return JobConfig(parquet=False, state_url=str(tmp_path / "state.db"), **changes)


def _loaded(config: JobConfig, out: Path) -> int:
    """What the load step does once ``$import`` completed and the counts were checked."""
    assert config.state_url
    with StateStore.open(config.state_url) as state:
        receipt = state.receipts.start(str(out.resolve()), "test", "http://fhir", "http://fhir/status", {}, now())
        return state.receipts.complete(receipt, {}, "done", now())


def _rows(config: JobConfig) -> list[InterchangeRecord]:
    assert config.state_url
    with StateStore.open(config.state_url) as state:
        return state.interchanges.all()


def _folder(tmp_path: Path, name: str, **files: bytes) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, data in files.items():
        (folder / file).write_bytes(data)
    return folder


def _errors(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for p in sorted((out / "errors").glob("*.ndjson")) for x in p.read_bytes().splitlines()]


def test_only_a_loaded_interchange_is_skipped(tmp_path: Path) -> None:
    config = _config(tmp_path)
    day1 = _folder(tmp_path, "day1", **{"a.x12": _837("11:B:1")})
    assert convert([day1], tmp_path / "out1", config).succeeded == 1
    (row,) = _rows(config)
    assert (row.state, row.complete, row.file) == ("converted", True, "a.x12")
    # Converted but never loaded (convert alone, or a load that failed): the re-send converts.
    again = convert([day1], tmp_path / "out2", config)
    assert (again.succeeded, again.skipped) == (1, 0)
    assert _loaded(config, tmp_path / "out2") == 1
    (row,) = _rows(config)
    assert row.state == "loaded" and row.output == str((tmp_path / "out2").resolve())
    # Loaded: the same bytes under another name, with other line breaks, are skipped, visibly.
    resent = _folder(tmp_path, "day3", **{"b.x12": _837("11:B:1").replace(b"~\n", b"~\r\n")})
    third = convert([resent], tmp_path / "out3", config)
    assert (third.succeeded, third.skipped, third.rejected) == (0, 1, 0)
    (skip,) = third.skips
    assert skip["file"] == "b.x12" and skip["loaded_file"] == "a.x12" and "ISA13=000000001" in skip["interchange"]
    assert skip["loaded_by"] and skip["loaded_at"]
    assert "already loaded by run" in third.render()
    manifest = orjson.loads((tmp_path / "out3" / "manifest.json").read_bytes())
    assert manifest["extension"]["https://fhirflow.dev/summary"]["skips"] == third.skips
    # Re-running the run that loaded it (same output folder) is not a re-send.
    assert convert([day1], tmp_path / "out2", config).succeeded == 1
    assert convert([resent], tmp_path / "out4", replace(config, x12_reprocess=True)).succeeded == 1


def test_a_shared_envelope_with_other_claims_is_not_a_resend(tmp_path: Path) -> None:
    # Sample files from one vendor share ISA06/ISA13/ISA09/ISA10 while carrying different claims:
    # each converts into its own sibling folder, one Claim per CLM, with a warning naming the other.
    config = _config(tmp_path)
    samples = sorted((DATA / "837P" / "linuxforhealth-x12").glob("demo.example*.837"))
    assert len(samples) >= 5
    claims = 0
    for i, sample in enumerate(samples):
        summary = convert([sample], tmp_path / f"out{i}", config)
        assert summary.rejected == 0 and summary.skipped == 0, sample.name
        _loaded(config, tmp_path / f"out{i}")
        claims += summary.resources["Claim"]
        if i:
            assert summary.warnings >= 1
    expected = sum(p.read_bytes().count(b"~CLM*") + p.read_bytes().count(b"\nCLM*") for p in samples)
    assert claims == expected
    assert len(_rows(config)) == len(samples) and all(r.state == "loaded" for r in _rows(config))


def test_duplicate_control_reject_rejects_a_reused_isa13(tmp_path: Path) -> None:
    config = _config(tmp_path, duplicate_control="reject")
    assert convert([_folder(tmp_path, "d1", **{"a.x12": _837("11:B:1")})], tmp_path / "o1", config).succeeded == 1
    other = _837("11:B:1", clm01="PCN2").replace(b"*240101*1200*", b"*240102*0900*", 1)
    summary = convert([_folder(tmp_path, "d2", **{"b.x12": other})], tmp_path / "o2", config)
    assert (summary.succeeded, summary.rejected) == (0, 1)
    (err,) = _errors(tmp_path / "o2")
    assert err["issue"][0]["code"] == "duplicate" and "TA1 025" in err["issue"][0]["details"]["text"]
    assert "a.x12" in err["issue"][0]["details"]["text"]


def test_reused_control_number_of_a_new_interchange_is_converted_not_lost(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert convert([_folder(tmp_path, "d1", **{"a.x12": _837("11:B:1")})], tmp_path / "o1", config).succeeded == 1
    _loaded(config, tmp_path / "o1")
    new = _837("11:B:1", clm01="PCN2").replace(b"*240101*1200*", b"*240102*0900*", 1)
    day2 = _folder(tmp_path, "d2", **{"b.x12": new})
    second = convert([day2], tmp_path / "o2", config)
    assert second.succeeded == 1 and second.skipped == 0 and second.warnings == 1
    (warning,) = [orjson.loads(x) for x in next((tmp_path / "o2" / "warnings").glob("*.ndjson")).read_bytes().splitlines()]
    text = warning["issue"][0]["details"]["text"]
    assert "ISA13=000000001" in text and "a.x12" in text and "b.x12" in text
    _loaded(config, tmp_path / "o2")
    assert [r.file for r in _rows(config)] == ["a.x12", "b.x12"]
    # A byte-identical re-send of either is skipped.
    (day2 / "c.x12").write_bytes(_837("11:B:1"))
    third = convert([day2], tmp_path / "o3", config)
    assert third.succeeded == 0 and third.skipped == 2
    # Within one run: two different interchanges with one ISA13 both convert; the same bytes twice once.
    both = _folder(tmp_path, "both", **{"a.x12": _837("11:B:1", control="000000009"),
                                          "b.x12": _837("11:B:1", control="000000009", clm01="PCN3")
                                          .replace(b"*240101*1200*", b"*240103*1000*", 1),
                                          "c.x12": _837("11:B:1", control="000000009")})
    run = convert([both], tmp_path / "o4", config)
    assert (run.succeeded, run.skipped) == (2, 1)
    assert "already read in this run" in run.files[2].notes[0]


def test_a_rejected_interchange_never_hides_a_valid_one_with_its_envelope(tmp_path: Path) -> None:
    # A wholly rejected interchange, then a valid file with the same envelope: the valid one converts.
    config = _config(tmp_path)
    bad = _837("11:B:1").replace(b"CLM*PCN1*100***11:B:1", b"CLM*PCN1*100***", 1)
    run = convert([_folder(tmp_path, "in", **{"1-bad.x12": bad, "2-good.x12": _837("11:B:1")})], tmp_path / "o", config)
    assert (run.succeeded, run.rejected, run.skipped) == (1, 1, 0)
    assert run.resources["Claim"] == 1
    _loaded(config, tmp_path / "o")
    states = {r.file: (r.state, r.complete) for r in _rows(config)}
    assert states == {"1-bad.x12": ("converted", False), "2-good.x12": ("loaded", True)}
    # The corrected re-send of the bad one converts (it was never loaded).
    fixed = convert([_folder(tmp_path, "fixed", **{"1-bad.x12": bad})], tmp_path / "o2", config)
    assert fixed.skipped == 0


def test_a_killed_run_leaves_nothing_behind_for_the_next_run_in_the_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import etl.pipeline as pipeline

    src = _folder(tmp_path, "in", **{"a.x12": _837("11:B:1")})
    config = _config(tmp_path, run_id="nightly-2026-01-01")

    def killed(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")  # the run dies while publishing, before the ledger is written

    monkeypatch.setattr(pipeline, "publish", killed)
    with pytest.raises(OSError):
        convert([src], tmp_path / "out", config)
    monkeypatch.undo()
    assert _rows(config) == []
    again = convert([src], tmp_path / "out", config)
    assert (again.succeeded, again.skipped, again.resources["Claim"]) == (1, 0, 1)
    assert [r.state for r in _rows(config)] == ["converted"]


def test_the_json_ledger_of_0_1_is_taken_over(tmp_path: Path) -> None:
    old = tmp_path / ".fhirflow-x12-ledger.json"
    old.write_text(orjson.dumps({"version": 1, "interchanges": {"SENDER|000000001": {
        "sender": "SENDER", "control": "000000001", "stamp": "240101 1200", "file": "a.x12",
        "loaded": "2026-11-30T00:00:00+00:00", "run": "old-run"}}}).decode())
    config = _config(tmp_path)
    summary = convert([_folder(tmp_path, "in", **{"a.x12": _837("11:B:1")})], tmp_path / "out", config)
    assert summary.skipped == 1 and "old-run" in summary.files[0].notes[0]
    assert not old.exists() and old.with_name(old.name + ".migrated").exists()
    # A new interchange with the same ISA13 (other ISA09/ISA10) converts.
    new = _837("11:B:1").replace(b"*240101*1200*", b"*240102*0900*", 1)
    assert convert([_folder(tmp_path, "in2", **{"b.x12": new})], tmp_path / "out2", config).succeeded == 1


def test_ledger_command_lists_shows_and_forgets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    src = _folder(tmp_path, "in", **{"a.x12": _837("11:B:1")})
    convert([src], tmp_path / "out", config)
    _loaded(config, tmp_path / "out")
    state = ["--state", str(tmp_path / "state.db")]
    assert main(["ledger", *state, "list"]) == 0
    listed = capsys.readouterr().out
    assert "loaded" in listed and "ISA13=000000001" in listed and "a.x12" in listed
    assert main(["ledger", *state, "show", "000000001"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["state"] == "loaded" and len(shown["digest"]) == 64
    assert main(["ledger", *state, "forget", "000000001"]) == 0
    assert "forgot 1" in capsys.readouterr().out
    assert main(["ledger", *state, "show", "000000001"]) == 1
    assert convert([src], tmp_path / "out2", config).succeeded == 1  # forgotten: converts again


def test_cli_convert_keeps_state_beside_the_output_and_never_marks_it_loaded(tmp_path: Path) -> None:
    src = _folder(tmp_path, "in", **{"a.x12": _837("11:B:1")})
    assert main(["convert", str(src), "-o", str(tmp_path / "runs" / "out"), "--no-parquet"]) == 0
    db = tmp_path / "runs" / ".fhirflow-state.db"
    assert db.exists() and oct(db.stat().st_mode & 0o777) == "0o600"
    with StateStore.open(db) as store:
        assert [r.state for r in store.interchanges.all()] == ["converted"]
    # convert again: not loaded, so not skipped
    assert main(["convert", str(src), "-o", str(tmp_path / "runs" / "out2"), "--no-parquet"]) == 0
    shutil.rmtree(tmp_path / "runs" / "out2")


def test_every_5010_sample_one_after_another_into_sibling_folders(tmp_path: Path) -> None:
    # What a payer trying fhirflow on third-party files does: one file per run, each into its own
    # folder beside the others, loading each. Every CLM is a Claim, every CLP an EOB, every HD a
    # Coverage (one per business key: a sample that repeats a claim gives one): nothing is taken for
    # a re-send. Sending them all again skips every one, loses none.
    from test_x12 import VALID, WRONG_SE01, _balance

    def _count(path: Path, seg: str) -> int:  # distinct business keys (element 1): a repeated claim is one
        text = path.read_bytes().lstrip(b"\xef\xbb\xbf \r\n").decode("latin-1")
        el, term = text[3], text.split(text[3], 16)[16][1]
        return len({s.strip().split(el)[1] for s in text.split(term) if s.strip().startswith(seg + el)})

    from etl.config import Strictness
    from etl.sources.x12.scan import scan_interchanges

    runs = tmp_path / "runs"
    config = JobConfig(parquet=False, state_url=str(runs / ".fhirflow-state.db"))
    # The imsweb samples' SE01 is wrong (converted with strictness ignore) and most of their claims do
    # not balance (CLM02 500 over SV102 12.25): those claims are rejected, one record each, and their
    # interchanges are never marked loaded, so the second pass converts them again.
    partial: set[str] = set()
    for i, path in enumerate(VALID):
        miscounted = any(s.group_counts or s.iea_count for s in scan_interchanges(path))
        cfg = replace(config, strictness=Strictness.IGNORE) if miscounted or path in WRONG_SE01 else config
        summary = convert([path], runs / f"out-{i:02d}", cfg)
        balance = _balance(path)
        unbalanced = sum(1 for _, ok in balance if not ok)
        if unbalanced:
            partial.add(path.name)
        assert summary.skipped == 0 and summary.rejected == unbalanced, path.name
        assert summary.resources["Claim"] == len({c for c, ok in balance if ok}), path.name
        assert summary.resources["ExplanationOfBenefit"] == _count(path, "CLP"), path.name
        if path.parent.parent.name == "834":
            assert summary.resources["Coverage"] == _count(path, "HD"), path.name
        _loaded(config, runs / f"out-{i:02d}")
    again = convert(VALID, runs / "again", replace(config, strictness=Strictness.IGNORE))
    assert again.rejected == sum(1 for p in VALID if p.name in partial for _, ok in _balance(p) if not ok)
    assert again.skipped == sum(f.skipped for f in again.files) > 0
    assert all(f.succeeded == 0 for f in again.files if f.name not in partial)
    assert {s["file"] for s in again.skips} == {p.name for p in VALID if p.name not in partial}
