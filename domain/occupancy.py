"""Read queries for the screens that pick slots (availability grid, booking wizard, kiosk).

``get_availability`` (domain/bookings.py) says whether a slot is free; staff also want to see
*who* holds a taken slot. These queries add that, read-only, without changing any rule.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_
from sqlmodel import select

from data.db import UnitOfWork
from data.models import Booking, Resource, SlotClaim
from domain.views import resource_view


def active_resources(uow: UnitOfWork) -> list[dict]:
    """Every active resource as ``resource_view`` (``{id, name, timezone, slot_minutes, price}``), by id."""
    with uow.begin() as session:
        rows = session.exec(select(Resource).where(Resource.active).order_by(Resource.id)).all()
        return [resource_view(row) for row in rows]


def slot_holders(
    uow: UnitOfWork, resource_ids: list[int], start: datetime, end: datetime, now: datetime
) -> dict[tuple[int, datetime], dict]:
    """Who holds the slots of ``resource_ids`` starting in ``[start, end)`` (aware instants).

    Only live claims count (a confirmed booking's, or a hold that has not passed: DESIGN.md
    section 6), the same rule as ``domain.bookings.live_claims``. Returns
    ``{(resource_id, slot start in UTC): {"booking_id", "status", "customer_name"}}``; the
    customer's name is for staff screens only, never for the kiosk.
    """
    if not resource_ids:
        return {}
    with uow.begin() as session:
        rows = session.exec(
            select(SlotClaim, Booking)
            .join(Booking, Booking.id == SlotClaim.booking_id)
            .where(
                SlotClaim.resource_id.in_(resource_ids),
                SlotClaim.slot_start >= start,
                SlotClaim.slot_start < end,
                or_(SlotClaim.expires_at.is_(None), SlotClaim.expires_at > now),
            )
        ).all()
        return {
            (claim.resource_id, claim.slot_start.astimezone(UTC)): {
                "booking_id": booking.id,
                "status": str(booking.status),
                "customer_name": booking.customer_name,
            }
            for claim, booking in rows
        }
