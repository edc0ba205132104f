"""The output folder as a transaction: build everything in ``OUT/.staging``, then publish.

Publishing removes ``manifest.json`` first, swaps each staged sub-folder into place with
``os.replace``, and writes the manifest last. So a folder with a manifest is always complete and
consistent, a killed run leaves the previous complete output (or none) plus a ``.staging`` folder
that the next run clears, and a re-run of the same inputs produces the same files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from etl.stage.manifest import MANIFEST, write_json_atomic

PARTS = ("fhir", "parquet", "errors", "warnings")


def fresh_staging(out: Path) -> Path:
    """An empty ``OUT/.staging`` (leftovers of a killed run are removed)."""
    staging = out / ".staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def publish(out: Path, staging: Path, manifest: dict[str, Any]) -> None:
    """Move the staged parts into ``out`` and write the manifest last."""
    (out / MANIFEST).unlink(missing_ok=True)
    for part in PARTS:
        new, cur = staging / part, out / part
        old = out / f".old-{part}"
        if old.exists():
            shutil.rmtree(old)
        if cur.exists():
            os.replace(cur, old)
        if new.exists():
            os.replace(new, cur)
        if old.exists():
            shutil.rmtree(old)
    write_json_atomic(out / MANIFEST, manifest)
    shutil.rmtree(staging, ignore_errors=True)
