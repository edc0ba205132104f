"""The ``fhirflow`` command as a user runs it: output folder, summary, exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from conftest import native_state

from etl.cli import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, main
from etl.fhir.outcome import source_excerpt

HL7 = Path(__file__).resolve().parent / "data" / "hl7v2"
GOOD = HL7 / "fhir-converter" / "ADT-A01-01.hl7"


def _mixed(tmp_path: Path) -> Path:
    bad = tmp_path / "mixed.hl7"
    good = GOOD.read_bytes().rstrip(b"\r\n")
    bad.write_bytes(good + b"\rMSH|^~\\&|X|Y|Z|W|20240101||ADT^A01|BROKEN1|P|2.5\rPID|1||^^^X||Nobody\r")
    return bad


def test_convert_clean_input_exits_0_and_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["convert", str(GOOD), "-o", str(out), "--transaction-time", "2026-01-01T00:00:00Z"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "1 converted, 0 rejected" in printed and "Patient" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["transactionTime"] == "2026-01-01T00:00:00Z"
    assert {o["type"] for o in manifest["output"]} == {"Patient", "Encounter"}
    assert list((out / "parquet" / "Patient").glob("*.parquet"))


def test_rejected_unit_exits_3_and_keeps_the_good_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["convert", str(_mixed(tmp_path)), "-o", str(out)]) == EXIT_REJECTED
    assert "1 unit(s) rejected" in capsys.readouterr().err
    (err,) = [orjson.loads(x) for x in (out / "errors" / "OperationOutcome.000.ndjson").read_bytes().splitlines()]
    assert err["issue"][0]["diagnostics"].startswith("mixed.hl7: ") and "BROKEN1" not in err["issue"][0]["diagnostics"]
    assert source_excerpt(err["issue"][0])["MSH-10"] == "BROKEN1"  # quoted for the analyst, not in the text
    assert (out / "fhir" / "Patient.000.ndjson").read_bytes().count(b"\n") == 1


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(tmp_path), "--fhir-url", ""]) == EXIT_USAGE
    assert "--fhir-url is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: missing -o
        main(["convert", str(GOOD)])
    assert exc.value.code == EXIT_USAGE


def test_console_script_is_installed(tmp_path: Path) -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "fhirflow"), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("fhirflow ")
    assert proc.stdout.rstrip().endswith("(compiled)" if native_state() == "compiled" else "(pure Python)")


@pytest.mark.hapi
def test_run_converts_and_loads_into_hapi(tmp_path: Path, hapi_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["run", str(_mixed(tmp_path)), str(HL7 / "fhir-converter" / "ORU-R01-01.hl7"), "-o", str(out),
                 "--fhir-url", hapi_url, "--max-wait", "2", "--id-salt", "cli-test"])
    assert code == EXIT_REJECTED  # loaded, but one message was rejected
    for path in (out / "fhir").glob("*.ndjson"):
        ids = sorted({orjson.loads(x)["id"] for x in path.read_bytes().splitlines()})
        rtype = path.name.split(".")[0]
        r = httpx.post(f"{hapi_url}/{rtype}/_search", data={"_id": ",".join(ids), "_summary": "count"}, timeout=60)
        assert r.json()["total"] == len(ids), rtype
