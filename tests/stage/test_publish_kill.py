"""A run killed anywhere in publishing leaves the previous output or the new one, each whole.

Fault injection, not timing: a forked child process runs the real pipeline with every file-system mutation
(``os.replace``, ``unlink``, ``symlink``, ``chmod``, ``rmtree``, ...) counted from the moment
``publish`` starts, and SIGKILLs itself just before mutation number N (and once just after publish
returns). A first run counts the mutations; then every N is tried on a folder that holds a previous
output. Whatever N, ``OUT/manifest.json`` lists exactly the files under ``OUT/fhir``/``errors``/
``warnings`` with their counts, the Parquet tables match, and the content is the old or the new run's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from etl.config import JobConfig
from etl.pipeline import convert
from etl.stage.manifest import read_manifest

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
OLD = [HL7 / "fhir-converter" / "ADT-A01-01.hl7"]
NEW = [HL7 / "fhir-converter" / "LAB-ORU-1.hl7", HL7 / "python-hl7" / "sample_bad_batch.hl7"]
READER_PATHS = ("manifest.json", "fhir", "parquet", "errors", "warnings")
SALT, WHEN = "kill-test", "2026-01-01T00:00:00+00:00"

_MUTATIONS = [(os, "replace"), (os, "rename"), (os, "unlink"), (os, "rmdir"), (os, "mkdir"), (os, "symlink"),
              (os, "link"), (os, "chmod"), (shutil, "rmtree"), (shutil, "move")]


def _run(out: Path, kill_at: int, inputs: list[Path]) -> tuple[int, int]:
    """Convert in a forked child that SIGKILLs itself before file-system mutation ``kill_at`` of
    publish (``mutations + 1``: just after publish returns; 0: never). Returns the child's wait
    status and the number of mutations it counted (when it lived)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            _child(out, kill_at, inputs, write)
        finally:
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as fh:
        told = fh.read()
    _, status = os.waitpid(pid, 0)
    return status, int(told or -1)


def _child(out: Path, kill_at: int, inputs: list[Path], write: int) -> None:
    import etl.pipeline as pipeline

    state = {"active": False, "n": 0}

    def counted(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if state["active"]:
                state["n"] += 1
                if state["n"] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)
        return wrapper

    for module, name in _MUTATIONS:
        setattr(module, name, counted(getattr(module, name)))
    real_publish = pipeline.publish

    def publish(*args: Any, **kwargs: Any) -> None:
        state["active"] = True
        real_publish(*args, **kwargs)
        state["active"] = False
        if kill_at == state["n"] + 1:
            os.kill(os.getpid(), signal.SIGKILL)

    pipeline.publish = publish  # type: ignore[assignment]
    pipeline.convert(inputs, out, JobConfig(id_salt=SALT, transaction_time=WHEN))
    os.write(write, str(state["n"]).encode())
    os._exit(0)


def _state(out: Path) -> dict[str, str]:
    """The output as a reader finds it, checked whole: every file the manifest lists and no other,
    line counts as listed, one Parquet part per NDJSON part with as many rows. Returns digests."""
    manifest = read_manifest(out)
    listed = {o["url"]: o["count"] for o in manifest["output"] + manifest["error"]}
    listed |= {w["url"]: w["count"] for w in manifest["extension"]["https://fhirflow.dev/warnings"]}
    present = {f"{part}/{p.name}" for part in ("fhir", "errors", "warnings") for p in (out / part).iterdir()}
    assert present == set(listed)
    for url, count in listed.items():
        assert (out / url).read_bytes().count(b"\n") == count
    for o in manifest["output"]:
        part = o["url"].split(".")[-2]
        table = pq.read_metadata(out / "parquet" / o["type"] / f"part-{part}.parquet")
        assert table.num_rows == o["count"]
    tables = {f"{t.name}/{p.name}" for t in (out / "parquet").iterdir() if t.name[:1].isupper() for p in t.iterdir()}
    assert len(tables) == len(manifest["output"])
    # the analyst tables (parquet/<view>/): each part the manifest lists, with its rows, and no other
    analyst = {f"parquet/{t.name}/{p.name}" for t in (out / "parquet").iterdir() if not t.name[:1].isupper()
               for p in t.iterdir()}
    staged = manifest["extension"]["https://fhirflow.dev/tables"]
    assert analyst == {t["url"] for t in staged}
    for t in staged:
        assert pq.read_metadata(out / t["url"]).num_rows == t["count"]
    digests = {url: hashlib.sha256((out / url).read_bytes()).hexdigest() for url in listed}
    digests["manifest"] = hashlib.sha256(str(sorted(listed.items())).encode()).hexdigest()
    return digests


@pytest.mark.timeout(900)
def test_a_kill_at_any_step_of_publish_leaves_the_old_output_or_the_new_one_whole(tmp_path: Path) -> None:
    config = JobConfig(id_salt=SALT, transaction_time=WHEN)
    convert(OLD, tmp_path / "old", config)
    convert(NEW, tmp_path / "new", config)
    old, new = _state(tmp_path / "old"), _state(tmp_path / "new")
    assert old != new

    template = tmp_path / "template"
    convert(OLD, template, config)  # into the same folder twice: a previous generation to clean up
    convert(OLD, template, config)

    def with_old_output(name: str) -> Path:
        shutil.copytree(template, tmp_path / name, symlinks=True)
        return tmp_path / name

    status, steps = _run(with_old_output("count"), 0, NEW)
    assert os.waitstatus_to_exitcode(status) == 0
    assert steps >= 5
    outcomes = []
    for kill_at in range(1, steps + 2):
        out = with_old_output(f"kill-{kill_at}")
        status, _ = _run(out, kill_at, NEW)
        assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL, kill_at
        found = _state(out)
        assert found in (old, new), f"killed before mutation {kill_at} of publish: a mixed output"
        outcomes.append("new" if found == new else "old")
        # The next run clears what the killed one left and publishes whole.
        convert(NEW, out, config)
        assert _state(out) == new
        assert set(os.listdir(out)) <= {*READER_PATHS, ".current", ".generations"}  # nothing left over
        assert len(os.listdir(out / ".generations")) <= 1 if (out / ".generations").exists() else True
    assert outcomes[0] == "old" and outcomes[-1] == "new"
    assert outcomes == sorted(outcomes, key=["old", "new"].index)  # one switch, never back


def test_paths_readers_use_resolve_into_the_current_generation(tmp_path: Path, config: JobConfig) -> None:
    convert(OLD, tmp_path, config)
    convert(NEW, tmp_path, config)
    for entry in READER_PATHS:
        assert (tmp_path / entry).exists(), entry
    assert read_manifest(tmp_path)["output"]
    assert sorted(os.listdir(tmp_path / ".generations")) == [os.readlink(tmp_path / ".current").split("/")[-1]]


def test_an_output_folder_from_before_generations_is_taken_over(tmp_path: Path, config: JobConfig) -> None:
    (tmp_path / "fhir").mkdir()
    (tmp_path / "fhir" / "Stale.000.ndjson").write_text("{}\n")
    (tmp_path / "manifest.json").write_text('{"output": []}')
    (tmp_path / ".staging").mkdir()
    convert(NEW, tmp_path, config)
    convert(NEW, tmp_path / "ref", config)
    assert _state(tmp_path) == _state(tmp_path / "ref")
    assert not (tmp_path / ".staging").exists()
    assert (tmp_path / "fhir").is_symlink()
