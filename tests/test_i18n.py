"""Both languages are complete, and domain errors read in the user's language."""

from __future__ import annotations

import importlib
import pkgutil

import pages
from components.i18n import error_text, missing_keys, translate
from domain.errors import SlotUnavailable, ValidationProblem


def test_every_text_of_every_screen_exists_in_english_and_russian():
    for info in pkgutil.iter_modules(pages.__path__):
        importlib.import_module(f"pages.{info.name}")  # each screen registers its texts on import
    assert missing_keys() == {}
    assert translate("ru", "nav.bookings") == "Брони" and translate("en", "nav.bookings") == "Bookings"


def test_domain_errors_read_in_russian_and_keep_their_english_detail_in_english():
    short = ValidationProblem("password must have at least 8 characters", field="password")
    assert error_text("ru", short) == "Пароль должен содержать не менее 8 символов."
    assert error_text("en", short) == "password must have at least 8 characters"
    taken = SlotUnavailable("the slot starting 2026-12-01T10:00:00+01:00 is already taken", field="start")
    assert error_text("ru", taken) == "Этот слот уже занят."
    odd = ValidationProblem("something unforeseen", field="nowhere")
    assert error_text("ru", odd) == "Проверьте введённые данные (something unforeseen)."
