"""Public payment pages: ``/pay/{booking_id}`` (the link mails and the kiosk give the client) and
``/payments/{payment_id}/return`` (where the provider sends the client back; DESIGN.md section 5)."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nicegui import app, run, ui
from starlette.concurrency import run_in_threadpool

from components import format as fmt
from components.frame import wait_for_browser
from components.i18n import register as register_texts
from components.i18n import translator
from domain.bookings import get_booking
from domain.errors import DomainError, InvalidState, NotFound, ProviderError
from messaging.envelope import CloudEvent
from payment.service import get_payment_with_booking, start_payment
from system import System

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
REFRESH_SECONDS = 3.0  # fallback polling when no live event arrives


register_texts(
    {
        "en": {
            "pay.missing": "This payment does not exist.",
            "pay.not_found.title": "Booking not found",
            "pay.not_found.detail": "There is no booking behind this link. Please check the link in your mail.",
            "pay.state.title": "This booking cannot be paid",
            "pay.state.confirmed": "It is already paid and confirmed. See you soon!",
            "pay.state.expired": "Its hold has run out. Please make a new booking.",
            "pay.state.cancelled": "It was cancelled.",
            "pay.state.other": "It is not waiting for a payment.",
            "pay.provider.title": "The payment provider is not answering",
            "pay.provider.detail": "Please try again in a minute.",
            "pay.other.title": "Payment not possible",
            "pay.headline.pending": "Waiting for the payment provider to confirm your payment…",
            "pay.headline.failed": "The payment did not go through.",
            "pay.headline.refunded": "Your payment was refunded: the booking could not be kept.",
            "pay.headline.confirmed": "Paid: your booking is confirmed.",
            "pay.headline.received": "Payment received; our staff will contact you about your booking.",
            "pay.amount": "Amount: {amount}",
            "pay.payment": "Payment: {status}",
            "pay.booking": "Booking: {status}",
            "pay.again": "Try again",
        },
        "ru": {
            "pay.missing": "Такого платежа нет.",
            "pay.not_found.title": "Бронирование не найдено",
            "pay.not_found.detail": "По этой ссылке нет бронирования. Проверьте ссылку в письме.",
            "pay.state.title": "Это бронирование нельзя оплатить",
            "pay.state.confirmed": "Оно уже оплачено и подтверждено. До встречи!",
            "pay.state.expired": "Время удержания истекло. Пожалуйста, забронируйте заново.",
            "pay.state.cancelled": "Оно отменено.",
            "pay.state.other": "Оно не ожидает оплаты.",
            "pay.provider.title": "Платёжная система не отвечает",
            "pay.provider.detail": "Пожалуйста, попробуйте ещё раз через минуту.",
            "pay.other.title": "Оплата невозможна",
            "pay.headline.pending": "Ждём подтверждения оплаты от платёжной системы…",
            "pay.headline.failed": "Оплата не прошла.",
            "pay.headline.refunded": "Платёж возвращён: бронирование сохранить не удалось.",
            "pay.headline.confirmed": "Оплачено: бронирование подтверждено.",
            "pay.headline.received": "Платёж получен; наши сотрудники свяжутся с вами по поводу бронирования.",
            "pay.amount": "Сумма: {amount}",
            "pay.payment": "Платёж: {status}",
            "pay.booking": "Бронирование: {status}",
            "pay.again": "Попробовать снова",
        },
    }
)


def register(system: System) -> None:
    """Add ``GET /pay/{booking_id}`` and the return page to NiceGUI's app. Both speak the
    booking's language (the one its mails use)."""

    def booking_locale(booking_id: str) -> tuple[str, str | None]:
        try:
            booking = get_booking(system.uow, booking_id, masked=True)
        except NotFound:
            return system.settings.locale, None
        return booking["locale"], booking["status"]

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
            locale, status = await run_in_threadpool(booking_locale, booking_id)
            headline, detail = _explain(error, status, translator(locale))
            html = TEMPLATES.get_template("pay_problem.html").render(headline=headline, detail=detail, lang=locale)
            return HTMLResponse(html, status_code=error.status)
        return RedirectResponse(payment["redirect_url"], status_code=303)

    @ui.page("/payments/{payment_id}/return", title="Booking Desk")
    async def payment_return(payment_id: str) -> Response | None:
        """The payment's and booking's status, refreshed on a live event for the booking and by
        a slow timer as a fallback. An unknown payment gets a 404 page."""
        try:
            state = await run.io_bound(get_payment_with_booking, system.uow, payment_id)
        except NotFound:
            t = translator(system.settings.locale)
            html = TEMPLATES.get_template("pay_problem.html").render(
                headline=t("pay.missing"), detail=t("pay.not_found.detail"), lang=system.settings.locale
            )
            return HTMLResponse(html, status_code=404)
        if state is None or not await wait_for_browser():  # shutting down, or no browser came
            return None
        locale = state["booking"].get("locale") or system.settings.locale
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
    """Headline, payment and booking of the return page, in ``locale``."""
    t = translator(locale)
    payment, booking = state["payment"], state["booking"]
    start = fmt.date_time(booking["start"], booking.get("timezone") or "UTC", locale)
    price = fmt.money_of(payment["amount"], locale)
    with ui.card().classes("w-full p-6").mark("payment-status"):
        ui.label(_headline(payment, booking, t)).classes("text-xl font-semibold").mark("headline")
        ui.label(f"{booking['resource_name']}, {start}").classes("text-gray-700")
        ui.label(t("pay.amount", amount=price))
        ui.label(t("pay.payment", status=t(f"status.{payment['status']}"))).mark("payment-status-text")
        ui.label(t("pay.booking", status=t(f"status.{booking['status']}"))).mark("booking-status-text")
        if payment["status"] == "pending":
            ui.spinner(size="lg")
        if payment["status"] == "failed" and booking["status"] == "pending_payment":
            ui.link(t("pay.again"), f"/pay/{booking['id']}")


def _headline(payment: dict, booking: dict, t) -> str:
    status = payment["status"]
    if status in ("pending", "failed", "refunded"):
        return t(f"pay.headline.{status}")
    return t("pay.headline.confirmed" if booking["status"] == "confirmed" else "pay.headline.received")


def _settled(state: dict) -> bool:
    """Nothing more will change on its own: the payment ended and the booking is not awaiting it."""
    return state["payment"]["status"] != "pending" and state["booking"]["status"] != "pending_payment"


def _explain(error: DomainError, booking_status: str | None, t) -> tuple[str, str]:
    if isinstance(error, NotFound):
        return t("pay.not_found.title"), t("pay.not_found.detail")
    if isinstance(error, InvalidState):
        if booking_status in ("confirmed", "expired", "cancelled"):
            return t("pay.state.title"), t(f"pay.state.{booking_status}")
        if booking_status == "pending_payment":  # its hold has passed, not yet marked expired
            return t("pay.state.title"), t("pay.state.expired")
        return t("pay.state.title"), t("pay.state.other")
    if isinstance(error, ProviderError):
        return t("pay.provider.title"), t("pay.provider.detail")
    return t("pay.other.title"), error.detail
