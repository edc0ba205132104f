"""Load a converted folder into a FHIR server: publish, kick off ``$import``, poll, verify.

:func:`import_folder` is the ``fhirflow import`` command and the DAGs' load task. It raises
:class:`TransientLoadError` for faults its HTTP client could not ride out (a re-run resumes the
open job from its receipt: :mod:`etl.load.resume`) and
:class:`PermanentLoadError` for the rest; on success every resource of the manifest is on the server
(verified by id, so a re-load of the same folder verifies the same way and never duplicates).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from etl.config import JobConfig
from etl.errors import ConfigError, LoadError, PermanentLoadError
from etl.load import jobs, preflight
from etl.load.dialects import get_dialect
from etl.load.dialects.base import LoadContext, LoadInput
from etl.load.http import Sender
from etl.load.resume import make_client, resumable_receipt
from etl.load.verify import verify
from etl.stage.manifest import read_manifest
from etl.stage.ndjson import dumps_line
from etl.stage.output import current_generation
from etl.state import open_state
from etl.state.store import now

if TYPE_CHECKING:
    from etl.state import StateStore

log = logging.getLogger(__name__)

LOAD_ERRORS = "OperationOutcome.load.ndjson"  # in errors/: the resources the server refused


@dataclass
class ImportReport:
    """What a load did: the job's status URL, resources sent, refused and found per type."""

    dialect: str = ""
    status_url: str = ""
    sent: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # refused by the server: error records
    errors_file: str = ""  # where those are, relative to the folder
    polls: int = 0
    requests: int = 0
    message: str = ""
    loaded_interchanges: int = 0  # X12 interchanges this load marked loaded in the ledger
    server_counts: dict[str, int] = field(default_factory=dict)  # what a bulk job said it imported, per type
    server_errors: list[str] = field(default_factory=list)  # its error NDJSON, kept under errors/server/
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of "load" and "verify"

    def to_dict(self) -> dict[str, Any]:
        return {"dialect": self.dialect, "status_url": self.status_url, "sent": self.sent, "found": self.found,
                "rejected": self.rejected, "errors_file": self.errors_file, "polls": self.polls,
                "requests": self.requests, "loaded_interchanges": self.loaded_interchanges,
                "server_counts": self.server_counts, "server_errors": self.server_errors,
                "seconds": self.seconds}

    def render(self) -> str:
        width = max((len(t) for t in self.sent), default=8)
        lines = [f"{'type':<{width}} {'sent':>9} {'refused':>9} {'on server':>9}"]
        lines += [f"{t:<{width}} {n:>9} {self.rejected.get(t, 0):>9} {self.found.get(t, 0):>9}"
                  for t, n in sorted(self.sent.items())]
        if self.rejected:
            lines.append(f"{sum(self.rejected.values())} resource(s) refused by the server: see {self.errors_file}")
        short = {t: n for t, n in self.server_counts.items() if n < self.sent.get(t, 0)}
        if short:
            lines.append("the server reported importing fewer: " + ", ".join(f"{t} {n}" for t, n in sorted(short.items())))
        if self.server_errors:
            lines.append(f"the server reported errors: {', '.join(self.server_errors)}")
        return "\n".join(lines)


