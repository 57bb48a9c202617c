"""``/bookings/{id}``: one booking for staff: status, resource, time in the resource's timezone,
the customer's contacts (unmasked), price, and a timeline of everything that happened to it
(events with their deliveries, payments with their webhook receipts, mails).

Actions: start a payment with the default provider (then a button opens its hosted page in a new
tab; the pay link ``{public_url}/pay/{id}`` is shown while the booking can be paid), cancel
(refunding succeeded payments; confirm first), resend the newest mail. Live: an event whose
subject is this booking re-reads the page, so a webhook turning it ``confirmed`` shows within a
second.

The route only matches UUIDs, so ``/bookings/new`` (the booking wizard) is never taken for an id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from nicegui import run, ui

from components import format as fmt
from components.debounce import debounced
from components.frame import PageContext, frame, open_page, status_badge
from components.i18n import error_text, register
from components.timeline import TIMELINE_CSS, render_timeline, timeline_entries
from domain.bookings import get_booking
from domain.errors import DomainError, NotFound
from domain.reports import booking_events, booking_mails
from domain.states import BookingStatus, hold_active
from messaging.envelope import CloudEvent
from messaging.ledger import list_deliveries
from notifications.resend import resend_latest_mail
from payment.queries import booking_payments
from payment.service import cancel_and_refund, start_payment
from system import System

log = logging.getLogger(__name__)

register(
    {
        "en": {
            "booking.title": "Booking {id}",
            "booking.back": "Bookings",
            "booking.not_found": "There is no booking {id}.",
            "booking.resource": "Resource",
            "booking.when": "Time",
            "booking.timezone": "Time zone",
            "booking.slots": "Slots",
            "booking.price": "Price",
            "booking.hold": "Hold until",
            "booking.hold_passed": "Hold passed at {time}",
            "booking.created": "Created",
            "booking.notes": "Notes",
            "booking.customer": "Customer",
            "booking.name": "Name",
            "booking.email": "Email",
            "booking.phone": "Phone",
            "booking.pay_link": "Pay link for the customer",
            "booking.copy": "Copy",
            "booking.copied": "Copied.",
            "booking.checkout": "Open the checkout page",
            "booking.action.pay": "Start payment",
            "booking.action.cancel": "Cancel booking",
            "booking.action.resend": "Resend mail",
            "booking.paying": "Payment started at {provider}; open its checkout page for the customer.",
            "booking.cancel.title": "Cancel this booking?",
            "booking.cancel.body": "The slots become free again; succeeded payments are refunded by their provider.",
            "booking.cancel.confirm": "Cancel booking",
            "booking.cancel.keep": "Keep it",
            "booking.cancelled": "Booking cancelled.",
            "booking.cancelled.refunds": "Booking cancelled; {count} payment(s) refunded.",
            "booking.cancelled.attention": "Booking cancelled, but a refund needs attention: {detail}",
            "booking.resent": "Mail sent again to {recipient}.",
            "booking.resend.none": "No mail has been sent for this booking yet.",
            "booking.resend.failed": "The mail could not be sent: {error}",
            "booking.attention": "Needs attention",
            "booking.none": "—",
        },
        "ru": {
            "booking.title": "Бронь {id}",
            "booking.back": "Брони",
            "booking.not_found": "Брони {id} нет.",
            "booking.resource": "Ресурс",
            "booking.when": "Время",
            "booking.timezone": "Часовой пояс",
            "booking.slots": "Слотов",
            "booking.price": "Цена",
            "booking.hold": "Удерживается до",
            "booking.hold_passed": "Удержание истекло {time}",
            "booking.created": "Создана",
            "booking.notes": "Заметки",
            "booking.customer": "Клиент",
            "booking.name": "Имя",
            "booking.email": "Почта",
            "booking.phone": "Телефон",
            "booking.pay_link": "Ссылка на оплату для клиента",
            "booking.copy": "Копировать",
            "booking.copied": "Скопировано.",
            "booking.checkout": "Открыть страницу оплаты",
            "booking.action.pay": "Начать оплату",
            "booking.action.cancel": "Отменить бронь",
            "booking.action.resend": "Отправить письмо ещё раз",
            "booking.paying": "Платёж начат через {provider}; откройте страницу оплаты для клиента.",
            "booking.cancel.title": "Отменить эту бронь?",
            "booking.cancel.body": "Слоты снова станут свободными. Прошедшие платежи вернутся через их провайдера.",
            "booking.cancel.confirm": "Отменить бронь",
            "booking.cancel.keep": "Оставить",
            "booking.cancelled": "Бронь отменена.",
            "booking.cancelled.refunds": "Бронь отменена; возвращено платежей: {count}.",
            "booking.cancelled.attention": "Бронь отменена, но возврат требует внимания: {detail}",
            "booking.resent": "Письмо отправлено повторно на {recipient}.",
            "booking.resend.none": "По этой брони ещё не отправлялось писем.",
            "booking.resend.failed": "Письмо не удалось отправить: {error}",
            "booking.attention": "Требует внимания",
            "booking.none": "—",
        },
    }
)


def booking_detail(system: System, booking_id: str) -> dict[str, Any]:
    """Everything the screen shows: ``{booking (unmasked view), events, payments (with receipts),
    deliveries, mails}``. Raises ``NotFound``."""
    return {
        "booking": get_booking(system.uow, booking_id, masked=False),
        "events": booking_events(system.uow, booking_id),
        "payments": booking_payments(system.uow, booking_id),
        "deliveries": list_deliveries(system.uow, subject=booking_id, limit=500),
        "mails": booking_mails(system.uow, booking_id),
    }


def register(system: System) -> None:
    @ui.page("/bookings/{booking_id:uuid}", title="Booking Desk")
    async def booking_page(request: Request, booking_id: uuid.UUID) -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        bid = str(booking_id)
        ui.add_css(TIMELINE_CSS)
        with frame(ctx, "nav.bookings", active="/bookings"):
            try:
                state = await run.io_bound(booking_detail, system, bid)
            except NotFound:
                ui.label(ctx.t("booking.not_found", id=bid)).classes("text-lg").mark("booking-not-found")
                return
            if state is None:  # shutting down
                return
            pay_info: dict[str, Any] = {}  # the checkout URL of a payment started from this page
            actions = Actions(ctx, system, bid)
            # Defined per page: a module-level refreshable would refresh every client's copy at once.
            view = ui.refreshable(render_detail)
            view(ctx, state, pay_info, actions)

        async def reload() -> None:
            nonlocal state
            fresh = await run.io_bound(booking_detail, system, bid)
            if fresh is None:
                return
            state = fresh
            view.refresh(ctx, state, pay_info, actions)

        actions.reload = reload
        refresh_soon = debounced(reload)

        async def on_event(event: CloudEvent) -> None:
            if event.subject == bid:
                await refresh_soon()

        system.live.subscribe(on_event)


class Actions:
    """The screen's buttons: each calls one use case, tells the user the outcome and reloads."""

    def __init__(self, ctx: PageContext, system: System, booking_id: str) -> None:
        self.ctx, self.system, self.booking_id = ctx, system, booking_id
        self.reload: Callable[[], Awaitable[None]] = _nothing

    async def start_payment(self, pay_info: dict[str, Any]) -> None:
        system = self.system
        try:
            payment, _created = await run.io_bound(
                lambda: start_payment(
                    system.uow,
                    system.providers,
                    booking_id=self.booking_id,
                    provider=None,
                    return_url=None,
                    settings=system.settings,
                    now=system.now(),
                )
            )
        except DomainError as error:
            ui.notify(error_text(self.ctx.locale, error), type="negative")
            await self.reload()
            return
        # Shown as a link to click rather than opened from here: a tab opened by a server message
        # (not by the click itself) is what browsers' popup blockers stop.
        pay_info["redirect_url"] = payment["redirect_url"]
        ui.notify(self.ctx.t("booking.paying", provider=payment["provider"]), type="info")
        await self.reload()

    async def cancel(self) -> None:
        system = self.system
        try:
            view = await run.io_bound(cancel_and_refund, system.uow, system.providers, self.booking_id, system.now())
        except DomainError as error:
            ui.notify(error_text(self.ctx.locale, error), type="negative")
            await self.reload()
            return
        system.events_committed()
        refunded = [p for p in view["payments"] if p["status"] == "refunded"]
        flagged = [p["attention"] for p in view["payments"] if p["status"] == "succeeded" and p["attention"]]
        if flagged:
            message = self.ctx.t("booking.cancelled.attention", detail=flagged[0])
            ui.notify(message, type="warning", timeout=0, close_button=True)
        elif refunded:
            ui.notify(self.ctx.t("booking.cancelled.refunds", count=len(refunded)), type="positive")
        else:
            ui.notify(self.ctx.t("booking.cancelled"), type="positive")
        await self.reload()

    async def resend(self) -> None:
        system, settings = self.system, self.system.settings
        try:
            sent = await run.io_bound(
                lambda: resend_latest_mail(
                    system.uow,
                    system.mailer,
                    self.booking_id,
                    public_url=settings.public_url,
                    mail_from=settings.mail_from,
                    clock=system.clock,
                )
            )
        except OSError as error:  # smtplib errors are OSErrors too
            log.warning("resend for booking %s failed: %s", self.booking_id, error)
            ui.notify(self.ctx.t("booking.resend.failed", error=str(error)), type="negative")
            return
        if sent is None:
            ui.notify(self.ctx.t("booking.resend.none"), type="warning")
            return
        ui.notify(self.ctx.t("booking.resent", recipient=sent["recipient"]), type="positive")
        await self.reload()


