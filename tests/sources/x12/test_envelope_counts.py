"""GE01 and IEA01 (ASC X12.6 5010): a count that disagrees with what the file holds rejects every
transaction set it counts, before any of them is converted (a set may have been lost in transit);
with strictness ignore each converts with a warning."""

from __future__ import annotations

from pathlib import Path

from test_x12 import _837

from etl.config import JobConfig, Strictness
from etl.pipeline import convert


def _two_sets(ge01: str = "2", iea01: str = "1") -> bytes:
    one = _837("11:B:1").decode()
    head, _, rest = one.partition("ST*837*0001")
    body = "ST*837*0001" + rest.split("GE*1*1~")[0]
    second = body.replace("ST*837*0001", "ST*837*0002").replace("SE*", "SE*", 1).replace("*0001~", "*0002~")
    second = second.replace("PCN1", "PCN2")
    return (head + body + second + f"GE*{ge01}*1~\nIEA*{iea01}*000000001~\n").encode()


def test_a_file_with_right_counts_converts_both_sets(tmp_path: Path) -> None:
    (tmp_path / "in.x12").write_bytes(_two_sets())
    s = convert([tmp_path / "in.x12"], tmp_path / "out", JobConfig(parquet=False))
    assert (s.succeeded, s.rejected, s.resources["Claim"]) == (2, 0, 2)


def test_ge01_that_disagrees_rejects_every_set_of_the_group(tmp_path: Path) -> None:
    (tmp_path / "in.x12").write_bytes(_two_sets(ge01="3"))
    s = convert([tmp_path / "in.x12"], tmp_path / "out", JobConfig(parquet=False))
    assert (s.succeeded, s.rejected, s.errors) == (0, 2, 2) and s.resources["Claim"] == 0
    ignored = convert([tmp_path / "in.x12"], tmp_path / "out2", JobConfig(parquet=False, strictness=Strictness.IGNORE))
    assert (ignored.succeeded, ignored.rejected, ignored.warnings, ignored.resources["Claim"]) == (2, 0, 2, 2)


def test_iea01_that_disagrees_rejects_every_set_of_the_interchange(tmp_path: Path) -> None:
    (tmp_path / "in.x12").write_bytes(_two_sets(iea01="2"))
    s = convert([tmp_path / "in.x12"], tmp_path / "out", JobConfig(parquet=False))
    assert (s.succeeded, s.rejected) == (0, 2)
    text = (next((tmp_path / "out" / "errors").glob("*.ndjson"))).read_text()
    assert "IEA01" in text and "ST02=0001" in text and "ST02=0002" in text
