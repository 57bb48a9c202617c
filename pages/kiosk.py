"""``/kiosk`` (public, no login): walk-in self-service on a tablet at the entrance.

Big and simple: pick a resource, a free slot today or tomorrow (the resource's own day and
timezone), enter a name and an email or phone, and "Pay now" creates the booking and sends the
browser to ``/pay/{booking_id}``, which redirects to the payment provider's page. The language
starts as ``BOOKING_LOCALE``; the toggle on the kiosk changes it for this page only (and for the
booking's mails). No staff data is shown: free slots only, never who holds the others. Free slots
refresh live when another booking takes one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nicegui import run, ui

from components.booking_form import check_customer, explain
from components.debounce import debounced
from components.format import money_of
from components.frame import CSS, wait_for_browser
from components.i18n import LOCALE_NAMES, register, translator
from components.slot_grid import Cell, free_slot_picker, load_slots
from domain.bookings import BookingRequest, create_booking
from domain.errors import DomainError
from domain.occupancy import active_resources
from messaging.envelope import CloudEvent
from system import System

register(
    {
        "en": {
            "kiosk.title": "Book a time",
            "kiosk.step.resource": "1. What would you like to book?",
            "kiosk.step.time": "2. Choose a time",
            "kiosk.step.details": "3. Your details",
            "kiosk.today": "Today",
            "kiosk.tomorrow": "Tomorrow",
            "kiosk.per_slot": "{price} for {minutes} minutes",
            "kiosk.times_in": "Times are local to {zone}.",
            "kiosk.name": "Your name",
            "kiosk.email": "Email",
            "kiosk.phone": "Phone",
            "kiosk.contact_hint": "We send the payment link and your confirmation there. Email or phone is enough.",
            "kiosk.pay": "Pay now",
            "kiosk.paying": "One moment…",
            "kiosk.chosen": "You chose {resource}, {day} at {time}: {price}.",
            "kiosk.none": "Nothing can be booked here at the moment. Please ask at the desk.",
            "kiosk.start_over": "Start over",
        },
        "ru": {
            "kiosk.title": "Запись",
            "kiosk.step.resource": "1. Что вы хотите забронировать?",
            "kiosk.step.time": "2. Выберите время",
            "kiosk.step.details": "3. Ваши данные",
            "kiosk.today": "Сегодня",
            "kiosk.tomorrow": "Завтра",
            "kiosk.per_slot": "{price} за {minutes} мин",
            "kiosk.times_in": "Время местное ({zone}).",
            "kiosk.name": "Ваше имя",
            "kiosk.email": "Эл. почта",
            "kiosk.phone": "Телефон",
            "kiosk.contact_hint": "Туда придут ссылка на оплату и подтверждение. Достаточно email или телефона.",
            "kiosk.pay": "Оплатить",
            "kiosk.paying": "Минутку…",
            "kiosk.chosen": "Вы выбрали: {resource}, {day}, {time} — {price}.",
            "kiosk.none": "Сейчас здесь нечего забронировать. Пожалуйста, обратитесь на стойку.",
            "kiosk.start_over": "Начать заново",
        },
    }
)


def register(system: System) -> None:
    @ui.page("/kiosk")
    async def kiosk() -> None:
        if not await wait_for_browser():
            return
        ui.add_head_html(CSS)
        resources = await run.io_bound(active_resources, system.uow)
        if resources is None:  # shutting down
            return
        page = Kiosk(system, resources)
        ui.page_title(page.t("kiosk.title"))
        page.render()
        system.live.subscribe(page.on_event)
        if len(resources) == 1:
            await page.choose_resource(resources[0]["id"])


class Kiosk:
    """One tablet's kiosk page: its language, choices and form, re-rendered as a whole on each
    choice (it is small) while typed values live in ``self.form``."""

    def __init__(self, system: System, resources: list[dict]) -> None:
        self.system = system
        self.resources = {r["id"]: r for r in resources}
        self.locale = system.settings.locale
        self.resource_id: int | None = None
        self.day_offset = 0
        self.cells: list[Cell] = []
        self.chosen: Cell | None = None
        self.form = {"name": "", "email": "", "phone": ""}
        self.errors: dict[str, str] = {}
        self.busy = False
        self.refresh_soon = debounced(self.load)  # a burst of events re-reads the slots once

    @property
    def t(self):
        return translator(self.locale)

    def local_day(self) -> date:
        zone = ZoneInfo(self.resources[self.resource_id]["timezone"])
        return self.system.now().astimezone(zone).date() + timedelta(days=self.day_offset)

    # ------------------------------------------------------------------ rendering

    @ui.refreshable_method
    def render(self) -> None:
        t = self.t
        with ui.column().classes("w-full max-w-3xl mx-auto p-6 gap-6 text-lg"):
            with ui.row().classes("w-full items-center"):
                ui.icon("event_available").classes("text-4xl text-slate-700")
                ui.label(t("kiosk.title")).classes("text-3xl font-semibold text-slate-800")
                ui.space()
                language = ui.toggle(LOCALE_NAMES, value=self.locale).props("no-caps unelevated toggle-color=primary")
                language.classes("text-base").mark("kiosk-language")
                language.on_value_change(self.set_language)
            if not self.resources:
                ui.label(t("kiosk.none")).classes("text-xl")
                return
            self.render_resources()
            if self.resource_id is not None:
                self.render_times()
            if self.chosen is not None:
                self.render_details()

    def render_resources(self) -> None:
        t = self.t
        ui.label(t("kiosk.step.resource")).classes("text-2xl font-medium")
        with ui.grid(columns=2).classes("w-full gap-3"):
            for resource in self.resources.values():
                chosen = resource["id"] == self.resource_id
                with (
                    ui.button(color=None, on_click=lambda _e, rid=resource["id"]: self.choose_resource(rid))
                    .props(("unelevated color=primary" if chosen else "outline color=primary") + " no-caps")
                    .classes("w-full py-4")
                    .mark(f"kiosk-resource-{resource['id']}")
                ):
                    with ui.column().classes("items-start gap-0 w-full"):
                        ui.label(resource["name"]).classes("text-xl font-medium")
                        price = money_of(resource["price"], self.locale)
                        ui.label(t("kiosk.per_slot", price=price, minutes=resource["slot_minutes"])).classes(
                            "text-base opacity-80"
                        )

    def render_times(self) -> None:
        t = self.t
        resource = self.resources[self.resource_id]
        ui.label(t("kiosk.step.time")).classes("text-2xl font-medium")
        with ui.row().classes("gap-3"):
            for offset, key in ((0, "kiosk.today"), (1, "kiosk.tomorrow")):
                chosen = offset == self.day_offset
                ui.button(t(key), on_click=lambda _e, o=offset: self.choose_day(o), color=None).props(
                    ("unelevated color=primary" if chosen else "outline color=primary") + " no-caps size=lg"
                ).classes("min-w-[160px]").mark(f"kiosk-day-{offset}")
        ui.label(t("kiosk.times_in", zone=resource["timezone"])).classes("bd-muted text-base")
        free_slot_picker(self.cells, self.chosen.key if self.chosen else None, self.choose_slot, t, big=True)
        if "slot" in self.errors:
            ui.label(self.errors["slot"]).classes("text-negative text-xl").mark("kiosk-error")

    def render_details(self) -> None:
        t = self.t
        resource = self.resources[self.resource_id]
        ui.label(t("kiosk.step.details")).classes("text-2xl font-medium")
        with ui.column().classes("w-full gap-2"):
            for key, kind in (("name", "text"), ("email", "email"), ("phone", "tel")):
                field = ui.input(t(f"kiosk.{key}")).props(f"outlined type={kind} input-class=text-xl")
                field.classes("w-full").bind_value(self.form, key).mark(f"kiosk-{key}")
                field.error = self.errors.get(key)
            ui.label(t("kiosk.contact_hint")).classes("bd-muted text-base")
        price = money_of(resource["price"], self.locale)
        day = self.t("kiosk.today") if self.day_offset == 0 else self.t("kiosk.tomorrow")
        summary = t("kiosk.chosen", resource=resource["name"], day=day.lower(), time=self.chosen.time, price=price)
        ui.label(summary).classes("text-xl").mark("kiosk-summary")
        problems = [self.errors[key] for key in ("name", "email", "phone", "general") if key in self.errors]
        for problem in dict.fromkeys(problems):  # "email or phone" is reported on both fields, said once
            ui.label(problem).classes("text-negative text-xl").mark("kiosk-error")
        with ui.row().classes("w-full gap-3"):
            pay = ui.button(t("kiosk.paying") if self.busy else t("kiosk.pay"), icon="payments", on_click=self.pay)
            pay.props("unelevated color=positive no-caps size=xl").classes("grow py-3").mark("kiosk-pay")
            pay.set_enabled(not self.busy)
            ui.button(t("kiosk.start_over"), on_click=self.start_over).props("flat no-caps size=lg")

    # ------------------------------------------------------------------ choices

    def set_language(self, event) -> None:
        if event.value in LOCALE_NAMES and event.value != self.locale:
            self.locale = event.value
            self.errors = {}
            ui.page_title(self.t("kiosk.title"))
            self.render.refresh()

    async def choose_resource(self, resource_id: int) -> None:
        self.resource_id, self.day_offset, self.chosen, self.errors = resource_id, 0, None, {}
        await self.load()

    async def choose_day(self, offset: int) -> None:
        self.day_offset, self.chosen, self.errors = offset, None, {}
        await self.load()

    def choose_slot(self, cell: Cell) -> None:
        self.chosen, self.errors = cell, {}
        self.render.refresh()

    def start_over(self) -> None:
        self.resource_id, self.chosen, self.cells, self.errors = None, None, [], {}
        self.form.update(name="", email="", phone="")
        self.render.refresh()

    async def load(self) -> None:
        """Free slots of the chosen resource on the chosen day (no holders: no staff data here)."""
        if self.resource_id is None:
            return
        day, system = self.local_day(), self.system
        data = await run.io_bound(
            load_slots, system.uow, day, day, system.now(), resource_id=self.resource_id, holders=False
        )
        if data is None:  # shutting down
            return
        self.cells = data.cells.get(self.resource_id, [])
        if self.chosen is not None and not any(c.key == self.chosen.key and c.state == "free" for c in self.cells):
            self.chosen = None
        self.render.refresh()

    async def on_event(self, event: CloudEvent) -> None:
        if event.type.startswith("booking.") and not self.busy:
            await self.refresh_soon()

    # ------------------------------------------------------------------ paying

    async def pay(self) -> None:
        """Create the booking in the kiosk's language and go to ``/pay/{id}``; errors in plain words."""
        if self.chosen is None or self.busy:
            return
        self.errors = check_customer(self.form["name"], self.form["email"], self.form["phone"], self.t)
        if self.errors:
            self.render.refresh()
            return
        client = ui.context.client  # the refresh below deletes the clicked button and its slot
        self.busy = True
        self.render.refresh()
        system, cell, locale = self.system, self.chosen, self.locale
        request = BookingRequest(
            resource_id=cell.resource_id,
            start=datetime.fromisoformat(cell.start),
            customer_name=self.form["name"].strip(),
            customer_email=self.form["email"].strip() or None,
            customer_phone=self.form["phone"].strip() or None,
        )
        try:
            booking = await run.io_bound(
                lambda: create_booking(
                    system.uow, request, now=system.now(), hold_seconds=system.settings.hold_seconds, locale=locale
                )
            )
        except DomainError as error:
            part, message = explain(error, self.t)
            self.busy = False
            self.errors = {"slot" if part == "slot" else "general": message}
            if part == "slot":
                self.chosen = None
                await self.load()
            else:
                self.render.refresh()
            return
        if booking is None:  # shutting down
            return
        system.events_committed()
        with client:
            ui.navigate.to(f"/pay/{booking['id']}")
