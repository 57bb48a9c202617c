"""Demo data for an empty database (``BOOKING_DEMO_DATA=1``): resources priced in RUB with weekly
opening hours, one in Europe/Moscow and one in Europe/Berlin open around the clock, so both DST
switches of 2026 (March 29, October 25) show in its slots."""

from __future__ import annotations

from sqlmodel import select

from data.db import UnitOfWork
from data.models import OpeningHours, Resource

WEEKDAYS = range(0, 5)
EVERY_DAY = range(0, 7)

# (name, timezone, slot minutes, price of one slot in kopecks, [(weekdays, opens "HH:MM", closes)])
DEMO_RESOURCES = [
    ("Meeting room Neva", "Europe/Moscow", 60, 150_000, [(WEEKDAYS, "09:00", "19:00"), ([5], "10:00", "16:00")]),
    ("Tennis court 1", "Europe/Moscow", 60, 220_000, [(EVERY_DAY, "07:00", "23:00")]),
    ("Massage: Anna", "Europe/Moscow", 30, 180_000, [(WEEKDAYS, "10:00", "14:00"), (WEEKDAYS, "15:00", "20:00")]),
    ("Studio Berlin (24/7)", "Europe/Berlin", 30, 90_000, [(EVERY_DAY, "00:00", "24:00")]),
]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def seed_demo_data(uow: UnitOfWork) -> bool:
    """Insert the demo resources if there is no resource yet. Returns True if it inserted."""
    with uow.begin() as session:
        if session.exec(select(Resource.id).limit(1)).first() is not None:
            return False
        for name, timezone, slot_minutes, price, hours in DEMO_RESOURCES:
            resource = Resource(
                name=name, timezone=timezone, slot_minutes=slot_minutes, price_amount=price, currency="RUB"
            )
            session.add(resource)
            session.flush()
            for weekdays, opens, closes in hours:
                for weekday in weekdays:
                    session.add(
                        OpeningHours(
                            resource_id=resource.id,
                            weekday=weekday,
                            opens_minute=_minutes(opens),
                            closes_minute=_minutes(closes),
                        )
                    )
        session.commit()
        return True
