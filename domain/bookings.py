"""Booking Service use cases (seed steps 1-3, 11-12 and the hold lifecycle).

Each use case takes a ``UnitOfWork`` and the current time, does one thing and commits once.
Events are staged in the outbox in the same transaction (``messaging.outbox.add_event``), so a
booking that cannot be created publishes nothing (seed error rule 1).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from data.db import UnitOfWork
from data.models import Booking, Closure, OpeningHours, Payment, Resource, SlotClaim
from domain import availability as rules
from domain.errors import NotFound, SlotUnavailable, ValidationProblem
from domain.events import EventType
from domain.states import BOOKING_TRANSITIONS, BookingStatus, check_transition
from domain.views import booking_view
from messaging.outbox import add_event


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What a client asks for (``POST /api/bookings``). ``start`` is aware."""

    resource_id: int
    start: datetime
    customer_name: str
    customer_email: str | None = None
    customer_phone: str | None = None
    slots: int = 1
    notes: str | None = None


def get_resource(session: Session, resource_id: int) -> Resource:
    """Raise ``NotFound`` (field ``resource_id``) for an unknown or inactive resource."""
    resource = session.get(Resource, resource_id)
    if resource is None or not resource.active:
        raise NotFound(f"resource {resource_id} does not exist", field="resource_id")
    return resource


