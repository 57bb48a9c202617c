"""Pure availability rules with an injected clock (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.availability import (
    OpeningInterval,
    Period,
    Schedule,
    availability,
    check_range,
    day_grid,
    local_instants,
    slots_for_booking,
)
from domain.errors import ValidationProblem

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BERLIN_24_7 = Schedule("Europe/Berlin", 30, tuple(OpeningInterval(day, 0, 1440) for day in range(7)))
MOSCOW_OFFICE = Schedule("Europe/Moscow", 60, tuple(OpeningInterval(day, 9 * 60, 18 * 60) for day in range(5)))


def starts(slots) -> list[str]:
    return [slot.start.isoformat() for slot in slots]


def test_spring_forward_day_in_berlin_has_no_slot_in_the_missing_hour():
    grid = day_grid(BERLIN_24_7, date(2026, 3, 29))
    assert len(grid) == 46  # a 23-hour day of 30-minute slots
    assert "2026-03-29T01:30:00+01:00" in starts(grid)
    assert not [s for s in starts(grid) if s.startswith("2026-03-29T02:")]
    assert "2026-03-29T03:00:00+02:00" in starts(grid)


def test_fall_back_day_in_berlin_has_one_slot_per_real_instant_of_the_repeated_hour():
    grid = day_grid(BERLIN_24_7, date(2026, 10, 25))
    assert len(grid) == 50  # a 25-hour day
    repeated = [s for s in starts(grid) if s.startswith("2026-10-25T02:")]
    assert repeated == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
    ]
    instants = [slot.start_utc for slot in grid]
    assert instants == sorted(set(instants))


def test_every_slot_lasts_its_length_in_real_time_across_the_switch():
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        for slot in day_grid(BERLIN_24_7, day):
            assert slot.end.astimezone(UTC) - slot.start.astimezone(UTC) == timedelta(minutes=30)
    slot = next(s for s in day_grid(BERLIN_24_7, date(2026, 3, 29)) if s.start.hour == 1 and s.start.minute == 30)
    assert slot.end.isoformat() == "2026-03-29T03:00:00+02:00"


def test_local_instants_gap_and_fold():
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Berlin")
    assert local_instants(datetime(2026, 3, 29, 2, 30), zone) == []
    assert len(local_instants(datetime(2026, 10, 25, 2, 30), zone)) == 2
    assert len(local_instants(datetime(2026, 10, 25, 3, 30), zone)) == 1


def test_opening_hours_weekdays_and_closures():
    monday, saturday = date(2026, 12, 7), date(2026, 12, 12)
    grid = day_grid(MOSCOW_OFFICE, monday)
    assert starts(grid)[0] == "2026-12-07T09:00:00+03:00" and starts(grid)[-1] == "2026-12-07T17:00:00+03:00"
    assert day_grid(MOSCOW_OFFICE, saturday) == []
    lunch = Period(datetime(2026, 12, 7, 10, 0, tzinfo=UTC), datetime(2026, 12, 7, 11, 0, tzinfo=UTC))
    closed = Schedule(MOSCOW_OFFICE.timezone, 60, MOSCOW_OFFICE.hours, (lunch,))
    assert "2026-12-07T13:00:00+03:00" not in starts(day_grid(closed, monday))
    assert len(day_grid(closed, monday)) == len(grid) - 1


def test_past_and_taken_slots_are_listed_unavailable():
    now = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 11:30 in Moscow
    taken = [datetime(2026, 12, 7, 12, 0, tzinfo=UTC)]  # 15:00 in Moscow
    slots = availability(MOSCOW_OFFICE, date(2026, 12, 7), date(2026, 12, 7), taken, now)
    free = {slot.start.hour: slot.available for slot in slots}
    assert free[9] is False and free[11] is False and free[12] is True and free[15] is False and free[16] is True


@pytest.mark.parametrize(
    ("first", "last", "ok"),
    [
        (date(2026, 1, 1), date(2026, 3, 3), True),
        (date(2026, 1, 1), date(2026, 3, 4), False),
        (date(2026, 1, 2), date(2026, 1, 1), False),
    ],
)
def test_range_is_at_most_62_days_inclusive(first, last, ok):
    if ok:
        check_range(first, last)
    else:
        with pytest.raises(ValidationProblem) as error:
            check_range(first, last)
        assert error.value.field == "to"


def test_booking_slots_must_be_on_the_grid_in_hours_and_in_the_future():
    start = datetime.fromisoformat("2026-12-07T10:00:00+03:00")
    assert starts(slots_for_booking(MOSCOW_OFFICE, start, 2, NOW)) == [
        "2026-12-07T10:00:00+03:00",
        "2026-12-07T11:00:00+03:00",
    ]
    cases = {
        "2026-12-07T10:15:00+03:00": "slot grid",
        "2026-12-07T20:00:00+03:00": "opening hours",
        "2026-12-12T10:00:00+03:00": "opening hours",
    }
    for text, message in cases.items():
        with pytest.raises(ValidationProblem, match=message) as error:
            slots_for_booking(MOSCOW_OFFICE, datetime.fromisoformat(text), 1, NOW)
        assert error.value.field == "start"
    with pytest.raises(ValidationProblem, match="past"):
        slots_for_booking(MOSCOW_OFFICE, start, 1, start + timedelta(minutes=1))
    with pytest.raises(ValidationProblem) as error:
        slots_for_booking(MOSCOW_OFFICE, datetime.fromisoformat("2026-12-07T17:00:00+03:00"), 2, NOW)
    assert error.value.field == "slots"


def test_a_booking_may_start_in_the_second_occurrence_of_a_repeated_hour():
    first = datetime.fromisoformat("2026-10-25T02:30:00+02:00")
    second = datetime.fromisoformat("2026-10-25T02:30:00+01:00")
    assert slots_for_booking(BERLIN_24_7, first, 1, NOW)[0].start_utc == first.astimezone(UTC)
    chosen = slots_for_booking(BERLIN_24_7, second, 2, NOW)
    assert starts(chosen) == ["2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"]
    # 02:30+02:00 on the spring day names the same instant as 01:30+01:00: that slot, shown in its real offset.
    same = slots_for_booking(BERLIN_24_7, datetime.fromisoformat("2026-03-29T02:30:00+02:00"), 1, NOW)
    assert starts(same) == ["2026-03-29T01:30:00+01:00"]
