"""The delivery ledger staff see: listing and replay of dead letters (DESIGN.md section 6)."""

from __future__ import annotations

import pytest

from domain.errors import InvalidState, NotFound
from messaging.consumer import Consumer, RetryPolicy, run_delivery
from messaging.envelope import CloudEvent
from messaging.ledger import list_deliveries, replay_delivery
from messaging.outbox import add_event

POLICY = RetryPolicy([1], 1)


def stage_event(uow, clock, type_: str = "booking.created", subject: str = "b-1") -> CloudEvent:
    with uow.begin() as session:
        event = add_event(session, type_, {"id": subject}, subject=subject, now=clock())
        session.commit()
    return event


def failing(event: CloudEvent) -> None:
    raise ConnectionError("endpoint down")


def make_dead(uow, clock, event: CloudEvent) -> None:
    consumer = Consumer("integration", failing)
    while run_delivery(uow, consumer, event, POLICY, clock).status != "dead":
        clock.advance(1)


def test_list_deliveries_is_json_ready_with_event_type_and_subject(uow, clock):
    event = stage_event(uow, clock)
    run_delivery(uow, Consumer("notification", lambda e: None), event, POLICY, clock)
    make_dead(uow, clock, event)

    everything = list_deliveries(uow)
    dead = list_deliveries(uow, status="dead")

    assert len(everything) == 2
    assert dead == [
        {
            "id": dead[0]["id"],
            "event_id": event.id,
            "event_type": "booking.created",
            "subject": "b-1",
            "consumer": "integration",
            "status": "dead",
            "attempts": 2,
            "next_attempt_at": None,
            "last_error": "ConnectionError: endpoint down",
            "event_time": "2026-12-01T06:00:00Z",
            "created_at": "2026-12-01T06:00:00Z",
            "updated_at": "2026-12-01T06:00:01Z",
        }
    ]
    assert [d["consumer"] for d in list_deliveries(uow, consumer="notification")] == ["notification"]
    assert list_deliveries(uow, event_id="no-such-event") == []
    assert len(list_deliveries(uow, subject="b-1")) == 2
    assert len(list_deliveries(uow, limit=1)) == 1


def test_replay_starts_a_fresh_cycle_for_a_dead_delivery(uow, clock):
    event = stage_event(uow, clock)
    make_dead(uow, clock, event)
    dead = list_deliveries(uow, status="dead")[0]
    clock.advance(60)

    replayed = replay_delivery(uow, dead["id"], clock)

    assert replayed["status"] == "pending"
    assert replayed["attempts"] == 0
    assert replayed["next_attempt_at"] == "2026-12-01T06:01:01Z"
    assert replayed["last_error"] == "ConnectionError: endpoint down"

    calls = []
    outcome = run_delivery(uow, Consumer("integration", calls.append), event, POLICY, clock)
    assert (outcome.status, outcome.attempts, len(calls)) == ("succeeded", 1, 1)
    assert list_deliveries(uow, event_id=event.id)[0]["last_error"] is None


def test_replayed_delivery_gets_all_its_redeliveries_again(uow, clock):
    event = stage_event(uow, clock)
    make_dead(uow, clock, event)
    replay_delivery(uow, list_deliveries(uow)[0]["id"], clock)

    statuses = [run_delivery(uow, Consumer("integration", failing), event, POLICY, clock).status for _ in range(2)]

    assert statuses == ["retrying", "dead"]


def test_replay_refuses_unknown_and_live_deliveries(uow, clock):
    event = stage_event(uow, clock)
    run_delivery(uow, Consumer("notification", lambda e: None), event, POLICY, clock)
    succeeded = list_deliveries(uow)[0]

    with pytest.raises(NotFound):
        replay_delivery(uow, 999_999, clock)
    with pytest.raises(InvalidState):
        replay_delivery(uow, succeeded["id"], clock)
