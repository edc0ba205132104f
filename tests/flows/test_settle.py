"""Archive and quarantine keep every original: a second file of a name gets its content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from etl.config import JobConfig
from etl.flows import landing
from etl.flows.tasks import convert_batch, settle_inputs

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "fhir-converter"
GOOD = (HL7 / "ADT-A01-01.hl7").read_bytes()
BAD = b"MSH|^~\\&|X|Y|Z|W|20240101||ADT^A01|BROKEN1|P|2.5\rPID|1||^^^X||Nobody\r"
DAY = "2026-12-04"


def _land_and_settle(root: Path, run: str, files: dict[str, bytes], config: JobConfig) -> dict[str, object]:
    (root / "landing" / "hl7v2").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / "landing" / "hl7v2" / name).write_bytes(data)
    from etl.flows.tasks import claim_batches

    results = [convert_batch(root, "hl7v2", run, DAY, b, config) for b in claim_batches(root, "hl7v2", run)]
    return settle_inputs(root, "hl7v2", run, DAY, results)


def test_a_second_file_of_the_same_name_on_the_same_day_keeps_both(tmp_path: Path, config: JobConfig) -> None:
    root = tmp_path / "root"
    first = GOOD.rstrip(b"\r\n") + b"\r" + BAD
    second = BAD.replace(b"BROKEN1", b"BROKEN2")
    _land_and_settle(root, "run1", {"msg.hl7": first, "ok.hl7": GOOD}, config)
    moved = _land_and_settle(root, "run2", {"msg.hl7": second, "ok.hl7": GOOD.replace(b"ADT^A01", b"ADT^A04")}, config)
    quarantine = root / "quarantine" / "hl7v2" / DAY
    h = hashlib.sha256(second).hexdigest()[:12]
    assert sorted(p.name for p in quarantine.iterdir()) == sorted([
        "msg.hl7", "msg.hl7.errors.ndjson", f"msg.{h}.hl7", f"msg.{h}.hl7.errors.ndjson"])
    assert (quarantine / "msg.hl7").read_bytes() == first and (quarantine / f"msg.{h}.hl7").read_bytes() == second
    for name, where in (("msg.hl7", "message 2"), (f"msg.{h}.hl7", "message 1")):  # each its own records
        (rec,) = [orjson.loads(x) for x in (quarantine / f"{name}.errors.ndjson").read_bytes().splitlines()]
        assert rec["issue"][0]["diagnostics"].startswith(f"msg.hl7: {where} ")
    archive = root / "archive" / "hl7v2" / DAY
    assert len(list(archive.iterdir())) == 2  # ok.hl7 and ok.<hash>.hl7
    assert moved["settled"] == [
        {"file": "msg.hl7", "to": f"quarantine/hl7v2/{DAY}/msg.{h}.hl7",
         "errors": f"quarantine/hl7v2/{DAY}/msg.{h}.hl7.errors.ndjson"},
        {"file": "ok.hl7", "to": str(next(p for p in archive.iterdir() if p.name != "ok.hl7").relative_to(root)),
         "errors": None},
    ]


def test_the_same_file_again_is_kept_once(tmp_path: Path) -> None:
    dest = tmp_path / "archive"
    for _ in range(2):
        src = tmp_path / "in" / "a.x12"
        src.parent.mkdir(exist_ok=True)
        src.write_bytes(b"ISA*same")
        assert landing.settle(src, dest) == dest / "a.x12"
        assert not src.exists()
    assert [p.name for p in dest.iterdir()] == ["a.x12"]


def test_a_retried_settle_writes_the_same_records_under_the_same_name(tmp_path: Path) -> None:
    dest = tmp_path / "quarantine"
    dest.mkdir()
    (dest / "b.hl7").write_bytes(b"an earlier original")
    src = tmp_path / "b.hl7"
    src.write_bytes(b"MSH|new")
    records: list[dict[str, object]] = [{"resourceType": "OperationOutcome", "id": "1"}]
    h = hashlib.sha256(b"MSH|new").hexdigest()[:12]
    # the first try died after the records, before the move: the retry lands both on the same name
    landing._write_errors(dest / f"b.{h}.hl7.errors.ndjson", records)
    assert landing.settle(src, dest, records) == dest / f"b.{h}.hl7"
    assert sorted(p.name for p in dest.iterdir()) == sorted(["b.hl7", f"b.{h}.hl7", f"b.{h}.hl7.errors.ndjson"])
    assert landing.settle(src, dest, records) is None  # gone: settled already


def test_the_state_database_records_where_each_original_went(tmp_path: Path, config: JobConfig) -> None:
    from etl.state import StateStore

    root = tmp_path / "root"
    first, second = GOOD, GOOD.replace(b"ADT^A01", b"ADT^A04")
    with StateStore.open(tmp_path / "state.db") as state:
        for run, data in (("run1", first), ("run2", second)):
            (root / "landing" / "hl7v2").mkdir(parents=True, exist_ok=True)
            (root / "landing" / "hl7v2" / "ok.hl7").write_bytes(data)
            from etl.flows.tasks import claim_batches

            results = [convert_batch(root, "hl7v2", run, DAY, b, config) for b in claim_batches(root, "hl7v2", run)]
            settle_inputs(root, "hl7v2", run, DAY, results, state)
        h = hashlib.sha256(second).hexdigest()
        (rec,) = state.files.by_hash(h)
        assert (rec.run_id, rec.name, rec.outcome) == ("run2", "ok.hl7", "archived")
        assert rec.destination == f"archive/hl7v2/{DAY}/ok.{h[:12]}.hl7"
        assert (root / rec.destination).read_bytes() == second
        assert [r.destination for r in state.files.by_hash(hashlib.sha256(first).hexdigest())] == [
            f"archive/hl7v2/{DAY}/ok.hl7"]


def test_the_state_database_is_for_the_owner_only(tmp_path: Path) -> None:
    import os

    from etl.state import StateStore

    with StateStore.open(tmp_path / "state.db") as state:
        state.files.record("r", "x12", "a.x12", "0" * 64, "archived", "archive/a.x12", "2026-01-01T00:00:00Z")
    modes = {p.name: os.stat(p).st_mode & 0o777 for p in tmp_path.iterdir() if p.name.startswith("state.db")}
    assert modes and set(modes.values()) == {0o600}, modes
