"""The sandbox provider (DESIGN.md section 8): a hosted-payment provider emulated inside the app.

Two halves, so the app talks to it exactly as it would to Stripe or YooKassa:

* ``SandboxGateway`` is the "provider's side": its own table (``SandboxPayment``, ids ``sbx_...``),
  idempotent creates, the client's Pay / Decline click, a status API, refunds, and webhooks
  signed per Standard Webhooks, sent from a background thread and retried on failure.
* ``SandboxProvider`` is our adapter to it (``PaymentProvider``), the same shape a Stripe adapter has.

A checkout expires with its booking's hold (``expires_at``): from then on it ends ``failed`` with
reason ``expired`` and cannot be paid.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from data.db import UnitOfWork
from data.models import SandboxPayment
from domain.errors import BadSignature, InvalidPayload, NotFound, ProviderError, ValidationProblem
from payment.providers.base import Checkout, CheckoutRequest, ProviderEvent, ProviderStatus

log = logging.getLogger(__name__)

OPEN, SUCCEEDED, FAILED, REFUNDED = "open", "succeeded", "failed", "refunded"
OUTCOMES = (SUCCEEDED, FAILED)
EVENT_NAMESPACE = uuid.UUID("5b0c1a52-8f4e-4a57-9a0e-3c1f1f6f2d10")


@dataclass(frozen=True, slots=True)
class SandboxCheckout:
    """The sandbox's record of one checkout. ``status``: ``open | succeeded | failed | refunded``;
    ``amount`` in minor units; ``metadata`` is echoed in webhooks (``{"payment_id": our id, ...}``)."""

    id: str
    status: str
    amount: int
    currency: str
    description: str
    metadata: dict[str, Any]
    return_url: str
    expires_at: datetime
    failure_reason: str | None = None

    def view(self) -> dict[str, Any]:
        """The status API's JSON (``GET /sandbox/api/payments/{id}``); times in UTC with ``Z``."""
        return {
            "id": self.id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "failure_reason": self.failure_reason,
            "metadata": self.metadata,
            "expires_at": self.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True, slots=True)
class SandboxWebhook:
    """One notification: ``event_id`` is its ``webhook-id`` on every retry; ``body`` the exact JSON sent."""

    event_id: str
    body: str


@dataclass
class _CreateFailure:
    """A scheduled failure of the next create: before storing (no answer) or after (answer lost)."""

    lose_answer: bool = False


