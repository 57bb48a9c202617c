"""The provider-neutral interface every payment provider implements (sandbox, Stripe, YooKassa).
Amounts are integer minor units; times are aware UTC datetimes.

The Payment Service (``payment/service.py``) only talks to providers through ``PaymentProvider``;
a provider translates these shapes to and from its own API and webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What we ask a provider to create: a hosted checkout for one of our payments (seed step 6).

    ``amount`` is in minor units of ``currency``; ``expires_at`` (aware UTC) is the booking's hold
    end, after which the checkout must not take money; ``idempotency_key`` is sent with every
    create call for this payment, so a retry after a lost answer returns the same checkout.
    """

    payment_id: str
    booking_id: str
    amount: int
    currency: str
    description: str
    return_url: str
    idempotency_key: str
    expires_at: datetime
    customer_email: str | None = None
    customer_phone: str | None = None


@dataclass(frozen=True, slots=True)
class Checkout:
    """The provider's answer to a create: its id for the payment and where to send the client (seed step 7)."""

    provider_payment_id: str
    redirect_url: str


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook, in our terms (seed step 9).

    ``event_id`` is the provider's id of the notification (duplicates share it); ``payment_id`` is
    our payment id echoed from the checkout's metadata, when the provider carries it; ``status``
    is ``succeeded``, ``failed``, ``pending`` or a provider status we do not act on; ``amount`` is
    minor units.
    """

    event_id: str
    event_type: str
    provider_payment_id: str
    payment_id: str | None
    status: str
    amount: int
    currency: str
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A payment as the provider's status API reports it (reconciliation).

    ``status`` is ``pending``, ``succeeded`` or ``failed`` (a provider may report others, e.g.
    ``refunded``, which reconciliation does not act on); ``amount`` is minor units.
    """

    provider_payment_id: str
    status: str
    amount: int
    currency: str
    failure_reason: str | None = None


class PaymentProvider(Protocol):
    """A payment provider adapter. ``name`` is its key in settings, routes and ``Payment.provider``."""

    name: str

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create (or, for a repeated idempotency key, return) the hosted checkout.

        Raises ``domain.errors.ProviderError`` when the provider does not answer or errs.
        """
        ...

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str], client_ip: str | None = None) -> ProviderEvent:
        """Verify and parse a webhook exactly as received (raw bytes, no re-serialisation).

        ``client_ip`` is the sender's address as the webhook route determined it (the direct peer,
        or ``X-Forwarded-For`` behind a trusted proxy); a provider whose notifications carry no
        signature (YooKassa) authenticates them by it. A provider may call its API to confirm.

        Raises ``BadSignature`` (missing or wrong signature, stale timestamp, address not the
        provider's), ``InvalidPayload``, or ``ProviderError`` (the confirming call failed).
        """
        ...

    def fetch_status(self, provider_payment_id: str | None, idempotency_key: str) -> ProviderStatus | None:
        """Ask the provider for the payment's status, by its id or, when the create answer was lost
        and we never learnt the id, by our idempotency key. ``None``: the provider has no such payment.

        Raises ``ProviderError`` when the provider does not answer.
        """
        ...

    def refund(self, provider_payment_id: str, amount: int) -> None:
        """Refund ``amount`` minor units of a succeeded payment. Raises ``ProviderError``."""
        ...
