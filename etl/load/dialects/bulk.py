"""Bulk data ``$import`` (https://hl7.org/fhir/uv/bulkdata/ and its servers' variants): publish the
NDJSON, kick off one job for every file, poll until it ends. The server flavour (request body,
status responses) is an :class:`~etl.load.dialects.base.ImportDialect`.

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
from collections.abc import Iterator
from pathlib import Path

import httpx

from etl.config import ImportConfig
from etl.errors import PermanentLoadError, TransientLoadError
from etl.load.dialects.base import ImportDialect, ImportInput, LoadContext, LoadInput, LoadResult
from etl.load.http import raise_for_permanent, retry_after
from etl.load.publish import Publisher, new_credential

log = logging.getLogger(__name__)


@contextlib.contextmanager
def published(folder: Path, cfg: ImportConfig, files: list[str],
              credential: tuple[str, str] | None) -> Iterator[str]:
    """The base URL the server fetches ``files`` of ``folder`` from, for as long as the block runs:
    ``public_base_url``, or this job's own publisher (only these files, only with ``credential``)."""
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


class BulkImportLoader:
    """Loads a folder with ``$import`` jobs (one per tier, see :func:`tiers`) in the given server flavour."""

    def __init__(self, flavour: ImportDialect) -> None:
        self.flavour = flavour
        self.name = flavour.name

    def load(self, ctx: LoadContext) -> LoadResult:
        result = LoadResult()
        cfg = ctx.config
        messages: list[str] = []
        # A fresh secret per job for the built-in publisher: the server presents it when it fetches
        # (HAPI: storageDetail.credentialHttpBasic); it is never logged or stored.
        credential = None if cfg.public_base_url else new_credential()
        with published(ctx.folder, cfg, [i.path for i in ctx.inputs], credential) as files_base:
            for group in tiers(ctx.inputs, cfg):
                inputs = [ImportInput(i.type, f"{files_base}/{i.path}", i.count) for i in group]
                path, headers, body = self.flavour.kickoff(inputs, source=files_base + "/", credential=credential)
                response = ctx.sender.send("POST", f"{ctx.base_url}/{path}", headers=headers, json=body)
                result.requests += 1
                raise_for_permanent(response, "$import kick-off")
                result.status_url = self.flavour.status_url(response, ctx.base_url)
                log.info("$import of %s accepted; polling %s", ", ".join(sorted({i.type for i in group})),
                         result.status_url)
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
        while True:
            response = ctx.sender.send("GET", result.status_url, headers={"Accept": "application/fhir+json"},
                                       final_status=frozenset({500}))
            result.polls += 1
            result.requests += 1
            state = self.flavour.read_status(response)
            if state.done:
                result.message = state.message
                if state.failed:
                    raise PermanentLoadError(state.message, status=response.status_code, outcome=state.outcome)
                return
            if state.progress and state.progress != last_progress:
                log.info("$import: %s", state.progress)
                last_progress = state.progress
            now = ctx.clock()
            if now >= deadline:
                raise TransientLoadError(
                    f"$import still running after {cfg.timeout_s:.0f}s ({state.progress or 'no progress reported'}); "
                    f"the job goes on at {result.status_url}")
            ctx.sleep(poll_wait(response, now - start, cfg))
