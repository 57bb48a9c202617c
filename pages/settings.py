"""``/settings`` (managers only): resources, opening hours, closures, integration endpoints, users.

Staff get the refusal of ``ctx.require_manager()`` instead of the screen, and every action re-reads
the user's role from the database before calling its use case (``guard``), so a forged click or a
manager demoted meanwhile changes nothing. The rules live in the use cases
(``domain/resources.py``, ``integrations/endpoints.py``, ``domain/accounts.py``); this page turns
their ``DomainError`` messages into notifications next to the form. Prices and hours apply to
new bookings only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import available_timezones

from babel.dates import get_day_names
from babel.numbers import NumberFormatError, format_decimal, get_currency_precision, parse_decimal
from fastapi import Request
from nicegui import run, ui

from components.format import date_time, money
from components.frame import PageContext, frame, open_page
from components.i18n import LOCALE_NAMES, error_text, register
from domain import accounts, resources
from domain.errors import DomainError, ValidationProblem
from integrations.endpoints import add_endpoint, list_endpoints, remove_endpoint
from system import System

log = logging.getLogger(__name__)

SLOT_CHOICES = [m for m in range(resources.MIN_SLOT_MINUTES, resources.MAX_SLOT_MINUTES + 1) if 1440 % m == 0]
TIMEZONES = sorted(available_timezones())

register(
    {
        "en": {
            "settings.tab.resources": "Resources",
            "settings.tab.hours": "Opening hours",
            "settings.tab.closures": "Closures",
            "settings.tab.endpoints": "Integration endpoints",
            "settings.tab.users": "Users",
            "settings.saved": "Saved.",
            "settings.forbidden": "Settings need the manager role.",
            "settings.new_bookings_only": "Price and hours changes apply to new bookings only.",
            "settings.resource": "Resource",
            "settings.pick_resource": "Pick a resource first.",
            "settings.remove": "Remove",
            "settings.yes": "yes",
            "settings.no": "no",
            "settings.res.add": "Add resource",
            "settings.res.edit_hint": "Click a row to edit it.",
            "settings.res.new": "New resource",
            "settings.res.edit": "Edit resource",
            "settings.res.name": "Name",
            "settings.res.timezone": "Timezone (IANA)",
            "settings.res.slot_minutes": "Slot, minutes",
            "settings.res.price": "Price of one slot",
            "settings.res.currency": "Currency (ISO code)",
            "settings.res.active": "Active (bookable)",
            "settings.res.save": "Save",
            "settings.res.cancel": "Cancel",
            "settings.res.bad_price": "The price is not a number in this language's format, e.g. {example}.",
            "settings.hours.hint": "Local time of the resource ({zone}). Intervals like 09:00-13:00, 14:00-24:00; "
            "leave a day empty when closed.",
            "settings.hours.save": "Save hours",
            "settings.closures.from": "From (resource time)",
            "settings.closures.to": "To (resource time)",
            "settings.closures.reason": "Reason",
            "settings.closures.add": "Add closure",
            "settings.closures.none": "No upcoming closures.",
            "settings.closures.bad_time": "Give both the start and the end.",
            "settings.ep.env": "From the environment (BOOKING_INTEGRATION_WEBHOOK_URLS, read-only)",
            "settings.ep.env_none": "None configured in the environment.",
            "settings.ep.dashboard": "Added here",
            "settings.ep.url": "Endpoint URL (https://...)",
            "settings.ep.description": "Description",
            "settings.ep.add": "Add endpoint",
            "settings.ep.guard": "Only public addresses are accepted: loopback, private and link-local are refused.",
            "settings.ep.added_at": "Added",
            "settings.users.username": "Username",
            "settings.users.password": "Password (8+ characters)",
            "settings.users.role": "Role",
            "settings.users.locale": "Language",
            "settings.users.active": "Active",
            "settings.users.locked": "Locked until",
            "settings.users.create": "Create user",
            "settings.users.manage": "Manage an account",
            "settings.users.user": "Account",
            "settings.users.apply_role": "Change role",
            "settings.users.deactivate": "Deactivate",
            "settings.users.activate": "Activate",
            "settings.users.new_password": "New password",
            "settings.users.reset": "Reset password",
            "settings.users.token_name": "Token name",
            "settings.users.token_create": "Create API token",
            "settings.users.token_title": "API token for {user}",
            "settings.users.token_once": "Copy it now: it is shown only once and cannot be recovered.",
            "settings.users.copy": "Copy",
            "settings.users.close": "Close",
            "settings.users.not_yourself": "You cannot demote or deactivate your own account.",
            "settings.users.default_locale": "default",
        },
        "ru": {
            "settings.tab.resources": "Ресурсы",
            "settings.tab.hours": "Часы работы",
            "settings.tab.closures": "Закрытия",
            "settings.tab.endpoints": "Адреса интеграций",
            "settings.tab.users": "Пользователи",
            "settings.saved": "Сохранено.",
            "settings.forbidden": "Настройки доступны только менеджеру.",
            "settings.new_bookings_only": "Изменения цен и часов работы действуют только для новых броней.",
            "settings.resource": "Ресурс",
            "settings.pick_resource": "Сначала выберите ресурс.",
            "settings.remove": "Удалить",
            "settings.yes": "да",
            "settings.no": "нет",
            "settings.res.add": "Добавить ресурс",
            "settings.res.edit_hint": "Щёлкните строку, чтобы изменить ресурс.",
            "settings.res.new": "Новый ресурс",
            "settings.res.edit": "Изменение ресурса",
            "settings.res.name": "Название",
            "settings.res.timezone": "Часовой пояс (IANA)",
            "settings.res.slot_minutes": "Слот, минут",
            "settings.res.price": "Цена одного слота",
            "settings.res.currency": "Валюта (код ISO)",
            "settings.res.active": "Активен (можно бронировать)",
            "settings.res.save": "Сохранить",
            "settings.res.cancel": "Отмена",
            "settings.res.bad_price": "Цена должна быть числом в формате этого языка, например {example}.",
            "settings.hours.hint": "Местное время ресурса ({zone}). Интервалы вида 09:00-13:00, 14:00-24:00; "
            "пустая строка — выходной.",
            "settings.hours.save": "Сохранить часы",
            "settings.closures.from": "С (время ресурса)",
            "settings.closures.to": "По (время ресурса)",
            "settings.closures.reason": "Причина",
            "settings.closures.add": "Добавить закрытие",
            "settings.closures.none": "Предстоящих закрытий нет.",
            "settings.closures.bad_time": "Укажите и начало, и конец.",
            "settings.ep.env": "Из окружения (BOOKING_INTEGRATION_WEBHOOK_URLS, только чтение)",
            "settings.ep.env_none": "В окружении адресов нет.",
            "settings.ep.dashboard": "Добавленные здесь",
            "settings.ep.url": "Адрес (https://...)",
            "settings.ep.description": "Описание",
            "settings.ep.add": "Добавить адрес",
            "settings.ep.guard": "Принимаются только публичные адреса: локальные, частные и link-local отклоняются.",
            "settings.ep.added_at": "Добавлен",
            "settings.users.username": "Имя пользователя",
            "settings.users.password": "Пароль (не короче 8 символов)",
            "settings.users.role": "Роль",
            "settings.users.locale": "Язык",
            "settings.users.active": "Активен",
            "settings.users.locked": "Заблокирован до",
            "settings.users.create": "Создать пользователя",
            "settings.users.manage": "Управление учётной записью",
            "settings.users.user": "Учётная запись",
            "settings.users.apply_role": "Сменить роль",
            "settings.users.deactivate": "Отключить",
            "settings.users.activate": "Включить",
            "settings.users.new_password": "Новый пароль",
            "settings.users.reset": "Сбросить пароль",
            "settings.users.token_name": "Название токена",
            "settings.users.token_create": "Создать API-токен",
            "settings.users.token_title": "API-токен пользователя {user}",
            "settings.users.token_once": "Скопируйте его сейчас: он показывается один раз и не восстанавливается.",
            "settings.users.copy": "Копировать",
            "settings.users.close": "Закрыть",
            "settings.users.not_yourself": "Нельзя понизить или отключить собственную учётную запись.",
            "settings.users.default_locale": "по умолчанию",
        },
    }
)

REMOVE_SLOT = """
<q-td :props="props" auto-width>
  <q-btn flat dense round size="sm" icon="delete" color="negative" :title="props.col.label"
         @click.stop="() => $parent.$emit('remove', props.row)" />
