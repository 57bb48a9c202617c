"""The YooKassa provider: a payment with a redirect confirmation, through the API v3 (httpx).

Follows YooKassa's documentation (https://yookassa.ru/developers/api):

* Authentication: HTTP Basic, shop id : secret key.
* Idempotence: every POST carries ``Idempotence-Key`` (at most 64 characters); the same key with
  the same body within 24 hours returns the first answer, so a retry after a timeout creates no
  second payment (https://yookassa.ru/developers/using-api/interaction-format#idempotence).
* ``POST /v3/payments``: ``amount {value: "2200.00", currency}``, ``capture: true`` (one stage),
  ``confirmation {type: "redirect", return_url}`` answered with ``confirmation.confirmation_url``,
  ``description`` (at most 128 characters), ``metadata``; ``GET /v3/payments/{id}``; ``GET
  /v3/payments`` (``created_at.gte``, ``limit`` up to 100, ``cursor``/``next_cursor``).
  Statuses ``pending``, ``waiting_for_capture``, ``succeeded``, ``canceled`` with
  ``cancellation_details {party, reason}`` (``expired_on_confirmation``: the client never paid).
* 54-FZ receipts (https://yookassa.ru/developers/payment-acceptance/receipts/54fz/yoomoney/basics):
  ``receipt {customer {email | phone}, items [{description, quantity, amount, vat_code,
  payment_mode, payment_subject}]}``.
* ``POST /v3/refunds``: ``payment_id``, ``amount``.
* Notifications (https://yookassa.ru/developers/using-api/webhooks): ``{"type": "notification",
  "event": "payment.succeeded" | "payment.canceled" | "payment.waiting_for_capture" |
  "refund.succeeded", "object": {...}}``. They carry no signature: YooKassa publishes the
  addresses it sends from and advises checking the object's status through the API, so a
  notification is accepted only from those addresses and then confirmed by ``GET``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

import httpx
from babel.numbers import get_currency_precision

from domain.errors import BadSignature, InvalidPayload, ProviderError
from payment.providers.base import Checkout, CheckoutRequest, ProviderEvent, ProviderStatus

log = logging.getLogger(__name__)

# https://yookassa.ru/developers/using-api/webhooks#ip
YOOKASSA_NETWORKS = tuple(
    ip_network(cidr)
    for cidr in (
        "185.71.76.0/27",
        "185.71.77.0/27",
        "77.75.153.0/25",
        "77.75.156.11/32",
        "77.75.156.35/32",
        "77.75.154.128/25",
        "2a02:5180::/32",
    )
)
LOOKUP_PAGES = 10  # pages of 100 payments scanned when a create answer was lost
STATUSES = {"pending": "pending", "waiting_for_capture": "pending", "succeeded": "succeeded", "canceled": "failed"}
REASONS = {"expired_on_confirmation": "expired", "canceled_by_merchant": "canceled"}


def is_yookassa_address(address: str | None) -> bool:
    """Whether ``address`` (IPv4, IPv6 or IPv4-mapped IPv6) is in YooKassa's published ranges."""
    try:
        parsed: IPv4Address | IPv6Address = ip_address((address or "").strip())
    except ValueError:
        return False
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in YOOKASSA_NETWORKS)


