"""The DAG task bodies as plain functions: claim, convert a batch, load a batch, settle inputs.

They take and return only paths and counts (what may travel through XCom: no data, no PHI).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.fhir.outcome import EXT_SOURCE_FILE
from etl.flows import landing
from etl.stage.manifest import read_manifest
from etl.stage.ndjson import read_ndjson


def claim_batches(root: Path, fmt: str, run: str, max_files: int = 50, max_bytes: int = 512 << 20) -> list[dict[str, Any]]:
    """Claim landed files for this run; one dict per batch: ``{"index", "files"}``."""
    files = landing.claim(root, fmt, run)
    return [{"index": i, "files": b} for i, b in enumerate(landing.batches(files, max_files, max_bytes))]


def convert_batch(root: Path, fmt: str, run: str, day: str, batch: dict[str, Any], config: JobConfig) -> dict[str, Any]:
    """Convert one batch into ``staged/<fmt>/<day>/<run>/batch-NNN``; returns its counts and path."""
    from etl.pipeline import convert

    out = landing.folders(root, fmt, run, day)["out"] / f"batch-{int(batch['index']):03d}"
    summary = convert([Path(p) for p in batch["files"]], out, config, format_name=None)
    return {
        "out": str(out),
        "attempted": summary.attempted,
        "succeeded": summary.succeeded,
        "rejected": summary.rejected,
        "skipped": summary.skipped,
        "resources": dict(summary.resources),
        "files": {f.name: f.rejected for f in summary.files},
        # inputs holding nothing new (every unit skipped as already loaded): settle sets them aside
        "only_skipped": sorted(f.name for f in summary.files if f.only_skipped),
        "skips": summary.skips,
    }


def load_batch(result: dict[str, Any], config: JobConfig) -> dict[str, Any]:
    """``$import`` one converted batch; returns what was sent and found per type."""
    from etl.load.importer import import_folder

    report = import_folder(Path(result["out"]), config)
    return {"out": result["out"], **report.to_dict()}


def settle_inputs(root: Path, fmt: str, run: str, day: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Move each claimed input to ``archive/<fmt>/<day>``; if any of its units was rejected, to
    ``quarantine/<fmt>/<day>`` with its error records; if all of them were skipped as already loaded
    (a re-sent file), to ``duplicates/<fmt>/<day>``. Returns counts per destination and the skips."""
    f = landing.folders(root, fmt, run)
    day = landing.safe_name(day)
    moved: dict[str, Any] = {"archived": 0, "quarantined": 0, "duplicates": 0, "rejected_units": 0, "skips": []}
    for result in results:
        errors = _errors_by_file(Path(result["out"]))
        only_skipped = set(result.get("only_skipped", []))
        moved["skips"] += result.get("skips", [])
        for name, rejected in result["files"].items():
            src = f["in"] / name
            if name in only_skipped and not rejected:
                landing.settle(src, f["duplicates"] / day)
                moved["duplicates"] += 1
            elif rejected:
                landing.settle(src, f["quarantine"] / day, errors.get(name, []))
                moved["quarantined"] += 1
                moved["rejected_units"] += int(rejected)
            else:
                landing.settle(src, f["archive"] / day)
                moved["archived"] += 1
    return moved


def _errors_by_file(out: Path) -> dict[str, list[dict[str, Any]]]:
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        manifest = read_manifest(out)
    except FileNotFoundError:
        return by_file
    for entry in manifest.get("error", []):
        for rec in read_ndjson(out / entry["url"]):
            name = next((e.get("valueString") for e in rec.get("extension", []) if e.get("url") == EXT_SOURCE_FILE), "")
            by_file[str(name)].append(rec)
    return by_file
