"""``/events``: dead letters, the ledger and replay (manager only), through NiceGUI's simulated user."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from nicegui import app
from nicegui.testing import User

from components.frame import PageContext
from components.i18n import translator
from domain.accounts import authenticate
from domain.bookings import BookingRequest, create_booking, get_availability
from messaging.consumer import Consumer, RetryPolicy, run_delivery
from messaging.envelope import CloudEvent
from messaging.event_log import recent_events
from messaging.ledger import list_deliveries
from pages.events import replay
from tests.ui_support import STAFF_PASSWORD, add_staff, sign_in

NO_REDELIVERY = RetryPolicy([1], 0)


def failing(event: CloudEvent) -> None:
    raise ConnectionError("endpoint down")


def dead_delivery() -> int:
    """Book a walk-in through the use case, then fail its ``booking.created`` for the integration
    consumer with no redelivery left: one dead letter. Returns its delivery id."""
    system = app.state.system
    now = system.now()
    week = get_availability(system.uow, None, now.date(), now.date() + timedelta(days=6), now)
    resource, slot = next((resource, slot) for resource, slot in week if slot.available)
    view = create_booking(
        system.uow,
        BookingRequest(resource.id, slot.start, "Dead Letter", "dead@example.test"),
        now=now,
        hold_seconds=900,
        locale="en",
    )
    [created] = recent_events(system.uow, limit=1)
    event = CloudEvent(id=created["id"], type=created["type"], time=now, data=view, subject=created["subject"])
    assert event.subject == view["id"]
    consumer_log = logging.getLogger("messaging.consumer")
    level = consumer_log.level
    consumer_log.setLevel(logging.CRITICAL)  # the dead letter is intended: keep its ERROR line out of the check
    try:
        outcome = run_delivery(system.uow, Consumer("integration", failing), event, NO_REDELIVERY, system.clock)
    finally:
        consumer_log.setLevel(level)
    assert outcome.status == "dead"
    [dead] = list_deliveries(system.uow, status="dead")
    return dead["id"]


async def test_manager_replays_a_dead_letter_and_it_becomes_pending(desk_env, user: User):
    await sign_in(user)
    delivery_id = dead_delivery()
    await user.open("/events")
    await user.should_see("Dead letters")
    await user.should_see("ConnectionError: endpoint down")
    user.find(marker=f"replay-{delivery_id}").click()
    await user.should_not_see(marker=f"replay-{delivery_id}")
    [row] = list_deliveries(app.state.system.uow, event_id=None, consumer="integration")
    assert row["id"] == delivery_id
    assert row["status"] == "pending" and row["attempts"] == 0


async def test_staff_sees_dead_letters_without_replay_and_is_refused_server_side(desk_env, user: User):
    add_staff(user)
    await sign_in(user, "frontdesk", STAFF_PASSWORD)
    delivery_id = dead_delivery()
    await user.open("/events")
    await user.should_see(marker=f"dead-{delivery_id}")
    await user.should_not_see(marker=f"replay-{delivery_id}")

    system = app.state.system
    staff = authenticate(system.uow, "frontdesk", STAFF_PASSWORD, system.now())
    with user.client:  # a staff page context calling the replay handler directly, as a forged click would
        refused = await replay(PageContext(system, staff, "en", translator("en")), delivery_id)
    assert refused is False
    assert list_deliveries(system.uow, status="dead")[0]["id"] == delivery_id


async def test_ledger_filters_and_live_refresh_show_new_dead_letters(desk_env, user: User):
    await sign_in(user)
    await user.open("/events")
    await user.should_see("No dead letters")
    ledger = next(iter(user.find(marker="ledger").elements))
    assert ledger.rows == []  # the first read is done: what follows comes from the event
    delivery_id = dead_delivery()
    app.state.system.transport.publish_pending()  # fans the event out to open screens
    await user.should_see(marker=f"dead-{delivery_id}")
    assert sorted(row["status"] for row in ledger.rows) == ["dead", "pending"]  # notification is still due

    user.find(marker="filter-status").click()
    user.find("dead").click()
    await until(lambda: [row["status"] for row in ledger.rows] == ["dead"])
    user.find(marker="filter-consumer").click()
    user.find("notification").click()
    await until(lambda: ledger.rows == [])


async def until(condition, timeout: float = 10.0) -> None:
    """Wait (on the event loop, so page handlers run) until ``condition()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
