"""``/bookings``: every booking, paged on the server, filtered by status, resource and start date
(days of the business's timezone), searched by customer name, email, phone or booking id.

The page holds its filters and page number; each change re-reads one page through
``domain.bookings.search_bookings``. Live: an event about a booking on the current page, or a new
booking, re-reads the page (debounced). A row click opens ``/bookings/{id}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from nicegui import run, ui

from components.booking_table import booking_rows, booking_table
from components.debounce import debounced
from components.frame import frame, open_page
from components.i18n import register
from domain.bookings import search_bookings
from domain.reports import BOOKING_STATUSES, day_bounds, resource_names
from messaging.envelope import CloudEvent
from system import System

register(
    {
        "en": {
            "bookings.filter.status": "Status",
            "bookings.filter.any_status": "Any status",
            "bookings.filter.resource": "Resource",
            "bookings.filter.any_resource": "Any resource",
            "bookings.filter.from": "Starts from",
            "bookings.filter.to": "Starts until",
            "bookings.filter.search": "Customer: name, email, phone or booking id",
            "bookings.filter.reset": "Reset",
            "bookings.filter.bad_date": "Dates are written YYYY-MM-DD.",
            "bookings.total": "Bookings found: {total}",
            "bookings.new": "New booking",
            "bookings.dates_hint": "Dates are days in {timezone}",
        },
        "ru": {
            "bookings.filter.status": "Статус",
            "bookings.filter.any_status": "Любой статус",
            "bookings.filter.resource": "Ресурс",
            "bookings.filter.any_resource": "Любой ресурс",
            "bookings.filter.from": "Начало с",
            "bookings.filter.to": "Начало по",
            "bookings.filter.search": "Клиент: имя, почта, телефон или номер брони",
            "bookings.filter.reset": "Сбросить",
            "bookings.filter.bad_date": "Даты пишутся как ГГГГ-ММ-ДД.",
            "bookings.total": "Найдено броней: {total}",
            "bookings.new": "Новая бронь",
            "bookings.dates_hint": "Даты — дни по часовому поясу {timezone}",
        },
    }
)

PER_PAGE = 25
PER_PAGE_OPTIONS = [10, 25, 50, 100]


@dataclass
class Filters:
    """What the bookings screen shows: the filters and the page."""

    status: str | None = None
    resource_id: int | None = None
    date_from: str = ""
    date_to: str = ""
    query: str = ""
    page: int = 1
    per_page: int = PER_PAGE


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` -> date; empty -> ``None``; raises ``ValueError`` for anything else."""
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def search(system: System, filters: Filters) -> dict[str, Any]:
    """One page of bookings for ``filters`` (``search_bookings``'s shape); the date range is
    inclusive and counted in days of ``BOOKING_TIMEZONE``. Raises ``ValueError`` for a bad date."""
    zone = system.settings.timezone
    first, last = parse_day(filters.date_from), parse_day(filters.date_to)
    return search_bookings(
        system.uow,
        status=filters.status or None,
        resource_id=filters.resource_id,
        start_from=day_bounds(first, zone)[0] if first else None,
        start_before=day_bounds(last, zone)[1] if last else None,
        query=filters.query.strip() or None,
        page=filters.page,
        per_page=filters.per_page,
    )


