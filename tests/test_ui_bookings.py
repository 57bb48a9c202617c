"""The bookings table (server-side paging, filters, search, live status) and the booking detail
(timeline, live confirmation, start payment, cancel, resend mail)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nicegui.testing import User
from sqlmodel import select

from data.models import MailMessage, Payment
from domain.accounts import create_user
from domain.bookings import get_availability
from tests.booking_support import NOW, book, deliver_all, desk, element, pay, resource_id, wait_until
from tests.ui_support import STAFF_PASSWORD, desk_env, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("desk_env")  # before ``user``: the app starts on a fresh database


async def test_bookings_table_filters_by_status_and_searches_by_customer(user: User):
    await sign_in(user)
    system = desk()
    paid = book(system, 2, name="Paid Person")
    pay(system, paid["id"])
    book(system, 4, name="Zed Waiting", email=None, phone="+49 30 1234567")
    book(system, 6, name="Other Waiting")
    await user.open("/bookings")
    table = element(user, "bookings-table")
    assert len(table.rows) == 3
    await user.should_see("Bookings found: 3")

    element(user, "bookings-status").set_value("confirmed")
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Paid Person"])
    await user.should_see("Bookings found: 1")

    element(user, "bookings-status").set_value("")
    user.find(marker="bookings-search").type("1234567")  # the phone
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Zed Waiting"])
    user.find(marker="bookings-search").clear().type("other")
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Other Waiting"])


async def test_bookings_table_filters_by_start_date_in_the_business_timezone(user: User):
    await sign_in(user)
    system = desk()
    book(system, 2, name="Today Person")
    book(system, 48, name="Tomorrow Person")  # 24 hours later
    await user.open("/bookings")
    table = element(user, "bookings-table")
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    element(user, "bookings-from").set_value(tomorrow)
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Tomorrow Person"])
    element(user, "bookings-from").set_value("")
    element(user, "bookings-to").set_value(NOW.date().isoformat())
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Today Person"])


async def test_bookings_are_paged_on_the_server_with_the_total_shown(user: User):
    await sign_in(user)
    system = desk()
    for slot in range(1, 31):
        book(system, slot, name=f"Guest {slot:02d}")
    await user.open("/bookings")
    table = element(user, "bookings-table")
    await user.should_see("Bookings found: 30")
    assert len(table.rows) == 25
    assert table.pagination["rowsNumber"] == 30
    assert table.rows[0]["customer"] == "Guest 30"  # latest start first

    user.find(marker="bookings-table").trigger("request", {"pagination": {"page": 2, "rowsPerPage": 25}})
    await wait_until(lambda: len(table.rows) == 5)
    assert table.pagination["page"] == 2
    assert [row["customer"] for row in table.rows] == [f"Guest {slot:02d}" for slot in range(5, 0, -1)]


async def test_bookings_table_shows_a_status_change_live(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2, name="Live Person")
    await user.open("/bookings")
    table = element(user, "bookings-table")
    assert table.rows[0]["status"] == "pending_payment"
    pay(system, booking["id"])
    system.transport.publish_pending()
    await wait_until(lambda: table.rows[0]["status"] == "confirmed")
    assert table.rows[0]["status_label"] == "confirmed"


async def test_a_row_click_opens_the_booking(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2, name="Clicked Person")
    await user.open("/bookings")
    table = element(user, "bookings-table")
    user.find(marker="bookings-table").trigger("rowClick", [{}, table.rows[0], 0])
    await user.should_see(f"Booking {booking['id'][:8]}", retries=20)
    await user.should_see("Clicked Person")


async def test_booking_detail_shows_its_timeline_and_unmasked_contacts(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2, name="Timeline Person", email="timeline@example.test", phone="+79991234567")
    pay(system, booking["id"])
    system.transport.publish_pending()
    deliver_all(system)
    await user.open(f"/bookings/{booking['id']}")
    await user.should_see(marker="booking-status", content="confirmed")
    await user.should_see("timeline@example.test")
    await user.should_see("+79991234567")
    for text in (
        "Booking created",
        "Payment succeeded",
        "Booking confirmed",
        "Payment started at sandbox",
        "Webhook from sandbox: applied",
        "signature verified",
        "notification: delivered, attempts: 1",
        "integration: delivered, attempts: 1",
        "Mail: ",
    ):
        await user.should_see(text)


async def test_booking_detail_turns_confirmed_live_when_the_payment_succeeds(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2)
    await user.open(f"/bookings/{booking['id']}")
    await user.should_see(marker="booking-status", content="pending payment")
    await user.should_see(f"http://test/pay/{booking['id']}")

    pay(system, booking["id"])
    system.transport.publish_pending()

    await user.should_see(marker="booking-status", content="confirmed", retries=30)
    await user.should_see("Webhook from sandbox: applied")


async def test_start_payment_from_the_detail_creates_a_checkout(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2)
    await user.open(f"/bookings/{booking['id']}")
    user.find(marker="booking-pay").click()
    await user.should_see(marker="booking-checkout-link")
    with system.uow.begin() as session:
        payment = session.exec(select(Payment).where(Payment.booking_id == booking["id"])).one()
    assert payment.status == "pending" and payment.redirect_url.startswith("http://test/sandbox/checkout/")
    await user.should_see("Payment started at sandbox")


async def test_cancel_from_the_detail_refunds_and_frees_the_slot(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2)
    pay(system, booking["id"])
    system.transport.publish_pending()
    await user.open(f"/bookings/{booking['id']}")
    await user.should_see(marker="booking-status", content="confirmed")

    user.find(marker="booking-cancel").click()
    await user.should_see("Cancel this booking?")
    user.find(marker="booking-cancel-confirm").click()

    await user.should_see(marker="booking-status", content="cancelled", retries=30)
    await user.should_see("refunded")
    await user.should_not_see(marker="booking-cancel")
    studio = resource_id(system)
    slots = get_availability(system.uow, studio, NOW.date(), NOW.date(), system.now())
    start = NOW + timedelta(hours=1)
    assert [slot.available for _, slot in slots if slot.start_utc == start] == [True]


async def test_resend_mail_sends_the_newest_mail_again_with_a_fresh_message_id(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2)
    deliver_all(system)  # booking.created -> the first mail
    await user.open(f"/bookings/{booking['id']}")
    user.find(marker="booking-resend").click()
    await user.should_see("Mail sent again to guest@example.test.")
    with system.uow.begin() as session:
        ids = session.exec(select(MailMessage.message_id).where(MailMessage.booking_id == booking["id"])).all()
    assert len(ids) == 2
    original = next(message_id for message_id in ids if ".resend-" not in message_id)
    event_id = original.strip("<>").split("@")[0]
    assert sorted(ids) == sorted([original, f"<{event_id}.resend-1@localhost>"])
    assert len(list((system.settings.data_dir / "mail").glob("*.eml"))) == 2


async def test_resend_without_any_mail_says_so(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2)
    await user.open(f"/bookings/{booking['id']}")
    user.find(marker="booking-resend").click()
    await user.should_see("No mail has been sent for this booking yet.")


async def test_a_staff_user_works_with_bookings_and_payments(user: User):
    system = desk()
    create_user(system.uow, "frontdesk", STAFF_PASSWORD, "staff", system.now())
    booking = book(system, 2, name="Staff Sees")
    await sign_in(user, "frontdesk", STAFF_PASSWORD)
    await user.open("/bookings")
    assert element(user, "bookings-table").rows[0]["customer"] == "Staff Sees"
    await user.open(f"/bookings/{booking['id']}")
    await user.should_see("guest@example.test")
    await user.should_see(marker="booking-cancel")
    await user.open("/payments")
    await user.should_see("Needs attention only")


async def test_an_unknown_booking_says_so(user: User):
    await sign_in(user)
    await user.open("/bookings/00000000-0000-4000-8000-000000000000")
    await user.should_see(marker="booking-not-found")
