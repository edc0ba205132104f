"""The run-state database: what must survive a run and be seen by the next one.

One database behind one API (:class:`StateStore`), and nowhere else: no JSON side files, no in-memory
sets that grow with the input. SQLAlchemy Core over SQLite by default (a file, WAL journal, mode
0600) or PostgreSQL by URL (``postgresql+psycopg://…``) for DAG workers on several hosts.

What it holds (see ``schemas``: :mod:`etl.state.schema`):

- **X12 interchanges** (:mod:`etl.state.interchanges`): identity (ISA05/ISA06, ISA07/ISA08, ISA13)
  plus a SHA-256 of the interchange's bytes; ``converted`` (into which output) and ``loaded`` (only
  after ``$import`` completed and the server's counts were checked).
- **C-CDA documents** (:mod:`etl.state.documents`): ClinicalDocument/id, setId, versionNumber and a
  SHA-256 of the canonical XML, the key the resource ids were made from; ``converted`` / ``loaded``
  as for X12. Read by the C-CDA source to notice reused ids, re-sent copies and new versions.
- **Load receipts** (:mod:`etl.state.receipts`): per converted batch, the ``$import`` status URL
  and the counts sent and found on the server.
- **Settled files** (:mod:`etl.state.files`): where each input went (archive, quarantine,
  duplicates), by content hash.
- **DICOM instances** (:mod:`etl.state.studies`): every instance header read, by SOP Instance UID
  (with its study and series UIDs and a digest), so each run emits whole studies.

Transactions and unique keys do the locking: two mapped tasks on two hosts cannot both record the
same interchange. The schema is versioned; migrations run on first use (:mod:`etl.state.schema`).

The state is not the output: deleting it loses no data (ids are deterministic, so a reload upserts);
it only loses the memory of what was loaded, so the next run converts and loads re-sent files again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.state.store import StateStore, state_url

if TYPE_CHECKING:
    from etl.config import JobConfig

__all__ = ["StateStore", "open_state", "state_url"]


def open_state(config: JobConfig) -> StateStore | None:
    """The run-state database ``config.state_url`` names (migrated on first use; a JSON ledger of
    fhirflow 0.1 beside it is taken over), or None when the job keeps no state."""
    if not config.state_url:
        return None
    from etl.state.legacy import adopt_json_ledgers

    state = StateStore.open(config.state_url)
    adopt_json_ledgers(state)
    return state
