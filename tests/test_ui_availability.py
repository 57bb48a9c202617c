"""The availability grid (``/availability``) through NiceGUI's simulated user.

Slots are taken on the demo "Studio Berlin (24/7)" resource two days ahead, so they exist and lie
in the future whatever day the tests run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from nicegui import app
from nicegui.testing import User

from components.slot_grid import slot_key
from domain.bookings import BookingRequest, create_booking
from domain.occupancy import active_resources
from tests.ui_support import desk_env, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("desk_env")  # before ``user``: the app starts on a fresh database

BERLIN = ZoneInfo("Europe/Berlin")


def berlin_studio() -> dict:
    return next(r for r in active_resources(app.state.system.uow) if r["name"] == "Studio Berlin (24/7)")


def ahead(days: int = 2) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def book(resource_id: int, start: datetime, name: str = "Grid Guest") -> dict:
    system = app.state.system
    request = BookingRequest(resource_id=resource_id, start=start, customer_name=name, customer_email="g@example.test")
    booking = create_booking(system.uow, request, now=system.now(), hold_seconds=900, locale="en")
    system.events_committed()
    return booking


async def test_grid_shows_free_slots_and_greys_a_booked_one(user: User):
    studio = berlin_studio()
    day = ahead()
    book(studio["id"], at(day, 10), name="Vera Booked")
    await sign_in(user)
    await user.open(f"/availability?day={day.isoformat()}")
    taken = f"slot-{slot_key(studio['id'], at(day, 10))}"
    free = f"slot-{slot_key(studio['id'], at(day, 10, 30))}"
    await user.should_see(marker=[taken, "slot-taken"], retries=10)
    await user.should_see(marker=[free, "slot-free"])
    await user.should_see("10:00 · Vera Booked")
    await user.should_see("10:30")


async def test_free_slot_opens_the_wizard_prefilled(user: User):
    studio = berlin_studio()
    day = ahead()
    await sign_in(user)
    await user.open(f"/availability?day={day.isoformat()}")
    marker = f"slot-{slot_key(studio['id'], at(day, 14))}"
    await user.should_see(marker=marker)
    user.find(marker=marker).click()
    await user.should_see(marker="wizard-summary")
    await user.should_see(f"{studio['name']}")
    await user.should_see(marker="pick-selected", retries=10)


async def test_a_slot_taken_elsewhere_greys_out_live(user: User):
    studio = berlin_studio()
    day = ahead()
    await sign_in(user)
    await user.open(f"/availability?day={day.isoformat()}")
    marker = f"slot-{slot_key(studio['id'], at(day, 11))}"
    await user.should_see(marker=[marker, "slot-free"], retries=10)
    book(studio["id"], at(day, 11), name="Live Walk-in")
    app.state.system.transport.publish_pending()
    await user.should_see(marker=[marker, "slot-taken"], retries=20)
    await user.should_see("11:00 · Live Walk-in")


async def test_dst_days_show_the_gap_and_the_repeated_hour_of_berlin(user: User):
    await sign_in(user)
    await user.open("/availability?day=2026-03-29")
    await user.should_see("01:30 +01:00", retries=10)
    await user.should_see("03:00 +02:00")
    await user.should_not_see("02:30 +01:00")
    await user.should_see("clock change: UTC+01:00 → UTC+02:00")
    await user.open("/availability?day=2026-10-25")
    await user.should_see("02:30 +02:00", retries=10)
    await user.should_see("02:30 +01:00")


async def test_week_view_counts_free_slots_and_opens_a_day(user: User):
    studio = berlin_studio()
    day = ahead(8)  # a week ahead: every Berlin slot of that day is still to come
    if day in (date(2026, 3, 29), date(2026, 10, 25)):  # a DST day has 46 or 50 slots
        day += timedelta(days=1)
    book(studio["id"], at(day, 9))
    await sign_in(user)
    await user.open(f"/availability?day={day.isoformat()}&view=week")
    cell = f"week-{studio['id']}-{day.isoformat()}"
    await user.should_see(marker=cell, content="47 free of 48", retries=10)
    user.find(marker=cell).click()
    await user.should_see(marker=f"slot-{slot_key(studio['id'], at(day, 9))}")
