"""Payment Service use cases: start a payment, apply webhooks, reconcile, refund (seed steps 6-12,
error rules 2 and 4; DESIGN.md sections 5-7).

Plain functions over a ``UnitOfWork``, the providers by name and the current time (aware UTC).
A provider is never called inside a transaction: on SQLite that would block every other writer,
and a slow provider must not hold row locks. ``settle_payment`` is the one place a payment
changes state; webhooks and reconciliation both go through it, with the payment row locked.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from data.db import UnitOfWork
from data.models import Booking, Payment, Resource, WebhookReceipt
from domain.bookings import confirm_booking, revive_expired
from domain.errors import (
    BadSignature,
    InvalidPayload,
    InvalidState,
    NotFound,
    ProviderError,
    SlotUnavailable,
    ValidationProblem,
)
from domain.events import EventType
from domain.money import Money, format_money
from domain.states import BookingStatus, check_transition, hold_active
from domain.views import booking_view, local_iso, payment_view
from messaging.outbox import add_event
from payment.providers.base import CheckoutRequest, PaymentProvider, ProviderEvent, ProviderStatus
from payment.states import PAYMENT_TRANSITIONS, PaymentStatus
from settings import Settings

log = logging.getLogger(__name__)

Providers = Mapping[str, PaymentProvider]

MAX_STORED_BODY = 65_536  # characters of a rejected webhook body kept for audit
ID_LIMIT = 100  # length of provider ids in our tables


class Settled(StrEnum):
    """What ``settle_payment`` did."""

    APPLIED = "applied"  # the payment changed state (and its booking, with events)
    REFUND_DUE = "refund_due"  # it succeeded but its booking cannot be kept: refund after commit
    UNCHANGED = "unchanged"  # it already had that status
    IGNORED = "ignored"  # a late "failed" after "succeeded": never a downgrade


# ---------------------------------------------------------------- starting a payment (steps 6-7)


def start_payment(
    uow: UnitOfWork,
    providers: Providers,
    *,
    booking_id: str,
    provider: str | None,
    return_url: str | None,
    settings: Settings,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Seed steps 6-7 (``POST /api/payments``): a pending payment with the provider's redirect URL.

    Returns ``(payment view, created)``; ``created`` is false when the booking's pending payment
    with this provider is reused. ``provider`` defaults to ``settings.payment_provider``;
    ``return_url`` to ``{public_url}/payments/{id}/return`` and may only point to the public
    URL's host or ``settings.return_url_hosts``. The amount is the booking's price (minor units).

    The payment row is committed before the provider is called and the provider is called
    outside any transaction, with an idempotency key derived from our payment id, so a retry
    after a lost answer gets the same checkout. Starting a payment does not extend the hold.

    Raises ``NotFound`` (booking_id), ``ValidationProblem`` (provider, return_url),
    ``InvalidState`` (booking not ``pending_payment`` or its hold passed) and ``ProviderError``
    (the payment then stays ``pending`` without a redirect URL; DESIGN.md section 5).
    """
    name = provider or settings.payment_provider
    adapter = providers.get(name)
    if adapter is None:
        raise ValidationProblem(f"payment provider {name!r} is not enabled", field="provider")
    if return_url is not None:
        check_return_url(return_url, settings)
    view, request, created = _pending_payment(uow, booking_id, name, return_url, settings, now)
    if request is None:
        return view, created
    try:
        checkout = adapter.create_checkout(request)
    except ProviderError as error:
        log.warning("payment %s (booking %s): provider %s failed: %s", view["id"], booking_id, name, error.detail)
        raise
    with uow.begin() as session:
        payment = _locked(session, select(Payment).where(Payment.id == view["id"]))
        payment.provider_payment_id = checkout.provider_payment_id
        payment.redirect_url = checkout.redirect_url
        payment.updated_at = now
        session.add(payment)
        session.commit()
        log.info("payment %s (booking %s) at %s: %s", payment.id, booking_id, name, checkout.provider_payment_id)
        return payment_view(payment), created


