"""The first pass over an X12 file (etl/sources/x12/scan.py): identity, digest and envelope counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_x12 import DATA, _837

from etl.sources.x12 import scan

SAMPLES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".md")


def _facts(s: scan.InterchangeScan) -> tuple[object, ...]:
    return (s.ordinal, s.isa05, s.isa06, s.isa07, s.isa08, s.isa13, s.stamp, s.complete, s.group_counts, s.iea_count)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_byte_search_finds_what_the_tokenizer_finds(path: Path) -> None:
    with open(path, "rb") as fh:
        fast = scan._scan_bytes(fh)
    slow = scan._scan_segments(path)
    if fast is not None:
        assert [_facts(s) for s in fast] == [_facts(s) for s in slow]
        assert all(len(s.digest) == 64 for s in fast)


def test_the_digest_ignores_line_breaks_and_sees_one_changed_character(tmp_path: Path) -> None:
    base = _837("11:B:1")
    variants = {"lf": base, "crlf": base.replace(b"~\n", b"~\r\n"), "none": base.replace(b"~\n", b"~"),
                "wrapped": base.replace(b"~\n", b"~").replace(b"CLM*", b"\nCLM*")}
    digests = set()
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        (one,) = scan.scan_interchanges(tmp_path / name)
        digests.add(one.digest)
    assert len(digests) == 1
    (tmp_path / "changed").write_bytes(base.replace(b"CLM*PCN1*100", b"CLM*PCN1*101"))
    assert scan.scan_interchanges(tmp_path / "changed")[0].digest not in digests


def test_several_interchanges_and_a_newline_terminator(tmp_path: Path) -> None:
    two = _837("11:B:1") + _837("11:B:1", control="000000002", clm01="PCN2")
    (tmp_path / "two").write_bytes(two)
    first, second = scan.scan_interchanges(tmp_path / "two")
    assert (first.isa13, second.isa13) == ("000000001", "000000002") and first.digest != second.digest
    assert first.complete and second.complete and not first.group_counts
    # A line break as the segment terminator: read segment by segment, same facts.
    newline = _837("11:B:1").replace(b"~\n", b"\n").replace(b"*:\n", b"*:\n", 1)
    (tmp_path / "nl").write_bytes(newline)
    with open(tmp_path / "nl", "rb") as fh:
        assert scan._scan_bytes(fh) is None
    (only,) = scan.scan_interchanges(tmp_path / "nl")
    assert only.isa13 == "000000001" and only.complete and len(only.digest) == 64


def test_counts_that_disagree_are_found(tmp_path: Path) -> None:
    data = _837("11:B:1").replace(b"GE*1*1~", b"GE*2*1~").replace(b"IEA*1*", b"IEA*3*")
    (tmp_path / "bad").write_bytes(data)
    (one,) = scan.scan_interchanges(tmp_path / "bad")
    assert one.group_counts == {1: ("2", 1)} and one.iea_count == ("3", 1)
