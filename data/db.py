"""Engine creation and the unit of work.

SQLite follows SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling is
switched off and every transaction begins ``BEGIN IMMEDIATE`` with a busy timeout, so concurrent
writers queue instead of failing with "database is locked"; WAL mode and foreign keys are on.
PostgreSQL runs the same code through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(database_url: str) -> Engine:
    """Create the engine for ``database_url`` (any SQLAlchemy URL; SQLite and PostgreSQL tested).

    A SQLite file's folder is created if missing.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        pool_size=20,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()
        # SQLite's own lower() folds ASCII only; searches must match "олег" to "Олег" as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class UnitOfWork:
    """Opens one session (one transaction) per use case.

    Usage::

        with uow.begin() as session:
            ...               # reads and writes
            session.commit()  # nothing is written without it

    Leaving the block without ``commit()`` rolls back. Never hold a unit of work open across a
    network call: on SQLite it blocks every other writer.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def begin(self) -> Iterator[Session]:
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            # close() rolls back what was not committed without expiring loaded objects, so
            # views built from them stay readable after the block.
            session.close()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"
