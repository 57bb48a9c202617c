"""Read side of the outbox: the recent events, for the events screen (the delivery ledger's
read side is ``messaging/ledger.py``)."""

from __future__ import annotations

from sqlmodel import select

from data.db import UnitOfWork
from data.models import OutboxEvent
from domain.views import utc_z


def recent_events(uow: UnitOfWork, *, limit: int = 100, type_: str | None = None) -> list[dict]:
    """The newest outbox events, at most ``limit``, optionally of one ``type_``.

    Items: ``{id, type, subject, time, published_at}``; ``subject`` is the booking id (payment
    events too), ``time`` and ``published_at`` UTC ``Z`` (``published_at`` is ``None`` until the
    relay has handed the event to the transport).
    """
    query = select(OutboxEvent)
    if type_:
        query = query.where(OutboxEvent.type == type_)
    query = query.order_by(OutboxEvent.time.desc(), OutboxEvent.sequence.desc()).limit(limit)
    with uow.begin() as session:
        return [
            {
                "id": event.id,
                "type": event.type,
                "subject": event.subject,
                "time": utc_z(event.time),
                "published_at": utc_z(event.published_at),
            }
            for event in session.exec(query).all()
        ]
