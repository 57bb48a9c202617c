"""The RabbitMQ transport against the real broker on 127.0.0.1:5672, under faults (DESIGN.md
sections 6 and 7). Each test gets its own vhost, so the DESIGN names are used as they are.

Without a reachable broker these tests are skipped locally and fail under ``CI=true``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pika
import pika.exceptions
import pytest

from data.db import UnitOfWork, make_engine
from data.migrate import migrate
from data.models import OutboxEvent, SQLModel
from messaging.amqp import AmqpTransport
from messaging.amqp_topology import EXCHANGE
from messaging.consumer import Consumer, RetryPolicy
from messaging.envelope import CloudEvent
from messaging.ledger import list_deliveries, replay_delivery
from messaging.outbox import add_event
from tests.conftest import need
from tests.support import rabbitmqctl as support_rabbitmqctl
from tests.support import wait_until

BROKER = os.environ.get("BOOKING_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
FAST = RetryPolicy([0.1], 3)


def real_clock() -> datetime:
    return datetime.now(UTC)


def rabbitmqctl(*args: str) -> None:
    support_rabbitmqctl(*args)


@pytest.fixture(scope="session")
def broker() -> str:
    try:
        pika.BlockingConnection(pika.URLParameters(f"{BROKER}/%2F")).close()
        rabbitmqctl("status")
    except (pika.exceptions.AMQPError, OSError, subprocess.SubprocessError, RuntimeError) as error:
        need(f"RabbitMQ (and rabbitmqctl) not available at {BROKER}: {error!r}")
    return BROKER


@pytest.fixture
def vhost(broker) -> Iterator[str]:
    """A fresh vhost for one test, deleted afterwards."""
    name = f"booking_test_{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    rabbitmqctl("delete_vhost", name)


@pytest.fixture
def amqp_url(broker, vhost) -> str:
    return f"{broker}/{vhost}"


@pytest.fixture
def sqlite_uow(tmp_path) -> Iterator[UnitOfWork]:
    engine = make_engine(f"sqlite:///{tmp_path}/booking.db")
    migrate(engine)
    yield UnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def pg_uow(postgres_url) -> Iterator[UnitOfWork]:
    from sqlalchemy import text

    engine = make_engine(postgres_url)
    migrate(engine)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield UnitOfWork(engine)
    engine.dispose()


@pytest.fixture
def start_transport(amqp_url) -> Iterator[Callable[..., AmqpTransport]]:
    started: list[AmqpTransport] = []

    def start(uow: UnitOfWork, consumers: list[Consumer], url: str = amqp_url, **options) -> AmqpTransport:
        options.setdefault("reconnect_max_seconds", 1.0)
        transport = AmqpTransport(url, uow, consumers, options.pop("policy", FAST), real_clock, **options)
        transport.start()
        started.append(transport)
        assert transport.wait_connected(10), "transport did not connect"
        return transport

    yield start
    for transport in started:
        transport.stop()


class Recorder:
    """A handler that records its calls; fails while ``failures`` is > 0 (counting down) or ``failing``."""

    def __init__(self, failing: bool = False, failures: int = 0, block: threading.Event | None = None) -> None:
        self.failing = failing
        self.failures = failures
        self.block = block
        self.entered = threading.Event()
        self.calls: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def __call__(self, event: CloudEvent) -> None:
        with self.lock:
            self.calls.append((event.id, time.monotonic()))
        self.entered.set()
        if self.block is not None:
            self.block.wait(30)
        if self.failing or self.failures > 0:
            self.failures -= 1
            raise RuntimeError("receiver down")

    def count(self, event_id: str) -> int:
        with self.lock:
            return sum(1 for id_, _ in self.calls if id_ == event_id)


def stage_event(uow: UnitOfWork, subject: str = "b-1", type_: str = "booking.created") -> CloudEvent:
    with uow.begin() as session:
        event = add_event(session, type_, {"id": subject}, subject=subject, now=real_clock())
        session.commit()
    return event


def statuses(uow: UnitOfWork, event_id: str) -> dict[str, str]:
    return {d["consumer"]: d["status"] for d in list_deliveries(uow, event_id=event_id)}


def succeeded(uow: UnitOfWork, events: list[CloudEvent], consumer: str = "integration") -> bool:
    return all(statuses(uow, e.id).get(consumer) == "succeeded" for e in events)


def queue_depth(url: str, queue: str) -> int:
    """Ready messages in ``queue``; raises ``ChannelClosedByBroker`` (404) if it does not exist."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def exchange_exists(url: str, name: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().exchange_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def messages_logged(caplog, text: str) -> int:
    return sum(1 for record in caplog.records if text in record.getMessage())


