"""``/payments``: recent payments with status, provider, amount, booking, times and failure
reason; payments flagged for staff (``attention``: paid but not kept, refund failed, amount
mismatch) come first and can be shown alone. Refreshed live on every payment or booking event
(debounced). A row click opens the booking.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from nicegui import run, ui

from components import format as fmt
from components.debounce import debounced
from components.frame import STATUS_COLORS, PageContext, frame, open_page
from components.i18n import register
from messaging.envelope import CloudEvent
from payment.queries import recent_payments
from payment.states import PaymentStatus
from system import System

register(
    {
        "en": {
            "payments.filter.status": "Status",
            "payments.filter.any_status": "Any status",
            "payments.filter.attention": "Needs attention only",
            "payments.count": "{count} payments (newest {limit}; flagged first)",
            "payments.attention_count": "{count} need attention",
            "payments.empty": "No payments match.",
            "payments.col.created": "Created",
            "payments.col.booking": "Booking",
            "payments.col.amount": "Amount",
            "payments.col.provider": "Provider",
            "payments.col.status": "Status",
            "payments.col.reason": "Failure reason",
            "payments.col.attention": "Attention",
            "payments.col.updated": "Updated",
        },
        "ru": {
            "payments.filter.status": "Статус",
            "payments.filter.any_status": "Любой статус",
            "payments.filter.attention": "Только требующие внимания",
            "payments.count": "Платежей: {count} (последние {limit}; сначала отмеченные)",
            "payments.attention_count": "Требуют внимания: {count}",
            "payments.empty": "Нет подходящих платежей.",
            "payments.col.created": "Создан",
            "payments.col.booking": "Бронь",
            "payments.col.amount": "Сумма",
            "payments.col.provider": "Провайдер",
            "payments.col.status": "Статус",
            "payments.col.reason": "Причина отказа",
            "payments.col.attention": "Внимание",
            "payments.col.updated": "Изменён",
        },
    }
)

LIMIT = 200
COLUMNS = ["created", "booking", "amount", "provider", "status", "reason", "attention", "updated"]

STATUS_SLOT = """
<q-td :props="props">
  <q-badge outline :color="props.row.status_color" :label="props.row.status_label" />
</q-td>
"""
ATTENTION_SLOT = """
<q-td :props="props" style="white-space: normal; max-width: 28rem">
  <div v-if="props.value" class="row no-wrap items-start text-negative">
    <q-icon name="warning" size="xs" class="q-mr-xs q-mt-xs" /><span>{{ props.value }}</span>
  </div>
</q-td>
"""
BOOKING_SLOT = """
<q-td :props="props">
  <div>{{ props.row.customer }}</div><div class="bd-muted">{{ props.row.resource }}</div>
</q-td>
"""


def payment_rows(ctx: PageContext, payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per item of ``payment.queries.recent_payments``; times in the business's timezone."""
    zone = ctx.system.settings.timezone
    return [
        {
            "id": payment["id"],
            "booking_id": payment["booking_id"],
            "created": fmt.date_time(payment["created_at"], zone, ctx.locale),
            "updated": fmt.date_time(payment["updated_at"], zone, ctx.locale),
            "booking": payment["booking"]["customer_name"],
            "customer": payment["booking"]["customer_name"],
            "resource": payment["booking"]["resource_name"],
            "amount": fmt.money_of(payment["amount"], ctx.locale),
            "provider": payment["provider"],
            "status": payment["status"],
            "status_label": ctx.t(f"status.{payment['status']}"),
            "status_color": STATUS_COLORS.get(payment["status"], "primary"),
            "reason": payment["failure_reason"] or "",
            "attention": payment["attention"] or "",
        }
        for payment in payments
    ]


def register(system: System) -> None:
    @ui.page("/payments", title="Booking Desk")
    async def payments(request: Request, attention: bool = False) -> None:
        ctx = await open_page(system, request)
        if ctx is None:  # no browser connected
            return
        filters: dict[str, Any] = {"status": None, "attention_only": attention}
        with frame(ctx, "nav.payments", active="/payments"):
            with ui.card().classes("bd-card p-3 w-full gap-2"):
                with ui.row().classes("w-full items-center gap-3"):
                    options = {"": ctx.t("payments.filter.any_status")}
                    options |= {status: ctx.t(f"status.{status}") for status in PaymentStatus}
                    status_select = (
                        ui.select(options, value="", label=ctx.t("payments.filter.status"))
                        .props("dense outlined options-dense")
                        .classes("w-44")
                        .mark("payments-status")
                    )
                    attention_switch = ui.switch(ctx.t("payments.filter.attention"), value=attention).mark(
                        "payments-attention"
                    )
                    ui.space()
                    flagged_label = ui.label().classes("text-sm text-negative font-medium").mark("payments-flagged")
                    count_label = ui.label().classes("bd-muted").mark("payments-count")
                table = ui.table(
                    columns=[
                        {
                            "name": name,
                            "label": ctx.t(f"payments.col.{name}"),
                            "field": name,
                            "align": "right" if name == "amount" else "left",
                        }
                        for name in COLUMNS
                    ],
                    rows=[],
                    row_key="id",
                    pagination=50,
                )
                table.props(f'dense flat bordered no-data-label="{ctx.t("payments.empty")}"')
                table.classes("w-full cursor-pointer").mark("payments-table")
                table.add_slot("body-cell-status", STATUS_SLOT)
                table.add_slot("body-cell-attention", ATTENTION_SLOT)
                table.add_slot("body-cell-booking", BOOKING_SLOT)
                table.on("row-click", lambda event: ui.navigate.to(f"/bookings/{event.args[1]['booking_id']}"))

        async def load() -> None:
            items = await run.io_bound(
                lambda: recent_payments(
                    system.uow, status=filters["status"], attention_only=filters["attention_only"], limit=LIMIT
                )
            )
            if items is None:  # shutting down
                return
            table.rows = payment_rows(ctx, items)
            table.update()
            flagged = sum(1 for item in items if item["attention"])
            flagged_label.set_text(ctx.t("payments.attention_count", count=flagged) if flagged else "")
            count_label.set_text(ctx.t("payments.count", count=len(items), limit=LIMIT))

        async def set_filter(name: str, value: Any) -> None:
            filters[name] = value
            await load()

        status_select.on_value_change(lambda e: set_filter("status", e.value or None))
        attention_switch.on_value_change(lambda e: set_filter("attention_only", bool(e.value)))
        refresh_soon = debounced(load)

        async def on_event(event: CloudEvent) -> None:
            if event.type.startswith(("payment.", "booking.")):
                await refresh_soon()

        system.live.subscribe(on_event)
        await load()
