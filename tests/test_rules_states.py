"""State machines, money and settings: pure rules."""

from __future__ import annotations

import pytest

from domain.errors import InvalidState
from domain.money import Money, format_money
from domain.states import BOOKING_TRANSITIONS, BookingStatus, can_transition, check_transition
from payment.states import PAYMENT_TRANSITIONS, PaymentStatus
from settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("pending_payment", "confirmed", True),
        ("pending_payment", "expired", True),
        ("pending_payment", "cancelled", True),
        ("confirmed", "cancelled", True),
        ("confirmed", "pending_payment", False),
        ("confirmed", "expired", False),
        ("expired", "confirmed", False),
        ("cancelled", "confirmed", False),
    ],
)
def test_booking_transitions(current, target, allowed):
    assert can_transition(BOOKING_TRANSITIONS, current, target) is allowed
    if not allowed:
        with pytest.raises(InvalidState):
            check_transition(BOOKING_TRANSITIONS, "booking", current, target)


def test_payment_transitions_never_downgrade_success():
    assert can_transition(PAYMENT_TRANSITIONS, PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)
    assert can_transition(PAYMENT_TRANSITIONS, PaymentStatus.PENDING, PaymentStatus.FAILED)
    assert can_transition(PAYMENT_TRANSITIONS, PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    assert not can_transition(PAYMENT_TRANSITIONS, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED)
    assert not can_transition(PAYMENT_TRANSITIONS, PaymentStatus.FAILED, PaymentStatus.SUCCEEDED)
    assert set(BookingStatus) == set(BOOKING_TRANSITIONS)


def test_money_is_integer_minor_units_with_a_currency():
    assert Money(150_000, "RUB") * 2 == Money(300_000, "RUB")
    assert format_money(Money(150_000, "RUB"), "en") == "RUB1,500.00"
    assert format_money(Money(150_000, "RUB"), "ru").replace("\xa0", " ") == "1 500,00 ₽"
    with pytest.raises(TypeError):
        Money(15.5, "RUB")
    with pytest.raises(ValueError):
        Money(100, "rub")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOOKING_PORT", "eighty", "BOOKING_PORT"),
        ("BOOKING_HOLD_SECONDS", "-5", "BOOKING_HOLD_SECONDS"),
        ("BOOKING_RETRY_DELAYS_SECONDS", "5,soon", "BOOKING_RETRY_DELAYS_SECONDS"),
        ("BOOKING_TIMEZONE", "Mars/Olympus", "BOOKING_TIMEZONE"),
        ("BOOKING_PAYMENT_PROVIDER", "paypal", "BOOKING_PAYMENT_PROVIDER"),
        ("BOOKING_LOCALE", "de", "BOOKING_LOCALE"),
        ("BOOKING_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network", "BOOKING_TRUSTED_PROXIES"),
        ("BOOKING_SMTP_URL", "ftp://mail.example.test", "BOOKING_SMTP_URL"),
        ("BOOKING_HOST", "999.999.1.1", "BOOKING_HOST"),
        ("BOOKING_PUBLIC_URL", "notaurl", "BOOKING_PUBLIC_URL"),
        ("BOOKING_INTEGRATION_WEBHOOK_URLS", "ftp://x", "BOOKING_INTEGRATION_WEBHOOK_URLS"),
        ("BOOKING_RETURN_URL_HOSTS", "not a host!", "BOOKING_RETURN_URL_HOSTS"),
        ("BOOKING_MAIL_FROM", "notanaddress", "BOOKING_MAIL_FROM"),
        ("BOOKING_AMQP_URL", "http://x", "BOOKING_AMQP_URL"),
        ("BOOKING_DATABASE_URL", "bogus://x", "BOOKING_DATABASE_URL"),
    ],
)
def test_a_bad_setting_names_its_variable_in_one_line(monkeypatch, tmp_path, variable, value, message):
    monkeypatch.setenv("BOOKING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_settings_defaults_and_generated_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOKING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BOOKING_RETRY_DELAYS_SECONDS", "0.5, 2")
    settings = load_settings()
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.database_url == f"sqlite:///{tmp_path}/booking.db"
    assert settings.retry_delays == [0.5, 2.0]
    assert settings.sandbox_webhook_secret.startswith("whsec_")
    assert load_settings().sandbox_webhook_secret == settings.sandbox_webhook_secret
