"""Shared fixtures: databases (SQLite and PostgreSQL), a unit of work, an injected clock.

PostgreSQL tests use a database created for this test session on 127.0.0.1:5432 and dropped at
the end. Without a reachable server they are skipped locally; with ``CI=true`` they fail instead,
because a skipped test is not a passing test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import text

from data.db import UnitOfWork, make_engine
from data.migrate import migrate
from data.models import SQLModel

PG_ADMIN_URL = os.environ.get("BOOKING_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(reason: str) -> None:
    """Skip locally, fail in CI: tests that need a real server must run there."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database for this test session."""
    name = f"booking_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        need(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each test using it runs twice: on a fresh SQLite file and on the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/booking.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def uow(database_url) -> Iterator[UnitOfWork]:
    """A migrated, empty database (PostgreSQL tables are emptied before each test)."""
    engine = make_engine(database_url)
    migrate(engine)
    if engine.dialect.name == "postgresql":
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield UnitOfWork(engine)
    engine.dispose()


class Clock:
    """An injected clock: call it for "now" (aware UTC); ``advance`` moves it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


from tests.ui_support import desk_env  # noqa: E402, F401  (fixture for NiceGUI User tests, shared by all)
