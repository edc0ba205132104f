"""Which files a run reads: the inputs named, and the files inside named folders.

Only regular files are read. Every other entry is accounted for, never passed over in silence:

- a FIFO, socket or device is *refused*: an error record of its own (it is never opened, so a FIFO
  cannot block the run);
- inside a folder, hidden entries (``.name``: uploads in progress, editor files), dangling
  symlinks, symlinks whose target lies outside the folder (unless ``JobConfig.follow_symlinks``)
  and a second path to a file already taken are *skipped*: counted per reason in the summary
  (``RunSummary.entries_skipped``) and logged with their path.

A symlink named on the command line is followed (the user chose it, as ``find -H`` does). An input
that does not exist is a usage error (:class:`ConfigError`), not a rejected unit.

Each file gets the name that error records, the summary and the settle step use: its path relative
to the folder named (``day1/msg.hl7``), or its own name when named itself; when two inputs would get
the same name, both keep the path as given (``a/msg.hl7``, ``b/msg.hl7``), so no two look alike.
"""

from __future__ import annotations

import logging
import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from etl.errors import ConfigError

log = logging.getLogger(__name__)

# Reasons an entry is skipped, as the summary counts them ("2 hidden, 1 dangling symlink(s)").
HIDDEN = "hidden"
DANGLING = "dangling symlink(s)"
OUTSIDE = "symlink(s) leading outside the input folder"
TWICE = "second path(s) to a file already read"


@dataclass(frozen=True)
class InputFile:
    """One file to read: ``path`` to open, ``name`` to report, ``refused`` why it is not read."""

    path: Path
    name: str
    refused: str = ""
    url: str = ""  # a server to read from instead of a file (``dicomweb+http://HOST/dicom-web``)


URL_SCHEMES = ("dicomweb+http://", "dicomweb+https://", "dicom-run:")


def is_url(value: object) -> bool:
    """True for an input that names a server (a DICOMweb base URL), not a file."""
    return str(value).startswith(URL_SCHEMES)


def url_input(url: str) -> InputFile:
    """The input of a server URL: named without any user or password it carries."""
    from urllib.parse import urlsplit

    if url.startswith("dicom-run:"):  # the studies a DAG run touched (etl.sources.dicom.source)
        return InputFile(Path("dicom-run"), url, url=url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
    return InputFile(Path(host or "server"), shown, url=url)


def expand_inputs(inputs: Iterable[Path], *, follow_symlinks: bool = False,
                  skipped: Counter[str] | None = None) -> list[InputFile]:
    """The files of ``inputs`` (folders walked in name order); skips are counted into ``skipped``."""
    counts: Counter[str] = Counter() if skipped is None else skipped
    seen: set[str] = set()  # real paths taken, so a file reached twice is read once
    out: list[InputFile] = []
    for given in inputs:
        try:
            st = os.stat(given)
        except OSError as exc:
            raise ConfigError(f"input {given} does not exist or cannot be read ({exc.strerror})") from None
        if stat.S_ISDIR(st.st_mode):
            out += _walk(given, follow_symlinks, counts, seen)
        else:
            item = _entry(given, given.name, st.st_mode, seen, counts)
            out += [item] if item else []
    names = Counter(f.name for f in out)
    return [replace(f, name=str(f.path)) if names[f.name] > 1 else f for f in out]


def _walk(root: Path, follow: bool, counts: Counter[str], seen: set[str]) -> list[InputFile]:
    """Regular files below ``root`` in path order; symlinks stay inside ``root`` unless ``follow``."""
    real_root = os.path.realpath(root)
    out: list[InputFile] = []
    stack = [root]
    visited = {real_root}
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        subfolders = []
        for e in entries:
            rel = os.path.relpath(e.path, root)
            if e.name.startswith("."):
                _skip(counts, HIDDEN, rel, logging.INFO)
                continue
            if e.is_symlink():
                try:
                    real = os.path.realpath(e.path, strict=True)
                except OSError:  # no target, or a loop of links
                    _skip(counts, DANGLING, rel)
                    continue
                if not follow and os.path.commonpath([real_root, real]) != real_root:
                    _skip(counts, OUTSIDE, rel)
                    continue
            try:
                mode = os.stat(e.path).st_mode
            except OSError:  # gone since the listing
                _skip(counts, DANGLING, rel)
                continue
            if stat.S_ISDIR(mode):
                real = os.path.realpath(e.path)
                if real in visited:
                    _skip(counts, TWICE, rel)
                else:
                    visited.add(real)
                    subfolders.append(Path(e.path))
                continue
            item = _entry(Path(e.path), rel, mode, seen, counts)
            out += [item] if item else []
        stack += subfolders
    out.sort(key=lambda f: Path(f.name).parts)  # the order of sorted(rglob): the same run, the same output
    return out


def _entry(path: Path, name: str, mode: int, seen: set[str], counts: Counter[str]) -> InputFile | None:
    if not stat.S_ISREG(mode):
        return InputFile(path, name, refused=_kind(mode))
    real = os.path.realpath(path)
    if real in seen:
        _skip(counts, TWICE, name)
        return None
    seen.add(real)
    return InputFile(path, name)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _skip(counts: Counter[str], reason: str, rel: str, level: int = logging.WARNING) -> None:
    counts[reason] += 1
    log.log(level, "skipped %s (%s)", rel, reason)
