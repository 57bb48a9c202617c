"""``POST /api/webhooks/payments/{provider}``: the payment provider's webhook (seed step 9).

The body is read raw, as sent: the signature covers the exact bytes (DESIGN.md section 5).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from payment.service import handle_webhook
from system import System


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["webhooks"])

    @router.post("/webhooks/payments/{provider}", summary="A payment provider's webhook")
    async def payment_webhook(provider: str, request: Request) -> dict:
        """200 ``{"outcome": "applied" | "duplicate" | "ignored" | "error"}`` for every verified
        webhook (one that cannot be applied is stored and logged, so the provider stops
        retrying); 400 ``bad_signature`` / ``invalid_payload``; 404 unknown provider."""
        raw_body = await request.body()
        outcome = await run_in_threadpool(
            handle_webhook, system.uow, system.providers, provider, raw_body, dict(request.headers), system.now()
        )
        if outcome == "applied":
            system.events_committed()
        return {"outcome": outcome}

    return router
