"""Microsoft FHIR Server / Azure Health Data Services FHIR service ``$import``.

Source: https://learn.microsoft.com/azure/healthcare-apis/fhir/import-data (MicrosoftDocs/azure-docs
``articles/healthcare-apis/fhir/import-data.md``):

- Kick-off: ``POST [base]/$import``, ``Prefer: respond-async``, ``Content-Type: application/fhir+json``;
  Parameters with ``inputFormat`` (valueString ``application/fhir+ndjson``), ``mode`` (valueString
  ``InitialLoad`` or ``IncrementalLoad``, the default) and one ``input`` (``type`` valueString,
  ``url`` valueUri, optional ``etag``) per file. The files must sit in Azure Blob Storage of the
  same tenant (the service reads them with its managed identity): no credential is passed, so the
  built-in publisher cannot serve them (pass ``--public-base-url`` / ``--publish s3://`` style storage).
- Answer: 202 with the status ("callback") link in ``Content-Location``.
- Poll: 202 while running; 200 with ``output[]`` (``type``, ``count``, ``inputUrl``) and
  ``error[]`` (``type`` OperationOutcome, ``count``, ``inputUrl``, ``url`` of an NDJSON of
  OperationOutcomes) when complete, some resources possibly refused; anything else: the job failed.
- Limits: at most 10,000 files per operation; files ≥ 50 MB / 20k resources perform best; up to five
  parallel jobs (InitialLoad blocks API writes: fhirflow runs one at a time); no conditional references.
"""

from __future__ import annotations

from typing import Any

import httpx

from etl.load.dialects._common import ASYNC_HEADERS, content_location, failed, json_body, manifest_result, running
from etl.load.dialects.base import ImportInput, PollState


class AzureDialect:
    name = "azure"
    carries_credential = False  # the service fetches from Blob Storage with its managed identity
    max_files = 10_000
    small_file_bytes = 50 * 1024 * 1024
    small_file_resources = 20_000
    one_job_at_a_time = False

    def __init__(self, mode: str = "IncrementalLoad") -> None:
        self.mode = mode
        if mode == "InitialLoad":
            self.name = "azure-initial"
            self.one_job_at_a_time = True  # InitialLoad is for an empty server and blocks its writes

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        params: list[dict[str, Any]] = [
            {"name": "inputFormat", "valueString": "application/fhir+ndjson"},
            {"name": "mode", "valueString": self.mode},
        ]
        for item in inputs:
            params.append({"name": "input", "part": [
                {"name": "type", "valueString": item.type},
                {"name": "url", "valueUri": item.url},
            ]})
        return "$import", dict(ASYNC_HEADERS), {"resourceType": "Parameters", "parameter": params}

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        return content_location(response, base_url)

    def read_status(self, response: httpx.Response) -> PollState:
        if response.status_code == 202:
            return running(response)
        if response.status_code != 200:
            return failed(response)
        counts, errors = manifest_result(json_body(response))
        refused = sum(int(e.get("count", 0)) for e in json_body(response).get("error", []) or [] if isinstance(e, dict))
        message = f"imported {sum(counts.values())} resource(s)" + (f", {refused} refused" if refused else "")
        return PollState(done=True, message=message, counts=counts, errors=errors)
