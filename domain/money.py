"""Money: integer minor units with an ISO 4217 currency, never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (kopecks, cents) of ``currency``."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"amount must be an int of minor units, got {self.amount!r}")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code like 'RUB', got {self.currency!r}")

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def as_dict(self) -> dict:
        """The API shape: ``{"amount": <int minor units>, "currency": "RUB"}``."""
        return {"amount": self.amount, "currency": self.currency}


def format_money(money: Money, locale: str = "en") -> str:
    """Format for people, e.g. ``RUB 1,500.00`` (en) or ``1 500,00 ₽`` (ru), through babel."""
    digits = get_currency_precision(money.currency)
    value = Decimal(money.amount).scaleb(-digits)
    return format_currency(value, money.currency, locale=locale)
