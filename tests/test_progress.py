"""Progress of a conversion: rich bars on a terminal, a line every 10 s without one, nothing with
--quiet. A fake clock and a fake terminal; the ticker thread is replaced by calling ``tick()``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from etl import cli
from etl.config import JobConfig
from etl.pipeline import convert
from etl.progress import LineReporter, RichReporter, fd_position

DATA = Path(__file__).resolve().parent / "data"
X12 = DATA / "x12" / "837P" / "uhin-x12-parser" / "837.edi"
HL7 = DATA / "hl7v2" / "python-hl7" / "sample_batch1.hl7"
PHI = ["MARQUARDT", "19461111", "1606"]  # a name, a birth date and the CLM01 of the X12 sample


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_terminal_a_line_every_10_seconds_with_counts_and_rates(tmp_path: Path) -> None:
    clock, out = Clock(), io.StringIO()
    positions = {X12.name: 0}
    rep = LineReporter(out, clock=clock, probe=lambda p: positions[p.name], thread=False)
    rep.start([X12, HL7])
    rep.file(0, X12, "x12")
    clock.now += 5
    rep.tick()
    assert out.getvalue() == ""  # not yet 10 s
    # a long unit: no unit is done, yet the reader's position moved and a line comes
    positions[X12.name] = X12.stat().st_size // 2
    clock.now += 6
    rep.tick()
    (line,) = out.getvalue().splitlines()
    assert "reading file 1/2 837.edi (50% of" in line and "0 transaction sets" in line
    rep.unit(["Claim", "Patient", "Coverage"])
    clock.now += 10
    rep.tick()
    second = out.getvalue().splitlines()[1]
    assert "1 transaction sets, 3 resources" in second and "resources/s" in second and "claims/s" in second
    assert "left" in second  # an estimate from the bytes read of all inputs
    rep.phase("parquet", 4)
    rep.step()
    clock.now += 10
    rep.tick()
    assert out.getvalue().splitlines()[-1].startswith("fhirflow: parquet: 1/4 done")
    rep.close()
    assert not any(v in out.getvalue() for v in PHI)


def test_terminal_bars_per_phase_update_between_units() -> None:
    clock, screen = Clock(), io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160, color_system=None)
    pos = {"at": 0}
    rep = RichReporter(console, clock=clock, probe=lambda p: pos["at"], thread=False)
    rep.start([X12])
    rep.file(0, X12, "x12")
    size = X12.stat().st_size
    for step in range(1, 5):  # four ticks inside one unit: the reading bar moves with the file position
        pos["at"] = size * step // 4
        clock.now += 0.25
        rep.tick()
        assert rep.bars.tasks[0].completed == size * step // 4
    rep.unit(["Claim", "Patient"])
    clock.now += 1
    rep.tick()
    rep.phase("parquet", 2)
    rep.step()
    rep.tick()
    rep.phase("publish", 1)
    rep.step()
    rep.close()
    text = screen.getvalue()
    for bar in ("reading", "mapping", "parquet", "publish"):
        assert bar in text
    assert "837.edi (1/1)" in text and "1 transaction sets" in text
    assert re.search(r"2 resources, \d+/s, \d+ claims/s", text)
    assert not any(v in text for v in PHI)


def test_the_pipeline_reports_every_file_unit_and_phase(tmp_path: Path) -> None:
    calls: list[tuple[object, ...]] = []

    class Recorder:
        def start(self, files: object) -> None: calls.append(("start",))
        def file(self, index: int, path: Path, fmt: str) -> None: calls.append(("file", index, fmt))
        def unit(self, types: object) -> None: calls.append(("unit", len(types)))  # type: ignore[arg-type]
        def phase(self, name: str, total: int) -> None: calls.append(("phase", name))
        def step(self) -> None: calls.append(("step",))
        def close(self) -> None: calls.append(("close",))

    convert([X12, HL7], tmp_path / "out", JobConfig(), progress=Recorder())
    assert calls[0] == ("start",) and calls[-1] == ("close",)
    assert [c for c in calls if c[0] == "file"] == [("file", 0, "x12"), ("file", 1, "hl7v2")]
    assert int([c[1] for c in calls if c[0] == "unit"][0]) > 1  # type: ignore[call-overload]  # the claim's resources
    assert [c[1] for c in calls if c[0] == "phase"] == ["parquet", "publish"]


def test_the_read_position_comes_from_the_open_descriptor(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    p.write_bytes(b"x" * 100)
    with open(p, "rb", buffering=0) as fh:
        fh.read(42)
        assert fd_position(p) in (42, None)  # None off Linux
    assert fd_position(p) is None  # closed


def test_cli_quiet_and_no_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    made: list[object] = []
    real = cli._reporter

    def recording(quiet: bool) -> object:
        made.append(real(quiet))
        return made[-1]

    monkeypatch.setattr(cli, "_reporter", recording)
    cli.main(["convert", str(HL7), "-o", str(tmp_path / "a"), "--quiet"])
    cli.main(["convert", str(HL7), "-o", str(tmp_path / "b")])  # capsys: stderr is no terminal
    assert made[0] is None and isinstance(made[1], LineReporter)
    assert "\r" not in capsys.readouterr().err
