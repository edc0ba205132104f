"""Bulk Data ``$bulk-submit`` / ``$bulk-submit-status`` (Bulk Data Access IG, STU 4).

Sources: https://hl7.org/fhir/uv/bulkdata/4.0.0-202609-ballot/en/submit.html (the STU 4 ballot) and
https://build.fhir.org/ig/HL7/bulk-data/en/submit.html (the continuous build, HL7/bulk-data
``input/pagecontent/submit.md``, ``input/fsh/valuesets/SubmissionStatusValueSet.fsh``); Pathling
implements the ballot (https://pathling.csiro.au/docs/server/operations/bulk-submit).

- ``POST [base]/$bulk-submit`` (200): Parameters ``submitter`` (Identifier), ``submissionId``
  (string, unique per submitter), ``submissionStatus`` (Coding), ``manifestUrl``, ``fhirBaseUrl``
  (required with ``manifestUrl``), ``fileRequestHeader`` (``headerName``/``headerValue`` the server
  SHALL send when it fetches the manifest and each file: fhirflow's per-job Basic credential).
  fhirflow sends one manifest with ``in-progress``, then the closing status.
- Status words differ: the ballot closes with ``complete`` / cancels with ``aborted`` and lists
  problems under ``outcome``; the build closes with ``completed`` / ``stopped``
  (``http://hl7.org/fhir/event-status``) and lists them under ``error``. Dialect ``bulk-submit``
  sends the build's words, ``bulk-submit-ballot`` the ballot's; both read either manifest shape.
- ``POST [base]/$bulk-submit-status`` (``Prefer: respond-async``): 202 + ``Content-Location``; polling
  that: 202 (+ ``X-Progress``) while processing, 200 with the status manifest (``submissionId``,
  ``output``, ``error``/``outcome`` items with ``url`` and ``manifestUrl``) when done.
- The ``submissionId`` is a digest of the submitted file URLs: sending the same files again names the
  same submission, which the server treats as a repeat rather than a second load.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from etl.load.dialects._common import ASYNC_HEADERS, content_location, failed, json_body, manifest_result, running
from etl.load.dialects.base import ImportInput, PollState
from etl.load.dialects.smart import MANIFEST

WORDS = {"build": ("completed", "stopped"), "ballot": ("complete", "aborted")}
DEFAULT_SUBMITTER = ("https://fhirflow.invalid/submitter", "fhirflow")


class BulkSubmitDialect:
    name = "bulk-submit"
    carries_credential = True  # fileRequestHeader
    needs_manifest = True
    manifest_url: str | None = None  # set by the importer when the manifest has its own (pre-signed) URL
    one_job_at_a_time = True  # a server MAY answer 429 while a submission of this submitter is open
    ordered_inputs = True

    def __init__(self, words: str = "build", submitter: tuple[str, str] = DEFAULT_SUBMITTER) -> None:
        self.words = words
        self.complete_word, self.stop_word = WORDS[words]
        if words == "ballot":
            self.name = "bulk-submit-ballot"
        self.submitter = submitter

    def submission_id(self, inputs: list[ImportInput]) -> str:
        return hashlib.sha256("\n".join(sorted(i.url for i in inputs)).encode()).hexdigest()[:32]

    def _ident(self, submission_id: str) -> list[dict[str, Any]]:
        return [{"name": "submitter", "valueIdentifier": {"system": self.submitter[0], "value": self.submitter[1]}},
                {"name": "submissionId", "valueString": submission_id}]

    def prelude(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        """The two ``$bulk-submit`` requests that come before the status kick-off."""
        sid = self.submission_id(inputs)
        submit = self._ident(sid) + [
            {"name": "submissionStatus", "valueCoding": {"system": "http://hl7.org/fhir/event-status", "code": "in-progress"}},
            {"name": "manifestUrl", "valueString": (self.manifest_url or source + MANIFEST)},
            {"name": "fhirBaseUrl", "valueString": source.rstrip("/")},
        ]
        if credential is not None:
            import base64

            token = base64.b64encode(f"{credential[0]}:{credential[1]}".encode()).decode()
            submit.append({"name": "fileRequestHeader", "part": [
                {"name": "headerName", "valueString": "Authorization"},
                {"name": "headerValue", "valueString": f"Basic {token}"}]})
        close = self._ident(sid) + [
            {"name": "submissionStatus", "valueCoding": {"system": "http://hl7.org/fhir/event-status",
                                                         "code": self.complete_word}}]
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        return [("$bulk-submit", headers, {"resourceType": "Parameters", "parameter": submit}),
                ("$bulk-submit", headers, {"resourceType": "Parameters", "parameter": close})]

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        body = {"resourceType": "Parameters", "parameter": self._ident(self.submission_id(inputs))}
        return "$bulk-submit-status", dict(ASYNC_HEADERS), body

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        return content_location(response, base_url, "$bulk-submit-status kick-off")

    def read_status(self, response: httpx.Response) -> PollState:
        if response.status_code == 202:
            return running(response)
        if response.status_code != 200:
            return failed(response, "the submission failed")
        body = json_body(response)
        counts, errors = manifest_result(body, ("error", "outcome"))  # build's word, ballot's word
        return PollState(done=True, message=f"submission {body.get('submissionId', '')} processed".replace("  ", " "),
                         counts=counts, errors=errors)
