"""Read instance metadata from a DICOMweb server: QIDO-RS study search, WADO-RS metadata.

``fhirflow convert dicomweb+http://HOST/dicom-web --since 2026-01-01 [--until ...]`` searches the
studies whose StudyDate (0008,0020) lies in the window (PS3.18 10.6 QIDO-RS ``GET {base}/studies``
with a date range, paged with ``limit``/``offset``), then reads each study's instance metadata (PS3.18
10.4 WADO-RS ``GET {base}/studies/{uid}/metadata``, the DICOM JSON model of PS3.18 F.2). Bulk data
(pixel data, large values) is never requested: it comes as BulkDataURIs, which are not followed.
The study's Endpoint is the WADO-RS base URL.

Plain httpx rather than ``dicomweb-client``: two GETs with JSON bodies, and fhirflow's own retry
policy (:class:`etl.load.http.Sender`: 408/429/5xx and timeouts back off, honouring Retry-After)
instead of a second HTTP stack (requests) beside the one the ``$import`` client uses. A server that
stays unavailable fails the run (Airflow retries it); a study whose metadata the server refuses (4xx)
is an error record naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from etl.config import JobConfig
from etl.errors import Location, ParseError
from etl.load.http import Sender
from etl.sources.base import Unit
from etl.sources.dicom.model import Read
from etl.sources.dicom.parse import dataset_from_json, make_unit

PAGE = 100
DICOM_JSON = "application/dicom+json"


def base_url(url: str) -> str:
    """``dicomweb+http://host/dicom-web`` -> ``http://host/dicom-web`` (user and password kept for
    the requests, never in names or records)."""
    return url.removeprefix("dicomweb+").rstrip("/")


def shown(url: str) -> str:
    """A URL without its user or password: what records and Endpoints name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def date_range(since: str | None, until: str | None) -> str | None:
    """A QIDO-RS DA range (``20260101-20260131``, open at either end), or None for no filter."""
    if not since and not until:
        return None
    return f"{(since or '').replace('-', '')}-{(until or '').replace('-', '')}"


def read_server(url: str, config: JobConfig, client: httpx.Client | None = None) -> Iterator[Unit[Read]]:
    """One unit per instance of every study the server lists for the config's StudyDate window."""
    base = base_url(url)
    public = shown(base)
    where = Location(shown(url))
    own = client is None
    http = client or httpx.Client(timeout=config.load.http_timeout_s, follow_redirects=True)
    sender = Sender(http, config.load)
    try:
        studies = _search(sender, base, date_range(config.dicom_since, config.dicom_until))
        if isinstance(studies, ParseError):
            yield Unit(where, error=studies)
            return
        for n, uid in enumerate(studies, 1):
            at = Location(where.file, f"study {n} of the search")
            resp = sender.send("GET", f"{base}/studies/{uid}/metadata", headers={"Accept": DICOM_JSON})
            if resp.status_code >= 400:
                yield Unit(at, error=ParseError(f"WADO-RS metadata refused: HTTP {resp.status_code}",
                                                quoted={"(0020,000D)": uid}))
                continue
            docs = _json_list(resp)
            if docs is None:
                yield Unit(at, error=ParseError("WADO-RS metadata is not a DICOM JSON array", quoted={"(0020,000D)": uid}))
                continue
            for i, doc in enumerate(docs, 1):
                inst_at = Location(where.file, f"study {n} of the search, instance {i}")
                try:
                    ds = dataset_from_json(doc)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    yield Unit(inst_at, error=ParseError(f"instance metadata cannot be read ({type(exc).__name__})",
                                                         quoted={"(0020,000D)": uid}))
                    continue
                unit = make_unit(ds, f"{public}/studies/{uid}", inst_at)
                if unit.record is not None:
                    unit.record.instance.wado_base = public
                yield unit
    finally:
        if own:
            http.close()


def _search(sender: Sender, base: str, window: str | None) -> list[str] | ParseError:
    """Every StudyInstanceUID the QIDO-RS search returns, page by page, in the server's order."""
    out: list[str] = []
    offset = 0
    while True:
        params: dict[str, Any] = {"limit": PAGE, "offset": offset, "includefield": "0020000D"}
        if window:
            params["StudyDate"] = window
        resp = sender.send("GET", f"{base}/studies", params=params, headers={"Accept": DICOM_JSON})
        if resp.status_code == 204:
            return out
        if resp.status_code >= 400:
            return ParseError(f"QIDO-RS study search refused: HTTP {resp.status_code}")
        docs = _json_list(resp)
        if docs is None:
            return ParseError("QIDO-RS study search did not answer a DICOM JSON array")
        for doc in docs:
            value = (doc.get("0020000D") or {}).get("Value") or []
            if value and isinstance(value[0], str) and value[0] not in out:
                out.append(value[0])
        if len(docs) < PAGE:
            return out
        offset += len(docs)


def _json_list(resp: httpx.Response) -> list[dict[str, Any]] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return [d for d in body if isinstance(d, dict)] if isinstance(body, list) else None
