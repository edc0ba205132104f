"""``fhirflow convert s3://in/… -o s3://out/…`` against a real S3 API server (moto on 127.0.0.1):
inputs downloaded, output uploaded as a generation prefix with the CURRENT pointer written last."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pytest

from etl.cli import main
from etl.config import JobConfig
from etl.pipeline import convert
from etl.stage import remote

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "python-hl7"


def _ndjson(fs: fsspec.AbstractFileSystem, gen: str) -> dict[str, list[str]]:
    manifest = json.loads(fs.cat_file(f"{gen}/manifest.json"))
    return {o["url"]: sorted(fs.cat_file(f"{gen}/{o['url']}").decode().splitlines()) for o in manifest["output"]}


def test_convert_from_and_to_s3(s3: str, tmp_path: Path) -> None:
    fs = fsspec.filesystem("s3")
    fs.put_file(str(HL7 / "sample_file1.hl7"), f"{s3[5:]}/in/a/sample_file1.hl7")
    fs.put_file(str(HL7 / "sample_batch1.hl7"), f"{s3[5:]}/in/a/sample_batch1.hl7")
    code = main(["convert", f"{s3}/in/a", "-o", f"{s3}/out/run1", "--no-state", "-q", "--id-salt", "s3",
                 "--transaction-time", "2026-01-01T00:00:00+00:00"])
    assert code == 0
    pointer = remote.read_pointer(f"{s3}/out/run1")
    gen = f"{s3[5:]}/out/run1/generations/{pointer['generation']}"
    assert pointer["manifest"] == f"generations/{pointer['generation']}/manifest.json"
    # the same resources as a local conversion of the same inputs
    import shutil

    folder = tmp_path / "in"  # the same folder, so the files are read in the same order
    folder.mkdir()
    for name in ("sample_file1.hl7", "sample_batch1.hl7"):
        shutil.copy(HL7 / name, folder / name)
    local = tmp_path / "local"
    convert([folder], local,
            JobConfig(id_salt="s3", transaction_time="2026-01-01T00:00:00+00:00"))
    from etl.stage.output import current_generation

    lgen = current_generation(local)
    expected = {o["url"]: sorted((lgen / o["url"]).read_text().splitlines())
                for o in json.loads((lgen / "manifest.json").read_text())["output"]}
    assert _ndjson(fs, gen) == expected and expected


def test_a_failed_upload_leaves_the_previous_generation_current(s3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = fsspec.filesystem("s3")
    fs.put_file(str(HL7 / "sample_file1.hl7"), f"{s3[5:]}/in/one.hl7")
    assert main(["convert", f"{s3}/in/one.hl7", "-o", f"{s3}/out", "--no-state", "-q"]) == 0
    first = remote.read_pointer(f"{s3}/out")

    calls = {"n": 0}
    real = fs.put_file  # fsspec mirrors the sync methods onto the (cached) instance

    def dying(lpath: str, rpath: str, *a: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("connection reset while uploading")
        return real(lpath, rpath, *a, **kw)

    monkeypatch.setattr(fs, "put_file", dying)
    assert main(["convert", f"{s3}/in/one.hl7", "-o", f"{s3}/out", "--no-state", "-q"]) == 1
    assert remote.read_pointer(f"{s3}/out") == first  # readers still see the whole first generation
    assert fs.exists(f"{s3[5:]}/out/{first['manifest']}")


def test_a_missing_input_is_a_usage_error(s3: str) -> None:
    assert main(["convert", f"{s3}/in/nothing.hl7", "-o", f"{s3}/out", "--no-state", "-q"]) == 2
