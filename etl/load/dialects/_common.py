"""Pieces several ``$import`` dialects share: the FHIR asynchronous request pattern's kick-off
answer (202 + ``Content-Location``) and its poll answers (202 + ``X-Progress`` while running, 200
when complete, 4xx/5xx when failed), per https://hl7.org/fhir/R4/async.html and the Bulk Data IG's
status request (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-status-request)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx

from etl.errors import PermanentLoadError
from etl.load.dialects.base import PollState
from etl.load.http import outcome_text

ASYNC_HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json", "Prefer": "respond-async"}


def content_location(response: httpx.Response, base_url: str, what: str = "$import kick-off") -> str:
    """The polling location of a 202 answer (absolute; a relative one is resolved against the base)."""
    location = response.headers.get("Content-Location")
    if response.status_code != 202 or not location:
        text, outcome = outcome_text(response)
        raise PermanentLoadError(
            f"{what} was not accepted (HTTP {response.status_code}, expected 202 with Content-Location): {text}",
            status=response.status_code, outcome=outcome)
    return str(urljoin(base_url.rstrip("/") + "/", str(location)))


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def manifest_result(body: dict[str, Any], error_keys: tuple[str, ...] = ("error",)) -> tuple[dict[str, int], tuple[str, ...]]:
    """(counts per type from ``output[].type/count``, URLs of ``error[]``-like entries) of a Bulk Data
    style completion manifest."""
    counts: dict[str, int] = {}
    for item in body.get("output", []) or []:
        if isinstance(item, dict) and item.get("type") and isinstance(item.get("count"), int):
            counts[item["type"]] = counts.get(item["type"], 0) + int(item["count"])
    urls: list[str] = []
    for key in error_keys:
        urls += [str(e["url"]) for e in body.get(key, []) or [] if isinstance(e, dict) and e.get("url")]
    return counts, tuple(urls)


def failed(response: httpx.Response, prefix: str = "the import job failed") -> PollState:
    text, outcome = outcome_text(response)
    if response.status_code == 404:
        return PollState(done=True, failed=True, message=f"the import job was cancelled or is unknown: {text}",
                         outcome=outcome)
    return PollState(done=True, failed=True, message=f"{prefix} (HTTP {response.status_code}): {text}", outcome=outcome)


def running(response: httpx.Response) -> PollState:
    return PollState(done=False, progress=response.headers.get("X-Progress", ""))
