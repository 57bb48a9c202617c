"""Customer mails in both languages (DESIGN.md section 9; issue 3, "every mail template in en and
ru"): every kind renders in every locale, Russian mails carry no English but proper names, and
dates, times and money are formatted for the mail's locale (the booking's ``locale``)."""

from __future__ import annotations

import re
import unicodedata

import pytest

from notifications.handlers import KINDS, TEMPLATES, mail_locale, make_notification_handler
from notifications.mailer import FileMailer
from tests.test_notifications_mail import (
    BOOKING_ID,
    MAIL_FROM,
    PUBLIC_URL,
    bodies,
    booking_view,
    event_of,
    payment_failed_data,
    written,
)

LOCALES = ("en", "ru")
STATUS = {
    "booking.created": "pending_payment",
    "payment.failed": "pending_payment",
    "booking.confirmed": "confirmed",
    "booking.expired": "expired",
    "booking.cancelled": "cancelled",
}
PROPER_NAMES = ("Booking Desk", "Court 1")
"""Latin text allowed in a Russian mail: the product's and the resource's names."""


@pytest.fixture
def database_url(tmp_path) -> str:
    """Rendering does not depend on the database: SQLite only (overrides the conftest matrix)."""
    return f"sqlite:///{tmp_path}/booking.db"


def mail_of(uow, clock, tmp_path, type_: str, locale: str, **changes):
    """Handle one event of ``type_`` for a booking in ``locale``; return the one message written."""
    folder = tmp_path / f"mail-{type_}-{locale}"
    handler = make_notification_handler(
        uow, FileMailer(folder), public_url=PUBLIC_URL, mail_from=MAIL_FROM, clock=clock
    )
    changes.setdefault("customer", {"name": "Анна Петрова", "email": "anna@example.test", "phone": None})
    booking = booking_view(status=STATUS[type_], locale=locale, **changes)
    data = payment_failed_data(booking) if type_ == "payment.failed" else booking
    handler(event_of(type_, data, event_id=f"evt-{type_}-{locale}"))
    [message] = written(folder)
    return message


def plain(text: str) -> str:
    """Text with no-break and narrow spaces (babel's group and currency separators) made spaces."""
    return "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in text)


def visible_html(html: str) -> str:
    """The words a reader sees in an HTML body: tags dropped, entities left as they are."""
    return re.sub(r"<[^>]+>", " ", html)


def english_words(text: str) -> list[str]:
    """Latin words left after removing proper names, links, zone names and the booking reference."""
    for allowed in (*PROPER_NAMES, BOOKING_ID):
        text = text.replace(allowed, " ")
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\b[A-Z][a-z]+/[A-Za-z_]+\b|\bUTC\b", " ", text)  # IANA zone names and UTC offsets
    return re.findall(r"[A-Za-z]{2,}", text)


def test_every_mail_has_its_templates_in_every_locale():
    for locale in LOCALES:
        for kind in KINDS.values():
            for suffix in (".subject.txt", ".txt", ".html"):
                assert (TEMPLATES / locale / f"{kind}{suffix}").is_file(), f"{locale}/{kind}{suffix}"
    assert {p.name for p in (TEMPLATES / "ru").iterdir()} >= {p.name for p in (TEMPLATES / "en").iterdir()}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("type_", list(KINDS))
def test_every_kind_renders_in_every_locale(uow, clock, tmp_path, type_, locale):
    message = mail_of(uow, clock, tmp_path, type_, locale)

    text, html = bodies(message)
    assert message["Subject"].strip()
    assert f'lang="{locale}"' in html
    assert "{{" not in text + html and "{%" not in text + html
    assert "Анна Петрова" in text and "Анна Петрова" in html
    assert "Court 1" in message["Subject"]
    has_link = type_ in {"booking.created", "payment.failed"}
    assert (f"{PUBLIC_URL}/pay/{BOOKING_ID}" in text) is has_link
    assert (f'href="{PUBLIC_URL}/pay/{BOOKING_ID}"' in html) is has_link


@pytest.mark.parametrize("type_", list(KINDS))
def test_russian_mails_are_russian_with_russian_dates_and_money(uow, clock, tmp_path, type_):
    message = mail_of(uow, clock, tmp_path, type_, "ru")

    text, html = bodies(message)
    subject = str(message["Subject"])
    for part in (subject, text, visible_html(html)):
        assert re.search("[а-яё]", part), part
        assert english_words(part) == [], part
    for body in (plain(text), plain(html)):
        assert "1 500,00 ₽" in body
        assert "1 декабря 2026 г., 10:00 – 11:00" in body
    assert "Здравствуйте, Анна Петрова!" in text
    if type_ in {"booking.created", "payment.failed"}:
        assert "1 декабря 2026 г., 09:15" in plain(text)  # the hold, 06:15 UTC, in the resource's +03:00


@pytest.mark.parametrize("type_", list(KINDS))
def test_english_mails_keep_english_formats(uow, clock, tmp_path, type_):
    message = mail_of(uow, clock, tmp_path, type_, "en")

    text, html = bodies(message)
    assert not re.search("[а-яё]", str(message["Subject"]) + visible_html(html).replace("Анна Петрова", ""))
    assert "December 1, 2026" in text and "1,500.00" in text
    assert "Hello Анна Петрова," in text


def test_russian_payment_failed_names_known_reasons_and_hides_unknown_codes(uow, clock, tmp_path):
    known = mail_of(uow, clock, tmp_path, "payment.failed", "ru")
    assert "(банк отклонил карту)" in bodies(known)[0]

    folder = tmp_path / "unknown"
    handler = make_notification_handler(
        uow, FileMailer(folder), public_url=PUBLIC_URL, mail_from=MAIL_FROM, clock=clock
    )
    data = payment_failed_data(booking_view(locale="ru")) | {"failure_reason": "do_not_honor_xyz"}
    handler(event_of("payment.failed", data, event_id="evt-unknown-reason"))
    [message] = written(folder)
    text, html = bodies(message)
    assert "do_not_honor_xyz" not in text + html
    assert "Оплата не прошла." in text


def test_mail_greets_without_a_comma_when_the_name_is_empty(uow, clock, tmp_path):
    customer = {"name": "", "email": "anon@example.test", "phone": None}
    ru = mail_of(uow, clock, tmp_path, "booking.confirmed", "ru", customer=customer)
    assert bodies(ru)[0].startswith("Здравствуйте!\n")


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("ru_RU", "ru"),
        ("RU", "ru"),
        ("en", "en"),
        ("de", "en"),
        (None, "en"),
        ("..", "en"),
    ],
)
def test_mail_locale_takes_the_language_of_the_booking_locale(requested, chosen):
    assert mail_locale(requested) == chosen