def check_return_url(url: str, settings: Settings) -> None:
    """Allow only http(s) URLs on the public URL's host or a host in ``BOOKING_RETURN_URL_HOSTS``
    (an open redirect otherwise). Raises ``ValidationProblem`` (field ``return_url``)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        netloc = parts.netloc.lower()
    except ValueError:
        raise ValidationProblem("return_url is not a valid URL", field="return_url") from None
    allowed = {(urlsplit(settings.public_url).hostname or "").lower()}
    allowed |= {entry.lower() for entry in settings.return_url_hosts}
    if parts.scheme not in ("http", "https") or parts.username is not None or not host:
        raise ValidationProblem("return_url must be an http(s) URL", field="return_url")
    if host not in allowed and netloc not in allowed:
        raise ValidationProblem(f"return_url may not point to {host}", field="return_url")


def _pending_payment(
    uow: UnitOfWork, booking_id: str, provider: str, return_url: str | None, settings: Settings, now: datetime
) -> tuple[dict[str, Any], CheckoutRequest | None, bool]:
    """The view of the booking's pending payment with ``provider`` (created and committed if there
    is none), the checkout request to send (``None`` when it already has its redirect URL) and
    whether it was created.
    """
    with uow.begin() as session:
        booking = _locked(session, select(Booking).where(Booking.id == booking_id))
        if booking is None:
            raise NotFound(f"booking {booking_id} does not exist", field="booking_id")
        if booking.status != BookingStatus.PENDING_PAYMENT:
            raise InvalidState(f"booking is {booking.status}; only a pending_payment booking can be paid")
        if not hold_active(booking.status, booking.hold_expires_at, now):
            raise InvalidState("the booking's hold has passed; it can no longer be paid")
        payment = _pending_of(session, booking_id, provider)
        created = payment is None
        if created:
            payment_id = str(uuid.uuid4())
            payment = Payment(
                id=payment_id,
                booking_id=booking_id,
                provider=provider,
                status=PaymentStatus.PENDING,
                amount=booking.price_amount,
                currency=booking.currency,
                idempotency_key=f"booking-desk-{payment_id}",
                return_url=return_url or f"{settings.public_url}/payments/{payment_id}/return",
                created_at=now,
                updated_at=now,
            )
            session.add(payment)
            try:
                session.commit()
            except IntegrityError:  # a concurrent start created the pending payment first
                session.rollback()
                created = False
                payment = _pending_of(session, booking_id, provider)
                if payment is None:
                    raise
        request = None if payment.redirect_url else _checkout_request(session, booking, payment)
        return payment_view(payment), request, created


def _pending_of(session: Session, booking_id: str, provider: str) -> Payment | None:
    return session.exec(
        select(Payment).where(
            Payment.booking_id == booking_id, Payment.provider == provider, Payment.status == PaymentStatus.PENDING
        )
    ).first()


def _checkout_request(session: Session, booking: Booking, payment: Payment) -> CheckoutRequest:
    resource = session.get(Resource, booking.resource_id)
    start = local_iso(booking.start_at, resource.timezone)
    return CheckoutRequest(
        payment_id=payment.id,
        booking_id=booking.id,
        amount=payment.amount,
        currency=payment.currency,
        description=f"{resource.name}, {start[:16].replace('T', ' ')} ({resource.timezone})",
        return_url=payment.return_url,
        idempotency_key=payment.idempotency_key,
        expires_at=booking.hold_expires_at,
        customer_email=booking.customer_email,
        customer_phone=booking.customer_phone,
    )


# ---------------------------------------------------------------- reading


def get_payment(uow: UnitOfWork, payment_id: str) -> dict[str, Any]:
    """The payment view (``GET /api/payments/{id}``). Raises ``NotFound`` (field ``id``)."""
    with uow.begin() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist", field="id")
        return payment_view(payment)


def get_payment_with_booking(uow: UnitOfWork, payment_id: str) -> dict[str, Any]:
    """``{"payment": view, "booking": view}`` for the public return page; the customer's contact
    is masked. Raises ``NotFound``."""
    with uow.begin() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist", field="id")
        booking = session.get(Booking, payment.booking_id)
        resource = session.get(Resource, booking.resource_id)
        return {"payment": payment_view(payment), "booking": booking_view(booking, resource, masked=True)}


# ---------------------------------------------------------------- webhooks (steps 9-12)


def handle_webhook(
    uow: UnitOfWork,
    providers: Providers,
    provider_name: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    client_ip: str | None = None,
) -> str:
    """Seed steps 9-12: verify a provider's webhook and apply it; returns the receipt's outcome,
    ``applied``, ``duplicate``, ``ignored`` or ``error``.

    ``client_ip`` is the sender's address (the route's ``client_address``), for providers whose
    notifications are authenticated by address (YooKassa). An event the provider does not settle
    with (an unknown type, a non-final status) is stored as ``ignored`` and acknowledged.

    Every webhook is kept as a ``WebhookReceipt``. A verified one is applied in one transaction
    with its payment row locked, together with its receipt; an event id already ``applied`` is a
    ``duplicate`` and changes nothing (DESIGN.md section 7). A verified webhook that cannot be
    applied (unknown payment, illegal transition) is stored with its error and logged, and the
    payment stays ``pending`` for reconciliation (seed error rule 4): the caller answers 200 so
    the provider stops retrying.

    Raises ``NotFound`` (unknown provider) and ``BadSignature`` / ``InvalidPayload`` after
    storing a ``rejected`` receipt in its own transaction; ``ProviderError`` (the provider's API,
    called to confirm the notification, did not answer: the route answers 502 so the provider
    delivers it again) after storing an ``error`` receipt.
    """
    provider = providers.get(provider_name)
    if provider is None:
        raise NotFound(f"no payment provider {provider_name!r}", field="provider")
    try:
        event = provider.parse_webhook(raw_body, headers, client_ip=client_ip)
        _check_ids(event)
    except (BadSignature, InvalidPayload, ProviderError) as error:
        outcome = "error" if isinstance(error, ProviderError) else "rejected"
        log.warning("%s webhook from %s %s (%s): %s", provider_name, client_ip, outcome, error.code, error.detail)
        with uow.begin() as session:
            session.add(
                WebhookReceipt(
                    provider=provider_name,
                    verified=False,
                    outcome=outcome,
                    error=f"{error.code}: {error.detail}",
                    body=_text(raw_body)[:MAX_STORED_BODY],
                    received_at=now,
                )
            )
            session.commit()
        raise
    outcome, refund_due = _apply_webhook(uow, provider_name, event, _text(raw_body), now)
    if refund_due is not None:
        refund_payment(uow, providers, refund_due, now)
    return outcome


def _check_ids(event: ProviderEvent) -> None:
    for name in ("event_id", "provider_payment_id"):
        value = getattr(event, name)
        if not value or len(value) > ID_LIMIT:
            raise InvalidPayload(f"{name} must be 1 to {ID_LIMIT} characters")


def _apply_webhook(
    uow: UnitOfWork, provider_name: str, event: ProviderEvent, body: str, now: datetime
) -> tuple[str, str | None]:
    """Apply a verified event and store its receipt in one transaction; returns the outcome and
    the id of a payment whose refund is due."""
    refund_due = None
    error = None
    with uow.begin() as session:
        payment = _find_payment(session, provider_name, event)
        if event.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
            outcome = "ignored"  # an unknown event type or a non-final status: stored and acknowledged
        elif payment is None:
            outcome, error = "error", f"no {provider_name} payment {event.payment_id or event.provider_payment_id}"
        elif _already_applied(session, provider_name, event.event_id):
            outcome = "duplicate"
        elif payment.provider_payment_id not in (None, event.provider_payment_id):
            outcome = "error"
            error = f"event is for {event.provider_payment_id}, payment {payment.id} is {payment.provider_payment_id}"
        else:
            payment.provider_payment_id = event.provider_payment_id
            try:
                settled = settle_payment(
                    session,
                    payment,
                    event.status,
                    now=now,
                    failure_reason=event.failure_reason,
                    amount=event.amount,
                    currency=event.currency,
                )
            except InvalidState as invalid:
                outcome, error = "error", invalid.detail
                if event.status == PaymentStatus.SUCCEEDED:  # money taken on a payment we had closed
                    payment.attention = f"The provider reports this {payment.status} payment succeeded; check it."
                    session.add(payment)
            else:
                outcome = "applied" if settled in (Settled.APPLIED, Settled.REFUND_DUE) else "ignored"
                if settled == Settled.REFUND_DUE:
                    refund_due = payment.id
        if error:
            log.error("%s webhook %s not applied: %s", provider_name, event.event_id, error)
        else:
            log.info("%s webhook %s (%s) %s", provider_name, event.event_id, event.event_type, outcome)
        session.add(
            WebhookReceipt(
                provider=provider_name,
                provider_event_id=event.event_id,
                payment_id=payment.id if payment is not None else None,
                verified=True,
                outcome=outcome,
                error=error,
                body=body,
                received_at=now,
            )
        )
        session.commit()
    return outcome, refund_due


def _find_payment(session: Session, provider_name: str, event: ProviderEvent) -> Payment | None:
    """Our payment for the event, locked: by the payment id echoed in metadata, else by the provider's id."""
    if event.payment_id:
        payment = _locked(
            session, select(Payment).where(Payment.id == event.payment_id, Payment.provider == provider_name)
        )
        if payment is not None:
            return payment
    return _locked(
        session,
        select(Payment).where(
            Payment.provider == provider_name, Payment.provider_payment_id == event.provider_payment_id
        ),
    )


