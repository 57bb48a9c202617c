"""Notification Service: mail the customer about their booking (DESIGN.md section 9).

Mails go out on ``booking.created`` (with the payment link and the hold's expiry),
``payment.failed`` (with the same link, while the booking still awaits payment),
``booking.confirmed``, ``booking.expired`` and ``booking.cancelled``; other events are ignored.
Everything comes from the event payload: booking events carry the booking view, payment events
the payment view plus ``booking`` (the booking view) and ``resource_name``.

Templates live in ``templates/{locale}/{kind}.subject.txt``, ``.txt`` and ``.html`` (HTML
autoescaped); a locale is added by adding its folder. The ``Message-ID`` comes from the event
id, so a redelivered event produces the same message (receivers and the file backend drop
repeats).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime as rfc5322_date
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from data.db import UnitOfWork
from data.models import MailMessage
from domain.money import Money, format_money
from messaging.consumer import Clock, Handler
from messaging.envelope import CloudEvent
from notifications.mailer import Mailer

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "en"

KINDS = {
    "booking.created": "booking_created",
    "payment.failed": "payment_failed",
    "booking.confirmed": "booking_confirmed",
    "booking.expired": "booking_expired",
    "booking.cancelled": "booking_cancelled",
}
"""Event type -> template name; events of other types send no mail."""

WITH_PAYMENT_LINK = {"booking_created", "payment_failed"}


def template_environment() -> Environment:
    """The Jinja2 environment of the mail templates (HTML autoescaped, undefined names fail)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def make_notification_handler(
    uow: UnitOfWork, mailer: Mailer, *, public_url: str, mail_from: str, clock: Clock
) -> Handler:
    """A handler that mails the customer (when the booking has an email) and logs the mail in
    ``MailMessage``.

    ``public_url`` is the base of the payment link ``{public_url}/pay/{booking_id}``;
    ``mail_from`` is the ``From`` header (``Name <address>``), whose domain also ends the
    ``Message-ID`` ``<{event id}@{domain}>``. Raises ``ValueError`` for a payment event without
    its ``booking``; errors of the mailer propagate (the delivery is redelivered).
    """
    environment = template_environment()
    public_url = public_url.rstrip("/")
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "booking-desk"

    def handle(event: CloudEvent) -> None:
        kind = KINDS.get(event.type)
        if kind is None:
            return
        booking = event.data.get("booking") if event.type.startswith("payment.") else event.data
        if not isinstance(booking, dict):
            raise ValueError(f"{event.type} event {event.id} carries no booking")
        email = (booking.get("customer") or {}).get("email")
        if not email:
            log.info("no mail for event=%s type=%s: booking %s has no email", event.id, event.type, booking.get("id"))
            return
        if kind == "payment_failed" and booking.get("status") != "pending_payment":
            log.info("no mail for event=%s: booking %s is %s", event.id, booking.get("id"), booking.get("status"))
            return

        locale = mail_locale(booking.get("locale"))
        context = mail_context(event, booking, locale, public_url if kind in WITH_PAYMENT_LINK else None)
        message = render_message(environment, kind, locale, context)
        message["From"] = mail_from
        message["To"] = Address(display_name=booking["customer"].get("name") or "", addr_spec=email)
        message["Message-ID"] = f"<{event.id}@{domain}>"
        message["Date"] = rfc5322_date(clock())
        message["Auto-Submitted"] = "auto-generated"

        mailer.send(message)
        log.info("mailed %s for event=%s type=%s via %s", kind, event.id, event.type, mailer.backend)
        _record(uow, message, event, booking.get("id"), kind, locale, mailer.backend, clock)

    return handle


def mail_locale(requested: object) -> str:
    """The template folder for a booking's ``locale``: its language part (``ru-RU``, ``ru_RU`` ->
    ``ru``) when that folder exists, else ``DEFAULT_LOCALE``. Every babel call of the mail uses
    the same value, so texts, dates and money always agree."""
    language = re.split(r"[-_]", str(requested or "").strip().lower(), maxsplit=1)[0]
    if re.fullmatch(r"[a-z]{2,3}", language) and (TEMPLATES / language).is_dir():
        return language
    return DEFAULT_LOCALE


