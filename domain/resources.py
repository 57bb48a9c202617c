"""Resource settings use cases (the manager's settings screen): resources, weekly opening hours
and closures.

Plain functions taking a ``UnitOfWork`` and values; each validates, does one thing and commits
once. Bad input raises ``ValidationProblem`` naming the field (``name``, ``timezone``,
``slot_minutes``, ``price``, ``currency``, ``hours.<weekday>``, ``starts_at``, ``ends_at``); an
unknown id raises ``NotFound``. The slot grid itself stays in ``domain/availability.py``.

Changes apply to new bookings only: a booking keeps its price and its claimed slots. Because
claims are keyed by slot start, a change that would lay new slots across a slot an upcoming
booking holds (a new slot length or timezone, or hours that shift the grid) is refused while
such bookings exist, so no two bookings ever cover the same real time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import get_currency_precision, is_currency
from sqlalchemy import delete, or_
from sqlmodel import Session, select

from data.db import UnitOfWork
from data.models import Closure, OpeningHours, Resource, SlotClaim
from domain import availability as rules
from domain.errors import NotFound, ValidationProblem
from domain.views import utc_z

MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 240
WEEKDAYS = range(7)

Hours = Mapping[int, Iterable[tuple[str, str]]]
"""Weekly hours as entered: weekday (0 = Monday) -> ``[("09:00", "13:00"), ("14:00", "24:00")]``."""


# -- pure rules ----------------------------------------------------------------------------------


def check_timezone(name: str) -> str:
    """Return the IANA zone name if ``zoneinfo`` knows it; else ``ValidationProblem`` (``timezone``)."""
    name = (name or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationProblem(f"{name!r} is not an IANA timezone such as Europe/Moscow", field="timezone") from None
    return name


def check_slot_minutes(minutes: int) -> int:
    """Slots last 5..240 minutes and divide a day (1440 minutes) evenly; ``ValidationProblem`` otherwise."""
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise ValidationProblem("slot length must be a whole number of minutes", field="slot_minutes")
    if not MIN_SLOT_MINUTES <= minutes <= MAX_SLOT_MINUTES or 1440 % minutes:
        raise ValidationProblem(
            f"slot length must be {MIN_SLOT_MINUTES}..{MAX_SLOT_MINUTES} minutes and divide 1440 (a day)",
            field="slot_minutes",
        )
    return minutes


def check_currency(code: str) -> str:
    """An ISO 4217 code babel knows (``RUB``, ``EUR``), upper-cased; ``ValidationProblem`` otherwise."""
    code = (code or "").strip().upper()
    if len(code) != 3 or not code.isalpha() or not is_currency(code):
        raise ValidationProblem(f"{code!r} is not an ISO 4217 currency code", field="currency")
    return code


def minor_units(price: Decimal | int | str, currency: str) -> int:
    """A price in major units (``"1500.50"`` RUB) as integer minor units (``150050``).

    The number of decimals comes from the currency (``babel.numbers.get_currency_precision``:
    RUB 2, JPY 0). Raises ``ValidationProblem`` (``price``) for a negative, non-numeric or
    over-precise price (``10.555`` RUB).
    """
    try:
        value = Decimal(str(price).strip())
    except InvalidOperation:
        raise ValidationProblem(f"{price!r} is not a number", field="price") from None
    if not value.is_finite() or value < 0:
        raise ValidationProblem("price must be zero or more", field="price")
    digits = get_currency_precision(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValidationProblem(f"{currency} prices have at most {digits} decimals", field="price")
    return int(scaled)


def parse_clock(text: str, *, field: str, closing: bool = False) -> int:
    """``"HH:MM"`` as minutes after midnight; ``"24:00"`` only as a closing time (1440)."""
    hours, sep, minutes = (text or "").strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise ValidationProblem(f"{text!r} is not a time like 09:30", field=field)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > (1440 if closing else 1439):
        raise ValidationProblem(
            f"{text!r} is not a time of day" + ("" if closing else " (24:00 may only close a day)"), field=field
        )
    return value


def clock_text(minute: int) -> str:
    """Minutes after midnight as ``"HH:MM"`` (1440 -> ``"24:00"``)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_hours(hours: Hours) -> list[rules.OpeningInterval]:
    """Validate weekly hours: each interval opens before it closes, and a day's intervals do
    not overlap (touching is fine: 09:00-13:00 and 13:00-18:00). Raises ``ValidationProblem``
    with field ``hours.<weekday>``. Returns the intervals sorted by weekday and opening."""
    result: list[rules.OpeningInterval] = []
    for weekday, intervals in sorted(hours.items()):
        field = f"hours.{weekday}"
        if weekday not in WEEKDAYS:
            raise ValidationProblem("weekday must be 0 (Monday) .. 6 (Sunday)", field=field)
        day: list[rules.OpeningInterval] = []
        for opens_text, closes_text in intervals:
            opens = parse_clock(opens_text, field=field)
            closes = parse_clock(closes_text, field=field, closing=True)
            if opens >= closes:
                raise ValidationProblem(f"{opens_text}-{closes_text}: opening must be before closing", field=field)
            day.append(rules.OpeningInterval(weekday, opens, closes))
        day.sort(key=lambda interval: interval.opens_minute)
        for previous, following in zip(day, day[1:], strict=False):
            if following.opens_minute < previous.closes_minute:
                raise ValidationProblem(
                    f"{clock_text(previous.opens_minute)}-{clock_text(previous.closes_minute)} overlaps "
                    f"{clock_text(following.opens_minute)}-{clock_text(following.closes_minute)}",
                    field=field,
                )
        result.extend(day)
    return result


