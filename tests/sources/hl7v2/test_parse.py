"""Streaming HL7 v2 reader: terminators, BOM, batches, broken envelopes."""

from __future__ import annotations

from pathlib import Path

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
    assert units[0].location.where == "message 1 (MSH-10 A1)"


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


def test_bhs_without_bts_is_reported_and_messages_still_read(tmp_path: Path) -> None:
    units = list(read_messages(_write(tmp_path, ["BHS|^~\\&|A", *_msg("A1")])))
    assert units[0].record is not None
    assert isinstance(units[1].error, EnvelopeError)
    assert "has no BTS" in units[1].error.message


def test_bts_count_mismatch(tmp_path: Path) -> None:
    units = list(read_messages(_write(tmp_path, ["BHS|^~\\&|A", *_msg("A1"), "BTS|3"])))
    err = units[-1].error
    assert isinstance(err, EnvelopeError) and err.location is not None
    assert err.location.expression == "BTS-1"
    assert "3 messages, but 1 were found" in err.message


def test_missing_msh10_is_located_by_position(tmp_path: Path) -> None:
    segs = [*_msg("A1"), *(_msg("")), *_msg("A3")]
    units = list(read_messages(_write(tmp_path, segs)))
    assert units[1].location.where == "message 2 at line 4 (no MSH-10)"


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
