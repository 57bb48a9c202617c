"""``/bookings/new`` (staff): the booking wizard for a walk-in at the desk.

Steps: slot (resource, date, a free slot and how many back-to-back slots; pre-filled from
``?resource_id=..&start=<RFC 3339>`` when the grid sent us), customer (name, email and/or phone,
notes), confirm, then pay: the booking is created with ``create_booking`` (locale = the desk
user's dashboard language, so mails follow it; hold from ``BOOKING_HOLD_SECONDS``), a payment is
started with the default provider, and the pay link with its QR code and the booking's live status
are shown. Domain errors come back as messages next to the part of the form they concern.

The module is named ``booking_new`` so it registers before ``pages/bookings.py``'s
``/bookings/{booking_id}`` route (routes match in registration order).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import Request
from nicegui import run, ui

from components.booking_form import check_customer, explain
from components.debounce import debounced
from components.format import clock_time, day, money
from components.frame import PageContext, frame, open_page
from components.i18n import LOCALE_NAMES, register
from components.pay_link import PayLinkPanel
from components.slot_grid import Cell, free_slot_picker, load_slots, slot_key
from domain.bookings import BookingRequest, create_booking
from domain.errors import DomainError
from domain.occupancy import active_resources
from messaging.envelope import CloudEvent
from payment.service import start_payment
from system import System

register(
    {
        "en": {
            "wizard.step.slot": "Slot",
            "wizard.step.customer": "Customer",
            "wizard.step.confirm": "Confirm",
            "wizard.step.pay": "Payment",
            "wizard.resource": "Resource",
            "wizard.date": "Date",
            "wizard.slots": "Number of slots",
            "wizard.free_slots": "Free slots ({zone})",
            "wizard.next": "Next",
            "wizard.back": "Back",
            "wizard.name": "Name",
            "wizard.email": "Email",
            "wizard.phone": "Phone",
            "wizard.notes": "Notes (only staff see them)",
            "wizard.create": "Book and create payment link",
            "wizard.summary.when": "When",
            "wizard.summary.resource": "Resource",
            "wizard.summary.customer": "Customer",
            "wizard.summary.price": "Price",
            "wizard.summary.hold": "Hold",
            "wizard.summary.hold_minutes": "{minutes} min to pay, then the slots are released",
            "wizard.summary.language": "Mail language",
            "wizard.nothing": "No slot chosen yet.",
            "wizard.slot_gone": "The chosen slot is no longer free. Choose another one.",
            "wizard.created": "Booking created; payment link ready.",
            "wizard.another": "New booking",
            "wizard.no_resources": "There are no bookable resources yet. A manager adds them in Settings.",
        },
        "ru": {
            "wizard.step.slot": "Слот",
            "wizard.step.customer": "Клиент",
            "wizard.step.confirm": "Проверка",
            "wizard.step.pay": "Оплата",
            "wizard.resource": "Ресурс",
            "wizard.date": "Дата",
            "wizard.slots": "Количество слотов",
            "wizard.free_slots": "Свободные слоты ({zone})",
            "wizard.next": "Далее",
            "wizard.back": "Назад",
            "wizard.name": "Имя",
            "wizard.email": "Эл. почта",
            "wizard.phone": "Телефон",
            "wizard.notes": "Заметки (видны только сотрудникам)",
            "wizard.create": "Забронировать и создать ссылку на оплату",
            "wizard.summary.when": "Когда",
            "wizard.summary.resource": "Ресурс",
            "wizard.summary.customer": "Клиент",
            "wizard.summary.price": "Стоимость",
            "wizard.summary.hold": "Удержание",
            "wizard.summary.hold_minutes": "{minutes} мин на оплату, затем слоты освобождаются",
            "wizard.summary.language": "Язык писем",
            "wizard.nothing": "Слот ещё не выбран.",
            "wizard.slot_gone": "Выбранный слот уже занят. Выберите другой.",
            "wizard.created": "Бронь создана, ссылка на оплату готова.",
            "wizard.another": "Новая бронь",
            "wizard.no_resources": "Пока нет ресурсов для брони. Менеджер добавляет их в настройках.",
        },
    }
)


def parse_start(value: str) -> datetime | None:
    """An aware RFC 3339 instant from the query, or ``None`` (missing, malformed or naive)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def register(system: System) -> None:
    @ui.page("/bookings/new")
    async def new_booking(request: Request, resource_id: int | None = None, start: str = "") -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        with frame(ctx, "nav.new_booking", active="/bookings/new"):
            resources = await run.io_bound(active_resources, system.uow)
            if resources is None:  # shutting down
                return
            if not resources:
                ui.label(ctx.t("wizard.no_resources")).classes("bd-muted")
                return
            wizard = Wizard(ctx, resources, resource_id, parse_start(start))
        await wizard.load_slots()


