"""Read and replay the delivery ledger: what staff see of event deliveries and dead letters
(DESIGN.md section 6). The same rows serve both transports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select

from data.db import UnitOfWork
from data.models import Delivery, OutboxEvent
from domain.errors import InvalidState, NotFound
from domain.views import utc_z
from messaging.consumer import Clock, DeliveryStatus


def delivery_view(delivery: Delivery, event: OutboxEvent) -> dict[str, Any]:
    """A ledger row as JSON: ``{id, event_id, event_type, subject, consumer, status, attempts,
    next_attempt_at, last_error, event_time, created_at, updated_at}``; timestamps UTC ``Z``."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": event.type,
        "subject": event.subject,
        "consumer": delivery.consumer,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": utc_z(delivery.next_attempt_at),
        "last_error": delivery.last_error,
        "event_time": utc_z(event.time),
        "created_at": utc_z(delivery.created_at),
        "updated_at": utc_z(delivery.updated_at),
    }


def list_deliveries(
    uow: UnitOfWork,
    *,
    status: str | None = None,
    consumer: str | None = None,
    event_id: str | None = None,
    subject: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, filtered by any of ``status``, ``consumer``, ``event_id`` and
    ``subject`` (the booking id of the event). Each item is a ``delivery_view``."""
    with uow.begin() as session:
        query = select(Delivery, OutboxEvent).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        if status is not None:
            query = query.where(Delivery.status == status)
        if consumer is not None:
            query = query.where(Delivery.consumer == consumer)
        if event_id is not None:
            query = query.where(Delivery.event_id == event_id)
        if subject is not None:
            query = query.where(OutboxEvent.subject == subject)
        query = query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
        return [delivery_view(delivery, event) for delivery, event in session.exec(query).all()]


def replay_delivery(uow: UnitOfWork, delivery_id: int, clock: Clock) -> dict[str, Any]:
    """Start a fresh cycle of attempts for a dead delivery: ``pending``, 0 attempts, due now.

    ``last_error`` is kept until an attempt succeeds. The caller should then wake the transport
    (``Transport.notify``). Returns the ``delivery_view``. Raises ``NotFound`` for an unknown id
    and ``InvalidState`` if the delivery is not dead.
    """
    with uow.begin() as session:
        delivery = session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update()).first()
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} does not exist", field="id")
        if delivery.status != DeliveryStatus.DEAD:
            raise InvalidState(f"delivery {delivery_id} is {delivery.status}; only a dead delivery can be replayed")
        now: datetime = clock()
        delivery.status = DeliveryStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.updated_at = now
        session.add(delivery)
        event = session.get(OutboxEvent, delivery.event_id)
        session.commit()
        return delivery_view(delivery, event)
