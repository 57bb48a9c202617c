"""``/events``: events and dead letters (staff).

Three blocks, top to bottom: the dead letters (deliveries whose redeliveries are used up, with
their last error and, for managers only, a Replay button), the delivery ledger filtered by
status and consumer, and the recent outbox events. Every block re-reads when an event is
published (``system.live``), so a replayed or newly failed delivery shows without a reload.
Replay is refused server-side for staff too: the handler re-reads the user's role first.
"""

from __future__ import annotations

import logging

from fastapi import Request
from nicegui import run, ui

from components.format import date_time
from components.frame import STATUS_COLORS, PageContext, frame, open_page
from components.i18n import error_text, register
from domain.accounts import principal_by_id
from domain.errors import DomainError
from messaging.event_log import recent_events
from messaging.ledger import list_deliveries, replay_delivery
from system import System

log = logging.getLogger(__name__)

CONSUMERS = ("integration", "notification")
STATUS_FILTERS = ("all", "retrying", "dead")
DELIVERY_STATUSES = ("pending", "retrying", "succeeded", "dead")

register(
    {
        "en": {
            "events.dead.title": "Dead letters",
            "events.dead.none": "No dead letters: every event reached every consumer or is still being retried.",
            "events.dead.hint": "Redeliveries are used up. Fix the cause, then replay to start a fresh cycle.",
            "events.dead.replay": "Replay",
            "events.dead.replay_manager_only": "Only a manager can replay a dead letter.",
            "events.dead.replayed": "Delivery {id} queued again for {consumer}.",
            "events.ledger.title": "Delivery ledger",
            "events.filter.status": "Status",
            "events.filter.consumer": "Consumer",
            "events.filter.all": "all",
            "events.filter.retrying": "retrying",
            "events.filter.dead": "dead",
            "events.recent.title": "Recent events",
            "events.col.time": "Time",
            "events.col.type": "Event",
            "events.col.booking": "Booking",
            "events.col.published": "Published",
            "events.col.consumer": "Consumer",
            "events.col.status": "Status",
            "events.col.attempts": "Attempts",
            "events.col.next_attempt": "Next attempt",
            "events.col.last_error": "Last error",
            "events.not_published": "waiting",
            "events.times_in": "Times in {zone}.",
        },
        "ru": {
            "events.dead.title": "Недоставленные события",
            "events.dead.none": "Недоставленных нет: каждое событие дошло до всех получателей или ещё повторяется.",
            "events.dead.hint": "Повторы исчерпаны. Устраните причину и отправьте заново — начнётся новый цикл.",
            "events.dead.replay": "Отправить заново",
            "events.dead.replay_manager_only": "Отправить заново может только менеджер.",
            "events.dead.replayed": "Доставка {id} снова поставлена в очередь для получателя «{consumer}».",
            "events.ledger.title": "Журнал доставок",
            "events.filter.status": "Статус",
            "events.filter.consumer": "Получатель",
            "events.filter.all": "все",
            "events.filter.retrying": "повтор",
            "events.filter.dead": "не доставлено",
            "events.recent.title": "Последние события",
            "events.col.time": "Время",
            "events.col.type": "Событие",
            "events.col.booking": "Бронь",
            "events.col.published": "Опубликовано",
            "events.col.consumer": "Получатель",
            "events.col.status": "Статус",
            "events.col.attempts": "Попытки",
            "events.col.next_attempt": "Следующая попытка",
            "events.col.last_error": "Последняя ошибка",
            "events.not_published": "ожидает",
            "events.times_in": "Время: {zone}.",
        },
    }
)

BOOKING_LINK_SLOT = """
<q-td :props="props">
  <a v-if="props.value" :href="'/bookings/' + props.value" class="text-primary font-mono"
     >{{ props.value.slice(0, 8) }}</a>
</q-td>
"""
STATUS_SLOT = """
<q-td :props="props">
  <q-badge outline :color="props.row.status_color" :label="props.row.status_label" />
</q-td>
"""
ERROR_SLOT = """
<q-td :props="props">
  <div class="ellipsis text-negative" style="max-width: 420px" :title="props.value">{{ props.value }}</div>
</q-td>
"""


