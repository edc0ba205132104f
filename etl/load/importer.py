"""Load a converted folder into a FHIR server: publish, kick off ``$import``, poll, verify.

:func:`import_folder` is the ``fhirflow import`` command and the DAGs' load task. It raises
:class:`TransientLoadError` for faults worth retrying (Airflow retries the task) and
:class:`PermanentLoadError` for the rest; on success every resource of the manifest is on the server
(verified by id, so a re-load of the same folder verifies the same way and never duplicates).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from etl.config import ImportConfig, JobConfig
from etl.errors import ConfigError, PermanentLoadError
from etl.load import jobs, preflight
from etl.load.dialects import get_dialect
from etl.load.dialects.base import ImportDialect, ImportInput, PollState
from etl.load.dialects.smart import MANIFEST
from etl.load.http import Sender, raise_for_permanent
from etl.load.jobs import bulk_manifest
from etl.load.publish import Publisher, new_credential
from etl.load.resume import make_client, resumable_receipt
from etl.stage.manifest import read_manifest
from etl.stage.ndjson import read_ndjson
from etl.stage.output import current_generation
from etl.state import open_state
from etl.state.store import now

if TYPE_CHECKING:
    from etl.state import StateStore

log = logging.getLogger(__name__)

VERIFY_CHUNK = 100


@dataclass
class ImportReport:
    """What a load did: the job's status URL, resources sent and found per type."""

    status_url: str = ""
    sent: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    polls: int = 0
    message: str = ""
    loaded_interchanges: int = 0  # X12 interchanges this load marked loaded in the ledger
    server_counts: dict[str, int] = field(default_factory=dict)  # what the server said it imported, per type
    server_errors: list[str] = field(default_factory=list)  # its error NDJSON, kept under errors/server/

    def to_dict(self) -> dict[str, Any]:
        return {"status_url": self.status_url, "sent": self.sent, "found": self.found, "polls": self.polls,
                "loaded_interchanges": self.loaded_interchanges, "server_counts": self.server_counts,
                "server_errors": self.server_errors}

    def render(self) -> str:
        width = max((len(t) for t in self.sent), default=8)
        lines = [f"{'type':<{width}} {'sent':>9} {'on server':>9}"]
        lines += [f"{t:<{width}} {n:>9} {self.found.get(t, 0):>9}" for t, n in sorted(self.sent.items())]
        if self.server_errors:
            lines.append(f"the server reported errors: {', '.join(self.server_errors)}")
        return "\n".join(lines)


