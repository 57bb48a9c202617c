"""``/``: the latest bookings with their status, updated live when an event lands.

Kept small on purpose; the full dashboard is the next issue. Events reach the page through
``system.live`` (background threads -> event loop), so a webhook turning a booking ``confirmed``
shows here without a reload.
"""

from __future__ import annotations

from datetime import datetime

from nicegui import run, ui

from domain.bookings import latest_bookings
from domain.money import Money, format_money
from system import System

COLUMNS = [
    {"name": "start", "label": "Start (resource time)", "field": "start", "align": "left"},
    {"name": "resource", "label": "Resource", "field": "resource", "align": "left"},
    {"name": "customer", "label": "Customer", "field": "customer", "align": "left"},
    {"name": "price", "label": "Price", "field": "price", "align": "right"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "id", "label": "Booking", "field": "id", "align": "left"},
]


def table_rows(bookings: list[dict], locale: str) -> list[dict]:
    """Rows for the table: one per booking view."""
    return [
        {
            "id": b["id"],
            "start": datetime.fromisoformat(b["start"]).strftime("%Y-%m-%d %H:%M %z"),
            "resource": b["resource_name"],
            "customer": b["customer"]["name"],
            "price": format_money(Money(b["price"]["amount"], b["price"]["currency"]), locale),
            "status": b["status"],
        }
        for b in bookings
    ]


def register(system: System) -> None:
    @ui.page("/", title="Booking Desk")
    async def index() -> None:
        locale = system.settings.locale
        with ui.header().classes("items-center justify-between bg-slate-800"):
            ui.label("Booking Desk").classes("text-lg font-semibold")
            with ui.row().classes("gap-4"):
                ui.link("API docs", "/api/docs").classes("text-white")
                ui.link("OpenAPI", "/api/openapi.json").classes("text-white")
        ui.label("Latest bookings").classes("text-xl font-medium")
        table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full").props("dense flat bordered")
        table.add_slot(
            "body-cell-status",
            """
            <q-td :props="props">
              <q-badge :color="{pending_payment: 'orange', confirmed: 'green', expired: 'grey',
                                cancelled: 'red'}[props.value] || 'blue'" :label="props.value" />
            </q-td>
            """,
        )
        table.mark("bookings")

        async def refresh(_event=None) -> None:
            bookings = await run.io_bound(latest_bookings, system.uow, 50)
            if bookings is None:  # app shutting down
                return
            table.rows = table_rows(bookings, locale)
            table.update()

        system.live.subscribe(refresh)
        await refresh()
