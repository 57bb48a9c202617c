"""``/notifications``: the mail log, newest first and searchable by recipient (simulated user)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from nicegui import app
from nicegui.testing import User

from domain.bookings import BookingRequest, create_booking, get_availability
from messaging.envelope import CloudEvent
from messaging.event_log import recent_events
from notifications.handlers import make_notification_handler
from notifications.queries import list_mails
from tests.ui_support import STAFF_PASSWORD, add_staff, sign_in


def mail_for_new_booking(email: str, nth: int) -> None:
    """Book the ``nth`` free slot for ``email`` and run the Notification Service on its
    ``booking.created`` (the file backend writes the mail and logs it)."""
    system = app.state.system
    now = system.now()
    week = get_availability(system.uow, None, now.date(), now.date() + timedelta(days=6), now)
    resource, slot = [(resource, slot) for resource, slot in week if slot.available][nth]
    view = create_booking(
        system.uow, BookingRequest(resource.id, slot.start, "Guest", email), now=now, hold_seconds=900, locale="ru"
    )
    [created] = recent_events(system.uow, limit=1)
    handler = make_notification_handler(
        system.uow, system.mailer, public_url="http://test", mail_from="desk@example.test", clock=system.clock
    )
    handler(CloudEvent(id=created["id"], type=created["type"], time=now, data=view, subject=view["id"]))


async def until(condition, timeout: float = 10.0) -> None:
    """Wait (on the event loop, so page handlers run) until ``condition()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_staff_sees_mails_newest_first_and_searches_by_recipient(desk_env, user: User):
    add_staff(user)
    await sign_in(user, "frontdesk", STAFF_PASSWORD)
    mail_for_new_booking("ann@example.test", 0)
    mail_for_new_booking("bob@example.test", 1)
    assert len(list_mails(app.state.system.uow)) == 2

    await user.open("/notifications")
    await user.should_see("Mails sent")
    table = next(iter(user.find(marker="mails").elements))
    await until(lambda: [row["recipient"] for row in table.rows] == ["bob@example.test", "ann@example.test"])
    assert table.rows[0]["locale"] == "ru" and table.rows[0]["template"] == "booking_created"
    assert table.rows[0]["booking"]

    user.find(marker="search").type("ANN@")
    await until(lambda: [row["recipient"] for row in table.rows] == ["ann@example.test"])


async def test_a_new_mail_shows_after_its_event_without_reload(desk_env, user: User):
    await sign_in(user)
    await user.open("/notifications")
    await user.should_see("0 shown")  # the first read is done: what follows comes from the event
    table = next(iter(user.find(marker="mails").elements))
    mail_for_new_booking("live@example.test", 0)
    app.state.system.transport.publish_pending()  # the event reaches the open screen
    await until(lambda: [row["recipient"] for row in table.rows] == ["live@example.test"])