def _already_applied(session: Session, provider_name: str, event_id: str) -> bool:
    """Read after the payment row is locked, so a concurrent copy sees the first one's receipt."""
    query = select(WebhookReceipt.id).where(
        WebhookReceipt.provider == provider_name,
        WebhookReceipt.provider_event_id == event_id,
        WebhookReceipt.outcome == "applied",
    )
    return session.exec(query.limit(1)).first() is not None


# ---------------------------------------------------------------- the one state change


def settle_payment(
    session: Session,
    payment: Payment,
    status: str,
    *,
    now: datetime,
    failure_reason: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
) -> str:
    """Apply the provider's final ``status`` (``succeeded`` / ``failed``) to ``payment``, inside
    the caller's transaction with the payment row locked. Returns a ``Settled`` value.

    * ``pending -> failed``: stage ``payment.failed``; the booking stays ``pending_payment``
      (seed error rule 2).
    * ``pending -> succeeded``: stage ``payment.succeeded``, then confirm the booking in the same
      transaction, which stages ``booking.confirmed`` (seed steps 10-12). A success after the
      hold passed claims the slots again if they are still free (an ``expired`` booking is
      revived first); if they are not, or the booking is cancelled or already confirmed by
      another payment, the payment is flagged (``attention``) and ``REFUND_DUE`` is returned: the
      caller refunds after commit (``refund_payment``). A reported ``amount`` (minor units) or
      ``currency`` other than the payment's flags it and leaves the booking unconfirmed.
    * the same status again: ``UNCHANGED``; ``failed`` after ``succeeded`` or ``refunded``:
      ``IGNORED`` (a late failed never downgrades; DESIGN.md section 6).

    Raises ``InvalidState`` for any other transition (e.g. ``failed -> succeeded``).
    """
    current = payment.status
    if status == current or (current == PaymentStatus.REFUNDED and status == PaymentStatus.SUCCEEDED):
        return Settled.UNCHANGED
    if status == PaymentStatus.FAILED and current in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        log.info("payment %s: late failed ignored, it is %s", payment.id, current)
        return Settled.IGNORED
    check_transition(PAYMENT_TRANSITIONS, "payment", current, status)
    booking = _locked(session, select(Booking).where(Booking.id == payment.booking_id))
    resource = session.get(Resource, booking.resource_id)
    payment.status = status
    payment.updated_at = now
    if status == PaymentStatus.FAILED:
        payment.failure_reason = failure_reason or "failed"
        session.add(payment)
        add_event(
            session,
            EventType.PAYMENT_FAILED,
            payment_event_data(session, payment, booking, resource),
            subject=booking.id,
            now=now,
        )
        log.info(
            "payment %s failed (%s); booking %s stays %s",
            payment.id,
            payment.failure_reason,
            booking.id,
            booking.status,
        )
        return Settled.APPLIED

    payment.failure_reason = None
    paid = (amount if amount is not None else payment.amount, currency or payment.currency)
    if paid != (payment.amount, payment.currency):
        payment.attention = (
            f"The provider reports {_money(*paid)} paid but {_money(payment.amount, payment.currency)} was due; "
            "the booking was not confirmed."
        )
        log.error("payment %s: amount mismatch: %s", payment.id, payment.attention)
    session.add(payment)
    add_event(
        session,
        EventType.PAYMENT_SUCCEEDED,
        payment_event_data(session, payment, booking, resource),
        subject=booking.id,
        now=now,
    )
    if payment.attention:
        return Settled.APPLIED
    return _confirm_paid_booking(session, payment, booking, now)