def render_detail(ctx: PageContext, state: dict[str, Any], pay_info: dict[str, Any], actions: Actions) -> None:
    """The header with actions, the details and customer cards, and the timeline."""
    booking = state["booking"]
    zone = booking["timezone"]
    now = ctx.system.now()
    hold_until = datetime.fromisoformat(booking["hold_expires_at"].replace("Z", "+00:00"))
    payable = hold_active(booking["status"], hold_until, now)
    cancellable = booking["status"] in (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)
    pay_link = f"{ctx.system.settings.public_url}/pay/{booking['id']}"

    with ui.row().classes("w-full items-center gap-2"):
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/bookings")).props("flat dense round").tooltip(
            ctx.t("booking.back")
        )
        ui.label(ctx.t("booking.title", id=booking["id"][:8])).classes("text-lg font-semibold")
        status_badge(ctx, booking["status"]).classes("text-sm").mark("booking-status")
        ui.label(booking["id"]).classes("bd-muted font-mono")
        ui.space()
        if payable:
            ui.button(
                ctx.t("booking.action.pay"), icon="credit_card", on_click=lambda: actions.start_payment(pay_info)
            ).props("unelevated dense no-caps color=primary").mark("booking-pay")
        ui.button(ctx.t("booking.action.resend"), icon="forward_to_inbox", on_click=actions.resend).props(
            "outline dense no-caps"
        ).mark("booking-resend")
        if cancellable:
            ui.button(
                ctx.t("booking.action.cancel"), icon="cancel", on_click=lambda: confirm_cancel(ctx, actions)
            ).props("outline dense no-caps color=negative").mark("booking-cancel")

    flagged = [p for p in state["payments"] if p.get("attention")]
    for payment in flagged:
        with (
            ui.row()
            .classes("w-full items-center gap-2 bg-red-1 text-negative rounded px-3 py-2")
            .mark("booking-attention")
        ):
            ui.icon("warning")
            ui.label(f"{ctx.t('booking.attention')}: {payment['attention']}").classes("text-sm")

    with ui.row().classes("w-full items-start gap-3 no-wrap"):
        with ui.column().classes("gap-3 w-96 shrink-0"):
            with ui.card().classes("bd-card p-3 w-full gap-1"):
                _field(ctx, "booking.resource", booking["resource_name"])
                start, end = (fmt.clock_time(booking[key], zone, ctx.locale) for key in ("start", "end"))
                when = f"{fmt.day(booking['start'], zone, ctx.locale, fmt='full')}, {start}–{end}"
                _field(ctx, "booking.when", when, marker="booking-when")
                _field(ctx, "booking.timezone", zone)
                _field(ctx, "booking.slots", str(booking["slots"]))
                _field(ctx, "booking.price", fmt.money_of(booking["price"], ctx.locale))
                if booking["status"] == BookingStatus.PENDING_PAYMENT:
                    hold = fmt.date_time(booking["hold_expires_at"], zone, ctx.locale, fmt="medium")
                    if payable:
                        _field(ctx, "booking.hold", hold)
                    else:
                        ui.label(ctx.t("booking.hold_passed", time=hold)).classes("text-sm text-negative")
                _field(ctx, "booking.created", fmt.date_time(booking["created_at"], zone, ctx.locale, fmt="medium"))
                if booking.get("notes"):
                    _field(ctx, "booking.notes", booking["notes"])
            with ui.card().classes("bd-card p-3 w-full gap-1"):
                ui.label(ctx.t("booking.customer")).classes("text-sm font-medium")
                customer = booking["customer"]
                _field(ctx, "booking.name", customer["name"])
                _field(ctx, "booking.email", customer.get("email") or ctx.t("booking.none"), marker="booking-email")
                _field(ctx, "booking.phone", customer.get("phone") or ctx.t("booking.none"), marker="booking-phone")
            if booking["status"] == BookingStatus.PENDING_PAYMENT and payable:
                with ui.card().classes("bd-card p-3 w-full gap-1"):
                    ui.label(ctx.t("booking.pay_link")).classes("text-sm font-medium")
                    with ui.row().classes("w-full items-center gap-1 no-wrap"):
                        ui.link(pay_link, pay_link, new_tab=True).classes("text-sm break-all").mark("booking-pay-link")
                        ui.button(icon="content_copy", on_click=lambda: copy(ctx, pay_link)).props(
                            "flat dense round size=sm"
                        ).tooltip(ctx.t("booking.copy"))
                    if pay_info.get("redirect_url"):
                        checkout = ui.button(ctx.t("booking.checkout"), icon="open_in_new")
                        checkout.props(f'tag=a href="{pay_info["redirect_url"]}" target=_blank')
                        checkout.props("unelevated dense no-caps color=primary").mark("booking-checkout-link")
                        ui.label(pay_info["redirect_url"]).classes("bd-muted break-all")
        with ui.card().classes("bd-card p-3 grow gap-2"):
            ui.label(ctx.t("timeline.title")).classes("text-sm font-medium")
            entries = timeline_entries(
                ctx.t,
                ctx.locale,
                zone,
                events=state["events"],
                payments=state["payments"],
                deliveries=state["deliveries"],
                mails=state["mails"],
            )
            render_timeline(ctx, entries)


