"""The transactional outbox: the one way an event is written (DESIGN.md section 7).

``add_event`` stages the event in the caller's session, so it commits with the change it
reports or not at all. The transport's relay (``messaging/embedded.py``) publishes it afterwards.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session

from data.models import OutboxEvent
from messaging.envelope import SOURCE, CloudEvent


def add_event(session: Session, type_: str, data: dict[str, Any], *, subject: str | None, now: datetime) -> CloudEvent:
    """Stage event ``type_`` with payload ``data`` (JSON-ready) in ``session``; returns the envelope.

    Events staged in one transaction keep their order (``sequence``), so ``payment.succeeded`` is
    published before the ``booking.confirmed`` staged after it (seed steps 10 and 12).
    """
    sequence = session.info.get("outbox_sequence", 0) + 1
    session.info["outbox_sequence"] = sequence
    event = CloudEvent(id=str(uuid.uuid4()), type=type_, time=now, data=data, subject=subject)
    session.add(
        OutboxEvent(
            id=event.id, type=event.type, source=SOURCE, subject=subject, time=now, sequence=sequence, data=data
        )
    )
    return event


def to_envelope(row: OutboxEvent) -> CloudEvent:
    """The CloudEvent stored in an outbox row."""
    return CloudEvent(id=row.id, type=row.type, time=row.time, data=row.data, subject=row.subject, source=row.source)
