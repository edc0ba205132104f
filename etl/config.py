"""The one typed settings object, :class:`JobConfig`, built once (CLI or DAG) and passed down.

Nothing below the CLI/DAG layer reads environment variables or globals; tests build a
``JobConfig`` per case. Defaults are what a payer would want on Monday morning: deterministic ids,
warn-level strictness, 256 MiB NDJSON parts, Parquet on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from etl.errors import ConfigError

DEFAULT_ID_SALT = "fhirflow-default-salt"
VERIFY_MODES = ("ids", "sample", "none")


class Strictness(enum.Enum):
    """How to treat a recoverable data problem (an unknown code, a bad optional value).

    ``IGNORE`` drops it quietly, ``WARN`` keeps going and records a warning issue, ``RAISE`` rejects
    the whole unit (message / transaction set / document) as an error record. Structural problems
    always reject the unit, whatever this says.
    """

    IGNORE = "ignore"
    WARN = "warn"
    RAISE = "raise"


@dataclass(frozen=True)
class ImportConfig:
    """Settings of the ``$import`` client.

    ``public_base_url``: when set, NDJSON files are assumed already reachable at
    ``<public_base_url>/<relative path>`` (object storage, a web server); otherwise fhirflow serves the
    output folder itself on ``publish_host`` (an ephemeral port unless ``publish_port`` is given),
    addressed as ``advertise_host`` when the server reaches it by another name (containers).
    """

    fhir_url: str = ""
    # How resources reach the server (etl.load.dialects): bulk $import in a server's flavour ("hapi",
    # "azure", "azure-initial", "pathling", "smart", "bulk-submit", "bulk-submit-ballot", "gcp",
    # "healthlake"), or the fallback for servers without it, "transaction" / "batch" Bundles of PUTs.
    dialect: str = "hapi"
    public_base_url: str | None = None
    publish_host: str = "127.0.0.1"
    publish_port: int = 0
    advertise_host: str | None = None  # host name the server uses to reach the publisher (compose: the worker's)
    publish_allow_remote: bool = False  # bind the publisher beyond loopback (it warns); the files are PHI
    publish_tls: tuple[str, str] | None = None  # (certificate, key) PEM files: the publisher speaks HTTPS
    poll_interval_s: float = 2.0
    max_retry_after_s: float = 10.0
    timeout_s: float = 1800.0
    http_timeout_s: float = 60.0
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    # After the load: "ids" looks every resource id up on the server (exact; ``verify_chunk`` ids a
    # request, ``verify_concurrency`` requests at once), "sample" counts each type on the server
    # (``_summary=count``) and looks up ``verify_sample`` ids of it, "none" trusts the server.
    verify: str = "ids"
    verify_chunk: int = 1000
    verify_concurrency: int = 2
    verify_sample: int = 200
    basic_auth: tuple[str, str] | None = None
    publish_url: str | None = None  # object storage (s3://bucket/prefix): the files go there, pre-signed
    presign_seconds: int = 3600  # lifetime of those pre-signed URLs
    resume: str = "auto"  # auto | require | never: an open receipt of the output is polled, not kicked off again
    bearer_token: str | None = None  # a static access token (Authorization: Bearer)
    # SMART Backend Services (etl.load.auth): client id, private key (PEM or JWKS), RS384/ES384
    smart_client_id: str | None = None
    smart_key: str | None = None
    smart_kid: str | None = None
    smart_alg: str = "RS384"
    smart_scope: str = "system/*.read system/*.write"
    smart_token_url: str | None = None  # default: the FHIR server's .well-known/smart-configuration
    tls_verify: bool = True  # False only on request, with a warning
    ca_bundle: str | None = None  # PEM bundle of the CAs to trust for the FHIR server
    # AWS HealthLake: the role HealthLake reads S3 with, the KMS key and S3 prefix of the job's output
    aws_role_arn: str | None = None
    aws_kms_key_id: str | None = None
    aws_output_s3: str | None = None
    submitter: str = ""  # bulk-submit: the submitter Identifier as "system|value" (agreed with the server)

    # The transaction/batch dialects: PUTs per Bundle, Bundles in flight, and how many rejected
    # entries end the load at once (a systematically broken batch, not a few bad resources).
    bundle_size: int = 500
    concurrency: int = 2
    # $import (hapi): resources per server work chunk (HAPI's storageDetail maxBatchResourceCount)
    import_chunk: int = 500
    # $import: a job per tier of types, referenced ones first (etl.load.dialects.bulk.TIERS), when
    # the batch is more than 4 work chunks: no two chunks race to create the same placeholder
    import_tiers: bool = True
    max_rejected: int = 1000

    def __post_init__(self) -> None:
        if self.verify not in VERIFY_MODES:
            raise ConfigError(f"verify must be one of {', '.join(VERIFY_MODES)}, not {self.verify!r}")
        if self.resume not in ("auto", "require", "never"):
            raise ConfigError(f"resume must be 'auto', 'require' or 'never', not {self.resume!r}")
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        for name in ("bundle_size", "concurrency", "import_chunk", "verify_chunk", "verify_concurrency", "verify_sample"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1")
        if self.max_rejected < 0:
            raise ConfigError("max-rejected must not be negative")


@dataclass(frozen=True)
class JobConfig:
    """Everything one conversion/load job needs to know.

    ``id_salt`` keys the hash behind every resource id (see :mod:`etl.fhir.ids`): keep it the same
    across runs and machines or re-loads will not upsert onto the same resources, and keep it secret
    if ids must not be linkable to source identifiers.
    """

    id_salt: str = DEFAULT_ID_SALT
    strictness: Strictness = Strictness.WARN
    ndjson_max_bytes: int = 256 * 1024 * 1024
    # Resource ids the NDJSON sink holds in memory before spilling them to its on-disk index (see
    # etl.stage.seen): bounds memory at any run size; the output is the same whatever it is.
    ndjson_memory_ids: int = 100_000
    parquet: bool = True
    parquet_row_group: int = 10_000
    # The shipped analyst tables (claim_item, eob_item_adjudication, ...: etl.stage.tables) staged
    # with every batch beside the per-type ones; and the analyst's own ViewDefinitions (files or folders).
    analyst_tables: bool = True
    user_views: tuple[str, ...] = ()
    # Current-state Delta tables (etl.stage.lake) every run merges its tables into: <lake_root>/<table>/
    lake_root: str | None = None
    transaction_time: str | None = None
    source_timezone: str | None = None  # IANA zone for source timestamps that carry none
    x12_validate: bool = False
    # The run-state database (etl.state): a SQLAlchemy URL or a SQLite file path. It holds the X12
    # interchange ledger and the load receipts; None: no re-send detection, no receipts.
    state_url: str | None = None
    x12_reprocess: bool = False  # convert interchanges the ledger has loaded anyway
    # A reused ISA13 with other content: "convert" (with a warning) or "reject" (TA1 025)
    duplicate_control: str = "convert"
    ccda_max_bytes: int = 50 * 1024 * 1024  # larger C-CDA documents are rejected before parsing
    ccda_embed_document: bool = True  # keep the original CDA (base64) in a DocumentReference
    # What the Parquet files name as their run (metadata fhirflow.run): the Airflow run id in a DAG;
    # default: run_id if given, else the run's transactionTime (so the same input gives the same bytes).
    run_label: str | None = None
    # DICOM: the WADO-RS base URL files' studies are retrievable from (their Endpoint; DICOMweb inputs
    # name their own), and the StudyDate window a DICOMweb input is searched for (ISO dates, inclusive)
    dicom_endpoint: str | None = None
    dicom_since: str | None = None
    dicom_until: str | None = None
    # DAG runs: when set, the studies a convert task touches are recorded under this key (the Airflow
    # run) instead of emitted; the run's studies task then emits them once (input "dicom-run:KEY")
    dicom_defer_studies: str | None = None
    run_id: str | None = None  # who writes this output (default: the output folder); a re-run is not a re-send
    file_mode: int = 0o640  # permission bits of every output file (folders: the same plus x; owner rwx)
    follow_symlinks: bool = False  # follow symlinks in input folders that lead outside the folder
    load: ImportConfig = field(default_factory=ImportConfig)

    def __post_init__(self) -> None:
        if not self.id_salt:
            raise ConfigError("id_salt must not be empty: set FHIRFLOW_ID_SALT or --id-salt")
        if self.ndjson_max_bytes < 1024:
            raise ConfigError("ndjson_max_bytes must be at least 1024")
        if self.duplicate_control not in ("convert", "reject"):
            raise ConfigError(f"--duplicate-control must be 'convert' or 'reject', not {self.duplicate_control!r}")
        if self.source_timezone:
            try:
                ZoneInfo(self.source_timezone)
            except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
                raise ConfigError(f"source_timezone must be an IANA time zone, not {self.source_timezone!r}") from None
        if not 0 <= self.file_mode <= 0o777 or not self.file_mode & 0o400:
            raise ConfigError(f"file_mode must be permission bits (0 to 0777) the owner can read, not {self.file_mode:#o}")
        if self.ndjson_memory_ids < 1:
            raise ConfigError("ndjson_memory_ids must be at least 1")

    def with_load(self, **changes: object) -> JobConfig:
        """A copy with some :class:`ImportConfig` fields changed."""
        return replace(self, load=replace(self.load, **changes))  # type: ignore[arg-type]


def landing_paths(root: Path) -> dict[str, Path]:
    """The folder layout the DAGs use under one root: landing, work, archive, quarantine, out."""
    return {name: root / name for name in ("landing", "work", "archive", "quarantine", "out")}
