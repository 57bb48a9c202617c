"""YooKassa against a local fake of its API v3 (``tests/fakes/yookassa.py``), over SQLite and
PostgreSQL: the create call (idempotence, redirect confirmation, 54-FZ receipt), notifications
accepted only from YooKassa's addresses (directly or through a trusted proxy) and confirmed by
fetching the payment, timeouts, reconciliation, late success and refunds (DESIGN.md sections 5-7)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from api import payments, webhooks
from api.problems import install_problem_handlers
from api.webhooks import client_address, trusted_networks
from data.models import Booking, OutboxEvent, Payment, WebhookReceipt
from data.seed import seed_demo_data
from domain.bookings import expire_holds
from domain.errors import BadSignature, ProviderError
from payment.providers.base import CheckoutRequest
from payment.providers.sandbox import SandboxGateway, SandboxProvider
from payment.providers.yookassa import YooKassaProvider, from_value, is_yookassa_address, to_value
from payment.service import get_payment, handle_webhook, reconcile_payments
from settings import Settings
from system import System
from tests.fakes.yookassa import FakeYooKassa
from tests.test_payment_service import HOLD_SECONDS, SECRET, Desk, book, booking_status, count, event_types, pay_start

YOOKASSA_IP = "185.71.76.10"
PROXY_IP = "10.1.2.3"


@pytest.fixture
def fake() -> Iterator[FakeYooKassa]:
    fake = FakeYooKassa(require_receipt=True)
    yield fake
    fake.close()


def yookassa(fake: FakeYooKassa, **kwargs) -> YooKassaProvider:
    return YooKassaProvider(fake.shop_id, fake.secret_key, fake.url, receipts=True, timeout=kwargs.pop("timeout", 2))


@pytest.fixture
def desk(uow, clock, fake) -> Desk:
    seed_demo_data(uow)
    settings = Settings(
        _env_file=None,
        public_url="http://desk.test",
        sandbox_webhook_secret=SECRET,
        payment_provider="yookassa",
        trusted_proxies=["10.0.0.0/8"],
    )
    gateway = SandboxGateway(uow, clock, SECRET, webhook_url=None)
    providers = {"yookassa": yookassa(fake), "sandbox": SandboxProvider(gateway, SECRET, settings.public_url)}
    return Desk(uow, clock, settings, gateway, providers)


def notify(desk: Desk, body: bytes, client_ip: str | None = YOOKASSA_IP) -> str:
    return handle_webhook(desk.uow, desk.providers, "yookassa", body, {}, desk.clock(), client_ip=client_ip)


def provider_id(desk: Desk, payment_id: str) -> str:
    with desk.uow.begin() as session:
        return session.get(Payment, payment_id).provider_payment_id


def reconcile(desk: Desk) -> int:
    return reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120)


# ---------------------------------------------------------------- create


def test_create_sends_idempotence_key_redirect_confirmation_and_receipt(desk, fake):
    booking = book(desk)
    payment, created = pay_start(desk, booking)

    assert created and payment["provider"] == "yookassa"
    (request,) = [r for r in fake.requests if r.method == "POST"]
    auth = base64.b64encode(f"{fake.shop_id}:{fake.secret_key}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {auth}"
    with desk.uow.begin() as session:
        key = session.get(Payment, payment["id"]).idempotency_key
    assert request.headers["idempotence-key"] == key
    body = request.json()
    assert body["amount"] == {"value": "2200.00", "currency": "RUB"}
    assert body["capture"] is True
    assert body["confirmation"] == {"type": "redirect", "return_url": payment["return_url"]}
    assert body["metadata"]["payment_id"] == payment["id"]
    assert body["receipt"]["customer"] == {"email": "guest@example.test"}
    (item,) = body["receipt"]["items"]
    assert (item["quantity"], item["amount"], item["vat_code"]) == ("1.00", body["amount"], 1)
    assert "Tennis court 1" in item["description"]
    at_provider = fake.payments[provider_id(desk, payment["id"])]
    assert payment["redirect_url"] == at_provider["confirmation"]["confirmation_url"]


def test_receipt_uses_the_phone_when_there_is_no_email(fake):
    request = CheckoutRequest(
        payment_id="p-1",
        booking_id="b-1",
        amount=150_050,
        currency="RUB",
        description="Room A, 2026-12-01 10:00 (Europe/Moscow)",
        return_url="http://desk.test/payments/p-1/return",
        idempotency_key="booking-desk-p-1",
        expires_at=datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
        customer_phone="+7 (900) 123-45-67",
    )
    checkout = yookassa(fake).create_checkout(request)

    body = fake.requests[-1].json()
    assert body["receipt"]["customer"] == {"phone": "79001234567"}
    assert body["receipt"]["items"][0]["amount"] == {"value": "1500.50", "currency": "RUB"}
    assert checkout.provider_payment_id in fake.payments


def test_amount_conversion_is_exact():
    assert to_value(220_000, "RUB") == "2200.00" and to_value(5, "RUB") == "0.05"
    assert from_value("2200.00", "RUB") == 220_000 and from_value("0.5", "RUB") == 50
    with pytest.raises(ValueError):
        from_value("1.005", "RUB")


@pytest.mark.parametrize("lose_answer", [False, True], ids=["retry", "reconcile"])
def test_create_timeout_leaves_one_payment_at_yookassa(desk, fake, lose_answer):
    desk.providers["yookassa"] = yookassa(fake, timeout=0.3)
    booking = book(desk)
    held = fake.hold_next_create()

    with pytest.raises(ProviderError):
        pay_start(desk, booking)
    held.release()

    with desk.uow.begin() as session:
        stuck = session.exec(select(Payment)).one()
        assert (stuck.status, stuck.redirect_url, stuck.provider_payment_id) == ("pending", None, None)
    assert len(fake.payments) == 1  # YooKassa created it; our side only knows it is pending
    (created_at_yookassa,) = fake.payments.values()

    if not lose_answer:  # the client retries: the same Idempotence-Key returns the same payment
        retried, created = pay_start(desk, booking)
        assert (retried["id"], created) == (stuck.id, False)
        assert retried["redirect_url"] == created_at_yookassa["confirmation"]["confirmation_url"]
    else:  # nobody retries: reconciliation finds it by the key in its metadata
        fake.pay(created_at_yookassa["id"])
        desk.clock.advance(121)
        assert reconcile(desk) == 1
        assert booking_status(desk, booking["id"]) == "confirmed"
    assert len(fake.payments) == 1
    keys = {r.headers["idempotence-key"] for r in fake.requests if r.method == "POST"}
    assert keys == {stuck.idempotency_key}
    assert provider_id(desk, stuck.id) == created_at_yookassa["id"]


# ---------------------------------------------------------------- notifications


def test_notification_from_yookassa_is_confirmed_by_fetching_then_applied_once(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    yid = provider_id(desk, payment["id"])
    fake.pay(yid)
    body = fake.notification(yid)

    assert notify(desk, body) == "applied"
    assert notify(desk, body) == "duplicate"

    assert booking_status(desk, booking["id"]) == "confirmed"
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "booking.confirmed"]
    assert any(r.method == "GET" and r.path == f"/v3/payments/{yid}" for r in fake.requests)


def test_forged_success_from_a_yookassa_address_changes_nothing_while_the_api_says_pending(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    yid = provider_id(desk, payment["id"])
    forged = json.loads(fake.notification(yid))
    forged["event"], forged["object"]["status"] = "payment.succeeded", "succeeded"

    assert notify(desk, json.dumps(forged).encode()) == "ignored"

    assert get_payment(desk.uow, payment["id"])["status"] == "pending"
    assert booking_status(desk, booking["id"]) == "pending_payment"


def test_notification_from_outside_yookassa_ranges_is_refused_and_changes_nothing(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    yid = provider_id(desk, payment["id"])
    fake.pay(yid)
    fetches_before = len(fake.requests)

    for address in ("203.0.113.7", None, "not-an-ip"):
        with pytest.raises(BadSignature):
            notify(desk, fake.notification(yid), client_ip=address)

    assert len(fake.requests) == fetches_before  # refused before asking YooKassa anything
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"
    assert booking_status(desk, booking["id"]) == "pending_payment"
    with desk.uow.begin() as session:
        receipts = session.exec(select(WebhookReceipt)).all()
        assert {(r.verified, r.outcome) for r in receipts} == {(False, "rejected")} and len(receipts) == 3


def test_canceled_checkout_ends_failed_expired(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    yid = provider_id(desk, payment["id"])
    fake.cancel(yid, "expired_on_confirmation")

    assert notify(desk, fake.notification(yid)) == "applied"

    ended = get_payment(desk.uow, payment["id"])
    assert (ended["status"], ended["failure_reason"]) == ("failed", "expired")
    assert booking_status(desk, booking["id"]) == "pending_payment"


def test_refund_and_unknown_events_are_stored_and_acknowledged(desk, fake):
    payment, _ = pay_start(desk, book(desk))
    yid = provider_id(desk, payment["id"])
    refund_note = json.dumps(
        {"type": "notification", "event": "refund.succeeded", "object": {"id": "r-1", "payment_id": yid}}
    )
    assert notify(desk, refund_note.encode()) == "ignored"
    assert notify(desk, fake.notification(yid, "payment.waiting_for_capture")) == "ignored"
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"


def test_amount_paid_differs_flags_the_payment_and_keeps_the_booking_unconfirmed(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    yid = provider_id(desk, payment["id"])
    fake.pay(yid, value="22.00")

    assert notify(desk, fake.notification(yid)) == "applied"

    flagged = get_payment(desk.uow, payment["id"])
    assert flagged["status"] == "succeeded" and "was due" in flagged["attention"]
    assert booking_status(desk, booking["id"]) == "pending_payment"


# ---------------------------------------------------------------- reconciliation, late success


def test_lost_notification_is_settled_by_reconciliation(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    fake.pay(provider_id(desk, payment["id"]))
    desk.clock.advance(121)

    assert reconcile(desk) == 1
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert reconcile(desk) == 0


def test_a_provider_that_is_down_does_not_hold_up_the_others(desk, fake):
    booking = book(desk)
    stuck, _ = pay_start(desk, booking)
    other = book(desk, nth=1)
    sandbox_payment, _ = pay_start(desk, other, provider="sandbox")
    desk.gateway.pay(sandbox_payment["redirect_url"].rsplit("/", 1)[1], "succeeded", deliver_webhook=False)
    fake.close()  # YooKassa is down
    desk.clock.advance(121)

    assert reconcile(desk) == 1
    assert booking_status(desk, other["id"]) == "confirmed"
    assert get_payment(desk.uow, stuck["id"])["status"] == "pending"  # retried on the next run


def test_late_success_with_slot_free_confirms(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    desk.clock.advance(HOLD_SECONDS + 60)
    assert expire_holds(desk.uow, desk.clock()) == 1
    yid = provider_id(desk, payment["id"])
    fake.pay(yid)

    assert notify(desk, fake.notification(yid)) == "applied"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert fake.refunds == []


def test_late_success_with_slot_rebooked_is_refunded_at_yookassa_and_flagged(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    desk.clock.advance(HOLD_SECONDS + 60)
    rival = book(desk, email="rival@example.test")
    assert rival["start"] == booking["start"]
    yid = provider_id(desk, payment["id"])
    fake.pay(yid)

    assert notify(desk, fake.notification(yid)) == "applied"

    refunded = get_payment(desk.uow, payment["id"])
    assert refunded["status"] == "refunded" and "refunded automatically" in refunded["attention"]
    (refund,) = fake.refunds
    assert (refund["payment_id"], refund["amount"]) == (yid, {"value": "2200.00", "currency": "RUB"})
    refund_request = next(r for r in fake.requests if r.path == "/v3/refunds")
    assert refund_request.headers["idempotence-key"] == f"refund-{yid}"
    assert count(desk, OutboxEvent, OutboxEvent.type == "payment.refunded") == 1
    with desk.uow.begin() as session:
        assert session.get(Booking, rival["id"]).status == "pending_payment"


# ---------------------------------------------------------------- over HTTP: client address, 502


def test_client_address_believes_forwarded_for_only_from_trusted_proxies():
    trusted = trusted_networks(["10.0.0.0/8", "192.0.2.1", "bogus"])
    assert client_address("203.0.113.9", YOOKASSA_IP, trusted) == "203.0.113.9"
    assert client_address(PROXY_IP, YOOKASSA_IP, trusted) == YOOKASSA_IP
    assert client_address(PROXY_IP, f"198.51.100.1, {YOOKASSA_IP}, 192.0.2.1", trusted) == YOOKASSA_IP
    assert client_address(PROXY_IP, None, trusted) == PROXY_IP
    assert is_yookassa_address("::ffff:185.71.76.10") and is_yookassa_address("2a02:5180::1")
    assert not is_yookassa_address("185.71.76.32") and not is_yookassa_address("77.75.156.12")


def http_client(desk: Desk, peer: str) -> TestClient:
    system = System(settings=desk.settings, uow=desk.uow, clock=desk.clock, providers=desk.providers)
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(payments.make_router(system))
    app.include_router(webhooks.make_router(system))
    return TestClient(app, client=(peer, 40000))


def test_webhook_route_takes_the_address_from_a_trusted_proxy_only(desk, fake):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    yid = provider_id(desk, payment["id"])
    fake.pay(yid)
    url = "/api/webhooks/payments/yookassa"
    body = fake.notification(yid)

    spoofed = http_client(desk, "203.0.113.7").post(url, content=body, headers={"X-Forwarded-For": YOOKASSA_IP})
    assert (spoofed.status_code, spoofed.json()["code"]) == (400, "bad_signature")
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"

    proxied = http_client(desk, PROXY_IP).post(url, content=body, headers={"X-Forwarded-For": YOOKASSA_IP})
    assert (proxied.status_code, proxied.json()) == (200, {"outcome": "applied"})
    direct = http_client(desk, YOOKASSA_IP).post(url, content=body)
    assert (direct.status_code, direct.json()) == (200, {"outcome": "duplicate"})
    assert booking_status(desk, booking["id"]) == "confirmed"


def test_create_timeout_over_http_is_502_and_the_retry_returns_the_same_payment(desk, fake):
    desk.providers["yookassa"] = yookassa(fake, timeout=0.3)
    client = http_client(desk, "127.0.0.1")
    booking = book(desk)
    held = fake.hold_next_create()

    failed = client.post("/api/payments", json={"booking_id": booking["id"], "provider": "yookassa"})
    held.release()
    retried = client.post("/api/payments", json={"booking_id": booking["id"], "provider": "yookassa"})

    assert (failed.status_code, failed.json()["code"]) == (502, "provider_error")
    assert retried.status_code == 200 and retried.json()["redirect_url"]
    assert len(fake.payments) == 1


def test_confirmation_fetch_failure_is_502_so_yookassa_retries(desk, fake):
    payment, _ = pay_start(desk, book(desk))
    yid = provider_id(desk, payment["id"])
    fake.pay(yid)
    body = fake.notification(yid)
    fake.close()

    response = http_client(desk, YOOKASSA_IP).post("/api/webhooks/payments/yookassa", content=body)

    assert (response.status_code, response.json()["code"]) == (502, "provider_error")
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"
    with desk.uow.begin() as session:
        receipt = session.exec(select(WebhookReceipt)).one()
        assert (receipt.outcome, receipt.verified) == ("error", False)