def _columns(ctx: PageContext, names: list[tuple[str, str]]) -> list[dict]:
    return [{"name": name, "label": ctx.t(f"events.col.{key}"), "field": name, "align": "left"} for name, key in names]


def delivery_rows(ctx: PageContext, deliveries: list[dict]) -> list[dict]:
    """Ledger rows for the table: times in the business timezone, labels in the page's language."""
    zone = ctx.system.settings.timezone
    return [
        {
            "id": d["id"],
            "time": date_time(d["event_time"], zone, ctx.locale, fmt="medium"),
            "type": d["event_type"],
            "subject": d["subject"],
            "consumer": ctx.t(f"consumer.{d['consumer']}"),
            "status": d["status"],
            "status_label": ctx.t(f"delivery.{d['status']}"),
            "status_color": STATUS_COLORS.get(d["status"], "primary"),
            "attempts": d["attempts"],
            "next_attempt": date_time(d["next_attempt_at"], zone, ctx.locale, fmt="medium"),
            "last_error": d["last_error"] or "",
        }
        for d in deliveries
    ]


def event_rows(ctx: PageContext, events: list[dict]) -> list[dict]:
    """Outbox rows for the table."""
    zone = ctx.system.settings.timezone
    return [
        {
            "id": e["id"],
            "time": date_time(e["time"], zone, ctx.locale, fmt="medium"),
            "type": e["type"],
            "subject": e["subject"],
            "published": date_time(e["published_at"], zone, ctx.locale, fmt="medium")
            if e["published_at"]
            else ctx.t("events.not_published"),
        }
        for e in events
    ]


async def replay(ctx: PageContext, delivery_id: int) -> bool:
    """Replay one dead delivery as the page's user. The role is read afresh from the database
    (a demoted or signed-out manager is refused), then ``replay_delivery`` and a wake-up of the
    transport. Returns True when the delivery was queued again; tells the user either way."""
    system = ctx.system
    principal = ctx.principal
    fresh = principal and await run.io_bound(principal_by_id, system.uow, principal.id, principal.session_version)
    if not fresh or not fresh.is_manager:
        log.warning("replay of delivery %s refused: %s is not a manager", delivery_id, principal and principal.username)
        ui.notify(ctx.t("events.dead.replay_manager_only"), type="negative")
        return False
    try:
        view = await run.io_bound(replay_delivery, system.uow, delivery_id, system.clock)
    except DomainError as error:
        ui.notify(error_text(ctx.locale, error), type="warning")
        return False
    system.events_committed()
    log.info("delivery %s replayed by %s", delivery_id, fresh.username)
    ui.notify(ctx.t("events.dead.replayed", id=delivery_id, consumer=view["consumer"]), type="positive")
    return True


def register(system: System) -> None:
    @ui.page("/events")
    async def events_page(request: Request) -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        with frame(ctx, "nav.events", active="/events"):
            await build(ctx)