def import_folder(
    folder: Path,
    config: JobConfig,
    *,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ImportReport:
    """Import the ``fhir/`` NDJSON listed in ``folder/manifest.json`` into ``config.load.fhir_url``.

    With a run-state database (``config.state_url``) the load leaves a receipt (:mod:`etl.state.receipts`):
    the status URL at kick-off, the counts found on the server at the end, and only then are the
    folder's X12 interchanges marked ``loaded``. Without verification (``verify="none"``) the
    receipt says ``unverified`` and nothing is marked loaded: a re-send converts again.
    """
    cfg = config.load
    if not cfg.fhir_url:
        raise ConfigError("no FHIR server given: pass --fhir-url (or set FHIRFLOW_FHIR_URL)")
    given, folder = folder, current_generation(folder)  # one generation throughout, whatever a run publishes
    try:
        manifest = read_manifest(folder)
    except FileNotFoundError:
        raise ConfigError(f"{given} has no manifest.json: convert into it first (fhirflow convert ... -o {given})") from None
    state = open_state(config)
    try:
        return _import(given, folder, config, manifest, state, client, sleep, clock)
    finally:
        if state is not None:
            state.close()


def _import(output_folder: Path, folder: Path, config: JobConfig, manifest: dict[str, Any], state: StateStore | None,
            client: httpx.Client | None, sleep: Callable[[float], None], clock: Callable[[], float]) -> ImportReport:
    """Load ``folder`` (the pinned generation of ``output_folder``, which names the output in receipts)."""
    cfg = config.load
    base = cfg.fhir_url.rstrip("/")
    output = str(output_folder.resolve())
    run_id = config.run_id or output
    report = ImportReport(dialect=cfg.dialect)
    inputs = [LoadInput(o["type"], o["url"], int(o["count"])) for o in manifest.get("output", []) if o.get("count", 0) > 0]
    for i in inputs:
        report.sent[i.type] = report.sent.get(i.type, 0) + i.count
    _write_rejections(folder, [], config.file_mode)  # what a previous load of this folder refused is stale now
    if not inputs:
        report.message = "nothing to import"
        if state is not None:
            receipt = state.receipts.start(output, run_id, base, "", {}, now())
            report.loaded_interchanges = state.receipts.complete(receipt, {}, report.message, now())
        return report
    loader = get_dialect(cfg.dialect, cfg)
    flavour = getattr(loader, "flavour", None)  # the bulk $import dialects
    resumed = resumable_receipt(state, output, base, cfg) if flavour is not None else None
    if flavour is not None and resumed is None:
        # Pre-flight, before anything is sent: the server's rules (etl.load.preflight), exit 2 on a violation
        others = [r.output for r in state.receipts.open_at(base) if r.output != output] if state else []
        entries = [{"type": i.type, "url": i.path, "count": i.count} for i in inputs]
        checked = preflight.check(folder, entries, flavour, cfg, others)
        checked.raise_if_failed()
        rank = {t: n for n, t in enumerate(checked.order)}
        inputs.sort(key=lambda i: (rank.get(i.type, len(rank)), i.path))  # referenced types first
    own_client = client is None
    http = client or make_client(cfg, limits=httpx.Limits(max_connections=max(cfg.concurrency, cfg.verify_concurrency) + 2))
    sender = Sender(http, cfg, sleep=sleep)
    receipt = resumed.id if resumed is not None else 0
    if resumed is not None:
        report.status_url = resumed.status_url

    def started(status_url: str) -> None:
        nonlocal receipt
        report.status_url = status_url
        if state is not None:
            receipt = state.receipts.start(output, run_id, base, status_url, report.sent, now())

    def failed(error: LoadError) -> LoadError:
        if state is not None and receipt:
            state.receipts.fail(receipt, str(error), now())
        return error

    ctx = LoadContext(folder, inputs, base, cfg, sender, sleep, clock, started, config.id_salt,
                      resume_url=resumed.status_url if resumed is not None else "")
    try:
        t0 = clock()
        try:
            result = loader.load(ctx)
        except PermanentLoadError as exc:
            raise failed(exc) from None
        t1 = clock()
        report.seconds["load"] = round(t1 - t0, 3)
        report.polls, report.message, report.requests = result.polls, result.message, result.requests
        report.rejected = dict(result.rejected)
        report.errors_file = _write_rejections(folder, result.rejections, config.file_mode)
        report.server_counts = dict(result.server_counts)
        report.server_errors = jobs.keep_errors(sender, result.server_errors, folder, config.file_mode)
        if cfg.verify != "none":
            report.found = verify(sender, base, folder, inputs, cfg, set(result.refused))
            report.seconds["verify"] = round(clock() - t1, 3)
            expected = {t: n - report.rejected.get(t, 0) for t, n in report.sent.items()}
            missing = {t: n - report.found.get(t, 0) for t, n in expected.items() if report.found.get(t, 0) < n}
            if missing:
                raise failed(PermanentLoadError(
                    "the load completed but resources are missing on the server: "
                    + ", ".join(f"{t} {n}" for t, n in sorted(missing.items()))
                    + (f" (server said: {report.message})" if report.message else "")
                    + (f"; its error files: {', '.join(report.server_errors)}" if report.server_errors else "")))
            if state is not None and report.rejected:
                # Not all of the folder is on the server: its interchanges must not be marked loaded,
                # so a re-send converts and loads again (PUTs and $import upsert: nothing doubles).
                state.receipts.fail(receipt, f"{sum(report.rejected.values())} resource(s) refused by the server: "
                                             f"see {report.errors_file}", now())
            elif state is not None:
                report.loaded_interchanges = state.receipts.complete(receipt, report.found, report.message, now())
        elif state is not None:
            state.receipts.unverified(receipt, report.message, now())
    finally:
        if own_client:
            http.close()
    return report


def _write_rejections(folder: Path, records: list[dict[str, Any]], file_mode: int) -> str:
    """The load's error records in ``errors/OperationOutcome.load.ndjson`` of the generation
    (replaced atomically; removed when nothing was refused). Returns its path relative to the folder."""
    path = folder / "errors" / LOAD_ERRORS
    if not records:
        path.unlink(missing_ok=True)
        return ""
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        for record in records:
            fh.write(dumps_line(record))
    os.chmod(tmp, file_mode)
    os.replace(tmp, path)
    return f"errors/{LOAD_ERRORS}"
