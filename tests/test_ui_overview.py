"""The overview: today's figures in the business's timezone, charts, latest bookings, live."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from nicegui.testing import User

from components import format as fmt
from domain.accounts import create_user, update_user
from domain.reports import day_bounds, revenue_by_day
from payment.service import cancel_and_refund, start_payment
from tests.booking_support import NOW, book, desk, element, pay, wait_until
from tests.ui_support import STAFF_PASSWORD, desk_env, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("desk_env")  # before ``user``: the app starts on a fresh database

STUDIO_PRICE = {"amount": 90_000, "currency": "RUB"}


def test_a_business_day_spans_local_midnights_even_across_a_dst_switch():
    start, end = day_bounds(date(2026, 3, 29), "Europe/Berlin")
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # 23 hours: clocks went forward


async def test_overview_counts_todays_bookings_pending_payments_and_revenue(user: User):
    await sign_in(user)
    system = desk()
    paid = book(system, 2, name="Paid Person")
    pay(system, paid["id"])
    waiting = book(system, 4, name="Waiting Person")
    start_payment(
        system.uow,
        system.providers,
        booking_id=waiting["id"],
        provider=None,
        return_url=None,
        settings=system.settings,
        now=system.now(),
    )
    book(system, 6, name="Fresh Person")
    system.transport.publish_pending()

    await user.open("/")
    await user.should_see("Bookings today")
    assert element(user, "kpi-bookings").text == "3"
    assert element(user, "kpi-pending").text == "1"
    assert element(user, "kpi-revenue").text == fmt.money_of(STUDIO_PRICE, "en")
    assert element(user, "kpi-dead").text == "0"
    latest = element(user, "latest-bookings")
    assert [row["customer"] for row in latest.rows] == ["Fresh Person", "Waiting Person", "Paid Person"]
    assert [row["status"] for row in latest.rows] == ["pending_payment", "pending_payment", "confirmed"]
    hours = element(user, "chart-hours").options
    confirmed = next(series for series in hours["series"] if series["name"] == "confirmed")
    assert sum(confirmed["data"]) == 1 and confirmed["data"][NOW.hour + 1] == 1  # 09:00 UTC
    revenue = element(user, "chart-revenue").options
    assert revenue["series"][0]["name"] == "RUB" and revenue["series"][0]["data"][-1] == 900.0


async def test_overview_refreshes_live_when_a_payment_succeeds(user: User):
    await sign_in(user)
    system = desk()
    booking = book(system, 2, name="Live Person")
    await user.open("/")
    assert element(user, "kpi-revenue").text == "—"
    latest = element(user, "latest-bookings")
    assert latest.rows[0]["status"] == "pending_payment"

    pay(system, booking["id"])
    system.transport.publish_pending()

    await wait_until(lambda: latest.rows[0]["status"] == "confirmed")
    assert element(user, "kpi-revenue").text == fmt.money_of(STUDIO_PRICE, "en")


def test_revenue_of_a_day_is_net_of_refunds(user: User):
    system = desk()
    booking = book(system, 2)
    pay(system, booking["id"])
    cancel_and_refund(system.uow, system.providers, booking["id"], system.now())
    revenue = revenue_by_day(system.uow, NOW.date(), 7, "UTC")
    assert revenue["currencies"] == {"RUB": [0] * 7}


async def test_a_staff_user_sees_the_overview_in_russian(user: User):
    system = desk()
    staff = create_user(system.uow, "frontdesk", STAFF_PASSWORD, "staff", system.now())
    update_user(system.uow, staff.id, locale="ru")
    await sign_in(user, "frontdesk", STAFF_PASSWORD)
    await user.open("/")
    await user.should_see("Брони на сегодня")
    await user.should_see("Выручка за 7 дней")
    await user.should_see("Последние брони")
