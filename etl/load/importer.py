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
from etl.errors import ConfigError, PermanentLoadError, TransientLoadError
from etl.load.dialects import get_dialect
from etl.load.dialects.base import ImportInput
from etl.load.http import Sender, raise_for_permanent, retry_after
from etl.load.publish import Publisher, new_credential
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

    def to_dict(self) -> dict[str, Any]:
        return {"status_url": self.status_url, "sent": self.sent, "found": self.found, "polls": self.polls,
                "loaded_interchanges": self.loaded_interchanges}

    def render(self) -> str:
        width = max((len(t) for t in self.sent), default=8)
        lines = [f"{'type':<{width}} {'sent':>9} {'on server':>9}"]
        lines += [f"{t:<{width}} {n:>9} {self.found.get(t, 0):>9}" for t, n in sorted(self.sent.items())]
        return "\n".join(lines)


@contextlib.contextmanager
def _published(folder: Path, cfg: ImportConfig, files: list[str],
               credential: tuple[str, str] | None) -> Iterator[str]:
    """The base URL the server fetches ``files`` from: ``public_base_url``, or this job's own
    publisher (only these files, only with ``credential``, only until the job ends)."""
    if cfg.public_base_url:
        yield cfg.public_base_url.rstrip("/")
        return
    tls = (Path(cfg.publish_tls[0]), Path(cfg.publish_tls[1])) if cfg.publish_tls else None
    with Publisher(folder, cfg.publish_host, cfg.publish_port, files=files, credential=credential,
                   allow_remote=cfg.publish_allow_remote, tls=tls) as base:
        if cfg.advertise_host:
            scheme, port = base.split("://", 1)[0], base.rsplit(":", 1)[1]
            yield f"{scheme}://{cfg.advertise_host}:{port}"
        else:
            yield base


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
    dialect = get_dialect(cfg.dialect)
    own_client = client is None
    http = client or httpx.Client(
        timeout=httpx.Timeout(cfg.http_timeout_s, connect=10.0),
        auth=httpx.BasicAuth(*cfg.basic_auth) if cfg.basic_auth else None,
    )
    sender = Sender(http, cfg, sleep=sleep)
    try:
        # A fresh secret per job for the built-in publisher: the server presents it when it fetches
        # (HAPI: storageDetail.credentialHttpBasic); it is never logged or stored.
        credential = None if cfg.public_base_url else new_credential()
        with _published(folder, cfg, [o["url"] for o in entries], credential) as files_base:
            inputs = [ImportInput(o["type"], f"{files_base}/{o['url']}", int(o["count"])) for o in entries]
            path, headers, body = dialect.kickoff(inputs, source=files_base + "/", credential=credential)
            response = sender.send("POST", f"{base}/{path}", headers=headers, json=body)
            raise_for_permanent(response, "$import kick-off")
            report.status_url = dialect.status_url(response, base)
            log.info("$import accepted; polling %s", report.status_url)
            receipt = state.receipts.start(output, run_id, base, report.status_url, report.sent, now()) if state else 0
            try:
                _poll(sender, dialect, report, cfg, sleep, clock)
            except PermanentLoadError as exc:
                if state is not None:
                    state.receipts.fail(receipt, str(exc), now())
                raise
        if cfg.verify == "ids":
            report.found = verify_ids(sender, base, folder, manifest)
            missing = {t: n - report.found.get(t, 0) for t, n in report.sent.items() if report.found.get(t, 0) < n}
            if missing:
                error = PermanentLoadError(
                    "the import job completed but resources are missing on the server: "
                    + ", ".join(f"{t} {n}" for t, n in sorted(missing.items()))
                    + (f" (server said: {report.message})" if report.message else ""))
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


def _poll(sender: Sender, dialect: Any, report: ImportReport, cfg: ImportConfig,
          sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
    deadline = clock() + cfg.timeout_s
    last_progress = ""
    while True:
        response = sender.send("GET", report.status_url, headers={"Accept": "application/fhir+json"},
                               final_status=frozenset({500}))
        report.polls += 1
        state = dialect.read_status(response)
        if state.done:
            report.message = state.message
            if state.failed:
                raise PermanentLoadError(state.message, status=response.status_code, outcome=state.outcome)
            return
        if state.progress and state.progress != last_progress:
            log.info("$import: %s", state.progress)
            last_progress = state.progress
        if clock() >= deadline:
            raise TransientLoadError(
                f"$import still running after {cfg.timeout_s:.0f}s ({state.progress or 'no progress reported'}); "
                f"the job goes on at {report.status_url}")
        sleep(retry_after(response, cfg.poll_interval_s, cfg.max_retry_after_s))


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
