"""No PHI in logs or in the run summary (what goes to XCom and the manifest): only counts, file
names, control numbers, field paths and codes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from etl.config import JobConfig
from etl.pipeline import convert

DATA = Path(__file__).resolve().parent / "data"
INPUTS = [
    DATA / "hl7v2" / "fhir-converter" / "ORU-R01-01.hl7",  # PID-5 Finn^Huckleberry, born 19630815
    DATA / "x12" / "837P" / "uhin-x12-parser" / "837.edi",  # 2010BA NM1*IL MARQUARDT, DMG 19461111
    DATA / "ccda" / "fhir-converter" / "input" / "CCD.ccda",
]
# Names, birth dates and member ids that stand in the inputs above (and must stay in the outputs).
PHI = ["Huckleberry", "MARQUARDT", "1963-08-15", "19630815", "19461111", "Isabella", "Jones"]


def test_logs_and_summary_carry_no_phi(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.hl7"
    bad.write_bytes(b"MSH|^~\\&|X|Y|Z|W|20240101||ADT^A01|BAD1|P|2.5\rPID|1||^^^X||Huckleberry^Finn||19630815\r")
    caplog.set_level(logging.DEBUG)
    summary = convert([*INPUTS, bad], tmp_path / "out", JobConfig(id_salt="phi-test"))
    assert summary.rejected == 1 and summary.succeeded >= 3
    outputs = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out" / "fhir").glob("*.ndjson"))
    assert "Huckleberry" in outputs and "MARQUARDT" in outputs  # the data is there...
    logged = caplog.text + json.dumps(summary.to_dict())
    manifest = (tmp_path / "out" / "manifest.json").read_text(encoding="utf-8")
    for value in PHI:  # ...but never in logs, the XCom summary or the manifest
        assert value not in logged, value
        assert value not in manifest, value