def register(system: System) -> None:
    @ui.page("/bookings", title="Booking Desk")
    async def bookings(request: Request, status: str = "", q: str = "") -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        filters = Filters(status=status if status in BOOKING_STATUSES else None, query=q)
        resources = await run.io_bound(resource_names, system.uow)
        if resources is None:  # shutting down
            return
        shown_ids: set[str] = set()
        with frame(ctx, "nav.bookings", active="/bookings"):
            with ui.card().classes("bd-card p-3 w-full gap-2"):
                with ui.row().classes("w-full items-end gap-2 no-wrap"):
                    search_input = (
                        ui.input(ctx.t("bookings.filter.search"), value=filters.query)
                        .props("dense outlined clearable debounce=300")
                        .classes("w-80")
                        .mark("bookings-search")
                    )
                    with search_input.add_slot("prepend"):
                        ui.icon("search")
                    status_options = {"": ctx.t("bookings.filter.any_status")}
                    status_options |= {s: ctx.t(f"status.{s}") for s in BOOKING_STATUSES}
                    status_select = (
                        ui.select(status_options, value=filters.status or "", label=ctx.t("bookings.filter.status"))
                        .props("dense outlined options-dense")
                        .classes("w-44")
                        .mark("bookings-status")
                    )
                    resource_options: dict[Any, str] = {0: ctx.t("bookings.filter.any_resource")}
                    resource_options |= {r["id"]: r["name"] for r in resources}
                    resource_select = (
                        ui.select(resource_options, value=0, label=ctx.t("bookings.filter.resource"))
                        .props("dense outlined options-dense")
                        .classes("w-52")
                        .mark("bookings-resource")
                    )
                    from_input = (
                        ui.date_input(ctx.t("bookings.filter.from"))
                        .props("dense outlined clearable")
                        .classes("w-44")
                        .mark("bookings-from")
                    )
                    to_input = (
                        ui.date_input(ctx.t("bookings.filter.to"))
                        .props("dense outlined clearable")
                        .classes("w-44")
                        .mark("bookings-to")
                    )
                    ui.space()
                    ui.button(ctx.t("bookings.filter.reset"), icon="filter_alt_off", on_click=lambda: reset()).props(
                        "flat dense no-caps"
                    )
                    ui.button(
                        ctx.t("bookings.new"), icon="add", on_click=lambda: ui.navigate.to("/bookings/new")
                    ).props("unelevated dense no-caps color=primary")
                with ui.row().classes("w-full items-center"):
                    total_label = ui.label().classes("text-sm font-medium").mark("bookings-total")
                    ui.space()
                    ui.label(ctx.t("bookings.dates_hint", timezone=system.settings.timezone)).classes("bd-muted")
                table = booking_table(
                    ctx, pagination={"page": 1, "rowsPerPage": filters.per_page, "rowsNumber": 0}
                ).mark("bookings-table")
                table.props(f":rows-per-page-options='{PER_PAGE_OPTIONS}'")

        async def load() -> None:
            try:
                result = await run.io_bound(search, system, filters)
            except ValueError:
                ui.notify(ctx.t("bookings.filter.bad_date"), type="warning")
                return
            if result is None:  # shutting down
                return
            shown_ids.clear()
            shown_ids.update(item["id"] for item in result["items"])
            table.rows = booking_rows(ctx, result["items"])
            table.pagination = {
                "page": result["page"],
                "rowsPerPage": result["per_page"],
                "rowsNumber": result["total"],
            }
            table.update()
            total_label.set_text(ctx.t("bookings.total", total=result["total"]))

        async def apply(**changes: Any) -> None:
            for name, value in changes.items():
                setattr(filters, name, value)
            filters.page = 1
            await load()

        async def on_request(event) -> None:
            pagination = event.args.get("pagination") or {}
            filters.page = int(pagination.get("page") or 1)
            filters.per_page = int(pagination.get("rowsPerPage") or PER_PAGE) or PER_PAGE
            await load()

        async def reset() -> None:
            for element, value in ((search_input, ""), (status_select, ""), (resource_select, 0)):
                element.set_value(value)
            from_input.set_value("")
            to_input.set_value("")
            await apply(query="", status=None, resource_id=None, date_from="", date_to="")

        search_input.on_value_change(lambda e: apply(query=e.value or ""))
        status_select.on_value_change(lambda e: apply(status=e.value or None))
        resource_select.on_value_change(lambda e: apply(resource_id=e.value or None))
        from_input.on_value_change(lambda e: apply(date_from=e.value or ""))
        to_input.on_value_change(lambda e: apply(date_to=e.value or ""))
        table.on("request", on_request, ["pagination"])

        refresh_soon = debounced(load)

        async def on_event(event: CloudEvent) -> None:
            if event.subject in shown_ids or event.type == "booking.created":
                await refresh_soon()

        system.live.subscribe(on_event)
        await load()
