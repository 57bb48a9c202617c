"""``POST /api/payments`` and ``GET /api/payments/{id}`` (seed steps 6-7, DESIGN.md section 5)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.idempotency import idempotent
from api.problems import parse_model, problem_responses, request_body
from payment.service import get_payment, start_payment
from system import System


class PaymentCreate(BaseModel):
    """Body of ``POST /api/payments``: ``provider`` defaults to ``BOOKING_PAYMENT_PROVIDER``,
    ``return_url`` to the public page ``/payments/{id}/return``."""

    model_config = ConfigDict(extra="forbid")

    booking_id: str = Field(min_length=1, max_length=36, description="the booking's UUID")
    provider: str | None = Field(None, max_length=20, description="sandbox, stripe or yookassa")
    return_url: str | None = Field(None, max_length=2000, description="where the provider sends the client back")


PAYMENT_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": PaymentCreate.model_json_schema()}}}
}


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["payments"], responses=problem_responses(422))

    @router.post(
        "/payments",
        status_code=201,
        summary="Start (or reuse) a payment for a pending booking",
        openapi_extra=PAYMENT_BODY,
        responses={
            200: {"description": "the booking's pending payment with this provider, reused"},
            **problem_responses(400, 404, 409, 422, 502),
        },
    )
    async def post_payment(request: Request) -> JSONResponse:
        """201 with a new pending payment and its ``redirect_url``; 200 with the booking's pending
        payment at this provider if there is one. 404, 409 ``invalid_state``, 422, 502
        ``provider_error`` (the payment stays pending; retrying uses the same provider
        idempotency key). Honours ``Idempotency-Key``."""
        body = await request_body(request)

        async def handle() -> JSONResponse:
            data = parse_model(PaymentCreate, body)
            payment, created = await run_in_threadpool(
                lambda: start_payment(
                    system.uow,
                    system.providers,
                    booking_id=data.booking_id,
                    provider=data.provider,
                    return_url=data.return_url,
                    settings=system.settings,
                    now=system.now(),
                )
            )
            system.events_committed()
            return JSONResponse(payment, status_code=201 if created else 200)

        return await idempotent(system.uow, system.clock, request, "POST /api/payments", body, handle)

    @router.get("/payments/{payment_id}", summary="A payment", responses=problem_responses(404))
    async def read_payment(payment_id: str) -> dict:
        """The payment: ``{id, booking_id, status, amount, provider, redirect_url, ...}``; 404."""
        return await run_in_threadpool(get_payment, system.uow, payment_id)

    return router
