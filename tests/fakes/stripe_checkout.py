"""Stripe Checkout Sessions for tests: HAND-WRITTEN FIXTURES, not captured from Stripe.

localstripe (the stateful local Stripe used for PaymentIntents, refunds and signed webhooks) has
no Checkout Sessions, so this module stands in front of it: it serves ``/v1/checkout/sessions``
itself and forwards every other path to localstripe. The objects follow Stripe's documented
shapes, reduced to the fields Booking Desk reads:

* Checkout Session object: https://docs.stripe.com/api/checkout/sessions/object
  (``id``, ``object``, ``amount_total``, ``currency`` lower-case, ``client_reference_id``,
  ``metadata``, ``mode``, ``payment_intent``, ``payment_status`` ``paid | unpaid |
  no_payment_required``, ``status`` ``open | complete | expired``, ``url``, ``expires_at``).
* Create: https://docs.stripe.com/api/checkout/sessions/create (``expires_at`` 30 minutes to 24
  hours after creation, else 400); list: ``payment_intent``, ``created[gte]``, ``limit``,
  ``starting_after``; expire: ``POST /v1/checkout/sessions/{id}/expire``.
* Idempotent requests: https://docs.stripe.com/api/idempotent_requests (same key and same
  parameters replay the first answer; other parameters: 400 ``idempotency_error``).
* Event object: https://docs.stripe.com/api/events/object; signature: ``Stripe-Signature:
  t=...,v1=<hex HMAC-SHA256 of "t.body">`` (https://docs.stripe.com/webhooks#verify-manually),
  computed here independently of the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.fakes.http import FakeServer, HeldAnswer, Request

API_KEY = "sk_test_bookingdesk"


def _error(status: int, kind: str, message: str) -> tuple[int, dict]:
    return status, {"error": {"type": kind, "message": message}}


def event(event_type: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """An Event object (documented shape) carrying ``obj`` as ``data.object``."""
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``Stripe-Signature`` for ``body`` at ``timestamp`` (default: now), per Stripe's scheme."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class FakeStripeCheckout:
    """Checkout Sessions on a loopback port (``url`` is the API base), the rest forwarded to
    ``localstripe_url``. ``sessions`` by id; ``created_sessions`` counts creates that made one."""

    def __init__(self, localstripe_url: str, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # unix time of "now" for created / expires_at checks
        self.localstripe_url = localstripe_url.rstrip("/")
        self.sessions: dict[str, dict[str, Any]] = {}
        self._answers: dict[str, tuple[list[tuple[str, str]], int, Any]] = {}
        self._lock = threading.Lock()
        self._held: HeldAnswer | None = None
        self._forward = httpx.Client(base_url=self.localstripe_url, timeout=10)
        self.http = FakeServer(self._handle)
        self.url = self.http.url
        self.requests = self.http.requests

    def close(self) -> None:
        self.http.close()
        self._forward.close()

    # ------------------------------------------------------------ the client's side, for tests

    def hold_next_create(self) -> HeldAnswer:
        """The next session create makes the session but answers only after ``release()``."""
        self._held = HeldAnswer()
        return self._held

    def pay(self, session_id: str, payment_method: str = "pm_card_visa") -> dict[str, Any]:
        """The client pays on the hosted page: a PaymentIntent with the session's amount and
        ``payment_intent_data.metadata`` is created and confirmed at localstripe (which sends its
        signed ``payment_intent.*`` webhook); the session completes when the intent succeeded."""
        session = self.sessions[session_id]
        form = {
            "amount": str(session["amount_total"]),
            "currency": session["currency"],
            "payment_method": payment_method,
            "confirm": "true",
            **{f"metadata[{k}]": v for k, v in session["_intent_metadata"].items()},
        }
        response = self._forward.post("/v1/payment_intents", data=form, auth=(API_KEY, ""))
        if response.status_code == 200:
            intent_id = response.json()["id"]
        else:  # a decline answers 402; the intent exists, find it by its metadata
            listed = self._forward.get("/v1/payment_intents", params={"limit": 100}, auth=(API_KEY, "")).json()
            intent_id = next(
                pi["id"]
                for pi in listed["data"]
                if pi.get("metadata", {}).get("payment_id") == session["metadata"]["payment_id"]
            )
        intent = self._forward.get(f"/v1/payment_intents/{intent_id}", auth=(API_KEY, "")).json()
        with self._lock:
            session["payment_intent"] = intent_id
            if intent["status"] == "succeeded":
                session.update(status="complete", payment_status="paid")
        return self.public(session)

    def expire(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] == "open":
                session.update(status="expired", url=None)
            return self.public(session)

    def public(self, session: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in session.items() if not key.startswith("_")}

    def signed_event(
        self, event_type: str, session_id: str, secret: str, at: int | None = None, **changes: Any
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a ``checkout.session.*`` event for the session as it is now
        (with ``changes`` applied to the object), signed at ``at`` (unix; default now)."""
        obj = {**self.public(self.sessions[session_id]), **changes}
        body = json.dumps(event(event_type, obj, at), separators=(",", ":")).encode()
        return body, {"Stripe-Signature": signature_header(secret, body, at), "Content-Type": "application/json"}

    # ------------------------------------------------------------ the API

    def _handle(self, request: Request) -> tuple[int, Any]:
        if not request.path.startswith("/v1/checkout/sessions"):
            return self._forward_request(request)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        if request.method == "POST" and request.path == "/v1/checkout/sessions":
            return self._create(request)
        if request.method == "GET" and request.path == "/v1/checkout/sessions":
            return 200, self._list(request)
        match = re.fullmatch(r"/v1/checkout/sessions/(cs_\w+)(/expire)?", request.path)
        if match and match.group(1) in self.sessions:
            if request.method == "POST" and match.group(2):
                return 200, self.expire(match.group(1))
            if request.method == "GET" and not match.group(2):
                return 200, self.public(self.sessions[match.group(1)])
        return _error(404, "invalid_request_error", f"No such checkout.session: {request.path}")

    def _forward_request(self, request: Request) -> tuple[int, Any]:
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "content-type")}
        response = self._forward.request(
            request.method, request.path, params=request.query, content=request.body, headers=headers
        )
        return response.status_code, response.content

    def _create(self, request: Request) -> tuple[int, Any]:
        fields = sorted(request.form().items())
        key = request.headers.get("idempotency-key")
        if key:
            with self._lock:
                seen = self._answers.get(key)
            if seen is not None:
                if seen[0] != fields:
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        "used with.",
                    )
                return seen[1], seen[2]
        status, answer = self._new_session(dict(fields))
        if key and status < 500:
            with self._lock:
                self._answers[key] = (fields, status, answer)
        held, self._held = self._held, None
        if held is not None:
            held.wait()
        return status, answer

    def _new_session(self, form: dict[str, str]) -> tuple[int, Any]:
        now = int(self.clock())
        if form.get("mode") != "payment" or "success_url" not in form:
            return _error(400, "invalid_request_error", "mode=payment and success_url are required")
        try:
            amount = int(form["line_items[0][price_data][unit_amount]"]) * int(form["line_items[0][quantity]"])
            currency = form["line_items[0][price_data][currency]"]
            expires_at = int(form.get("expires_at", now + 86400))
        except (KeyError, ValueError):
            return _error(400, "invalid_request_error", "line_items[0] needs price_data and quantity")
        if not now + 1800 <= expires_at <= now + 86400:
            return _error(
                400,
                "invalid_request_error",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            )
        session_id = f"cs_test_{uuid.uuid4().hex}"
        metadata = _nested(form, "metadata[")
        intent_metadata = _nested(form, "payment_intent_data[metadata][")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": form.get("cancel_url"),
            "client_reference_id": form.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": form.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "_intent_metadata": intent_metadata,
        }
        with self._lock:
            self.sessions[session_id] = session
        return 200, self.public(session)

    def _list(self, request: Request) -> dict[str, Any]:
        intent = request.query.get("payment_intent")
        since = int(request.query.get("created[gte]", 0))
        limit = int(request.query.get("limit", 10))
        after = request.query.get("starting_after")
        with self._lock:
            items = [s for s in reversed(self.sessions.values()) if s["created"] >= since]  # newest first
        if intent:
            items = [s for s in items if s["payment_intent"] == intent]
        if after:
            ids = [s["id"] for s in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        return {
            "object": "list",
            "url": "/v1/checkout/sessions",
            "has_more": len(items) > limit,
            "data": [self.public(s) for s in page],
        }


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """``{"metadata[a]": "1"}`` with prefix ``"metadata["`` -> ``{"a": "1"}``."""
    return {key[len(prefix) : -1]: value for key, value in form.items() if key.startswith(prefix)}