def load_schedule(session: Session, resource: Resource, first: date, last: date) -> rules.Schedule:
    """The resource's weekly hours and the closures touching ``first - 1 .. last + 2`` (UTC-padded)."""
    hours = session.exec(select(OpeningHours).where(OpeningHours.resource_id == resource.id)).all()
    lower = datetime.combine(first - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    upper = datetime.combine(last + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    closures = session.exec(
        select(Closure).where(Closure.resource_id == resource.id, Closure.ends_at > lower, Closure.starts_at < upper)
    ).all()
    return rules.Schedule(
        timezone=resource.timezone,
        slot_minutes=resource.slot_minutes,
        hours=tuple(rules.OpeningInterval(h.weekday, h.opens_minute, h.closes_minute) for h in hours),
        closures=tuple(rules.Period(c.starts_at, c.ends_at) for c in closures),
    )


def live_claims(session: Session, resource_id: int, now: datetime) -> list[datetime]:
    """UTC starts of the resource's slots under a claim that has not passed."""
    rows = session.exec(
        select(SlotClaim.slot_start).where(
            SlotClaim.resource_id == resource_id,
            or_(SlotClaim.expires_at.is_(None), SlotClaim.expires_at > now),
        )
    ).all()
    return list(rows)


def get_availability(
    uow: UnitOfWork, resource_id: int | None, first: date, last: date, now: datetime
) -> list[tuple[Resource, rules.Slot]]:
    """Seed step 1: the slots of one resource (or every active one) with local dates in
    ``first..last``. Raises ``ValidationProblem`` for a bad range, ``NotFound`` for an unknown
    resource."""
    rules.check_range(first, last)
    with uow.begin() as session:
        if resource_id is not None:
            resources = [get_resource(session, resource_id)]
        else:
            resources = list(session.exec(select(Resource).where(Resource.active).order_by(Resource.id)).all())
        result: list[tuple[Resource, rules.Slot]] = []
        for resource in resources:
            schedule = load_schedule(session, resource, first, last)
            taken = live_claims(session, resource.id, now)
            result.extend((resource, slot) for slot in rules.availability(schedule, first, last, taken, now))
        return result


def claim_slots(
    session: Session, booking: Booking, slot_starts: list[datetime], expires_at: datetime | None, now: datetime
) -> None:
    """Write the booking's claims, taking over claims whose hold has passed.

    ``expires_at`` is the hold's end, or ``None`` for a confirmed booking. Raises
    ``SlotUnavailable`` when another live booking holds one of the slots; the unique key on
    (resource, slot start) makes the database itself refuse a second claim under concurrency.
    """
    session.exec(
        delete(SlotClaim).where(
            SlotClaim.resource_id == booking.resource_id,
            SlotClaim.slot_start.in_(slot_starts),
            SlotClaim.booking_id != booking.id,
            SlotClaim.expires_at.is_not(None),
            SlotClaim.expires_at <= now,
        )
    )
    existing = {
        claim.slot_start: claim
        for claim in session.exec(
            select(SlotClaim).where(SlotClaim.resource_id == booking.resource_id, SlotClaim.slot_start.in_(slot_starts))
        ).all()
    }
    for start in slot_starts:
        claim = existing.get(start)
        if claim is not None and claim.booking_id != booking.id:
            zone = ZoneInfo(session.get(Resource, booking.resource_id).timezone)
            raise SlotUnavailable(
                f"the slot starting {start.astimezone(zone).isoformat()} is already taken", field="start"
            )
        if claim is None:
            session.add(
                SlotClaim(
                    resource_id=booking.resource_id, slot_start=start, booking_id=booking.id, expires_at=expires_at
                )
            )
        else:
            claim.expires_at = expires_at
            session.add(claim)
    try:
        session.flush()
    except IntegrityError:
        raise SlotUnavailable("one of the slots was taken a moment ago", field="start") from None


def release_slots(session: Session, booking_id: str) -> None:
    """Delete every claim of the booking (expired or cancelled: the slots are free again)."""
    session.exec(delete(SlotClaim).where(SlotClaim.booking_id == booking_id))


def create_booking(
    uow: UnitOfWork, request: BookingRequest, *, now: datetime, hold_seconds: float, locale: str
) -> dict:
    """Seed steps 2-3: hold the requested slots for ``hold_seconds`` and stage ``booking.created``.

    Returns the booking view. Raises ``ValidationProblem`` (contact missing, off the grid, in the
    past, outside opening hours), ``NotFound`` (resource) or ``SlotUnavailable``; in every error
    case nothing is written and no event is published (seed error rule 1).
    """
    if not (request.customer_email or request.customer_phone):
        raise ValidationProblem("give the customer's email or phone", field="customer")
    with uow.begin() as session:
        resource = get_resource(session, request.resource_id)
        local_day = request.start.astimezone(ZoneInfo(resource.timezone)).date()
        schedule = load_schedule(session, resource, local_day, local_day + timedelta(days=request.slots // 24 + 2))
        slots = rules.slots_for_booking(schedule, request.start, request.slots, now)
        hold_expires_at = now + timedelta(seconds=hold_seconds)
        booking = Booking(
            id=str(uuid.uuid4()),
            resource_id=resource.id,
            start_at=slots[0].start_utc,
            end_at=slots[-1].end.astimezone(UTC),
            slots=len(slots),
            status=BookingStatus.PENDING_PAYMENT,
            customer_name=request.customer_name,
            customer_email=request.customer_email,
            customer_phone=request.customer_phone,
            notes=request.notes,
            price_amount=resource.price_amount * len(slots),
            currency=resource.currency,
            locale=locale,
            hold_expires_at=hold_expires_at,
            created_at=now,
            updated_at=now,
        )
        session.add(booking)
        session.flush()
        claim_slots(session, booking, [slot.start_utc for slot in slots], hold_expires_at, now)
        view = booking_view(booking, resource, [])
        add_event(session, EventType.BOOKING_CREATED, view, subject=booking.id, now=now)
        session.commit()
        return view


def get_booking(uow: UnitOfWork, booking_id: str, *, masked: bool) -> dict:
    """The booking with its payments; raises ``NotFound``."""
    with uow.begin() as session:
        booking = session.get(Booking, booking_id)
        if booking is None:
            raise NotFound(f"booking {booking_id} does not exist", field="id")
        payments = session.exec(select(Payment).where(Payment.booking_id == booking_id)).all()
        return booking_view(booking, session.get(Resource, booking.resource_id), list(payments), masked=masked)


def booking_slot_starts(session: Session, booking: Booking) -> list[datetime]:
    """The UTC starts of the slots the booking covers, from its resource's grid."""
    resource = session.get(Resource, booking.resource_id)
    length = timedelta(minutes=resource.slot_minutes)
    return [booking.start_at + i * length for i in range(booking.slots)]


def confirm_booking(session: Session, booking: Booking, now: datetime) -> dict:
    """Seed steps 11-12, inside the caller's transaction: mark the booking ``confirmed``, make its
    claims permanent (claiming the slots again if its hold had passed) and stage
    ``booking.confirmed``. Returns the booking view.

    Raises ``InvalidState`` if the booking is not ``pending_payment`` and ``SlotUnavailable`` if
    its hold passed and another booking took a slot meanwhile.
    """
    check_transition(BOOKING_TRANSITIONS, "booking", booking.status, BookingStatus.CONFIRMED)
    with session.begin_nested():
        claim_slots(session, booking, booking_slot_starts(session, booking), None, now)
    booking.status = BookingStatus.CONFIRMED
    booking.updated_at = now
    session.add(booking)
    view = booking_view(booking, session.get(Resource, booking.resource_id), _payments(session, booking.id))
    add_event(session, EventType.BOOKING_CONFIRMED, view, subject=booking.id, now=now)
    return view


def revive_expired(session: Session, booking: Booking, now: datetime) -> None:
    """Put an ``expired`` booking back to ``pending_payment`` so a late success can confirm it.

    Only the Payment Service calls this, for a payment that succeeded after the hold passed
    (DESIGN.md section 6); ``confirm_booking`` then claims the slots again or refuses.
    """
    if booking.status == BookingStatus.EXPIRED:
        booking.status = BookingStatus.PENDING_PAYMENT
        session.add(booking)


def expire_holds(uow: UnitOfWork, now: datetime, limit: int = 200) -> int:
    """Hold-expiry job: mark ``pending_payment`` bookings whose hold passed as ``expired``, free
    their slots and stage ``booking.expired``. Returns how many bookings expired."""
    with uow.begin() as session:
        query = (
            select(Booking)
            .where(Booking.status == BookingStatus.PENDING_PAYMENT, Booking.hold_expires_at <= now)
            .order_by(Booking.hold_expires_at)
            .limit(limit)
        )
        if uow.is_postgres:
            query = query.with_for_update(skip_locked=True)
        bookings = session.exec(query).all()
        for booking in bookings:
            check_transition(BOOKING_TRANSITIONS, "booking", booking.status, BookingStatus.EXPIRED)
            booking.status = BookingStatus.EXPIRED
            booking.updated_at = now
            session.add(booking)
            release_slots(session, booking.id)
            view = booking_view(booking, session.get(Resource, booking.resource_id), _payments(session, booking.id))
            add_event(session, EventType.BOOKING_EXPIRED, view, subject=booking.id, now=now)
        session.commit()
        return len(bookings)


def _locked_booking(session: Session, uow: UnitOfWork, booking_id: str) -> Booking:
    query = select(Booking).where(Booking.id == booking_id)
    if uow.is_postgres:
        query = query.with_for_update()
    booking = session.exec(query).first()
    if booking is None:
        raise NotFound(f"booking {booking_id} does not exist", field="id")
    return booking


def _payments(session: Session, booking_id: str) -> list[Payment]:
    return list(session.exec(select(Payment).where(Payment.booking_id == booking_id)).all())


def latest_bookings(uow: UnitOfWork, limit: int = 50) -> list[dict]:
    """The newest bookings (unmasked views, for staff screens), newest first."""
    with uow.begin() as session:
        rows = session.exec(select(Booking, Resource).join(Resource).order_by(Booking.created_at.desc()).limit(limit))
        return [booking_view(booking, resource) for booking, resource in rows.all()]


def search_bookings(
    uow: UnitOfWork,
    *,
    status: str | None = None,
    resource_id: int | None = None,
    start_from: datetime | None = None,
    start_before: datetime | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> dict:
    """Bookings for staff, newest start first, one page at a time.

    Filters: ``status``; ``resource_id``; start in ``[start_from, start_before)`` (aware); ``query``
    matches the customer's name, email or phone, or the booking id (case-insensitive, substring).
    Returns ``{"items": [booking views, unmasked], "total": int, "page": int, "per_page": int}``.
    """
    from sqlalchemy import func

    if status is not None and status not in set(BookingStatus):
        raise ValidationProblem(f"status must be one of {', '.join(BookingStatus)}", field="status")
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    conditions = []
    if status:
        conditions.append(Booking.status == status)
    if resource_id is not None:
        conditions.append(Booking.resource_id == resource_id)
    if start_from is not None:
        conditions.append(Booking.start_at >= start_from)
    if start_before is not None:
        conditions.append(Booking.start_at < start_before)
    if query:
        pattern = f"%{query.strip().lower()}%"
        conditions.append(
            or_(
                func.lower(Booking.customer_name).like(pattern),
                func.lower(func.coalesce(Booking.customer_email, "")).like(pattern),
                func.coalesce(Booking.customer_phone, "").like(pattern),
                Booking.id.like(pattern),
            )
        )
    with uow.begin() as session:
        total = session.exec(select(func.count()).select_from(Booking).where(*conditions)).one()
        rows = session.exec(
            select(Booking, Resource)
            .join(Resource)
            .where(*conditions)
            .order_by(Booking.start_at.desc(), Booking.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        ids = [booking.id for booking, _ in rows]
        payments: dict[str, list[Payment]] = {}
        if ids:
            for payment in session.exec(select(Payment).where(Payment.booking_id.in_(ids))).all():
                payments.setdefault(payment.booking_id, []).append(payment)
        items = [booking_view(booking, resource, payments.get(booking.id, [])) for booking, resource in rows]
        return {"items": items, "total": total, "page": page, "per_page": per_page}


def cancel_booking(uow: UnitOfWork, booking_id: str, now: datetime) -> tuple[dict, list[str]]:
    """Cancel a ``pending_payment`` or ``confirmed`` booking: free its slots and stage
    ``booking.cancelled``. Returns the booking view and the ids of its succeeded payments, which
    the caller refunds (``payment.service.cancel_and_refund``). Raises ``NotFound`` or
    ``InvalidState`` (already expired or cancelled)."""
    with uow.begin() as session:
        booking = _locked_booking(session, uow, booking_id)
        check_transition(BOOKING_TRANSITIONS, "booking", booking.status, BookingStatus.CANCELLED)
        booking.status = BookingStatus.CANCELLED
        booking.updated_at = now
        session.add(booking)
        release_slots(session, booking.id)
        payments = _payments(session, booking.id)
        view = booking_view(booking, session.get(Resource, booking.resource_id), payments)
        add_event(session, EventType.BOOKING_CANCELLED, view, subject=booking.id, now=now)
        session.commit()
        return view, [p.id for p in payments if p.status == "succeeded"]
