"""The Stripe provider: a hosted Checkout Session per payment, through Stripe's REST API (httpx).

Follows Stripe's documentation:

* Checkout Sessions: https://docs.stripe.com/api/checkout/sessions/create (form-encoded,
  ``mode=payment``, ``line_items[0][price_data]``, ``metadata``, ``expires_at`` 30 minutes to
  24 hours after creation), ``/retrieve``, ``/list`` (``payment_intent``, ``created`` filters).
* Idempotent requests: https://docs.stripe.com/api/idempotent_requests (``Idempotency-Key``; a
  retry must send the same parameters, or Stripe answers 400 ``idempotency_error``).
* Webhook signatures: https://docs.stripe.com/webhooks#verify-manually (``Stripe-Signature:
  t=<unix>,v1=<hex>``; HMAC-SHA256 of ``"{t}.{raw body}"`` with the endpoint's ``whsec_...``
  secret; several ``v1`` may be present during secret rotation; 300 s default tolerance).
* Events for Checkout: https://docs.stripe.com/checkout/fulfillment (``checkout.session.completed``
  with ``payment_status``, ``checkout.session.async_payment_succeeded`` / ``_failed``,
  ``checkout.session.expired``); PaymentIntents: https://docs.stripe.com/api/payment_intents/object.
* Refunds: https://docs.stripe.com/api/refunds/create (``payment_intent``, ``amount``).

Our payment's ``provider_payment_id`` is the Checkout Session id (``cs_...``); a PaymentIntent
event is mapped back to its session through the session list's ``payment_intent`` filter.
Amounts are Stripe's "smallest currency unit", which is our minor units; currencies are
lower-case at Stripe and upper-case here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from domain.errors import BadSignature, InvalidPayload, ProviderError
from payment.providers.base import Checkout, CheckoutRequest, ProviderEvent, ProviderStatus

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECONDS = 300
MIN_CHECKOUT_LIFETIME = timedelta(minutes=31)  # Stripe: at least 30 minutes after creation
LOOKUP_PAGES = 10  # pages of 100 sessions scanned when a create answer was lost

# Stripe event type -> (our status, failure reason). A status other than succeeded / failed is
# stored and acknowledged without a state change.
CHECKOUT_EVENTS: dict[str, tuple[str, str | None]] = {
    "checkout.session.async_payment_succeeded": ("succeeded", None),
    "checkout.session.async_payment_failed": ("failed", "async_payment_failed"),
    "checkout.session.expired": ("failed", "expired"),
}
PAYMENT_INTENT_STATUSES: dict[str, str] = {
    "succeeded": "succeeded",
    "canceled": "failed",
    # A declined card leaves the intent "requires_payment_method": within a Checkout Session the
    # client may try another card, so it is not a final failure (the session's expiry is).
    "requires_payment_method": "pending",
    "requires_confirmation": "pending",
    "requires_action": "pending",
    "processing": "pending",
    "requires_capture": "pending",
}


def stripe_signature(secret: str, raw_body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``raw_body`` at ``timestamp`` (unix)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, raw_body: bytes, header: str | None, now: float, tolerance: float = SIGNATURE_TOLERANCE_SECONDS
) -> None:
    """Check ``Stripe-Signature`` over the exact bytes received (Stripe's manual verification).

    ``now`` is the real unix time. Raises ``BadSignature`` when the header is missing or
    malformed, no ``v1`` matches (constant-time compare), or ``t`` is more than ``tolerance``
    seconds away from ``now``.
    """
    if not secret:
        raise BadSignature("BOOKING_STRIPE_WEBHOOK_SECRET is not set; no Stripe webhook can be verified")
    if not header:
        raise BadSignature("missing Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature("malformed Stripe-Signature timestamp") from None
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature("Stripe-Signature has no timestamp or no v1 signature")
    expected = stripe_signature(secret, raw_body, timestamp).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise BadSignature("no Stripe-Signature v1 matches the body")
    if abs(now - timestamp) > tolerance:
        raise BadSignature(f"Stripe-Signature timestamp is {int(now - timestamp)} s off (tolerance {tolerance:g} s)")


def form_fields(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding of nested parameters: ``{"a": {"b": [{"c": 1}]}}`` -> ``a[b][0][c]=1``."""
    fields: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            fields.extend(form_fields(value, name))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    fields.extend(form_fields(item, f"{name}[{index}]"))
                else:
                    fields.append((f"{name}[{index}]", _scalar(item)))
        else:
            fields.append((name, _scalar(value)))
    return fields


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def checkout_expiry(hold_expires_at: datetime) -> datetime:
    """The Checkout Session's ``expires_at`` for a booking whose hold ends at ``hold_expires_at``.

    Stripe refuses an expiry less than 30 minutes after creation, and an idempotent retry must
    repeat the same parameters, so the expiry is derived from the hold alone: 31 minutes after
    the hold's end. A payment can only be started while the hold is active, so this is always
    at least 31 minutes after any create or retry. The checkout may therefore take money after
    the hold passed; that is the late success of DESIGN.md section 6 (confirmed when the slots
    are still free, else refunded and flagged).
    """
    return hold_expires_at.astimezone(UTC) + MIN_CHECKOUT_LIFETIME


class StripeProvider:
    """``PaymentProvider`` for Stripe Checkout.

    ``api_key`` is the secret key (``sk_...``); ``webhook_secret`` the endpoint's signing secret
    (``whsec_...``); ``api_base`` e.g. ``https://api.stripe.com`` (a local fake in tests);
    ``timeout`` seconds per HTTP call; ``wall_clock`` the real unix time for the signature
    tolerance (injectable for tests); ``transport`` an optional httpx transport (tests).
    """

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        api_base: str = "https://api.stripe.com",
        *,
        timeout: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.wall_clock = wall_clock
        self.client = httpx.Client(
            base_url=api_base.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    # ------------------------------------------------------------ create

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """``POST /v1/checkout/sessions`` with ``Idempotency-Key`` = our payment's key, so a retry
        after a timeout returns the session the first call created. Raises ``ProviderError``."""
        metadata = {
            "payment_id": request.payment_id,
            "booking_id": request.booking_id,
            "idempotency_key": request.idempotency_key,
        }
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,
                        "product_data": {"name": request.description[:250]},
                    },
                }
            ],
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "client_reference_id": request.payment_id,
            "customer_email": request.customer_email,
            "expires_at": int(checkout_expiry(request.expires_at).timestamp()),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        session = self._call(
            "POST",
            "/v1/checkout/sessions",
            data=form_fields(params),
            headers={"Idempotency-Key": request.idempotency_key},
        )
        try:
            return Checkout(str(session["id"]), str(session["url"]))
        except (KeyError, TypeError):
            raise ProviderError("Stripe's Checkout Session answer has no id or url") from None

    # ------------------------------------------------------------ webhooks

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str], client_ip: str | None = None) -> ProviderEvent:
        """Verify ``Stripe-Signature`` (any sender address is fine: the signature authenticates)
        and map the event.

        ``checkout.session.*`` events carry the session; ``payment_intent.succeeded`` /
        ``payment_intent.payment_failed`` carry the intent, whose session is looked up (a
        declined attempt is not final within Checkout: status ``pending``). Any other type maps
        to status ``unhandled``: stored and acknowledged. Raises ``BadSignature``,
        ``InvalidPayload``, ``ProviderError`` (the session lookup failed).
        """
        lowered = {key.lower(): value for key, value in headers.items()}
        verify_signature(self.webhook_secret, raw_body, lowered.get("stripe-signature"), self.wall_clock())
        try:
            event = json.loads(raw_body)
            event_id, event_type = str(event["id"]), str(event["type"])
            obj = event["data"]["object"]
            object_id = str(obj.get("id") or event_id)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidPayload(f"the Stripe event cannot be read: {error}") from None
        try:
            if event_type.startswith("checkout.session."):
                return self._session_event(event_id, event_type, obj)
            if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
                return self._intent_event(event_id, event_type, obj)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidPayload(f"the Stripe {event_type} event cannot be read: {error}") from None
        return ProviderEvent(event_id, event_type, object_id, None, "unhandled", 0, "")

    def _session_event(self, event_id: str, event_type: str, session: Mapping[str, Any]) -> ProviderEvent:
        if event_type == "checkout.session.completed":
            # "paid" (card) or "no_payment_required" end it; "unpaid" waits for an async method.
            paid = session.get("payment_status") in ("paid", "no_payment_required")
            status, reason = ("succeeded", None) if paid else ("pending", None)
        else:
            status, reason = CHECKOUT_EVENTS.get(event_type, ("unhandled", None))
        return ProviderEvent(
            event_id=event_id,
            event_type=event_type,
            provider_payment_id=str(session["id"]),
            payment_id=_our_id(session),
            status=status,
            amount=_amount(session.get("amount_total")),
            currency=str(session.get("currency") or "").upper(),
            failure_reason=reason,
        )

    def _intent_event(self, event_id: str, event_type: str, intent: Mapping[str, Any]) -> ProviderEvent:
        status = PAYMENT_INTENT_STATUSES.get(str(intent.get("status")), "pending")
        if event_type == "payment_intent.payment_failed" and status == "failed":
            reason = "canceled"
        else:
            reason = None
        session = self._session_of_intent(str(intent["id"]))
        return ProviderEvent(
            event_id=event_id,
            event_type=event_type,
            provider_payment_id=str(session["id"]) if session else str(intent["id"]),
            payment_id=_our_id(intent) or (_our_id(session) if session else None),
            status=status,
            amount=_amount(intent.get("amount_received") or intent.get("amount")),
            currency=str(intent.get("currency") or "").upper(),
            failure_reason=reason,
        )

    def _session_of_intent(self, intent_id: str) -> Mapping[str, Any] | None:
        found = self._call("GET", "/v1/checkout/sessions", params={"payment_intent": intent_id, "limit": 1})
        sessions = found.get("data") or []
        return sessions[0] if sessions else None

    # ------------------------------------------------------------ status and refunds

    def fetch_status(self, provider_payment_id: str | None, idempotency_key: str) -> ProviderStatus | None:
        """The session's status: ``expired`` -> ``failed`` (reason ``expired``); otherwise its
        PaymentIntent's status when it has one (``succeeded``; ``canceled`` -> ``failed``; others
        pending), else ``payment_status == "paid"`` -> ``succeeded``, else ``pending``.

        Without a session id (the create answer was lost) the newest sessions (up to
        ``LOOKUP_PAGES`` pages of 100) are scanned for ``metadata.idempotency_key``; ``None`` if
        there is none. Raises ``ProviderError``.
        """
        if provider_payment_id and provider_payment_id.startswith("pi_"):
            intent = self._call("GET", f"/v1/payment_intents/{provider_payment_id}")
            return self._intent_status(provider_payment_id, intent)
        if provider_payment_id:
            session = self._call("GET", f"/v1/checkout/sessions/{provider_payment_id}", missing_ok=True)
        else:
            session = self._find_session(idempotency_key)
        if not session:
            return None
        session_id = str(session["id"])
        amount, currency = _amount(session.get("amount_total")), str(session.get("currency") or "").upper()
        if session.get("status") == "expired":
            return ProviderStatus(session_id, "failed", amount, currency, "expired")
        intent_id = session.get("payment_intent")
        if isinstance(intent_id, Mapping):
            intent_id = intent_id.get("id")
        if intent_id:
            intent = self._call("GET", f"/v1/payment_intents/{intent_id}")
            status = self._intent_status(session_id, intent)
            if status.status != "pending" or session.get("payment_status") != "paid":
                return status
        if session.get("payment_status") in ("paid", "no_payment_required"):
            return ProviderStatus(session_id, "succeeded", amount, currency)
        return ProviderStatus(session_id, "pending", amount, currency)

    def _intent_status(self, provider_payment_id: str, intent: Mapping[str, Any]) -> ProviderStatus:
        status = PAYMENT_INTENT_STATUSES.get(str(intent.get("status")), "pending")
        return ProviderStatus(
            provider_payment_id,
            status,
            _amount(intent.get("amount_received") or intent.get("amount")),
            str(intent.get("currency") or "").upper(),
            "canceled" if status == "failed" else None,
        )

    def _find_session(self, idempotency_key: str) -> Mapping[str, Any] | None:
        params: dict[str, Any] = {"limit": 100}  # newest first
        for _ in range(LOOKUP_PAGES):
            page = self._call("GET", "/v1/checkout/sessions", params=params)
            sessions = page.get("data") or []
            for session in sessions:
                if (session.get("metadata") or {}).get("idempotency_key") == idempotency_key:
                    return session
            if not page.get("has_more") or not sessions:
                return None
            params["starting_after"] = sessions[-1]["id"]
        log.warning("Stripe session with idempotency key %s not found in %d pages", idempotency_key, LOOKUP_PAGES)
        return None

    def refund(self, provider_payment_id: str, amount: int) -> None:
        """``POST /v1/refunds`` for the session's PaymentIntent, with an ``Idempotency-Key``
        derived from the payment so a retried refund is not paid twice. Raises ``ProviderError``."""
        intent_id = provider_payment_id
        if not provider_payment_id.startswith("pi_"):
            session = self._call("GET", f"/v1/checkout/sessions/{provider_payment_id}")
            intent_id = session.get("payment_intent")
            if isinstance(intent_id, Mapping):
                intent_id = intent_id.get("id")
            if not intent_id:
                raise ProviderError(f"Stripe session {provider_payment_id} has no payment to refund")
        self._call(
            "POST",
            "/v1/refunds",
            data=[("payment_intent", str(intent_id)), ("amount", str(amount))],
            headers={"Idempotency-Key": f"refund-{provider_payment_id}"},
        )

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------ HTTP

    def _call(
        self,
        method: str,
        path: str,
        *,
        data: list[tuple[str, str]] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """One API call; the JSON answer. ``missing_ok``: a 404 answers ``{}``. Raises ``ProviderError``
        on a timeout, a network error or any other non-2xx (with Stripe's ``error.message``)."""
        try:
            response = self.client.request(
                method,
                path,
                content=urlencode(data).encode() if data is not None else None,
                params=params,
                headers={
                    **(headers or {}),
                    **({"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}),
                },
            )
        except httpx.TimeoutException:
            raise ProviderError(f"Stripe did not answer {method} {path} in time") from None
        except httpx.HTTPError as error:
            raise ProviderError(f"Stripe {method} {path} failed: {error}") from None
        if response.status_code == 404 and missing_ok:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not response.is_success:
            message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
            raise ProviderError(
                f"Stripe {method} {path} answered {response.status_code}: {message or response.text[:200]}"
            )
        if not isinstance(body, dict):
            raise ProviderError(f"Stripe {method} {path} answered with no JSON object")
        return body


def _our_id(obj: Mapping[str, Any] | None) -> str | None:
    if not obj:
        return None
    metadata = obj.get("metadata") or {}
    return metadata.get("payment_id") or obj.get("client_reference_id")


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0
    return value