# -- topology -----------------------------------------------------------------------------------


def test_topology_exists_after_start_and_a_changed_retry_setting_starts_again(sqlite_uow, amqp_url, start_transport):
    consumers = [Consumer("integration", Recorder()), Consumer("notification", Recorder())]
    first = start_transport(sqlite_uow, consumers, policy=RetryPolicy([5, 30, 120], 3))

    assert exchange_exists(amqp_url, EXCHANGE)
    for queue in ["integration.events", "notification.events", "integration.events.dead", "notification.events.dead"]:
        assert queue_depth(amqp_url, queue) == 0
    assert queue_depth(amqp_url, "integration.events.retry.120000ms") == 0
    first.stop()

    start_transport(sqlite_uow, consumers, policy=RetryPolicy([0.25, 7], 5))  # new delays, same queues
    assert queue_depth(amqp_url, "notification.events.retry.250ms") == 0


# -- delivery, redelivery, dead letters ---------------------------------------------------------


def test_event_reaches_each_consumer_once_and_every_process_live_feed_once(sqlite_uow, amqp_url, start_transport):
    integration, notification = Recorder(), Recorder()
    seen_here: list[CloudEvent] = []
    seen_elsewhere: list[CloudEvent] = []
    here = start_transport(
        sqlite_uow,
        [Consumer("integration", integration), Consumer("notification", notification)],
        on_published=seen_here.append,
    )
    start_transport(  # a web-only process: relay and live feed, no consumers
        sqlite_uow,
        [Consumer("integration", integration), Consumer("notification", notification)],
        on_published=seen_elsewhere.append,
        run_consumers=False,
        poll_seconds=30,  # SQLite serves one relay; this one only wakes when told
    )
    probe = pika.BlockingConnection(pika.URLParameters(amqp_url)).channel()
    probe_queue = probe.queue_declare("", exclusive=True).method.queue
    probe.queue_bind(probe_queue, EXCHANGE, routing_key="booking.created")

    event = stage_event(sqlite_uow)
    here.notify()

    wait_until(lambda: statuses(sqlite_uow, event.id) == {"integration": "succeeded", "notification": "succeeded"})
    wait_until(lambda: seen_here and seen_elsewhere, what="both live feeds")
    assert (integration.count(event.id), notification.count(event.id)) == (1, 1)
    assert [e.id for e in seen_here] == [event.id] and [e.id for e in seen_elsewhere] == [event.id]
    method, properties, body = probe.basic_get(probe_queue, auto_ack=True)
    assert (properties.message_id, properties.content_type, properties.delivery_mode) == (
        event.id,
        "application/cloudevents+json",
        2,
    )
    assert CloudEvent.from_json(body) == event
    probe.connection.close()


