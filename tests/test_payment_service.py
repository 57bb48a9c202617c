"""Payment Service against a real database (SQLite and PostgreSQL): seed steps 6-12, error rules
2 and 4, DESIGN.md sections 5-8. Webhooks are signed here with ``standardwebhooks`` and handed to
``handle_webhook`` directly; the sandbox gateway sends none itself (no webhook URL)."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from data.db import UnitOfWork
from data.models import Booking, OutboxEvent, Payment, Resource, SandboxPayment, WebhookReceipt
from data.seed import seed_demo_data
from domain.bookings import BookingRequest, create_booking, expire_holds, get_availability
from domain.errors import BadSignature, InvalidPayload, InvalidState, NotFound, ProviderError, ValidationProblem
from payment.providers.sandbox import SandboxCheckout, SandboxGateway, SandboxProvider
from payment.service import get_payment, handle_webhook, reconcile_payments, start_payment
from settings import Settings

SECRET = "whsec_" + base64.b64encode(b"booking-desk-test-secret-32bytes").decode()
HOLD_SECONDS = 900


@dataclass
class Desk:
    uow: UnitOfWork
    clock: object
    settings: Settings
    gateway: SandboxGateway
    providers: dict


@pytest.fixture
def desk(uow, clock) -> Desk:
    seed_demo_data(uow)
    settings = Settings(
        _env_file=None, public_url="http://desk.test", sandbox_webhook_secret=SECRET, return_url_hosts=["shop.test"]
    )
    gateway = SandboxGateway(uow, clock, SECRET, webhook_url=None)
    return Desk(uow, clock, settings, gateway, {"sandbox": SandboxProvider(gateway, SECRET, settings.public_url)})


def book(desk: Desk, nth: int = 0, email: str = "guest@example.test") -> dict:
    """A pending_payment booking of the ``nth`` free slot of the tennis court today, from noon UTC
    (well after any hold a test lets pass)."""
    now = desk.clock()
    with desk.uow.begin() as session:
        court_id = session.exec(select(Resource.id).where(Resource.name == "Tennis court 1")).one()
    slots = [
        slot
        for _, slot in get_availability(desk.uow, court_id, now.date(), now.date(), now)
        if slot.available and slot.start_utc.hour >= 12
    ]
    request = BookingRequest(resource_id=court_id, start=slots[nth].start, customer_name="Guest", customer_email=email)
    return create_booking(desk.uow, request, now=now, hold_seconds=HOLD_SECONDS, locale="en")


def pay_start(desk: Desk, booking: dict, **kwargs) -> tuple[dict, bool]:
    return start_payment(
        desk.uow,
        desk.providers,
        booking_id=booking["id"],
        provider=kwargs.get("provider"),
        return_url=kwargs.get("return_url"),
        settings=desk.settings,
        now=desk.clock(),
    )


def sandbox_id(payment: dict) -> str:
    return payment["redirect_url"].rsplit("/", 1)[1]


def signed(event_id: str, body: str, at: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }


def click(desk: Desk, payment: dict, outcome: str) -> tuple[bytes, dict[str, str]]:
    """The client's click at the sandbox a little later (webhook lost) and the signed webhook it
    would send."""
    desk.clock.advance(5)
    checkout = desk.gateway.pay(sandbox_id(payment), outcome, deliver_webhook=False)
    hook = desk.gateway.webhook_for(checkout)
    return hook.body.encode(), signed(hook.event_id, hook.body)


def post(desk: Desk, body: bytes, headers: dict[str, str]) -> str:
    return handle_webhook(desk.uow, desk.providers, "sandbox", body, headers, desk.clock())


def event_types(desk: Desk, subject: str) -> list[str]:
    """Outbox events of a booking in the relay's publishing order (time, sequence)."""
    with desk.uow.begin() as session:
        rows = session.exec(
            select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.time, OutboxEvent.sequence)
        ).all()
        return [row.type for row in rows]


def booking_status(desk: Desk, booking_id: str) -> str:
    with desk.uow.begin() as session:
        return session.get(Booking, booking_id).status


def count(desk: Desk, model, *where) -> int:
    with desk.uow.begin() as session:
        return len(session.exec(select(model).where(*where)).all())


