"""The consumer runtime: the one way a handler is run for an event, with the delivery ledger.

``run_delivery`` is called by every transport (embedded and AMQP). The ``Delivery`` row of
(event, consumer) is the consumer's inbox, so an event is processed at most once per consumer,
and the record of redeliveries and dead letters that staff see (DESIGN.md sections 6 and 7).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from data.db import UnitOfWork
from data.models import Delivery
from messaging.envelope import CloudEvent

log = logging.getLogger(__name__)

Handler = Callable[[CloudEvent], None]
"""Processes one event; raises any exception to fail the delivery (it is then redelivered)."""

Clock = Callable[[], datetime]
"""Returns "now" as an aware UTC datetime."""

LEASE_SECONDS = 120.0
"""How long a delivery in progress is reserved. If the process dies while the handler runs, the
delivery falls due again after this and another attempt is made (at-least-once)."""


class DeliveryStatus:
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    DUPLICATE = "duplicate"  # an outcome only: the inbox already had the event


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


@dataclass(frozen=True)
class Consumer:
    """A named consumer of every event, e.g. ``"integration"`` or ``"notification"``."""

    name: str
    handler: Handler


@dataclass(frozen=True)
class RetryPolicy:
    """Redelivery rule (``BOOKING_RETRY_DELAYS_SECONDS``, ``BOOKING_MAX_REDELIVERIES``).

    ``delays[i]`` is the delay in seconds before redelivery ``i + 1``; the last one repeats.
    After the first delivery and ``max_redeliveries`` redeliveries have failed, the delivery is
    dead. Raises ``ValueError`` for an empty or negative delay list or negative redeliveries.
    """

    delays: list[float]
    max_redeliveries: int

    def __post_init__(self) -> None:
        if not self.delays or any(delay < 0 for delay in self.delays):
            raise ValueError(f"retry delays must be a non-empty list of seconds >= 0, got {self.delays!r}")
        if self.max_redeliveries < 0:
            raise ValueError(f"max_redeliveries must be >= 0, got {self.max_redeliveries}")

    def delay_before(self, redelivery: int) -> float:
        """Seconds to wait before redelivery number ``redelivery`` (1, 2, 3, ...)."""
        if redelivery < 1:
            raise ValueError(f"redeliveries are counted from 1, got {redelivery}")
        return float(self.delays[min(redelivery, len(self.delays)) - 1])


@dataclass(frozen=True)
class DeliveryOutcome:
    """What ``run_delivery`` did.

    ``status``: ``succeeded``, ``retrying``, ``dead``, or ``duplicate`` (the handler was not
    called because the event was already processed). ``attempts`` counts handler calls in the
    current cycle; ``delay_seconds`` is the wait before the redelivery when ``retrying``.
    """

    status: str
    attempts: int
    delay_seconds: float | None = None


def run_delivery(
    uow: UnitOfWork, consumer: Consumer, event: CloudEvent, policy: RetryPolicy, clock: Clock
) -> DeliveryOutcome:
    """Run ``consumer.handler(event)`` once, with the ledger bookkeeping around it.

    The ``Delivery`` row for (event id, consumer) is created if missing (the outbox row of the
    event must exist). A ``succeeded`` row returns ``duplicate`` and a ``dead`` row returns
    ``dead``, both without calling the handler. Otherwise the attempt is counted and leased for
    ``LEASE_SECONDS`` in one transaction, the handler runs outside any transaction, and a
    second transaction records success, a redelivery after ``policy.delay_before(attempts)``
    seconds, or the dead letter once ``attempts > policy.max_redeliveries``.

    Handler exceptions are logged and recorded, never raised; database errors propagate (the
    lease then makes the delivery due again).
    """
    with uow.begin() as session:
        delivery = _get_or_create(session, event.id, consumer.name, clock())
        if delivery.status == DeliveryStatus.SUCCEEDED:
            return DeliveryOutcome(DeliveryStatus.DUPLICATE, delivery.attempts)
        if delivery.status == DeliveryStatus.DEAD:
            return DeliveryOutcome(DeliveryStatus.DEAD, delivery.attempts)
        now = clock()
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        delivery.updated_at = now
        session.add(delivery)
        session.commit()
        delivery_id, attempts = delivery.id, delivery.attempts

    error: Exception | None = None
    try:
        consumer.handler(event)
    except Exception as exc:  # a handler fails its delivery by raising anything
        error = exc

    with uow.begin() as session:
        delivery = session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update()).one()
        now = clock()
        delivery.updated_at = now
        delay: float | None = None
        if delivery.status == DeliveryStatus.SUCCEEDED:
            pass  # a concurrent run (after a lease ran out) succeeded meanwhile: never downgrade it
        elif error is None:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.next_attempt_at = None
            delivery.last_error = None
        else:
            delivery.last_error = f"{type(error).__name__}: {error}"
            if attempts > policy.max_redeliveries:
                delivery.status = DeliveryStatus.DEAD
                delivery.next_attempt_at = None
            else:
                delay = policy.delay_before(attempts)
                delivery.status = DeliveryStatus.RETRYING
                delivery.next_attempt_at = now + timedelta(seconds=delay)
        session.add(delivery)
        session.commit()
        status = delivery.status

    if error is not None:
        _log_failure(consumer, event, attempts, delay, error)
    return DeliveryOutcome(status, attempts, delay)


def _get_or_create(session: Session, event_id: str, consumer: str, now: datetime) -> Delivery:
    """The locked ledger row of (event, consumer); a concurrent insert of the same row is tolerated."""
    query = select(Delivery).where(Delivery.event_id == event_id, Delivery.consumer == consumer).with_for_update()
    delivery = session.exec(query).first()
    if delivery is not None:
        return delivery
    try:
        with session.begin_nested():
            delivery = Delivery(
                event_id=event_id,
                consumer=consumer,
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(delivery)
        return delivery
    except IntegrityError:
        return session.exec(query).one()


def _log_failure(consumer: Consumer, event: CloudEvent, attempts: int, delay: float | None, error: Exception) -> None:
    where = f"event={event.id} type={event.type} consumer={consumer.name}"
    reason = f"{type(error).__name__}: {error}"
    if delay is None:
        log.error("delivery dead after %d attempts: %s: %s", attempts, where, reason, exc_info=error)
    else:
        log.warning("delivery failed (attempt %d), redelivery in %.3g s: %s: %s", attempts, delay, where, reason)