def test_always_failing_consumer_gets_four_attempts_then_dead_letter_and_replay_delivers_once(
    uow, amqp_url, start_transport
):
    integration, notification = Recorder(failing=True), Recorder()
    transport = start_transport(uow, [Consumer("integration", integration), Consumer("notification", notification)])
    event = stage_event(uow)
    transport.notify()

    wait_until(lambda: statuses(uow, event.id) == {"integration": "dead", "notification": "succeeded"})
    wait_until(lambda: queue_depth(amqp_url, "integration.events.dead") == 1, what="the dead letter")
    assert integration.count(event.id) == 4 and notification.count(event.id) == 1
    gaps = [b[1] - a[1] for a, b in zip(integration.calls, integration.calls[1:], strict=False)]
    assert min(gaps) >= 0.09, gaps  # each redelivery waited for the retry delay
    dead = list_deliveries(uow, status="dead")
    assert [(d["consumer"], d["attempts"], d["last_error"]) for d in dead] == [
        ("integration", 4, "RuntimeError: receiver down")
    ]
    channel = pika.BlockingConnection(pika.URLParameters(amqp_url)).channel()
    _, properties, _ = channel.basic_get("integration.events.dead")
    assert properties.message_id == event.id
    assert properties.headers["x-booking-last-error"] == "RuntimeError: receiver down"
    channel.connection.close()  # unacknowledged: the dead letter stays parked

    integration.failing = False
    replay_delivery(uow, dead[0]["id"], real_clock)
    transport.notify()

    wait_until(lambda: statuses(uow, event.id)["integration"] == "succeeded")
    assert integration.count(event.id) == 5 and notification.count(event.id) == 1  # only that consumer


def test_consumer_failing_twice_then_succeeding_is_called_three_times(sqlite_uow, amqp_url, start_transport):
    integration = Recorder(failures=2)
    transport = start_transport(sqlite_uow, [Consumer("integration", integration)])
    event = stage_event(sqlite_uow)
    transport.notify()

    wait_until(lambda: statuses(sqlite_uow, event.id) == {"integration": "succeeded"})
    assert integration.count(event.id) == 3
    assert list_deliveries(sqlite_uow, event_id=event.id)[0]["attempts"] == 3
    assert queue_depth(amqp_url, "integration.events.dead") == 0


def test_a_message_that_is_not_a_cloudevent_is_parked_as_dead(sqlite_uow, amqp_url, start_transport):
    start_transport(sqlite_uow, [Consumer("integration", Recorder())])
    channel = pika.BlockingConnection(pika.URLParameters(amqp_url)).channel()
    channel.basic_publish("", "integration.events", b"not json")
    channel.connection.close()

    wait_until(lambda: queue_depth(amqp_url, "integration.events.dead") == 1, what="the malformed message parked")


# -- faults -------------------------------------------------------------------------------------


def test_events_committed_while_no_relay_runs_are_published_when_it_starts(sqlite_uow, start_transport):
    events = [stage_event(sqlite_uow, subject=f"b-{n}") for n in range(3)]  # the app died before publishing
    integration = Recorder()

    start_transport(sqlite_uow, [Consumer("integration", integration)])

    wait_until(lambda: succeeded(sqlite_uow, events))
    assert [integration.count(e.id) for e in events] == [1, 1, 1]
    with sqlite_uow.begin() as session:
        assert all(session.get(OutboxEvent, e.id).published_at is not None for e in events)


def test_all_connections_closed_mid_stream_lose_no_event(sqlite_uow, vhost, start_transport, caplog):
    caplog.set_level(logging.INFO)
    integration = Recorder()
    transport = start_transport(sqlite_uow, [Consumer("integration", integration)])
    events: list[CloudEvent] = []
    for n in range(30):
        events.append(stage_event(sqlite_uow, subject=f"b-{n}"))
        transport.notify()
        if n == 10:
            rabbitmqctl("close_all_connections", "-p", vhost, "test")
        time.sleep(0.02)  # a stream, not a burst

    wait_until(lambda: succeeded(sqlite_uow, events), timeout=30)
    assert [integration.count(e.id) for e in events] == [1] * 30
    assert messages_logged(caplog, "reconnecting") >= 1