def _confirm_paid_booking(session: Session, payment: Payment, booking: Booking, now: datetime) -> str:
    previous = booking.status
    revive_expired(session, booking, now)
    if booking.status == BookingStatus.PENDING_PAYMENT:
        try:
            confirm_booking(session, booking, now)
            log.info("payment %s succeeded; booking %s confirmed", payment.id, booking.id)
            return Settled.APPLIED
        except SlotUnavailable as error:
            booking.status = previous
            session.add(booking)
            reason = error.detail
    else:
        reason = f"the booking is {booking.status}"
    payment.attention = f"Paid, but the booking could not be confirmed ({reason}); a refund is due."
    session.add(payment)
    log.warning("payment %s succeeded but booking %s cannot be kept: %s", payment.id, booking.id, reason)
    return Settled.REFUND_DUE


def payment_event_data(session: Session, payment: Payment, booking: Booking, resource: Resource) -> dict[str, Any]:
    """The ``data`` of a ``payment.*`` event: the payment view plus ``resource_name`` and
    ``booking`` (the booking view; the Notification Service reads its customer and locale)."""
    data = payment_view(payment)
    data["resource_name"] = resource.name
    payments = list(session.exec(select(Payment).where(Payment.booking_id == booking.id)).all())
    data["booking"] = booking_view(booking, resource, payments)
    return data


