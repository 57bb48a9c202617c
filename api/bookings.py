"""``POST /api/bookings`` and ``GET /api/bookings/{id}`` (seed steps 2-3)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.idempotency import idempotent
from api.problems import parse_model, problem_responses, request_body
from api.schemas import BookingCreate
from domain.bookings import BookingRequest, create_booking, get_booking
from domain.errors import ValidationProblem
from system import System

BOOKING_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": BookingCreate.model_json_schema()}}}
}


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["bookings"], responses=problem_responses(422))

    @router.post(
        "/bookings",
        status_code=201,
        summary="Hold slots for a new booking",
        openapi_extra=BOOKING_BODY,
        responses=problem_responses(400, 404, 409, 422),
    )
    async def post_booking(request: Request) -> JSONResponse:
        """Hold the slots for ``BOOKING_HOLD_SECONDS`` and publish ``booking.created``; 201 with the
        booking (``status: pending_payment``). Honours ``Idempotency-Key``."""
        body = await request_body(request)

        async def handle() -> JSONResponse:
            data = parse_model(BookingCreate, body)
            if data.customer.email is None and data.customer.phone is None:
                raise ValidationProblem("give the customer's email or phone", field="customer")
            booking = await run_in_threadpool(
                create_booking,
                system.uow,
                BookingRequest(
                    resource_id=data.resource_id,
                    start=data.start,
                    slots=data.slots,
                    customer_name=data.customer.name,
                    customer_email=data.customer.email,
                    customer_phone=data.customer.phone,
                    notes=data.notes,
                ),
                now=system.now(),
                hold_seconds=system.settings.hold_seconds,
                locale=system.settings.locale,
            )
            system.events_committed()
            return JSONResponse(booking, status_code=201)

        return await idempotent(system.uow, system.clock, request, "POST /api/bookings", body, handle)

    @router.get("/bookings/{booking_id}", summary="A booking with its payments", responses=problem_responses(404))
    async def read_booking(booking_id: str, principal: CurrentUser) -> dict:
        """The booking; without staff authentication the customer's email and phone are masked."""
        return await run_in_threadpool(get_booking, system.uow, booking_id, masked=principal is None)

    return router
