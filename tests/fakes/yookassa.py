"""A local fake of YooKassa's API v3, following its documentation (https://yookassa.ru/developers/api),
for the parts Booking Desk uses. Hand-written; not YooKassa's code and not captured traffic.

* Basic authentication with the shop id and secret key (401 ``invalid_credentials`` otherwise).
* ``Idempotence-Key`` required on every POST (400 without it); the same key with the same body
  answers the first answer again and creates nothing; with another body, 400.
* ``POST /v3/payments`` (amount ``{value: "2200.00", currency}``, ``confirmation.type =
  redirect`` with ``return_url``, ``capture``, ``metadata``, optional 54-FZ ``receipt`` whose
  items must add up to the amount; required when ``require_receipt``), ``GET /v3/payments/{id}``,
  ``GET /v3/payments`` (``created_at.gte``, ``limit``, ``cursor`` / ``next_cursor``).
* ``POST /v3/refunds`` (``payment_id``, ``amount``; only a succeeded payment, at most what is left).
* The client's side for tests: ``pay``, ``cancel``; and ``notification`` builds the body YooKassa
  would POST (``{"type": "notification", "event", "object"}``).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.fakes.http import FakeServer, HeldAnswer, Request

VALUE = re.compile(r"^\d+(\.\d{1,2})?$")


def _error(status: int, code: str, description: str, parameter: str | None = None) -> tuple[int, dict]:
    body = {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}
    if parameter:
        body["parameter"] = parameter
    return status, body


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeYooKassa:
    """The fake shop ``shop_id`` / ``secret_key`` on a loopback port (``url`` is the API base)."""

    def __init__(self, shop_id: str = "100500", secret_key: str = "test_secret_key", require_receipt: bool = False):
        self.shop_id, self.secret_key, self.require_receipt = shop_id, secret_key, require_receipt
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self._answers: dict[str, tuple[str, int, Any]] = {}  # Idempotence-Key -> (body, status, answer)
        self._lock = threading.Lock()
        self._held: HeldAnswer | None = None
        self.http = FakeServer(self._handle)
        self.url = self.http.url
        self.requests = self.http.requests

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ the client's side, for tests

    def hold_next_create(self) -> HeldAnswer:
        """The next ``POST /v3/payments`` creates the payment but answers only after ``release()``."""
        self._held = HeldAnswer()
        return self._held

    def pay(self, payment_id: str, value: str | None = None) -> dict[str, Any]:
        """The client pays (``value`` overrides the amount paid, to test a mismatch)."""
        with self._lock:
            payment = self.payments[payment_id]
            assert payment["status"] == "pending", payment["status"]
            if value is not None:
                payment["amount"] = {**payment["amount"], "value": value}
            payment.update(status="succeeded", paid=True, refundable=True, captured_at=_now())
            payment["payment_method"] = {"type": "bank_card", "id": payment_id, "saved": False}
            return dict(payment)

    def cancel(self, payment_id: str, reason: str = "expired_on_confirmation") -> dict[str, Any]:
        """YooKassa cancels the payment (``expired_on_confirmation``: the client never paid)."""
        with self._lock:
            payment = self.payments[payment_id]
            party = "yoo_money" if reason == "expired_on_confirmation" else "payment_network"
            payment.update(status="canceled", cancellation_details={"party": party, "reason": reason})
            return dict(payment)

    def notification(self, payment_id: str, event: str | None = None) -> bytes:
        """The notification body for the payment's current state (``event`` defaults to it)."""
        payment = dict(self.payments[payment_id])
        event = event or f"payment.{payment['status']}"
        return json.dumps({"type": "notification", "event": event, "object": payment}).encode()

    # ------------------------------------------------------------ the API

    def _handle(self, request: Request) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return _error(401, "invalid_credentials", "Authentication by given credentials failed")
        if request.method == "POST":
            key = request.headers.get("idempotence-key")
            if not key or len(key) > 64:
                return _error(
                    400, "invalid_request", "Idempotence-Key header is missing or too long", "Idempotence-Key"
                )
            with self._lock:
                seen = self._answers.get(key)
            body = request.body.decode()
            if seen is not None:
                if seen[0] != body:
                    return _error(400, "invalid_request", "Idempotence key duplicated with another request body")
                return seen[1], seen[2]
            if request.path == "/v3/payments":
                status, answer = self._create(request)
            elif request.path == "/v3/refunds":
                status, answer = self._refund(request)
            else:
                return _error(404, "not_found", "Unknown path")
            if status < 500:
                with self._lock:
                    self._answers[key] = (body, status, answer)
            if request.path == "/v3/payments" and self._held is not None:
                held, self._held = self._held, None
                held.wait()
            return status, answer
        if request.method == "GET" and request.path == "/v3/payments":
            return 200, self._list(request)
        match = re.fullmatch(r"/v3/payments/([\w-]+)", request.path)
        if request.method == "GET" and match:
            with self._lock:
                payment = self.payments.get(match.group(1))
            if payment is None:
                return _error(404, "not_found", "Payment not found")
            return 200, dict(payment)
        return _error(404, "not_found", "Unknown path")

    def _create(self, request: Request) -> tuple[int, Any]:
        try:
            data = request.json()
            amount = data["amount"]
            if not VALUE.match(str(amount["value"])) or not re.fullmatch(r"[A-Z]{3}", amount["currency"]):
                return _error(400, "invalid_request", "amount is not valid", "amount")
            confirmation = data["confirmation"]
            if confirmation.get("type") != "redirect" or not confirmation.get("return_url"):
                return _error(400, "invalid_request", "confirmation must be a redirect", "confirmation")
            if len(data.get("description", "")) > 128:
                return _error(400, "invalid_request", "description is too long", "description")
        except (ValueError, KeyError, TypeError):
            return _error(400, "invalid_request", "request body is not valid")
        receipt = data.get("receipt")
        if receipt is None and self.require_receipt:
            return _error(400, "invalid_request", "Receipt is missing or illegal", "receipt")
        if receipt is not None:
            problem = _receipt_problem(receipt, amount)
            if problem:
                return _error(400, "invalid_request", problem, "receipt")
        payment_id = f"{uuid.uuid4().hex[:8]}-000f-5000-8000-{uuid.uuid4().hex[:12]}"
        payment = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": amount,
            "confirmation": {
                "type": "redirect",
                "return_url": confirmation["return_url"],
                "confirmation_url": f"{self.url}/checkout/payments/v2/contract?orderId={payment_id}",
            },
            "created_at": _now(),
            "description": data.get("description", ""),
            "metadata": data.get("metadata") or {},
            "recipient": {"account_id": self.shop_id, "gateway_id": "1000001"},
            "refundable": False,
            "test": True,
            "capture": bool(data.get("capture")),
            "receipt": receipt,
        }
        with self._lock:
            self.payments[payment_id] = payment
        return 200, {key: value for key, value in payment.items() if key not in ("capture", "receipt")}

    def _refund(self, request: Request) -> tuple[int, Any]:
        try:
            data = request.json()
            payment_id, amount = data["payment_id"], data["amount"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "invalid_request", "request body is not valid")
        with self._lock:
            payment = self.payments.get(payment_id)
            if payment is None or payment["status"] != "succeeded":
                return _error(400, "invalid_request", "Payment is not succeeded", "payment_id")
            refunded = Decimal(payment.get("refunded_amount", {}).get("value", "0"))
            left = Decimal(payment["amount"]["value"]) - refunded
            if Decimal(amount["value"]) > left or amount["currency"] != payment["amount"]["currency"]:
                return _error(400, "invalid_request", "Refund amount exceeds what is left", "amount")
            payment["refunded_amount"] = {
                "value": f"{refunded + Decimal(amount['value']):.2f}",
                "currency": amount["currency"],
            }
            refund = {
                "id": f"{uuid.uuid4().hex[:8]}-0015-5000-9000-{uuid.uuid4().hex[:12]}",
                "payment_id": payment_id,
                "status": "succeeded",
                "created_at": _now(),
                "amount": amount,
            }
            self.refunds.append(refund)
            return 200, refund

    def _list(self, request: Request) -> dict[str, Any]:
        since = request.query.get("created_at.gte", "")
        limit = int(request.query.get("limit", "10"))
        start = int(request.query.get("cursor") or 0)
        with self._lock:
            items = [dict(p) for p in self.payments.values() if p["created_at"] >= since]
        page = items[start : start + limit]
        answer: dict[str, Any] = {"type": "list", "items": page}
        if start + limit < len(items):
            answer["next_cursor"] = str(start + limit)
        return answer


def _receipt_problem(receipt: dict[str, Any], amount: dict[str, str]) -> str | None:
    """What is wrong with a 54-FZ receipt (None if nothing)."""
    customer = receipt.get("customer") or {}
    if not customer.get("email") and not re.fullmatch(r"\d{10,15}", str(customer.get("phone", ""))):
        return "receipt.customer needs an email or a phone (E.164 digits)"
    items = receipt.get("items") or []
    if not items:
        return "receipt.items is empty"
    total = Decimal(0)
    for item in items:
        if not item.get("description") or len(item["description"]) > 128:
            return "receipt item description is missing or too long"
        if item.get("vat_code") not in range(1, 13) and str(item.get("vat_code")) not in map(str, range(1, 13)):
            return "receipt item vat_code is not valid"
        total += Decimal(str(item["quantity"])) * Decimal(item["amount"]["value"])
    if total != Decimal(amount["value"]):
        return "receipt items do not add up to the payment amount"
    return None
