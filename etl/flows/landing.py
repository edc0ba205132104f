"""The landing-folder protocol shared by every file-driven DAG.

Layout under a root folder (one sub-folder per source format)::

    landing/<fmt>/        producers drop files here (write as .name or name.part, then rename)
    work/<fmt>/<run>/     files claimed by one run (moved atomically: no file is processed twice)
    staged/<fmt>/<day>/<run>/batch-NNN/  converted output (NDJSON, Parquet, errors, manifest),
                          partitioned by the run's data-interval day; kept for analysts
    archive/<fmt>/<day>/  inputs that converted completely
    quarantine/<fmt>/<day>/ inputs with rejected units, beside their error records
    duplicates/<fmt>/<day>/ inputs with nothing new: every interchange already loaded (X12 re-sends)
                          (none of the three is overwritten: a second, different file of a name
                          gets ``<stem>.<sha256[:12]><suffix>``)

Claiming is ``os.rename`` inside one filesystem, so two concurrent runs cannot both take a file; a
retried claim re-uses what the run already holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

IGNORED_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload")


def safe_name(text: str) -> str:
    """A run id or date as a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def folders(root: Path, fmt: str, run: str, day: str = "") -> dict[str, Path]:
    run = safe_name(run)
    return {
        "landing": root / "landing" / fmt,
        "in": root / "work" / fmt / run,
        "out": root / "staged" / fmt / safe_name(day or "undated") / run,
        "archive": root / "archive" / fmt,
        "quarantine": root / "quarantine" / fmt,
        "duplicates": root / "duplicates" / fmt,
    }


def ready(path: Path) -> bool:
    """Files still being written (hidden, or with a partial-upload suffix) are left alone."""
    return path.is_file() and not path.name.startswith(".") and not path.name.endswith(IGNORED_SUFFIXES)


def claim(root: Path, fmt: str, run: str, limit: int | None = None) -> list[Path]:
    """Move ready files from the landing folder into this run's ``in`` folder; returns all the
    run holds (sorted), including files claimed by an earlier try of the same run."""
    f = folders(root, fmt, run)
    f["landing"].mkdir(parents=True, exist_ok=True)
    f["in"].mkdir(parents=True, exist_ok=True)
    taken = 0
    for path in sorted(f["landing"].iterdir()):
        if limit is not None and taken >= limit:
            break
        if not ready(path):
            continue
        try:
            os.rename(path, f["in"] / path.name)
            taken += 1
        except FileNotFoundError:
            continue  # another run claimed it first
    return sorted(p for p in f["in"].iterdir() if p.is_file())


def batches(paths: list[Path], max_files: int, max_bytes: int) -> list[list[str]]:
    """Group files into batches of at most ``max_files`` files and about ``max_bytes`` bytes."""
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for p in paths:
        n = p.stat().st_size
        if cur and (len(cur) >= max_files or size + n > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append(str(p))
        size += n
    if cur:
        out.append(cur)
    return out


def settle(path: Path, dest_dir: Path, errors: list[dict[str, object]] | None = None) -> Path | None:
    """Move an input into ``dest_dir`` (archive or quarantine) without overwriting another original;
    its error records go beside it as ``<name it got>.errors.ndjson``. Returns where it went (None:
    it was gone, settled by an earlier try of the task).

    The name is the input's own unless a *different* file of that name is already there (the same
    name sent twice in a day): then ``<stem>.<sha256[:12]><suffix>``. An identical original already
    there is the same evidence, and the copy is dropped. Error records are written before the input
    moves, so a retried settle (the input still in ``work/``) writes the same ones under the same name.
    """
    if not path.exists():
        return None
    dest_dir.mkdir(parents=True, exist_ok=True)
    while True:
        target = _free_name(path, dest_dir)
        if errors:
            _write_errors(dest_dir / f"{target.name}.errors.ndjson", errors)
        if _move_no_clobber(path, target):
            return target


def _free_name(path: Path, dest_dir: Path) -> Path:
    """``dest_dir/<name>`` if free or holding the same bytes, else the name with a content hash."""
    plain = dest_dir / path.name
    if not plain.exists() or sha256_of(plain) == sha256_of(path):
        return plain
    return dest_dir / f"{path.stem}.{sha256_of(path)[:12]}{path.suffix}"


def _move_no_clobber(path: Path, target: Path) -> bool:
    """Move ``path`` to ``target`` unless a different file took that name meanwhile (False then).
    A hard link fails where the name is taken, which ``rename`` would overwrite."""
    try:
        os.link(path, target)
    except FileExistsError:
        if sha256_of(target) != sha256_of(path):
            return False  # taken by another file since _free_name looked: choose again
    except OSError:  # no hard links on this filesystem: rename, after a last look
        if target.exists() and sha256_of(target) != sha256_of(path):
            return False
        os.replace(path, target)
        return True
    path.unlink()
    return True


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_errors(dest: Path, errors: list[dict[str, object]]) -> None:
    import orjson

    tmp = dest.with_name(f".{dest.name}.tmp")
    with open(tmp, "wb") as fh:
        for rec in errors:
            fh.write(orjson.dumps(rec) + b"\n")
    os.replace(tmp, dest)


def cleanup_run(root: Path, fmt: str, run: str) -> None:
    """Remove the run's work folder once its inputs are settled."""
    shutil.rmtree(root / "work" / fmt / safe_name(run), ignore_errors=True)
