"""The pay link of a booking for the desk: the link ``{public_url}/pay/{booking_id}`` (DESIGN.md
sections 5 and 9: the link mails and the kiosk give the client), a QR code of it for the client's
phone, a button opening it in a new tab, the hold's expiry and the booking's live status.

The status follows the events (``system.live``): when the payment webhook lands, the booking's
``payment.succeeded`` / ``booking.confirmed`` events re-read it and the chip turns "confirmed"
without a reload.
"""

from __future__ import annotations

import segno
from nicegui import run, ui

from components.debounce import debounced
from components.format import clock_time, date_time, day, money_of
from components.frame import STATUS_COLORS, PageContext
from components.i18n import register
from domain.bookings import get_booking
from messaging.envelope import CloudEvent

register(
    {
        "en": {
            "paylink.title": "Payment link",
            "paylink.scan": "Let the customer scan the code, or send them the link.",
            "paylink.open": "Open payment page",
            "paylink.copy": "Copy link",
            "paylink.copied": "Link copied",
            "paylink.booking": "Booking",
            "paylink.when": "When",
            "paylink.status": "Status",
            "paylink.payment": "Payment",
            "paylink.no_payment": "not started",
            "paylink.hold_until": "Held until {time} ({zone})",
            "paylink.amount": "Amount",
            "paylink.confirmed": "Paid: the booking is confirmed.",
            "paylink.ended": "This booking can no longer be paid.",
        },
        "ru": {
            "paylink.title": "Ссылка на оплату",
            "paylink.scan": "Пусть клиент отсканирует код, или отправьте ему ссылку.",
            "paylink.open": "Открыть страницу оплаты",
            "paylink.copy": "Скопировать ссылку",
            "paylink.copied": "Ссылка скопирована",
            "paylink.booking": "Бронь",
            "paylink.when": "Когда",
            "paylink.status": "Статус",
            "paylink.payment": "Платёж",
            "paylink.no_payment": "не начат",
            "paylink.hold_until": "Удерживается до {time} ({zone})",
            "paylink.amount": "Сумма",
            "paylink.confirmed": "Оплачено: бронь подтверждена.",
            "paylink.ended": "Эту бронь больше нельзя оплатить.",
        },
    }
)


def pay_url(public_url: str, booking_id: str) -> str:
    """``{public_url}/pay/{booking_id}``: starts (or reuses) a payment and redirects to the provider."""
    return f"{public_url.rstrip('/')}/pay/{booking_id}"


def when(booking: dict, locale: str) -> str:
    """``Studio Berlin (24/7) · Dec 1, 2026, 10:00–11:00 (Europe/Berlin)`` in the resource's timezone."""
    zone = booking["timezone"]
    start, end = booking["start"], booking["end"]
    span = f"{day(start, zone, locale)}, {clock_time(start, zone, locale)}–{clock_time(end, zone, locale)}"
    return f"{booking['resource_name']} · {span} ({zone})"


def qr_data_uri(url: str) -> str:
    """An SVG QR code of ``url`` as a ``data:`` URI for ``ui.image``."""
    return segno.make(url, error="m").svg_data_uri(scale=4)


class PayLinkPanel:
    """Link, QR code, open/copy buttons, hold expiry and live status of one booking view.

    ``status_marker`` marks the status chip for tests (``wizard-status`` in the wizard).
    """

    def __init__(self, ctx: PageContext, booking: dict, *, status_marker: str = "booking-status") -> None:
        self.ctx = ctx
        self.booking_id = booking["id"]
        self.url = pay_url(ctx.system.settings.public_url, booking["id"])
        t = ctx.t
        with ui.card().classes("bd-card p-4 w-full").mark("pay-panel"):
            with ui.row().classes("w-full items-start gap-6 no-wrap"):
                ui.image(qr_data_uri(self.url)).classes("w-48 h-48 border rounded").mark("pay-qr")
                with ui.column().classes("gap-2 grow"):
                    ui.label(t("paylink.title")).classes("text-base font-semibold")
                    ui.label(t("paylink.scan")).classes("bd-muted")
                    ui.link(self.url, self.url, new_tab=True).classes("font-mono text-sm break-all").mark("pay-link")
                    with ui.row().classes("gap-2"):
                        ui.button(
                            t("paylink.open"),
                            icon="open_in_new",
                            on_click=lambda: ui.navigate.to(self.url, new_tab=True),
                        ).props("unelevated dense no-caps color=primary").mark("pay-open")
                        ui.button(t("paylink.copy"), icon="content_copy", on_click=self._copy).props(
                            "outline dense no-caps"
                        )
                    ui.separator()
                    with ui.grid(columns="auto 1fr").classes("gap-x-4 gap-y-1 text-sm items-center"):
                        ui.label(t("paylink.booking")).classes("bd-muted")
                        ui.link(booking["id"], f"/bookings/{booking['id']}").classes("font-mono text-xs")
                        ui.label(t("paylink.when")).classes("bd-muted")
                        ui.label(when(booking, ctx.locale)).mark("pay-when")
                        ui.label(t("paylink.amount")).classes("bd-muted")
                        ui.label(money_of(booking["price"], ctx.locale))
                        ui.label(t("paylink.status")).classes("bd-muted")
                        self.status = ui.badge("").props("outline").classes("justify-self-start")
                        self.status.mark(status_marker)
                        ui.label(t("paylink.payment")).classes("bd-muted")
                        self.payment = ui.label("").mark("pay-payment-status")
                    self.hold = ui.label("").classes("text-sm").mark("pay-hold")
                    self.outcome = ui.label("").classes("text-sm font-medium")
        self.show(booking)
        self.reload_soon = debounced(self.reload)  # payment.succeeded + booking.confirmed: one read
        ctx.system.live.subscribe(self._on_event)

    def show(self, booking: dict) -> None:
        """Put a booking view's status, latest payment and hold on the panel, in place."""
        t = self.ctx.t
        status = booking["status"]
        self.status.set_text(t(f"status.{status}"))
        self.status.props(f"color={STATUS_COLORS.get(status, 'primary')}")
        payments = booking.get("payments") or []
        self.payment.set_text(t(f"status.{payments[-1]['status']}") if payments else t("paylink.no_payment"))
        pending = status == "pending_payment"
        zone = booking["timezone"]
        held = date_time(booking["hold_expires_at"], zone, self.ctx.locale)
        self.hold.set_text(t("paylink.hold_until", time=held, zone=zone))
        self.hold.set_visibility(pending)
        if status == "confirmed":
            self.outcome.set_text(t("paylink.confirmed"))
            self.outcome.classes(replace="text-sm font-medium text-positive")
        elif not pending:
            self.outcome.set_text(t("paylink.ended"))
            self.outcome.classes(replace="text-sm font-medium text-negative")
        self.outcome.set_visibility(not pending)

    async def reload(self) -> None:
        """Re-read the booking (unmasked: the desk sees its own customer) and show it."""
        booking = await run.io_bound(get_booking, self.ctx.system.uow, self.booking_id, masked=False)
        if booking is not None:  # None while the app shuts down
            self.show(booking)

    async def _on_event(self, event: CloudEvent) -> None:
        if event.subject == self.booking_id:
            await self.reload_soon()

    def _open(self) -> None:
        ui.navigate.to(self.url, new_tab=True)

    async def _copy(self) -> None:
        ui.clipboard.write(self.url)
        ui.notify(self.ctx.t("paylink.copied"), type="positive", position="top")