def test_consumer_connection_lost_while_handler_runs_is_redelivered_and_handled_once(
    sqlite_uow, amqp_url, vhost, start_transport, caplog
):
    caplog.set_level(logging.INFO)
    release = threading.Event()
    integration = Recorder(block=release)
    transport = start_transport(sqlite_uow, [Consumer("integration", integration)])
    event = stage_event(sqlite_uow)
    transport.notify()
    assert integration.entered.wait(10)

    rabbitmqctl("close_all_connections", "-p", vhost, "test")  # the consumer dies before its ack
    release.set()

    wait_until(lambda: messages_logged(caplog, "already processed"), what="the redelivered copy", timeout=15)
    assert integration.count(event.id) == 1
    assert list_deliveries(sqlite_uow, event_id=event.id)[0]["status"] == "succeeded"
    transport.stop()
    assert queue_depth(amqp_url, "integration.events") == 0


def test_handler_slower_than_the_heartbeat_keeps_its_connection_and_is_acked_once(
    sqlite_uow, amqp_url, start_transport, caplog
):
    caplog.set_level(logging.INFO)

    def slow(event: CloudEvent) -> None:
        time.sleep(5)

    transport = start_transport(sqlite_uow, [Consumer("integration", slow)], url=f"{amqp_url}?heartbeat=1")
    event = stage_event(sqlite_uow)
    transport.notify()

    wait_until(lambda: succeeded(sqlite_uow, [event]), timeout=15)
    transport.stop()  # an unacknowledged message would now return to the queue
    assert queue_depth(amqp_url, "integration.events") == 0
    assert list_deliveries(sqlite_uow, event_id=event.id)[0]["attempts"] == 1
    assert messages_logged(caplog, "connection lost") == 0


def test_broker_stopped_and_started_again_reconnects_and_delivers(sqlite_uow, start_transport, caplog):
    caplog.set_level(logging.INFO)
    integration = Recorder()
    transport = start_transport(sqlite_uow, [Consumer("integration", integration)])
    before = stage_event(sqlite_uow, subject="b-before")
    transport.notify()
    wait_until(lambda: succeeded(sqlite_uow, [before]))

    rabbitmqctl("stop_app")
    try:
        during = stage_event(sqlite_uow, subject="b-during")  # committed while the broker is down
        transport.notify()
        wait_until(lambda: messages_logged(caplog, "reconnecting"), what="the outage to be noticed")
    finally:
        rabbitmqctl("start_app")
    after = stage_event(sqlite_uow, subject="b-after")
    transport.notify()

    wait_until(lambda: succeeded(sqlite_uow, [during, after]), timeout=30)
    assert [integration.count(e.id) for e in (before, during, after)] == [1, 1, 1]


@pytest.mark.postgres
def test_two_relays_on_postgresql_publish_each_event_once(pg_uow, amqp_url, start_transport):
    consumers = [Consumer("integration", Recorder())]
    first = start_transport(pg_uow, consumers, run_consumers=False, batch_size=5)
    second = start_transport(pg_uow, consumers, run_consumers=False, batch_size=5)

    events = [stage_event(pg_uow, subject=f"b-{n}") for n in range(60)]
    first.notify()
    second.notify()

    wait_until(lambda: queue_depth(amqp_url, "integration.events") == 60, what="60 messages")
    first.stop()
    second.stop()
    assert queue_depth(amqp_url, "integration.events") == 60
    with pg_uow.begin() as session:
        assert all(session.get(OutboxEvent, e.id).published_at is not None for e in events)


# -- choosing the transport (no broker needed) ----------------------------------------------------


def test_make_transport_is_embedded_without_amqp_url_and_rabbitmq_with_it(sqlite_uow):
    from types import SimpleNamespace

    from messaging.embedded import EmbeddedTransport
    from messaging.factory import make_transport

    args = (sqlite_uow, [Consumer("integration", Recorder())], FAST, real_clock, None)
    assert isinstance(make_transport(SimpleNamespace(amqp_url=""), *args), EmbeddedTransport)
    amqp = make_transport(SimpleNamespace(amqp_url="amqp://guest:guest@127.0.0.1:5672/%2F"), *args)
    assert isinstance(amqp, AmqpTransport)
    with pytest.raises(ValueError, match="BOOKING_AMQP_URL"):
        make_transport(SimpleNamespace(amqp_url="http://127.0.0.1:5672"), *args)
