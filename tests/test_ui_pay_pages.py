"""The customer's payment pages speak the booking's language (the one its mails use)."""

from __future__ import annotations

from datetime import timedelta

from nicegui import app
from nicegui.testing import User

from domain.bookings import BookingRequest, cancel_booking, create_booking, get_availability, get_booking


def russian_booking() -> dict:
    system = app.state.system
    day = (system.now() + timedelta(days=1)).date()
    slot = next(s for _, s in get_availability(system.uow, 4, day, day, system.now()) if s.available)
    request = BookingRequest(4, slot.start, "Олег", customer_phone="+79991234567")
    return create_booking(system.uow, request, now=system.now(), hold_seconds=900, locale="ru")


async def test_a_cancelled_russian_booking_explains_in_russian_why_it_cannot_be_paid(user: User):
    await user.open("/login")
    booking = russian_booking()
    system = app.state.system
    cancel_booking(system.uow, booking["id"], system.now())
    answer = await user.http_client.get(f"/pay/{booking['id']}", follow_redirects=False)
    assert answer.status_code == 409
    assert 'lang="ru"' in answer.text and "Это бронирование нельзя оплатить" in answer.text
    assert "Оно отменено." in answer.text and "pending_payment" not in answer.text


async def test_an_unknown_booking_link_says_so(user: User):
    answer = await user.http_client.get("/pay/00000000-0000-0000-0000-000000000000", follow_redirects=False)
    assert answer.status_code == 404 and "Booking not found" in answer.text


async def test_the_return_page_shows_the_payment_in_the_bookings_language(user: User):
    await user.open("/login")
    booking = russian_booking()
    answer = await user.http_client.get(f"/pay/{booking['id']}", follow_redirects=False)
    assert answer.status_code == 303
    payment_id = get_booking(app.state.system.uow, booking["id"], masked=True)["payments"][0]["id"]
    await user.open(f"/payments/{payment_id}/return")
    await user.should_see("Ждём подтверждения оплаты от платёжной системы…")
    await user.should_see("Платёж: в обработке")


async def test_the_return_page_of_an_unknown_payment_is_a_404(user: User):
    answer = await user.http_client.get("/payments/00000000-0000-0000-0000-000000000000/return")
    assert answer.status_code == 404 and "This payment does not exist." in answer.text
