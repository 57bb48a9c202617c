"""The sandbox provider's hosted pages and status API (DESIGN.md section 8).

These belong to the emulated provider, not to our dashboard, so they are plain FastAPI routes
with server-rendered HTML (Jinja2, autoescaped), like a real provider's checkout:

* ``GET /sandbox/checkout/{id}``: amount, description, Pay and Decline;
* ``POST /sandbox/checkout/{id}``: the click, form or JSON ``{"outcome", "deliver_webhook"}``,
  answered 303 to the checkout's return URL (422 problem for a bad outcome, 404 unknown id);
* ``GET /sandbox/api/payments/{id}``: the checkout's status as JSON.

Nothing is registered when the sandbox is disabled (``BOOKING_SANDBOX_ENABLED=0``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nicegui import app as nicegui_app
from starlette.concurrency import run_in_threadpool

from api.problems import domain_problem, json_body
from domain.errors import DomainError, NotFound, ValidationProblem
from domain.money import Money, format_money
from payment.providers.sandbox import SandboxGateway
from system import System

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
TRUE, FALSE = {"true", "1", "on", "yes"}, {"false", "0", "off", "no"}


def register(system: System, target: FastAPI | None = None) -> None:
    """Add the sandbox routes to ``target`` (NiceGUI's FastAPI app by default) if the sandbox is
    enabled."""
    app = target or nicegui_app
    gateway: SandboxGateway | None = system.sandbox
    if gateway is None:
        return
    locale = system.settings.locale

    @app.get("/sandbox/checkout/{sandbox_id}", include_in_schema=False, response_class=HTMLResponse)
    async def checkout_page(sandbox_id: str, request: Request) -> HTMLResponse:
        checkout = await run_in_threadpool(gateway.status, sandbox_id)
        if checkout is None:
            html = TEMPLATES.get_template("sandbox_checkout.html").render(
                checkout=None, message=f"There is no sandbox checkout {sandbox_id}."
            )
            return HTMLResponse(html, status_code=404)
        html = TEMPLATES.get_template("sandbox_checkout.html").render(
            checkout=checkout,
            amount=format_money(Money(checkout.amount, checkout.currency), locale),
            expires=checkout.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            action=request.url.path,
        )
        return HTMLResponse(html)

    @app.post("/sandbox/checkout/{sandbox_id}", include_in_schema=False)
    async def click(sandbox_id: str, request: Request) -> Response:
        try:
            outcome, deliver_webhook = await _read_click(request)
            checkout = await run_in_threadpool(
                lambda: gateway.pay(sandbox_id, outcome, deliver_webhook=deliver_webhook)
            )
        except DomainError as error:
            return domain_problem(error)
        return RedirectResponse(checkout.return_url, status_code=303)

    @app.get("/sandbox/api/payments/{sandbox_id}", include_in_schema=False)
    async def status(sandbox_id: str) -> JSONResponse:
        checkout = await run_in_threadpool(gateway.status, sandbox_id)
        if checkout is None:
            return domain_problem(NotFound(f"there is no sandbox checkout {sandbox_id}", field="sandbox_id"))
        return JSONResponse(checkout.view())


async def _read_click(request: Request) -> tuple[str, bool]:
    """``(outcome, deliver_webhook)`` from a form or JSON body; ``deliver_webhook`` defaults to true.

    Raises ``InvalidJson`` or ``ValidationProblem``.
    """
    if request.headers.get("content-type", "").startswith("application/json"):
        data: Any = await json_body(request)
        if not isinstance(data, dict):
            raise ValidationProblem("the body must be a JSON object", field="body")
    else:
        data = dict(await request.form())
    outcome = data.get("outcome")
    if outcome not in ("succeeded", "failed"):
        raise ValidationProblem("outcome must be 'succeeded' or 'failed'", field="outcome")
    return outcome, _flag(data.get("deliver_webhook", True))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUE | FALSE:
        return value.lower() in TRUE
    raise ValidationProblem("deliver_webhook must be true or false", field="deliver_webhook")
