"""The bookings table shared by the overview and the bookings screen: columns, rows from booking
views (times in each resource's timezone, money in the page's locale) and a status chip slot.

A row click navigates to the booking's detail page ``/bookings/{id}``.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components import format as fmt
from components.frame import STATUS_COLORS, PageContext
from components.i18n import register

register(
    {
        "en": {
            "bookings.col.start": "Start",
            "bookings.col.resource": "Resource",
            "bookings.col.customer": "Customer",
            "bookings.col.contact": "Contact",
            "bookings.col.price": "Price",
            "bookings.col.status": "Status",
            "bookings.col.id": "Booking",
            "bookings.col.created": "Created",
            "bookings.empty": "No bookings match.",
        },
        "ru": {
            "bookings.col.start": "Начало",
            "bookings.col.resource": "Ресурс",
            "bookings.col.customer": "Клиент",
            "bookings.col.contact": "Контакт",
            "bookings.col.price": "Цена",
            "bookings.col.status": "Статус",
            "bookings.col.id": "Бронь",
            "bookings.col.created": "Создана",
            "bookings.empty": "Нет подходящих броней.",
        },
    }
)

STATUS_SLOT = """
<q-td :props="props">
  <q-badge outline :color="props.row.status_color" :label="props.row.status_label" />
</q-td>
"""

ID_SLOT = """
<q-td :props="props"><span class="font-mono text-xs">{{ props.value.slice(0, 8) }}</span></q-td>
"""


def booking_columns(ctx: PageContext, *, compact: bool = False) -> list[dict[str, Any]]:
    """Quasar column definitions; ``compact`` drops the contact and id columns (overview)."""
    names = ["start", "resource", "customer", "contact", "price", "status", "created", "id"]
    if compact:
        names = ["start", "resource", "customer", "price", "status", "created"]
    right = {"price"}
    return [
        {
            "name": name,
            "label": ctx.t(f"bookings.col.{name}"),
            "field": name,
            "align": "right" if name in right else "left",
        }
        for name in names
    ]


def booking_rows(ctx: PageContext, bookings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per booking view: start in the resource's timezone (with the zone's name when it
    differs from the business's), created time in the business's timezone."""
    business_zone = ctx.system.settings.timezone
    rows = []
    for booking in bookings:
        zone = booking["timezone"]
        start = f"{fmt.day(booking['start'], zone, ctx.locale)} {fmt.clock_time(booking['start'], zone, ctx.locale)}"
        start += f"–{fmt.clock_time(booking['end'], zone, ctx.locale)}"
        if zone != business_zone:
            start += f" ({zone})"
        customer = booking["customer"]
        rows.append(
            {
                "id": booking["id"],
                "start": start,
                "resource": booking["resource_name"],
                "customer": customer["name"],
                "contact": " · ".join(value for value in (customer.get("email"), customer.get("phone")) if value),
                "price": fmt.money_of(booking["price"], ctx.locale),
                "status": booking["status"],
                "status_label": ctx.t(f"status.{booking['status']}"),
                "status_color": STATUS_COLORS.get(booking["status"], "primary"),
                "created": fmt.date_time(booking["created_at"], business_zone, ctx.locale),
            }
        )
    return rows


def booking_table(ctx: PageContext, *, compact: bool = False, pagination: int | dict | None = None) -> ui.table:
    """A dense table of bookings (fill ``rows`` with ``booking_rows``); a row click opens the detail.

    ``pagination`` as for ``ui.table`` (``None`` hides the pager; a dict with ``rowsNumber`` makes
    Quasar page on the server: it then emits ``request`` instead of slicing rows itself)."""
    table = ui.table(columns=booking_columns(ctx, compact=compact), rows=[], row_key="id", pagination=pagination)
    table.props(f'dense flat bordered no-data-label="{ctx.t("bookings.empty")}"').classes("w-full cursor-pointer")
    table.add_slot("body-cell-status", STATUS_SLOT)
    if not compact:
        table.add_slot("body-cell-id", ID_SLOT)
    table.on("row-click", lambda event: ui.navigate.to(f"/bookings/{event.args[1]['id']}"))
    return table