async def build(ctx: PageContext) -> None:
    system = ctx.system
    filters = {"status": "all", "consumer": "all"}

    @ui.refreshable
    def dead_letters(dead: list[dict]) -> None:
        with ui.card().classes("bd-card w-full p-3 gap-2" + (" border-l-4 border-red-600" if dead else "")):
            with ui.row().classes("items-center gap-2"):
                ui.icon("report", color="negative" if dead else "grey-6").classes("text-xl")
                ui.label(ctx.t("events.dead.title")).classes("text-base font-semibold")
                ui.badge(str(len(dead)), color="negative" if dead else "grey-6").mark("dead-count")
            if not dead:
                ui.label(ctx.t("events.dead.none")).classes("bd-muted")
                return
            ui.label(ctx.t("events.dead.hint")).classes("bd-muted")
            for row in delivery_rows(ctx, dead):
                with ui.row().classes("w-full items-center gap-3 no-wrap border-t pt-1").mark(f"dead-{row['id']}"):
                    ui.label(row["time"]).classes("text-sm w-44 shrink-0")
                    ui.label(row["type"]).classes("text-sm font-mono w-40 shrink-0")
                    ui.label(row["consumer"]).classes("text-sm w-28 shrink-0")
                    if row["subject"]:
                        ui.link(row["subject"][:8], f"/bookings/{row['subject']}").classes("text-sm font-mono w-20")
                    ui.label(ctx.t("events.col.attempts") + f": {row['attempts']}").classes("bd-muted w-24 shrink-0")
                    ui.label(row["last_error"]).classes("text-sm text-negative ellipsis grow").tooltip(
                        row["last_error"]
                    )
                    if ctx.is_manager:
                        ui.button(
                            ctx.t("events.dead.replay"),
                            icon="replay",
                            on_click=lambda _e, delivery_id=row["id"]: on_replay(delivery_id),
                        ).props("dense unelevated color=negative size=sm").mark(f"replay-{row['id']}")

    async def on_replay(delivery_id: int) -> None:
        if await replay(ctx, delivery_id):
            await refresh()

    dead_letters([])

    with ui.card().classes("bd-card w-full p-3 gap-2"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(ctx.t("events.ledger.title")).classes("text-base font-semibold")
            ui.space()
            ui.select(
                {value: ctx.t(f"events.filter.{value}") for value in STATUS_FILTERS},
                value="all",
                label=ctx.t("events.filter.status"),
                on_change=lambda e: on_filter("status", e.value),
            ).props("dense outlined options-dense").classes("w-40").mark("filter-status")
            ui.select(
                {"all": ctx.t("events.filter.all")} | {c: ctx.t(f"consumer.{c}") for c in CONSUMERS},
                value="all",
                label=ctx.t("events.filter.consumer"),
                on_change=lambda e: on_filter("consumer", e.value),
            ).props("dense outlined options-dense").classes("w-40").mark("filter-consumer")
        ledger = (
            ui.table(
                columns=_columns(
                    ctx,
                    [
                        ("time", "time"),
                        ("type", "type"),
                        ("subject", "booking"),
                        ("consumer", "consumer"),
                        ("status", "status"),
                        ("attempts", "attempts"),
                        ("next_attempt", "next_attempt"),
                        ("last_error", "last_error"),
                    ],
                ),
                rows=[],
                row_key="id",
                pagination=25,
            )
            .props("dense flat bordered")
            .classes("w-full")
            .mark("ledger")
        )
        ledger.add_slot("body-cell-subject", BOOKING_LINK_SLOT)
        ledger.add_slot("body-cell-status", STATUS_SLOT)
        ledger.add_slot("body-cell-last_error", ERROR_SLOT)

    with ui.card().classes("bd-card w-full p-3 gap-2"):
        with ui.row().classes("w-full items-center"):
            ui.label(ctx.t("events.recent.title")).classes("text-base font-semibold")
            ui.space()
            ui.label(ctx.t("events.times_in", zone=system.settings.timezone)).classes("bd-muted")
        recent = (
            ui.table(
                columns=_columns(
                    ctx, [("time", "time"), ("type", "type"), ("subject", "booking"), ("published", "published")]
                ),
                rows=[],
                row_key="id",
                pagination=25,
            )
            .props("dense flat bordered")
            .classes("w-full")
            .mark("recent-events")
        )
        recent.add_slot("body-cell-subject", BOOKING_LINK_SLOT)

    state = {"running": False, "again": False}

    async def refresh(_event=None) -> None:
        """Re-read all three blocks; events arriving meanwhile coalesce into one more pass."""
        if state["running"]:
            state["again"] = True
            return
        state["running"] = True
        try:
            while True:
                state["again"] = False
                status = None if filters["status"] == "all" else filters["status"]
                consumer = None if filters["consumer"] == "all" else filters["consumer"]
                dead = await run.io_bound(list_deliveries, system.uow, status="dead", limit=200)
                rows = await run.io_bound(list_deliveries, system.uow, status=status, consumer=consumer, limit=500)
                events = await run.io_bound(recent_events, system.uow, limit=200)
                if dead is None or rows is None or events is None:  # app shutting down
                    return
                dead_letters.refresh(dead)
                ledger.rows = delivery_rows(ctx, rows)
                ledger.update()
                recent.rows = event_rows(ctx, events)
                recent.update()
                if not state["again"]:
                    return
        finally:
            state["running"] = False

    async def on_filter(key: str, value: str) -> None:
        filters[key] = value
        await refresh()

    system.live.subscribe(refresh)
    await refresh()
