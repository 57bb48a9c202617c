"""Read models for the staff dashboard: today's figures, revenue by day and a booking's history.

"Today" and "a day" are days of the business's timezone (``BOOKING_TIMEZONE``): their bounds are
computed as aware UTC instants from local midnights, so a day across a DST switch is 23 or 25
hours long. Revenue comes from the events themselves: ``payment.succeeded`` adds the payment's
amount at the event's time, ``payment.refunded`` takes it away at the refund's time (the outbox
is the record of when money moved; a payment row only knows its last change).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import select

from data.db import UnitOfWork
from data.models import Booking, Delivery, MailMessage, OutboxEvent, Resource
from domain.events import EventType
from domain.states import BookingStatus
from domain.views import utc_z

BOOKING_STATUSES: tuple[str, ...] = tuple(BookingStatus)


def local_day(moment: datetime, timezone: str) -> date:
    """The date of the aware ``moment`` in ``timezone``."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local ``day`` in ``timezone`` as aware UTC instants."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def bookings_by_hour(uow: UnitOfWork, day: date, timezone: str) -> dict[str, Any]:
    """Bookings starting on the local ``day`` of ``timezone``, counted by local start hour and status.

    Returns ``{"hours": ["00:00", ... "23:00"], "series": {status: [24 counts]}, "by_status":
    {status: count}, "active": count of pending_payment + confirmed}``. Every status of
    ``BookingStatus`` is present (zeros included) so a chart keeps its colours stable.
    """
    start, end = day_bounds(day, timezone)
    zone = ZoneInfo(timezone)
    series = {status: [0] * 24 for status in BOOKING_STATUSES}
    with uow.begin() as session:
        rows = session.exec(
            select(Booking.start_at, Booking.status).where(Booking.start_at >= start, Booking.start_at < end)
        ).all()
    for start_at, status in rows:
        series.setdefault(status, [0] * 24)[start_at.astimezone(zone).hour] += 1
    by_status = {status: sum(counts) for status, counts in series.items()}
    return {
        "hours": [f"{hour:02d}:00" for hour in range(24)],
        "series": series,
        "by_status": by_status,
        "active": by_status.get(BookingStatus.PENDING_PAYMENT, 0) + by_status.get(BookingStatus.CONFIRMED, 0),
    }


def revenue_by_day(uow: UnitOfWork, last_day: date, days: int, timezone: str) -> dict[str, Any]:
    """Net revenue per local day for the ``days`` days ending with ``last_day`` (inclusive).

    Each ``payment.succeeded`` event adds its payment's amount (minor units) on the local day of
    the event; each ``payment.refunded`` event subtracts it on its own day. Returns ``{"days":
    [date, ...], "currencies": {currency: [net amount per day]}}``; a currency appears only if it
    had a movement in the range.
    """
    first_day = last_day - timedelta(days=days - 1)
    start, _ = day_bounds(first_day, timezone)
    _, end = day_bounds(last_day, timezone)
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(day_list)}
    currencies: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    with uow.begin() as session:
        rows = session.exec(
            select(OutboxEvent.type, OutboxEvent.time, OutboxEvent.data).where(
                OutboxEvent.type.in_([EventType.PAYMENT_SUCCEEDED, EventType.PAYMENT_REFUNDED]),
                OutboxEvent.time >= start,
                OutboxEvent.time < end,
            )
        ).all()
    for type_, moment, data in rows:
        money = (data or {}).get("amount") or {}
        if "amount" not in money or "currency" not in money:
            continue
        sign = 1 if type_ == EventType.PAYMENT_SUCCEEDED else -1
        position = index.get(local_day(moment, timezone))
        if position is not None:
            currencies[money["currency"]][position] += sign * int(money["amount"])
    return {"days": day_list, "currencies": dict(currencies)}


def count_dead_letters(uow: UnitOfWork) -> int:
    """How many deliveries are dead letters (redeliveries used up, waiting for a replay)."""
    with uow.begin() as session:
        return session.exec(select(func.count()).select_from(Delivery).where(Delivery.status == "dead")).one()


def booking_events(uow: UnitOfWork, booking_id: str) -> list[dict[str, Any]]:
    """The events whose subject is the booking, in the order they were staged:
    ``[{id, type, time (UTC "Z"), published_at}]``."""
    with uow.begin() as session:
        rows = session.exec(
            select(OutboxEvent)
            .where(OutboxEvent.subject == booking_id)
            .order_by(OutboxEvent.time, OutboxEvent.sequence, OutboxEvent.id)
        ).all()
        return [
            {"id": row.id, "type": row.type, "time": utc_z(row.time), "published_at": utc_z(row.published_at)}
            for row in rows
        ]


def booking_mails(uow: UnitOfWork, booking_id: str) -> list[dict[str, Any]]:
    """The mails logged for the booking, oldest first: ``[{message_id, event_id, recipient,
    subject, template, locale, backend, created_at (UTC "Z")}]``."""
    with uow.begin() as session:
        rows = session.exec(
            select(MailMessage)
            .where(MailMessage.booking_id == booking_id)
            .order_by(MailMessage.created_at, MailMessage.id)
        ).all()
        return [
            {
                "message_id": row.message_id,
                "event_id": row.event_id,
                "recipient": row.recipient,
                "subject": row.subject,
                "template": row.template,
                "locale": row.locale,
                "backend": row.backend,
                "created_at": utc_z(row.created_at),
            }
            for row in rows
        ]


def resource_names(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every resource, active or not (old bookings keep their resource), as ``[{id, name,
    active}]`` by name: the options of the bookings screen's resource filter."""
    with uow.begin() as session:
        rows = session.exec(select(Resource).order_by(Resource.name, Resource.id)).all()
        return [{"id": row.id, "name": row.name, "active": row.active} for row in rows]
