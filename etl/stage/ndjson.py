"""NDJSON output: one resource type per file, rotated at a size limit, deduplicated by id.

Files are named ``<Type>.<part:03d>.ndjson`` and written under a staging folder; the pipeline
renames the whole folder into place once complete (see :mod:`etl.stage.output`), so a reader never
sees a half-written file.

The same resource can come out of many units (one Patient in every claim of a member). Identical
copies are written once. When a later unit carries a different version of the same id (an ADT^A08
update, an X12 replacement claim) the later one wins: the earlier line is dropped when the file is
finalised, so every id appears exactly once per run. Which ids were written, and where, is kept in
bounded memory by :class:`etl.stage.seen.SeenIndex` (spilling to a scratch SQLite file in the
folder), so a run of any size holds the same few megabytes of it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import IO, Any

import orjson

from etl.errors import StageError
from etl.stage.seen import MEMORY_IDS, IdKey, SeenIndex
from etl.stage.seen import key as _key

INDEX_FILE = ".seen.sqlite"  # the supersede index's scratch file, in the folder until close()

# What :meth:`NdjsonSink.write_line` did with a line (falsy only for the identical copy).
SAME = 0  # an identical copy of a line already written: nothing written
NEW = 1  # the first line of its id (or a line without an id)
REPLACED = 2  # its id was written before with other content: this line replaces that one


def dumps_line(resource: dict[str, Any]) -> bytes:
    """One NDJSON line: canonical JSON (UTF-8, keys in mapper order, no whitespace) and a newline."""
    return orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE)


@dataclass
class _TypeState:
    code: int  # the type's number in the SeenIndex
    part: int = 0
    size: int = 0
    fh: IO[bytes] | None = None
    paths: list[Path] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # lines written to each part
    superseded: int = 0  # lines written that a later version of their id will drop


class NdjsonSink:
    """Writes resources into ``folder`` grouped by ``resourceType``.

    ``memory_ids`` bounds the ids held in memory (see :class:`etl.stage.seen.SeenIndex`); the output
    is the same whatever it is.
    """

    def __init__(self, folder: Path, max_bytes: int, memory_ids: int = MEMORY_IDS) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._types: dict[str, _TypeState] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self.seen = SeenIndex(folder / INDEX_FILE, memory_ids)

    def write(self, resource: dict[str, Any]) -> int:
        """Add one resource; :data:`SAME` (0) if an identical copy was already written, else
        :data:`NEW` or :data:`REPLACED`."""
        return self.write_line(resource["resourceType"], resource.get("id"), dumps_line(resource))

    def write_line(self, rtype: str, rid: str | None, line: bytes) -> int:
        """Add one resource already serialized by :func:`dumps_line`; returns :data:`SAME`,
        :data:`NEW` or :data:`REPLACED` (the last version of an id is the one kept)."""
        st = self._types.get(rtype)
        if st is None:
            st = self._types[rtype] = _TypeState(self.seen.add_type())
        k: IdKey = 0
        h = 0
        outcome = NEW
        if rid:
            k, h = _key(rid), hash(line)
            prev = self.seen.get(st.code, k)
            if prev is not None:
                if prev[0] == h:
                    return SAME
                self.seen.drop(st.code, prev[1], prev[2])
                st.superseded += 1
                outcome = REPLACED
        if st.fh is None or (st.size and st.size + len(line) > self.max_bytes):
            self._rotate(rtype, st)
        assert st.fh is not None
        offset = st.size
        st.fh.write(line)
        st.size += len(line)
        st.lines[st.part] += 1
        if rid:
            self.seen.put(st.code, k, (h, st.part, offset))
        return outcome

    def _rotate(self, rtype: str, st: _TypeState) -> None:
        if st.fh is not None:
            st.fh.close()
            st.part += 1
        path = self.folder / f"{rtype}.{st.part:03d}.ndjson"
        try:
            st.fh = open(path, "wb")
        except OSError as exc:
            raise StageError(f"cannot write {path}: {exc}") from exc
        st.paths.append(path)
        st.lines.append(0)
        st.size = 0

    def close(self) -> dict[str, list[tuple[Path, int]]]:
        """Finish every file; returns ``{type: [(path, line count), ...]}``."""
        result: dict[str, list[tuple[Path, int]]] = {}
        for rtype, st in sorted(self._types.items()):
            if st.fh is not None:
                st.fh.flush()
                os.fsync(st.fh.fileno())
                st.fh.close()
                st.fh = None
            if st.superseded:
                for part, offsets in groupby(self.seen.dropped(st.code), key=_part):
                    st.lines[part] -= _drop_lines(st.paths[part], (off for _, off in offsets))
            result[rtype] = list(zip(st.paths, st.lines))
        self.seen.close()
        return result


def _part(position: tuple[int, int]) -> int:
    return position[0]


def _drop_lines(path: Path, offsets: Iterable[int]) -> int:
    """Rewrite ``path`` without the lines starting at ``offsets`` (ascending); returns how many.

    The bytes between them are copied as they are, so nothing is parsed again.
    """
    tmp = path.with_suffix(".rewrite")
    dropped = pos = 0
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        for off in offsets:
            _copy(src, dst, off - pos, path)
            pos = off + len(src.readline())
            dropped += 1
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, path)
    return dropped


def _copy(src: IO[bytes], dst: IO[bytes], n: int, path: Path) -> None:
    while n > 0:
        chunk = src.read(min(n, 1 << 20))
        if not chunk:
            raise StageError(f"{path} is shorter than what was written to it")
        dst.write(chunk)
        n -= len(chunk)


def read_ndjson(path: Path) -> Iterator[dict[str, Any]]:
    """Resources of one NDJSON file, one at a time."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)
