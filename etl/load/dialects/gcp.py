"""Google Cloud Healthcare API FHIR store import (a long-running operation, not ``$import``).

Sources: https://cloud.google.com/healthcare/docs/reference/rest/v1/projects.locations.datasets.fhirStores/import
and https://cloud.google.com/healthcare/docs/reference/rest/v1beta1/ImportResourcesErrorDetails:

- ``--fhir-url`` is the store's FHIR base,
  ``https://healthcare.googleapis.com/v1/projects/P/locations/L/datasets/D/fhirStores/S/fhir``.
- Kick-off: ``POST …/fhirStores/S:import`` with ``{"contentStructure": "RESOURCE", "gcsSource":
  {"uri": "gs://bucket/prefix/fhir/*.ndjson"}}``: the files must be in Cloud Storage (the store
  reads them with its service agent; no credential is passed). 200 with an Operation ``{name}``.
- Poll: ``GET …/v1/{operation name}``: 200 always; ``done`` absent or false while running
  (``metadata.counter.success/failure`` so far), ``done`` with ``response`` when complete, ``done``
  with ``error`` (``message``, ``details[]`` ImportResourcesErrorDetails ``successCount``/``errorCount``)
  when it failed. Error details go to Cloud Logging, so there is no error file to fetch.
- Cancel: ``POST …/v1/{operation name}:cancel``.
- Every resource needs a client id (checked before sending); referential integrity is not enforced.
"""

from __future__ import annotations

from typing import Any

import httpx

from etl.errors import ConfigError, PermanentLoadError
from etl.load.dialects._common import json_body
from etl.load.dialects.base import ImportInput, PollState
from etl.load.http import outcome_text


def _store(base_url: str) -> str:
    base = base_url.rstrip("/")
    if "/fhirStores/" not in base:
        raise ConfigError(f"the gcp dialect needs the FHIR store's base URL (…/fhirStores/STORE/fhir), not {base_url}")
    return base[: -len("/fhir")] if base.endswith("/fhir") else base


def _api_root(base_url: str) -> str:
    return base_url.split("/projects/", 1)[0]


class GoogleHealthcareDialect:
    name = "gcp"
    carries_credential = False
    source_schemes = ("gs://",)
    one_job_at_a_time = False

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        if not source.startswith("gs://"):
            raise ConfigError(f"the gcp dialect imports from Cloud Storage: publish to gs://… (not {source})")
        folders = sorted({i.url.rsplit("/", 1)[0] for i in inputs})
        uri = f"{folders[0]}/*.ndjson" if len(folders) == 1 else f"{source.rstrip('/')}/**.ndjson"
        body = {"contentStructure": "RESOURCE", "gcsSource": {"uri": uri}}
        return f"{_store(self.base_url)}:import", {"Content-Type": "application/json", "Accept": "application/json"}, body

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        name = json_body(response).get("name")
        if response.status_code != 200 or not name:
            text, outcome = outcome_text(response)
            raise PermanentLoadError(f"the import was not accepted (HTTP {response.status_code}, expected an "
                                     f"Operation): {text}", status=response.status_code, outcome=outcome)
        return f"{_api_root(base_url)}/{name}"

    def cancel_request(self, status_url: str) -> tuple[str, str]:
        return "POST", f"{status_url}:cancel"

    def read_status(self, response: httpx.Response) -> PollState:
        body = json_body(response)
        if response.status_code != 200:
            text, outcome = outcome_text(response)
            return PollState(done=True, failed=True, message=f"the import operation is unreadable (HTTP "
                             f"{response.status_code}): {text}", outcome=outcome)
        counter = (body.get("metadata") or {}).get("counter") or {}
        so_far = f"{counter.get('success', 0)} imported, {counter.get('failure', 0)} failed"
        if not body.get("done"):
            return PollState(done=False, progress=so_far)
        if body.get("error"):
            error = body["error"]
            return PollState(done=True, failed=True,
                             message=f"the import operation failed: {error.get('message', '')} ({so_far})")
        return PollState(done=True, message=f"import operation done: {so_far}")
