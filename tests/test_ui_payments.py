"""The payments screen: recent payments, flagged ones first, the attention filter, live status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nicegui.testing import User

from payment.service import cancel_and_refund, handle_webhook, start_payment
from tests.booking_support import book, desk, element, pay, wait_until
from tests.ui_support import desk_env, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("desk_env")  # before ``user``: the app starts on a fresh database


def paid_after_cancel(system) -> dict:
    """A payment that succeeds after staff cancelled its booking: refunded and flagged."""
    booking = book(system, 2, name="Late Payer")
    payment, _ = start_payment(
        system.uow,
        system.providers,
        booking_id=booking["id"],
        provider=None,
        return_url=None,
        settings=system.settings,
        now=system.now(),
    )
    cancel_and_refund(system.uow, system.providers, booking["id"], system.now())
    checkout = system.sandbox.pay(payment["redirect_url"].rsplit("/", 1)[1], "succeeded", deliver_webhook=False)
    hook = system.sandbox.webhook_for(checkout)
    headers = system.sandbox.signed_headers(hook, datetime.now(UTC))
    handle_webhook(system.uow, system.providers, "sandbox", hook.body.encode(), headers, system.now())
    return booking


async def test_flagged_payments_come_first_and_can_be_shown_alone(user: User):
    await sign_in(user)
    system = desk()
    late = paid_after_cancel(system)
    normal = book(system, 4, name="Normal Payer")
    pay(system, normal["id"])
    await user.open("/payments")
    table = element(user, "payments-table")
    assert [row["customer"] for row in table.rows] == ["Late Payer", "Normal Payer"]
    flagged = table.rows[0]
    assert flagged["status"] == "refunded" and "refunded automatically" in flagged["attention"]
    assert flagged["booking_id"] == late["id"]
    await user.should_see("1 need attention")

    element(user, "payments-attention").set_value(True)
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Late Payer"])
    element(user, "payments-attention").set_value(False)
    element(user, "payments-status").set_value("succeeded")
    await wait_until(lambda: [row["customer"] for row in table.rows] == ["Normal Payer"])


async def test_payments_refresh_live_when_a_payment_succeeds(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2)
    start_payment(
        system.uow,
        system.providers,
        booking_id=booking["id"],
        provider=None,
        return_url=None,
        settings=system.settings,
        now=system.now(),
    )
    await user.open("/payments")
    table = element(user, "payments-table")
    assert [row["status"] for row in table.rows] == ["pending"]
    pay(system, booking["id"])  # settles the pending payment (same provider: reused)
    system.transport.publish_pending()
    await wait_until(lambda: [row["status"] for row in table.rows] == ["succeeded"])


async def test_a_payment_row_opens_its_booking(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2, name="Row Click")
    pay(system, booking["id"])
    await user.open("/payments")
    table = element(user, "payments-table")
    user.find(marker="payments-table").trigger("rowClick", [{}, table.rows[0], 0])
    await user.should_see(f"Booking {booking['id'][:8]}", retries=20)