def parse_hours_text(text: str, weekday: int) -> list[tuple[str, str]]:
    """One day's hours as typed, ``"09:00-13:00, 14:00-19:00"`` (en dash too), as pairs; blank = closed."""
    pairs: list[tuple[str, str]] = []
    for chunk in (text or "").replace("–", "-").replace(";", ",").split(","):
        if not chunk.strip():
            continue
        opens, sep, closes = chunk.partition("-")
        if not sep:
            raise ValidationProblem(f"{chunk.strip()!r} is not an interval like 09:00-18:00", field=f"hours.{weekday}")
        pairs.append((opens.strip(), closes.strip()))
    return pairs


# -- use cases -----------------------------------------------------------------------------------


def create_resource(
    uow: UnitOfWork,
    *,
    name: str,
    timezone: str,
    slot_minutes: int,
    price: Decimal | int | str,
    currency: str,
    active: bool = True,
) -> dict:
    """Add a resource (no opening hours yet: it offers no slots until ``set_opening_hours``).

    ``price`` is one slot's price in major units of ``currency``. Returns ``resource_summary``.
    """
    values = _checked(name, timezone, slot_minutes, price, currency)
    with uow.begin() as session:
        resource = Resource(**values, active=active)
        session.add(resource)
        session.commit()
        return resource_summary(resource, [], [])


def update_resource(
    uow: UnitOfWork,
    resource_id: int,
    *,
    name: str,
    timezone: str,
    slot_minutes: int,
    price: Decimal | int | str,
    currency: str,
    active: bool,
    now: datetime,
) -> dict:
    """Change a resource. The new price applies to new bookings only (a booking keeps its own).

    A new slot length or timezone moves the grid, so it is refused (``ValidationProblem`` on
    that field) while the resource has upcoming held or confirmed slots. Raises ``NotFound``.
    """
    values = _checked(name, timezone, slot_minutes, price, currency)
    with uow.begin() as session:
        resource = _resource(session, resource_id)
        for field in ("slot_minutes", "timezone"):
            if values[field] != getattr(resource, field) and _upcoming_claims(session, resource_id, now):
                raise ValidationProblem(
                    "cannot change the slot grid while the resource has upcoming bookings", field=field
                )
        for key, value in values.items():
            setattr(resource, key, value)
        resource.active = active
        session.add(resource)
        session.commit()
        return _summary(session, resource)


def set_opening_hours(uow: UnitOfWork, resource_id: int, hours: Hours, now: datetime) -> dict:
    """Replace the resource's weekly hours (local wall-clock time; a weekday left out is closed).

    Validated by ``parse_hours``. Upcoming bookings keep their slots; hours that would lay a new
    slot across part of a held slot are refused (``ValidationProblem``, ``hours.<weekday>``).
    Returns ``resource_summary``; raises ``NotFound``.
    """
    intervals = parse_hours(hours)
    with uow.begin() as session:
        resource = _resource(session, resource_id)
        schedule = rules.Schedule(resource.timezone, resource.slot_minutes, tuple(intervals))
        _check_grid_keeps_claims(session, resource, schedule, now)
        session.exec(delete(OpeningHours).where(OpeningHours.resource_id == resource_id))
        for interval in intervals:
            session.add(
                OpeningHours(
                    resource_id=resource_id,
                    weekday=interval.weekday,
                    opens_minute=interval.opens_minute,
                    closes_minute=interval.closes_minute,
                )
            )
        session.commit()
        return _summary(session, resource)


def add_closure(uow: UnitOfWork, resource_id: int, starts: datetime, ends: datetime, reason: str = "") -> dict:
    """Close the resource from ``starts`` to ``ends`` (no new bookings then; existing ones stay).

    Naive times are wall-clock times in the resource's timezone (a time in a DST fold is taken
    at its first occurrence); aware times are used as given. Stored as aware UTC. Raises
    ``ValidationProblem`` (``ends_at``) unless ``starts < ends``, and ``NotFound``. Returns
    ``closure_view``.
    """
    with uow.begin() as session:
        resource = _resource(session, resource_id)
        zone = ZoneInfo(resource.timezone)
        starts_at, ends_at = (
            (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC) for moment in (starts, ends)
        )
        if starts_at >= ends_at:
            raise ValidationProblem("a closure must end after it starts", field="ends_at")
        closure = Closure(resource_id=resource_id, starts_at=starts_at, ends_at=ends_at, reason=reason.strip()[:200])
        session.add(closure)
        session.commit()
        return closure_view(closure)


