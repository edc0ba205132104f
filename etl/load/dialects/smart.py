"""SMART Bulk Data Import, "ping and pull" proposal.

Source: https://github.com/smart-on-fhir/bulk-import/blob/master/import-pnp.md (also what
Pathling's ``$import-pnp`` follows):

- Kick-off ("ping"): ``POST [base]/$import`` with Parameters ``exportUrl`` (valueUrl) and
  ``exportType`` (valueCode ``static``: the URL is a Bulk Data manifest the server GETs, then it
  fetches the files the manifest lists, the "pull"). ``Prefer: respond-async``.
- Answer: 202 + ``Content-Location`` (absolute polling URL); 429 + ``Retry-After`` while another
  import of this client is in progress (retried like any 429).
- Poll: 202 + ``X-Progress`` + ``Retry-After``; 200 JSON ``{transactionTime, requiresAccessToken,
  outcome: [{type: OperationOutcome, url}]}`` when complete (a partial success is still 200; the
  ``outcome`` files say what went wrong); 4xx/5xx OperationOutcome when the import failed.
- Cancel: ``DELETE`` the polling URL (202); later polls answer 404.
- The proposal has no way to hand the server a credential for the files, so the built-in publisher
  (which requires one) cannot serve them: publish to storage the server can read.
"""

from __future__ import annotations

from typing import Any

import httpx

from etl.load.dialects._common import ASYNC_HEADERS, content_location, failed, json_body, manifest_result, running
from etl.load.dialects.base import ImportInput, PollState

MANIFEST = "manifest.json"  # beside the files: fhirflow's own manifest, or the publisher's absolute-URL copy


class SmartPingPullDialect:
    name = "smart"
    carries_credential = False
    needs_manifest = True
    manifest_url: str | None = None  # set by the importer when the manifest has its own (pre-signed) URL
    one_job_at_a_time = False
    ordered_inputs = True  # an unknown server may load in manifest order: referenced types first

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        params = [
            {"name": "exportUrl", "valueUrl": (self.manifest_url or source + MANIFEST)},
            {"name": "exportType", "valueCode": "static"},
        ]
        return "$import", dict(ASYNC_HEADERS), {"resourceType": "Parameters", "parameter": params}

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        return content_location(response, base_url)

    def read_status(self, response: httpx.Response) -> PollState:
        if response.status_code == 202:
            return running(response)
        if response.status_code != 200:
            return failed(response)
        counts, errors = manifest_result(json_body(response), ("outcome", "error"))
        return PollState(done=True, message="import complete", counts=counts, errors=errors)
