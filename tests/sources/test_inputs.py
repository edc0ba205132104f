"""Hostile input trees: only regular files are read, symlinks stay inside the input folder, every
entry not read is counted, and error records name the input path relative to the folder named."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import orjson
import pytest

from etl.config import JobConfig
from etl.fhir.outcome import EXT_SOURCE_FILE
from etl.pipeline import convert
from etl.stage.manifest import read_manifest
from etl.summary import RunSummary

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "fhir-converter"
GOOD = (HL7 / "ADT-A01-01.hl7").read_bytes()
BAD = b"MSH|^~\\&|X|Y|Z|W|20240101||ADT^A01|BROKEN1|P|2.5\rPID|1||^^^X||Nobody\r"


def _records(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for p in sorted((out / "errors").glob("*.ndjson")) for line in p.read_bytes().splitlines()]


def _source_files(out: Path) -> list[str]:
    return sorted(e["valueString"] for r in _records(out) for e in r["extension"] if e["url"] == EXT_SOURCE_FILE)  # type: ignore[index, union-attr, attr-defined]


@pytest.mark.timeout(60)
def test_a_fifo_is_refused_with_an_error_record_and_never_opened(tmp_path: Path, config: JobConfig) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "good.hl7").write_bytes(GOOD)
    os.mkfifo(tree / "pipe.hl7")
    os.mkfifo(tmp_path / "named.hl7")
    summary = convert([tree, tmp_path / "named.hl7"], tmp_path / "out", config)  # would block on open
    assert summary.succeeded == 1 and summary.rejected == 2
    assert _source_files(tmp_path / "out") == ["named.hl7", "pipe.hl7"]
    texts = [r["issue"][0]["details"]["text"] for r in _records(tmp_path / "out")]  # type: ignore[index]
    assert all("FIFO" in t and "not a regular file" in t for t in texts)


def test_a_socket_and_a_device_are_refused(tmp_path: Path, config: JobConfig) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tree / "s.hl7"))
        summary = convert([tree, Path("/dev/null")], tmp_path / "out", config)
    finally:
        sock.close()
    assert {f.name: f.rejected for f in summary.files} == {"s.hl7": 1, "null": 1}
    texts = sorted(r["issue"][0]["details"]["text"] for r in _records(tmp_path / "out"))  # type: ignore[index]
    assert texts[0].startswith("a device, not a regular file") and texts[1].startswith("a socket, not a regular file")


def test_a_symlink_leading_out_of_the_input_folder_is_skipped_unless_followed(tmp_path: Path, config: JobConfig) -> None:
    secret = tmp_path / "elsewhere" / "passwd"
    secret.parent.mkdir()
    secret.write_bytes(GOOD)  # stands for /etc/passwd: anything outside the tree the user named
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "sneaky.hl7").symlink_to(secret)
    (tree / "dir").symlink_to(secret.parent, target_is_directory=True)
    summary = convert([tree], tmp_path / "out", config)
    assert summary.attempted == 0 and not summary.files
    assert summary.entries_skipped == {"symlink(s) leading outside the input folder": 2}
    followed = convert([tree], tmp_path / "out2", JobConfig(id_salt="test-salt", follow_symlinks=True))
    assert [f.name for f in followed.files] == ["sneaky.hl7"]  # one file, reached once
    assert followed.succeeded == 1 and followed.entries_skipped == {"second path(s) to a file already read": 1}


def test_a_symlink_inside_the_input_folder_is_followed(tmp_path: Path, config: JobConfig) -> None:
    tree = tmp_path / "in"
    (tree / ".hidden").mkdir(parents=True)
    (tree / ".hidden" / "msg.hl7").write_bytes(GOOD)
    (tree / "visible.hl7").symlink_to(tree / ".hidden" / "msg.hl7")
    summary = convert([tree], tmp_path / "out", config)
    assert [(f.name, f.succeeded) for f in summary.files] == [("visible.hl7", 1)]


def test_hidden_entries_and_dangling_symlinks_are_counted_and_said(tmp_path: Path, config: JobConfig) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "good.hl7").write_bytes(GOOD)
    (tree / ".uploading.hl7").write_bytes(GOOD)
    (tree / ".git").mkdir()
    (tree / "gone.hl7").symlink_to(tmp_path / "nowhere")
    summary = convert([tree], tmp_path / "out", config)
    assert summary.succeeded == 1
    assert summary.entries_skipped == {"hidden": 2, "dangling symlink(s)": 1}
    assert "not read (entries of the input folders): 1 dangling symlink(s), 2 hidden" in summary.render()
    in_manifest = read_manifest(tmp_path / "out")["extension"]["https://fhirflow.dev/summary"]
    assert in_manifest["entries_skipped"] == {"dangling symlink(s)": 1, "hidden": 2}
    assert RunSummary().render().count("not read") == 0


def test_two_files_of_one_name_in_two_folders_are_told_apart(tmp_path: Path, config: JobConfig) -> None:
    tree = tmp_path / "in"
    for day in ("day1", "day2"):
        (tree / day).mkdir(parents=True)
        (tree / day / "msg.hl7").write_bytes(GOOD.rstrip(b"\r\n") + b"\r" + BAD)
    summary = convert([tree], tmp_path / "out", config)
    assert [f.name for f in summary.files] == ["day1/msg.hl7", "day2/msg.hl7"]
    assert _source_files(tmp_path / "out") == ["day1/msg.hl7", "day2/msg.hl7"]
    diagnostics = sorted(r["issue"][0]["diagnostics"] for r in _records(tmp_path / "out"))  # type: ignore[index]
    assert diagnostics[0].startswith("day1/msg.hl7: ") and diagnostics[1].startswith("day2/msg.hl7: ")


def test_inputs_that_would_share_a_name_keep_the_path_given(tmp_path: Path, config: JobConfig) -> None:
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "msg.hl7").write_bytes(BAD)
    summary = convert([tmp_path / "a" / "msg.hl7", tmp_path / "b"], tmp_path / "out", config)
    assert [f.name for f in summary.files] == [str(tmp_path / "a" / "msg.hl7"), str(tmp_path / "b" / "msg.hl7")]
    assert _source_files(tmp_path / "out") == sorted(f.name for f in summary.files)
