"""Tables of the run-state database and the migrations that build them.

The schema version lives in ``fhirflow_schema``. :func:`migrate` brings a database of any earlier
version (or an empty one) to :data:`VERSION`, in one transaction that holds the database's write
lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL an advisory lock), so two processes opening a new
database at once migrate it once. A migration is appended, never edited: databases in the field
were built by the old ones.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
)

VERSION = 3
ADVISORY_LOCK = 0x66686972  # "fhir": the key PostgreSQL sessions serialize migrations on

metadata = MetaData()

schema_version = Table("fhirflow_schema", metadata, Column("version", Integer, nullable=False))

# One row per distinct interchange (identity + digest). ISA fields as sent, trimmed.
x12_interchange = Table(
    "x12_interchange", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("isa05", String(2), nullable=False),
    Column("isa06", String(15), nullable=False),
    Column("isa07", String(2), nullable=False),
    Column("isa08", String(15), nullable=False),
    Column("isa13", String(9), nullable=False),
    # SHA-256 (hex) of ISA…IEA with line breaks normalised; "" for entries migrated from the JSON
    # ledger, which kept ISA09/ISA10 (``stamp``) instead.
    Column("digest", String(64), nullable=False),
    Column("stamp", String(16), nullable=False, default=""),
    Column("state", String(16), nullable=False),  # converted | loaded
    Column("complete", Boolean, nullable=False),  # every transaction set and claim converted
    Column("file", Text, nullable=False),  # input path, relative to the input root
    Column("run_id", Text, nullable=False),
    Column("output", Text, nullable=False),  # the output folder it was (last) converted into
    Column("converted_at", String(32), nullable=False),
    Column("loaded_at", String(32)),
    Column("receipt_id", Integer),
    UniqueConstraint("isa05", "isa06", "isa07", "isa08", "isa13", "digest", name="uq_x12_interchange"),
)

# One row per output folder loaded (a CLI output, or one Airflow batch), updated on every attempt.
load_receipt = Table(
    "load_receipt", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("output", Text, nullable=False, unique=True),
    Column("run_id", Text, nullable=False),
    Column("fhir_url", Text, nullable=False),
    Column("status_url", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False),  # started | completed | unverified | failed
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("sent", Text, nullable=False, default="{}"),  # JSON {type: count}
    Column("found", Text, nullable=False, default="{}"),  # JSON {type: count} verified on the server
    Column("message", Text, nullable=False, default=""),
)

# Where each input file went when its run settled it (archive, quarantine, duplicates).
settled_file = Table(
    "settled_file", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("fmt", String(16), nullable=False),
    Column("name", Text, nullable=False),  # as landed
    Column("sha256", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # archived | quarantined | duplicate
    Column("destination", Text, nullable=False),
    Column("settled_at", String(32), nullable=False),
    UniqueConstraint("run_id", "fmt", "name", name="uq_settled_file"),
)


# The DICOM study index: one row per instance header read (any run), so that each run can emit the
# whole study as known so far (etl.state.studies). ``record`` is the header-derived JSON record
# (patient name and ids included: this table holds PHI, like the output), ``digest`` its SHA-256.
dicom_instance = Table(
    "dicom_instance", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sop_instance_uid", String(64), nullable=False, unique=True),  # (0008,0018)
    Column("study_uid", String(64), nullable=False, index=True),  # (0020,000D)
    Column("series_uid", String(64), nullable=False),  # (0020,000E)
    Column("digest", String(64), nullable=False),
    Column("record", Text, nullable=False),
    Column("file", Text, nullable=False),  # where it was (last) read: a path, archive!member or URL
    Column("run_id", Text, nullable=False),  # the run that last changed the record
    Column("first_seen", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)


# One row per distinct C-CDA document (ClinicalDocument/id + digest): what the C-CDA source needs
# to notice a reused id, a re-sent copy and a new version (etl/state/documents.py).
ccda_document = Table(
    "ccda_document", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_root", Text, nullable=False),  # ClinicalDocument/id/@root
    Column("doc_ext", Text, nullable=False),  # ClinicalDocument/id/@extension ("" when absent)
    Column("set_root", Text, nullable=False),  # ClinicalDocument/setId ("" when absent)
    Column("set_ext", Text, nullable=False),
    Column("version", Integer),  # ClinicalDocument/versionNumber/@value
    Column("digest", String(64), nullable=False),  # SHA-256 of the document's canonical XML (C14N)
    Column("id_key", Text, nullable=False),  # JSON list: the business key its resource ids were made from
    Column("state", String(16), nullable=False),  # converted | loaded
    Column("complete", Boolean, nullable=False),  # every section converted
    Column("file", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("output", Text, nullable=False),
    Column("converted_at", String(32), nullable=False),
    Column("loaded_at", String(32)),
    Column("receipt_id", Integer),
    UniqueConstraint("doc_root", "doc_ext", "digest", name="uq_ccda_document"),
    Index("ix_ccda_document_set", "set_root", "set_ext"),  # every document's verdict looks its setId up
)


# Studies a DAG run's mapped convert tasks touched (key: the Airflow run), emitted once by its
# ``studies`` task after every batch was read: two batches of one study then cannot race to the server.
dicom_touched = Table(
    "dicom_touched", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_key", Text, nullable=False),
    Column("study_uid", String(64), nullable=False),
    UniqueConstraint("run_key", "study_uid", name="uq_dicom_touched"),
)


def _v1(conn: Connection) -> None:
    for table in (x12_interchange, load_receipt, settled_file):
        table.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    for table in (dicom_instance, dicom_touched):
        table.create(conn, checkfirst=True)


def _v3(conn: Connection) -> None:
    ccda_document.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3]  # MIGRATIONS[n] builds version n + 1


def migrate(conn: Connection) -> int:
    """Bring the database behind ``conn`` (inside a write transaction) to :data:`VERSION`; returns
    the version it had. Refuses a database written by a newer fhirflow."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
    schema_version.create(conn, checkfirst=True)
    found = conn.execute(select(schema_version.c.version)).scalar()
    start = int(found or 0)
    if start > VERSION:
        from etl.errors import ConfigError

        raise ConfigError(f"the state database has schema version {start}, newer than this fhirflow "
                          f"understands ({VERSION}): upgrade fhirflow, or point --state at another database")
    for step in MIGRATIONS[start:]:
        step(conn)
    if found is None:
        conn.execute(schema_version.insert().values(version=VERSION))
    elif start != VERSION:
        conn.execute(schema_version.update().values(version=VERSION))
    return start