# ---------------------------------------------------------------- refunds


def refund_payment(uow: UnitOfWork, providers: Providers, payment_id: str, now: datetime) -> bool:
    """Refund a succeeded payment whose booking could not be kept (DESIGN.md section 6): call the
    provider outside any transaction, then mark it ``refunded`` and stage ``payment.refunded``.

    Returns True if refunded. When the provider cannot refund (``ProviderError``, or no provider
    id), the payment stays ``succeeded`` and its ``attention`` tells staff to refund by hand.
    """
    with uow.begin() as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.status != PaymentStatus.SUCCEEDED:
            return False
        provider_name, provider_payment_id, amount = payment.provider, payment.provider_payment_id, payment.amount
    provider = providers.get(provider_name)
    problem = None
    if provider is None or provider_payment_id is None:
        problem = f"provider {provider_name} cannot refund it"
    else:
        try:
            provider.refund(provider_payment_id, amount)
        except ProviderError as error:
            problem = error.detail
    with uow.begin() as session:
        payment = _locked(session, select(Payment).where(Payment.id == payment_id))
        if payment.status != PaymentStatus.SUCCEEDED:
            return False
        if problem is not None:
            log.error("payment %s: automatic refund failed: %s", payment_id, problem)
            payment.attention = f"{payment.attention or ''} The automatic refund failed ({problem}); refund by hand."
            session.add(payment)
            session.commit()
            return False
        check_transition(PAYMENT_TRANSITIONS, "payment", payment.status, PaymentStatus.REFUNDED)
        payment.status = PaymentStatus.REFUNDED
        payment.attention = (payment.attention or "").replace("a refund is due", "refunded automatically")
        payment.updated_at = now
        session.add(payment)
        booking = session.get(Booking, payment.booking_id)
        resource = session.get(Resource, booking.resource_id)
        add_event(
            session,
            EventType.PAYMENT_REFUNDED,
            payment_event_data(session, payment, booking, resource),
            subject=booking.id,
            now=now,
        )
        session.commit()
        log.warning("payment %s refunded: %s", payment_id, payment.attention)
        return True


# ---------------------------------------------------------------- reconciliation


