"""The ``fhirflow`` command as a user runs it: output folder, summary, exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from conftest import native_state

from etl.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, main
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
    assert {o["type"] for o in manifest["output"]} == {
        "Account", "AllergyIntolerance", "Condition", "Coverage", "Device", "Encounter", "EpisodeOfCare", "Location",
        "Observation", "Organization", "Patient", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
        "RelatedPerson"}
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


def _fhirflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "fhirflow"), *args], capture_output=True, text=True)


@pytest.mark.parametrize(("args", "says"), [
    (["--max-file-mb", "-5"], "argument --max-file-mb: must be at least 1 MiB, not -5"),
    (["--max-file-mb", "lots"], "argument --max-file-mb: must be a whole number of MiB, not 'lots'"),
    (["--timezone", "Mars/Olympus"], "argument --timezone: must be an IANA time zone"),
    (["--transaction-time", "yesterday"], "argument --transaction-time: must be a date and time with an offset"),
    (["--file-mode", "0999"], "argument --file-mode: must be octal permission bits"),
    (["--fhir-url", "http://x", "--timeout", "0"], "argument --timeout: must be at least 1 seconds, not 0"),
])
def test_a_bad_option_value_is_one_plain_line_in_the_users_units(tmp_path: Path, args: list[str], says: str) -> None:
    proc = _fhirflow("run", str(GOOD), "-o", str(tmp_path / "out"), *args)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.count("\n") == 1 and says in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    proc = _fhirflow("convert", str(GOOD), str(tmp_path / "no-such.hl7"), "-o", str(tmp_path / "out"))
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr == f"fhirflow: input {tmp_path / 'no-such.hl7'} does not exist or cannot be read (No such file or directory)\n"


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    for out, why in ((tmp_path / "file", "it is not a folder"), (tmp_path / "file" / "out", "Not a directory")):
        proc = _fhirflow("convert", str(GOOD), "-o", str(out))
        assert proc.returncode == EXIT_USAGE
        assert proc.stderr == f"fhirflow: the output folder {out} cannot be written: {why}\n"


def test_output_files_get_the_file_mode(tmp_path: Path) -> None:
    def modes(out: Path) -> set[int]:
        return {os.stat(p).st_mode & 0o777 for p in out.rglob("*") if p.is_file()}

    assert main(["convert", str(GOOD), "-o", str(tmp_path / "a")]) == EXIT_OK
    assert modes(tmp_path / "a") == {0o640}
    assert os.stat(tmp_path / "a" / "fhir").st_mode & 0o777 == 0o750
    assert os.stat(tmp_path / "a" / "manifest.json").st_mode & 0o777 == 0o640
    assert main(["convert", str(GOOD), "-o", str(tmp_path / "b"), "--file-mode", "600"]) == EXIT_OK
    assert modes(tmp_path / "b") == {0o600}
    assert os.stat(tmp_path / "b" / "parquet" / "Patient").st_mode & 0o777 == 0o700


def test_the_run_state_database_is_written_for_the_owner_only(tmp_path: Path) -> None:
    x12 = next((HL7.parent / "x12").rglob("*837*"))
    assert main(["convert", str(x12), "-o", str(tmp_path / "out")]) in (EXIT_OK, EXIT_REJECTED)
    modes = {p.name: os.stat(p).st_mode & 0o777 for p in tmp_path.glob(".fhirflow-state.db*")}
    assert modes and set(modes.values()) == {0o600}, modes


def test_follow_symlinks_reads_a_link_out_of_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "link.hl7").symlink_to(GOOD)
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "a")]) == EXIT_OK
    assert "1 symlink(s) leading outside the input folder" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "in"), "-o", str(tmp_path / "b"), "--follow-symlinks"]) == EXIT_OK
    assert "link.hl7 [hl7v2]: 1/1 converted" in capsys.readouterr().out


@pytest.mark.parametrize(("fault", "status", "says"), [
    (OSError(28, "No space left on device"), EXIT_FAILED, "fhirflow: convert failed: [Errno 28] No space left on device\n"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "fhirflow: interrupted; the previous output is still the published one\n"),
])
def test_a_run_that_fails_under_way_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch, fault: BaseException,
                                               status: int, says: str) -> None:
    import etl.pipeline

    def failing(*args: object, **kwargs: object) -> None:
        raise fault

    monkeypatch.setattr(etl.pipeline, "convert", failing)
    assert main(["convert", str(GOOD), "-o", str(tmp_path / "out")]) == status
    assert capsys.readouterr().err == says


def test_the_readme_exit_status_table_is_the_clis() -> None:
    import re

    from etl import cli

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = {int(n) for n in re.findall(r"^\| \*\*(\d+)\*\* \|", readme, flags=re.M)}
    codes = {v for k, v in vars(cli).items() if k.startswith("EXIT_")}
    assert table == codes == {0, 1, 2, 3, 130}
