"""Server flavours of bulk ``$import``. Each dialect builds the kick-off request and reads the
status responses; the importer does the rest. Add a dialect by writing a module with a class that
has the :class:`etl.load.dialects.base.ImportDialect` shape and listing it in :data:`DIALECTS`.

Optional attributes a dialect may have (read with defaults by :mod:`etl.load.jobs` and
:mod:`etl.load.preflight`): ``prelude()`` requests sent before the kick-off, ``poll_request()``, ``cancel_request()``,
``carries_credential`` (can hand the publisher's credential to the server), ``needs_manifest``
(the server fetches a Bulk Data manifest), ``ordered_inputs``, ``one_job_at_a_time``, ``max_files``,
``small_file_bytes`` / ``small_file_resources`` (size guidance), ``source_schemes``."""

from __future__ import annotations

from collections.abc import Callable

from etl.config import ImportConfig
from etl.errors import ConfigError
from etl.load.dialects.azure import AzureDialect
from etl.load.dialects.base import ImportDialect
from etl.load.dialects.bulk_submit import BulkSubmitDialect
from etl.load.dialects.gcp import GoogleHealthcareDialect
from etl.load.dialects.hapi import HapiDialect
from etl.load.dialects.healthlake import HealthLakeDialect
from etl.load.dialects.pathling import PathlingDialect
from etl.load.dialects.smart import SmartPingPullDialect


def _submitter(cfg: ImportConfig) -> dict[str, tuple[str, str]]:
    if not cfg.submitter:
        return {}
    system, _, value = cfg.submitter.rpartition("|")
    return {"submitter": (system, value)}


DIALECTS: dict[str, Callable[[ImportConfig], ImportDialect]] = {
    "hapi": lambda cfg: HapiDialect(),
    "azure": lambda cfg: AzureDialect("IncrementalLoad"),
    "azure-initial": lambda cfg: AzureDialect("InitialLoad"),
    "pathling": lambda cfg: PathlingDialect(),
    "smart": lambda cfg: SmartPingPullDialect(),
    "bulk-submit": lambda cfg: BulkSubmitDialect("build", **_submitter(cfg)),
    "bulk-submit-ballot": lambda cfg: BulkSubmitDialect("ballot", **_submitter(cfg)),
    "gcp": lambda cfg: GoogleHealthcareDialect(cfg.fhir_url),
    "healthlake": lambda cfg: HealthLakeDialect(cfg.fhir_url, cfg.aws_role_arn, cfg.aws_kms_key_id, cfg.aws_output_s3),
}


def get_dialect(name: str, config: ImportConfig | None = None) -> ImportDialect:
    """The dialect called ``name`` (some read the job's settings: the FHIR URL, the submitter)."""
    try:
        factory = DIALECTS[name]
    except KeyError:
        raise ConfigError(f"unknown $import dialect {name!r}; known: {', '.join(sorted(DIALECTS))}") from None
    return factory(config or ImportConfig())
