"""The C-CDA document ledger (``StateStore.documents``) on SQLite and PostgreSQL: one row per
distinct document (id + digest), loaded only by its output's receipt, and the migration that adds
its table to a database of an earlier schema version."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from etl.state import StateStore
from etl.state.documents import ConvertedDocument, DocumentIdentity
from etl.state.schema import MIGRATIONS, VERSION, schema_version

DOC = DocumentIdentity(("2.16.840.1.113883.19.5", "doc-1"), ("2.16.840.1.113883.19.5", "set-1"), 1, "a" * 64)
KEY = ("setId", "2.16.840.1.113883.19.5", "set-1")


def test_documents_are_recorded_matched_and_loaded(state_url: str) -> None:
    other = DocumentIdentity(("2.16.840.1.113883.19.5", "doc-2"), DOC.set_id, 2, "b" * 64)
    stranger = DocumentIdentity(("9.9", "x"), None, None, "c" * 64)
    with StateStore.open(state_url) as store:
        ledger = store.documents
        ledger.record_converted([ConvertedDocument(DOC, KEY, True, "a.xml"),
                                 ConvertedDocument(other, KEY, False, "b.xml"),
                                 ConvertedDocument(stranger, ("9.9", "x"), True, "c.xml")], "run-1", "/out/1", "t1")
        assert [r.file for r in ledger.matching(DOC)] == ["a.xml", "b.xml"]  # same id, or same setId
        assert [r.identity for r in ledger.by_doc_id(stranger.doc_id)] == [stranger]
        assert ledger.matching(stranger)[0].identity.set_id is None
        receipt = store.receipts.start("/out/1", "run-1", "http://fhir", "", {}, "t2")
        store.receipts.complete(receipt, {}, "ok", "t3")
        states = {r.file: (r.state, r.loaded_at) for r in ledger.all()}
        assert states == {"a.xml": ("loaded", "t3"), "b.xml": ("converted", None), "c.xml": ("loaded", "t3")}
        # Converted again by a later run: one row still, loaded stays loaded, the key is kept.
        ledger.record_converted([ConvertedDocument(DOC, KEY, True, "a2.xml")], "run-2", "/out/2", "t4")
        (a,) = [r for r in ledger.all() if r.identity == DOC]
        assert (a.state, a.file, a.run_id, a.id_key) == ("loaded", "a2.xml", "run-2", KEY)
        assert ledger.forget([a.id]) == 1 and len(ledger.all()) == 2


def test_an_older_database_gains_the_document_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    before = next(i for i, step in enumerate(MIGRATIONS) if step.__name__ == _migration_of_the_document_table())
    with engine.begin() as conn:  # a database as fhirflow built it before the C-CDA ledger
        schema_version.create(conn)
        for step in MIGRATIONS[:before]:
            step(conn)
        conn.execute(schema_version.insert().values(version=before))
    assert "ccda_document" not in inspect(engine).get_table_names()
    engine.dispose()
    with StateStore.open(path) as store:
        with store.read() as conn:
            assert conn.execute(text("SELECT version FROM fhirflow_schema")).scalar() == VERSION
        store.documents.record_converted([ConvertedDocument(DOC, KEY, True, "a.xml")], "run-1", "/out", "t1")
        assert len(store.documents.all()) == 1


def _migration_of_the_document_table() -> str:
    """The name of the migration that creates ``ccda_document`` (its number may change on merges)."""
    import inspect as source

    return next(step.__name__ for step in MIGRATIONS if "ccda_document" in source.getsource(step))
