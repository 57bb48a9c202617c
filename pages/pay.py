"""Public payment pages: ``/pay/{booking_id}`` (the link mails and the kiosk give the client) and
``/payments/{payment_id}/return`` (where the provider sends the client back; DESIGN.md section 5)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nicegui import app, run, ui
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError, InvalidState, NotFound, ProviderError
from domain.money import Money, format_money
from messaging.envelope import CloudEvent
from payment.service import get_payment_with_booking, start_payment
from system import System

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
REFRESH_SECONDS = 3.0  # fallback polling when no live event arrives


def register(system: System) -> None:
    """Add ``GET /pay/{booking_id}`` and the return page to NiceGUI's app."""

    @app.get("/pay/{booking_id}", include_in_schema=False)
    async def pay(booking_id: str) -> Response:
        """Start (or reuse) a payment with the default provider and redirect (303) to its
        hosted page; a booking that cannot be paid gets a small page saying why (404, 409, 502)."""
        try:
            payment, _ = await run_in_threadpool(
                lambda: start_payment(
                    system.uow,
                    system.providers,
                    booking_id=booking_id,
                    provider=None,
                    return_url=None,
                    settings=system.settings,
                    now=system.now(),
                )
            )
        except DomainError as error:
            headline, detail = _explain(error)
            html = TEMPLATES.get_template("pay_problem.html").render(headline=headline, detail=detail)
            return HTMLResponse(html, status_code=error.status)
        return RedirectResponse(payment["redirect_url"], status_code=303)

    @ui.page("/payments/{payment_id}/return", title="Payment status")
    async def payment_return(payment_id: str) -> None:
        """The payment's and booking's status, refreshed on a live event for the booking and by
        a slow timer as a fallback."""
        try:
            state = await run.io_bound(get_payment_with_booking, system.uow, payment_id)
        except NotFound:
            ui.label("This payment does not exist.").classes("text-xl m-8")
            return
        if state is None:  # shutting down
            return
        locale = system.settings.locale
        booking_id = state["booking"]["id"]

        # Defined per page: a module-level refreshable would refresh every client's copy at once.
        status_card = ui.refreshable(render_status)
        with ui.column().classes("max-w-xl mx-auto mt-10 gap-4"):
            status_card(state, locale)

        async def reload() -> None:
            nonlocal state
            fresh = await run.io_bound(get_payment_with_booking, system.uow, payment_id)
            if fresh is None or fresh == state:
                return
            state = fresh
            status_card.refresh(state, locale)
            if _settled(state):
                timer.deactivate()

        async def on_event(event: CloudEvent) -> None:
            if event.subject == booking_id:
                await reload()

        timer = ui.timer(REFRESH_SECONDS, reload, active=not _settled(state))
        system.live.subscribe(on_event)


def render_status(state: dict, locale: str) -> None:
    """Headline, payment and booking of the return page."""
    payment, booking = state["payment"], state["booking"]
    start = datetime.fromisoformat(booking["start"]).strftime("%Y-%m-%d %H:%M")
    price = format_money(Money(payment["amount"]["amount"], payment["amount"]["currency"]), locale)
    with ui.card().classes("w-full p-6").mark("payment-status"):
        ui.label(_headline(payment, booking)).classes("text-xl font-semibold").mark("headline")
        ui.label(f"{booking['resource_name']}, {start}").classes("text-gray-700")
        ui.label(f"Amount: {price}")
        ui.label(f"Payment: {payment['status']}").mark("payment-status-text")
        ui.label(f"Booking: {booking['status']}").mark("booking-status-text")
        if payment["status"] == "pending":
            ui.spinner(size="lg")
        if payment["status"] == "failed" and booking["status"] == "pending_payment":
            ui.link("Try again", f"/pay/{booking['id']}")


def _headline(payment: dict, booking: dict) -> str:
    status = payment["status"]
    if status == "pending":
        return "Waiting for the payment provider to confirm your payment…"
    if status == "failed":
        return f"The payment did not go through ({payment['failure_reason'] or 'failed'})."
    if status == "refunded":
        return "Your payment was refunded: the booking could not be kept."
    if booking["status"] == "confirmed":
        return "Paid: your booking is confirmed."
    return "Payment received; our staff will contact you about your booking."


def _settled(state: dict) -> bool:
    """Nothing more will change on its own: the payment ended and the booking is not awaiting it."""
    return state["payment"]["status"] != "pending" and state["booking"]["status"] != "pending_payment"


def _explain(error: DomainError) -> tuple[str, str]:
    if isinstance(error, NotFound):
        return "Booking not found", "There is no booking behind this link. Please check the link in your mail."
    if isinstance(error, InvalidState):
        return "This booking cannot be paid", f"{error.detail}."
    if isinstance(error, ProviderError):
        return "The payment provider is not answering", "Please try again in a minute."
    return "Payment not possible", error.detail
