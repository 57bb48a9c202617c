"""Resend a booking's newest mail at staff's request (booking detail screen, "Resend mail").

The mail is rendered again from the event that caused it, with the Notification Service's own
template functions (``notifications.handlers``), so it reads exactly like the original. It gets
a fresh ``Message-ID`` (``<{event id}.resend-{n}@{domain}>``): receivers drop repeats of the
same id, and staff resend precisely because the first one did not arrive or was lost.
"""

from __future__ import annotations

import logging
from email.headerregistry import Address
from email.utils import format_datetime as rfc5322_date
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from data.db import UnitOfWork
from data.models import MailMessage, OutboxEvent
from messaging.consumer import Clock
from messaging.outbox import to_envelope
from notifications.handlers import (
    KINDS,
    WITH_PAYMENT_LINK,
    _record,
    mail_context,
    mail_locale,
    render_message,
    template_environment,
)
from notifications.mailer import Mailer

log = logging.getLogger(__name__)


def resend_latest_mail(
    uow: UnitOfWork, mailer: Mailer, booking_id: str, *, public_url: str, mail_from: str, clock: Clock
) -> dict[str, Any] | None:
    """Send the booking's newest logged mail again and log the copy in ``MailMessage``.

    Returns ``{"message_id", "recipient", "subject", "template", "event_id"}`` of the copy, or
    ``None`` when no mail was sent for the booking yet (nothing to resend). The copy goes to the
    address the original went to (the one in the event). Errors of the mailer propagate; nothing
    is logged then.
    """
    public_url = public_url.rstrip("/")
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "booking-desk"
    with uow.begin() as session:
        latest = session.exec(
            select(MailMessage)
            .where(MailMessage.booking_id == booking_id)
            .order_by(MailMessage.created_at.desc(), MailMessage.id.desc())
        ).first()
        if latest is None:
            return None
        row = session.get(OutboxEvent, latest.event_id)
        if row is None:
            log.warning("mail %s of booking %s: its event %s is gone", latest.message_id, booking_id, latest.event_id)
            return None
        event = to_envelope(row)
        earlier = session.exec(
            select(func.count()).select_from(MailMessage).where(MailMessage.event_id == event.id)
        ).one()
    kind = KINDS.get(event.type, latest.template)
    booking = event.data.get("booking") if event.type.startswith("payment.") else event.data
    if not isinstance(booking, dict) or not (booking.get("customer") or {}).get("email"):
        return None
    locale = mail_locale(booking.get("locale"))
    context = mail_context(event, booking, locale, public_url if kind in WITH_PAYMENT_LINK else None)
    message = render_message(template_environment(), kind, locale, context)
    message["From"] = mail_from
    message["To"] = Address(display_name=booking["customer"].get("name") or "", addr_spec=booking["customer"]["email"])
    message["Message-ID"] = f"<{event.id}.resend-{earlier}@{domain}>"
    message["Date"] = rfc5322_date(clock())
    message["Auto-Submitted"] = "auto-generated"
    mailer.send(message)
    log.info("resent %s for booking %s (event=%s) as %s", kind, booking_id, event.id, message["Message-ID"])
    _record(uow, message, event, booking_id, kind, locale, mailer.backend, clock)
    return {
        "message_id": str(message["Message-ID"]),
        "recipient": booking["customer"]["email"],
        "subject": str(message["Subject"]),
        "template": kind,
        "event_id": event.id,
    }
