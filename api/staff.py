"""Staff routes of the API (session cookie or ``Authorization: Bearer`` token): list and search
bookings, cancel a booking, list deliveries and dead letters, replay one (manager)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import ManagerUser, StaffUser
from api.problems import problem_responses
from domain.bookings import search_bookings
from messaging.ledger import list_deliveries, replay_delivery
from payment.service import cancel_and_refund
from system import System


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["staff"], responses=problem_responses(401, 403, 422))
    business_zone = ZoneInfo(system.settings.timezone)

    def day_start(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=business_zone)

    @router.get("/bookings", summary="List and search bookings (staff)")
    async def list_bookings(
        _staff: StaffUser,
        status: str | None = None,
        resource_id: int | None = None,
        from_: Annotated[date | None, Query(alias="from", description="first day (business timezone)")] = None,
        to: Annotated[date | None, Query(description="last day, inclusive")] = None,
        q: Annotated[str | None, Query(max_length=100, description="customer name, email, phone or id")] = None,
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=200)] = 25,
    ) -> dict:
        """``{items, total, page, per_page}``; items are bookings with unmasked contacts."""
        return await run_in_threadpool(
            search_bookings,
            system.uow,
            status=status,
            resource_id=resource_id,
            start_from=day_start(from_) if from_ else None,
            start_before=day_start(to + timedelta(days=1)) if to else None,
            query=q,
            page=page,
            per_page=per_page,
        )

    @router.post("/bookings/{booking_id}/cancel", summary="Cancel a booking (staff)")
    async def cancel(booking_id: str, _staff: StaffUser) -> dict:
        """Cancel a ``pending_payment`` or ``confirmed`` booking, freeing its slots; a paid one is
        refunded through its provider. 409 ``invalid_state`` for expired or cancelled bookings."""
        view = await run_in_threadpool(cancel_and_refund, system.uow, system.providers, booking_id, system.now())
        system.events_committed()
        return view

    @router.get("/deliveries", summary="Event deliveries and dead letters (staff)")
    async def deliveries(
        _staff: StaffUser,
        status: str | None = None,
        consumer: str | None = None,
        event_id: str | None = None,
        subject: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict]:
        """The delivery ledger, newest first; ``status=dead`` lists the dead letters."""
        return await run_in_threadpool(
            list_deliveries,
            system.uow,
            status=status,
            consumer=consumer,
            event_id=event_id,
            subject=subject,
            limit=limit,
        )

    @router.post("/deliveries/{delivery_id}/replay", summary="Replay a dead letter (manager)")
    async def replay(delivery_id: int, _manager: ManagerUser) -> dict:
        """Start a fresh cycle of attempts for a dead delivery, to that one consumer."""
        view = await run_in_threadpool(replay_delivery, system.uow, delivery_id, system.clock)
        system.events_committed()
        return view

    @router.get("/diagnostics", summary="Process diagnostics (manager)")
    async def diagnostics(_manager: ManagerUser) -> dict:
        """This web process's open page clients, live-update subscribers and resident memory (MiB)."""
        from nicegui import Client

        rss = next(
            (int(line.split()[1]) / 1024 for line in open("/proc/self/status") if line.startswith("VmRSS:")), None
        )
        return {
            "page_clients": len(Client.instances),
            "live_subscribers": len(system.live.event.callbacks),
            "rss_mib": rss,
        }

    return router
