"""Current-state tables: one Delta Lake table per resource type and per analyst view, that every
batch merges into, so a claim replaced (CLM05-3 = 7) or voided (8) in a later run is one row, not
one per partition it was staged in.

``<lake>/<ResourceType>/`` has the per-type staged columns (``id``, the view's, ``resource``);
``<lake>/<view name>/`` the analyst table's. Both add ``_as_of`` (the batch's transactionTime, UTC)
and ``_hash`` (SHA-256 of the resource's JSON). The MERGE (``deltalake``, delta-rs):

- per type, keyed by ``id``; per view, by ``(_resource_id, _row)``, and the rows of a resource
  the new version no longer has are deleted: the resource's rows are replaced as a whole.
- a version replaces the one in the table when it is newer (``_as_of``), or as new with other
  content; an older batch merged late changes nothing. A void is a version like any other: its row
  stays, with its status (``entered-in-error``, ``cancelled``).
- re-running a batch changes nothing: every row matches with the same ``_as_of`` and ``_hash``.
- batches merging at once: Delta's optimistic concurrency rejects a commit that conflicts with
  one made since the table was read; it is retried (read again, merge again) with backoff, so no
  batch loses another's rows.

Spark, Databricks, Polars (``pl.read_delta``) and DuckDB (``delta_scan``) read these tables.
Spec: Delta Lake transaction protocol, https://github.com/delta-io/delta/blob/master/PROTOCOL.md
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl.errors import StageError

log = logging.getLogger(__name__)

ATTEMPTS = 12  # commits that lost a race are retried this often (with backoff) before giving up


def merge_batch(lake: Path, out: Path, as_of: str) -> dict[str, int]:
    """Merge a converted output folder's ``parquet/`` tables into ``lake``; returns the rows of
    each source table (per type and per view) that the batch offered."""
    parquet = out / "parquet"
    if not parquet.is_dir():
        return {}
    stamp = _utc(as_of)
    hashes: dict[str, dict[str, str]] = {}  # resource type -> id -> hash of its JSON
    merged: dict[str, int] = {}
    tables = sorted(p for p in parquet.iterdir() if p.is_dir())
    # per-type tables first: the views take their resources' hashes from them
    for d in [t for t in tables if t.name[:1].isupper()] + [t for t in tables if not t.name[:1].isupper()]:
        parts = sorted(d.glob("*.parquet"))
        if not parts:
            continue
        table = pa.concat_tables([pq.read_table(p) for p in parts])
        if d.name[:1].isupper():
            digests = [hashlib.sha256(r.encode()).hexdigest() for r in table.column("resource").to_pylist()]
            hashes[d.name] = dict(zip(table.column("id").to_pylist(), digests))
            key, id_col = ["id"], "id"
        else:
            meta = pq.read_schema(parts[0]).metadata or {}
            rtype = meta.get(b"fhirflow.resource", b"").decode()
            by_id = hashes.get(rtype, {})
            digests = [by_id.get(rid, "") for rid in table.column("_resource_id").to_pylist()]
            key, id_col = ["_resource_id", "_row"], "_resource_id"
        table = table.replace_schema_metadata(None)
        table = table.append_column("_as_of", pa.array([stamp] * table.num_rows, type=pa.timestamp("us", tz="UTC")))
        table = table.append_column("_hash", pa.array(digests, type=pa.string()))
        merge_table(lake / d.name, table, key, id_col, replace_rows=len(key) > 1)
        merged[d.name] = table.num_rows
    return merged


def merge_table(path: Path, source: pa.Table, key: list[str], id_col: str, replace_rows: bool) -> None:
    """MERGE ``source`` into the Delta table at ``path`` (created by the first batch), retrying
    commits that lost a race with another batch."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

    if source.num_rows == 0:
        return
    for attempt in range(1, ATTEMPTS + 1):
        try:
            try:
                dt = DeltaTable(str(path))
            except TableNotFoundError:
                # First batch: create. Two first batches at once: one commit of version 0 wins, the
                # other fails here and merges on its retry.
                write_deltalake(str(path), source, mode="error")
                return
            batch = _not_older(dt, source, id_col)
            if batch.num_rows == 0:
                return
            on = " AND ".join(f"t.{k} = s.{k}" for k in key)
            merger = (dt.merge(batch, predicate=on, source_alias="s", target_alias="t")
                      .when_matched_update_all(predicate="s._as_of > t._as_of OR s._hash <> t._hash")
                      .when_not_matched_insert_all())
            if replace_rows:
                ids = ", ".join("'" + str(i).replace("'", "''") + "'" for i in pc.unique(batch.column(id_col)).to_pylist())
                merger = merger.when_not_matched_by_source_delete(predicate=f"t.{id_col} IN ({ids})")
            merger.execute()
            return
        except (CommitFailedError, DeltaError, OSError) as exc:
            if not _retryable(exc) or attempt == ATTEMPTS:
                raise StageError(f"current-state table {path.name}: the merge failed ({type(exc).__name__}: "
                                 f"{_first_line(exc)})") from None
            delay = min(5.0, 0.05 * 2 ** attempt) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
            log.info("current-state table %s: commit lost a race, merging again in %.2fs (%d/%d)",
                     path.name, delay, attempt, ATTEMPTS)
            time.sleep(delay)


