"""Process faults on PostgreSQL and RabbitMQ (issue 4): a web process killed between its commit
and the publish, and a worker killed while its handler runs, before the ack. No event is lost,
our database records the delivery once, and the external effect repeats with its stable id."""

from __future__ import annotations

import signal
from datetime import date, timedelta

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, need
from tests.support import WebhookReceiver, WorkerProcess, create_pg_database, create_vhost, start_app, wait_until

SECRET = "whsec_ZmF1bHR0ZXN0c2VjcmV0ZmF1bHR0ZXN0c2VjcmV0"


@pytest.fixture
def servers():
    try:
        database_url, drop = create_pg_database(PG_ADMIN_URL)
    except Exception as error:  # noqa: BLE001
        need(f"PostgreSQL not reachable: {error}")
    try:
        amqp_url, delete_vhost = create_vhost()
    except Exception as error:  # noqa: BLE001
        drop()
        need(f"RabbitMQ (rabbitmqctl) not available: {error}")
    receiver = WebhookReceiver().start()
    yield database_url, amqp_url, receiver
    receiver.stop()
    delete_vhost()
    drop()


def settings(receiver: WebhookReceiver, path: str) -> dict:
    return {
        "integration_webhook_urls": receiver.url(path),
        "integration_webhook_secret": SECRET,
        "storage_secret": "fault-test-storage-secret",
        "retry_delays_seconds": "0.2",
    }


def start_worker(tmp_path, name: str, database_url: str, amqp_url: str, extra: dict) -> WorkerProcess:
    env = {f"BOOKING_{key.upper()}": value for key, value in extra.items()}
    env.update(
        {
            "BOOKING_DATABASE_URL": database_url,
            "BOOKING_AMQP_URL": amqp_url,
            "BOOKING_DATA_DIR": str(tmp_path / name),
        }
    )
    return WorkerProcess(env=env, data_dir=tmp_path / name).start()


def book(url: str) -> dict:
    day = date.today() + timedelta(days=1)
    with httpx.Client(base_url=url, timeout=10) as client:
        slots = client.get("/api/availability", params={"resource_id": 4, "from": day, "to": day}).json()["slots"]
        start = next(slot["start"] for slot in slots if slot["available"])
        answer = client.post(
            "/api/bookings", json={"resource_id": 4, "start": start, "customer": {"name": "F", "phone": "+4930123"}}
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


def ledger(database_url: str, booking_id: str) -> list[dict]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT d.consumer, d.status, d.attempts FROM delivery d JOIN outbox_event e ON e.id = d.event_id"
                    " WHERE e.subject = :subject AND e.type = 'booking.created' ORDER BY d.consumer"
                ),
                {"subject": booking_id},
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def test_a_web_process_killed_after_its_commit_loses_no_event(servers, tmp_path):
    database_url, amqp_url, receiver = servers
    # A web process without background work and without the broker: it commits the booking and
    # its outbox row, and nothing publishes them. Then it is killed outright.
    web = start_app(tmp_path / "web", database_url, background="0", **settings(receiver, "/ok"))
    booking = book(web.url)
    web.process.send_signal(signal.SIGKILL)
    web.process.wait(timeout=10)
    assert receiver.at("/ok", "booking.created", booking["id"]) == []

    worker = start_worker(tmp_path, "worker", database_url, amqp_url, settings(receiver, "/ok"))
    try:
        wait_until(lambda: receiver.at("/ok", "booking.created", booking["id"]), timeout=30, what="the event")
        wait_until(lambda: {r["status"] for r in ledger(database_url, booking["id"])} == {"succeeded"}, timeout=15)
        assert len(receiver.at("/ok", "booking.created", booking["id"])) == 1
    finally:
        worker.stop()


def test_a_worker_killed_before_its_ack_is_replaced_and_the_event_is_handled_once(servers, tmp_path):
    database_url, amqp_url, receiver = servers
    options = settings(receiver, "/slow")
    web = start_app(tmp_path / "web", database_url, background="0", amqp_url=amqp_url, **options)
    first = start_worker(tmp_path, "first", database_url, amqp_url, options)
    second = None
    try:
        booking = book(web.url)
        # The first worker's integration handler is now waiting on the slow endpoint: kill it.
        wait_until(lambda: receiver.at("/slow", "booking.created", booking["id"]), timeout=30, what="the first POST")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)

        second = start_worker(tmp_path, "second", database_url, amqp_url, options)
        posts = wait_until(
            lambda: (
                len(receiver.at("/slow", "booking.created", booking["id"])) >= 2
                and receiver.at("/slow", "booking.created", booking["id"])
            ),
            timeout=30,
            what="the redelivery",
        )
        wait_until(
            lambda: (
                {r["consumer"]: r["status"] for r in ledger(database_url, booking["id"])}.get("integration")
                == "succeeded"
            ),
            timeout=30,
            what="the ledger",
        )
        rows = ledger(database_url, booking["id"])
        assert [r["consumer"] for r in rows] == ["integration", "notification"]  # one ledger row each
        assert all(r["status"] == "succeeded" for r in rows)
        # Outside our database the POST happened again, with the same stable webhook-id.
        assert len({post.headers["webhook-id"] for post in posts}) == 1
    finally:
        for process in (first, second, web):
            if process is not None:
                process.stop()