def test_successful_payment_confirms_booking_and_publishes_in_order(desk):
    booking = book(desk)
    payment, created = pay_start(desk, booking)
    assert created and payment["status"] == "pending"
    assert payment["amount"] == booking["price"]
    assert payment["redirect_url"].startswith("http://desk.test/sandbox/checkout/sbx_")
    assert payment["return_url"] == f"http://desk.test/payments/{payment['id']}/return"

    assert post(desk, *click(desk, payment, "succeeded")) == "applied"

    assert get_payment(desk.uow, payment["id"])["status"] == "succeeded"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "booking.confirmed"]
    with desk.uow.begin() as session:
        event = session.exec(select(OutboxEvent).where(OutboxEvent.type == "payment.succeeded")).one()
        assert event.data["id"] == payment["id"]
        assert event.data["resource_name"] == "Tennis court 1"
        assert event.data["booking"]["customer"]["email"] == "guest@example.test"
        assert event.data["booking"]["locale"] == "en"
        receipt = session.exec(select(WebhookReceipt)).one()
        assert (receipt.verified, receipt.outcome, receipt.payment_id) == (True, "applied", payment["id"])


def test_failed_payment_keeps_booking_pending_and_client_may_pay_again(desk):
    booking = book(desk)
    first, _ = pay_start(desk, booking)
    assert post(desk, *click(desk, first, "failed")) == "applied"

    failed = get_payment(desk.uow, first["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "declined")
    assert booking_status(desk, booking["id"]) == "pending_payment"
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.failed"]

    desk.clock.advance(30)
    second, created = pay_start(desk, booking)
    assert created and second["id"] != first["id"]
    assert post(desk, *click(desk, second, "succeeded")) == "applied"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert event_types(desk, booking["id"])[-2:] == ["payment.succeeded", "booking.confirmed"]


def test_same_webhook_delivered_twice_changes_state_once(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    body, headers = click(desk, payment, "succeeded")

    assert post(desk, body, headers) == "applied"
    assert post(desk, body, headers) == "duplicate"

    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "booking.confirmed"]
    with desk.uow.begin() as session:
        outcomes = [r.outcome for r in session.exec(select(WebhookReceipt).order_by(WebhookReceipt.id)).all()]
    assert outcomes == ["applied", "duplicate"]


def test_concurrent_copies_of_a_webhook_publish_one_payment_succeeded(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    body, headers = click(desk, payment, "succeeded")
    copies = 6
    barrier = threading.Barrier(copies)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(post(desk, body, headers))

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["applied"] + ["duplicate"] * (copies - 1)
    assert count(desk, OutboxEvent, OutboxEvent.type == "payment.succeeded") == 1
    assert count(desk, OutboxEvent, OutboxEvent.type == "booking.confirmed") == 1


def test_late_failed_after_succeeded_is_ignored(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    assert post(desk, *click(desk, payment, "succeeded")) == "applied"
    checkout = desk.gateway.status(sandbox_id(payment))
    late = SandboxCheckout(**{**_fields(checkout), "status": "failed", "failure_reason": "declined"})
    hook = desk.gateway.webhook_for(late)

    assert post(desk, hook.body.encode(), signed(hook.event_id, hook.body)) == "ignored"

    assert get_payment(desk.uow, payment["id"])["status"] == "succeeded"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert count(desk, OutboxEvent, OutboxEvent.type == "payment.failed") == 0


def test_bad_signature_is_rejected_and_stored(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    body, headers = click(desk, payment, "succeeded")
    other_secret = "whsec_" + base64.b64encode(b"not-the-sandbox-secret-at-all!!!").decode()
    forged = signed(headers["webhook-id"], body.decode(), secret=other_secret)

    with pytest.raises(BadSignature):
        post(desk, body, forged)
    with pytest.raises(BadSignature):
        post(desk, body, {})

    assert get_payment(desk.uow, payment["id"])["status"] == "pending"
    with desk.uow.begin() as session:
        receipts = session.exec(select(WebhookReceipt)).all()
        assert [(r.verified, r.outcome) for r in receipts] == [(False, "rejected"), (False, "rejected")]
        assert "bad_signature" in receipts[0].error and receipts[0].body == body.decode()
    assert event_types(desk, booking["id"]) == ["booking.created"]


def test_reserialised_body_fails_signature(desk):
    payment, _ = pay_start(desk, book(desk))
    body, headers = click(desk, payment, "succeeded")
    reserialised = json.dumps(json.loads(body), indent=2).encode()

    with pytest.raises(BadSignature):
        post(desk, reserialised, headers)
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"


def test_signature_ten_minutes_old_is_rejected(desk):
    payment, _ = pay_start(desk, book(desk))
    body, headers = click(desk, payment, "succeeded")
    stale = signed(headers["webhook-id"], body.decode(), at=datetime.now(UTC) - timedelta(minutes=10))

    with pytest.raises(BadSignature):
        post(desk, body, stale)
    assert get_payment(desk.uow, payment["id"])["status"] == "pending"


def test_verified_but_unreadable_webhook_is_invalid_payload(desk):
    body = '{"id": "evt_1", "type": "payment.succeeded", "data": {"id": "sbx_1"}}'
    with pytest.raises(InvalidPayload):
        post(desk, body.encode(), signed("evt_1", body))


def test_webhook_for_unknown_payment_is_stored_with_error(desk):
    body = json.dumps(
        {
            "id": "evt_unknown",
            "type": "payment.succeeded",
            "data": {"id": "sbx_nope", "status": "succeeded", "amount": 100, "currency": "RUB", "metadata": {}},
        }
    )
    assert post(desk, body.encode(), signed("evt_unknown", body)) == "error"
    with desk.uow.begin() as session:
        receipt = session.exec(select(WebhookReceipt)).one()
        assert (receipt.verified, receipt.outcome) == (True, "error")
        assert "sbx_nope" in receipt.error


def test_webhook_for_unknown_provider_is_not_found(desk):
    with pytest.raises(NotFound):
        handle_webhook(desk.uow, desk.providers, "paypal", b"{}", {}, desk.clock())


def test_pending_payment_is_reused(desk):
    booking = book(desk)
    first, created_first = pay_start(desk, booking)
    second, created_second = pay_start(desk, booking)

    assert (created_first, created_second) == (True, False)
    assert second["id"] == first["id"] and second["redirect_url"] == first["redirect_url"]
    assert count(desk, Payment) == 1 and count(desk, SandboxPayment) == 1


@pytest.mark.parametrize("lose_answer", [False, True], ids=["no-answer", "answer-lost"])
def test_provider_error_leaves_payment_pending_and_retry_uses_same_key(desk, lose_answer):
    booking = book(desk)
    desk.gateway.fail_next_create(lose_answer=lose_answer)

    with pytest.raises(ProviderError):
        pay_start(desk, booking)

    with desk.uow.begin() as session:
        stuck = session.exec(select(Payment)).one()
        assert (stuck.status, stuck.redirect_url) == ("pending", None)
        stuck_id, key = stuck.id, stuck.idempotency_key
    assert count(desk, SandboxPayment) == (1 if lose_answer else 0)

    retried, created = pay_start(desk, booking)

    assert (retried["id"], created) == (stuck_id, False)
    assert retried["redirect_url"].endswith(sandbox_id(retried))
    with desk.uow.begin() as session:
        checkouts = session.exec(select(SandboxPayment)).all()
        assert [c.idempotency_key for c in checkouts] == [key]
        assert session.get(Payment, stuck_id).provider_payment_id == checkouts[0].id


def test_reconciliation_settles_a_payment_whose_webhook_was_lost(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    desk.gateway.pay(sandbox_id(payment), "succeeded", deliver_webhook=False)

    assert reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120) == 0  # too recent
    desk.clock.advance(121)
    assert reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120) == 1

    assert get_payment(desk.uow, payment["id"])["status"] == "succeeded"
    assert booking_status(desk, booking["id"]) == "confirmed"
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "booking.confirmed"]
    assert reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120) == 0


def test_reconciliation_finds_a_payment_whose_create_answer_was_lost(desk):
    booking = book(desk)
    desk.gateway.fail_next_create(lose_answer=True)
    with pytest.raises(ProviderError):
        pay_start(desk, booking)
    with desk.uow.begin() as session:
        sandbox_payment_id = session.exec(select(SandboxPayment.id)).one()
        payment_id = session.exec(select(Payment.id)).one()
    desk.gateway.pay(sandbox_payment_id, "succeeded", deliver_webhook=False)
    desk.clock.advance(121)

    assert reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120) == 1
    assert booking_status(desk, booking["id"]) == "confirmed"
    with desk.uow.begin() as session:
        assert session.get(Payment, payment_id).provider_payment_id == sandbox_payment_id


def test_reconciliation_fails_an_abandoned_checkout_once_the_hold_passed(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    desk.clock.advance(300)
    assert reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120) == 0
    with desk.uow.begin() as session:
        assert session.get(Payment, payment["id"]).last_checked_at == desk.clock()

    desk.clock.advance(HOLD_SECONDS)
    assert reconcile_payments(desk.uow, desk.providers, desk.clock(), after_seconds=120) == 1
    ended = get_payment(desk.uow, payment["id"])
    assert (ended["status"], ended["failure_reason"]) == ("failed", "expired")


def test_late_success_with_slot_still_free_confirms_booking(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    body, headers = click(desk, payment, "succeeded")  # paid in time, webhook arrives late
    desk.clock.advance(HOLD_SECONDS + 60)
    assert expire_holds(desk.uow, desk.clock()) == 1
    desk.clock.advance(5)

    assert post(desk, body, headers) == "applied"

    assert booking_status(desk, booking["id"]) == "confirmed"
    assert get_payment(desk.uow, payment["id"])["status"] == "succeeded"
    assert event_types(desk, booking["id"]) == [
        "booking.created",
        "booking.expired",
        "payment.succeeded",
        "booking.confirmed",
    ]


def test_late_success_with_slot_rebooked_is_refunded_and_flagged(desk):
    booking = book(desk)
    payment, _ = pay_start(desk, booking)
    body, headers = click(desk, payment, "succeeded")
    desk.clock.advance(HOLD_SECONDS + 60)
    rival = book(desk, email="rival@example.test")  # takes over the passed hold's slot
    assert rival["start"] == booking["start"]

    assert post(desk, body, headers) == "applied"

    refunded = get_payment(desk.uow, payment["id"])
    assert refunded["status"] == "refunded"
    assert "refunded automatically" in refunded["attention"]
    assert booking_status(desk, booking["id"]) == "pending_payment"  # the expiry job will expire it
    assert booking_status(desk, rival["id"]) == "pending_payment"
    assert desk.gateway.status(sandbox_id(payment)).status == "refunded"
    assert event_types(desk, booking["id"]) == ["booking.created", "payment.succeeded", "payment.refunded"]


def test_return_url_must_point_to_an_allowed_host(desk):
    booking = book(desk)
    for foreign in ("https://evil.test/x", "javascript:alert(1)", "http://user@desk.test.evil.test/"):
        with pytest.raises(ValidationProblem) as error:
            pay_start(desk, booking, return_url=foreign)
        assert error.value.field == "return_url"
    assert count(desk, Payment) == 0

    payment, _ = pay_start(desk, booking, return_url="https://shop.test/thanks")
    assert payment["return_url"] == "https://shop.test/thanks"


def test_start_payment_refuses_unknown_booking_provider_and_passed_hold(desk):
    with pytest.raises(NotFound) as missing:
        start_payment(
            desk.uow,
            desk.providers,
            booking_id="nope",
            provider=None,
            return_url=None,
            settings=desk.settings,
            now=desk.clock(),
        )
    assert missing.value.field == "booking_id"
    booking = book(desk)
    with pytest.raises(ValidationProblem) as provider:
        pay_start(desk, booking, provider="stripe")
    assert provider.value.field == "provider"

    desk.clock.advance(HOLD_SECONDS)
    with pytest.raises(InvalidState):
        pay_start(desk, booking)
    assert count(desk, Payment) == 0


def test_sandbox_checkout_expires_with_the_hold(desk):
    payment, _ = pay_start(desk, book(desk))
    desk.clock.advance(HOLD_SECONDS)

    checkout = desk.gateway.pay(sandbox_id(payment), "succeeded", deliver_webhook=False)

    assert (checkout.status, checkout.failure_reason) == ("failed", "expired")
    hook = desk.gateway.webhook_for(checkout)
    assert post(desk, hook.body.encode(), signed(hook.event_id, hook.body)) == "applied"
    assert get_payment(desk.uow, payment["id"])["failure_reason"] == "expired"


def _fields(checkout: SandboxCheckout) -> dict:
    return {name: getattr(checkout, name) for name in SandboxCheckout.__slots__}
