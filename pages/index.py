"""``/``: the overview for the front desk and managers: today's figures in the business's timezone
(``BOOKING_TIMEZONE``), two charts and the latest bookings, all refreshed live.

KPIs: bookings starting today, pending payments (count and amount), revenue today (succeeded minus
refunded, per currency; ``domain.reports.revenue_by_day``) and failed deliveries (dead letters,
linking to ``/events``). Charts: today's bookings per local hour by status, and revenue for the
last 7 days. Every published event schedules one re-read (debounced), so a webhook that confirms
a booking shows here within a second.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import get_currency_precision
from fastapi import Request
from nicegui import run, ui

from components import format as fmt
from components.booking_table import booking_rows, booking_table
from components.debounce import debounced
from components.frame import PageContext, frame, open_page
from components.i18n import register
from domain.bookings import latest_bookings
from domain.reports import BOOKING_STATUSES, bookings_by_hour, count_dead_letters, local_day, revenue_by_day
from payment.queries import pending_summary
from system import System

register(
    {
        "en": {
            "overview.today": "Today, {day} ({timezone})",
            "overview.kpi.bookings": "Bookings today",
            "overview.kpi.bookings.detail": "{confirmed} confirmed · {pending} awaiting payment",
            "overview.kpi.pending": "Pending payments",
            "overview.kpi.revenue": "Revenue today",
            "overview.kpi.revenue.detail": "succeeded minus refunded",
            "overview.kpi.dead": "Failed deliveries",
            "overview.kpi.dead.link": "Events and dead letters",
            "overview.kpi.none": "—",
            "overview.chart.hours": "Bookings today by hour",
            "overview.chart.revenue": "Revenue, last 7 days",
            "overview.latest": "Latest bookings",
            "overview.all_bookings": "All bookings",
        },
        "ru": {
            "overview.today": "Сегодня, {day} ({timezone})",
            "overview.kpi.bookings": "Брони на сегодня",
            "overview.kpi.bookings.detail": "подтверждено: {confirmed} · ждут оплаты: {pending}",
            "overview.kpi.pending": "Платежи в обработке",
            "overview.kpi.revenue": "Выручка за сегодня",
            "overview.kpi.revenue.detail": "оплаты за вычетом возвратов",
            "overview.kpi.dead": "Недоставленные события",
            "overview.kpi.dead.link": "События и недоставленные",
            "overview.kpi.none": "—",
            "overview.chart.hours": "Брони на сегодня по часам",
            "overview.chart.revenue": "Выручка за 7 дней",
            "overview.latest": "Последние брони",
            "overview.all_bookings": "Все брони",
        },
    }
)

LATEST_LIMIT = 12
REVENUE_DAYS = 7
CHART_COLORS = {"pending_payment": "#f57c00", "confirmed": "#21ba45", "expired": "#9e9e9e", "cancelled": "#c10015"}


def overview_data(system: System) -> dict[str, Any]:
    """Everything the overview shows, read in one go (call through ``run.io_bound``)."""
    zone = system.settings.timezone
    today = local_day(system.now(), zone)
    return {
        "today": today,
        "hours": bookings_by_hour(system.uow, today, zone),
        "revenue": revenue_by_day(system.uow, today, REVENUE_DAYS, zone),
        "pending": pending_summary(system.uow),
        "dead": count_dead_letters(system.uow),
        "latest": latest_bookings(system.uow, LATEST_LIMIT),
    }


def major_units(amount: int, currency: str) -> float:
    """Minor units as a number of major units, for chart axes only (money is shown with babel)."""
    return float(Decimal(amount).scaleb(-get_currency_precision(currency)))


def hours_chart_options(ctx: PageContext, hours: dict[str, Any]) -> dict[str, Any]:
    """A stacked bar chart: bookings per local hour, one series per status."""
    return {
        "animation": False,
        "grid": {"left": 32, "right": 12, "top": 30, "bottom": 24},
        "legend": {"top": 0, "textStyle": {"fontSize": 11}},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": hours["hours"], "axisLabel": {"fontSize": 10}},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": ctx.t(f"status.{status}"),
                "type": "bar",
                "stack": "bookings",
                "data": hours["series"].get(status, [0] * 24),
                "itemStyle": {"color": CHART_COLORS.get(status)},
            }
            for status in BOOKING_STATUSES
        ],
    }


def revenue_chart_options(ctx: PageContext, revenue: dict[str, Any]) -> dict[str, Any]:
    """Bars of net revenue per local day, one series per currency (major units)."""
    currencies = revenue["currencies"] or {"": [0] * len(revenue["days"])}  # an empty week still shows its days
    return {
        "animation": False,
        "grid": {"left": 56, "right": 12, "top": 30, "bottom": 24},
        "legend": {"top": 0, "textStyle": {"fontSize": 11}},
        "tooltip": {"trigger": "axis"},
        "xAxis": {
            "type": "category",
            "data": [format_date(day, "EEE d", locale=ctx.locale) for day in revenue["days"]],
        },
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": currency,
                "type": "bar",
                "data": [major_units(amount, currency) if currency else 0 for amount in amounts],
                "itemStyle": {"color": "#1d4ed8"},
            }
            for currency, amounts in sorted(currencies.items())
        ],
    }


def money_list(amounts: list[dict[str, Any]], locale: str, empty: str) -> str:
    """``[{amount, currency}]`` as ``RUB 1,500.00 · €90.00``, or ``empty``."""
    return " · ".join(fmt.money_of(money, locale) for money in amounts) or empty


def register(system: System) -> None:
    @ui.page("/", title="Booking Desk")
    async def index(request: Request) -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        with frame(ctx, "nav.overview", active="/"):
            heading = ui.label().classes("bd-muted").mark("overview-today")
            with ui.grid(columns=4).classes("w-full gap-3"):
                bookings_kpi = _kpi(ctx, "overview.kpi.bookings", "kpi-bookings")
                pending_kpi = _kpi(ctx, "overview.kpi.pending", "kpi-pending")
                revenue_kpi = _kpi(ctx, "overview.kpi.revenue", "kpi-revenue")
                dead_kpi = _kpi(ctx, "overview.kpi.dead", "kpi-dead", link=("overview.kpi.dead.link", "/events"))
            with ui.grid(columns=2).classes("w-full gap-3"):
                with ui.card().classes("bd-card p-3 gap-1"):
                    ui.label(ctx.t("overview.chart.hours")).classes("text-sm font-medium")
                    hours_chart = ui.echart({}).classes("w-full h-56").mark("chart-hours")
                with ui.card().classes("bd-card p-3 gap-1"):
                    ui.label(ctx.t("overview.chart.revenue")).classes("text-sm font-medium")
                    revenue_chart = ui.echart({}).classes("w-full h-56").mark("chart-revenue")
            with ui.card().classes("bd-card p-3 w-full gap-2"):
                with ui.row().classes("w-full items-center"):
                    ui.label(ctx.t("overview.latest")).classes("text-sm font-medium")
                    ui.space()
                    ui.link(ctx.t("overview.all_bookings"), "/bookings").classes("text-xs")
                table = booking_table(ctx, compact=True).mark("latest-bookings")

        async def refresh() -> None:
            data = await run.io_bound(overview_data, system)
            if data is None:  # shutting down
                return
            zone = system.settings.timezone
            none = ctx.t("overview.kpi.none")
            heading.set_text(
                ctx.t("overview.today", day=format_date(data["today"], "full", locale=ctx.locale), timezone=zone)
            )
            by_status = data["hours"]["by_status"]
            bookings_kpi[0].set_text(str(data["hours"]["active"]))
            bookings_kpi[1].set_text(
                ctx.t(
                    "overview.kpi.bookings.detail",
                    confirmed=by_status.get("confirmed", 0),
                    pending=by_status.get("pending_payment", 0),
                )
            )
            pending_kpi[0].set_text(str(data["pending"]["count"]))
            pending_kpi[1].set_text(money_list(data["pending"]["amounts"], ctx.locale, none))
            today_revenue = [
                {"amount": amounts[-1], "currency": currency}
                for currency, amounts in sorted(data["revenue"]["currencies"].items())
            ]
            revenue_kpi[0].set_text(money_list(today_revenue, ctx.locale, none))
            revenue_kpi[1].set_text(ctx.t("overview.kpi.revenue.detail"))
            dead_kpi[0].set_text(str(data["dead"]))
            dead_kpi[0].classes(replace="bd-kpi" + (" text-negative" if data["dead"] else ""))
            hours_chart.options.clear()
            hours_chart.options.update(hours_chart_options(ctx, data["hours"]))
            hours_chart.update()
            revenue_chart.options.clear()
            revenue_chart.options.update(revenue_chart_options(ctx, data["revenue"]))
            revenue_chart.update()
            table.rows = booking_rows(ctx, data["latest"])
            table.update()

        system.live.subscribe(debounced(refresh))
        await refresh()


def _kpi(
    ctx: PageContext, title_key: str, marker: str, *, link: tuple[str, str] | None = None
) -> tuple[ui.label, ui.label]:
    """A KPI card: title, big value, detail line and an optional ``(text key, path)`` link;
    returns the value and detail labels."""
    with ui.card().classes("bd-card p-3 gap-1"):
        ui.label(ctx.t(title_key)).classes("bd-muted uppercase tracking-wide")
        value = ui.label().classes("bd-kpi").mark(marker)
        detail = ui.label().classes("bd-muted")
        if link is not None:
            ui.link(ctx.t(link[0]), link[1]).classes("text-xs")
    return value, detail
