"""AWS HealthLake FHIR import jobs (the HealthLake control-plane API, not ``$import``).

Sources: https://docs.aws.amazon.com/healthlake/latest/APIReference/API_StartFHIRImportJob.html,
https://docs.aws.amazon.com/healthlake/latest/APIReference/API_DescribeFHIRImportJob.html and
https://docs.aws.amazon.com/healthlake/latest/devguide/import-examples.html:

- ``--fhir-url`` is the data store's endpoint, ``https://healthlake.REGION.amazonaws.com/datastore/ID/r4``;
  the control plane is the same host's root. Every request is signed with AWS Signature Version 4
  (service ``healthlake``; :class:`etl.load.auth.AwsSigV4Auth`, credentials from the usual AWS chain).
- Kick-off: ``POST /`` with ``X-Amz-Target: HealthLake.StartFHIRImportJob``,
  ``Content-Type: application/x-amz-json-1.0`` and ``{JobName, InputDataConfig: {S3Uri},
  JobOutputDataConfig: {S3Configuration: {S3Uri, KmsKeyId}}, DatastoreId, DataAccessRoleArn,
  ClientToken}``: the input is an S3 prefix (``--public-base-url s3://bucket/prefix``; HealthLake reads
  it with the role), the output prefix and KMS key are ``--aws-output-s3`` / ``--aws-kms-key-id``, the
  role ``--aws-role-arn``. Answer: ``{DatastoreId, JobId, JobStatus: SUBMITTED}``.
- Poll: ``POST /`` with ``X-Amz-Target: HealthLake.DescribeFHIRImportJob`` and ``{DatastoreId,
  JobId}``; ``ImportJobProperties.JobStatus`` is SUBMITTED, QUEUED or IN_PROGRESS while running
  (``JobProgressReport`` counts), COMPLETED, COMPLETED_WITH_ERRORS (the per-resource errors are
  written under the output S3 prefix), FAILED (``Message``), or CANCEL_* .
- The status "URL" kept in the receipt is the describe request's address with the job's ids in its
  query (``https://healthlake.REGION.amazonaws.com/?DatastoreId=…&JobId=…``); the API documents no
  cancel call for import jobs, so ``--cancel`` is refused for this dialect.
- ``ClientToken`` is a digest of the input prefix: a repeated kick-off of the same files is the same
  job to HealthLake (idempotency), not a second import.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from etl.errors import ConfigError, PermanentLoadError
from etl.load.dialects._common import json_body
from etl.load.dialects.base import ImportInput, PollState
from etl.load.http import outcome_text

TARGET = "HealthLake.{}"
JSON_1_0 = "application/x-amz-json-1.0"
RUNNING = {"SUBMITTED", "QUEUED", "IN_PROGRESS"}


def parse_endpoint(fhir_url: str) -> tuple[str, str, str]:
    """(control-plane root URL, region, data store id) of a data store endpoint."""
    parts = urlsplit(fhir_url.rstrip("/"))
    segments = parts.path.strip("/").split("/")
    if "datastore" not in segments or segments.index("datastore") + 1 >= len(segments):
        raise ConfigError(f"the healthlake dialect needs the data store endpoint (…/datastore/ID/r4), not {fhir_url}")
    datastore = segments[segments.index("datastore") + 1]
    host = parts.hostname or ""
    region = host.split(".")[1] if host.startswith("healthlake.") and host.count(".") >= 3 else "us-east-1"
    return f"{parts.scheme}://{parts.netloc}", region, datastore


class HealthLakeDialect:
    name = "healthlake"
    carries_credential = False
    source_schemes = ("s3://",)
    max_files = 10_000  # files per import job (the HealthLake figure)
    one_job_at_a_time = False

    def __init__(self, fhir_url: str = "", role_arn: str | None = None, kms_key_id: str | None = None,
                 output_s3: str | None = None) -> None:
        self.fhir_url, self.role_arn, self.kms_key_id, self.output_s3 = fhir_url, role_arn, kms_key_id, output_s3

    def _headers(self, action: str) -> dict[str, str]:
        return {"Content-Type": JSON_1_0, "X-Amz-Target": TARGET.format(action), "Accept": "application/json"}

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        if not (self.role_arn and self.kms_key_id and self.output_s3):
            raise ConfigError("the healthlake dialect needs --aws-role-arn, --aws-kms-key-id and --aws-output-s3")
        control, _, datastore = parse_endpoint(self.fhir_url)
        prefix = sorted({i.url.rsplit("/", 1)[0] for i in inputs})[0] + "/"
        body = {
            "JobName": f"fhirflow-{hashlib.sha256(prefix.encode()).hexdigest()[:12]}",
            "InputDataConfig": {"S3Uri": prefix},
            "JobOutputDataConfig": {"S3Configuration": {"S3Uri": self.output_s3, "KmsKeyId": self.kms_key_id}},
            "DatastoreId": datastore,
            "DataAccessRoleArn": self.role_arn,
            "ClientToken": hashlib.sha256(("\n".join(sorted(i.url for i in inputs))).encode()).hexdigest()[:64],
        }
        return f"{control}/", self._headers("StartFHIRImportJob"), body

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        body = json_body(response)
        if response.status_code != 200 or not body.get("JobId"):
            text, outcome = outcome_text(response)
            raise PermanentLoadError(f"StartFHIRImportJob was refused (HTTP {response.status_code}): {text}",
                                     status=response.status_code, outcome=outcome)
        control, _, datastore = parse_endpoint(self.fhir_url or base_url)
        return f"{control}/?{urlencode({'DatastoreId': body.get('DatastoreId', datastore), 'JobId': body['JobId']})}"

    def poll_request(self, status_url: str) -> tuple[str, str, dict[str, str], dict[str, Any]]:
        parts = urlsplit(status_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return "POST", f"{parts.scheme}://{parts.netloc}/", self._headers("DescribeFHIRImportJob"), query

    def read_status(self, response: httpx.Response) -> PollState:
        if response.status_code != 200:
            text, outcome = outcome_text(response)
            return PollState(done=True, failed=True, message=f"DescribeFHIRImportJob failed (HTTP "
                             f"{response.status_code}): {text}", outcome=outcome)
        job = json_body(response).get("ImportJobProperties") or {}
        status = str(job.get("JobStatus", ""))
        report = job.get("JobProgressReport") or {}
        counts = (f"{report.get('TotalNumberOfResourcesImported', 0)} imported, "
                  f"{report.get('TotalNumberOfResourcesWithCustomerError', 0)} with errors")
        if status in RUNNING:
            return PollState(done=False, progress=f"{status}: {counts}")
        if status == "COMPLETED":
            return PollState(done=True, message=f"HealthLake import COMPLETED: {counts}")
        if status == "COMPLETED_WITH_ERRORS":
            return PollState(done=True, message=f"HealthLake import COMPLETED_WITH_ERRORS: {counts}; the errors "
                             f"are under {self.output_s3 or 'the job output S3 prefix'}")
        return PollState(done=True, failed=True, message=f"HealthLake import {status or 'unknown'}: "
                         f"{job.get('Message', '')} ({counts})")

    def cancel_request(self, status_url: str) -> tuple[str, str]:
        raise ConfigError("AWS HealthLake documents no way to cancel an import job")
