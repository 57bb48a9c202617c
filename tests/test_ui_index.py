"""The overview page and sign-in, through NiceGUI's simulated user."""

from __future__ import annotations

import httpx
from nicegui.testing import User

from tests.ui_support import ADMIN_PASSWORD, sign_in


async def test_staff_pages_redirect_anonymous_users_to_login(desk_env, user: User):
    for path in ("/", "/bookings", "/payments", "/settings"):
        answer = await user.http_client.get(path, follow_redirects=False)
        assert answer.status_code in (302, 303, 307), path
        assert answer.headers["location"].startswith("/login?next="), path


async def test_signed_in_manager_sees_the_latest_bookings(desk_env, user: User):
    await sign_in(user)
    await user.open("/")
    await user.should_see("Booking Desk")


async def test_wrong_password_is_refused(desk_env, user: User):
    answer = await user.http_client.post("/api/session", json={"username": "admin", "password": "nope"})
    assert answer.status_code == 401 and answer.json()["code"] == "invalid_credentials"
    assert isinstance(answer, httpx.Response)
    answer = await user.http_client.post("/api/session", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 200
