"""Stripe against ``localstripe`` (a stateful local Stripe, started once per test session) for
PaymentIntents, refunds and the signed webhooks it sends; Checkout Sessions, which localstripe
lacks, come from hand-written fixtures following Stripe's documented shapes
(``tests/fakes/stripe_checkout.py``), served in front of localstripe. SQLite and PostgreSQL.

Cases of issue 5: signatures (re-serialised body, 10 minutes old, wrong secret), five concurrent
copies of one signed webhook, failed/succeeded in both orders, a lost webhook settled by
reconciliation, a create timeout retried with the same key, late success, expired checkouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlmodel import select

from data.models import OutboxEvent, Payment, WebhookReceipt
from data.seed import seed_demo_data
from domain.bookings import expire_holds
from domain.errors import BadSignature, ProviderError
from payment.providers.stripe import StripeProvider, checkout_expiry, verify_signature
from payment.service import get_payment, handle_webhook, reconcile_payments
from settings import Settings
from tests.conftest import need
from tests.fakes.stripe_checkout import API_KEY, FakeStripeCheckout, signature_header
from tests.support import free_port, wait_until
from tests.test_payment_service import HOLD_SECONDS, SECRET, Desk, book, booking_status, count, event_types, pay_start

WEBHOOK_SECRET = "whsec_bookingdesk_stripe_test"


class Inbox:
    """Where localstripe POSTs its signed webhooks: ``(body, headers)`` as received."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["content-length"]))
                inbox.received.append((body, dict(self.headers.items())))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def event(self, event_type: str, intent_id: str) -> tuple[bytes, dict[str, str]]:
        def find():
            for body, headers in self.received:
                data = json.loads(body)
                if data["type"] == event_type and data["data"]["object"]["id"] == intent_id:
                    return body, headers
            return None

        return wait_until(find, timeout=15, what=f"localstripe's {event_type} for {intent_id}")


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory) -> Iterator[tuple[str, Inbox]]:
    """localstripe on a free loopback port, with our inbox registered as its webhook endpoint."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("localstripe") / "localstripe.log").open("w")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path_factory.getbasetemp(),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except OSError as error:
        need(f"localstripe cannot start: {error}")

    def ready() -> bool:
        if process.poll() is not None:
            return True
        try:
            return httpx.get(f"{url}/v1/customers", auth=(API_KEY, ""), timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=20, what="localstripe to answer")
    except AssertionError:
        process.kill()
        need("localstripe did not answer within 20 s")
    if process.poll() is not None:
        need(f"localstripe exited with {process.returncode} (is it installed? pip install localstripe)")
    inbox = Inbox()
    httpx.post(
        f"{url}/_config/webhooks/bookingdesk", data={"url": inbox.url, "secret": WEBHOOK_SECRET}
    ).raise_for_status()
    yield url, inbox
    inbox.server.shutdown()
    process.terminate()
    process.wait(10)
    log.close()


@pytest.fixture
def fake(localstripe, clock) -> Iterator[FakeStripeCheckout]:
    fake = FakeStripeCheckout(localstripe[0], clock=lambda: clock().timestamp())
    yield fake
    fake.close()


@pytest.fixture
def inbox(localstripe) -> Inbox:
    return localstripe[1]


def stripe(fake: FakeStripeCheckout, **kwargs) -> StripeProvider:
    return StripeProvider(API_KEY, WEBHOOK_SECRET, fake.url, timeout=kwargs.pop("timeout", 5), **kwargs)


@pytest.fixture
def desk(uow, clock, fake) -> Desk:
    seed_demo_data(uow)
    settings = Settings(_env_file=None, public_url="http://desk.test", sandbox_webhook_secret=SECRET)
    return Desk(uow, clock, settings, None, {"stripe": stripe(fake)})


def start(desk: Desk, booking: dict) -> tuple[dict, str]:
    """Start a Stripe payment; returns its view and the Checkout Session id."""
    payment, _ = pay_start(desk, booking, provider="stripe")
    with desk.uow.begin() as session:
        return payment, session.get(Payment, payment["id"]).provider_payment_id


def post(desk: Desk, body: bytes, headers: dict[str, str]) -> str:
    return handle_webhook(desk.uow, desk.providers, "stripe", body, headers, desk.clock())


def reconcile(desk: Desk) -> int:
    return reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120)


# ---------------------------------------------------------------- create


def test_create_sends_a_checkout_session_with_key_metadata_and_expiry(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)

    (request,) = [r for r in fake.requests if r.method == "POST"]
    with desk.uow.begin() as session:
        key = session.get(Payment, payment["id"]).idempotency_key
    assert request.headers["idempotency-key"] == key
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = request.form()
    assert form["mode"] == "payment"
    assert (form["line_items[0][price_data][unit_amount]"], form["line_items[0][price_data][currency]"]) == (
        "220000",
        "rub",
    )
    assert form["metadata[payment_id]"] == payment["id"] and form["metadata[booking_id]"] == booking["id"]
    assert form["payment_intent_data[metadata][payment_id]"] == payment["id"]
    assert form["success_url"] == payment["return_url"]
    hold_end = datetime.fromisoformat(booking["hold_expires_at"].replace("Z", "+00:00"))
    assert int(form["expires_at"]) == int((hold_end + timedelta(minutes=31)).timestamp())
    assert payment["redirect_url"] == fake.sessions[session_id]["url"]


def test_checkout_expiry_is_the_hold_plus_stripes_minimum_and_stable_across_retries():
    hold_end = datetime(2026, 12, 1, 6, 15, tzinfo=UTC)
    assert checkout_expiry(hold_end) == datetime(2026, 12, 1, 6, 46, tzinfo=UTC)


def test_create_timeout_is_a_provider_error_and_the_retry_returns_the_same_session(desk, fake):
    desk.providers["stripe"] = stripe(fake, timeout=0.3)
    booking = book(desk)
    held = fake.hold_next_create()

    with pytest.raises(ProviderError):
        pay_start(desk, booking, provider="stripe")
    held.release()
    with desk.uow.begin() as session:
        stuck = session.exec(select(Payment)).one()
        assert (stuck.status, stuck.redirect_url, stuck.provider_payment_id) == ("pending", None, None)
    desk.clock.advance(60)  # a retry a minute later repeats exactly the same parameters

    retried, created = pay_start(desk, booking, provider="stripe")

    assert (retried["id"], created) == (stuck.id, False)
    assert len(fake.sessions) == 1
    (session_id,) = fake.sessions
    assert retried["redirect_url"] == fake.sessions[session_id]["url"]
    keys = [r.headers["idempotency-key"] for r in fake.requests if r.method == "POST"]
    assert keys == [stuck.idempotency_key] * 2


def test_session_whose_create_answer_was_lost_is_found_by_its_metadata_and_ends_expired(desk, fake):
    desk.providers["stripe"] = stripe(fake, timeout=0.3)
    booking = book(desk)
    held = fake.hold_next_create()
    with pytest.raises(ProviderError):
        pay_start(desk, booking, provider="stripe")
    held.release()
    (session_id,) = fake.sessions
    desk.clock.advance(121)

    assert reconcile(desk) == 0  # found, still open
    with desk.uow.begin() as session:
        assert session.exec(select(Payment)).one().provider_payment_id == session_id
    fake.expire(session_id)
    assert reconcile(desk) == 1

    ended = get_payment(desk.uow, get_payment_id(desk))
    assert (ended["status"], ended["failure_reason"]) == ("failed", "expired")


def get_payment_id(desk: Desk) -> str:
    with desk.uow.begin() as session:
        return session.exec(select(Payment.id)).one()


# ---------------------------------------------------------------- webhooks from localstripe


def test_localstripe_signed_payment_intent_succeeded_confirms_the_booking(desk, fake, inbox):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    intent_id = fake.pay(session_id)["payment_intent"]

    body, headers = inbox.event("payment_intent.succeeded", intent_id)

    assert post(desk, body, headers) == "applied"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert get_payment(desk.uow, payment["id"])["status"] == "succeeded"
    completed, completed_headers = fake.signed_event("checkout.session.completed", session_id, WEBHOOK_SECRET)
    assert post(desk, completed, completed_headers) == "ignored"  # another event, same state: no change
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "booking.confirmed"]


def test_declined_card_then_success_in_the_same_checkout_confirms(desk, fake, inbox):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    declined_intent = fake.pay(session_id, "pm_card_chargeCustomerFail")["payment_intent"]
    declined, declined_headers = inbox.event("payment_intent.payment_failed", declined_intent)

    assert post(desk, declined, declined_headers) == "ignored"  # the client may try another card
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"

    paid_intent = fake.pay(session_id)["payment_intent"]
    body, headers = inbox.event("payment_intent.succeeded", paid_intent)
    assert post(desk, body, headers) == "applied"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert count(desk, OutboxEvent, OutboxEvent.type == "payment.failed") == 0


def test_lost_webhook_is_settled_by_reconciliation_from_the_payment_intent(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    intent_id = fake.pay(session_id)["payment_intent"]
    fake.sessions[session_id].update(status="open", payment_status="unpaid")  # trust the intent, not the session
    desk.clock.advance(121)

    assert reconcile(desk) == 1

    assert booking_status(desk, booking["id"]) == "confirmed"
    assert any(r.path == f"/v1/payment_intents/{intent_id}" for r in fake.requests)


def test_late_success_with_slot_rebooked_is_refunded_through_localstripe(desk, fake, inbox, localstripe):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    desk.clock.advance(HOLD_SECONDS + 60)
    rival = book(desk, email="rival@example.test")
    assert rival["start"] == booking["start"]
    intent_id = fake.pay(session_id)["payment_intent"]
    body, headers = inbox.event("payment_intent.succeeded", intent_id)

    assert post(desk, body, headers) == "applied"

    refunded = get_payment(desk.uow, payment["id"])
    assert refunded["status"] == "refunded" and "refunded automatically" in refunded["attention"]
    refunds = httpx.get(
        f"{localstripe[0]}/v1/refunds", params={"payment_intent": intent_id}, auth=(API_KEY, "")
    ).json()["data"]
    assert [(r["amount"], r["status"]) for r in refunds] == [(220_000, "succeeded")]
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "payment.refunded"]


def test_late_success_with_slot_free_confirms(desk, fake):
    booking = book(desk)
    _, session_id = start(desk, booking)
    desk.clock.advance(HOLD_SECONDS + 60)
    assert expire_holds(desk.uow, desk.clock()) == 1
    fake.pay(session_id)
    body, headers = fake.signed_event("checkout.session.completed", session_id, WEBHOOK_SECRET)

    assert post(desk, body, headers) == "applied"
    assert booking_status(desk, booking["id"]) == "confirmed"


# ---------------------------------------------------------------- webhooks from the fixtures


def test_five_concurrent_copies_of_a_signed_webhook_change_state_once(desk, fake):
    booking = book(desk)
    _, session_id = start(desk, booking)
    fake.sessions[session_id].update(status="complete", payment_status="paid")
    body, headers = fake.signed_event("checkout.session.completed", session_id, WEBHOOK_SECRET)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(post(desk, body, headers))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 4
    assert count(desk, OutboxEvent, OutboxEvent.type == "payment.succeeded") == 1
    assert count(desk, OutboxEvent, OutboxEvent.type == "booking.confirmed") == 1
    assert count(desk, WebhookReceipt) == 5


def test_failed_after_succeeded_is_ignored(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    paid, paid_headers = fake.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, status="complete", payment_status="paid"
    )
    failed, failed_headers = fake.signed_event("checkout.session.async_payment_failed", session_id, WEBHOOK_SECRET)

    assert post(desk, paid, paid_headers) == "applied"
    assert post(desk, failed, failed_headers) == "ignored"

    assert get_payment(desk.uow, payment["id"])["status"] == "succeeded"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert count(desk, OutboxEvent, OutboxEvent.type == "payment.failed") == 0


def test_succeeded_after_failed_is_not_applied_but_flagged_for_staff(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    failed, failed_headers = fake.signed_event("checkout.session.async_payment_failed", session_id, WEBHOOK_SECRET)
    paid, paid_headers = fake.signed_event(
        "checkout.session.async_payment_succeeded", session_id, WEBHOOK_SECRET, payment_status="paid"
    )

    assert post(desk, failed, failed_headers) == "applied"
    assert post(desk, paid, paid_headers) == "error"

    flagged = get_payment(desk.uow, payment["id"])
    assert flagged["status"] == "failed" and "succeeded" in flagged["attention"]
    assert booking_status(desk, booking["id"]) == "pending_payment"


def test_expired_checkout_ends_failed_expired(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    fake.expire(session_id)
    body, headers = fake.signed_event("checkout.session.expired", session_id, WEBHOOK_SECRET)

    assert post(desk, body, headers) == "applied"
    ended = get_payment(desk.uow, payment["id"])
    assert (ended["status"], ended["failure_reason"]) == ("failed", "expired")


def test_amount_mismatch_flags_the_payment(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    body, headers = fake.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, payment_status="paid", amount_total=100
    )

    assert post(desk, body, headers) == "applied"
    assert "was due" in get_payment(desk.uow, payment["id"])["attention"]
    assert booking_status(desk, booking["id"]) == "pending_payment"


def test_unknown_event_type_is_stored_and_acknowledged(desk, fake):
    body = json.dumps({"id": "evt_x1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}).encode()
    headers = {"Stripe-Signature": signature_header(WEBHOOK_SECRET, body)}

    assert post(desk, body, headers) == "ignored"
    with desk.uow.begin() as session:
        receipt = session.exec(select(WebhookReceipt)).one()
        assert (receipt.verified, receipt.outcome, receipt.provider_event_id) == (True, "ignored", "evt_x1")


def test_bad_signatures_are_rejected_and_stored(desk, fake):
    booking = book(desk)
    payment, session_id = start(desk, booking)
    fresh, headers = fake.signed_event("checkout.session.completed", session_id, WEBHOOK_SECRET, payment_status="paid")
    reserialised = json.dumps(json.loads(fresh), indent=2).encode()
    ten_minutes_ago = int(time.time()) - 600
    stale, stale_headers = fake.signed_event(
        "checkout.session.completed", session_id, WEBHOOK_SECRET, at=ten_minutes_ago, payment_status="paid"
    )
    forged = {"Stripe-Signature": signature_header("whsec_not_ours", fresh)}

    for body, bad in ((reserialised, headers), (stale, stale_headers), (fresh, forged), (fresh, {})):
        with pytest.raises(BadSignature):
            post(desk, body, bad)

    assert get_payment(desk.uow, payment["id"])["status"] == "pending"
    with desk.uow.begin() as session:
        assert [r.outcome for r in session.exec(select(WebhookReceipt)).all()] == ["rejected"] * 4


def test_signature_checks_every_v1_and_the_tolerance():
    body = b'{"id":"evt_1"}'
    now = 1_800_000_000
    good = signature_header("whsec_a", body, now)
    rotated = f"{good},v1={'0' * 64}"
    verify_signature("whsec_a", body, rotated, now + 299)
    with pytest.raises(BadSignature):
        verify_signature("whsec_a", body, good, now + 301)
    with pytest.raises(BadSignature):
        verify_signature("", body, good, now)
    with pytest.raises(BadSignature):
        verify_signature("whsec_a", body, "t=abc,v1=00", now)
