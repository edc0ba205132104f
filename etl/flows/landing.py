"""The landing-folder protocol shared by every file-driven DAG.

Layout under a root folder (one sub-folder per source format)::

    landing/<fmt>/        producers drop files here (write as .name or name.part, then rename)
    work/<fmt>/<run>/     files claimed by one run (moved atomically: no file is processed twice)
    staged/<fmt>/<day>/<run>/batch-NNN/  converted output (NDJSON, Parquet, errors, manifest),
                          partitioned by the run's data-interval day; kept for analysts
    archive/<fmt>/<day>/  inputs that converted completely
    quarantine/<fmt>/<day>/ inputs with rejected units, beside their error records
    duplicates/<fmt>/<day>/ inputs with nothing new: every interchange already loaded (X12 re-sends)

Claiming is ``os.rename`` inside one filesystem, so two concurrent runs cannot both take a file; a
retried claim re-uses what the run already holds.
"""

from __future__ import annotations

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


def settle(path: Path, dest_dir: Path, errors: list[dict[str, object]] | None = None) -> Path:
    """Move an input to ``dest_dir`` (archive or quarantine); error records go beside it."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / path.name
    if path.exists():
        os.replace(path, target)
    if errors:
        import orjson

        tmp = dest_dir / f".{path.name}.errors.ndjson.tmp"
        with open(tmp, "wb") as fh:
            for rec in errors:
                fh.write(orjson.dumps(rec) + b"\n")
        os.replace(tmp, dest_dir / f"{path.name}.errors.ndjson")
    return target


def cleanup_run(root: Path, fmt: str, run: str) -> None:
    """Remove the run's work folder once its inputs are settled."""
    shutil.rmtree(root / "work" / fmt / safe_name(run), ignore_errors=True)
