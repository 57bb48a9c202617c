"""State machines of bookings (DESIGN.md section 6) and the one rule that checks a transition."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from domain.errors import InvalidState


class BookingStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


BOOKING_TRANSITIONS: Mapping[str, frozenset[str]] = {
    BookingStatus.PENDING_PAYMENT: frozenset({BookingStatus.CONFIRMED, BookingStatus.EXPIRED, BookingStatus.CANCELLED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
    BookingStatus.EXPIRED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
}


def can_transition(transitions: Mapping[str, frozenset[str]], current: str, target: str) -> bool:
    """True if ``current -> target`` is an edge of the machine ``transitions``."""
    return target in transitions.get(current, frozenset())


def check_transition(transitions: Mapping[str, frozenset[str]], what: str, current: str, target: str) -> None:
    """Raise ``InvalidState`` if ``current -> target`` is not allowed for ``what`` ("booking", ...)."""
    if not can_transition(transitions, current, target):
        raise InvalidState(f"{what} is {current}; it cannot become {target}")


def hold_active(status: str, hold_expires_at: datetime, now: datetime) -> bool:
    """A pending booking holds its slots until ``hold_expires_at`` (UTC), not a second longer,
    whether or not the expiry job has marked it ``expired`` yet."""
    return status == BookingStatus.PENDING_PAYMENT and now < hold_expires_at
