"""Resource settings use cases (domain/resources.py) on SQLite and PostgreSQL: validation naming
the field, hours and closures feeding availability, and changes that leave bookings alone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.bookings import BookingRequest, create_booking, get_availability
from domain.errors import NotFound, ValidationProblem
from domain.resources import (
    add_closure,
    create_resource,
    list_resources_with_hours,
    minor_units,
    parse_hours,
    parse_hours_text,
    remove_closure,
    set_opening_hours,
    update_resource,
)

DAY = date(2026, 12, 2)  # a Wednesday; the test clock stands at 2026-12-01 06:00 UTC
WEDNESDAY = 2


def room(uow, **changes) -> dict:
    values = {"name": "Room A", "timezone": "Europe/Moscow", "slot_minutes": 60, "price": "1500.50", "currency": "RUB"}
    values.update(changes)
    return create_resource(uow, **values)


def starts(uow, resource_id: int, now: datetime, day: date = DAY) -> list[str]:
    return [
        slot.start.strftime("%H:%M") for _, slot in get_availability(uow, resource_id, day, day, now) if slot.available
    ]


# -- pure rules -----------------------------------------------------------------------------------


def test_price_is_converted_with_the_currency_precision():
    assert minor_units("1500.50", "RUB") == 150050
    assert minor_units(Decimal("1500"), "JPY") == 1500
    with pytest.raises(ValidationProblem) as error:
        minor_units("10.555", "RUB")
    assert error.value.field == "price"
    with pytest.raises(ValidationProblem):
        minor_units("12.5", "JPY")
    with pytest.raises(ValidationProblem):
        minor_units("-1", "EUR")


def test_hours_must_open_before_closing_and_not_overlap():
    assert parse_hours({0: [("00:00", "24:00")]})[0].closes_minute == 1440
    for bad in ([("18:00", "09:00")], [("09:00", "13:00"), ("12:00", "15:00")], [("24:00", "24:00")], [("9", "10:00")]):
        with pytest.raises(ValidationProblem) as error:
            parse_hours({3: bad})
        assert error.value.field == "hours.3"
    touching = parse_hours({1: [("13:00", "18:00"), ("09:00", "13:00")]})
    assert [(i.opens_minute, i.closes_minute) for i in touching] == [(540, 780), (780, 1080)]
    assert parse_hours_text("09:00–13:00, 14:00-24:00", 0) == [("09:00", "13:00"), ("14:00", "24:00")]
    assert parse_hours_text("  ", 0) == []


# -- use cases (both databases) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"slot_minutes": 7}, "slot_minutes"),
        ({"slot_minutes": 480}, "slot_minutes"),
        ({"currency": "XYZ"}, "currency"),
        ({"price": "abc"}, "price"),
    ],
)
def test_bad_resource_values_are_refused_naming_the_field(uow, changes, field):
    with pytest.raises(ValidationProblem) as error:
        room(uow, **changes)
    assert error.value.field == field
    assert list_resources_with_hours(uow) == []


def test_new_resource_with_hours_offers_slots_in_its_timezone(uow, clock):
    created = room(uow)
    assert created["price"] == {"amount": 150050, "currency": "RUB"}
    assert starts(uow, created["id"], clock()) == []  # no hours yet: no slots
    set_opening_hours(uow, created["id"], {WEDNESDAY: [("09:00", "12:00")]}, clock())
    assert starts(uow, created["id"], clock()) == ["09:00", "10:00", "11:00"]
    [listed] = list_resources_with_hours(uow)
    assert listed["hours"][WEDNESDAY] == [{"opens": "09:00", "closes": "12:00"}]
    assert listed["hours"][0] == []


def test_closure_in_local_time_removes_its_slots_until_removed(uow, clock):
    created = room(uow)
    set_opening_hours(uow, created["id"], {WEDNESDAY: [("09:00", "12:00")]}, clock())
    closure = add_closure(uow, created["id"], datetime(2026, 12, 2, 10, 0), datetime(2026, 12, 2, 11, 0), " lamp ")
    assert closure["starts_at"] == "2026-12-02T07:00:00Z"  # 10:00 Moscow is 07:00 UTC
    assert closure["reason"] == "lamp"
    assert starts(uow, created["id"], clock()) == ["09:00", "11:00"]
    with pytest.raises(ValidationProblem) as error:
        add_closure(uow, created["id"], datetime(2026, 12, 2, 11, 0), datetime(2026, 12, 2, 10, 0))
    assert error.value.field == "ends_at"
    remove_closure(uow, closure["id"])
    assert starts(uow, created["id"], clock()) == ["09:00", "10:00", "11:00"]
    with pytest.raises(NotFound):
        remove_closure(uow, closure["id"])


def test_price_change_applies_to_new_bookings_only(uow, clock):
    created = room(uow)
    set_opening_hours(uow, created["id"], {WEDNESDAY: [("09:00", "12:00")]}, clock())
    start = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 09:00 Moscow
    first = create_booking(
        uow, BookingRequest(created["id"], start, "Ann", "ann@example.test"), now=clock(), hold_seconds=900, locale="en"
    )
    values = {"name": "Room A", "timezone": "Europe/Moscow", "slot_minutes": 60, "currency": "RUB", "active": True}
    update_resource(uow, created["id"], price="2000", now=clock(), **values)
    second = create_booking(
        uow,
        BookingRequest(created["id"], start.replace(hour=7), "Bob", "bob@example.test"),
        now=clock(),
        hold_seconds=900,
        locale="en",
    )
    assert first["price"]["amount"] == 150050
    assert second["price"]["amount"] == 200000


def test_grid_changes_that_would_cut_across_a_booked_slot_are_refused(uow, clock):
    created = room(uow)
    set_opening_hours(uow, created["id"], {WEDNESDAY: [("09:00", "12:00")]}, clock())
    start = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)  # 10:00 Moscow
    create_booking(
        uow, BookingRequest(created["id"], start, "Ann", "ann@example.test"), now=clock(), hold_seconds=900, locale="en"
    )
    with pytest.raises(ValidationProblem) as error:
        set_opening_hours(uow, created["id"], {WEDNESDAY: [("09:30", "12:30")]}, clock())
    assert error.value.field == f"hours.{WEDNESDAY}"
    values = {"name": "Room A", "timezone": "Europe/Moscow", "price": "1500.50", "currency": "RUB", "active": True}
    with pytest.raises(ValidationProblem) as error:
        update_resource(uow, created["id"], slot_minutes=30, now=clock(), **values)
    assert error.value.field == "slot_minutes"
    # hours that keep the grid, or leave the booked slot outside, are fine
    set_opening_hours(uow, created["id"], {WEDNESDAY: [("08:00", "10:00"), ("11:00", "13:00")]}, clock())
    assert starts(uow, created["id"], clock()) == ["08:00", "09:00", "11:00", "12:00"]
    # once the hold has passed, the grid may change
    clock.advance(901)
    update_resource(uow, created["id"], slot_minutes=30, now=clock(), **values)


def test_unknown_resource_is_not_found(uow, clock):
    with pytest.raises(NotFound):
        set_opening_hours(uow, 999, {}, clock())
    with pytest.raises(NotFound):
        add_closure(uow, 999, datetime(2026, 12, 2, 10, 0), datetime(2026, 12, 2, 11, 0))


def test_the_last_active_manager_cannot_be_demoted_or_deactivated(uow, clock):
    from domain.accounts import create_user, update_user
    from domain.errors import ValidationProblem

    boss = create_user(uow, "boss", "password-123", "manager", clock())
    with pytest.raises(ValidationProblem):
        update_user(uow, boss.id, role="staff")
    with pytest.raises(ValidationProblem):
        update_user(uow, boss.id, active=False)
    second = create_user(uow, "deputy", "password-123", "manager", clock())
    assert update_user(uow, boss.id, role="staff").role == "staff"
    with pytest.raises(ValidationProblem):
        update_user(uow, second.id, active=False)


def test_booking_search_matches_cyrillic_names_whatever_the_case(uow, clock):
    from datetime import timedelta

    from data.seed import seed_demo_data
    from domain.bookings import BookingRequest, create_booking, get_availability, search_bookings

    seed_demo_data(uow)
    day = (clock() + timedelta(days=1)).date()
    slot = next(s for _, s in get_availability(uow, 4, day, day, clock()) if s.available)
    create_booking(
        uow,
        BookingRequest(4, slot.start, "Олег Иванов", "oleg@example.test"),
        now=clock(),
        hold_seconds=900,
        locale="ru",
    )
    assert search_bookings(uow, query="олег")["total"] == 1
    assert search_bookings(uow, query="ИВАНОВ")["total"] == 1
