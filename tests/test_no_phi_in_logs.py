"""No PHI in logs or in the run summary (what goes to XCom and the manifest): only counts, file
names, control numbers, field paths and codes.

The second test converts every sample in tests/data (all formats, the bad ones too, plus inputs made
to hit each message that once quoted the data), takes the patient values out of the samples
themselves (names, birth dates, ids, CLM01, MSH-10), and looks for them everywhere an operator sees
text: the log at DEBUG, the CLI's stdout and stderr, the summary, manifest and XCom dicts, and the
text of every error and warning record. The values belong only in the records' source excerpt.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from etl.cli import main
from etl.config import JobConfig
from etl.fhir.outcome import EXT_SOURCE_EXCERPT, source_excerpt
from etl.flows.tasks import convert_batch
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


# --- every sample ---------------------------------------------------------------------------

SAMPLES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".md"
                 and not {"expected", "golden", "sql-on-fhir"} & set(p.relative_to(DATA).parts))


def _at(fields: list[str], i: int) -> str:
    return fields[i].strip() if len(fields) > i else ""


def _hl7_values(text: str) -> Iterator[tuple[str, str]]:
    """(spec path, value) of MSH-10, PID-3.1, PID-5.1/.2 and PID-7 of every message."""
    for seg in re.split(r"[\r\n]+", text):
        seg = seg.strip("\x0b\x1c ")
        if len(seg) < 4 or seg[:3] not in ("MSH", "PID"):
            continue
        f = seg.split(seg[3])
        if seg.startswith("MSH") and len(f) > 9:
            yield "MSH-10", f[9]
        elif seg.startswith("PID"):
            for rep in _at(f, 3).split("~"):
                yield "PID-3", rep.split("^")[0]
            name = _at(f, 5).split("~")[0].split("^")
            yield from (("PID-5", part) for part in name[:2])
            yield "PID-7", _at(f, 7)[:8]


def _x12_values(text: str) -> Iterator[tuple[str, str]]:
    """(spec path, value) of NM103/NM104/NM109 of patients and subscribers, DMG02, CLM01, CLP01."""
    start = text.find("ISA")
    if start < 0 or len(text) < start + 106:
        return
    element, terminator = text[start + 3], text[start + 105]
    for seg in text[start:].split(terminator):
        e = seg.strip().split(element)
        if e[0] == "NM1" and _at(e, 1) in ("IL", "QC", "QD", "74"):
            yield from (("NM103", _at(e, 3)), ("NM104", _at(e, 4)), ("NM109", _at(e, 9)))
        elif e[0] == "DMG":
            yield "DMG02", _at(e, 2)
        elif e[0] == "CLM":
            yield "CLM01", _at(e, 1)
        elif e[0] == "CLP":
            yield "CLP01", _at(e, 1)


def _ccda_values(text: str) -> Iterator[tuple[str, str]]:
    """The patient's name parts, birthTime and ids in recordTarget/patientRole."""
    role = re.search(r"<patientRole\b.*?</patientRole>", text, re.S)
    if role is None:
        return
    body = role.group(0)
    for tag in ("given", "family"):
        yield from ((tag, m.strip()) for m in re.findall(rf"<{tag}\b[^>]*>([^<]+)</{tag}>", body))
    yield from (("birthTime", m) for m in re.findall(r'<birthTime\s+value="(\d{8})', body))
    yield from (("id", m) for m in re.findall(r'<id\b[^>]*\bextension="([^"]+)"', body))


def _distinctive(value: str) -> bool:
    # Short or common tokens ("1", "TEST", "JR") would match counts and words of any message.
    value = value.strip()
    if value.isdigit():
        # placeholder ids (123456789, 000000001) are also the samples' sender ids and control numbers
        return len(value) >= 6 and value not in "01234567890123456789" and len(set(value)) > 2
    return len(value) >= 5 and value.upper() not in {"PATIENT", "SMITH", "JONES", "UNKNOWN", "DOCUMENT",
                                                      "LABORATORY", "MESSAGE", "TESTING", "SUBSCRIBER"}


def _values(paths: list[Path]) -> dict[str, str]:
    """Value -> its spec path, for every distinctive patient value in ``paths``."""
    out: dict[str, str] = {}
    for p in paths:
        text = p.read_bytes().decode("utf-8", "replace")
        for path, value in (*_hl7_values(text), *_x12_values(text), *_ccda_values(text)):
            if _distinctive(value):
                out.setdefault(value.strip(), path)
    return out