class Wizard:
    """The wizard's state and widgets for one page visit."""

    def __init__(self, ctx: PageContext, resources: list[dict], resource_id: int | None, start: datetime | None):
        self.ctx, self.system, t = ctx, ctx.system, ctx.t
        self.resources = {r["id"]: r for r in resources}
        rid = resource_id if resource_id in self.resources else resources[0]["id"]
        zone = ZoneInfo(self.resources[rid]["timezone"])
        self.wanted: str | None = slot_key(rid, start) if start is not None and resource_id == rid else None
        self.day: date = start.astimezone(zone).date() if self.wanted else self.system.now().astimezone(zone).date()
        self.cells: list[Cell] = []
        self.chosen: Cell | None = None
        self.booking: dict | None = None

        with ui.stepper(value="slot").props("flat bordered animated").classes("w-full max-w-4xl") as s:
            self.stepper = s
            with ui.step("slot", title=t("wizard.step.slot"), icon="event"):
                with ui.row().classes("items-start gap-3"):
                    self.resource = (
                        ui.select({r["id"]: r["name"] for r in resources}, label=t("wizard.resource"), value=rid)
                        .props("dense outlined options-dense")
                        .classes("w-64")
                        .mark("wizard-resource")
                    )
                    self.date = ui.date_input(t("wizard.date"), value=self.day.isoformat()).props("dense outlined")
                    self.date.classes("w-44").mark("wizard-date")
                    self.count = ui.number(t("wizard.slots"), value=1, min=1, max=48, step=1, format="%d")
                    self.count.props("dense outlined").classes("w-36").mark("wizard-slots")
                self.zone_label = ui.label().classes("bd-muted mt-2")
                self.picker = ui.column().classes("w-full gap-1").mark("wizard-picker")
                self.slot_error = ui.label().classes("text-negative text-sm").mark("wizard-slot-error")
                self.slot_error.set_visibility(False)
                with ui.stepper_navigation():
                    ui.button(t("wizard.next"), on_click=self.to_customer).props("unelevated no-caps").mark(
                        "wizard-next-slot"
                    )
            with ui.step("customer", title=t("wizard.step.customer"), icon="person"):
                with ui.grid(columns=2).classes("w-full max-w-2xl gap-x-3 gap-y-1"):
                    self.name = self._input(t("wizard.name"), "wizard-name", "name").classes("col-span-2")
                    self.email = self._input(t("wizard.email"), "wizard-email", "email")
                    self.phone = self._input(t("wizard.phone"), "wizard-phone", "tel")
                    self.notes = ui.textarea(t("wizard.notes")).props("dense outlined autogrow").classes("col-span-2")
                    self.notes.mark("wizard-notes")
                with ui.stepper_navigation():
                    ui.button(t("wizard.next"), on_click=self.to_confirm).props("unelevated no-caps").mark(
                        "wizard-next-customer"
                    )
                    ui.button(t("wizard.back"), on_click=self.stepper.previous).props("flat no-caps")
            with ui.step("confirm", title=t("wizard.step.confirm"), icon="fact_check"):
                self.summary = ui.grid(columns="auto 1fr").classes("gap-x-6 gap-y-1 text-sm").mark("wizard-summary")
                self.general_error = ui.label().classes("text-negative text-sm").mark("wizard-error")
                self.general_error.set_visibility(False)
                with ui.stepper_navigation():
                    self.create_button = ui.button(t("wizard.create"), icon="payments", on_click=self.create)
                    self.create_button.props("unelevated no-caps color=primary").mark("wizard-create")
                    ui.button(t("wizard.back"), on_click=self.stepper.previous).props("flat no-caps")
            with ui.step("pay", title=t("wizard.step.pay"), icon="qr_code_2"):
                self.pay_area = ui.column().classes("w-full gap-2")

        self.resource.on_value_change(self.on_resource)
        self.date.on_value_change(self.on_date)
        self.count.on_value_change(lambda _e: self.render_summary())
        self.refresh_soon = debounced(self.load_slots)
        ctx.system.live.subscribe(self.on_event)
        self.render_summary()

    def _input(self, label: str, marker: str, kind: str) -> ui.input:
        field = ui.input(label).props(f"dense outlined type={kind}").mark(marker)

        def clear(_event) -> None:
            field.error = None  # a new value deserves a new check

        field.on_value_change(clear)
        return field

    # ------------------------------------------------------------------ slot step

    @property
    def resource_view(self) -> dict:
        return self.resources[self.resource.value]

    async def load_slots(self) -> None:
        """Read the chosen resource's slots for the chosen day and show the free ones."""
        resource = self.resource_view
        data = await run.io_bound(
            load_slots,
            self.system.uow,
            self.day,
            self.day,
            self.system.now(),
            resource_id=resource["id"],
            holders=False,
        )
        if data is None:  # shutting down
            return
        self.cells = data.cells.get(resource["id"], [])
        if self.wanted is not None:
            self.chosen = next((c for c in self.cells if c.key == self.wanted and c.state == "free"), None)
            if self.chosen is None:
                self.show_slot_error(self.ctx.t("wizard.slot_gone"))
            self.wanted = None
        elif self.chosen is not None:
            self.chosen = next((c for c in self.cells if c.key == self.chosen.key and c.state == "free"), None)
            if self.chosen is None:  # taken meanwhile by another desk or the kiosk
                self.show_slot_error(self.ctx.t("wizard.slot_gone"))
        self.render_picker()

    def render_picker(self) -> None:
        resource = self.resource_view
        self.zone_label.set_text(self.ctx.t("wizard.free_slots", zone=resource["timezone"]))
        self.picker.clear()
        with self.picker:
            free_slot_picker(self.cells, self.chosen.key if self.chosen else None, self.pick, self.ctx.t)
        self.render_summary()

    def pick(self, cell: Cell) -> None:
        self.chosen = cell
        self.show_slot_error(None)
        self.render_picker()

    async def on_resource(self, _event) -> None:
        self.chosen = None
        await self.load_slots()

    async def on_date(self, event) -> None:
        try:
            self.day = date.fromisoformat(event.value)
        except (TypeError, ValueError):
            return
        self.chosen = None
        await self.load_slots()

    async def on_event(self, event: CloudEvent) -> None:
        """Another desk or the kiosk took (or freed) a slot: refresh the list while choosing."""
        if self.booking is None and event.type.startswith("booking."):
            await self.refresh_soon()

    def show_slot_error(self, message: str | None) -> None:
        self.slot_error.set_text(message or "")
        self.slot_error.set_visibility(bool(message))

    def to_customer(self) -> None:
        if self.chosen is None:
            self.show_slot_error(self.ctx.t("form.slot_required"))
            return
        self.show_slot_error(None)
        self.stepper.set_value("customer")

    # ------------------------------------------------------------------ customer and confirm

    def check_customer(self) -> bool:
        errors = check_customer(self.name.value or "", self.email.value or "", self.phone.value or "", self.ctx.t)
        for key, field in (("name", self.name), ("email", self.email), ("phone", self.phone)):
            field.error = errors.get(key)
        return not errors

    def to_confirm(self) -> None:
        if self.check_customer():
            self.render_summary()
            self.stepper.set_value("confirm")

    def slot_count(self) -> int:
        try:
            return max(1, int(self.count.value or 1))
        except (TypeError, ValueError):
            return 1

    def render_summary(self) -> None:
        t, locale = self.ctx.t, self.ctx.locale
        resource = self.resource_view
        self.summary.clear()
        with self.summary:
            ui.label(t("wizard.summary.resource")).classes("bd-muted")
            ui.label(resource["name"])
            ui.label(t("wizard.summary.when")).classes("bd-muted")
            if self.chosen is None:
                ui.label(t("wizard.nothing")).classes("bd-muted")
            else:
                count = self.slot_count()
                start = datetime.fromisoformat(self.chosen.start)
                end = start + timedelta(minutes=resource["slot_minutes"] * count)
                zone = resource["timezone"]
                when = f"{day(start, zone, locale)}, {clock_time(start, zone, locale)}–{clock_time(end, zone, locale)}"
                ui.label(f"{when} ({zone}, UTC{self.chosen.offset})").mark("wizard-when")
                ui.label(t("wizard.summary.price")).classes("bd-muted")
                price = resource["price"]
                ui.label(money(price["amount"] * count, price["currency"], locale)).mark("wizard-price")
            ui.label(t("wizard.summary.customer")).classes("bd-muted")
            contact = " · ".join(v for v in (self.email.value, self.phone.value) if v)
            ui.label(" — ".join(v for v in (self.name.value, contact) if v))
            ui.label(t("wizard.summary.hold")).classes("bd-muted")
            minutes = round(self.system.settings.hold_seconds / 60)
            ui.label(t("wizard.summary.hold_minutes", minutes=minutes))
            ui.label(t("wizard.summary.language")).classes("bd-muted")
            ui.label(LOCALE_NAMES[locale])

    # ------------------------------------------------------------------ booking and payment

    async def create(self) -> None:
        """Create the booking, start its payment and show the pay link; errors go back to their step."""
        if self.chosen is None:
            self.stepper.set_value("slot")
            self.show_slot_error(self.ctx.t("form.slot_required"))
            return
        if not self.check_customer():
            self.stepper.set_value("customer")
            return
        self.general_error.set_visibility(False)
        self.create_button.disable()
        try:
            booking = await self.book()
        except DomainError as error:
            self.create_button.enable()
            await self.report(error)
            return
        if booking is None:  # shutting down
            return
        self.booking = booking
        self.system.events_committed()
        provider_error: DomainError | None = None
        try:
            await run.io_bound(self.start_payment, booking["id"])
        except DomainError as error:  # provider down: the pay link retries with the same idempotency key
            provider_error = error
        self.show_pay(booking, provider_error)

    async def book(self) -> dict | None:
        system, settings = self.system, self.system.settings
        request = BookingRequest(
            resource_id=self.resource.value,
            start=datetime.fromisoformat(self.chosen.start),
            customer_name=self.name.value.strip(),
            customer_email=(self.email.value or "").strip() or None,
            customer_phone=(self.phone.value or "").strip() or None,
            slots=self.slot_count(),
            notes=(self.notes.value or "").strip() or None,
        )
        return await run.io_bound(
            lambda: create_booking(
                system.uow, request, now=system.now(), hold_seconds=settings.hold_seconds, locale=self.ctx.locale
            )
        )

    def start_payment(self, booking_id: str) -> dict:
        system = self.system
        payment, _ = start_payment(
            system.uow,
            system.providers,
            booking_id=booking_id,
            provider=None,
            return_url=None,
            settings=system.settings,
            now=system.now(),
        )
        return payment

    async def report(self, error: DomainError) -> None:
        part, message = explain(error, self.ctx.t)
        if part == "slot":
            self.show_slot_error(message)
            self.stepper.set_value("slot")
            self.chosen = None
            await self.load_slots()  # the taken slot leaves the list now
        elif part in ("email", "phone"):
            self.email.error = self.phone.error = message
            self.stepper.set_value("customer")
        else:
            self.general_error.set_text(message)
            self.general_error.set_visibility(True)

    def show_pay(self, booking: dict, provider_error: DomainError | None) -> None:
        t = self.ctx.t
        self.pay_area.clear()
        with self.pay_area:
            ui.label(t("wizard.created")).classes("text-positive font-medium")
            if provider_error is not None:
                ui.label(explain(provider_error, t)[1]).classes("text-orange-9 text-sm").mark("wizard-provider-error")
            PayLinkPanel(self.ctx, booking, status_marker="wizard-status")
            ui.button(t("wizard.another"), icon="add", on_click=lambda: ui.navigate.to("/bookings/new")).props(
                "outline no-caps"
            ).mark("wizard-another")
        self.stepper.set_value("pay")