@dataclass
class SandboxGateway:
    """The emulated provider. ``clock`` gives business time (expiry); ``secret`` is the ``whsec_...``
    webhook secret; ``webhook_url`` receives the webhooks (``None``: never sent, e.g. in tests);
    ``webhook_retry_delays`` are the seconds between attempts after a non-2xx answer or a
    connection error, like a real provider's retry schedule.
    """

    uow: UnitOfWork
    clock: Callable[[], datetime]
    secret: str
    webhook_url: str | None
    webhook_retry_delays: tuple[float, ...] = (0.5, 1, 2, 4, 8, 15)
    http_timeout: float = 10.0
    _failures: list[_CreateFailure] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def fail_next_create(self, *, lose_answer: bool = False) -> None:
        """Make the next ``create`` raise ``ProviderError`` (for tests of the 502 path).

        ``lose_answer=False``: the provider does not answer and creates nothing; ``True``: it
        creates the checkout but the answer is lost on the way back.
        """
        with self._lock:
            self._failures.append(_CreateFailure(lose_answer))

    def create(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        return_url: str,
        idempotency_key: str,
        expires_at: datetime,
        metadata: dict[str, Any],
    ) -> SandboxCheckout:
        """Create a checkout, or return the one already created with ``idempotency_key``.

        ``amount`` in minor units; ``expires_at`` aware UTC. Raises ``ProviderError`` when a
        failure was scheduled or the key was used with a different amount or currency.
        """
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None and not failure.lose_answer:
            raise ProviderError("the sandbox provider did not answer (simulated outage)")
        now = self.clock()
        with self.uow.begin() as session:
            row = _by_key(session, idempotency_key)
            if row is None:
                row = SandboxPayment(
                    id=f"sbx_{uuid.uuid4().hex}",
                    idempotency_key=idempotency_key,
                    amount=amount,
                    currency=currency,
                    status=OPEN,
                    payment_metadata={"description": description, "metadata": dict(metadata)},
                    return_url=return_url,
                    expires_at=expires_at,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                try:
                    session.commit()
                except IntegrityError:  # a concurrent create with the same key won
                    session.rollback()
                    row = _by_key(session, idempotency_key)
            checkout = _checkout(row)
        if (checkout.amount, checkout.currency) != (amount, currency):
            raise ProviderError(f"idempotency key {idempotency_key} was used with a different amount")
        if failure is not None:
            raise ProviderError("the sandbox provider's answer was lost (simulated network failure)")
        return checkout

    def status(self, sandbox_id: str) -> SandboxCheckout | None:
        """The checkout (``None`` if unknown); an open checkout past ``expires_at`` is expired first."""
        return self._read(SandboxPayment.id == sandbox_id)

    def find_by_key(self, idempotency_key: str) -> SandboxCheckout | None:
        """The checkout created with ``idempotency_key`` (``None`` if none), expired like ``status``."""
        return self._read(SandboxPayment.idempotency_key == idempotency_key)

    def pay(self, sandbox_id: str, outcome: str, *, deliver_webhook: bool = True) -> SandboxCheckout:
        """The client's click on the hosted page (seed step 8): ``outcome`` ``succeeded`` or ``failed``.

        An open checkout becomes ``succeeded``, or ``failed`` with reason ``declined``; one whose
        ``expires_at`` passed becomes ``failed`` with reason ``expired`` whatever was clicked. A
        checkout that already ended is left as it is (a second click changes nothing). A change
        is reported by webhook (seed step 9) unless ``deliver_webhook`` is false (the webhook is
        lost). Raises ``ValidationProblem`` (field ``outcome``) or ``NotFound``.
        """
        if outcome not in OUTCOMES:
            raise ValidationProblem("outcome must be 'succeeded' or 'failed'", field="outcome")
        with self.uow.begin() as session:
            row = _locked(session, self.uow, SandboxPayment.id == sandbox_id)
            if row is None:
                raise NotFound(f"sandbox checkout {sandbox_id} does not exist", field="sandbox_id")
            changed = row.status == OPEN
            if changed:
                now = self.clock()
                if now >= row.expires_at:
                    _end(row, FAILED, "expired", now)
                elif outcome == SUCCEEDED:
                    _end(row, SUCCEEDED, None, now)
                else:
                    _end(row, FAILED, "declined", now)
                session.add(row)
                session.commit()
            checkout = _checkout(row)
        if changed:
            log.info(
                "sandbox checkout %s %s (webhook %s)",
                sandbox_id,
                checkout.status,
                "sent" if deliver_webhook else "lost on purpose",
            )
            if deliver_webhook:
                self.deliver(self.webhook_for(checkout))
        return checkout

    def refund(self, sandbox_id: str, amount: int) -> SandboxCheckout:
        """Refund a succeeded checkout in full (a refunded one stays refunded).

        Raises ``ProviderError`` if it is unknown, not succeeded, or ``amount`` differs from its amount.
        """
        with self.uow.begin() as session:
            row = _locked(session, self.uow, SandboxPayment.id == sandbox_id)
            if row is None:
                raise ProviderError(f"sandbox checkout {sandbox_id} does not exist")
            if row.status not in (SUCCEEDED, REFUNDED):
                raise ProviderError(f"sandbox checkout {sandbox_id} is {row.status}, not succeeded")
            if amount != row.amount:
                raise ProviderError(f"the sandbox refunds in full only ({row.amount}), not {amount}")
            if row.status == SUCCEEDED:
                row.status = REFUNDED
                row.updated_at = self.clock()
                session.add(row)
                session.commit()
            return _checkout(row)

    def webhook_for(self, checkout: SandboxCheckout) -> SandboxWebhook:
        """The webhook reporting the checkout's final status (DESIGN.md section 8 body).

        The event id is derived from the checkout and its status, so it is stable.
        """
        if checkout.status not in OUTCOMES:
            raise ValueError(f"no webhook for a checkout that is {checkout.status}")
        event_id = f"evt_{uuid.uuid5(EVENT_NAMESPACE, f'{checkout.id}:{checkout.status}').hex}"
        data: dict[str, Any] = {
            "id": checkout.id,
            "status": checkout.status,
            "amount": checkout.amount,
            "currency": checkout.currency,
            "metadata": checkout.metadata,
        }
        if checkout.failure_reason:
            data["failure_reason"] = checkout.failure_reason
        body = {"id": event_id, "type": f"payment.{checkout.status}", "data": data}
        return SandboxWebhook(event_id, json.dumps(body, separators=(",", ":")))

    def signed_headers(self, webhook: SandboxWebhook, at: datetime) -> dict[str, str]:
        """Standard Webhooks headers for ``webhook`` signed at ``at`` (aware)."""
        return {
            "webhook-id": webhook.event_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(self.secret).sign(webhook.event_id, at, webhook.body),
            "content-type": "application/json",
        }

    def deliver(self, webhook: SandboxWebhook) -> None:
        """Send ``webhook`` from a daemon thread, retrying after ``webhook_retry_delays``."""
        if not self.webhook_url:
            log.info("sandbox webhook %s not sent: no webhook URL", webhook.event_id)
            return
        threading.Thread(
            target=self._send_with_retries, args=(webhook,), name=f"sandbox-webhook-{webhook.event_id}", daemon=True
        ).start()

    def close(self) -> None:
        """Stop waiting retries (process shutdown)."""
        self._stopping.set()

    def _send_with_retries(self, webhook: SandboxWebhook) -> None:
        delays = (0.0, *self.webhook_retry_delays)
        with httpx.Client(timeout=self.http_timeout) as client:
            for attempt, delay in enumerate(delays, start=1):
                if self._stopping.wait(delay):
                    return
                # Signed with the real wall clock at each attempt: receivers check the timestamp
                # against their own clock (Standard Webhooks allows 5 minutes).
                headers = self.signed_headers(webhook, datetime.now(UTC))
                try:
                    response = client.post(self.webhook_url, content=webhook.body.encode(), headers=headers)
                except httpx.HTTPError as error:
                    log.warning("sandbox webhook %s attempt %d failed: %s", webhook.event_id, attempt, error)
                    continue
                if response.is_success:
                    log.info("sandbox webhook %s delivered (attempt %d)", webhook.event_id, attempt)
                    return
                log.warning(
                    "sandbox webhook %s attempt %d got HTTP %d", webhook.event_id, attempt, response.status_code
                )
        log.error("sandbox webhook %s given up after %d attempts", webhook.event_id, len(delays))

    def _read(self, where: Any) -> SandboxCheckout | None:
        with self.uow.begin() as session:
            row = _locked(session, self.uow, where)
            if row is None:
                return None
            now = self.clock()
            if row.status == OPEN and now >= row.expires_at:
                _end(row, FAILED, "expired", now)
                session.add(row)
                session.commit()
            return _checkout(row)


class SandboxProvider:
    """``PaymentProvider`` for the sandbox gateway; ``public_url`` is the base of its checkout pages."""

    name = "sandbox"

    def __init__(self, gateway: SandboxGateway, secret: str, public_url: str) -> None:
        self.gateway = gateway
        self.secret = secret
        self.public_url = public_url.rstrip("/")

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Seed steps 6-7: the redirect URL is ``{public_url}/sandbox/checkout/{sandbox_id}``."""
        checkout = self.gateway.create(
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            return_url=request.return_url,
            idempotency_key=request.idempotency_key,
            expires_at=request.expires_at,
            metadata={"payment_id": request.payment_id, "booking_id": request.booking_id},
        )
        return Checkout(checkout.id, f"{self.public_url}/sandbox/checkout/{checkout.id}")

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str], client_ip: str | None = None) -> ProviderEvent:
        """Verify per Standard Webhooks (HMAC over ``id.timestamp.body``, timestamp within 5
        minutes of the real clock) and read the DESIGN.md section 8 body. ``client_ip`` is not
        used: the signature authenticates the sender.

        Raises ``BadSignature`` or ``InvalidPayload``.
        """
        try:
            text = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidPayload("the webhook body is not UTF-8") from None
        try:
            Webhook(self.secret).verify(text, dict(headers), json_parse=False)
        except WebhookVerificationError as error:
            raise BadSignature(f"sandbox webhook rejected: {error}") from None
        except ValueError:  # a malformed webhook-signature header (not "v1,<base64>")
            raise BadSignature("sandbox webhook rejected: malformed webhook-signature header") from None
        try:
            body = json.loads(text)
            data = body["data"]
            amount = data["amount"]
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise TypeError("amount must be an integer of minor units")
            metadata = data.get("metadata") or {}
            return ProviderEvent(
                event_id=str(body["id"]),
                event_type=str(body["type"]),
                provider_payment_id=str(data["id"]),
                payment_id=metadata.get("payment_id"),
                status=str(data["status"]),
                amount=amount,
                currency=str(data["currency"]),
                failure_reason=data.get("failure_reason"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidPayload(f"the sandbox webhook body cannot be read: {error}") from None

    def fetch_status(self, provider_payment_id: str | None, idempotency_key: str) -> ProviderStatus | None:
        """The checkout's status (``open`` reads as ``pending``); ``None`` if the sandbox has none."""
        if provider_payment_id:
            checkout = self.gateway.status(provider_payment_id)
        else:
            checkout = self.gateway.find_by_key(idempotency_key)
        if checkout is None:
            return None
        status = "pending" if checkout.status == OPEN else checkout.status
        return ProviderStatus(checkout.id, status, checkout.amount, checkout.currency, checkout.failure_reason)

    def refund(self, provider_payment_id: str, amount: int) -> None:
        """Refund in full through the gateway; raises ``ProviderError``."""
        self.gateway.refund(provider_payment_id, amount)


def _by_key(session: Session, idempotency_key: str) -> SandboxPayment | None:
    return session.exec(select(SandboxPayment).where(SandboxPayment.idempotency_key == idempotency_key)).first()


def _locked(session: Session, uow: UnitOfWork, where: Any) -> SandboxPayment | None:
    query = select(SandboxPayment).where(where)
    if uow.is_postgres:
        query = query.with_for_update()
    return session.exec(query).first()


def _end(row: SandboxPayment, status: str, reason: str | None, now: datetime) -> None:
    row.status = status
    row.failure_reason = reason
    row.updated_at = now


def _checkout(row: SandboxPayment) -> SandboxCheckout:
    stored = row.payment_metadata or {}
    return SandboxCheckout(
        id=row.id,
        status=row.status,
        amount=row.amount,
        currency=row.currency,
        description=stored.get("description", ""),
        metadata=dict(stored.get("metadata") or {}),
        return_url=row.return_url,
        expires_at=row.expires_at,
        failure_reason=row.failure_reason,
    )
