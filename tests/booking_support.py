"""Bookings and payments made through the use cases of the app a NiceGUI ``User`` test runs.

The app's clock is frozen at ``NOW`` (a Monday, 08:00 UTC = 10:00 in Berlin) so "today" and the
slot grid do not depend on when the test runs; the demo resource "Studio Berlin (24/7)" has
30-minute slots around the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import app
from sqlmodel import select

from data.models import Resource
from domain.bookings import BookingRequest, create_booking
from payment.service import handle_webhook, start_payment
from system import System

NOW = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)
STUDIO = "Studio Berlin (24/7)"


def desk() -> System:
    """The running app's ``System`` with its clock frozen at ``NOW``."""
    system: System = app.state.system
    system.clock = lambda: NOW
    return system


def resource_id(system: System, name: str = STUDIO) -> int:
    with system.uow.begin() as session:
        return session.exec(select(Resource.id).where(Resource.name == name)).one()


def book(
    system: System,
    slot: int,
    *,
    name: str = "Guest",
    email: str | None = "guest@example.test",
    phone: str | None = None,
    resource: str = STUDIO,
) -> dict:
    """A ``pending_payment`` booking of the studio's ``slot``-th half hour after ``NOW``."""
    request = BookingRequest(
        resource_id=resource_id(system, resource),
        start=NOW + timedelta(minutes=30 * slot),
        customer_name=name,
        customer_email=email,
        customer_phone=phone,
    )
    view = create_booking(system.uow, request, now=system.now(), hold_seconds=900, locale="en")
    system.transport.publish_pending()
    return view


def pay(system: System, booking_id: str, outcome: str = "succeeded") -> dict:
    """Start a sandbox payment, click ``outcome`` on its checkout and apply the signed webhook
    (the gateway's own delivery is skipped); the events stay unpublished."""
    payment, _ = start_payment(
        system.uow,
        system.providers,
        booking_id=booking_id,
        provider=None,
        return_url=None,
        settings=system.settings,
        now=system.now(),
    )
    checkout = system.sandbox.pay(payment["redirect_url"].rsplit("/", 1)[1], outcome, deliver_webhook=False)
    hook = system.sandbox.webhook_for(checkout)
    headers = system.sandbox.signed_headers(hook, datetime.now(UTC))
    handle_webhook(system.uow, system.providers, "sandbox", hook.body.encode(), headers, system.now())
    return payment


def deliver_all(system: System) -> None:
    """Run every due delivery of every consumer (the background dispatchers are off in tests)."""
    for consumer in system.transport.consumers:
        while system.transport.dispatch_due(consumer)[0] is not None:
            pass


async def wait_until(condition: Callable[[], Any], timeout: float = 3.0) -> None:
    """Wait (polling the event loop) until ``condition()`` is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def element(user, marker: str):
    """The one element of the current page carrying ``marker``."""
    elements = user.find(marker=marker).elements
    assert len(elements) == 1, f"{len(elements)} elements marked {marker!r}"
    return next(iter(elements))