def reconcile_payments(
    uow: UnitOfWork, providers: Providers, now: datetime, after_seconds: float, limit: int = 100
) -> int:
    """Reconciliation job (seed error rule 4): ask the provider about payments ``pending`` for
    more than ``after_seconds`` and settle those that ended. Returns how many were settled.

    Per enabled provider, longest-unchecked first, at most ``limit`` each, so one provider's
    backlog never crowds out another's. Still pending: ``last_checked_at`` is updated. A payment
    whose create answer was lost is looked up by its idempotency key (``fetch_status`` with no
    provider id); one the provider never created ends ``failed`` (reason ``not_created``) once
    its booking's hold has passed. The first ``ProviderError`` of a provider in a run is logged
    and its remaining payments wait for the next run (a provider that is down costs one timeout,
    not one per payment); the other providers go on.
    """
    cutoff = now - timedelta(seconds=after_seconds)
    settled = 0
    for provider_name, provider in providers.items():
        with uow.begin() as session:
            rows = session.exec(
                select(Payment.id, Payment.provider_payment_id, Payment.idempotency_key)
                .where(
                    Payment.status == PaymentStatus.PENDING,
                    Payment.provider == provider_name,
                    Payment.created_at <= cutoff,
                )
                .order_by(func.coalesce(Payment.last_checked_at, Payment.created_at), Payment.id)
                .limit(limit)
            ).all()
        for payment_id, provider_payment_id, idempotency_key in rows:
            try:
                status = provider.fetch_status(provider_payment_id, idempotency_key)
            except ProviderError as error:
                log.warning(
                    "payment %s: %s status check failed, the provider's %d pending payment(s) wait for the next "
                    "run: %s",
                    payment_id,
                    provider_name,
                    len(rows),
                    error.detail,
                )
                break
            result = _apply_status(uow, payment_id, status, now)
            if result in (Settled.APPLIED, Settled.REFUND_DUE):
                settled += 1
            if result == Settled.REFUND_DUE:
                refund_payment(uow, providers, payment_id, now)
    return settled


def _apply_status(uow: UnitOfWork, payment_id: str, status: ProviderStatus | None, now: datetime) -> str:
    with uow.begin() as session:
        payment = _locked(session, select(Payment).where(Payment.id == payment_id))
        if payment is None or payment.status != PaymentStatus.PENDING:
            return Settled.UNCHANGED  # a webhook settled it meanwhile
        result = Settled.UNCHANGED
        if status is None:
            booking = session.get(Booking, payment.booking_id)
            if not hold_active(booking.status, booking.hold_expires_at, now):
                result = settle_payment(session, payment, PaymentStatus.FAILED, now=now, failure_reason="not_created")
        else:  # found, possibly by its idempotency key after a lost create answer: remember its id
            payment.provider_payment_id = payment.provider_payment_id or status.provider_payment_id
        if status is not None and status.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
            result = settle_payment(
                session,
                payment,
                status.status,
                now=now,
                failure_reason=status.failure_reason,
                amount=status.amount,
                currency=status.currency,
            )
        payment.last_checked_at = now
        session.add(payment)
        session.commit()
        if result != Settled.UNCHANGED:
            log.info("payment %s reconciled: %s (%s)", payment_id, payment.status, result)
        return result


# ---------------------------------------------------------------- helpers


def _locked(session: Session, query: Any) -> Any:
    """The first row of ``query``, locked ``FOR UPDATE`` on PostgreSQL (SQLite's ``BEGIN
    IMMEDIATE`` already serialises writers)."""
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).first()


def _money(amount: int, currency: str) -> str:
    return format_money(Money(amount, currency))


def _text(raw_body: bytes) -> str:
    """The body as text for a receipt (PostgreSQL text cannot hold NUL)."""
    return raw_body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def cancel_and_refund(uow: UnitOfWork, providers: Providers, booking_id: str, now: datetime) -> dict[str, Any]:
    """Staff cancel a booking: ``pending_payment`` or ``confirmed`` becomes ``cancelled`` (slots
    freed, ``booking.cancelled``), then every succeeded payment of it is refunded through its
    provider (``payment.refunded``); a refund the provider refuses is flagged for staff.

    Returns the booking view after the refunds. Raises ``NotFound`` or ``InvalidState``.
    """
    from domain.bookings import cancel_booking, get_booking

    _view, paid = cancel_booking(uow, booking_id, now)
    for payment_id in paid:
        refund_payment(uow, providers, payment_id, now)
    return get_booking(uow, booking_id, masked=False)
