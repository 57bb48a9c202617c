"""Read shapes of resources, bookings and payments: the JSON of the API (DESIGN.md section 5),
reused as the ``data`` of events so consumers learn what they need from the payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from data.models import Booking, Payment, Resource


def utc_z(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with ``Z``, e.g. ``2026-12-01T07:00:00Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_iso(moment: datetime, timezone: str) -> str:
    """RFC 3339 in the resource's own offset, e.g. ``2026-12-01T10:00:00+03:00``."""
    return moment.astimezone(ZoneInfo(timezone)).isoformat()


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def resource_view(resource: Resource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "timezone": resource.timezone,
        "slot_minutes": resource.slot_minutes,
        "price": money(resource.price_amount, resource.currency),
    }


def mask_email(email: str | None) -> str | None:
    """``guest@example.test`` -> ``g***@example.test``."""
    if not email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """``+79991234567`` -> ``+7*******67``: country prefix and the last two digits stay."""
    if not phone:
        return phone
    digits = [i for i, char in enumerate(phone) if char.isdigit()]
    keep = set(digits[:1] + digits[-2:])
    return "".join(char if (i in keep or not char.isdigit()) else "*" for i, char in enumerate(phone))


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "booking_id": payment.booking_id,
        "status": str(payment.status),
        "amount": money(payment.amount, payment.currency),
        "provider": payment.provider,
        "redirect_url": payment.redirect_url,
        "return_url": payment.return_url,
        "failure_reason": payment.failure_reason,
        "attention": payment.attention,
        "created_at": utc_z(payment.created_at),
        "updated_at": utc_z(payment.updated_at),
    }


def booking_view(
    booking: Booking,
    resource: Resource,
    payments: list[Payment] | None = None,
    *,
    masked: bool = False,
) -> dict[str, Any]:
    """The booking as the API returns it; ``masked`` hides the customer's email and phone."""
    email, phone = booking.customer_email, booking.customer_phone
    if masked:
        email, phone = mask_email(email), mask_phone(phone)
    return {
        "id": booking.id,
        "resource_id": booking.resource_id,
        "resource_name": resource.name,
        "timezone": resource.timezone,
        "start": local_iso(booking.start_at, resource.timezone),
        "end": local_iso(booking.end_at, resource.timezone),
        "slots": booking.slots,
        "status": str(booking.status),
        "customer": {"name": booking.customer_name, "email": email, "phone": phone},
        "notes": booking.notes,
        "price": money(booking.price_amount, booking.currency),
        "locale": booking.locale,
        "hold_expires_at": utc_z(booking.hold_expires_at),
        "created_at": utc_z(booking.created_at),
        "updated_at": utc_z(booking.updated_at),
        "payments": [payment_view(p) for p in sorted(payments or [], key=lambda p: p.created_at)],
    }
