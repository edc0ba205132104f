"""Bulk data ``$import`` (https://hl7.org/fhir/uv/bulkdata/ and its servers' variants): publish the
NDJSON, kick off one job for every file, poll until it ends. The server flavour (request body,
status responses, optional prelude / poll / cancel requests) is an
:class:`~etl.load.dialects.base.ImportDialect`; the requests go through :mod:`etl.load.jobs`.

Publishing: ``public_base_url`` (already served there), object storage with pre-signed URLs
(``publish_url``, :mod:`etl.load.storage`), or the job's own publisher (:mod:`etl.load.publish`:
only the job's files, only with a fresh per-job credential, only until the job ends). Flavours that
pull a Bulk Data manifest (``needs_manifest``) get one listing the files' URLs beside them.

Resuming: with ``ctx.resume_url`` (the output's receipt is open: :mod:`etl.load.resume`) nothing is
published or kicked off; the job at that URL is polled to its end.

Large batches go in tiers, referenced types first, a job each (:data:`TIERS`).

Polling: a job's ``Retry-After`` is honoured as an upper bound, never stretched: the wait is the
smallest of the server's ``Retry-After``, ``max_retry_after_s`` and a tenth of the time the job has
run so far (at least ``poll_interval_s``). HAPI answers ``Retry-After: 120`` to every poll whatever
the job's size, so waiting that long would add up to two minutes to a 30-second job; a tenth of the
elapsed time keeps what polling adds to a job below ~10% of its run, in a few dozen cheap requests.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from etl.config import ImportConfig
from etl.errors import PermanentLoadError, TransientLoadError
from etl.load import jobs
from etl.load.dialects.base import ImportDialect, ImportInput, LoadContext, LoadInput, LoadResult
from etl.load.dialects.smart import MANIFEST
from etl.load.http import retry_after
from etl.load.publish import Publisher, new_credential

log = logging.getLogger(__name__)


@contextlib.contextmanager
def published(folder: Path, cfg: ImportConfig, inputs: list[LoadInput], credential: tuple[str, str] | None,
              manifest: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """Where the server fetches ``inputs`` of ``folder`` from, for as long as the block runs: (base
    URL, {relative path: URL} for files with a URL of their own, pre-signed ones). ``manifest``: also
    publish a Bulk Data manifest of the files (``MANIFEST``) beside them."""
    if cfg.public_base_url:
        yield cfg.public_base_url.rstrip("/"), {}
        return
    request = f"{cfg.fhir_url.rstrip('/')}/$import"
    if cfg.publish_url:
        from etl.load.storage import PresignedPublisher

        def manifest_doc(urls: dict[str, str]) -> dict[str, bytes]:
            items = [ImportInput(i.type, urls[i.path], i.count) for i in inputs]
            return {MANIFEST: jobs.bulk_manifest(items, request)} if manifest else {}

        with PresignedPublisher(folder, [i.path for i in inputs], cfg.publish_url, cfg.presign_seconds,
                                manifest_doc) as done:
            yield done
        return
    tls = (Path(cfg.publish_tls[0]), Path(cfg.publish_tls[1])) if cfg.publish_tls else None
    documents: dict[str, bytes] = {}
    with Publisher(folder, cfg.publish_host, cfg.publish_port, files=[i.path for i in inputs], credential=credential,
                   allow_remote=cfg.publish_allow_remote, tls=tls, documents=documents) as base:
        if cfg.advertise_host:
            scheme, port = base.split("://", 1)[0], base.rsplit(":", 1)[1]
            base = f"{scheme}://{cfg.advertise_host}:{port}"
        if manifest:
            documents[MANIFEST] = jobs.bulk_manifest([ImportInput(i.type, f"{base}/{i.path}", i.count) for i in inputs],
                                                     request)
        yield base, {}


def poll_wait(response: httpx.Response, elapsed: float, cfg: ImportConfig) -> float:
    """Seconds until the next poll (see the module docstring)."""
    adaptive = max(cfg.poll_interval_s, elapsed / 10.0)
    return min(retry_after(response, adaptive, cfg.max_retry_after_s), adaptive)


# Referenced types before the types that point at them. A server stores a job's work chunks in
# parallel (HAPI: 4 at a time), and chunks of Claims that point at a Practitioner not stored yet
# race to create the same placeholder: all but one fail on the unique index and are retried whole
# (HAPI: up to 3 times, then entry by entry). A job per tier leaves nothing to race for.
TIERS: tuple[frozenset[str], ...] = (
    frozenset({"Organization", "Practitioner", "Medication", "Device", "Substance"}),
    frozenset({"Location", "Patient", "PractitionerRole", "Group"}),
    frozenset({"RelatedPerson", "Coverage", "Encounter", "EpisodeOfCare"}),
)  # everything else in a last tier


def tiers(inputs: list[LoadInput], cfg: ImportConfig) -> list[list[LoadInput]]:
    """The jobs to run, in order: one per non-empty tier when the batch is larger than a few work
    chunks (``import_tiers``), else a single job (a small load would only pay each job's start)."""
    if not cfg.import_tiers or sum(i.count for i in inputs) <= 4 * cfg.import_chunk:
        return [list(inputs)]
    rank = {t: n for n, tier in enumerate(TIERS) for t in tier}
    groups: list[list[LoadInput]] = [[] for _ in range(len(TIERS) + 1)]
    for item in inputs:
        groups[rank.get(item.type, len(TIERS))].append(item)
    return [g for g in groups if g]


TIER_MARK = "fhirflow-tier="  # status URL fragment: which tier of a multi-job load the job is


class BulkImportLoader:
    """Loads a folder with ``$import`` jobs (one per tier, see :func:`tiers`) in the given server flavour."""

    def __init__(self, flavour: ImportDialect) -> None:
        self.flavour = flavour
        self.name = flavour.name

    def load(self, ctx: LoadContext) -> LoadResult:
        result = LoadResult()
        cfg = ctx.config
        messages: list[str] = []
        manifest = bool(getattr(self.flavour, "needs_manifest", False))
        # One job for a server that pulls a manifest (the manifest lists every file); else by tier
        groups = [list(ctx.inputs)] if manifest else tiers(ctx.inputs, cfg)
        todo = list(enumerate(groups))
        if ctx.resume_url:  # a job is already on the server: poll it, never kick off twice
            result.status_url = ctx.resume_url
            log.info("resuming the open $import job of this output: %s", ctx.resume_url)
            self._poll(ctx, result)
            messages.append(result.message)
            mark = ctx.resume_url.partition("#" + TIER_MARK)[2]
            done = int(mark.split("/")[0]) if mark else len(groups) - 1
            todo = todo[done + 1:]  # the tiers after the resumed one are still to load
            if not todo:
                return result
        todo_inputs = [i for _, group in todo for i in group]
        # A fresh secret per job for the built-in publisher: the server presents it when it fetches
        # (HAPI: storageDetail.credentialHttpBasic, $bulk-submit: fileRequestHeader); never logged or stored.
        credential = None if cfg.public_base_url or cfg.publish_url else new_credential()
        with published(ctx.folder, cfg, todo_inputs, credential, manifest) as (files_base, urls):
            for number, group in todo:
                inputs = [ImportInput(i.type, urls.get(i.path, f"{files_base}/{i.path}"), i.count) for i in group]
                if MANIFEST in urls:  # a pre-signed manifest has its own URL
                    self.flavour.manifest_url = urls[MANIFEST]  # type: ignore[attr-defined]
                status_url, sent = jobs.kick_off(ctx.sender, self.flavour, ctx.base_url, inputs, files_base + "/",
                                                 credential)
                # A load of several tiers remembers which tier its open job is (a fragment: never sent)
                result.status_url = status_url + (f"#{TIER_MARK}{number}/{len(groups)}" if len(groups) > 1 else "")
                result.requests += sent
                log.info("$import of %s accepted; polling %s", ", ".join(sorted({i.type for i in group})), status_url)
                ctx.started(result.status_url)
                self._poll(ctx, result)
                messages.append(result.message)
        result.message = " | ".join(m for m in messages if m)
        return result

    def _poll(self, ctx: LoadContext, result: LoadResult) -> None:
        cfg = ctx.config
        start = ctx.clock()
        deadline = start + cfg.timeout_s
        last_progress = ""
        hook: Callable[[str], tuple[str, str, dict[str, str], dict[str, Any]]] | None = getattr(
            self.flavour, "poll_request", None)
        while True:
            if hook is not None:  # a describe call (HealthLake) rather than a GET on the status URL
                method, url, headers, body = hook(result.status_url.split("#", 1)[0])
                response = ctx.sender.send(method, url, headers=headers, json=body, final_status=frozenset({500}))
            else:
                response = ctx.sender.send("GET", result.status_url.split("#", 1)[0],
                                           headers={"Accept": "application/fhir+json"}, final_status=frozenset({500}))
            result.polls += 1
            result.requests += 1
            state = self.flavour.read_status(response)
            if state.done:
                result.message = state.message
                if state.failed:
                    raise PermanentLoadError(state.message, status=response.status_code, outcome=state.outcome)
                for rtype, n in state.counts.items():  # summed over the tiers' jobs
                    result.server_counts[rtype] = result.server_counts.get(rtype, 0) + n
                result.server_errors += state.errors
                return
            if state.progress and state.progress != last_progress:
                log.info("$import: %s", state.progress)
                last_progress = state.progress
            now = ctx.clock()
            if now >= deadline:
                raise TransientLoadError(
                    f"$import still running after {cfg.timeout_s:.0f}s ({state.progress or 'no progress reported'}); "
                    f"the job goes on at {result.status_url}: `fhirflow import --resume` polls it again")
            ctx.sleep(poll_wait(response, now - start, cfg))