@contextlib.contextmanager
def _published(folder: Path, cfg: ImportConfig, entries: list[dict[str, Any]], credential: tuple[str, str] | None,
               documents: dict[str, bytes], manifest: bool) -> Iterator[tuple[str, dict[str, str]]]:
    """Where the server fetches the job's files: (base URL, {relative path: URL} where a file has its
    own URL). ``public_base_url``; or object storage with pre-signed URLs (``publish_url``); or this
    job's own publisher (only these files and ``documents``, only with ``credential``, only until
    the job ends). ``manifest``: also publish a Bulk Data manifest of the files (``MANIFEST``)."""
    files = [o["url"] for o in entries]
    if cfg.public_base_url:
        yield cfg.public_base_url.rstrip("/"), {}
        return
    if cfg.publish_url:
        from etl.load.storage import PresignedPublisher

        def manifest_doc(urls: dict[str, str]) -> dict[str, bytes]:
            inputs = [ImportInput(o["type"], urls[o["url"]], int(o["count"])) for o in entries]
            return {MANIFEST: bulk_manifest(inputs, f"{cfg.fhir_url.rstrip('/')}/$import")} if manifest else {}

        with PresignedPublisher(folder, files, cfg.publish_url, cfg.presign_seconds, manifest_doc) as published:
            yield published
        return
    tls = (Path(cfg.publish_tls[0]), Path(cfg.publish_tls[1])) if cfg.publish_tls else None
    with Publisher(folder, cfg.publish_host, cfg.publish_port, files=files, credential=credential,
                   allow_remote=cfg.publish_allow_remote, tls=tls, documents=documents) as base:
        if cfg.advertise_host:
            scheme, port = base.split("://", 1)[0], base.rsplit(":", 1)[1]
            base = f"{scheme}://{cfg.advertise_host}:{port}"
        if manifest:
            inputs = [ImportInput(o["type"], f"{base}/{o['url']}", int(o["count"])) for o in entries]
            documents[MANIFEST] = bulk_manifest(inputs, f"{cfg.fhir_url.rstrip('/')}/$import")
        yield base, {}


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
    report = ImportReport()
    entries = [o for o in manifest.get("output", []) if o.get("count", 0) > 0]
    for o in entries:
        report.sent[o["type"]] = report.sent.get(o["type"], 0) + int(o["count"])
    if not entries:
        report.message = "nothing to import"
        if state is not None:
            receipt = state.receipts.start(output, run_id, base, "", {}, now())
            report.loaded_interchanges = state.receipts.complete(receipt, {}, report.message, now())
        return report
    dialect = get_dialect(cfg.dialect, cfg)
    resumed = resumable_receipt(state, output, base, cfg)
    if resumed is None:
        others = [r.output for r in state.receipts.open_at(base) if r.output != output] if state else []
        checked = preflight.check(folder, entries, dialect, cfg, others)
        checked.raise_if_failed()
        rank = {t: i for i, t in enumerate(checked.order)}
        entries.sort(key=lambda o: (rank.get(o["type"], len(rank)), o["url"]))
    own_client = client is None
    http = client or make_client(cfg)
    sender = Sender(http, cfg, sleep=sleep)
    try:
        if resumed is not None:  # the job is already on the server: poll it, never kick off twice
            report.status_url, receipt = resumed.status_url, resumed.id
            log.info("resuming the open $import job of this output: %s", report.status_url)
            final = _await(sender, dialect, report, cfg, sleep, clock, state, receipt)
        else:
            # A fresh secret per job for the built-in publisher: the server presents it when it fetches
            # (HAPI: storageDetail.credentialHttpBasic); it is never logged or stored.
            credential = None if cfg.public_base_url or cfg.publish_url else new_credential()
            needs_manifest = bool(getattr(dialect, "needs_manifest", False))
            with _published(folder, cfg, entries, credential, {}, needs_manifest) as (files_base, urls):
                inputs = [ImportInput(o["type"], urls.get(o["url"], f"{files_base}/{o['url']}"), int(o["count"]))
                          for o in entries]
                if MANIFEST in urls:  # a pre-signed manifest has its own URL
                    dialect.manifest_url = urls[MANIFEST]  # type: ignore[attr-defined]
                report.status_url = jobs.kick_off(sender, dialect, base, inputs, files_base + "/", credential)
                log.info("$import accepted; polling %s", report.status_url)
                receipt = state.receipts.start(output, run_id, base, report.status_url, report.sent, now()) if state else 0
                final = _await(sender, dialect, report, cfg, sleep, clock, state, receipt)
        report.server_counts = dict(final.counts)
        report.server_errors = jobs.keep_errors(sender, final.errors, folder, config.file_mode)
        if cfg.verify == "ids":
            report.found = verify_ids(sender, base, folder, manifest)
            missing = {t: n - report.found.get(t, 0) for t, n in report.sent.items() if report.found.get(t, 0) < n}
            if missing:
                error = PermanentLoadError(
                    "the import job completed but resources are missing on the server: "
                    + ", ".join(f"{t} {n}" for t, n in sorted(missing.items()))
                    + (f" (server said: {report.message})" if report.message else "")
                    + (f"; its error files: {', '.join(report.server_errors)}" if report.server_errors else ""))
                if state is not None:
                    state.receipts.fail(receipt, str(error), now())
                raise error
            if state is not None:
                report.loaded_interchanges = state.receipts.complete(receipt, report.found, report.message, now())
        elif state is not None:
            state.receipts.unverified(receipt, report.message, now())
    finally:
        if own_client:
            http.close()
    return report


def _await(sender: Sender, dialect: ImportDialect, report: ImportReport, cfg: ImportConfig,
           sleep: Callable[[float], None], clock: Callable[[], float], state: StateStore | None,
           receipt: int) -> PollState:
    """Poll the job to its end; a failure closes the receipt as failed."""
    try:
        final, report.polls = jobs.poll(sender, dialect, report.status_url, cfg, sleep, clock)
    except PermanentLoadError as exc:
        if state is not None:
            state.receipts.fail(receipt, str(exc), now())
        raise
    report.message = final.message
    return final


def verify_ids(sender: Sender, base: str, folder: Path, manifest: dict[str, Any]) -> dict[str, int]:
    """Count, per type, how many of the folder's resource ids the server has (``_id`` search)."""
    found: dict[str, int] = {}
    for o in manifest.get("output", []):
        rtype = o["type"]
        ids = [r["id"] for r in read_ndjson(folder / o["url"]) if r.get("id")]
        for i in range(0, len(ids), VERIFY_CHUNK):
            chunk = ids[i : i + VERIFY_CHUNK]
            response = sender.send(
                "POST", f"{base}/{rtype}/_search",
                data={"_id": ",".join(chunk), "_summary": "count"},
                headers={"Accept": "application/fhir+json"},
            )
            raise_for_permanent(response, f"verifying {rtype}")
            found[rtype] = found.get(rtype, 0) + int(response.json().get("total", 0))
    return found
