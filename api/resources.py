"""``GET /api/resources`` and ``GET /api/availability`` (seed step 1)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.problems import problem_responses
from domain.bookings import get_availability
from domain.errors import ValidationProblem
from domain.occupancy import active_resources
from domain.views import local_iso
from system import System


def calendar_date(text: str, field: str) -> date:
    """A ``YYYY-MM-DD`` date (nothing else: no time, no timestamp); raises ``ValidationProblem``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValidationProblem(f"{field} must be a date written YYYY-MM-DD, got {text!r}", field=field)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationProblem(f"{field} is not a calendar date: {text!r}", field=field) from None


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["availability"], responses=problem_responses(422))

    @router.get("/resources", summary="Bookable resources")
    def list_resources() -> list[dict]:
        """Every active resource: ``[{id, name, timezone, slot_minutes, price}]``."""
        return active_resources(system.uow)

    @router.get("/availability", summary="Slots with their availability", responses=problem_responses(404, 422))
    async def availability(
        from_: Annotated[str, Query(alias="from", description="first local date, YYYY-MM-DD")],
        to: Annotated[str, Query(description="last local date, inclusive, YYYY-MM-DD")],
        resource_id: Annotated[
            str | None, Query(pattern=r"^\d*$", description="one resource; all active ones if left out or empty")
        ] = None,
    ) -> dict:
        """Slots with local start dates in ``from..to`` (inclusive, at most 62 days), each with
        ``available``; past and taken slots are listed with ``available: false``."""
        first, last = calendar_date(from_, "from"), calendar_date(to, "to")
        resource = int(resource_id) if resource_id else None
        rows = await run_in_threadpool(get_availability, system.uow, resource, first, last, system.now())
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "slots": [
                {
                    "resource_id": resource.id,
                    "start": local_iso(slot.start, resource.timezone),
                    "end": local_iso(slot.end, resource.timezone),
                    "available": slot.available,
                }
                for resource, slot in rows
            ],
        }

    return router
