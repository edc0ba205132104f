"""How resources get onto a server: one :class:`~etl.load.dialects.base.Loader` per dialect.

- bulk ``$import`` in a server's flavour (:mod:`etl.load.dialects.bulk` drives an
  :class:`~etl.load.dialects.base.ImportDialect`): ``hapi``, ``azure`` / ``azure-initial``
  (Microsoft FHIR server / Azure Health Data Services), ``pathling``, ``smart`` (SMART ping and
  pull), ``bulk-submit`` / ``bulk-submit-ballot`` (Bulk Data ``$bulk-submit``), ``gcp`` (Google
  Cloud Healthcare store import), ``healthlake`` (AWS HealthLake import jobs)
- ``transaction`` / ``batch``: Bundles of PUTs, for servers without ``$import``
  (:mod:`etl.load.dialects.bundles`)

Add a dialect by writing a module with a class of the ``Loader`` shape (or, for another server's
``$import``, an ``ImportDialect`` for the bulk loader) and listing it in :data:`DIALECTS`.
Verification and receipts stay in :mod:`etl.load.importer`, the same for every dialect.

Optional attributes an ``ImportDialect`` may have (read with defaults by the bulk loader,
:mod:`etl.load.jobs` and :mod:`etl.load.preflight`): ``prelude()`` requests sent before the
kick-off, ``poll_request()``, ``cancel_request()``, ``carries_credential`` (can hand the publisher's
credential to the server), ``needs_manifest`` (the server fetches a Bulk Data manifest),
``ordered_inputs``, ``one_job_at_a_time``, ``max_files``, ``small_file_bytes`` /
``small_file_resources`` (size guidance), ``source_schemes``.
"""

from __future__ import annotations

from collections.abc import Callable

from etl.config import ImportConfig
from etl.errors import ConfigError
from etl.load.dialects.azure import AzureDialect
from etl.load.dialects.base import ImportDialect, Loader
from etl.load.dialects.bulk import BulkImportLoader
from etl.load.dialects.bulk_submit import BulkSubmitDialect
from etl.load.dialects.bundles import BundleLoader
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


# The bulk $import flavours, by dialect name (some read the job's settings: the URL, the submitter).
FLAVOURS: dict[str, Callable[[ImportConfig], ImportDialect]] = {
    "hapi": lambda cfg: HapiDialect(cfg.import_chunk),
    "azure": lambda cfg: AzureDialect("IncrementalLoad"),
    "azure-initial": lambda cfg: AzureDialect("InitialLoad"),
    "pathling": lambda cfg: PathlingDialect(),
    "smart": lambda cfg: SmartPingPullDialect(),
    "bulk-submit": lambda cfg: BulkSubmitDialect("build", **_submitter(cfg)),
    "bulk-submit-ballot": lambda cfg: BulkSubmitDialect("ballot", **_submitter(cfg)),
    "gcp": lambda cfg: GoogleHealthcareDialect(cfg.fhir_url),
    "healthlake": lambda cfg: HealthLakeDialect(cfg.fhir_url, cfg.aws_role_arn, cfg.aws_kms_key_id, cfg.aws_output_s3),
}

def _bulk(make: Callable[[ImportConfig], ImportDialect]) -> Callable[[ImportConfig], Loader]:
    return lambda cfg: BulkImportLoader(make(cfg))


DIALECTS: dict[str, Callable[[ImportConfig], Loader]] = {
    **{name: _bulk(make) for name, make in FLAVOURS.items()},
    "transaction": lambda cfg: BundleLoader("transaction"),
    "batch": lambda cfg: BundleLoader("batch"),
}


def get_dialect(name: str, config: ImportConfig | None = None) -> Loader:
    """The loader of dialect ``name``."""
    try:
        factory = DIALECTS[name]
    except KeyError:
        raise ConfigError(f"unknown load dialect {name!r}; known: {', '.join(sorted(DIALECTS))}") from None
    return factory(config or ImportConfig())


def get_flavour(name: str, config: ImportConfig | None = None) -> ImportDialect | None:
    """The bulk ``$import`` flavour of dialect ``name`` (None for the Bundle dialects)."""
    if name not in DIALECTS:
        get_dialect(name, config)  # the usual error
    make = FLAVOURS.get(name)
    return make(config or ImportConfig()) if make else None
