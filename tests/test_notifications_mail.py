"""Customer mails written as .eml files by the Notification Service (DESIGN.md section 9)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from data.models import MailMessage
from messaging.envelope import CloudEvent
from notifications.handlers import make_notification_handler
from notifications.mailer import FileMailer

BOOKING_ID = "6b0f8d5e-2a3c-4e1f-9b7a-1c2d3e4f5a6b"
PUBLIC_URL = "https://desk.example.test"
MAIL_FROM = "Booking Desk <no-reply@desk.example.test>"


def booking_view(**changes) -> dict:
    view = {
        "id": BOOKING_ID,
        "resource_id": 1,
        "resource_name": "Court 1",
        "start": "2026-12-01T10:00:00+03:00",
        "end": "2026-12-01T11:00:00+03:00",
        "slots": 1,
        "status": "pending_payment",
        "customer": {"name": "Guest Person", "email": "guest@example.test", "phone": None},
        "notes": None,
        "price": {"amount": 150000, "currency": "RUB"},
        "locale": "en",
        "hold_expires_at": "2026-12-01T06:15:00Z",
        "created_at": "2026-12-01T06:00:00Z",
        "updated_at": "2026-12-01T06:00:00Z",
        "payments": [],
    }
    view.update(changes)
    return view


def payment_failed_data(booking: dict) -> dict:
    return {
        "id": "pay-1",
        "booking_id": booking["id"],
        "status": "failed",
        "amount": booking["price"],
        "provider": "sandbox",
        "failure_reason": "card_declined",
        "booking": booking,
        "resource_name": booking["resource_name"],
    }


def event_of(type_: str, data: dict, event_id: str = "0d9e6c1a-8f7b-4c3d-a2e1-5f4b3c2d1e0f") -> CloudEvent:
    return CloudEvent(
        id=event_id, type=type_, time=datetime(2026, 12, 1, 6, 0, tzinfo=UTC), data=data, subject=BOOKING_ID
    )


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def handler(uow, folder, clock):
    return make_notification_handler(uow, FileMailer(folder), public_url=PUBLIC_URL, mail_from=MAIL_FROM, clock=clock)


def written(folder: Path) -> list[EmailMessage]:
    if not folder.exists():
        return []
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(folder.glob("*.eml"))]


def bodies(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def logged(uow) -> list[tuple[str, str, str, str]]:
    with uow.begin() as session:
        rows = session.exec(select(MailMessage)).all()
        return [(row.message_id, row.recipient, row.template, row.backend) for row in rows]


def test_booking_created_mails_the_payment_link_and_hold_expiry(uow, handler, folder):
    event = event_of("booking.created", booking_view())

    handler(event)

    [message] = written(folder)
    assert message["From"] == MAIL_FROM
    assert message["To"] == "Guest Person <guest@example.test>"
    assert message["Message-ID"] == f"<{event.id}@desk.example.test>"
    assert message.get_content_type() == "multipart/alternative"
    assert "Court 1" in message["Subject"]
    text, html = bodies(message)
    assert f"{PUBLIC_URL}/pay/{BOOKING_ID}" in text
    assert f'href="{PUBLIC_URL}/pay/{BOOKING_ID}"' in html
    assert "9:15" in text  # the hold (06:15 UTC) in the resource's offset, +03:00
    assert "10:00" in text and "11:00" in text
    assert "1,500.00" in text
    assert logged(uow) == [(f"<{event.id}@desk.example.test>", "guest@example.test", "booking_created", "file")]


def test_times_name_the_resources_zone_and_the_hold_follows_it_across_a_dst_switch(uow, handler, folder):
    # Booked on 2026-10-20 (CEST, +02:00) for 2026-10-27 (CET, +01:00): the hold shows in summer time.
    view = booking_view(
        timezone="Europe/Berlin",
        start="2026-10-27T10:00:00+01:00",
        end="2026-10-27T11:00:00+01:00",
        hold_expires_at="2026-10-20T08:15:00Z",
    )
    handler(event_of("booking.created", view))

    [message] = written(folder)
    text, _html = bodies(message)
    assert "(Europe/Berlin, UTC+01:00)\nPrice:" in text.replace("\r\n", "\n")  # the line ends there
    assert "October 20, 2026, 10:15" in text  # 08:15 UTC in Berlin summer time, not +01:00's 09:15


def test_redelivered_event_keeps_its_message_id_and_writes_one_file(uow, handler, folder):
    event = event_of("booking.created", booking_view())

    handler(event)
    handler(event)

    assert len(list(folder.iterdir())) == 1
    assert [m["Message-ID"] for m in written(folder)] == [f"<{event.id}@desk.example.test>"]
    assert len(logged(uow)) == 1


@pytest.mark.parametrize(
    ("type_", "status", "words"),
    [
        ("booking.confirmed", "confirmed", "confirmed"),
        ("booking.expired", "expired", "expired"),
        ("booking.cancelled", "cancelled", "cancelled"),
    ],
)
def test_booking_lifecycle_events_mail_the_customer(uow, handler, folder, type_, status, words):
    handler(event_of(type_, booking_view(status=status)))

    [message] = written(folder)
    text, html = bodies(message)
    assert words in message["Subject"]
    assert words in text and words in html
    assert "/pay/" not in text


def test_payment_failed_mails_the_link_while_the_booking_awaits_payment(uow, handler, folder):
    handler(event_of("payment.failed", payment_failed_data(booking_view())))

    [message] = written(folder)
    text, _ = bodies(message)
    assert f"{PUBLIC_URL}/pay/{BOOKING_ID}" in text
    assert "card_declined" in text
    assert logged(uow)[0][2] == "payment_failed"


def test_payment_failed_for_a_booking_no_longer_pending_sends_nothing(uow, handler, folder):
    handler(event_of("payment.failed", payment_failed_data(booking_view(status="confirmed"))))

    assert written(folder) == []
    assert logged(uow) == []


def test_no_mail_without_an_email_or_for_other_events(uow, handler, folder):
    no_email = booking_view(customer={"name": "Walk-in", "email": None, "phone": "+79991234567"})
    handler(event_of("booking.created", no_email))
    handler(event_of("payment.succeeded", {"id": "pay-1", "booking": booking_view()}))

    assert written(folder) == []


def test_html_is_autoescaped_and_unknown_locale_falls_back_to_english(uow, handler, folder):
    booking = booking_view(locale="de", customer={"name": "<b>Eve</b>", "email": "eve@example.test", "phone": None})

    handler(event_of("booking.confirmed", booking))

    [message] = written(folder)
    text, html = bodies(message)
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve</b>" not in html
    assert "Hello <b>Eve</b>" in text
    assert 'lang="en"' in html


def test_payment_event_without_its_booking_fails_the_delivery(handler):
    with pytest.raises(ValueError, match="carries no booking"):
        handler(event_of("payment.failed", {"id": "pay-1"}))
