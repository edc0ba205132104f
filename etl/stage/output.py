"""The output folder as a transaction: every run writes a new generation, one rename publishes it.

Layout of an output folder ``OUT``::

    OUT/.generations/000007/{manifest.json, fhir/, parquet/, errors/, warnings/}   one per run
    OUT/.current     -> .generations/000007      the published generation (a symlink)
    OUT/manifest.json -> .current/manifest.json  fixed links: the paths readers use
    OUT/fhir          -> .current/fhir           (likewise parquet, errors, warnings)

A run builds its generation in full (files, then their modes, then the manifest), and publishing it
is a single ``rename(2)`` of a new symlink over ``OUT/.current``: atomic on POSIX, so whenever the
process dies, every path under ``OUT`` resolves either to the previous generation or to the new one,
each whole (the manifest lists exactly the files beside it). Generations other than the current one
are removed after the switch and, should a run be killed first, by the next run.

Why this scheme rather than ``OUT`` itself being the symlink: ``OUT`` stays a real folder, so its
identity (the default run id, ``OUT/../`` ledgers, a mount point, an Airflow batch folder) does not
change per run, nothing is written outside it, and the paths users already have
(``OUT/manifest.json``, ``OUT/fhir/...``, DuckDB's ``OUT/parquet/<Type>/*.parquet``) keep
resolving through the fixed links, which are created once and never change. A reader that reads
the manifest and then its files in two steps should pin one generation with
:func:`current_generation` (the importer and the settle step do), or a run publishing in between
could hand it the next generation's files. A recursive glob (``OUT/**/*.parquet``) does not follow
symlinks in DuckDB and finds each file once, under ``.generations/``.

A folder written before generations (real ``fhir/`` etc.) is moved aside on its first publish; that
one-time migration is not atomic (a kill in it leaves no manifest, never a mixed folder). One writer
per output folder at a time: a second run into the same folder clears the first one's generation.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etl.stage.manifest import MANIFEST, write_json_atomic

PARTS = ("fhir", "parquet", "errors", "warnings")
GENERATIONS = ".generations"
CURRENT = ".current"
# The steps of :func:`publish`, in order; ``on_step`` is called with each name before it runs
# ("done": after the last), which is where the fault-injection test kills the process.
PUBLISH_STEPS = ("modes", "manifest", "links", "switch", "cleanup", "done")
DEFAULT_FILE_MODE = 0o640

StepHook = Callable[[str], None]


def fresh_staging(out: Path) -> Path:
    """A new, empty generation ``OUT/.generations/NNNNNN`` with an empty folder per part.

    What killed runs left (generations that are not current, a pre-generation ``.staging``) is
    removed first."""
    gens = out / GENERATIONS
    gens.mkdir(parents=True, exist_ok=True)
    _remove_others(out)
    shutil.rmtree(out / ".staging", ignore_errors=True)
    current = _current_name(out)
    n = int(current) + 1 if current.isdigit() else 1
    while True:
        staging = gens / f"{n:06d}"
        try:
            staging.mkdir()
            break
        except FileExistsError:
            n += 1
    for part in PARTS:  # all of them, so no fixed link ever dangles (an empty parquet/ with --no-parquet)
        (staging / part).mkdir()
    return staging


def current_generation(out: Path) -> Path:
    """The folder ``out``'s paths resolve to now (``out`` itself for a folder from before generations).

    Read a manifest and the files it lists from this one path: it stays whole while a later run
    publishes (until that run's cleanup removes it)."""
    link = out / CURRENT
    if link.is_symlink():
        return Path(os.path.realpath(link))
    return out


def publish(out: Path, staging: Path, manifest: dict[str, Any], *, file_mode: int = DEFAULT_FILE_MODE,
            on_step: StepHook | None = None) -> None:
    """Make the generation ``staging`` the output of ``out``: set modes, write its manifest, then
    switch ``OUT/.current`` to it with one rename, and remove the other generations."""
    step = on_step or _no_step
    step("modes")
    _set_modes(staging, file_mode)
    step("manifest")
    write_json_atomic(staging / MANIFEST, manifest)
    os.chmod(staging / MANIFEST, file_mode)
    step("links")
    _fixed_links(out)
    step("switch")
    _symlink_atomic(f"{GENERATIONS}/{staging.name}", out / CURRENT)
    _fsync_dir(out)
    step("cleanup")
    _remove_others(out)
    step("done")


def _no_step(name: str) -> None:
    pass


def _current_name(out: Path) -> str:
    link = out / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else ""


def _remove_others(out: Path) -> None:
    """Every generation but the current one (superseded, or left by a killed run)."""
    keep = _current_name(out)
    gens = out / GENERATIONS
    for child in sorted(gens.iterdir()) if gens.is_dir() else []:
        if child.name != keep:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def _set_modes(root: Path, file_mode: int) -> None:
    """``file_mode`` on every file (flushed to disk, so the switch never publishes data the kernel
    still holds); folders get the same bits plus search (x) where reading is allowed, and the owner
    always keeps rwx so the next run can remove them."""
    dir_mode = file_mode | ((file_mode & 0o444) >> 2) | 0o700
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, dir_mode)
        for name in files:
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(path, file_mode)
        _fsync_dir(Path(folder))


def _fixed_links(out: Path) -> None:
    """``OUT/<entry> -> .current/<entry>`` for the manifest and each part; a real file or folder
    there (an output from before generations) is moved aside, the manifest first."""
    aside = out / GENERATIONS / "pre-generations"
    for entry in (MANIFEST, *PARTS):
        path, target = out / entry, f"{CURRENT}/{entry}"
        if path.is_symlink() and os.readlink(path) == target:
            continue
        if path.exists() and not path.is_symlink():
            aside.mkdir(exist_ok=True)
            os.replace(path, aside / entry)
        _symlink_atomic(target, path)


def _symlink_atomic(target: str, link: Path) -> None:
    """Point ``link`` (in ``OUT``) at ``target`` in one rename: readers see the old link or the new,
    never none. The new link is made in ``.generations`` (its text is read relative to where it ends
    up), so one that a kill leaves behind is cleared with the other leftovers."""
    tmp = link.parent / GENERATIONS / f".{link.name}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

