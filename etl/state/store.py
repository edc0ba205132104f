"""Opening the run-state database: URLs, engines, transactions.

``--state`` / ``JobConfig.state_url`` takes a SQLAlchemy URL (``sqlite:///…``,
``postgresql+psycopg://user@host/db``) or a plain file path (a SQLite database). A SQLite file is
created with mode 0600 (it names input files and runs) and opened in WAL mode with a busy timeout,
so parallel tasks on one host wait for each other's short write transactions instead of failing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from etl.errors import ConfigError
from etl.state import schema

SQLITE_BUSY_TIMEOUT_MS = 60_000


def state_url(value: str | Path) -> str:
    """The SQLAlchemy URL for ``value``: a URL as it is, a file path as a SQLite URL."""
    text = str(value)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def now() -> str:
    """The time stamps the state records (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class StateStore:
    """One run-state database. Open it with :meth:`open`; close it (or use it as a context manager)
    when the run ends. Its parts: :attr:`interchanges`, :attr:`documents`, :attr:`receipts`, :attr:`files`,
    :attr:`studies`."""

    def __init__(self, engine: Engine, url: str) -> None:
        from etl.state.documents import DocumentLedger
        from etl.state.files import SettledFiles
        from etl.state.interchanges import InterchangeLedger
        from etl.state.receipts import LoadReceipts
        from etl.state.studies import StudyIndex

        self.engine = engine
        self.url = url
        self.interchanges = InterchangeLedger(self)
        self.documents = DocumentLedger(self)
        self.receipts = LoadReceipts(self)
        self.files = SettledFiles(self)
        self.studies = StudyIndex(self)

    @classmethod
    def open(cls, value: str | Path) -> StateStore:
        """Open (creating and migrating on first use) the database at ``value`` (URL or path)."""
        url = state_url(value)
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigError(f"--state: {url!r} is neither a file path nor a database URL "
                              "(sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)") from None
        try:
            if parsed.get_backend_name() == "sqlite":
                engine = _sqlite_engine(parsed.database or "")
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)
        except NoSuchModuleError:
            raise ConfigError(f"--state: no database driver for {parsed.drivername!r}; PostgreSQL needs "
                              "the postgres extra (pip install 'fhirflow[postgres]')") from None
        store = cls(engine, parsed.render_as_string(hide_password=True))
        try:
            with store.write() as conn:
                schema.migrate(conn)
        except OperationalError as exc:
            engine.dispose()
            raise ConfigError(f"--state: cannot open the state database {store.url}: "
                              f"{str(exc.orig).strip().splitlines()[0]}") from None
        except BaseException:
            engine.dispose()
            raise
        return store

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write: committed when the block ends, rolled back on an error."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def insert(self, table: Table) -> Any:
        """An INSERT that can say ``on_conflict_do_update`` / ``on_conflict_do_nothing`` in this
        database's dialect (SQLite and PostgreSQL both have it)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_engine(database: str) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 before SQLite sees it: the state names input files and runs.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise ConfigError(f"--state: cannot create the state database {path}: {exc.strerror}") from None
    # NullPool: a connection per transaction, so no connection outlives a fork (Airflow's workers).
    engine = create_engine(f"sqlite:///{database}", poolclass=NullPool,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Take the write lock when the transaction starts, not at its first write: two writers that
        # both read first and then upgrade would deadlock (SQLITE_BUSY without waiting).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
