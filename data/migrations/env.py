"""Alembic environment: runs migrations on the connection handed in by ``data.migrate``.

From the command line (``alembic -x url=sqlite:///var/booking.db upgrade head``) it builds its own
engine from ``-x url=...`` or ``BOOKING_DATABASE_URL``.
"""

import os

from alembic import context
from sqlmodel import SQLModel

import data.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from data.db import make_engine

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "BOOKING_DATABASE_URL", "sqlite:///var/booking.db"
    )
    with make_engine(url).connect() as connection:
        _run(connection)
        connection.commit()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
