"""``GET /api/resources`` and ``GET /api/availability`` (seed step 1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from domain.bookings import get_availability
from domain.occupancy import active_resources
from domain.views import local_iso
from system import System


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["availability"])

    @router.get("/resources", summary="Bookable resources")
    def list_resources() -> list[dict]:
        """Every active resource: ``[{id, name, timezone, slot_minutes, price}]``."""
        return active_resources(system.uow)

    @router.get("/availability", summary="Slots with their availability")
    async def availability(
        from_: Annotated[date, Query(alias="from", description="first local date, YYYY-MM-DD")],
        to: Annotated[date, Query(description="last local date, inclusive, YYYY-MM-DD")],
        resource_id: Annotated[int | None, Query(description="one resource; all active ones if left out")] = None,
    ) -> dict:
        """Slots with local start dates in ``from..to`` (inclusive, at most 62 days), each with
        ``available``; past and taken slots are listed with ``available: false``."""
        rows = await run_in_threadpool(get_availability, system.uow, resource_id, from_, to, system.now())
        return {
            "from": from_.isoformat(),
            "to": to.isoformat(),
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
