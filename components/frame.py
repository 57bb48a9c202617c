"""The shared page frame of the staff dashboard: header, navigation, language switch, user menu.

Every staff screen is built as::

    @ui.page("/bookings")
    async def bookings(request: Request) -> None:
        ctx = page_context(system, request)
        with frame(ctx, "nav.bookings", active="/bookings"):
            ...

``AuthMiddleware`` has already redirected anonymous requests to ``/login``; manager-only screens
call ``ctx.require_manager()`` which renders a refusal instead of the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from babel.dates import get_day_names, get_month_names
from fastapi import Request
from nicegui import helpers, run, ui
from nicegui.client import ClientConnectionTimeout

from components.i18n import LOCALE_NAMES, translator
from domain.accounts import Principal, update_user
from system import System

NAV = [
    ("/", "dashboard", "nav.overview", "staff"),
    ("/availability", "calendar_view_week", "nav.availability", "staff"),
    ("/bookings/new", "add_circle", "nav.new_booking", "staff"),
    ("/bookings", "list_alt", "nav.bookings", "staff"),
    ("/payments", "payments", "nav.payments", "staff"),
    ("/events", "hub", "nav.events", "staff"),
    ("/notifications", "mail", "nav.notifications", "staff"),
    ("/settings", "settings", "nav.settings", "manager"),
]

STATUS_COLORS = {
    "pending_payment": "orange-8",
    "confirmed": "positive",
    "expired": "grey-6",
    "cancelled": "negative",
    "pending": "orange-8",
    "succeeded": "positive",
    "failed": "negative",
    "refunded": "purple-6",
    "retrying": "orange-8",
    "dead": "negative",
}

CSS = """
<style>
  body { background: #f4f6f8; }
  .bd-card { background: white; border: 1px solid #dfe3e8; border-radius: 6px; }
  .q-table th { font-weight: 600; background: #f7f8fa; }
  .q-drawer .q-item.bd-active { background: #e3ecfa; color: #1d4ed8; font-weight: 600; }
  .bd-kpi { font-size: 1.6rem; font-weight: 600; line-height: 1.1; }
  .bd-muted { color: #637381; font-size: 0.8rem; }
</style>
"""


@dataclass
class PageContext:
    """What a screen needs: the system, who is looking, their language and translator."""

    system: System
    principal: Principal | None
    locale: str
    t: Callable[..., str]

    @property
    def is_manager(self) -> bool:
        return self.principal is not None and self.principal.is_manager

    def require_manager(self) -> bool:
        """Render a refusal and return False unless the user is a manager."""
        if self.is_manager:
            return True
        with ui.card().classes("bd-card p-6"):
            ui.icon("lock").classes("text-3xl text-grey-7")
            ui.label(self.t("error.forbidden")).classes("text-lg").mark("forbidden")
        return False


CONNECT_TIMEOUT_SECONDS = 20.0
"""A page whose websocket has not connected by then is given up (and pruned, see app.py)."""


async def wait_for_browser() -> bool:
    """Wait until the page's websocket is connected; False if none comes in time.

    Screens are built only for browsers that connect: a plain GET (a crawler, a health check, a
    prefetch) gets the empty page shell and costs almost no memory, instead of a full set of
    elements kept until the client is pruned. Under NiceGUI's simulated ``User`` (tests) it
    returns at once, as the simulation connects only after the page response; the real browser
    path is covered by the Playwright tests and ``bench/memory.py``.
    """
    if helpers.is_user_simulation():
        return True
    try:
        await ui.context.client.connected(timeout=CONNECT_TIMEOUT_SECONDS)
    except ClientConnectionTimeout:
        return False
    return True


async def open_page(system: System, request: Request) -> PageContext | None:
    """The page's context once a browser is connected (``wait_for_browser``), else ``None``:
    the page function should then simply return."""
    if not await wait_for_browser():
        return None
    return page_context(system, request)


def page_context(system: System, request: Request) -> PageContext:
    """Build the context from the request (``AuthMiddleware`` put the principal on it)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    locale = (principal.locale if principal and principal.locale else None) or system.settings.locale
    return PageContext(system, principal, locale, translator(locale))


def status_badge(ctx: PageContext, status: str) -> ui.badge:
    """A coloured chip for a booking, payment or delivery status, in the page's language."""
    return ui.badge(ctx.t(f"status.{status}"), color=STATUS_COLORS.get(status, "primary")).props("outline")


@contextmanager
def frame(ctx: PageContext, title_key: str, *, active: str) -> Iterator[None]:
    """Header, left navigation and a content column; yields inside the content column."""
    ui.add_head_html(CSS)
    ui.page_title(f"{ctx.t(title_key)} · {ctx.t('app.name')}")
    principal = ctx.principal
    with ui.header(elevated=False).classes("items-center gap-3 px-4 py-1 bg-slate-800 text-white"):
        ui.icon("event_available").classes("text-2xl")
        ui.label(ctx.t("app.name")).classes("text-base font-semibold")
        ui.label("·").classes("opacity-50")
        ui.label(ctx.t(title_key)).classes("text-base")
        ui.space()
        with ui.row().classes("items-center gap-1"):
            ui.icon("circle").classes("text-green-400 text-xs")
            ui.label(ctx.t("live.connected")).classes("text-xs opacity-80")
        if principal is not None:
            toggle = ui.toggle(LOCALE_NAMES, value=ctx.locale).props("dense flat toggle-color=white text-color=grey-4")
            toggle.mark("language")

            async def switch(event) -> None:
                if event.value == ctx.locale:
                    return
                await run.io_bound(update_user, ctx.system.uow, principal.id, locale=event.value)
                ui.navigate.reload()

            toggle.on_value_change(switch)
            role = ctx.t(f"user.role.{principal.role}")
            ui.label(f"{principal.username} · {role}").classes("text-sm opacity-90")
            ui.link(ctx.t("user.logout"), "/logout").classes("text-white text-sm")
    with ui.left_drawer(value=True, bordered=True).props("width=210 breakpoint=700").classes("bg-white p-0"):
        with ui.list().props("dense padding").classes("w-full"):
            for path, icon, key, role in NAV:
                if role == "manager" and not ctx.is_manager:
                    continue
                with ui.item(on_click=lambda p=path: ui.navigate.to(p)).classes("bd-active" if path == active else ""):
                    with ui.item_section().props("avatar"):
                        ui.icon(icon)
                    with ui.item_section():
                        ui.item_label(ctx.t(key))
            ui.separator()
            for path, icon, key in (("/kiosk", "storefront", "nav.kiosk"), ("/api/docs", "code", "nav.api_docs")):
                with ui.item(on_click=lambda p=path: ui.navigate.to(p, new_tab=True)):
                    with ui.item_section().props("avatar"):
                        ui.icon(icon)
                    with ui.item_section():
                        ui.item_label(ctx.t(key))
    with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-3"):
        yield
    localize_quasar(ctx)


def quasar_date_locale(locale: str) -> dict:
    """Day and month names for Quasar's QDate ``locale`` prop, from babel (Sunday first)."""
    days = get_day_names("wide", context="stand-alone", locale=locale)
    days_short = get_day_names("abbreviated", context="stand-alone", locale=locale)
    months = get_month_names("wide", context="stand-alone", locale=locale)
    months_short = get_month_names("abbreviated", context="stand-alone", locale=locale)
    order = [6, 0, 1, 2, 3, 4, 5]  # babel counts from Monday, Quasar from Sunday
    return {
        "days": [days[i].capitalize() for i in order],
        "daysShort": [days_short[i].capitalize() for i in order],
        "months": [months[i].capitalize() for i in range(1, 13)],
        "monthsShort": [months_short[i].capitalize() for i in range(1, 13)],
        "firstDayOfWeek": 1,
    }


def localize_quasar(ctx: PageContext) -> None:
    """Give the page's Quasar tables and date pickers their texts in the page's language
    (Quasar's own language pack is one per app, not per user)."""
    of = ctx.t("table.of")
    date_locale = quasar_date_locale(ctx.locale)
    for element in list(ui.context.client.elements.values()):
        if isinstance(element, ui.date):
            element._props["locale"] = date_locale
            element._props["first-day-of-week"] = 1
        if isinstance(element, ui.table):  # texts a screen set itself (e.g. its own empty state) stay
            element._props.setdefault("rows-per-page-label", ctx.t("table.rows_per_page"))
            element._props.setdefault("no-data-label", ctx.t("table.no_data"))
            element._props.setdefault("no-results-label", ctx.t("table.no_results"))
            element._props[":pagination-label"] = f"(first, end, total) => `${{first}}–${{end}} {of} ${{total}}`"
