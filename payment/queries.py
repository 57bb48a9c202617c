"""Read queries of the Payment Service for staff screens: pending totals, the payments list with
flagged payments first, and a booking's payments with the webhook receipts that touched them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func
from sqlmodel import select

from data.db import UnitOfWork
from data.models import Booking, Payment, Resource, WebhookReceipt
from domain.errors import ValidationProblem
from domain.views import payment_view, utc_z
from payment.states import PaymentStatus


def pending_summary(uow: UnitOfWork) -> dict[str, Any]:
    """Payments still ``pending``: ``{"count": int, "amounts": [{"amount": minor units, "currency"}]}``
    (one entry per currency, sorted by currency code)."""
    with uow.begin() as session:
        rows = session.exec(
            select(Payment.currency, func.count(), func.sum(Payment.amount))
            .where(Payment.status == PaymentStatus.PENDING)
            .group_by(Payment.currency)
            .order_by(Payment.currency)
        ).all()
    return {
        "count": sum(count for _, count, _ in rows),
        "amounts": [{"amount": int(total or 0), "currency": currency} for currency, _, total in rows],
    }


def recent_payments(
    uow: UnitOfWork, *, status: str | None = None, attention_only: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """The newest payments for the payments screen, those flagged for staff (``attention``) first.

    Each item is the payment view plus ``booking``: ``{id, status, customer_name, resource_name,
    timezone}``. ``status`` filters by payment status, ``attention_only`` keeps flagged payments
    only; at most ``limit`` (1..1000). Raises ``ValidationProblem`` for an unknown status.
    """
    if status is not None and status not in set(PaymentStatus):
        raise ValidationProblem(f"status must be one of {', '.join(PaymentStatus)}", field="status")
    limit = min(max(limit, 1), 1000)
    flagged = case((Payment.attention.is_not(None) & (Payment.attention != ""), 0), else_=1)
    query = select(Payment, Booking, Resource).join(Booking, Booking.id == Payment.booking_id).join(Resource)
    if status:
        query = query.where(Payment.status == status)
    if attention_only:
        query = query.where(Payment.attention.is_not(None), Payment.attention != "")
    query = query.order_by(flagged, Payment.created_at.desc(), Payment.id).limit(limit)
    with uow.begin() as session:
        return [
            {
                **payment_view(payment),
                "booking": {
                    "id": booking.id,
                    "status": booking.status,
                    "customer_name": booking.customer_name,
                    "resource_name": resource.name,
                    "timezone": resource.timezone,
                },
            }
            for payment, booking, resource in session.exec(query).all()
        ]


def receipt_view(receipt: WebhookReceipt) -> dict[str, Any]:
    """A webhook receipt without its body: ``{id, provider, provider_event_id, payment_id,
    verified, outcome, error, received_at (UTC "Z")}``."""
    return {
        "id": receipt.id,
        "provider": receipt.provider,
        "provider_event_id": receipt.provider_event_id,
        "payment_id": receipt.payment_id,
        "verified": receipt.verified,
        "outcome": receipt.outcome,
        "error": receipt.error,
        "received_at": utc_z(receipt.received_at),
    }


def booking_payments(uow: UnitOfWork, booking_id: str) -> list[dict[str, Any]]:
    """The booking's payments, oldest first, each a payment view plus ``receipts``: the webhook
    receipts matched to it (``receipt_view``, oldest first). Unmatched receipts (unknown payment,
    bad signature) carry no payment id and are not shown here."""
    with uow.begin() as session:
        payments = session.exec(
            select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.created_at, Payment.id)
        ).all()
        ids = [payment.id for payment in payments]
        receipts: dict[str, list[dict[str, Any]]] = {}
        if ids:
            rows = session.exec(
                select(WebhookReceipt)
                .where(WebhookReceipt.payment_id.in_(ids))
                .order_by(WebhookReceipt.received_at, WebhookReceipt.id)
            ).all()
            for receipt in rows:
                receipts.setdefault(receipt.payment_id, []).append(receipt_view(receipt))
        return [{**payment_view(payment), "receipts": receipts.get(payment.id, [])} for payment in payments]
