"""Formatting for people, through babel: money, dates and times in a given locale and timezone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time

from domain.money import Money, format_money


def money(amount: int, currency: str, locale: str) -> str:
    """``150000, "RUB"`` -> ``RUB1,500.00`` (en) / ``1 500,00 ₽`` (ru)."""
    return format_money(Money(amount, currency), locale)


def money_of(value: dict, locale: str) -> str:
    """Format an API money object ``{"amount", "currency"}``."""
    return money(value["amount"], value["currency"], locale)


def _parse(moment: datetime | str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment


def date_time(moment: datetime | str | None, timezone: str, locale: str, *, fmt: str = "short") -> str:
    """A moment (aware datetime or RFC 3339 text) shown in ``timezone``, one style on every screen:
    ``Dec 1, 2026, 10:00 AM`` / ``1 дек. 2026 г., 10:00``; ``fmt="medium"`` adds seconds (for
    logs and timelines). Any other ``fmt`` is passed to babel's ``format_datetime``."""
    if moment is None:
        return ""
    zone = ZoneInfo(timezone)
    local = _parse(moment).astimezone(zone)
    if fmt in ("short", "medium"):
        return f"{format_date(local.date(), 'medium', locale=locale)}, {format_time(local, fmt, locale=locale)}"
    return format_datetime(local, format=fmt, tzinfo=zone, locale=locale)


def day(moment: datetime | str, timezone: str, locale: str, *, fmt: str = "medium") -> str:
    local = _parse(moment).astimezone(ZoneInfo(timezone))
    return format_date(local.date(), format=fmt, locale=locale)


def clock_time(moment: datetime | str, timezone: str, locale: str) -> str:
    """Time of day with the zone's offset where it matters, e.g. ``02:30 (+01:00)`` on a DST day."""
    local = _parse(moment).astimezone(ZoneInfo(timezone))
    return format_time(local, format="HH:mm", locale=locale)
