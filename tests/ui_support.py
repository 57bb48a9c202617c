"""Support for NiceGUI ``User`` tests: the app (``app.py``, run by NiceGUI's pytest plugin) on a
fresh SQLite file with background work off, and signing in as a staff or manager account."""

from __future__ import annotations

import pytest
from nicegui.testing import User

ADMIN_PASSWORD = "admin-password-1"
STAFF_PASSWORD = "staff-password-1"


@pytest.fixture
def desk_env(monkeypatch, tmp_path):
    """Environment for the app the ``user`` fixture starts; request it before ``user``."""
    for key, value in {
        "BOOKING_DATA_DIR": str(tmp_path),
        "BOOKING_DATABASE_URL": f"sqlite:///{tmp_path}/booking.db",
        "BOOKING_BACKGROUND": "0",
        "BOOKING_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "BOOKING_PUBLIC_URL": "http://test",
    }.items():
        monkeypatch.setenv(key, value)
    return tmp_path


async def sign_in(user: User, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    """Sign the simulated browser in through ``POST /api/session`` (its cookie jar keeps the session)."""
    answer = await user.http_client.post("/api/session", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text


def add_staff(user: User, username: str = "frontdesk") -> None:
    """Create a ``staff`` account directly in the database of the running app."""
    from nicegui import app

    system = app.state.system
    from domain.accounts import create_user

    create_user(system.uow, username, STAFF_PASSWORD, "staff", system.now())
