"""``/notifications``: the log of mails the Notification Service sent (staff), newest first,
searchable by recipient.

A mail is logged after its event is published (the notification consumer runs then), so an event
marks the log stale and a light timer re-reads it while it is stale, instead of polling for ever.
"""

from __future__ import annotations

import time

from fastapi import Request
from nicegui import run, ui

from components.format import date_time
from components.frame import PageContext, frame, open_page
from components.i18n import register
from notifications.queries import list_mails
from system import System

STALE_SECONDS = 10.0
"""How long after an event the log keeps re-reading (the mail is usually logged within a second)."""

register(
    {
        "en": {
            "notifications.title": "Mails sent",
            "notifications.search": "Search by recipient",
            "notifications.empty": "No mail sent yet.",
            "notifications.count": "{count} shown, newest first. Times in {zone}.",
            "notifications.col.time": "Sent",
            "notifications.col.recipient": "Recipient",
            "notifications.col.subject": "Subject",
            "notifications.col.template": "Template",
            "notifications.col.locale": "Language",
            "notifications.col.backend": "Channel",
            "notifications.col.booking": "Booking",
            "notifications.backend.file": "file",
            "notifications.backend.smtp": "SMTP",
        },
        "ru": {
            "notifications.title": "Отправленные письма",
            "notifications.search": "Поиск по получателю",
            "notifications.empty": "Писем пока не было.",
            "notifications.count": "Показано: {count}, сначала новые. Время: {zone}.",
            "notifications.col.time": "Отправлено",
            "notifications.col.recipient": "Получатель",
            "notifications.col.subject": "Тема",
            "notifications.col.template": "Шаблон",
            "notifications.col.locale": "Язык",
            "notifications.col.backend": "Канал",
            "notifications.col.booking": "Бронь",
            "notifications.backend.file": "файл",
            "notifications.backend.smtp": "SMTP",
        },
    }
)

COLUMNS = ("time", "recipient", "subject", "template", "locale", "backend", "booking")

BOOKING_LINK_SLOT = """
<q-td :props="props">
  <a v-if="props.value" :href="'/bookings/' + props.value" class="text-primary font-mono"
     >{{ props.value.slice(0, 8) }}</a>
</q-td>
"""


def mail_rows(ctx: PageContext, mails: list[dict]) -> list[dict]:
    """Table rows: the send time in the business timezone, the channel in the page's language."""
    zone = ctx.system.settings.timezone
    return [
        {
            "id": m["id"],
            "time": date_time(m["created_at"], zone, ctx.locale, fmt="medium"),
            "recipient": m["recipient"],
            "subject": m["subject"],
            "template": m["template"],
            "locale": m["locale"],
            "backend": ctx.t(f"notifications.backend.{m['backend']}"),
            "booking": m["booking_id"],
        }
        for m in mails
    ]


def register(system: System) -> None:
    @ui.page("/notifications")
    async def notifications_page(request: Request) -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        with frame(ctx, "nav.notifications", active="/notifications"):
            await build(ctx)


async def build(ctx: PageContext) -> None:
    system = ctx.system
    state = {"stale_until": 0.0, "running": False, "again": False}

    with ui.card().classes("bd-card w-full p-3 gap-2"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(ctx.t("notifications.title")).classes("text-base font-semibold")
            count = ui.label().classes("bd-muted").mark("mail-count")
            ui.space()
            search = (
                ui.input(ctx.t("notifications.search"))
                .props("dense outlined clearable debounce=300")
                .classes("w-72")
                .mark("search")
            )
            with search.add_slot("prepend"):
                ui.icon("search")
        table = (
            ui.table(
                columns=[
                    {"name": c, "label": ctx.t(f"notifications.col.{c}"), "field": c, "align": "left"} for c in COLUMNS
                ],
                rows=[],
                row_key="id",
                pagination=50,
            )
            .props(f'dense flat bordered no-data-label="{ctx.t("notifications.empty")}"')
            .classes("w-full")
            .mark("mails")
        )
        table.add_slot("body-cell-booking", BOOKING_LINK_SLOT)

    async def refresh(*_args) -> None:
        """Re-read the log; calls arriving meanwhile coalesce into one more pass."""
        if state["running"]:
            state["again"] = True
            return
        state["running"] = True
        try:
            while True:
                state["again"] = False
                mails = await run.io_bound(list_mails, system.uow, recipient=search.value or None, limit=500)
                if mails is None:  # app shutting down
                    return
                table.rows = mail_rows(ctx, mails)
                table.update()
                count.set_text(ctx.t("notifications.count", count=len(mails), zone=system.settings.timezone))
                if not state["again"]:
                    return
        finally:
            state["running"] = False

    async def on_event(_event) -> None:
        state["stale_until"] = time.monotonic() + STALE_SECONDS
        await refresh()

    async def tick() -> None:
        if time.monotonic() < state["stale_until"]:
            await refresh()

    search.on_value_change(refresh)
    system.live.subscribe(on_event)
    ui.timer(1.0, tick)
    await refresh()
