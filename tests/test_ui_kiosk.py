"""The public kiosk (``/kiosk``) through NiceGUI's simulated user: no sign-in, a walk-in books
tomorrow's slot on the demo "Studio Berlin (24/7)" resource (free whatever day the tests run),
in the kiosk's own language, and sees nobody else's name."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from nicegui import app
from nicegui.testing import User

from components.slot_grid import slot_key
from domain.bookings import BookingRequest, create_booking, search_bookings
from domain.occupancy import active_resources
from tests.ui_support import desk_env  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("desk_env")  # before ``user``: the app starts on a fresh database

BERLIN = ZoneInfo("Europe/Berlin")


def berlin_studio() -> dict:
    return next(r for r in active_resources(app.state.system.uow) if r["name"] == "Studio Berlin (24/7)")


def tomorrow_at(hour: int) -> datetime:
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


async def wait_for_booking(name: str) -> dict:
    """The booking matching ``name`` once the kiosk's click has created it (polls for up to 3 s)."""
    for _ in range(60):
        found = search_bookings(app.state.system.uow, query=name)["items"]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no booking for {name!r}")


async def choose_tomorrow(user: User, resource_id: int, hour: int) -> None:
    await user.open("/kiosk")
    user.find(marker=f"kiosk-resource-{resource_id}").click()
    await user.should_see(marker="kiosk-day-1", retries=10)
    user.find(marker="kiosk-day-1").click()
    slot = f"pick-{slot_key(resource_id, tomorrow_at(hour))}"
    await user.should_see(marker=slot, retries=10)
    user.find(marker=slot).click()
    await user.should_see(marker="kiosk-pay")


def record_navigation(user: User, monkeypatch) -> list[str]:
    """Where the page sends the browser; the simulated user cannot open the provider's plain HTML page."""
    targets: list[str] = []
    monkeypatch.setattr(user.navigate, "to", lambda target, new_tab=False: targets.append(target))
    return targets


async def test_kiosk_is_public_and_creates_a_booking(user: User, monkeypatch):
    answer = await user.http_client.get("/kiosk", follow_redirects=False)
    assert answer.status_code == 200
    studio = berlin_studio()
    system = app.state.system
    other = BookingRequest(studio["id"], tomorrow_at(13), customer_name="Secret Sam", customer_phone="+4930999999")
    create_booking(system.uow, other, now=system.now(), hold_seconds=900, locale="en")

    await choose_tomorrow(user, studio["id"], 12)
    targets = record_navigation(user, monkeypatch)
    await user.should_not_see("Secret Sam")
    await user.should_not_see(marker=f"pick-{slot_key(studio['id'], tomorrow_at(13))}")
    user.find(marker="kiosk-name").type("Kiosk Kate")
    user.find(marker="kiosk-email").type("kate@example.test")
    user.find(marker="kiosk-pay").click()

    booking = await wait_for_booking("Kiosk Kate")
    assert booking["status"] == "pending_payment"
    assert booking["start"] == tomorrow_at(12).isoformat()
    assert booking["customer"]["email"] == "kate@example.test" and booking["locale"] == "en"
    assert targets == [f"/pay/{booking['id']}"]
    answer = await user.http_client.get(targets[0], follow_redirects=False)
    assert answer.status_code == 303 and "/sandbox/checkout/" in answer.headers["location"]


async def test_kiosk_language_toggle_books_in_russian(user: User, monkeypatch):
    studio = berlin_studio()
    await user.open("/kiosk")
    record_navigation(user, monkeypatch)
    toggle = user.find(marker="kiosk-language").elements.pop()
    with user.client:
        toggle.value = "ru"
    await user.should_see("Что вы хотите забронировать?")
    user.find(marker=f"kiosk-resource-{studio['id']}").click()
    await user.should_see(marker="kiosk-day-1", retries=10)
    user.find(marker="kiosk-day-1").click()
    slot = f"pick-{slot_key(studio['id'], tomorrow_at(14))}"
    await user.should_see(marker=slot, retries=10)
    user.find(marker=slot).click()
    await user.should_see(marker="kiosk-pay", retries=10)
    user.find(marker="kiosk-name").type("Олег")
    user.find(marker="kiosk-phone").type("+7 999 123-45-67")
    user.find(marker="kiosk-pay").click()
    booking = await wait_for_booking("+7 999 123-45-67")  # (SQLite's lower() leaves Cyrillic as it is)
    assert booking["locale"] == "ru" and booking["customer"]["name"] == "Олег"


async def test_kiosk_asks_for_a_contact_in_plain_words(user: User):
    studio = berlin_studio()
    await choose_tomorrow(user, studio["id"], 15)
    user.find(marker="kiosk-name").type("No Contact")
    user.find(marker="kiosk-pay").click()
    await user.should_see(marker="kiosk-error", content="Email or phone: give at least one", retries=10)
    field = user.find(marker="kiosk-email").elements.pop()
    assert field.error and field.error.startswith("Email or phone: give at least one")
    assert search_bookings(app.state.system.uow, query="No Contact")["total"] == 0
