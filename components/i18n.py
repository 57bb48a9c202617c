"""Dashboard texts in English and Russian.

Each page module registers its own texts with ``register({"en": {...}, "ru": {...}})`` so screens
can be written side by side; ``translator(locale)`` returns ``t(key, **values)``. A key missing in
a language falls back to English, then to the key itself (tests check that none is missing).
"""

from __future__ import annotations

from collections.abc import Callable

LOCALES = ("en", "ru")
LOCALE_NAMES = {"en": "English", "ru": "Русский"}
_CATALOG: dict[str, dict[str, str]] = {locale: {} for locale in LOCALES}


def register(texts: dict[str, dict[str, str]]) -> None:
    """Add texts: ``{"en": {key: text}, "ru": {key: text}}``; texts may use ``{name}`` fields."""
    for locale, entries in texts.items():
        if locale not in _CATALOG:
            raise ValueError(f"unknown locale {locale!r}; known: {', '.join(LOCALES)}")
        _CATALOG[locale].update(entries)


def translate(locale: str, key: str, **values: object) -> str:
    """The text for ``key`` in ``locale`` with ``values`` filled in."""
    text = _CATALOG.get(locale, {}).get(key) or _CATALOG["en"].get(key) or key
    return text.format(**values) if values else text


def translator(locale: str) -> Callable[..., str]:
    """``t(key, **values)`` bound to ``locale``."""
    return lambda key, **values: translate(locale, key, **values)


def error_text(locale: str, error: object) -> str:
    """A domain error for people in ``locale``: the text registered as ``error.{code}.{field}`` or
    ``error.{code}`` in that language (``{detail}`` in it is filled with the error's detail), else
    the error's own (English, specific) ``detail``."""
    code, field = getattr(error, "code", ""), getattr(error, "field", None)
    detail = str(getattr(error, "detail", error))
    entries = _CATALOG.get(locale, {})
    if locale == "en":
        return detail
    text = entries.get(f"error.{code}.{field}") or entries.get(f"error.{code}")
    return text.format(detail=detail) if text else detail


def missing_keys() -> dict[str, list[str]]:
    """Keys that some locale lacks, per locale (for the test that keeps both languages complete).
    ``error.*`` keys are translations of English error details, so English needs none."""
    every = {key for entries in _CATALOG.values() for key in entries if not key.startswith("error.")}
    return {locale: sorted(every - entries.keys()) for locale, entries in _CATALOG.items() if every - entries.keys()}


register(
    {
        "en": {
            "app.name": "Booking Desk",
            "nav.overview": "Overview",
            "nav.availability": "Availability",
            "nav.new_booking": "New booking",
            "nav.bookings": "Bookings",
            "nav.payments": "Payments",
            "nav.events": "Events",
            "nav.notifications": "Notifications",
            "nav.settings": "Settings",
            "nav.kiosk": "Kiosk",
            "nav.api_docs": "API docs",
            "user.logout": "Sign out",
            "user.role.staff": "Front desk",
            "user.role.manager": "Manager",
            "live.connected": "Live",
            "error.forbidden": "This screen needs the manager role.",
            "status.pending_payment": "pending payment",
            "status.confirmed": "confirmed",
            "status.expired": "expired",
            "status.cancelled": "cancelled",
            "status.pending": "pending",
            "status.succeeded": "succeeded",
            "status.failed": "failed",
            "status.refunded": "refunded",
            "status.retrying": "retrying",
            "status.dead": "dead",
            "table.rows_per_page": "Rows per page:",
            "table.no_data": "No data",
            "table.no_results": "Nothing matches",
            "table.of": "of",
            "consumer.integration": "integration",
            "consumer.notification": "notification",
            "delivery.pending": "pending",
            "delivery.retrying": "retrying",
            "delivery.succeeded": "delivered",
            "delivery.dead": "dead",
            "webhook.outcome.applied": "applied",
            "webhook.outcome.duplicate": "duplicate",
            "webhook.outcome.ignored": "ignored",
            "webhook.outcome.rejected": "rejected",
            "webhook.outcome.error": "error",
        },
        "ru": {
            "app.name": "Booking Desk",
            "nav.overview": "Обзор",
            "nav.availability": "Занятость",
            "nav.new_booking": "Новая бронь",
            "nav.bookings": "Брони",
            "nav.payments": "Платежи",
            "nav.events": "События",
            "nav.notifications": "Уведомления",
            "nav.settings": "Настройки",
            "nav.kiosk": "Киоск",
            "nav.api_docs": "Документация API",
            "user.logout": "Выйти",
            "user.role.staff": "Администратор стойки",
            "user.role.manager": "Менеджер",
            "live.connected": "Онлайн",
            "error.forbidden": "Этот экран доступен только менеджеру.",
            "status.pending_payment": "ожидает оплаты",
            "status.confirmed": "подтверждена",
            "status.expired": "истекла",
            "status.cancelled": "отменена",
            "status.pending": "в обработке",
            "status.succeeded": "оплачен",
            "status.failed": "ошибка",
            "status.refunded": "возвращён",
            "status.retrying": "повтор",
            "status.dead": "не доставлено",
            "table.rows_per_page": "Строк на странице:",
            "table.no_data": "Нет данных",
            "table.no_results": "Ничего не найдено",
            "table.of": "из",
            "consumer.integration": "интеграции",
            "consumer.notification": "уведомления",
            "delivery.pending": "в очереди",
            "delivery.retrying": "повтор",
            "delivery.succeeded": "доставлено",
            "delivery.dead": "не доставлено",
            "webhook.outcome.applied": "применён",
            "webhook.outcome.duplicate": "повтор",
            "webhook.outcome.ignored": "пропущен",
            "webhook.outcome.rejected": "отклонён",
            "webhook.outcome.error": "ошибка",
            "error.validation_error.password": "Пароль должен содержать не менее 8 символов.",
            "error.validation_error.username": "Имя пользователя занято или некорректно (от 1 до 60 символов).",
            "error.validation_error.role": "Так нельзя: должен остаться хотя бы один активный менеджер.",
            "error.validation_error.url": "Адрес отклонён: нужен http(s)-адрес, который ведёт на публичный адрес в "
            "интернете (не localhost, не частная или локальная сеть).",
            "error.validation_error.timezone": "Неизвестный часовой пояс (нужно имя IANA, например Europe/Moscow).",
            "error.validation_error.slot_minutes": "Длина слота: от 5 до 240 минут, и сутки должны делиться на неё "
            "без остатка. Пока есть будущие брони, длину слота и часовой пояс менять нельзя.",
            "error.validation_error.price": "Цена: неотрицательное число с не более чем двумя знаками после запятой.",
            "error.validation_error.currency": "Валюта: трёхбуквенный код ISO 4217, например RUB.",
            "error.validation_error.name": "Название: от 1 до 200 символов.",
            "error.validation_error.ends_at": "Конец закрытия должен быть позже начала.",
            "error.validation_error.customer": "Укажите почту или телефон клиента.",
            "error.validation_error.start": "Это время нельзя забронировать: оно в прошлом, вне часов работы "
            "или не на сетке слотов.",
            "error.validation_error": "Проверьте введённые данные ({detail}).",
            "error.invalid_state": "Сейчас это действие недоступно: бронь или платёж уже в другом состоянии.",
            "error.slot_unavailable": "Этот слот уже занят.",
            "error.not_found": "Не найдено.",
            "error.provider_error": "Платёжная система не отвечает. Попробуйте ещё раз через минуту.",
        },
    }
)
