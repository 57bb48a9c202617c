"""The embedded transport end to end, with its real threads and a real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from messaging.consumer import Consumer, RetryPolicy
from messaging.embedded import EmbeddedTransport
from messaging.envelope import CloudEvent
from messaging.ledger import list_deliveries, replay_delivery
from messaging.outbox import add_event

FAST = RetryPolicy([0.05], 3)


def real_clock() -> datetime:
    return datetime.now(UTC)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.01)


def stage_event(uow, type_: str = "booking.created", subject: str = "b-1") -> CloudEvent:
    with uow.begin() as session:
        event = add_event(session, type_, {"id": subject}, subject=subject, now=real_clock())
        session.commit()
    return event


def statuses(uow, event_id: str) -> dict[str, str]:
    return {d["consumer"]: d["status"] for d in list_deliveries(uow, event_id=event_id)}


class Recorder:
    """A handler that records the events it gets and fails while ``failing`` is set."""

    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.events: list[CloudEvent] = []
        self.lock = threading.Lock()

    def __call__(self, event: CloudEvent) -> None:
        with self.lock:
            self.events.append(event)
        if self.failing:
            raise RuntimeError("receiver down")


@pytest.fixture
def start_transport(uow) -> Iterator[Callable[..., EmbeddedTransport]]:
    started: list[EmbeddedTransport] = []

    def start(consumers: list[Consumer], **options) -> EmbeddedTransport:
        transport = EmbeddedTransport(uow, consumers, options.pop("policy", FAST), real_clock, **options)
        transport.start()
        started.append(transport)
        return transport

    yield start
    for transport in started:
        transport.stop()


def test_committed_event_reaches_both_consumers_once(uow, start_transport):
    integration, notification = Recorder(), Recorder()
    published: list[CloudEvent] = []
    transport = start_transport(
        [Consumer("integration", integration), Consumer("notification", notification)],
        on_published=published.append,
    )

    event = stage_event(uow)
    transport.notify()

    wait_until(lambda: statuses(uow, event.id) == {"integration": "succeeded", "notification": "succeeded"})
    assert [e.id for e in integration.events] == [event.id]
    assert [e.id for e in notification.events] == [event.id]
    assert notification.events[0].data == {"id": "b-1"}
    assert [e.id for e in published] == [event.id]


def test_failing_consumer_ends_dead_after_four_calls_while_the_other_succeeds(uow, start_transport):
    integration, notification = Recorder(failing=True), Recorder()
    transport = start_transport([Consumer("integration", integration), Consumer("notification", notification)])

    event = stage_event(uow)
    transport.notify()

    wait_until(lambda: statuses(uow, event.id) == {"integration": "dead", "notification": "succeeded"})
    assert len(integration.events) == 4
    assert len(notification.events) == 1
    dead = list_deliveries(uow, status="dead")
    assert [(d["attempts"], d["last_error"]) for d in dead] == [(4, "RuntimeError: receiver down")]


def test_replayed_dead_letter_is_delivered_again(uow, start_transport):
    integration = Recorder(failing=True)
    transport = start_transport([Consumer("integration", integration)])
    event = stage_event(uow)
    transport.notify()
    wait_until(lambda: statuses(uow, event.id) == {"integration": "dead"})

    integration.failing = False
    replay_delivery(uow, list_deliveries(uow, status="dead")[0]["id"], real_clock)
    transport.notify()

    wait_until(lambda: statuses(uow, event.id) == {"integration": "succeeded"})
    assert len(integration.events) == 5


def test_relay_keeps_going_when_on_published_fails(uow, start_transport):
    def broken_screen(event: CloudEvent) -> None:
        raise ValueError("screen gone")

    notification = Recorder()
    transport = start_transport([Consumer("notification", notification)], on_published=broken_screen)

    first = stage_event(uow, subject="b-1")
    transport.notify()
    wait_until(lambda: statuses(uow, first.id) == {"notification": "succeeded"})
    second = stage_event(uow, subject="b-2")
    transport.notify()

    wait_until(lambda: statuses(uow, second.id) == {"notification": "succeeded"})


def test_events_staged_before_start_are_published_and_stop_ends_the_threads(uow, start_transport):
    events = [stage_event(uow, subject=f"b-{n}") for n in range(3)]
    notification = Recorder()

    transport = start_transport([Consumer("notification", notification)], poll_seconds=0.05)
    wait_until(lambda: all(statuses(uow, e.id) == {"notification": "succeeded"} for e in events))
    transport.stop()

    assert sorted(e.id for e in notification.events) == sorted(e.id for e in events)
    names = {thread.name for thread in threading.enumerate()}
    assert not names & {"outbox-relay", "dispatch-notification"}


def test_publish_pending_without_threads_creates_one_due_delivery_per_consumer(uow):
    transport = EmbeddedTransport(
        uow, [Consumer("integration", Recorder()), Consumer("notification", Recorder())], FAST, real_clock
    )
    event = stage_event(uow)

    assert [e.id for e in transport.publish_pending()] == [event.id]
    assert transport.publish_pending() == []
    assert statuses(uow, event.id) == {"integration": "pending", "notification": "pending"}