def _not_older(dt: object, source: pa.Table, id_col: str) -> pa.Table:
    """``source`` without the resources the table already has in a newer version (a late batch).

    The table's files are read with pyarrow from the paths the Delta log lists (not through
    ``to_pyarrow_dataset``, whose Rust file system can abort the process at exit)."""
    ids = pc.unique(source.column(id_col))
    files = dt.file_uris()  # type: ignore[attr-defined]
    if not files:
        return source
    parts = []
    for f in files:
        t = pq.read_table(f.removeprefix("file://"), columns=[id_col, "_as_of"])
        # delta-rs may write strings as string_view, which is_in has no kernel for
        t = t.cast(pa.schema([pa.field(id_col, pa.string()), t.schema.field("_as_of")]))
        parts.append(t.filter(pc.is_in(t.column(id_col), value_set=ids)))
    current = pa.concat_tables(parts)
    if current.num_rows == 0:
        return source
    newest = current.group_by(id_col).aggregate([("_as_of", "max")])
    stamp = source.column("_as_of")[0]
    newer = newest.filter(pc.greater(newest.column("_as_of_max"), stamp)).column(id_col)
    if len(newer) == 0:
        return source
    return source.filter(pc.invert(pc.is_in(source.column(id_col), value_set=newer)))


def _retryable(exc: BaseException) -> bool:
    """A lost race: a concurrent commit (delta-rs says conflict/concurrent/version exists), or a
    table another batch created just now."""
    from deltalake.exceptions import CommitFailedError

    if isinstance(exc, CommitFailedError):
        return True
    text = str(exc).lower()
    return any(w in text for w in ("conflict", "concurrent", "already exists", "version", "transaction"))


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:300]


def _utc(when: str) -> datetime:
    try:
        t = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise StageError(f"current-state tables: transactionTime {when!r} is not an ISO date and time") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def duckdb_views(con: object, lake: Path) -> list[str]:
    """Make each current-state table under ``lake`` a DuckDB view of the same name over the Parquet
    files its Delta log lists now (DuckDB's own ``delta_scan`` needs its delta extension, which it
    downloads; this needs nothing). Returns the names. ``con``: a ``duckdb.DuckDBPyConnection``."""
    from deltalake import DeltaTable

    names = []
    for d in sorted(p for p in lake.iterdir() if (p / "_delta_log").is_dir()) if lake.is_dir() else []:
        files = [f.removeprefix("file://") for f in DeltaTable(str(d)).file_uris()]
        if not files:
            continue
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        # S608: the names are folder names and file paths, quoted; no user text
        con.execute(f'CREATE OR REPLACE VIEW "{d.name}" AS SELECT * FROM read_parquet([{listed}])')  # type: ignore[attr-defined]  # noqa: S608
        names.append(d.name)
    return names
