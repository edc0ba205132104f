"""The DAG task bodies as plain functions: claim, convert a batch, load a batch, settle inputs.

They take and return only paths and counts (what may travel through XCom: no data, no PHI).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.config import JobConfig
from etl.fhir.outcome import EXT_SOURCE_FILE
from etl.flows import landing
from etl.stage.manifest import read_manifest
from etl.stage.ndjson import read_ndjson
from etl.stage.output import current_generation
from etl.state.store import now

if TYPE_CHECKING:
    from etl.state import StateStore


def claim_batches(root: Path, fmt: str, run: str, max_files: int = 50, max_bytes: int = 512 << 20) -> list[dict[str, Any]]:
    """Claim landed files for this run; one dict per batch: ``{"index", "files"}``."""
    files = landing.claim(root, fmt, run)
    return [{"index": i, "files": b} for i, b in enumerate(landing.batches(files, max_files, max_bytes))]


def convert_batch(root: Path, fmt: str, run: str, day: str, batch: dict[str, Any], config: JobConfig) -> dict[str, Any]:
    """Convert one batch into ``staged/<fmt>/<day>/<run>/batch-NNN``; returns its counts and path."""
    from etl.pipeline import convert

    out = landing.folders(root, fmt, run, day)["out"] / f"batch-{int(batch['index']):03d}"
    if config.run_label is None:  # the Parquet files name the Airflow run they come from
        config = replace(config, run_label=run)
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
        "superseded": dict(summary.superseded),  # per type: replaced a version written earlier in the run
        "kept": dict(summary.kept),  # per kind: source content kept raw as extensions (HL7 v2 Z-segments)
    }


def convert_studies(root: Path, fmt: str, run: str, day: str, results: list[dict[str, Any]],
                    config: JobConfig) -> list[dict[str, Any]]:
    """DICOM: after every batch of the run was read (each recorded its instances and the studies it
    touched), emit each touched study once, whole, into ``staged/<fmt>/<day>/<run>/studies``. Returns
    the batches' results followed by the studies' (``files`` empty: its error records name studies,
    not inputs), for the load step to map over."""
    from etl.pipeline import convert

    out = landing.folders(root, fmt, run, day)["out"] / "studies"
    summary = convert([f"dicom-run:{run}"], out, config, format_name=fmt)
    studies = {"out": str(out), "attempted": summary.attempted, "succeeded": summary.succeeded,
               "rejected": summary.rejected, "skipped": 0, "resources": dict(summary.resources), "files": {},
               "only_skipped": [], "skips": [], "superseded": dict(summary.superseded), "studies": True}
    return [*results, studies]


def convert_dicomweb(root: Path, url: str, run: str, day: str, config: JobConfig) -> dict[str, Any]:
    """Read a DICOMweb server's studies in ``config``'s StudyDate window into
    ``staged/dicomweb/<day>/<run>/batch-000``; returns its counts and path (no data, no UIDs)."""
    from etl.pipeline import convert
    from etl.sources.dicom.dicomweb import shown

    out = landing.folders(root, "dicomweb", run, day)["out"] / "batch-000"
    summary = convert([url if url.startswith("dicomweb+") else f"dicomweb+{url}"], out, config)
    return {"out": str(out), "server": shown(url.removeprefix("dicomweb+")), "attempted": summary.attempted,
            "succeeded": summary.succeeded, "rejected": summary.rejected, "resources": dict(summary.resources)}


def load_batch(result: dict[str, Any], config: JobConfig) -> dict[str, Any]:
    """``$import`` one converted batch; returns what was sent and found per type."""
    from etl.load.importer import import_folder

    report = import_folder(Path(result["out"]), config)
    return {"out": result["out"], **report.to_dict()}


def settle_inputs(root: Path, fmt: str, run: str, day: str, results: list[dict[str, Any]],
                  state: StateStore | None = None) -> dict[str, Any]:
    """Move each claimed input to ``archive/<fmt>/<day>``; if any of its units was rejected, to
    ``quarantine/<fmt>/<day>`` with its error records; if all of them were skipped as already loaded
    (a re-sent file), to ``duplicates/<fmt>/<day>``. Never over another original (see
    :func:`etl.flows.landing.settle`). Returns counts per destination, the skips, and in ``settled``
    where each input went: ``{"file", "to", "errors"}``, paths relative to ``root`` (``to`` None:
    settled by an earlier try). With a run-state database, each is recorded there too, by content
    hash (:mod:`etl.state.files`)."""
    f = landing.folders(root, fmt, run)
    day = landing.safe_name(day)
    moved: dict[str, Any] = {"archived": 0, "quarantined": 0, "duplicates": 0, "rejected_units": 0, "skips": [],
                             "settled": []}
    for result in results:
        errors = _errors_by_file(Path(result["out"]))
        only_skipped = set(result.get("only_skipped", []))
        moved["skips"] += result.get("skips", [])
        for name, rejected in result["files"].items():
            src, records = f["in"] / name, errors.get(name, []) if rejected else []
            if name in only_skipped and not rejected:
                outcome, to = "duplicates", landing.settle(src, f["duplicates"] / day)
            elif rejected:
                outcome, to = "quarantined", landing.settle(src, f["quarantine"] / day, records)
                moved["rejected_units"] += int(rejected)
            else:
                outcome, to = "archived", landing.settle(src, f["archive"] / day)
            moved[outcome] += 1
            err = to.with_name(f"{to.name}.errors.ndjson") if to is not None and records else None
            moved["settled"].append({"file": name, "to": _rel(to, root), "errors": _rel(err, root)})
            if state is not None and to is not None:
                state.files.record(run, fmt, name, landing.sha256_of(to), outcome, str(_rel(to, root)), now())
    return moved


def _rel(path: Path | None, root: Path) -> str | None:
    return None if path is None else str(path.relative_to(root))


def _errors_by_file(out: Path) -> dict[str, list[dict[str, Any]]]:
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out = current_generation(out)  # the manifest and the records it lists from one generation
    try:
        manifest = read_manifest(out)
    except FileNotFoundError:
        return by_file
    for entry in manifest.get("error", []):
        for rec in read_ndjson(out / entry["url"]):
            name = next((e.get("valueString") for e in rec.get("extension", []) if e.get("url") == EXT_SOURCE_FILE), "")
            by_file[str(name)].append(rec)
    return by_file