def to_value(amount: int, currency: str) -> str:
    """Minor units to YooKassa's decimal string: ``220000, "RUB"`` -> ``"2200.00"``."""
    digits = get_currency_precision(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def from_value(value: Any, currency: str) -> int:
    """YooKassa's decimal string to minor units; raises ``ValueError`` if it is not a whole number of them."""
    try:
        minor = Decimal(str(value)).scaleb(get_currency_precision(currency))
    except InvalidOperation:
        raise ValueError(f"amount {value!r} is not a decimal") from None
    if minor != minor.to_integral_value():
        raise ValueError(f"amount {value!r} has more digits than {currency} allows")
    return int(minor)


class YooKassaProvider:
    """``PaymentProvider`` for YooKassa.

    ``shop_id`` / ``secret_key`` authenticate (Basic); ``api_base`` e.g. ``https://api.yookassa.ru``
    (a local fake in tests); ``receipts`` sends a 54-FZ receipt with each payment
    (``BOOKING_YOOKASSA_RECEIPTS=1``) with ``vat_code`` (YooKassa's VAT codes; 1 = no VAT);
    ``timeout`` seconds per HTTP call; ``wall_clock`` the real unix time (lookups by key).
    """

    name = "yookassa"

    def __init__(
        self,
        shop_id: str,
        secret_key: str,
        api_base: str = "https://api.yookassa.ru",
        *,
        receipts: bool = False,
        vat_code: int = 1,
        timeout: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.receipts = receipts
        self.vat_code = vat_code
        self.wall_clock = wall_clock
        self.client = httpx.Client(
            base_url=api_base.rstrip("/"), auth=(shop_id, secret_key), timeout=timeout, transport=transport
        )

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """``POST /v3/payments`` with ``Idempotence-Key`` = our payment's key; the body depends on
        the request alone, so a retry repeats it exactly. Raises ``ProviderError``."""
        amount = {"value": to_value(request.amount, request.currency), "currency": request.currency}
        body: dict[str, Any] = {
            "amount": amount,
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": request.return_url},
            "description": request.description[:128],
            "metadata": {
                "payment_id": request.payment_id,
                "booking_id": request.booking_id,
                "idempotency_key": request.idempotency_key,
            },
        }
        if self.receipts:
            body["receipt"] = self._receipt(request, amount)
        payment = self._call("POST", "/v3/payments", json_body=body, key=request.idempotency_key)
        try:
            return Checkout(str(payment["id"]), str(payment["confirmation"]["confirmation_url"]))
        except (KeyError, TypeError):
            raise ProviderError("YooKassa's payment answer has no id or confirmation_url") from None

    def _receipt(self, request: CheckoutRequest, amount: Mapping[str, str]) -> dict[str, Any]:
        """The 54-FZ receipt: the customer's email (or phone, digits only per E.164) and one service line."""
        if request.customer_email:
            customer = {"email": request.customer_email}
        elif request.customer_phone:
            customer = {"phone": re.sub(r"\D", "", request.customer_phone)}
        else:
            raise ProviderError("a 54-FZ receipt needs the customer's email or phone")
        item = {
            "description": request.description[:128],
            "quantity": "1.00",
            "amount": dict(amount),
            "vat_code": self.vat_code,
            "payment_mode": "full_payment",
            "payment_subject": "service",
        }
        return {"customer": customer, "items": [item]}

    def parse_webhook(self, raw_body: bytes, headers: Mapping[str, str], client_ip: str | None = None) -> ProviderEvent:
        """Accept a notification only from YooKassa's addresses, then confirm it: the status,
        amount and metadata acted on are those of ``GET /v3/payments/{id}``, never the body's.

        The event id is ``"{event}:{payment id}"`` (notifications have no id of their own; a
        redelivery repeats it). ``refund.succeeded`` and other events map to a status we do not
        act on (stored and acknowledged). Raises ``BadSignature`` (address outside the ranges),
        ``InvalidPayload`` (unreadable, or YooKassa has no such payment), ``ProviderError``.
        """
        if not is_yookassa_address(client_ip):
            raise BadSignature(f"YooKassa notification from {client_ip or 'an unknown address'}, outside its ranges")
        try:
            body = json.loads(raw_body)
            event_type = str(body["event"])
            obj = body["object"]
            payment_ref = str(obj["payment_id"] if event_type.startswith("refund.") else obj["id"])
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidPayload(f"the YooKassa notification cannot be read: {error}") from None
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", payment_ref):
            raise InvalidPayload(f"the YooKassa notification names no valid payment: {payment_ref!r}")
        payment = self._call("GET", f"/v3/payments/{payment_ref}", missing_ok=True)
        if not payment:
            raise InvalidPayload(f"YooKassa has no payment {payment_ref}")
        status = self._status(payment)
        event_status = status.status if event_type.startswith("payment.") else "unhandled"
        return ProviderEvent(
            event_id=f"{event_type}:{payment_ref}",
            event_type=event_type,
            provider_payment_id=status.provider_payment_id,
            payment_id=(payment.get("metadata") or {}).get("payment_id"),
            status=event_status,
            amount=status.amount,
            currency=status.currency,
            failure_reason=status.failure_reason,
        )

    def fetch_status(self, provider_payment_id: str | None, idempotency_key: str) -> ProviderStatus | None:
        """``GET /v3/payments/{id}``; without an id (the create answer was lost), the payments of the
        last 25 hours are scanned for ``metadata.idempotency_key``. ``None``: YooKassa has none.
        Raises ``ProviderError``."""
        if provider_payment_id:
            payment = self._call("GET", f"/v3/payments/{provider_payment_id}", missing_ok=True)
        else:
            payment = self._find(idempotency_key)
        return self._status(payment) if payment else None

    def _find(self, idempotency_key: str) -> Mapping[str, Any] | None:
        since = datetime.fromtimestamp(self.wall_clock() - 25 * 3600, UTC).isoformat(timespec="milliseconds")
        params: dict[str, Any] = {"limit": 100, "created_at.gte": since.replace("+00:00", "Z")}
        for _ in range(LOOKUP_PAGES):
            page = self._call("GET", "/v3/payments", params=params)
            for payment in page.get("items") or []:
                if (payment.get("metadata") or {}).get("idempotency_key") == idempotency_key:
                    return payment
            if not page.get("next_cursor"):
                return None
            params["cursor"] = page["next_cursor"]
        log.warning("YooKassa payment with idempotency key %s not found in %d pages", idempotency_key, LOOKUP_PAGES)
        return None

    def _status(self, payment: Mapping[str, Any]) -> ProviderStatus:
        try:
            currency = str(payment["amount"]["currency"])
            amount = from_value(payment["amount"]["value"], currency)
            raw_status = str(payment["status"])
            payment_id = str(payment["id"])
        except (KeyError, TypeError, ValueError) as error:
            raise ProviderError(f"YooKassa's payment cannot be read: {error}") from None
        reason = None
        if raw_status == "canceled":
            detail = (payment.get("cancellation_details") or {}).get("reason") or "canceled"
            reason = REASONS.get(detail, detail)
        return ProviderStatus(payment_id, STATUSES.get(raw_status, raw_status), amount, currency, reason)

    def refund(self, provider_payment_id: str, amount: int) -> None:
        """``POST /v3/refunds`` with ``Idempotence-Key`` ``refund-{payment id}`` (a retried refund
        is not paid twice); the currency is the payment's. Raises ``ProviderError``."""
        payment = self._call("GET", f"/v3/payments/{provider_payment_id}")
        currency = str((payment.get("amount") or {}).get("currency") or "RUB")
        self._call(
            "POST",
            "/v3/refunds",
            json_body={
                "payment_id": provider_payment_id,
                "amount": {"value": to_value(amount, currency), "currency": currency},
            },
            key=f"refund-{provider_payment_id}",
        )

    def close(self) -> None:
        self.client.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """One API call; the JSON answer. ``missing_ok``: a 404 answers ``{}``. Raises
        ``ProviderError`` on a timeout, a network error or another non-2xx (with YooKassa's
        ``description``)."""
        headers = {"Idempotence-Key": key} if key else {}
        try:
            response = self.client.request(method, path, json=json_body, params=params, headers=headers)
        except httpx.TimeoutException:
            raise ProviderError(f"YooKassa did not answer {method} {path} in time") from None
        except httpx.HTTPError as error:
            raise ProviderError(f"YooKassa {method} {path} failed: {error}") from None
        if response.status_code == 404 and missing_ok:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.is_success:
            detail = body.get("description") if isinstance(body, dict) else response.text[:200]
            raise ProviderError(f"YooKassa {method} {path} answered {response.status_code}: {detail}")
        if not isinstance(body, dict):
            raise ProviderError(f"YooKassa {method} {path} answered with no JSON object")
        return body
