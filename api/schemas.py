"""Request bodies of the REST API (DESIGN.md section 5). Unknown fields are refused."""

from __future__ import annotations

import re

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")


class CustomerIn(BaseModel):
    """The customer: a name and at least one of email and phone."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not EMAIL.match(value):
            raise ValueError("is not an email address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not PHONE.match(value):
            raise ValueError("is not a phone number (digits, spaces, +, -, parentheses)")
        return value


class BookingCreate(BaseModel):
    """``POST /api/bookings``: ``start`` must carry an offset (naive times are refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    resource_id: int
    start: AwareDatetime
    slots: int = Field(default=1, ge=1, le=48)
    customer: CustomerIn
    notes: str | None = Field(default=None, max_length=2000)