def _bad_inputs(tmp: Path) -> list[Path]:
    """Inputs that hit each error and warning that once quoted the data."""
    msh = "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ADT^A01|{}|P|2.5"
    hl7 = tmp / "phi-hl7.hl7"
    hl7.write_text("\r".join([
        # a line break inside PID-5: the next "segment" starts with a name and a birth date
        msh.format("CTLPHI01"), "PID|1||MRNPHI01^^^H^MR||Quixote", "QUIXOTE^ALONSO^19470304|F",
        # bad codes: administrative sex, patient class
        msh.format("CTLPHI02"), "PID|1||MRNPHI02^^^H^MR||Sancho^Panza||19500101|Zanzibar", "PV1|1|DULCINEA",
    ]) + "\r")
    stray = tmp / "phi-stray.hl7"
    stray.write_text("PID|1||MRNPHI04^^^H^MR||Cervantes^Miguel||19470929|M\r" + msh.format("CTLPHI05")
                     + "\rPID|1||MRNPHI05^^^H^MR||Avellaneda^Alonso||19450101|M\r")
    claim = (DATA / "x12" / "837P" / "uhin-x12-parser" / "837.edi").read_text()
    assert "~\nHI*" in claim and "*19461111*F~" in claim
    no_hi = tmp / "phi-837-no-hi.edi"  # the claim is rejected (the message once quoted CLM01)
    # each its own ISA13/GS06/ST02, or the re-send check skips it
    # SE01 one less for the segment taken out, or the whole set is rejected for its count
    no_hi.write_text(re.sub(r"~\nSE\*(\d+)\*", lambda m: f"~\nSE*{int(m.group(1)) - 1}*",
                            re.sub(r"\nHI\*[^~]*~", "", claim, count=1)).replace("800000372", "800000901"))
    gender = tmp / "phi-837-gender.edi"  # a bad DMG03: a warning
    gender.write_text(claim.replace("*19461111*F~", "*19461111*Q~", 1).replace("800000372", "800000902"))
    ccda = tmp / "phi-broken.xml"
    doc = (DATA / "ccda" / "fhir-converter" / "input" / "CCD.ccda").read_text()
    # text read as markup: libxml2's message names "Dulcineo" as a tag
    ccda.write_text(doc.replace("</family>", "<Dulcineo></family>", 1))
    return [hl7, stray, no_hi, gender, ccda]


def _records(folder: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for p in sorted(folder.glob("*.ndjson")) for x in p.read_bytes().splitlines()]


def _without_excerpts(record: dict[str, Any]) -> str:
    issues = [{k: v for k, v in i.items() if k != "extension"} for i in record["issue"]]
    assert all(e["url"] == EXT_SOURCE_EXCERPT for i in record["issue"] for e in i.get("extension", []))
    return json.dumps({**record, "issue": issues})


def test_no_value_of_any_sample_reaches_logs_summaries_or_record_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_inputs(tmp_path)
    inputs = [*SAMPLES, *bad]
    phi = _values(inputs)
    assert {"MSH-10", "PID-3", "PID-5", "PID-7", "NM103", "DMG02", "CLM01", "given", "birthTime"} <= set(phi.values())
    assert len(phi) > 200
    phi.update({"QUIXOTE": "PID-5", "19470304": "PID-7", "Zanzibar": "PID-8", "DULCINEA": "PV1-2",
                "Dulcineo": "family"})

    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    status = main(["-vv", "convert", *map(str, inputs), "-o", str(out), "--no-parquet",
                   "--transaction-time", "2026-01-01T00:00:00Z", "--state", str(tmp_path / "state.db")])
    printed = capsys.readouterr()
    assert status == 3
    xcom = convert_batch(tmp_path / "root", "mixed", "run-1", "2026-01-01", {"index": 0, "files": list(map(str, inputs))},
                         JobConfig(id_salt="phi-test", parquet=False))
    summary_dict = json.loads((out / "manifest.json").read_text())["extension"]
    errors, warnings = _records(out / "errors"), _records(out / "warnings")
    assert errors and warnings

    seen = {
        "log": caplog.text,
        "stdout": printed.out,
        "stderr": printed.err,
        "manifest": (out / "manifest.json").read_text(),
        "summary": json.dumps(summary_dict),
        "xcom": json.dumps(xcom),
        "errors text": "\n".join(_without_excerpts(r) for r in errors),
        "warnings text": "\n".join(_without_excerpts(r) for r in warnings),
    }
    leaks = [(where, value, path) for where, text in seen.items() for value, path in phi.items() if value in text]
    assert leaks == [], "\n".join(map(str, leaks))

    # The analyst still gets the values: in the error NDJSON's source excerpt.
    excerpts = [source_excerpt(i) for r in errors for i in r["issue"]]
    quoted = {v for e in excerpts for v in e.values()}
    assert "CTLPHI01" in quoted  # MSH-10 of the rejected message
    assert any("Cervantes" in v for v in quoted)  # the PID outside any message
    assert any("QUIXOTE^ALONSO^19470304" in v for v in quoted)  # the bad "segment"
    assert any(e.get("CLM01") == "1606" for e in excerpts)  # the claim rejected for its missing HI
    assert any("Dulcineo" in e.get("libxml2", "") for e in excerpts)
    warned = {v for r in warnings for i in r["issue"] for v in source_excerpt(i).values()}
    assert {"Zanzibar", "DULCINEA", "Q"} <= warned  # PID-8, PV1-2, DMG03
