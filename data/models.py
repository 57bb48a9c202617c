"""SQLModel tables of Booking Desk.

All timestamps are timezone-aware and stored as UTC (``UTCDateTime``); money is integer minor
units beside an ISO 4217 currency code. Ids of bookings, payments and events are UUID strings.
The schema itself is managed by Alembic (``data/migrations``); these classes are its source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from data.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Resource(SQLModel, table=True):
    """A bookable thing (room, court, specialist) with its own timezone and slot length."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64, description="IANA zone, e.g. Europe/Moscow")
    slot_minutes: int = Field(description="length of one slot in minutes")
    price_amount: int = Field(description="price of one slot in minor units")
    currency: str = Field(max_length=3)
    active: bool = True


class OpeningHours(SQLModel, table=True):
    """One opening interval of a resource on a weekday, in the resource's local wall-clock time."""

    __tablename__ = "opening_hours"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    weekday: int = Field(description="0 = Monday ... 6 = Sunday")
    opens_minute: int = Field(description="minutes after local midnight, 0..1439")
    closes_minute: int = Field(description="minutes after local midnight, 1..1440 (1440 = midnight)")


class Closure(SQLModel, table=True):
    """A period (UTC instants) in which a resource takes no bookings: holiday, maintenance."""

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    starts_at: datetime = _ts()
    ends_at: datetime = _ts()
    reason: str = Field(default="", max_length=200)


class Booking(SQLModel, table=True):
    """A booking of one or more consecutive slots of a resource (seed step 2)."""

    id: str = Field(primary_key=True, max_length=36)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    start_at: datetime = _ts()
    end_at: datetime = _ts()
    slots: int = 1
    status: str = Field(max_length=20, index=True)
    customer_name: str = Field(max_length=200)
    customer_email: str | None = Field(default=None, max_length=254)
    customer_phone: str | None = Field(default=None, max_length=40)
    notes: str | None = Field(default=None, sa_type=Text)
    price_amount: int
    currency: str = Field(max_length=3)
    locale: str = Field(default="en", max_length=5)
    hold_expires_at: datetime = _ts(index=True)
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()


class SlotClaim(SQLModel, table=True):
    """The database's guarantee that no slot is held by two live bookings.

    One row per (resource, slot start). ``expires_at`` is the hold's end for a pending booking
    and ``None`` once the booking is confirmed. A claim whose ``expires_at`` has passed may be
    taken over by a new booking in its own transaction (DESIGN.md section 6).
    """

    __tablename__ = "slot_claim"

    resource_id: int = Field(foreign_key="resource.id", primary_key=True)
    slot_start: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    booking_id: str = Field(foreign_key="booking.id", index=True, max_length=36)
    expires_at: datetime | None = _ts(nullable=True)


class Payment(SQLModel, table=True):
    """Our record of a payment attempt for a booking, at one provider."""

    __table_args__ = (
        Index(
            "uq_payment_pending_per_provider",
            "booking_id",
            "provider",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    booking_id: str = Field(foreign_key="booking.id", index=True, max_length=36)
    provider: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    amount: int
    currency: str = Field(max_length=3)
    provider_payment_id: str | None = Field(default=None, max_length=100, index=True)
    idempotency_key: str = Field(max_length=100, unique=True, description="sent with every create call")
    redirect_url: str | None = Field(default=None, sa_type=Text)
    return_url: str = Field(sa_type=Text)
    failure_reason: str | None = Field(default=None, max_length=200)
    attention: str | None = Field(default=None, sa_type=Text, description="why staff must look at it")
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    last_checked_at: datetime | None = _ts(nullable=True)


class WebhookReceipt(SQLModel, table=True):
    """Every payment webhook received, kept for audit (provider, event id, outcome, error)."""

    __tablename__ = "webhook_receipt"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)
    provider_event_id: str | None = Field(default=None, max_length=100, index=True)
    payment_id: str | None = Field(default=None, max_length=36, index=True)
    verified: bool = False
    outcome: str = Field(max_length=20, description="applied | duplicate | ignored | rejected | error")
    error: str | None = Field(default=None, sa_type=Text)
    body: str = Field(sa_type=Text)
    received_at: datetime = _ts()


class SandboxPayment(SQLModel, table=True):
    """The sandbox provider's own record of a checkout: "outside" our payment records."""

    __tablename__ = "sandbox_payment"

    id: str = Field(primary_key=True, max_length=40)
    idempotency_key: str = Field(max_length=100, unique=True)
    amount: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20, description="open | succeeded | failed | refunded")
    failure_reason: str | None = Field(default=None, max_length=100)
    payment_metadata: dict = Field(default_factory=dict, sa_column=Column("metadata", JSON))
    return_url: str = Field(sa_type=Text)
    expires_at: datetime = _ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OutboxEvent(SQLModel, table=True):
    """A CloudEvent written in the same transaction as the change it reports (transactional outbox)."""

    __tablename__ = "outbox_event"

    id: str = Field(primary_key=True, max_length=36)
    type: str = Field(max_length=60, index=True)
    source: str = Field(max_length=100)
    subject: str | None = Field(default=None, max_length=100, index=True)
    time: datetime = _ts()
    sequence: int = Field(default=0, description="order of events staged in one transaction")
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    published_at: datetime | None = _ts(nullable=True, index=True)


