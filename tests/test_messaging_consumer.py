"""The consumer runtime: redelivery, dead letters and the inbox (DESIGN.md section 6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from data.models import Delivery
from messaging.consumer import LEASE_SECONDS, Consumer, RetryPolicy, run_delivery
from messaging.envelope import CloudEvent
from messaging.outbox import add_event

DEFAULT_POLICY = RetryPolicy([5, 30, 120], 3)


def stage_event(uow, clock, type_: str = "booking.created") -> CloudEvent:
    with uow.begin() as session:
        event = add_event(session, type_, {"id": "b-1"}, subject="b-1", now=clock())
        session.commit()
    return event


def delivery_row(uow, event_id: str, consumer: str) -> Delivery:
    with uow.begin() as session:
        row = session.exec(select(Delivery).where(Delivery.event_id == event_id, Delivery.consumer == consumer)).one()
        session.expunge(row)
        return row


class Flaky:
    """A handler that fails its first ``failures`` calls, then succeeds; counts calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, event: CloudEvent) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom {self.calls}")


def test_delay_before_follows_the_list_and_repeats_the_last_delay():
    policy = RetryPolicy([5, 30, 120], 5)
    assert [policy.delay_before(n) for n in range(1, 6)] == [5, 30, 120, 120, 120]


def test_retry_policy_rejects_an_empty_delay_list_and_negative_values():
    with pytest.raises(ValueError):
        RetryPolicy([], 3)
    with pytest.raises(ValueError):
        RetryPolicy([-1], 3)
    with pytest.raises(ValueError):
        RetryPolicy([5], -1)


def test_always_failing_handler_is_called_four_times_then_dead(uow, clock):
    event = stage_event(uow, clock)
    handler = Flaky(failures=1000)
    consumer = Consumer("integration", handler)

    outcomes = []
    for _ in range(6):
        outcome = run_delivery(uow, consumer, event, DEFAULT_POLICY, clock)
        outcomes.append(outcome)
        if outcome.delay_seconds:
            clock.advance(outcome.delay_seconds)

    assert handler.calls == 4
    assert [(o.status, o.attempts, o.delay_seconds) for o in outcomes[:4]] == [
        ("retrying", 1, 5.0),
        ("retrying", 2, 30.0),
        ("retrying", 3, 120.0),
        ("dead", 4, None),
    ]
    assert [o.status for o in outcomes[4:]] == ["dead", "dead"]
    row = delivery_row(uow, event.id, "integration")
    assert row.status == "dead"
    assert row.attempts == 4
    assert row.last_error == "RuntimeError: boom 4"
    assert row.next_attempt_at is None


def test_handler_failing_twice_then_succeeding_is_called_three_times(uow, clock):
    event = stage_event(uow, clock)
    handler = Flaky(failures=2)
    consumer = Consumer("notification", handler)

    statuses = [run_delivery(uow, consumer, event, DEFAULT_POLICY, clock).status for _ in range(3)]

    assert statuses == ["retrying", "retrying", "succeeded"]
    assert handler.calls == 3
    row = delivery_row(uow, event.id, "notification")
    assert (row.status, row.attempts, row.last_error) == ("succeeded", 3, None)


def test_succeeded_delivery_is_not_run_again(uow, clock):
    event = stage_event(uow, clock)
    handler = Flaky(failures=0)
    consumer = Consumer("notification", handler)

    first = run_delivery(uow, consumer, event, DEFAULT_POLICY, clock)
    second = run_delivery(uow, consumer, event, DEFAULT_POLICY, clock)

    assert first.status == "succeeded"
    assert second.status == "duplicate"
    assert handler.calls == 1


def test_each_consumer_has_its_own_inbox(uow, clock):
    event = stage_event(uow, clock)
    one, other = Flaky(failures=0), Flaky(failures=0)

    run_delivery(uow, Consumer("integration", one), event, DEFAULT_POLICY, clock)
    run_delivery(uow, Consumer("notification", other), event, DEFAULT_POLICY, clock)

    assert (one.calls, other.calls) == (1, 1)


def test_redelivery_is_due_after_the_policy_delay_and_the_last_delay_repeats(uow, clock):
    event = stage_event(uow, clock)
    policy = RetryPolicy([1.5, 10], 4)
    consumer = Consumer("integration", Flaky(failures=1000))

    due = []
    for _ in range(4):
        outcome = run_delivery(uow, consumer, event, policy, clock)
        row = delivery_row(uow, event.id, "integration")
        assert row.status == "retrying"
        due.append((row.next_attempt_at - clock()).total_seconds())
        clock.advance(outcome.delay_seconds)

    assert due == [1.5, 10, 10, 10]
    assert run_delivery(uow, consumer, event, policy, clock).status == "dead"


def test_attempt_is_counted_and_leased_before_the_handler_runs(uow, clock):
    event = stage_event(uow, clock)
    seen = []

    def handler(event: CloudEvent) -> None:
        row = delivery_row(uow, event.id, "integration")
        seen.append((row.attempts, row.next_attempt_at))

    run_delivery(uow, Consumer("integration", handler), event, DEFAULT_POLICY, clock)

    assert seen == [(1, clock() + timedelta(seconds=LEASE_SECONDS))]
