"""The payment routes over HTTP (FastAPI's TestClient, SQLite and PostgreSQL): ``POST/GET
/api/payments``, the webhook route and the sandbox's hosted page, click and status API; and the
sandbox's own webhook sender against a real local HTTP server."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from api import payments, webhooks
from api.problems import install_problem_handlers
from data.models import Resource
from data.seed import seed_demo_data
from domain.bookings import BookingRequest, create_booking, get_availability
from domain.money import Money, format_money
from pages import sandbox as sandbox_pages
from payment.providers.sandbox import SandboxGateway, SandboxProvider
from payment.service import handle_webhook, start_payment
from settings import Settings
from system import System

SECRET = "whsec_" + base64.b64encode(b"booking-desk-test-secret-32bytes").decode()


@pytest.fixture
def system(uow, clock) -> System:
    seed_demo_data(uow)
    settings = Settings(_env_file=None, public_url="http://testserver", sandbox_webhook_secret=SECRET)
    gateway = SandboxGateway(uow, clock, SECRET, webhook_url=None)
    providers = {"sandbox": SandboxProvider(gateway, SECRET, settings.public_url)}
    return System(settings=settings, uow=uow, clock=clock, providers=providers, sandbox=gateway)


@pytest.fixture
def client(system) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(payments.make_router(system))
    app.include_router(webhooks.make_router(system))
    sandbox_pages.register(system, app)
    return TestClient(app)


def new_booking(system: System) -> dict:
    now = system.now()
    with system.uow.begin() as session:
        court_id = session.exec(select(Resource.id).where(Resource.name == "Tennis court 1")).one()
    grid = get_availability(system.uow, court_id, now.date(), now.date(), now)
    slot = next(slot for _, slot in grid if slot.available and slot.start_utc.hour >= 12)
    request = BookingRequest(resource_id=court_id, start=slot.start, customer_name="Guest", customer_email="g@x.test")
    return create_booking(system.uow, request, now=now, hold_seconds=900, locale="en")


def signed(event_id: str, body: str, secret: str = SECRET) -> dict[str, str]:
    at = datetime.now(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
        "content-type": "application/json",
    }


def test_post_payment_creates_then_reuses(client, system):
    booking = new_booking(system)

    first = client.post("/api/payments", json={"booking_id": booking["id"]})
    second = client.post("/api/payments", json={"booking_id": booking["id"], "provider": "sandbox"})

    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "pending"
    assert first.json()["amount"] == {"amount": 220_000, "currency": "RUB"}
    assert client.get(f"/api/payments/{first.json()['id']}").json()["redirect_url"] == first.json()["redirect_url"]


def test_post_payment_errors_are_problems(client, system):
    booking = new_booking(system)
    cases = [
        (b"{not json", 400, "invalid_json"),
        (json.dumps({"booking_id": booking["id"], "extra": 1}).encode(), 422, "validation_error"),
        (json.dumps({"booking_id": "00000000-0000-0000-0000-000000000000"}).encode(), 404, "not_found"),
        (
            json.dumps({"booking_id": booking["id"], "return_url": "https://evil.test/"}).encode(),
            422,
            "validation_error",
        ),
    ]
    for body, status, code in cases:
        response = client.post("/api/payments", content=body, headers={"content-type": "application/json"})
        assert (response.status_code, response.json()["code"]) == (status, code), body
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/payments/nope").status_code == 404

    system.clock.advance(900)
    late = client.post("/api/payments", json={"booking_id": booking["id"]})
    assert (late.status_code, late.json()["code"]) == (409, "invalid_state")


def test_provider_error_is_502_and_the_retry_succeeds(client, system):
    booking = new_booking(system)
    system.sandbox.fail_next_create()

    failed = client.post("/api/payments", json={"booking_id": booking["id"]}, headers={"Idempotency-Key": "k1"})
    retried = client.post("/api/payments", json={"booking_id": booking["id"]}, headers={"Idempotency-Key": "k1"})

    assert (failed.status_code, failed.json()["code"]) == (502, "provider_error")
    assert retried.status_code == 200 and retried.json()["redirect_url"]  # a 502 released the key


def test_webhook_route_applies_once_and_rejects_bad_signatures(client, system):
    booking = new_booking(system)
    payment = client.post("/api/payments", json={"booking_id": booking["id"]}).json()
    sandbox_id = payment["redirect_url"].rsplit("/", 1)[1]
    hook = system.sandbox.webhook_for(system.sandbox.pay(sandbox_id, "succeeded", deliver_webhook=False))
    url = "/api/webhooks/payments/sandbox"

    assert client.post(url, content=hook.body, headers=signed(hook.event_id, hook.body)).json() == {
        "outcome": "applied"
    }
    assert client.post(url, content=hook.body, headers=signed(hook.event_id, hook.body)).json() == {
        "outcome": "duplicate"
    }
    forged = client.post(url, content=hook.body, headers=signed(hook.event_id, hook.body, secret="whsec_AAAA"))
    assert (forged.status_code, forged.json()["code"]) == (400, "bad_signature")
    assert client.post("/api/webhooks/payments/paypal", content=b"{}").status_code == 404
    assert client.get(f"/api/payments/{payment['id']}").json()["status"] == "succeeded"


def test_sandbox_page_click_and_status_api(client, system):
    booking = new_booking(system)
    payment = client.post("/api/payments", json={"booking_id": booking["id"]}).json()
    path = payment["redirect_url"].removeprefix("http://testserver")

    page = client.get(path)
    assert page.status_code == 200
    assert "Sandbox payment page — no real money" in page.text
    assert format_money(Money(220_000, "RUB")) in page.text and "Tennis court 1" in page.text

    bad = client.post(path, json={"outcome": "maybe"})
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "validation_error", "outcome")
    clicked = client.post(path, data={"outcome": "succeeded", "deliver_webhook": "false"}, follow_redirects=False)
    assert clicked.status_code == 303
    assert clicked.headers["location"] == payment["return_url"]

    sandbox_id = path.rsplit("/", 1)[1]
    status = client.get(f"/sandbox/api/payments/{sandbox_id}").json()
    assert (status["status"], status["metadata"]["payment_id"]) == ("succeeded", payment["id"])
    assert client.get("/sandbox/api/payments/sbx_nope").status_code == 404
    assert client.get("/sandbox/checkout/sbx_nope").status_code == 404
    assert client.post("/sandbox/checkout/sbx_nope", json={"outcome": "failed"}).status_code == 404


class Receiver:
    """A local HTTP endpoint that answers 500 to the first ``failures`` POSTs, then 200."""

    def __init__(self, failures: int) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append((body, dict(self.headers.items())))
                self.send_response(500 if len(receiver.requests) <= failures else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_sandbox_sends_signed_webhooks_and_retries_on_failure(system):
    receiver = Receiver(failures=1)
    gateway = SandboxGateway(system.uow, system.clock, SECRET, receiver.url, webhook_retry_delays=(0.05, 0.05))
    provider = SandboxProvider(gateway, SECRET, system.settings.public_url)
    system.providers = {"sandbox": provider}
    booking = new_booking(system)
    payment, _ = start_payment(
        system.uow,
        system.providers,
        booking_id=booking["id"],
        provider=None,
        return_url=None,
        settings=system.settings,
        now=system.now(),
    )
    try:
        gateway.pay(payment["redirect_url"].rsplit("/", 1)[1], "succeeded")
        wait_until(lambda: len(receiver.requests) == 2)
    finally:
        receiver.server.shutdown()
        gateway.close()

    (first_body, first_headers), (body, headers) = receiver.requests
    assert first_body == body and first_headers["webhook-id"] == headers["webhook-id"]
    assert json.loads(body)["data"]["metadata"]["payment_id"] == payment["id"]
    assert handle_webhook(system.uow, system.providers, "sandbox", body, headers, system.now()) == "applied"
