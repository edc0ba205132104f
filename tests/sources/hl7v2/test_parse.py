"""Streaming HL7 v2 reader: terminators, BOM, batches, broken envelopes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.errors import EnvelopeError, InputError
from etl.sources.hl7v2.parse import read_messages

MSG = ("MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ADT^A01|{ctl}|P|2.5",
       "PID|1||{mrn}^^^HOSP^MR||Doe^Jane||19800101|F",
       "PV1|1|I|W^1^2||||1234^Welby^Marcus")


def _msg(ctl: str, mrn: str = "123") -> list[str]:
    return [s.format(ctl=ctl, mrn=mrn) for s in MSG]


def _write(tmp_path: Path, segments: list[str], sep: str = "\r", prefix: bytes = b"") -> Path:
    p = tmp_path / "in.hl7"
    p.write_bytes(prefix + sep.join(segments).encode() + sep.encode())
    return p


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
def test_terminators_and_bom(tmp_path: Path, sep: str) -> None:
    path = _write(tmp_path, _msg("A1") + _msg("A2"), sep, prefix=b"\xef\xbb\xbf")
    units = list(read_messages(path))
    assert [u.record.control_id for u in units if u.record] == ["A1", "A2"]
    assert [len(u.record.segments) for u in units if u.record] == [3, 3]
    assert units[0].location.where == "message 1 at line 1"  # MSH-10 is quoted, not in the place
    assert units[0].quoted == {"MSH-10": "A1"}


def test_mllp_framing_and_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "in.hl7"
    p.write_bytes(b"\x0b" + "\r".join(_msg("A1")).encode() + b"\r\x1c\r\n\n\n" + "\r".join(_msg("A2")).encode())
    assert [u.record.control_id for u in read_messages(p) if u.record] == ["A1", "A2"]


def test_chunk_boundary_between_cr_and_lf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import etl.sources.hl7v2.parse as parse

    monkeypatch.setattr(parse, "CHUNK", 7)
    path = _write(tmp_path, _msg("A1") + _msg("A2"), "\r\n")
    units = list(read_messages(path))
    assert [len(u.record.segments) for u in units if u.record] == [3, 3]
    assert not [u for u in units if u.error]


def test_valid_batch_and_file(tmp_path: Path) -> None:
    segs = ["FHS|^~\\&|A", "BHS|^~\\&|A", *_msg("A1"), *_msg("A2"), "BTS|2", "FTS|1"]
    units = list(read_messages(_write(tmp_path, segs)))
    assert [u.error for u in units] == [None, None]


def test_bhs_without_bts_is_reported_and_messages_before_the_last_still_read(tmp_path: Path) -> None:
    units = list(read_messages(_write(tmp_path, ["BHS|^~\\&|A", *_msg("A1"), *_msg("A2")])))
    assert units[0].record is not None  # followed by another MSH: whole
    # the file ends inside the batch: the last message may be cut off (see test_encodings_and_truncation.py)
    assert isinstance(units[1].error, EnvelopeError) and units[1].error.code == "incomplete"
    assert isinstance(units[2].error, EnvelopeError)
    assert "has no BTS" in units[2].error.message


def test_bts_count_mismatch(tmp_path: Path) -> None:
    units = list(read_messages(_write(tmp_path, ["BHS|^~\\&|A", *_msg("A1"), "BTS|3"])))
    err = units[-1].error
    assert isinstance(err, EnvelopeError) and err.location is not None
    assert err.location.expression == "BTS-1"
    assert "3 messages, but 1 were found" in err.message


def test_missing_msh10_is_located_by_position(tmp_path: Path) -> None:
    segs = [*_msg("A1"), *(_msg("")), *_msg("A3")]
    units = list(read_messages(_write(tmp_path, segs)))
    assert units[1].location.where == "message 2 at line 4" and units[1].quoted == {}


def test_segments_before_any_msh(tmp_path: Path) -> None:
    units = list(read_messages(_write(tmp_path, ["PID|1||x", *_msg("A1")])))
    assert units[0].record is not None
    assert "outside any message" in units[-1].error.message  # type: ignore[union-attr]


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.hl7"
    p.write_bytes(b"\r\n")
    units = list(read_messages(p))
    assert len(units) == 1 and units[0].error is not None


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_reader_never_raises_on_garbage(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "x.hl7"
    p.write_bytes(b"MSH|^~\\&|" + data)
    for unit in read_messages(p):
        assert unit.record is not None or isinstance(unit.error, InputError)


# --- segments outside any message, and files cut off in the middle ---------------------------


def test_a_file_starting_with_a_pid_is_hl7v2_and_the_pid_is_an_error_record(tmp_path: Path) -> None:
    from etl.config import JobConfig
    from etl.pipeline import convert

    path = _write(tmp_path, ["PID|1||999^^^H^MR||Roe^Jane||19800101|F", *_msg("A1")])
    summary = convert([path], tmp_path / "out", JobConfig(parquet=False))
    assert (summary.files[0].format, summary.succeeded, summary.rejected) == ("hl7v2", 1, 1)
    (record,) = [orjson.loads(x) for x in (tmp_path / "out" / "errors" / "OperationOutcome.000.ndjson").read_bytes().splitlines()]
    assert "outside any message" in record["issue"][0]["details"]["text"]
    assert "line 1" in record["issue"][0]["diagnostics"]


def test_each_run_of_stray_segments_is_its_own_error_record(tmp_path: Path) -> None:
    segs = ["BHS|^~\\&|A", "PID|1||x", "PV1|1|I", *_msg("A1"), "BTS|1", "PID|1||y", "BHS|^~\\&|B", *_msg("A2"), "BTS|1"]
    units = list(read_messages(_write(tmp_path, segs)))
    assert [u.record.control_id for u in units if u.record] == ["A1", "A2"]
    strays = [u.error for u in units if u.error is not None]
    assert [e.location.where for e in strays if e.location] == ["line 2", "line 8"]
    assert "2 segment(s) outside any message, from line 2" in strays[0].message


@pytest.mark.parametrize("envelope", [("BHS|^~\\&|A",), ("FHS|^~\\&|A",), ("FHS|^~\\&|A", "BHS|^~\\&|A")])
def test_a_batch_cut_off_mid_message_rejects_that_message(tmp_path: Path, envelope: tuple[str, ...]) -> None:
    whole = [*envelope, *_msg("A1"), *_msg("A2")]
    text = "\r".join(whole)
    p = tmp_path / "cut.hl7"
    p.write_bytes(text[: text.rindex("Welby") ].encode())  # cut inside the last PV1, before any BTS/FTS
    units = list(read_messages(p))
    assert units[0].record is not None and units[0].record.control_id == "A1"
    cut = units[1].error
    assert isinstance(cut, EnvelopeError) and cut.code == "incomplete" and "cut off" in cut.message
    assert units[1].location.where == "message 2 at line " + str(len(envelope) + 4)
    assert cut.quoted == {"MSH-10": "A2"}
    assert all(u.error is not None for u in units[1:])  # and the missing trailer(s)


def test_a_file_ending_inside_an_mllp_block_rejects_the_last_message(tmp_path: Path) -> None:
    p = tmp_path / "mllp.hl7"
    p.write_bytes(b"\x0b" + "\r".join(_msg("A1")).encode() + b"\r\x1c\r" + b"\x0b" + "\r".join(_msg("A2")).encode() + b"\r")
    units = list(read_messages(p))
    assert units[0].record is not None
    assert units[1].error is not None and units[1].error.code == "incomplete" and "MLLP" in units[1].error.message


def test_a_last_segment_without_terminator_follows_strictness(tmp_path: Path) -> None:
    from etl.config import Strictness

    p = tmp_path / "cut.hl7"
    p.write_bytes("\r".join(_msg("A1")).encode()[:-4])  # no final CR: maybe cut off
    (warned,) = list(read_messages(p))
    assert warned.record is not None and any("segment terminator" in w for w in warned.warnings)
    (strict,) = list(read_messages(p, Strictness.RAISE))
    assert strict.error is not None and strict.error.code == "incomplete"
    (quiet,) = list(read_messages(p, Strictness.IGNORE))
    assert quiet.record is not None and quiet.warnings == []
    # A file whose last segment ends with CR (or an MLLP end block) is whole: no warning.
    p.write_bytes("\r".join(_msg("A1")).encode() + b"\r\n")
    assert [u.warnings for u in read_messages(p)] == [[]]
    p.write_bytes(b"\x0b" + "\r".join(_msg("A1")).encode() + b"\x1c")
    assert [u.warnings for u in read_messages(p)] == [[]]
