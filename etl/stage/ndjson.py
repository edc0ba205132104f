"""NDJSON output: one resource type per file, rotated at a size limit, deduplicated by id.

Files are named ``<Type>.<part:03d>.ndjson`` and written under a staging folder; the pipeline
renames the whole folder into place once complete (see :mod:`etl.stage.output`), so a reader never
sees a half-written file.

The same resource can come out of many units (one Patient in every claim of a member). Identical
copies are written once. When a later unit carries a different version of the same id (an ADT^A08
update, an X12 replacement claim) the later one wins: the earlier line is dropped when the file is
finalised, so every id appears exactly once per run.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from etl.errors import StageError


def dumps_line(resource: dict[str, Any]) -> bytes:
    """One NDJSON line: canonical JSON (UTF-8, keys in mapper order, no whitespace) and a newline."""
    return orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE)


# fhirflow's own ids (etl.fhir.ids): 32 lower-case hex digits, i.e. a 128-bit number.
_HEX_ID = re.compile(r"[0-9a-f]{32}")

IdKey = int | str


def _key(resource_id: str) -> IdKey:
    """The seen-set key of an id: exact, so two different ids can never be taken for one (a hash
    collision would drop a claim as "superseded"). A fhirflow id becomes its 128-bit number (an
    int: about half the memory of the string, for millions of resources); any other id stays whole."""
    if len(resource_id) == 32 and _HEX_ID.fullmatch(resource_id):
        return int(resource_id, 16)
    return resource_id


@dataclass
class _TypeState:
    part: int = 0
    size: int = 0
    fh: IO[bytes] | None = None
    paths: list[Path] = field(default_factory=list)
    seen: dict[IdKey, int] = field(default_factory=dict)  # id key -> hash of the line
    superseded: Counter[IdKey] = field(default_factory=Counter)  # id key -> earlier lines to drop


class NdjsonSink:
    """Writes resources into ``folder`` grouped by ``resourceType``."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._types: dict[str, _TypeState] = defaultdict(_TypeState)
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, resource: dict[str, Any]) -> bool:
        """Add one resource; False if an identical copy was already written."""
        return self.write_line(resource["resourceType"], resource.get("id"), dumps_line(resource))

    def write_line(self, rtype: str, rid: str | None, line: bytes) -> bool:
        """Add one resource already serialized by :func:`dumps_line`."""
        st = self._types[rtype]
        if rid:
            k, h = _key(rid), hash(line)
            prev = st.seen.get(k)
            if prev == h:
                return False
            if prev is not None:
                st.superseded[k] += 1
            st.seen[k] = h
        if st.fh is None or (st.size and st.size + len(line) > self.max_bytes):
            self._rotate(rtype, st)
        assert st.fh is not None
        st.fh.write(line)
        st.size += len(line)
        return True

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
                _drop_superseded(st.paths, st.superseded)
            result[rtype] = [(p, _count_lines(p)) for p in st.paths]
            st.seen.clear()
        return result


def _drop_superseded(paths: list[Path], superseded: Counter[IdKey]) -> None:
    """Rewrite parts so that only the last version of each superseded id stays."""
    left = Counter(superseded)
    for path in paths:
        tmp = path.with_suffix(".rewrite")
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            for line in src:
                rid = orjson.loads(line).get("id")
                k = _key(rid) if rid else None
                if k is not None and left.get(k, 0) > 0:
                    left[k] -= 1
                    continue
                dst.write(line)
        os.replace(tmp, path)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def read_ndjson(path: Path) -> Iterator[dict[str, Any]]:
    """Resources of one NDJSON file, one at a time."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)