class Delivery(SQLModel, table=True):
    """The delivery ledger, one row per (event, consumer); also the consumer's inbox.

    ``status``: ``pending`` (due at ``next_attempt_at``), ``retrying`` (failed, redelivery due
    at ``next_attempt_at``), ``succeeded`` (processed; the inbox entry that stops a second run)
    or ``dead`` (redeliveries used up; ``last_error`` tells why).
    """

    __table_args__ = (
        UniqueConstraint("event_id", "consumer", name="uq_delivery_event_consumer"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(foreign_key="outbox_event.id", max_length=36, index=True)
    consumer: str = Field(max_length=40)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class IntegrationSend(SQLModel, table=True):
    """Outbound webhook progress per (event, endpoint): an endpoint that accepted is not sent again."""

    __tablename__ = "integration_send"

    event_id: str = Field(primary_key=True, max_length=36)
    url: str = Field(primary_key=True, max_length=500)
    status: str = Field(max_length=20, description="accepted | failed")
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = _ts()


class MailMessage(SQLModel, table=True):
    """A mail the Notification Service sent (or wrote to a file), for the notifications log."""

    __tablename__ = "mail_message"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=200, unique=True, description="RFC 5322 Message-ID, from the event id")
    event_id: str = Field(max_length=36, index=True)
    booking_id: str | None = Field(default=None, max_length=36, index=True)
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    template: str = Field(max_length=60)
    locale: str = Field(max_length=5)
    backend: str = Field(max_length=10)
    created_at: datetime = _ts()


class IdempotencyRecord(SQLModel, table=True):
    """The first final response to a request carrying an ``Idempotency-Key`` (kept 24 hours)."""

    __tablename__ = "idempotency_record"

    route: str = Field(primary_key=True, max_length=60)
    key: str = Field(primary_key=True, max_length=200)
    request_hash: str = Field(max_length=64)
    status: str = Field(max_length=20, description="in_progress | done")
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


class User(SQLModel, table=True):
    """A dashboard account: ``staff`` (front desk) or ``manager`` (everything)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True)
    password_hash: str = Field(max_length=200, description="argon2id hash")
    role: str = Field(max_length=20, description="staff | manager")
    locale: str | None = Field(default=None, max_length=5, description="dashboard language; None = BOOKING_LOCALE")
    active: bool = True
    session_version: int = Field(default=1, description="bumped to end every session of the user")
    failed_logins: int = 0
    locked_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """A staff API token (``Authorization: Bearer <token>``); only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)


class IntegrationEndpoint(SQLModel, table=True):
    """An outbound webhook endpoint added in the dashboard (besides those in the environment).

    Only public addresses are accepted here (no loopback, private or link-local: DESIGN.md
    section 9, server-side request forgery)."""

    __tablename__ = "integration_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500, unique=True)
    description: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = _ts()
