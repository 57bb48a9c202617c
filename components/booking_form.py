"""What the booking wizard and the kiosk say about a booking's input, in the user's language:
checks of the customer's contact before anything is sent, and domain errors of
``create_booking`` / ``start_payment`` turned into a plain message for one part of the form.

Forms have three parts: ``slot`` (resource, start, number of slots), ``customer`` (name, email,
phone, each reported on its own field) and ``general`` (anything else).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from components.i18n import register
from domain.errors import DomainError, InvalidState, NotFound, ProviderError, SlotUnavailable, ValidationProblem

register(
    {
        "en": {
            "form.name_required": "Name: enter the customer's name.",
            "form.name_too_long": "Name: at most 200 characters.",
            "form.email_invalid": "Email: this is not an email address (expected name@example.com).",
            "form.phone_invalid": "Phone: use digits, spaces and an optional leading + (at least 5 digits).",
            "form.contact_required": (
                "Email or phone: give at least one, so the payment link and confirmation reach the customer."
            ),
            "form.slot_required": "Slot: choose a free time first.",
            "form.slot_unavailable": "Slot: this time was taken a moment ago. Please choose another free slot.",
            "form.start_past": "Slot: this time is already in the past. Please choose a later slot.",
            "form.start_closed": "Slot: the resource is closed at this time. Please choose a free slot from the list.",
            "form.start_off_grid": "Slot: this is not a start time of the resource's slots.",
            "form.slots_unavailable": (
                "Number of slots: not enough back-to-back slots within opening hours from this start."
            ),
            "form.resource_missing": "Resource: it no longer exists or is not bookable.",
            "form.cannot_pay": "Payment: this booking cannot be paid any more ({detail}).",
            "form.provider_down": (
                "Payment: the payment provider is not answering. The booking "
                "is held; try the pay link again in a minute."
            ),
            "form.failed": "Something went wrong: {detail}",
        },
        "ru": {
            "form.name_required": "Имя: укажите имя клиента.",
            "form.name_too_long": "Имя: не больше 200 символов.",
            "form.email_invalid": "Email: это не адрес электронной почты (ожидается name@example.com).",
            "form.phone_invalid": "Телефон: только цифры, пробелы и необязательный + в начале (не меньше 5 цифр).",
            "form.contact_required": (
                "Email или телефон: укажите хотя бы одно, чтобы клиент получил ссылку на оплату и подтверждение."
            ),
            "form.slot_required": "Слот: сначала выберите свободное время.",
            "form.slot_unavailable": "Слот: это время только что заняли. Выберите другой свободный слот.",
            "form.start_past": "Слот: это время уже прошло. Выберите более поздний слот.",
            "form.start_closed": "Слот: в это время ресурс закрыт. Выберите свободный слот из списка.",
            "form.start_off_grid": "Слот: в это время слоты ресурса не начинаются.",
            "form.slots_unavailable": (
                "Количество слотов: от этого начала не хватает идущих подряд слотов в часы работы."
            ),
            "form.resource_missing": "Ресурс: он больше не существует или недоступен для брони.",
            "form.cannot_pay": "Оплата: эту бронь больше нельзя оплатить ({detail}).",
            "form.provider_down": (
                "Оплата: платёжная система не отвечает. Бронь удерживается; попробуйте ссылку на оплату через минуту."
            ),
            "form.failed": "Что-то пошло не так: {detail}",
        },
    }
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[\d\s\-()]+$")
MAX_NAME, MAX_EMAIL, MAX_PHONE = 200, 254, 40  # column sizes of data/models.py Booking


def check_customer(name: str, email: str, phone: str, t: Callable[..., str]) -> dict[str, str]:
    """Messages per field (``name``, ``email``, ``phone``) for a customer the desk or the kiosk
    entered; empty when it may be sent. The rule "email or phone" is DESIGN.md section 5's."""
    name, email, phone = name.strip(), email.strip(), phone.strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = t("form.name_required")
    elif len(name) > MAX_NAME:
        errors["name"] = t("form.name_too_long")
    if email and (len(email) > MAX_EMAIL or not EMAIL.match(email)):
        errors["email"] = t("form.email_invalid")
    digits = sum(char.isdigit() for char in phone)
    if phone and (len(phone) > MAX_PHONE or not PHONE.match(phone) or digits < 5):
        errors["phone"] = t("form.phone_invalid")
    if not email and not phone:
        errors["email"] = errors["phone"] = t("form.contact_required")
    return errors


def explain(error: DomainError, t: Callable[..., str]) -> tuple[str, str]:
    """``(part, message)`` for a domain error of ``create_booking`` or ``start_payment``; ``part``
    is ``slot``, ``email`` / ``phone`` (contact), or ``general``."""
    detail = error.detail
    if isinstance(error, SlotUnavailable):
        return "slot", t("form.slot_unavailable")
    if isinstance(error, NotFound):
        return "slot", t("form.resource_missing")
    if isinstance(error, InvalidState):
        return "general", t("form.cannot_pay", detail=detail)
    if isinstance(error, ProviderError):
        return "general", t("form.provider_down")
    if isinstance(error, ValidationProblem):
        if error.field == "start":
            if "past" in detail:
                return "slot", t("form.start_past")
            if "opening hours" in detail:
                return "slot", t("form.start_closed")
            return "slot", t("form.start_off_grid")
        if error.field == "slots":
            return "slot", t("form.slots_unavailable")
        if error.field == "customer":
            return "email", t("form.contact_required")
    return "general", t("form.failed", detail=detail)
