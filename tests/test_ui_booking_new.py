"""The booking wizard (``/bookings/new``) through NiceGUI's simulated user: a walk-in booked at the
desk gets a pay link with a QR code, a slot taken meanwhile is refused in words, and the status
turns confirmed live when the payment webhook lands.

Slots are on the demo "Studio Berlin (24/7)" resource two days ahead, so they exist and lie in the
future whatever day the tests run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from nicegui import app, ui
from nicegui.testing import User

from domain.bookings import BookingRequest, create_booking, get_booking, search_bookings
from domain.occupancy import active_resources
from payment.service import handle_webhook
from tests.ui_support import desk_env, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("desk_env")  # before ``user``: the app starts on a fresh database

BERLIN = ZoneInfo("Europe/Berlin")


def berlin_studio() -> dict:
    return next(r for r in active_resources(app.state.system.uow) if r["name"] == "Studio Berlin (24/7)")


def at(hour: int, minute: int = 0, days: int = 2) -> datetime:
    day: date = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


async def open_wizard_at(user: User, resource_id: int, start: datetime) -> None:
    await user.open("/bookings/new?" + urlencode({"resource_id": resource_id, "start": start.isoformat()}))
    await user.should_see(marker="pick-selected")


async def fill_customer(user: User, name: str = "Walk-in Wanda", email: str = "wanda@example.test") -> None:
    user.find(marker="wizard-next-slot").click()
    user.find(marker="wizard-name").type(name)
    user.find(marker="wizard-email").type(email)
    user.find(marker="wizard-next-customer").click()
    with user.scope(marker="wizard-summary"):
        await user.should_see(name)


async def test_wizard_books_a_slot_and_shows_the_pay_link_and_qr(user: User):
    studio = berlin_studio()
    await sign_in(user)
    await open_wizard_at(user, studio["id"], at(15))
    user.find(marker="wizard-slots").clear().type("2")
    await fill_customer(user)
    user.find(marker="wizard-create").click()
    await user.should_see(marker="pay-link", retries=20)

    found = search_bookings(app.state.system.uow, query="Walk-in Wanda")["items"]
    assert len(found) == 1
    booking = found[0]
    assert booking["status"] == "pending_payment" and booking["slots"] == 2
    assert booking["start"] == at(15).isoformat() and booking["locale"] == "en"
    assert booking["price"]["amount"] == 2 * studio["price"]["amount"]
    await user.should_see(f"http://test/pay/{booking['id']}")
    qr = user.find(marker="pay-qr").elements.pop()
    assert isinstance(qr, ui.image) and qr.source.startswith("data:image/svg+xml")
    await user.should_see(marker="wizard-status", content="pending payment")
    assert get_booking(app.state.system.uow, booking["id"], masked=False)["payments"][0]["status"] == "pending"


async def test_booking_an_already_held_slot_says_slot_unavailable(user: User):
    studio = berlin_studio()
    await sign_in(user)
    await open_wizard_at(user, studio["id"], at(16))
    await fill_customer(user)
    system = app.state.system
    request = BookingRequest(
        resource_id=studio["id"], start=at(16), customer_name="First", customer_phone="+4930123456"
    )
    create_booking(system.uow, request, now=system.now(), hold_seconds=900, locale="en")
    user.find(marker="wizard-create").click()
    await user.should_see("Slot: this time was taken a moment ago. Please choose another free slot.", retries=20)
    await user.should_not_see(marker="pay-link")
    assert search_bookings(system.uow, query="Walk-in Wanda")["total"] == 0


async def test_customer_needs_an_email_or_a_phone(user: User):
    studio = berlin_studio()
    await sign_in(user)
    await open_wizard_at(user, studio["id"], at(17))
    user.find(marker="wizard-next-slot").click()
    user.find(marker="wizard-name").type("No Contact")
    user.find(marker="wizard-next-customer").click()
    email = user.find(marker="wizard-email").elements.pop()
    assert email.error and email.error.startswith("Email or phone")
    user.find(marker="wizard-email").type("not-an-address")
    user.find(marker="wizard-next-customer").click()
    assert email.error and email.error.startswith("Email: this is not an email address")


async def test_wizard_status_turns_confirmed_live_when_the_payment_is_settled(user: User):
    studio = berlin_studio()
    await sign_in(user)
    await open_wizard_at(user, studio["id"], at(18))
    await fill_customer(user, name="Paying Pavel", email="pavel@example.test")
    user.find(marker="wizard-create").click()
    await user.should_see(marker="wizard-status", content="pending payment", retries=20)

    system = app.state.system
    booking = search_bookings(system.uow, query="Paying Pavel")["items"][0]
    payment = get_booking(system.uow, booking["id"], masked=False)["payments"][0]
    checkout = system.sandbox.pay(payment["redirect_url"].rsplit("/", 1)[-1], "succeeded", deliver_webhook=False)
    hook = system.sandbox.webhook_for(checkout)
    headers = system.sandbox.signed_headers(hook, datetime.now(UTC))
    assert (
        handle_webhook(system.uow, system.providers, "sandbox", hook.body.encode(), headers, system.now()) == "applied"
    )
    system.transport.publish_pending()
    await user.should_see(marker="wizard-status", content="confirmed", retries=30)
    await user.should_see("Paid: the booking is confirmed.")


async def test_provider_down_still_gives_the_pay_link_with_a_warning(user: User):
    studio = berlin_studio()
    await sign_in(user)
    await open_wizard_at(user, studio["id"], at(19))
    await fill_customer(user, name="Patient Polly", email="polly@example.test")
    app.state.system.sandbox.fail_next_create()
    user.find(marker="wizard-create").click()
    await user.should_see(marker="wizard-provider-error", content="not answering", retries=20)
    await user.should_see(marker="pay-link")
    await user.should_see(marker="wizard-status", content="pending payment")
