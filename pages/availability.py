"""``/availability`` (staff): the slot grid of every resource for a day or a week.

Day view: one column per resource, its slots down the side in the resource's own timezone (DST
days show the missing or repeated hour with offsets); a free slot opens the booking wizard
pre-filled, a taken one its booking. Week view: free-slot counts per resource and day; a click
opens that day. Query parameters ``day=YYYY-MM-DD`` and ``view=day|week`` make a view linkable.
Live: any ``booking.*`` event re-reads the grid (a slot taken elsewhere greys out at once).
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import Request
from nicegui import run, ui

from components.debounce import debounced
from components.frame import frame, open_page
from components.i18n import register
from components.slot_grid import Cell, SlotGrid, legend, load_slots, wizard_url
from messaging.envelope import CloudEvent
from system import System

register(
    {
        "en": {
            "availability.view.day": "Day",
            "availability.view.week": "Week",
            "availability.prev": "Previous",
            "availability.next": "Next",
            "availability.today": "Today",
            "availability.date": "Date",
            "availability.hint": "Times are shown in each resource's own timezone. Click a free slot to book it.",
            "availability.week_of": "Week of {day}",
        },
        "ru": {
            "availability.view.day": "День",
            "availability.view.week": "Неделя",
            "availability.prev": "Назад",
            "availability.next": "Вперёд",
            "availability.today": "Сегодня",
            "availability.date": "Дата",
            "availability.hint": (
                "Время указано в часовом поясе каждого ресурса. Нажмите на свободный слот, чтобы забронировать его."
            ),
            "availability.week_of": "Неделя с {day}",
        },
    }
)

REFRESH_SECONDS = 60.0  # slots pass into the past even when no event arrives


def business_today(system: System) -> date:
    """Today in ``BOOKING_TIMEZONE`` (the business's day, not the server's)."""
    return system.now().astimezone(ZoneInfo(system.settings.timezone)).date()


def week_days(day: date) -> list[date]:
    """Monday..Sunday of ``day``'s ISO week."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def parse_day(value: str | None, fallback: date) -> date:
    """``YYYY-MM-DD`` or ``fallback`` when empty or malformed."""
    try:
        return date.fromisoformat(value) if value else fallback
    except ValueError:
        return fallback


def register(system: System) -> None:
    @ui.page("/availability")
    async def availability(request: Request, day: str = "", view: str = "day") -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        today = business_today(system)
        state = {"day": parse_day(day, today), "view": "week" if view == "week" else "day"}
        with frame(ctx, "nav.availability", active="/availability"):
            with ui.row().classes("w-full items-center gap-2 bd-card px-3 py-2"):
                toggle = ui.toggle(
                    {"day": ctx.t("availability.view.day"), "week": ctx.t("availability.view.week")},
                    value=state["view"],
                ).props("dense no-caps unelevated toggle-color=primary")
                toggle.mark("view-toggle")
                ui.button(icon="chevron_left", on_click=lambda: step(-1)).props("flat dense round").tooltip(
                    ctx.t("availability.prev")
                ).mark("prev")
                ui.button(ctx.t("availability.today"), on_click=lambda: go(today)).props("outline dense no-caps").mark(
                    "today"
                )
                ui.button(icon="chevron_right", on_click=lambda: step(1)).props("flat dense round").tooltip(
                    ctx.t("availability.next")
                ).mark("next")
                picker = ui.date_input(ctx.t("availability.date"), value=state["day"].isoformat())
                picker.props("dense outlined").classes("w-44").mark("date")
                title = ui.label().classes("text-base font-medium ml-2").mark("grid-title")
                ui.space()
                legend(ctx.t)
            ui.label(ctx.t("availability.hint")).classes("bd-muted")
            grid = SlotGrid(
                ctx.t,
                ctx.locale,
                on_free=lambda cell: ui.navigate.to(wizard_url(cell)),
                on_taken=open_booking,
                on_day=lambda d: go(d, "day"),
            )

        async def reload() -> None:
            chosen: date = state["day"]
            if state["view"] == "day":
                data = await run.io_bound(load_slots, system.uow, chosen, chosen, system.now())
                if data is None:  # shutting down
                    return
                title.set_text(ctx_day(chosen))
                grid.show_day(data, chosen)
            else:
                days = week_days(chosen)
                data = await run.io_bound(load_slots, system.uow, days[0], days[-1], system.now(), holders=False)
                if data is None:
                    return
                title.set_text(ctx.t("availability.week_of", day=ctx_day(days[0])))
                grid.show_week(data, days, today)

        def ctx_day(d: date) -> str:
            return format_date(d, format="full", locale=ctx.locale)

        async def go(d: date, view_name: str | None = None) -> None:
            state["day"] = d
            if view_name:
                state["view"] = view_name
            toggle.value = state["view"]  # the change handlers ignore values equal to the state
            picker.value = d.isoformat()
            ui.navigate.history.replace("/availability?" + urlencode({"day": d.isoformat(), "view": state["view"]}))
            await reload()

        async def step(direction: int) -> None:
            await go(state["day"] + timedelta(days=direction * (7 if state["view"] == "week" else 1)))

        async def on_view(event) -> None:
            if event.value in ("day", "week") and event.value != state["view"]:
                await go(state["day"], event.value)

        async def on_date(event) -> None:
            chosen = parse_day(event.value, state["day"])
            if chosen != state["day"]:
                await go(chosen)

        refresh_soon = debounced(reload)  # a burst of events re-reads the grid once

        async def on_event(event: CloudEvent) -> None:
            if event.type.startswith("booking."):
                await refresh_soon()

        toggle.on_value_change(on_view)
        picker.on_value_change(on_date)
        system.live.subscribe(on_event)
        ui.timer(REFRESH_SECONDS, reload)
        await reload()


def open_booking(cell: Cell) -> None:
    """A taken slot opens the booking that holds it (booking detail screen)."""
    if cell.holder:
        ui.navigate.to(f"/bookings/{cell.holder['booking_id']}")
