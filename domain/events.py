"""Event types (seed steps 3, 10, 12 and the lifecycle DESIGN.md section 6 adds)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    BOOKING_CREATED = "booking.created"
    BOOKING_CONFIRMED = "booking.confirmed"
    BOOKING_EXPIRED = "booking.expired"
    BOOKING_CANCELLED = "booking.cancelled"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"


ALL_EVENT_TYPES: tuple[str, ...] = tuple(event.value for event in EventType)