def remove_closure(uow: UnitOfWork, closure_id: int) -> None:
    """Delete a closure (its slots become bookable again); raises ``NotFound``."""
    with uow.begin() as session:
        closure = session.get(Closure, closure_id)
        if closure is None:
            raise NotFound(f"closure {closure_id} does not exist", field="id")
        session.delete(closure)
        session.commit()


def list_resources_with_hours(uow: UnitOfWork, *, closures_after: datetime | None = None) -> list[dict]:
    """Every resource (active or not) by name, each a ``resource_summary``; closures ending after
    ``closures_after`` (all when ``None``), earliest first."""
    with uow.begin() as session:
        resources = session.exec(select(Resource).order_by(Resource.name, Resource.id)).all()
        hours = session.exec(select(OpeningHours)).all()
        query = select(Closure).order_by(Closure.starts_at)
        if closures_after is not None:
            query = query.where(Closure.ends_at > closures_after)
        closures = session.exec(query).all()
        return [
            resource_summary(
                resource,
                [h for h in hours if h.resource_id == resource.id],
                [c for c in closures if c.resource_id == resource.id],
            )
            for resource in resources
        ]


# -- shapes --------------------------------------------------------------------------------------


def resource_summary(resource: Resource, hours: Iterable[OpeningHours], closures: Iterable[Closure]) -> dict:
    """``{id, name, timezone, slot_minutes, price: {amount, currency}, active, hours, closures}``;
    ``hours`` is ``{weekday: [{"opens": "09:00", "closes": "18:00"}]}`` for every weekday 0..6."""
    week: dict[int, list[dict]] = {weekday: [] for weekday in WEEKDAYS}
    for h in sorted(hours, key=lambda h: (h.weekday, h.opens_minute)):
        week[h.weekday].append({"opens": clock_text(h.opens_minute), "closes": clock_text(h.closes_minute)})
    return {
        "id": resource.id,
        "name": resource.name,
        "timezone": resource.timezone,
        "slot_minutes": resource.slot_minutes,
        "price": {"amount": resource.price_amount, "currency": resource.currency},
        "active": resource.active,
        "hours": week,
        "closures": [closure_view(c) for c in closures],
    }


def closure_view(closure: Closure) -> dict:
    """``{id, resource_id, starts_at, ends_at, reason}``; times UTC ``Z``."""
    return {
        "id": closure.id,
        "resource_id": closure.resource_id,
        "starts_at": utc_z(closure.starts_at),
        "ends_at": utc_z(closure.ends_at),
        "reason": closure.reason,
    }


# -- helpers -------------------------------------------------------------------------------------


def _checked(name: str, timezone: str, slot_minutes: int, price: Decimal | int | str, currency: str) -> dict:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationProblem("name must be 1 to 200 characters", field="name")
    currency = check_currency(currency)
    return {
        "name": name,
        "timezone": check_timezone(timezone),
        "slot_minutes": check_slot_minutes(slot_minutes),
        "price_amount": minor_units(price, currency),
        "currency": currency,
    }


def _resource(session: Session, resource_id: int) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise NotFound(f"resource {resource_id} does not exist", field="resource_id")
    return resource


def _summary(session: Session, resource: Resource) -> dict:
    hours = session.exec(select(OpeningHours).where(OpeningHours.resource_id == resource.id)).all()
    closures = session.exec(select(Closure).where(Closure.resource_id == resource.id).order_by(Closure.starts_at))
    return resource_summary(resource, hours, closures.all())


def _upcoming_claims(session: Session, resource_id: int, now: datetime) -> list[datetime]:
    """UTC starts of live claims (confirmed, or a hold not yet passed) that have not ended yet."""
    resource = session.get(Resource, resource_id)
    earliest = now - timedelta(minutes=resource.slot_minutes)
    return list(
        session.exec(
            select(SlotClaim.slot_start).where(
                SlotClaim.resource_id == resource_id,
                SlotClaim.slot_start > earliest,
                or_(SlotClaim.expires_at.is_(None), SlotClaim.expires_at > now),
            )
        ).all()
    )


def _check_grid_keeps_claims(session: Session, resource: Resource, schedule: rules.Schedule, now: datetime) -> None:
    """Refuse a schedule whose slots would cut across an upcoming claimed slot (a new slot that
    overlaps a claimed one without starting with it). A claim falling outside the new hours is
    fine: its booking stays, and no new slot covers that time."""
    claims = _upcoming_claims(session, resource.id, now)
    if not claims:
        return
    zone = schedule.zone
    length = timedelta(minutes=resource.slot_minutes)
    days: set[date] = set()
    for start in claims:
        local = start.astimezone(zone).date()
        days.update({local - timedelta(days=1), local, local + timedelta(days=1)})
    grid = [slot for day in sorted(days) for slot in rules.day_grid(schedule, day)]
    for start in claims:
        held = rules.Period(start, start + length)
        for slot in grid:
            if slot.start_utc != start and held.overlaps(rules.Period(slot.start, slot.end)):
                local = slot.start.astimezone(zone)
                raise ValidationProblem(
                    f"the new hours would cut across a booked slot at {start.astimezone(zone):%Y-%m-%d %H:%M}; "
                    "keep the slot grid or cancel that booking first",
                    field=f"hours.{local.weekday()}",
                )
