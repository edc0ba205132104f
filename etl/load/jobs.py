"""Requests of one bulk import job through a dialect: kick-off (with any prelude requests), cancel,
the server's error NDJSON kept beside the batch, and the Bulk Data manifest of the job's files
(the bulk loader, :mod:`etl.load.dialects.bulk`, polls).

The dialect (:mod:`etl.load.dialects`) says what to send and how to read the answers; this module
sends them through the job's retrying :class:`~etl.load.http.Sender`. Optional dialect hooks are
read with defaults: ``prelude(inputs, source, credential)`` (requests before the kick-off, e.g.
``$bulk-submit``), ``poll_request(status_url)`` (default ``GET`` on it), ``cancel_request(status_url)`` (default ``DELETE`` on the status URL, the FHIR
asynchronous pattern's cancel: https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-delete-request).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.load.dialects.base import ImportDialect, ImportInput
from etl.load.http import Sender, raise_for_permanent

log = logging.getLogger(__name__)

SERVER_ERRORS = "server"  # errors/server/: the OperationOutcome NDJSON the server reported


def url_for(base: str, path: str) -> str:
    """A dialect's request path: relative to the FHIR base, or absolute (GCP's store operations)."""
    return path if "://" in path else f"{base}/{path}"


def kick_off(sender: Sender, dialect: ImportDialect, base: str, inputs: list[ImportInput], source: str,
             credential: tuple[str, str] | None) -> tuple[str, int]:
    """Send the dialect's prelude (if any) and kick-off; (the status URL to poll, requests sent)."""
    prelude: Callable[..., list[tuple[str, dict[str, str], dict[str, Any]]]] | None = getattr(dialect, "prelude", None)
    before = prelude(inputs, source, credential) if prelude else []
    for path, headers, body in before:
        response = sender.send("POST", url_for(base, path), headers=headers, json=body)
        raise_for_permanent(response, path)
    path, headers, body = dialect.kickoff(inputs, source=source, credential=credential)
    response = sender.send("POST", url_for(base, path), headers=headers, json=body)
    raise_for_permanent(response, "$import kick-off")
    return dialect.status_url(response, base), len(before) + 1


def cancel(sender: Sender, dialect: ImportDialect, status_url: str) -> str:
    """Ask the server to stop the job; what it said. 404 counts: the job is gone already."""
    hook: Callable[[str], tuple[str, str]] | None = getattr(dialect, "cancel_request", None)
    method, url = hook(status_url) if hook else ("DELETE", status_url)
    response = sender.send(method, url, headers={"Accept": "application/fhir+json"})
    if response.status_code == 404:
        return f"the server no longer knows the job (HTTP 404 on {method})"
    raise_for_permanent(response, "cancelling the import job")
    return f"cancelled (HTTP {response.status_code} on {method})"


def keep_errors(sender: Sender, urls: tuple[str, ...], folder: Path, file_mode: int = 0o640) -> list[str]:
    """Fetch the server's error NDJSON into ``folder/errors/server/`` (atomically, one file per URL);
    their paths relative to ``folder``."""
    if not urls:
        return []
    target = folder / "errors" / SERVER_ERRORS
    target.mkdir(parents=True, exist_ok=True)
    kept = []
    for n, url in enumerate(urls, 1):
        response = sender.send("GET", url, headers={"Accept": "application/fhir+ndjson"})
        raise_for_permanent(response, f"fetching the server's error file {n}")
        path = target / f"OperationOutcome.import-{n:03d}.ndjson"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(response.content)
        os.chmod(tmp, file_mode)
        os.replace(tmp, path)
        kept.append(str(path.relative_to(folder)))
        log.warning("the server reported errors: kept in %s", path.relative_to(folder))
    return kept


def bulk_manifest(inputs: list[ImportInput], request: str) -> bytes:
    """A Bulk Data manifest (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#response---complete-status)
    listing the job's files by absolute URL, for servers that pull a manifest (SMART ping-and-pull,
    ``$bulk-submit``). ``requiresAccessToken`` is false: the files are guarded by the publisher's
    own per-job credential (``fileRequestHeader``), not an OAuth token."""
    body = {
        "transactionTime": datetime.now(UTC).isoformat(timespec="seconds"),
        "request": request,
        "requiresAccessToken": False,
        "output": [{"type": i.type, "url": i.url, "count": i.count} for i in inputs],
        "error": [],
    }
    return json.dumps(body, indent=1).encode()