</q-td>
"""


def register(system: System) -> None:
    @ui.page("/settings")
    async def settings_page(request: Request) -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        with frame(ctx, "nav.settings", active="/settings"):
            if not ctx.require_manager():
                return
            await SettingsScreen(ctx).build()


async def guard(ctx: PageContext) -> bool:
    """True if the page's user is, right now, an active manager (read from the database)."""
    principal = ctx.principal
    fresh = principal and await run.io_bound(
        accounts.principal_by_id, ctx.system.uow, principal.id, principal.session_version
    )
    if fresh and fresh.is_manager:
        return True
    log.warning("settings action refused: %s is not a manager", principal and principal.username)
    ui.notify(ctx.t("settings.forbidden"), type="negative")
    return False


async def attempt(ctx: PageContext, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Run a use case as the page's manager: ``guard``, then ``fn`` in a worker thread. A
    ``DomainError`` is shown to the user and returned as ``(False, error)``; success is
    ``(True, result)``."""
    if not await guard(ctx):
        return False, None
    try:
        return True, await run.io_bound(fn, *args, **kwargs)
    except DomainError as error:
        ui.notify(error_text(ctx.locale, error), type="negative", multi_line=True)
        return False, error


def parse_price(text: str, locale: str) -> Decimal:
    """A price typed in the page's language (``1 500,50`` ru, ``1,500.50`` en) as a Decimal of major
    units; ``ValidationProblem`` (``price``) if it is not a number."""
    try:
        return parse_decimal((text or "").strip(), locale=locale)
    except NumberFormatError:
        raise ValidationProblem(f"{text!r} is not a number", field="price") from None


def settings_table(t, columns: list[tuple[str, str]], marker: str) -> ui.table:
    """A dense, bordered, full-width table whose ``columns`` are ``(field, text key)`` pairs."""
    return (
        ui.table(
            columns=[{"name": n, "label": t(k), "field": n, "align": "left"} for n, k in columns],
            rows=[],
            row_key="id",
        )
        .props("dense flat bordered")
        .classes("w-full")
        .mark(marker)
    )


class SettingsScreen:
    """The tabs of the settings screen for one page visit (state is per visitor)."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.t = ctx.t
        self.system = ctx.system
        self.resources: list[dict] = []
        self.users: list[dict] = []

    async def build(self) -> None:
        t = self.t
        with ui.tabs().props("dense align=left no-caps").classes("bd-card w-full") as tabs:
            for name, icon in (
                ("resources", "meeting_room"),
                ("hours", "schedule"),
                ("closures", "event_busy"),
                ("endpoints", "webhook"),
                ("users", "group"),
            ):
                ui.tab(name, label=t(f"settings.tab.{name}"), icon=icon).mark(f"tab-{name}")
        with ui.tab_panels(tabs, value="resources").classes("bd-card w-full"):
            with ui.tab_panel("resources").classes("p-3 gap-2"):
                self.resources_panel()
            with ui.tab_panel("hours").classes("p-3 gap-2"):
                self.hours_panel()
            with ui.tab_panel("closures").classes("p-3 gap-2"):
                self.closures_panel()
            with ui.tab_panel("endpoints").classes("p-3 gap-2"):
                self.endpoints_panel()
            with ui.tab_panel("users").classes("p-3 gap-2"):
                self.users_panel()
        await self.load_resources()
        await self.load_endpoints()
        await self.load_users()

    # -- resources -------------------------------------------------------------------------------

    def resources_panel(self) -> None:
        t = self.t
        with ui.row().classes("w-full items-center gap-3"):
            ui.button(t("settings.res.add"), icon="add", on_click=lambda: self.open_editor(None)).props(
                "unelevated dense color=primary"
            ).mark("add-resource")
            ui.label(t("settings.res.edit_hint")).classes("bd-muted")
            ui.space()
            ui.label(t("settings.new_bookings_only")).classes("bd-muted")
        columns = [
            ("name", "settings.res.name"),
            ("timezone", "settings.res.timezone"),
            ("slot_minutes", "settings.res.slot_minutes"),
            ("price", "settings.res.price"),
            ("active", "settings.res.active"),
        ]
        self.resource_table = settings_table(t, columns, "resources").classes("cursor-pointer")
        self.resource_table.on("rowClick", lambda e: self.open_editor(e.args[1]["id"]))

        with ui.dialog() as self.editor, ui.card().classes("w-[28rem] p-4 gap-2"):
            self.editor_title = ui.label().classes("text-base font-semibold")
            self.res_name = ui.input(t("settings.res.name")).props("dense outlined").classes("w-full").mark("res-name")
            self.res_timezone = (
                ui.select(TIMEZONES, label=t("settings.res.timezone"), with_input=True)
                .props("dense outlined options-dense")
                .classes("w-full")
                .mark("res-timezone")
            )
            with ui.row().classes("w-full no-wrap gap-2"):
                self.res_slot = (
                    ui.select(SLOT_CHOICES, label=t("settings.res.slot_minutes"))
                    .props("dense outlined options-dense")
                    .classes("w-1/3")
                    .mark("res-slot")
                )
                self.res_price = ui.input(t("settings.res.price")).props("dense outlined").classes("w-1/3")
                self.res_price.mark("res-price")
                self.res_currency = (
                    ui.input(t("settings.res.currency")).props("dense outlined maxlength=3").classes("w-1/3")
                )
                self.res_currency.mark("res-currency")
            self.res_active = ui.switch(t("settings.res.active"), value=True).mark("res-active")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("settings.res.cancel"), on_click=self.editor.close).props("flat dense")
                ui.button(t("settings.res.save"), on_click=self.save_resource).props(
                    "unelevated dense color=primary"
                ).mark("res-save")
        self.editing: int | None = None

    def open_editor(self, resource_id: int | None) -> None:
        current = next((r for r in self.resources if r["id"] == resource_id), None)
        self.editing = resource_id if current else None
        self.editor_title.set_text(self.t("settings.res.edit" if current else "settings.res.new"))
        self.res_name.value = current["name"] if current else ""
        self.res_timezone.value = current["timezone"] if current else self.system.settings.timezone
        self.res_slot.value = current["slot_minutes"] if current else 60
        if current:
            digits = get_currency_precision(current["price"]["currency"])
            major = Decimal(current["price"]["amount"]).scaleb(-digits)
            pattern = "0." + "0" * digits if digits else "0"
            self.res_price.value = format_decimal(major, format=pattern, locale=self.ctx.locale)
            self.res_currency.value = current["price"]["currency"]
        else:
            self.res_price.value = ""
            self.res_currency.value = self.resources[0]["price"]["currency"] if self.resources else "EUR"
        self.res_active.value = current["active"] if current else True
        self.editor.open()

    async def save_resource(self) -> None:
        values = {
            "name": self.res_name.value or "",
            "timezone": self.res_timezone.value or "",
            "slot_minutes": int(self.res_slot.value or 0),
            "currency": (self.res_currency.value or "").strip().upper(),
        }
        try:
            values["price"] = parse_price(self.res_price.value, self.ctx.locale)
        except ValidationProblem:
            example = "1 500,00" if self.ctx.locale == "ru" else "1,500.00"
            ui.notify(self.t("settings.res.bad_price", example=example), type="negative")
            return
        if self.editing is None:
            ok, _ = await attempt(
                self.ctx, resources.create_resource, self.system.uow, active=self.res_active.value, **values
            )
        else:
            ok, _ = await attempt(
                self.ctx,
                resources.update_resource,
                self.system.uow,
                self.editing,
                active=self.res_active.value,
                now=self.system.now(),
                **values,
            )
        if ok:
            self.editor.close()
            ui.notify(self.t("settings.saved"), type="positive")
            await self.load_resources()

    async def load_resources(self) -> None:
        loaded = await run.io_bound(
            resources.list_resources_with_hours, self.system.uow, closures_after=self.system.now()
        )
        if loaded is None:
            return
        self.resources = loaded
        locale = self.ctx.locale
        self.resource_table.rows = [
            {
                "id": r["id"],
                "name": r["name"],
                "timezone": r["timezone"],
                "slot_minutes": r["slot_minutes"],
                "price": money(r["price"]["amount"], r["price"]["currency"], locale),
                "active": self.t("settings.yes" if r["active"] else "settings.no"),
            }
            for r in loaded
        ]
        self.resource_table.update()
        options = {r["id"]: r["name"] for r in loaded}
        for select in (self.hours_resource, self.closures_resource):
            select.set_options(options, value=select.value if select.value in options else None)
        self.show_hours()
        self.show_closures()

    def resource(self, resource_id: int | None) -> dict | None:
        return next((r for r in self.resources if r["id"] == resource_id), None)

    # -- opening hours ---------------------------------------------------------------------------

    def hours_panel(self) -> None:
        t = self.t
        with ui.row().classes("w-full items-center gap-3"):
            self.hours_resource = (
                ui.select({}, label=t("settings.resource"), on_change=self.show_hours)
                .props("dense outlined options-dense")
                .classes("w-72")
                .mark("hours-resource")
            )
            self.hours_hint = ui.label().classes("bd-muted")
        names = get_day_names("wide", locale=self.ctx.locale)
        self.day_inputs: dict[int, ui.input] = {}
        with ui.grid(columns="10rem 28rem").classes("items-center gap-x-3 gap-y-1"):
            for weekday in resources.WEEKDAYS:
                ui.label(names[weekday].capitalize()).classes("text-sm")
                self.day_inputs[weekday] = (
                    ui.input(placeholder="09:00-13:00, 14:00-18:00").props("dense outlined").mark(f"hours-{weekday}")
                )
        ui.button(t("settings.hours.save"), icon="save", on_click=self.save_hours).props(
            "unelevated dense color=primary"
        ).mark("hours-save")

    def show_hours(self) -> None:
        current = self.resource(self.hours_resource.value)
        zone = current["timezone"] if current else "—"
        self.hours_hint.set_text(self.t("settings.hours.hint", zone=zone))
        for weekday, field in self.day_inputs.items():
            field.props(remove="error error-message")
            intervals = current["hours"][weekday] if current else []
            field.value = ", ".join(f"{i['opens']}-{i['closes']}" for i in intervals)

    async def save_hours(self) -> None:
        resource_id = self.hours_resource.value
        if resource_id is None:
            ui.notify(self.t("settings.pick_resource"), type="warning")
            return
        for field in self.day_inputs.values():
            field.props(remove="error error-message")
        try:
            hours = {day: resources.parse_hours_text(field.value, day) for day, field in self.day_inputs.items()}
        except ValidationProblem as error:
            self.mark_day(error)
            return
        ok, result = await attempt(
            self.ctx, resources.set_opening_hours, self.system.uow, resource_id, hours, self.system.now()
        )
        if ok:
            ui.notify(self.t("settings.saved"), type="positive")
            await self.load_resources()
        elif isinstance(result, ValidationProblem):
            self.mark_day(result)

    def mark_day(self, error: ValidationProblem) -> None:
        """Put the message under the weekday's field named by the error (``hours.<weekday>``)."""
        _, _, day = (error.field or "").partition(".")
        field = self.day_inputs.get(int(day)) if day.isdigit() else None
        if field is not None:
            field.props["error"] = True
            field.props["error-message"] = error_text(self.ctx.locale, error)
            field.update()
        ui.notify(error_text(self.ctx.locale, error), type="negative")

    # -- closures --------------------------------------------------------------------------------

    def closures_panel(self) -> None:
        t = self.t
        self.closures_resource = (
            ui.select({}, label=t("settings.resource"), on_change=self.show_closures)
            .props("dense outlined options-dense")
            .classes("w-72")
            .mark("closures-resource")
        )
        columns = [
            ("starts", "settings.closures.from"),
            ("ends", "settings.closures.to"),
            ("reason", "settings.closures.reason"),
            ("remove", "settings.remove"),
        ]
        self.closure_table = settings_table(t, columns, "closures").props(
            f'no-data-label="{t("settings.closures.none")}"'
        )
        self.closure_table.add_slot("body-cell-remove", REMOVE_SLOT)
        self.closure_table.on("remove", lambda e: self.remove_closure(e.args["id"]))
        with ui.row().classes("items-end gap-2"):
            self.closure_from = ui.input(t("settings.closures.from")).props(
                "dense outlined type=datetime-local stack-label"
            )
            self.closure_from.mark("closure-from")
            self.closure_to = ui.input(t("settings.closures.to")).props(
                "dense outlined type=datetime-local stack-label"
            )
            self.closure_to.mark("closure-to")
            self.closure_reason = ui.input(t("settings.closures.reason")).props("dense outlined").classes("w-64")
            self.closure_reason.mark("closure-reason")
            ui.button(t("settings.closures.add"), icon="add", on_click=self.add_closure).props(
                "unelevated dense color=primary"
            ).mark("closure-add")

    def show_closures(self) -> None:
        current = self.resource(self.closures_resource.value)
        rows = []
        if current:
            zone, locale = current["timezone"], self.ctx.locale
            rows = [
                {
                    "id": c["id"],
                    "starts": date_time(c["starts_at"], zone, locale),
                    "ends": date_time(c["ends_at"], zone, locale),
                    "reason": c["reason"],
                }
                for c in current["closures"]
            ]
        self.closure_table.rows = rows
        self.closure_table.update()

    async def add_closure(self) -> None:
        resource_id = self.closures_resource.value
        if resource_id is None:
            ui.notify(self.t("settings.pick_resource"), type="warning")
            return
        try:
            starts = datetime.fromisoformat(self.closure_from.value or "")
            ends = datetime.fromisoformat(self.closure_to.value or "")
        except ValueError:
            ui.notify(self.t("settings.closures.bad_time"), type="negative")
            return
        ok, _ = await attempt(
            self.ctx, resources.add_closure, self.system.uow, resource_id, starts, ends, self.closure_reason.value or ""
        )
        if ok:
            self.closure_reason.value = ""
            ui.notify(self.t("settings.saved"), type="positive")
            await self.load_resources()

    async def remove_closure(self, closure_id: int) -> None:
        ok, _ = await attempt(self.ctx, resources.remove_closure, self.system.uow, closure_id)
        if ok:
            await self.load_resources()

    # -- integration endpoints -------------------------------------------------------------------

    def endpoints_panel(self) -> None:
        t = self.t
        ui.label(t("settings.ep.env")).classes("text-sm font-semibold")
        configured = self.system.settings.integration_webhook_urls
        with ui.column().classes("gap-0 pl-2").mark("env-endpoints"):
            for url in configured:
                ui.label(url).classes("text-sm font-mono")
            if not configured:
                ui.label(t("settings.ep.env_none")).classes("bd-muted")
        ui.separator()
        ui.label(t("settings.ep.dashboard")).classes("text-sm font-semibold")
        columns = [
            ("url", "settings.ep.url"),
            ("description", "settings.ep.description"),
            ("created_at", "settings.ep.added_at"),
            ("remove", "settings.remove"),
        ]
        self.endpoint_table = settings_table(t, columns, "endpoints")
        self.endpoint_table.add_slot("body-cell-remove", REMOVE_SLOT)
        self.endpoint_table.on("remove", lambda e: self.remove_endpoint(e.args["id"]))
        with ui.row().classes("items-start gap-2 w-full"):
            self.endpoint_url = ui.input(t("settings.ep.url")).props("dense outlined").classes("w-96")
            self.endpoint_url.mark("endpoint-url")
            self.endpoint_description = ui.input(t("settings.ep.description")).props("dense outlined").classes("w-64")
            self.endpoint_description.mark("endpoint-description")
            ui.button(t("settings.ep.add"), icon="add", on_click=self.add_endpoint).props(
                "unelevated dense color=primary"
            ).mark("endpoint-add")
        self.endpoint_error = ui.label().classes("text-negative text-sm").mark("endpoint-error")
        ui.label(t("settings.ep.guard")).classes("bd-muted")

    async def add_endpoint(self) -> None:
        self.endpoint_error.set_text("")
        ok, result = await attempt(
            self.ctx,
            add_endpoint,
            self.system.uow,
            self.endpoint_url.value or "",
            self.endpoint_description.value or "",
            self.system.now(),
        )
        if ok:
            self.endpoint_url.value = ""
            self.endpoint_description.value = ""
            ui.notify(self.t("settings.saved"), type="positive")
            await self.load_endpoints()
        elif isinstance(result, DomainError):
            self.endpoint_error.set_text(error_text(self.ctx.locale, result))

    async def remove_endpoint(self, endpoint_id: int) -> None:
        ok, _ = await attempt(self.ctx, remove_endpoint, self.system.uow, endpoint_id)
        if ok:
            await self.load_endpoints()

    async def load_endpoints(self) -> None:
        loaded = await run.io_bound(list_endpoints, self.system.uow)
        if loaded is None:
            return
        zone, locale = self.system.settings.timezone, self.ctx.locale
        self.endpoint_table.rows = [{**e, "created_at": date_time(e["created_at"], zone, locale)} for e in loaded]
        self.endpoint_table.update()

    # -- users -----------------------------------------------------------------------------------

    def users_panel(self) -> None:
        t = self.t
        roles = {role: t(f"user.role.{role}") for role in accounts.ROLES}
        columns = [
            ("username", "settings.users.username"),
            ("role", "settings.users.role"),
            ("locale", "settings.users.locale"),
            ("active", "settings.users.active"),
            ("locked", "settings.users.locked"),
        ]
        self.user_table = settings_table(t, columns, "users")
        with ui.row().classes("w-full gap-4 items-start no-wrap"):
            with ui.column().classes("gap-1 w-80"):
                ui.label(t("settings.users.create")).classes("text-sm font-semibold")
                self.new_username = ui.input(t("settings.users.username")).props("dense outlined").classes("w-full")
                self.new_username.mark("user-name")
                self.new_password = (
                    ui.input(t("settings.users.password"), password=True, password_toggle_button=True)
                    .props("dense outlined autocomplete=new-password")
                    .classes("w-full")
                    .mark("user-password")
                )
                self.new_role = (
                    ui.select(roles, value="staff", label=t("settings.users.role"))
                    .props("dense outlined options-dense")
                    .classes("w-full")
                    .mark("user-role")
                )
                ui.button(t("settings.users.create"), icon="person_add", on_click=self.create_user).props(
                    "unelevated dense color=primary"
                ).mark("user-create")
            ui.separator().props("vertical")
            with ui.column().classes("gap-1 grow"):
                ui.label(t("settings.users.manage")).classes("text-sm font-semibold")
                self.manage_user = (
                    ui.select({}, label=t("settings.users.user"))
                    .props("dense outlined options-dense")
                    .classes("w-72")
                    .mark("manage-user")
                )
                with ui.row().classes("items-center gap-2"):
                    self.manage_role = (
                        ui.select(roles, value="staff", label=t("settings.users.role"))
                        .props("dense outlined options-dense")
                        .classes("w-48")
                        .mark("manage-role")
                    )
                    ui.button(t("settings.users.apply_role"), on_click=self.change_role).props("dense outline").mark(
                        "manage-apply-role"
                    )
                    ui.button(t("settings.users.deactivate"), on_click=lambda: self.set_active(False)).props(
                        "dense outline color=negative"
                    ).mark("manage-deactivate")
                    ui.button(t("settings.users.activate"), on_click=lambda: self.set_active(True)).props(
                        "dense outline"
                    ).mark("manage-activate")
                with ui.row().classes("items-center gap-2"):
                    self.reset_password = (
                        ui.input(t("settings.users.new_password"), password=True, password_toggle_button=True)
                        .props("dense outlined autocomplete=new-password")
                        .classes("w-64")
                        .mark("manage-password")
                    )
                    ui.button(t("settings.users.reset"), on_click=self.do_reset_password).props("dense outline").mark(
                        "manage-reset"
                    )
                with ui.row().classes("items-center gap-2"):
                    self.token_name = (
                        ui.input(t("settings.users.token_name"))
                        .props("dense outlined")
                        .classes("w-64")
                        .mark("token-name")
                    )
                    ui.button(t("settings.users.token_create"), icon="key", on_click=self.create_token).props(
                        "dense outline"
                    ).mark("token-create")

    async def load_users(self) -> None:
        loaded = await run.io_bound(accounts.list_users, self.system.uow)
        if loaded is None:
            return
        self.users = loaded
        zone, locale = self.system.settings.timezone, self.ctx.locale
        self.user_table.rows = [
            {
                "id": u["id"],
                "username": u["username"],
                "role": self.t(f"user.role.{u['role']}"),
                "locale": LOCALE_NAMES.get(u["locale"] or "", self.t("settings.users.default_locale")),
                "active": self.t("settings.yes" if u["active"] else "settings.no"),
                "locked": date_time(u["locked_until"], zone, locale) if u["locked_until"] else "",
            }
            for u in loaded
        ]
        self.user_table.update()
        options = {u["id"]: u["username"] for u in loaded}
        self.manage_user.set_options(
            options, value=self.manage_user.value if self.manage_user.value in options else None
        )

    async def create_user(self) -> None:
        ok, _ = await attempt(
            self.ctx,
            accounts.create_user,
            self.system.uow,
            self.new_username.value or "",
            self.new_password.value or "",
            self.new_role.value,
            self.system.now(),
        )
        if ok:
            self.new_username.value = ""
            self.new_password.value = ""
            ui.notify(self.t("settings.saved"), type="positive")
            await self.load_users()

    def chosen_user(self) -> int | None:
        if self.manage_user.value is None:
            ui.notify(self.t("settings.users.user"), type="warning")
        return self.manage_user.value

    def is_self(self, user_id: int) -> bool:
        if self.ctx.principal is not None and user_id == self.ctx.principal.id:
            ui.notify(self.t("settings.users.not_yourself"), type="warning")
            return True
        return False

    async def change_role(self) -> None:
        user_id = self.chosen_user()
        if user_id is None or (self.manage_role.value != "manager" and self.is_self(user_id)):
            return
        await self.update_user(user_id, role=self.manage_role.value)

    async def set_active(self, active: bool) -> None:
        user_id = self.chosen_user()
        if user_id is None or (not active and self.is_self(user_id)):
            return
        await self.update_user(user_id, active=active)

    async def do_reset_password(self) -> None:
        user_id = self.chosen_user()
        if user_id is None:
            return
        if await self.update_user(user_id, password=self.reset_password.value or ""):
            self.reset_password.value = ""

    async def update_user(self, user_id: int, **changes: Any) -> bool:
        ok, _ = await attempt(self.ctx, accounts.update_user, self.system.uow, user_id, **changes)
        if ok:
            ui.notify(self.t("settings.saved"), type="positive")
            await self.load_users()
        return ok

    async def create_token(self) -> None:
        user_id = self.chosen_user()
        if user_id is None:
            return
        name = (self.token_name.value or "").strip() or "api"
        ok, token = await attempt(self.ctx, accounts.create_token, self.system.uow, user_id, name, self.system.now())
        if not ok:
            return
        self.token_name.value = ""
        username = next((u["username"] for u in self.users if u["id"] == user_id), "")
        with ui.dialog() as dialog, ui.card().classes("p-4 gap-2 w-[36rem]"):
            ui.label(self.t("settings.users.token_title", user=username)).classes("text-base font-semibold")
            ui.label(self.t("settings.users.token_once")).classes("text-warning text-sm")
            ui.input(value=token).props("dense outlined readonly").classes("w-full font-mono").mark("token-value")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(
                    self.t("settings.users.copy"), icon="content_copy", on_click=lambda: ui.clipboard.write(token)
                ).props("flat dense")
                ui.button(self.t("settings.users.close"), on_click=dialog.close).props("unelevated dense color=primary")
        dialog.on("hide", dialog.delete)  # the token leaves the page with the dialog
        dialog.open()
