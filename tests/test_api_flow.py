"""End to end over HTTP against the app running as its own process (seed steps 1-14 and the
four error rules), on SQLite and on PostgreSQL."""

from __future__ import annotations

import email
import email.policy
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import PG_ADMIN_URL, need
from tests.support import (
    AppProcess,
    WebhookReceiver,
    create_pg_database,
    create_vhost,
    rabbitmqctl,
    start_app,
    wait_until,
)

ADMIN_PASSWORD = "flow-admin-password"
FAST = {
    "admin_password": ADMIN_PASSWORD,
    "retry_delays_seconds": "0.2",
    "expiry_interval_seconds": "0.5",
    "reconcile_interval_seconds": "1",
    "reconcile_after_seconds": "1",
}
SECRET = "whsec_" + "dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0"


@pytest.fixture(scope="module")
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _servers(kind: str, folder) -> tuple[str, dict, list]:
    """Database URL, extra settings and clean-up functions for one shape of the app:
    ``sqlite`` and ``postgresql`` use the embedded transport; ``rabbitmq`` is PostgreSQL plus
    RabbitMQ (a fresh virtual host) as the broker."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/booking.db", {}, []
    try:
        url, drop = create_pg_database(PG_ADMIN_URL)
    except Exception as error:  # noqa: BLE001 (any failure to reach the server)
        need(f"PostgreSQL not reachable: {error}")
    if kind == "postgresql":
        return url, {}, [drop]
    try:
        amqp_url, delete_vhost = create_vhost()
    except Exception as error:  # noqa: BLE001
        drop()
        need(f"RabbitMQ (rabbitmqctl) not available: {error}")
    return url, {"amqp_url": amqp_url}, [drop, delete_vhost]


SHAPES = ["sqlite", "postgresql", "rabbitmq"]


@pytest.fixture(scope="module", params=SHAPES)
def app(request, tmp_path_factory, receiver):
    """The app with one integration endpoint that accepts everything."""
    folder = tmp_path_factory.mktemp(f"app-{request.param}")
    url, extra, cleanups = _servers(request.param, folder)
    process = start_app(
        folder,
        url,
        integration_webhook_urls=receiver.url("/ok"),
        integration_webhook_secret=SECRET,
        sandbox_webhook_secret=SECRET,
        hold_seconds="120",
        **FAST,
        **extra,
    )
    yield process
    process.stop()
    for cleanup in cleanups:
        cleanup()


@pytest.fixture(scope="module", params=SHAPES)
def failing_app(request, tmp_path_factory, receiver):
    """The app with an endpoint that always fails and one that fails twice, and 2-second holds."""
    folder = tmp_path_factory.mktemp(f"failing-{request.param}")
    url, extra, cleanups = _servers(request.param, folder)
    process = start_app(
        folder,
        url,
        integration_webhook_urls=f"{receiver.url('/fail')},{receiver.url('/flaky')}",
        integration_webhook_secret=SECRET,
        hold_seconds="2",
        **FAST,
        **extra,
    )
    yield process
    process.stop()
    for cleanup in cleanups:
        cleanup()


def berlin_id(client: httpx.Client) -> int:
    resources = client.get("/api/resources").json()
    return next(r["id"] for r in resources if r["timezone"] == "Europe/Berlin")


def free_slots(client: httpx.Client, resource_id: int) -> list[dict]:
    today = date.today()
    answer = client.get(
        "/api/availability",
        params={"resource_id": resource_id, "from": today.isoformat(), "to": (today + timedelta(days=2)).isoformat()},
    )
    assert answer.status_code == 200, answer.text
    return [slot for slot in answer.json()["slots"] if slot["available"]]


def book(client: httpx.Client, start: str, resource_id: int, **extra) -> httpx.Response:
    body = {
        "resource_id": resource_id,
        "start": start,
        "customer": {"name": "Greta Guest", "email": "greta@example.test"},
    }
    body.update(extra)
    return client.post("/api/bookings", json=body)


def status_of(client: httpx.Client, booking_id: str) -> str:
    return client.get(f"/api/bookings/{booking_id}").json()["status"]


def verify(received) -> dict:
    """Check the Standard Webhooks signature with the shared secret; returns the CloudEvent."""
    return Webhook(SECRET).verify(received.body, received.headers)


def pay(client: httpx.Client, booking_id: str, outcome: str, deliver_webhook: bool = True) -> dict:
    answer = client.post("/api/payments", json={"booking_id": booking_id})
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    assert payment["status"] == "pending" and payment["redirect_url"]
    click = client.post(payment["redirect_url"], json={"outcome": outcome, "deliver_webhook": deliver_webhook})
    assert click.status_code == 303, click.text
    return payment


def test_book_and_pay_confirms_booking_mails_customer_and_notifies_integrations(app: AppProcess, receiver):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        slot = free_slots(client, resource_id)[3]
        created = book(client, slot["start"], resource_id)
        assert created.status_code == 201, created.text
        booking = created.json()
        assert booking["status"] == "pending_payment"
        assert booking["start"] == slot["start"] and booking["end"] == slot["end"]

        pay(client, booking["id"], "succeeded")
        wait_until(lambda: status_of(client, booking["id"]) == "confirmed", timeout=5, what="confirmed")

        def confirmation_mail():
            for path in (app.data_dir / "mail").glob("*.eml"):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                text = message.get_body(("plain",)).get_content()
                if (
                    message["To"].addresses[0].addr_spec == "greta@example.test"
                    and booking["id"] in text
                    and "confirmed" in message["Subject"].lower()
                ):
                    return message
            return None

        assert wait_until(confirmation_mail, timeout=5, what="a confirmation mail to the customer")["Message-ID"]
        for event_type in ("booking.created", "payment.succeeded", "booking.confirmed"):
            deliveries = wait_until(
                lambda t=event_type: receiver.at("/ok", t, booking["id"]), timeout=5, what=event_type
            )
            assert len(deliveries) == 1
            event = verify(deliveries[0])
            assert event["type"] == event_type and event["specversion"] == "1.0"
            assert deliveries[0].headers["webhook-id"] == event["id"]


def test_failed_payment_keeps_booking_pending_and_a_second_payment_can_succeed(app: AppProcess, receiver):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        booking = book(client, free_slots(client, resource_id)[4]["start"], resource_id).json()
        first = pay(client, booking["id"], "failed")
        failed = wait_until(lambda: receiver.at("/ok", "payment.failed", booking["id"]), timeout=5, what="failed")
        assert verify(failed[0])["data"]["id"] == first["id"]
        assert status_of(client, booking["id"]) == "pending_payment"

        second = pay(client, booking["id"], "succeeded")
        assert second["id"] != first["id"]
        wait_until(lambda: status_of(client, booking["id"]) == "confirmed", timeout=5, what="confirmed")
        payments = client.get(f"/api/bookings/{booking['id']}").json()["payments"]
        assert sorted(p["status"] for p in payments) == ["failed", "succeeded"]


def test_lost_webhook_is_settled_by_reconciliation(app: AppProcess, receiver):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        booking = book(client, free_slots(client, resource_id)[5]["start"], resource_id).json()
        pay(client, booking["id"], "succeeded", deliver_webhook=False)
        assert status_of(client, booking["id"]) == "pending_payment"
        wait_until(lambda: status_of(client, booking["id"]) == "confirmed", timeout=10, what="reconciled")
        wait_until(lambda: receiver.at("/ok", "booking.confirmed", booking["id"]), timeout=5, what="confirmed event")
        assert len(receiver.at("/ok", "payment.succeeded", booking["id"])) == 1


def test_twenty_concurrent_bookings_for_one_slot_give_one_hold(app: AppProcess):
    with httpx.Client(base_url=app.url, timeout=30) as client:
        resource_id = berlin_id(client)
        start = free_slots(client, resource_id)[6]["start"]

    def attempt(i: int) -> httpx.Response:
        with httpx.Client(base_url=app.url, timeout=30) as own:
            return book(own, start, resource_id, customer={"name": f"Guest {i}", "phone": "+49 30 1234567"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(attempt, range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 19, [a.text for a in answers if a.status_code not in (201, 409)]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"slot_unavailable"}


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(app: AppProcess):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        slots = free_slots(client, resource_id)
        body = {
            "resource_id": resource_id,
            "start": slots[7]["start"],
            "customer": {"name": "Ida", "phone": "+491234567"},
        }
        headers = {"Idempotency-Key": "key-" + slots[7]["start"]}
        first = client.post("/api/bookings", json=body, headers=headers)
        again = client.post("/api/bookings", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        other = client.post("/api/bookings", json={**body, "start": slots[8]["start"]}, headers=headers)
        assert other.status_code == 422 and other.json()["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ("not json", 400, "invalid_json", None),
        (
            {"resource_id": "R", "start": "2030-01-01T10:00:00+01:00", "customer": {"name": "A", "phone": "+4912345"}},
            422,
            "validation_error",
            "resource_id",
        ),
        (
            {"resource_id": 0, "start": "2030-01-01T10:00:00", "customer": {"name": "A", "phone": "+4912345"}},
            422,
            "validation_error",
            "start",
        ),
        (
            {"resource_id": 0, "start": "2030-01-01T10:00:00+01:00", "customer": {"name": "A"}},
            422,
            "validation_error",
            "customer",
        ),
        (
            {"resource_id": 0, "start": "2030-01-01T10:10:00+01:00", "customer": {"name": "A", "phone": "+4912345"}},
            422,
            "validation_error",
            "start",
        ),
        (
            {"resource_id": 0, "start": "2020-01-01T10:00:00+01:00", "customer": {"name": "A", "phone": "+4912345"}},
            422,
            "validation_error",
            "start",
        ),
        (
            {"resource_id": 9999, "start": "2030-01-01T10:00:00+01:00", "customer": {"name": "A", "phone": "+4912345"}},
            404,
            "not_found",
            "resource_id",
        ),
    ],
)
def test_bad_booking_input_gets_problem_details_naming_the_field(app: AppProcess, payload, status, code, field):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        if isinstance(payload, dict) and payload["resource_id"] == 0:
            payload = {**payload, "resource_id": berlin_id(client)}
        before = client.get("/api/availability", params={"from": "2030-01-01", "to": "2030-01-01"}).json()
        if isinstance(payload, str):
            answer = client.post("/api/bookings", content=payload, headers={"Content-Type": "application/json"})
        else:
            answer = client.post("/api/bookings", json=payload)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["code"] == code and problem["status"] == status and problem["title"] and problem["detail"]
        if field:
            assert problem["field"] == field
        after = client.get("/api/availability", params={"from": "2030-01-01", "to": "2030-01-01"}).json()
        assert before == after


def test_unknown_api_paths_and_bad_ranges_answer_problem_json(app: AppProcess):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for method, path in (("GET", "/api/nope"), ("POST", "/api/bookings/x/y"), ("GET", "/api")):
            answer = client.request(method, path)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
        wrong = client.get("/api/availability", params={"from": "2030-01-10", "to": "2030-01-01"})
        assert wrong.status_code == 422 and wrong.json()["field"] == "to"
        too_long = client.get("/api/availability", params={"from": "2030-01-01", "to": "2030-03-04"})
        assert too_long.status_code == 422
        assert client.get("/api/availability", params={"from": "2030-01-01", "to": "2030-03-03"}).status_code == 200
        assert client.get("/api/bookings/not-a-booking").status_code == 404
        assert client.get("/api/openapi.json").json()["paths"]["/api/bookings"]


def test_redelivery_counts_and_dead_letter(failing_app: AppProcess, receiver):
    with httpx.Client(base_url=failing_app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        booking = book(client, free_slots(client, resource_id)[2]["start"], resource_id).json()
        wait_until(lambda: len(receiver.at("/fail", "booking.created", booking["id"])) >= 4, timeout=10, what="4")
        wait_until(lambda: receiver.at("/flaky", "booking.created", booking["id"]), timeout=5)
        # Give a fifth attempt time to happen if the limit were broken (retry delay is 0.2 s).
        wait_until(lambda: len(receiver.at("/flaky", "booking.created", booking["id"])) >= 3, timeout=5)
        settle = wait_until(lambda: _integration_delivery(failing_app, booking["id"]), timeout=10, what="dead letter")
        assert settle["status"] == "dead" and settle["attempts"] == 4 and "fail" in settle["last_error"]
        assert len(receiver.at("/fail", "booking.created", booking["id"])) == 4
        assert len(receiver.at("/flaky", "booking.created", booking["id"])) == 3


def _integration_delivery(app: AppProcess, booking_id: str) -> dict | None:
    """The integration consumer's ledger row for the booking's booking.created, once it is dead."""
    from sqlalchemy import create_engine, text

    engine = create_engine(app.env["BOOKING_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            row = (
                conn.execute(
                    text(
                        "SELECT d.status, d.attempts, d.last_error FROM delivery d"
                        " JOIN outbox_event e ON e.id = d.event_id"
                        " WHERE e.subject = :subject AND e.type = 'booking.created' AND d.consumer = 'integration'"
                    ),
                    {"subject": booking_id},
                )
                .mappings()
                .first()
            )
    finally:
        engine.dispose()
    return dict(row) if row and row["status"] == "dead" else None


def test_unpaid_hold_expires_and_frees_the_slot(failing_app: AppProcess, receiver):
    with httpx.Client(base_url=failing_app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        start = free_slots(client, resource_id)[9]["start"]
        booking = book(client, start, resource_id).json()
        assert book(client, start, resource_id).status_code == 409
        wait_until(lambda: status_of(client, booking["id"]) == "expired", timeout=10, what="expired")
        assert start in {slot["start"] for slot in free_slots(client, resource_id)}
        late = client.post("/api/payments", json={"booking_id": booking["id"]})
        assert late.status_code == 409 and late.json()["code"] == "invalid_state"
        assert book(client, start, resource_id).status_code == 201


@pytest.mark.parametrize("app", ["rabbitmq"], indirect=True)
def test_with_rabbitmq_the_topology_exists_and_events_survive_closed_connections(app: AppProcess, receiver):
    vhost = app.env["BOOKING_AMQP_URL"].rsplit("/", 1)[1]
    queues = rabbitmqctl("list_queues", "-p", vhost, "name")
    for name in ("integration.events", "notification.events", "integration.events.dead", "notification.events.dead"):
        assert name in queues.split(), queues
    assert "booking.events" in rabbitmqctl("list_exchanges", "-p", vhost, "name").split()
    rabbitmqctl("close_all_connections", "-p", vhost, "test: connections closed")
    with httpx.Client(base_url=app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        bookings = [book(client, slot["start"], resource_id).json() for slot in free_slots(client, resource_id)[10:13]]
    for booking in bookings:
        wait_until(lambda b=booking: receiver.at("/ok", "booking.created", b["id"]), timeout=30, what="delivery")
        assert len(receiver.at("/ok", "booking.created", booking["id"])) == 1


def test_five_concurrent_copies_of_one_signed_webhook_change_state_once(app: AppProcess, receiver):
    """Issue 5: all answered 2xx; one payment.succeeded, one confirmation mail, one delivery per endpoint."""
    import json
    import uuid
    from datetime import UTC, datetime

    with httpx.Client(base_url=app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        booking = book(client, free_slots(client, resource_id)[14]["start"], resource_id).json()
        payment = pay(client, booking["id"], "succeeded", deliver_webhook=False)  # the provider's own copy is lost
    sandbox_id = payment["redirect_url"].rsplit("/", 1)[1]
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.succeeded",
            "data": {
                "id": sandbox_id,
                "status": "succeeded",
                "amount": payment["amount"]["amount"],
                "currency": payment["amount"]["currency"],
                "metadata": {"payment_id": payment["id"]},
            },
        }
    )
    message_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(message_id, now, body),
        "content-type": "application/json",
    }

    def post(_: int) -> int:
        with httpx.Client(base_url=app.url, timeout=10) as own:
            return own.post("/api/webhooks/payments/sandbox", content=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = list(pool.map(post, range(5)))
    assert all(200 <= code < 300 for code in codes), codes
    with httpx.Client(base_url=app.url, timeout=10) as client:
        wait_until(lambda: status_of(client, booking["id"]) == "confirmed", timeout=5, what="confirmed")
    wait_until(lambda: receiver.at("/ok", "booking.confirmed", booking["id"]), timeout=5, what="confirmed event")

    def confirmation_mails() -> list:
        found = []
        for path in (app.data_dir / "mail").glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if booking["id"] in message.get_body(("plain",)).get_content() and "confirmed" in message["Subject"]:
                found.append(message)
        return found

    wait_until(confirmation_mails, timeout=5, what="the confirmation mail")
    assert len(receiver.at("/ok", "payment.succeeded", booking["id"])) == 1
    assert len(receiver.at("/ok", "booking.confirmed", booking["id"])) == 1
    assert len(confirmation_mails()) == 1


def test_dead_letter_is_shown_to_staff_and_replay_delivers_it_once_after_recovery(failing_app: AppProcess, receiver):
    """Issue 4: the dead letter sits in the ledger (and, with RabbitMQ, in integration.events.dead);
    the staff route shows it with its error; after the endpoint recovers, replay delivers it once."""
    with httpx.Client(base_url=failing_app.url, timeout=10) as client:
        resource_id = berlin_id(client)
        booking = book(client, free_slots(client, resource_id)[15]["start"], resource_id).json()
        assert client.post("/api/session", json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200

        def dead_letter() -> dict | None:
            rows = client.get("/api/deliveries", params={"status": "dead", "subject": booking["id"]}).json()
            return next(
                (r for r in rows if r["event_type"] == "booking.created" and r["consumer"] == "integration"), None
            )

        dead = wait_until(dead_letter, timeout=15, what="the dead letter")
        assert dead["attempts"] == 4 and "fail" in dead["last_error"]
        if "BOOKING_AMQP_URL" in failing_app.env:
            vhost = failing_app.env["BOOKING_AMQP_URL"].rsplit("/", 1)[1]
            depth = rabbitmqctl("list_queues", "-p", vhost, "name", "messages")
            counts = dict(line.split() for line in depth.strip().splitlines() if line.strip())
            assert int(counts["integration.events.dead"]) >= 1, depth
        assert len(receiver.at("/fail", "booking.created", booking["id"])) == 4

        receiver.recovered = True
        try:
            replayed = client.post(f"/api/deliveries/{dead['id']}/replay")
            assert replayed.status_code == 200, replayed.text
            wait_until(lambda: len(receiver.at("/fail", "booking.created", booking["id"])) == 5, timeout=10)
            wait_until(
                lambda: (
                    client.get(
                        "/api/deliveries", params={"event_id": dead["event_id"], "consumer": "integration"}
                    ).json()[0]["status"]
                    == "succeeded"
                ),
                timeout=10,
            )
        finally:
            receiver.recovered = False
        assert len(receiver.at("/fail", "booking.created", booking["id"])) == 5  # delivered once more, not again
        assert len(receiver.at("/flaky", "booking.created", booking["id"])) == 3  # it had accepted: not re-sent


def test_availability_dates_are_plain_calendar_dates_and_an_empty_resource_means_all(app: AppProcess):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        for bad in ("2030-01-01T00:00:00", "2030-01-01T00:00:00Z", "1893456000", "2030-02-30", "01.01.2030"):
            answer = client.get("/api/availability", params={"from": bad, "to": "2030-01-02"})
            assert answer.status_code == 422 and answer.json()["field"] == "from", (bad, answer.text)
        every = client.get("/api/availability", params={"resource_id": "", "from": "2030-01-01", "to": "2030-01-01"})
        assert every.status_code == 200
        assert {slot["resource_id"] for slot in every.json()["slots"]} == {
            r["id"] for r in client.get("/api/resources").json()
        }


def test_a_body_that_is_not_json_is_a_final_answer_for_its_idempotency_key(app: AppProcess):
    with httpx.Client(base_url=app.url, timeout=10) as client:
        headers = {"Idempotency-Key": f"bad-body-{app.port}", "Content-Type": "application/json"}
        first = client.post("/api/bookings", content="{bad", headers=headers)
        again = client.post("/api/bookings", content="{bad", headers=headers)
        assert first.status_code == again.status_code == 400 and again.json()["code"] == "invalid_json"
        resource_id = berlin_id(client)
        valid = {
            "resource_id": resource_id,
            "start": free_slots(client, resource_id)[16]["start"],
            "customer": {"name": "Ida", "phone": "+491234567"},
        }
        other = client.post("/api/bookings", json=valid, headers={"Idempotency-Key": headers["Idempotency-Key"]})
        assert other.status_code == 422 and other.json()["code"] == "idempotency_conflict"
