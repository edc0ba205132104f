"""Pathling server ``$import`` (CSIRO), FHIR Parameters form.

Source: https://pathling.csiro.au/docs/server/operations/import (aehrc/pathling
``site/docs/server/operations/import.md``) and https://pathling.csiro.au/docs/server/operations/jobs:

- Kick-off: ``POST [base]/$import``, ``Prefer: respond-async``, Parameters with ``inputSource``
  (valueString), ``inputFormat`` (valueCoding ``application/fhir+ndjson``), ``saveMode`` (valueCoding
  ``overwrite`` or ``merge``) and one ``input`` per file (``resourceType`` valueCoding, ``url`` valueUrl).
  fhirflow sends ``merge``: ``overwrite`` (Pathling's default) deletes every existing resource of the
  type first, which a batch load of part of a population must never do.
- Answer: 202 with ``Content-Location`` of the job (``[base]/$job?id=…``); ``GET`` polls it
  (202 + ``X-Progress`` while running, 200 Parameters with ``output`` parts when complete), ``DELETE``
  cancels it.
- Sources: ``s3a://``, ``hdfs://``, ``file://`` only, and allow-listed in the server's configuration:
  Pathling takes no credential for them, so the built-in HTTP publisher cannot serve it.
"""

from __future__ import annotations

from typing import Any

import httpx

from etl.load.dialects._common import ASYNC_HEADERS, content_location, failed, running
from etl.load.dialects.base import ImportInput, PollState


class PathlingDialect:
    name = "pathling"
    carries_credential = False
    one_job_at_a_time = False

    def __init__(self, save_mode: str = "merge") -> None:
        self.save_mode = save_mode

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        params: list[dict[str, Any]] = [
            {"name": "inputSource", "valueString": source},
            {"name": "inputFormat", "valueCoding": {"code": "application/fhir+ndjson"}},
            {"name": "saveMode", "valueCoding": {"code": self.save_mode}},
        ]
        for item in inputs:
            params.append({"name": "input", "part": [
                {"name": "resourceType", "valueCoding": {"code": item.type}},
                {"name": "url", "valueUrl": item.url},
            ]})
        return "$import", dict(ASYNC_HEADERS), {"resourceType": "Parameters", "parameter": params}

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        return content_location(response, base_url)

    def read_status(self, response: httpx.Response) -> PollState:
        if response.status_code == 202:
            return running(response)
        if response.status_code != 200:
            return failed(response)
        return PollState(done=True, message="Pathling import job complete")
