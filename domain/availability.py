"""Availability: the slot grid of a resource, from weekly opening hours, closures and claims.

Pure rules over plain values (no database, no clock: ``now`` is passed in).

The grid is laid on the resource's local wall clock: within each opening interval a slot starts
every ``slot_minutes`` from the interval's opening time. Each local start is then turned into
real instants, which is where daylight saving time matters (DESIGN.md section 5, issue 2):

* a local time that does not exist (the spring gap, e.g. 02:30 in Berlin on 2026-03-29) gives
  no slot;
* a local time that happens twice (the autumn fold, e.g. 02:30 in Berlin on 2026-10-25) gives
  one slot per real instant, i.e. two slots;
* a slot lasts ``slot_minutes`` of real time, so its end may show a different offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import SlotUnavailable, ValidationProblem

MAX_RANGE_DAYS = 62


@dataclass(frozen=True, slots=True)
class OpeningInterval:
    """Open on ``weekday`` (0 = Monday) from ``opens_minute`` to ``closes_minute`` after local
    midnight (0..1440; 1440 is the next midnight)."""

    weekday: int
    opens_minute: int
    closes_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")
        if not 0 <= self.opens_minute < self.closes_minute <= 1440:
            raise ValueError(f"need 0 <= opens < closes <= 1440, got {self.opens_minute}..{self.closes_minute}")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span of real time ``[start, end)``; both aware datetimes."""

    start: datetime
    end: datetime

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Slot:
    """One slot: ``start`` and ``end`` are aware datetimes in the resource's own timezone."""

    start: datetime
    end: datetime
    available: bool = True

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Everything the grid of one resource depends on."""

    timezone: str
    slot_minutes: int
    hours: tuple[OpeningInterval, ...]
    closures: tuple[Period, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def local_instants(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The real instants (aware, in ``zone``) at which the naive local time ``wall`` occurs.

    Returns ``[]`` in a DST gap, two instants in a DST fold, one otherwise.
    """
    instants: list[datetime] = []
    for fold in (0, 1):
        candidate = wall.replace(tzinfo=zone, fold=fold)
        round_trip = candidate.astimezone(UTC).astimezone(zone)
        if round_trip.replace(tzinfo=None) != wall:
            continue  # does not exist on the wall clock
        if all(candidate.astimezone(UTC) != seen.astimezone(UTC) for seen in instants):
            instants.append(round_trip)
    return instants


def day_grid(schedule: Schedule, day: date) -> list[Slot]:
    """All slots whose local start falls on ``day``, sorted by real start; closures removed."""
    zone = schedule.zone
    length = timedelta(minutes=schedule.slot_minutes)
    midnight = datetime.combine(day, time())
    slots: dict[datetime, Slot] = {}
    for interval in schedule.hours:
        if interval.weekday != day.weekday():
            continue
        last_start = interval.closes_minute - schedule.slot_minutes
        for minute in range(interval.opens_minute, last_start + 1, schedule.slot_minutes):
            for start in local_instants(midnight + timedelta(minutes=minute), zone):
                end = (start.astimezone(UTC) + length).astimezone(zone)
                period = Period(start, end)
                if any(period.overlaps(closure) for closure in schedule.closures):
                    continue
                slots[start.astimezone(UTC)] = Slot(start, end)
    return [slots[key] for key in sorted(slots)]


def check_range(first: date, last: date) -> None:
    """Raise ``ValidationProblem`` (field ``to``) if ``last < first`` or the range is longer than
    62 days counted inclusively (DESIGN.md section 5)."""
    if last < first:
        raise ValidationProblem("'to' is before 'from'", field="to")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationProblem(f"the range may span at most {MAX_RANGE_DAYS} days", field="to")


def availability(
    schedule: Schedule,
    first: date,
    last: date,
    taken: Iterable[datetime],
    now: datetime,
) -> list[Slot]:
    """Slots with local start dates in ``first..last`` (inclusive), each marked available or not.

    ``taken`` holds the UTC starts of slots under a live claim. Past slots (start before ``now``)
    and taken ones are listed with ``available=False``. Raises ``ValidationProblem`` for a bad range.
    """
    check_range(first, last)
    taken_set = {instant.astimezone(UTC) for instant in taken}
    result: list[Slot] = []
    day = first
    while day <= last:
        for slot in day_grid(schedule, day):
            free = slot.start >= now and slot.start_utc not in taken_set
            result.append(Slot(slot.start, slot.end, free))
        day += timedelta(days=1)
    return result


def slots_for_booking(schedule: Schedule, start: datetime, count: int, now: datetime) -> list[Slot]:
    """The ``count`` consecutive slots a booking starting at ``start`` would hold.

    ``start`` must be aware. Raises ``ValidationProblem`` naming field ``start`` when the start is
    in the past, off the slot grid, or outside opening hours (including closures), and naming
    ``slots`` when fewer than ``count`` back-to-back slots follow it. Seed step 2, error rule 1.
    """
    if start.tzinfo is None:
        raise ValidationProblem("start must carry a UTC offset", field="start")
    if count < 1:
        raise ValidationProblem("slots must be at least 1", field="slots")
    if start < now:
        raise ValidationProblem("start is in the past", field="start")
    zone = schedule.zone
    local_start = start.astimezone(zone)
    span_days = (count * schedule.slot_minutes) // 1440 + 2
    grid: list[Slot] = []
    for offset in range(span_days):
        grid.extend(day_grid(schedule, local_start.date() + timedelta(days=offset)))
    index = next((i for i, slot in enumerate(grid) if slot.start_utc == start.astimezone(UTC)), None)
    if index is None:
        if _on_grid(schedule, local_start):
            raise ValidationProblem("start is outside opening hours", field="start")
        raise ValidationProblem(f"start is not on the slot grid ({schedule.slot_minutes}-minute slots)", field="start")
    chosen = grid[index : index + count]
    for previous, following in zip(chosen, chosen[1:], strict=False):
        if following.start_utc != previous.end.astimezone(UTC):
            raise ValidationProblem("the requested slots are not back to back within opening hours", field="slots")
    if len(chosen) < count:
        raise ValidationProblem("not enough consecutive slots within opening hours", field="slots")
    return chosen


def _on_grid(schedule: Schedule, local_start: datetime) -> bool:
    if local_start.second or local_start.microsecond:
        return False
    minute = local_start.hour * 60 + local_start.minute
    anchors = {interval.opens_minute for interval in schedule.hours} | {0}
    return any((minute - anchor) % schedule.slot_minutes == 0 for anchor in anchors)


def ensure_free(slots: Iterable[Slot], taken: Iterable[datetime]) -> None:
    """Raise ``SlotUnavailable`` if any of ``slots`` starts at a taken UTC instant."""
    taken_set = {instant.astimezone(UTC) for instant in taken}
    for slot in slots:
        if slot.start_utc in taken_set:
            raise SlotUnavailable(f"the slot starting {slot.start.isoformat()} is already taken", field="start")
