"""Read side of the Notification Service: the log of mails sent, for the notifications screen."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from data.db import UnitOfWork
from data.models import MailMessage
from domain.views import utc_z


def list_mails(
    uow: UnitOfWork, *, recipient: str | None = None, booking_id: str | None = None, limit: int = 200
) -> list[dict]:
    """Mails sent, newest first, at most ``limit``.

    ``recipient`` matches part of the address, case-insensitively; ``booking_id`` exactly.
    Items: ``{id, message_id, event_id, booking_id, recipient, subject, template, locale,
    backend, created_at}`` with ``created_at`` in UTC ``Z``.
    """
    query = select(MailMessage)
    if recipient and recipient.strip():
        query = query.where(func.lower(MailMessage.recipient).contains(recipient.strip().lower(), autoescape=True))
    if booking_id:
        query = query.where(MailMessage.booking_id == booking_id)
    query = query.order_by(MailMessage.created_at.desc(), MailMessage.id.desc()).limit(limit)
    with uow.begin() as session:
        return [
            {
                "id": mail.id,
                "message_id": mail.message_id,
                "event_id": mail.event_id,
                "booking_id": mail.booking_id,
                "recipient": mail.recipient,
                "subject": mail.subject,
                "template": mail.template,
                "locale": mail.locale,
                "backend": mail.backend,
                "created_at": utc_z(mail.created_at),
            }
            for mail in session.exec(query).all()
        ]
