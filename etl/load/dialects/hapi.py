"""HAPI FHIR JPA server (8.x) ``$import``, read from HAPI's ``BulkDataImportProvider``.

- Kick-off: ``POST [base]/$import``, ``Content-Type: application/fhir+json``, ``Prefer:
  respond-async`` (400 without it). Body: Parameters with ``inputFormat``
  (``application/fhir+ndjson``), ``inputSource``, ``storageDetail`` (``type`` https,
  ``maxBatchResourceCount``, ``credentialHttpBasic`` ``user:password`` that HAPI presents as HTTP
  Basic when it fetches each input) and one ``input`` part (``type``, ``url``) per file.
- Answer: 202 with ``Content-Location: [base]/$import-poll-status?_jobId=…`` (taken from the
  header, never built).
- Poll: 202 + ``X-Progress`` + ``Retry-After: 120`` while queued or running; 200 OperationOutcome
  when complete (its diagnostics carry a JSON report); 500 OperationOutcome when the job failed
  (one unparseable line fails the whole job); 404 when it was cancelled or is unknown. Bodies come
  as ``application/json+fhir;charset=ISO-8859-1``: parse them as JSON whatever the header says.
- References to resources not yet loaded create placeholders, so verify by id, never by totals.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx

from etl.errors import PermanentLoadError
from etl.load.dialects.base import ImportInput, PollState
from etl.load.http import outcome_text

# Patients first. HAPI 8 re-sorts inputs by type itself, but other servers load in the given order
# and most resources point at patients; a stable order also keeps kick-off bodies reproducible.
_FIRST = ("Patient", "Organization", "Practitioner", "Location", "Coverage")


def _order(inputs: list[ImportInput]) -> list[ImportInput]:
    rank = {t: i for i, t in enumerate(_FIRST)}
    return sorted(inputs, key=lambda i: (rank.get(i.type, len(_FIRST)), i.type, i.url))


class HapiDialect:
    """``max_batch_resource_count``: resources per batch2 work chunk (``storageDetail``); each chunk
    is stored in one database transaction by one of the server's work-chunk consumers."""

    name = "hapi"

    def __init__(self, max_batch_resource_count: int = 500) -> None:
        self.max_batch_resource_count = max_batch_resource_count

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        storage: list[dict[str, Any]] = [
            {"name": "type", "valueCode": "https"},
            {"name": "maxBatchResourceCount", "valueString": str(self.max_batch_resource_count)},
        ]
        if credential is not None:
            # BulkDataImportProvider: "username:password", sent by HAPI as HTTP Basic on every fetch
            storage.append({"name": "credentialHttpBasic", "valueString": f"{credential[0]}:{credential[1]}"})
        params: list[dict[str, Any]] = [
            {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
            {"name": "inputSource", "valueUri": source},
            {"name": "storageDetail", "part": storage},
        ]
        for item in _order(inputs):
            params.append({"name": "input", "part": [
                {"name": "type", "valueCode": item.type},
                {"name": "url", "valueUri": item.url},
            ]})
        headers = {
            "Content-Type": "application/fhir+json",
            "Accept": "application/fhir+json",
            "Prefer": "respond-async",
        }
        return "$import", headers, {"resourceType": "Parameters", "parameter": params}

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        location = response.headers.get("Content-Location")
        if response.status_code != 202 or not location:
            text, outcome = outcome_text(response)
            raise PermanentLoadError(
                f"$import kick-off was not accepted (HTTP {response.status_code}, expected 202 with "
                f"Content-Location): {text}", status=response.status_code, outcome=outcome)
        return str(urljoin(base_url.rstrip("/") + "/", str(location)))

    def read_status(self, response: httpx.Response) -> PollState:
        status = response.status_code
        if status == 202:
            return PollState(done=False, progress=response.headers.get("X-Progress", ""))
        text, outcome = outcome_text(response)
        if status == 200:
            return PollState(done=True, message=text, outcome=outcome)
        if status == 404:
            return PollState(done=True, failed=True, message=f"the import job was cancelled or is unknown: {text}",
                             outcome=outcome)
        return PollState(done=True, failed=True, message=f"the import job failed (HTTP {status}): {text}",
                         outcome=outcome)