def mail_context(event: CloudEvent, booking: dict[str, Any], locale: str, public_url: str | None) -> dict[str, Any]:
    """Template variables: ``locale``, ``booking`` (the view), ``customer_name``, ``resource_name``,
    ``starts``/``ends`` (local time of the resource), ``zone_label`` (its zone and offset),
    ``price``, ``hold_expires`` (in the resource's timezone), ``pay_url`` (or ``None``), ``payment`` (the
    payment view for payment events, else ``None``)."""
    start = datetime.fromisoformat(booking["start"])
    end = datetime.fromisoformat(booking["end"])
    zone = ZoneInfo(booking["timezone"]) if booking.get("timezone") else start.tzinfo
    hold = booking.get("hold_expires_at")
    hold_local = datetime.fromisoformat(hold.replace("Z", "+00:00")).astimezone(zone) if hold else None
    price = booking.get("price") or {}
    is_payment = event.type.startswith("payment.")
    return {
        "locale": locale,
        "booking": booking,
        "customer_name": (booking.get("customer") or {}).get("name") or "",
        "resource_name": booking.get("resource_name") or event.data.get("resource_name") or "",
        "starts": _local(start, locale),
        "ends": format_time(end, "short", locale=locale) if end.date() == start.date() else _local(end, locale),
        "price": format_money(Money(price["amount"], price["currency"]), locale) if price else "",
        "hold_expires": _local(hold_local, locale) if hold_local else None,
        "zone_label": _zone_label(start, booking.get("timezone")),
        "pay_url": f"{public_url}/pay/{booking['id']}" if public_url else None,
        "payment": event.data if is_payment else None,
    }


def render_message(environment: Environment, kind: str, locale: str, context: dict[str, Any]) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with its ``Subject``, from the
    templates ``{locale}/{kind}.subject.txt``, ``.txt`` and ``.html``."""
    subject = environment.get_template(f"{locale}/{kind}.subject.txt").render(context)
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message.set_content(environment.get_template(f"{locale}/{kind}.txt").render(context))
    message.add_alternative(environment.get_template(f"{locale}/{kind}.html").render(context), subtype="html")
    return message


def _zone_label(start: datetime, timezone: str | None) -> str:
    """``Europe/Berlin, UTC+01:00``: the resource's zone and its offset at the booking's start."""
    offset = start.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset else ""
    return ", ".join(part for part in (timezone, utc) if part)


def _local(moment: datetime, locale: str) -> str:
    """Date and time as written in ``locale``, in the moment's own offset (no conversion), e.g.
    ``December 1, 2026, 10:00 AM`` (en) or ``1 декабря 2026 г., 10:00`` (ru)."""
    return f"{format_date(moment, 'long', locale=locale)}, {format_time(moment, 'short', locale=locale)}"


def _record(
    uow: UnitOfWork,
    message: EmailMessage,
    event: CloudEvent,
    booking_id: str | None,
    kind: str,
    locale: str,
    backend: str,
    clock: Clock,
) -> None:
    """Log the mail once per ``Message-ID``; a redelivered event finds it already there."""
    message_id = str(message["Message-ID"])
    with uow.begin() as session:
        if session.exec(select(MailMessage.id).where(MailMessage.message_id == message_id)).first() is not None:
            return
        session.add(
            MailMessage(
                message_id=message_id,
                event_id=event.id,
                booking_id=booking_id,
                recipient=str(message["To"].addresses[0].addr_spec),
                subject=str(message["Subject"])[:300],
                template=kind,
                locale=locale,
                backend=backend,
                created_at=clock(),
            )
        )
        try:
            session.commit()
        except IntegrityError:
            log.info("mail %s was already logged", message_id)
