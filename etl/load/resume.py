"""Resuming and cancelling a load from its receipt in the run-state database.

The kick-off writes the server's status URL into the output's receipt (:mod:`etl.state.receipts`)
before the first poll, so a load that was interrupted (a killed CLI, a worker that died, a poll
timeout) still knows its job. Behaviour, chosen so that one output is never imported twice:

- ``fhirflow import OUT`` (``ImportConfig.resume == "auto"``): if OUT's receipt is open (``started``)
  at the same FHIR server, the load polls that job instead of kicking off another. Kicking off again
  would load the same resources a second time while the first job still runs (a waste on servers that
  upsert, duplicates on servers that create), and the interrupted job's outcome would never be read.
- ``--resume`` (``"require"``): the same, but an error (exit 2) when there is no open job to resume.
- ``--no-resume`` (``"never"``): kick off a new job whatever the receipt says (the old job, if it
  still runs, is left to the server: cancel it first with ``--cancel``).
- ``--cancel``: ``DELETE`` on the open job's status URL (or the dialect's cancel request); the
  receipt is marked ``cancelled`` and nothing is marked loaded.

A resumed job polls the server only: the built-in publisher of the interrupted process is gone with
it (its port and credential were that process's), so a job that had not fetched its files yet fails
on the server, and says so; storage-published files (``--public-base-url``) stay reachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from etl.config import ImportConfig, JobConfig
from etl.errors import ConfigError
from etl.load import jobs
from etl.load.auth import client_auth, verify_setting
from etl.load.dialects import get_flavour
from etl.load.http import Sender
from etl.state import open_state
from etl.state.store import now

if TYPE_CHECKING:
    from etl.state import StateStore
    from etl.state.receipts import Receipt


def make_client(cfg: ImportConfig, limits: httpx.Limits | None = None) -> httpx.Client:
    """The job's HTTP client: its auth (SMART Backend Services, bearer, basic, AWS SigV4) and TLS verification."""
    return httpx.Client(timeout=httpx.Timeout(cfg.http_timeout_s, connect=10.0), auth=client_auth(cfg),
                        verify=verify_setting(cfg), limits=limits or httpx.Limits())


def resumable_receipt(state: StateStore | None, output: str, base: str, cfg: ImportConfig) -> Receipt | None:
    """The open receipt of ``output`` at ``base`` to resume, per ``cfg.resume`` (see the module doc)."""
    if cfg.resume == "never":
        return None
    if state is None:
        if cfg.resume == "require":
            raise ConfigError("--resume needs the run-state database (drop --no-state)")
        return None
    receipt = state.receipts.for_output(output)
    usable = receipt is not None and receipt.state == "started" and bool(receipt.status_url) and receipt.fhir_url == base
    if not usable and cfg.resume == "require":
        said = f" (its last load is {receipt.state} at {receipt.fhir_url})" if receipt is not None else ""
        raise ConfigError(f"nothing to resume: {output} has no open $import job at {base}{said}")
    return receipt if usable else None


def cancel_import(folder: Path, config: JobConfig, *, client: httpx.Client | None = None) -> str:
    """``fhirflow import OUT --cancel``: stop OUT's open job on the server; what happened."""
    cfg = config.load
    output = str(folder.resolve())
    state = open_state(config)
    if state is None:
        raise ConfigError("--cancel needs the run-state database (drop --no-state): it holds the job's status URL")
    try:
        receipt = state.receipts.for_output(output)
        if receipt is None or receipt.state != "started" or not receipt.status_url:
            said = f" (its last load is {receipt.state})" if receipt is not None else ""
            raise ConfigError(f"nothing to cancel: {output} has no open $import job{said}")
        flavour = get_flavour(cfg.dialect, cfg)
        if flavour is None:
            raise ConfigError(f"the {cfg.dialect} dialect sends Bundles: there is no server job to cancel")
        http = client or make_client(cfg)
        try:
            message = jobs.cancel(Sender(http, cfg), flavour, receipt.status_url)
        finally:
            if client is None:
                http.close()
        state.receipts.cancel(receipt.id, message, now())
        return f"{receipt.status_url}: {message}"
    finally:
        state.close()