def confirm_cancel(ctx: PageContext, actions: Actions) -> None:
    """Ask before cancelling; the dialog removes itself when closed."""
    with ui.dialog() as dialog, ui.card().classes("p-4 gap-3"):
        ui.label(ctx.t("booking.cancel.title")).classes("text-base font-medium")
        ui.label(ctx.t("booking.cancel.body")).classes("text-sm")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(ctx.t("booking.cancel.keep"), on_click=dialog.close).props("flat no-caps")

            async def confirmed() -> None:
                dialog.close()
                await actions.cancel()

            ui.button(ctx.t("booking.cancel.confirm"), on_click=confirmed).props(
                "unelevated no-caps color=negative"
            ).mark("booking-cancel-confirm")
    dialog.open()  # it lives in the refreshable part, so the next refresh removes it


async def _nothing() -> None:
    return None


async def copy(ctx: PageContext, text: str) -> None:
    await ui.clipboard.write(text)
    ui.notify(ctx.t("booking.copied"))


def _field(ctx: PageContext, key: str, value: str, *, marker: str | None = None) -> None:
    with ui.row().classes("w-full gap-2 no-wrap items-baseline"):
        ui.label(ctx.t(key)).classes("bd-muted w-28 shrink-0")
        label = ui.label(value).classes("text-sm")
        if marker:
            label.mark(marker)
