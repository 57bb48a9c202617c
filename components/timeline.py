"""A booking's history as one timeline: its events (with each consumer's delivery), its payments,
the webhook receipts of those payments, and the mails sent about it.

``timeline_entries`` merges the read models into plain dicts (testable without a page);
``render_timeline`` draws them with Quasar's timeline, newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from components import format as fmt
from components.frame import STATUS_COLORS, PageContext
from components.i18n import register

register(
    {
        "en": {
            "timeline.title": "Timeline",
            "timeline.empty": "Nothing has happened to this booking yet.",
            "timeline.event.booking.created": "Booking created",
            "timeline.event.booking.confirmed": "Booking confirmed",
            "timeline.event.booking.expired": "Hold expired",
            "timeline.event.booking.cancelled": "Booking cancelled",
            "timeline.event.payment.succeeded": "Payment succeeded",
            "timeline.event.payment.failed": "Payment failed",
            "timeline.event.payment.refunded": "Payment refunded",
            "timeline.event.unpublished": "not published yet",
            "timeline.delivery": "{consumer}: {status}, attempts: {attempts}",
            "timeline.delivery.none": "no deliveries yet",
            "timeline.payment": "Payment started at {provider}: {amount}",
            "timeline.payment.reason": "Reason: {reason}",
            "timeline.payment.updated": "Last change: {time}",
            "timeline.payment.id": "Payment {id}",
            "timeline.webhook": "Webhook from {provider}: {outcome}",
            "timeline.webhook.verified": "signature verified",
            "timeline.webhook.unverified": "signature not verified",
            "timeline.mail": "Mail: {subject}",
            "timeline.mail.details": "to {recipient} · {template} · {language} · {backend}",
        },
        "ru": {
            "timeline.title": "История",
            "timeline.empty": "С этой бронью пока ничего не происходило.",
            "timeline.event.booking.created": "Бронь создана",
            "timeline.event.booking.confirmed": "Бронь подтверждена",
            "timeline.event.booking.expired": "Удержание истекло",
            "timeline.event.booking.cancelled": "Бронь отменена",
            "timeline.event.payment.succeeded": "Платёж прошёл",
            "timeline.event.payment.failed": "Платёж не прошёл",
            "timeline.event.payment.refunded": "Платёж возвращён",
            "timeline.event.unpublished": "ещё не опубликовано",
            "timeline.delivery": "{consumer}: {status}, попыток: {attempts}",
            "timeline.delivery.none": "доставок пока нет",
            "timeline.payment": "Платёж начат через {provider}: {amount}",
            "timeline.payment.reason": "Причина: {reason}",
            "timeline.payment.updated": "Последнее изменение: {time}",
            "timeline.payment.id": "Платёж {id}",
            "timeline.webhook": "Вебхук от {provider}: {outcome}",
            "timeline.webhook.verified": "подпись проверена",
            "timeline.webhook.unverified": "подпись не проверена",
            "timeline.mail": "Письмо: {subject}",
            "timeline.mail.details": "кому: {recipient} · {template} · {language} · {backend}",
        },
    }
)

EVENT_ICONS = {
    "booking.created": ("add_circle", "primary"),
    "booking.confirmed": ("check_circle", "positive"),
    "booking.expired": ("timer_off", "grey-7"),
    "booking.cancelled": ("cancel", "negative"),
    "payment.succeeded": ("paid", "positive"),
    "payment.failed": ("money_off", "negative"),
    "payment.refunded": ("undo", "purple-6"),
}
TIMELINE_CSS = """
.bd-timeline-entry .q-timeline__subtitle { margin-bottom: 2px; font-size: 0.72rem; letter-spacing: 0; }
.bd-timeline-entry .q-timeline__content { padding-bottom: 12px; }
.bd-timeline-entry .q-timeline__title { margin: 0; }
"""
OUTCOME_COLORS = {"applied": "positive", "duplicate": "grey-7", "ignored": "grey-7", "rejected": "negative"}


def timeline_entries(
    t: Callable[..., str],
    locale: str,
    timezone: str,
    *,
    events: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    mails: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Merge a booking's history into entries, newest first.

    Inputs are the read models: ``domain.reports.booking_events`` / ``booking_mails``,
    ``payment.queries.booking_payments`` (with ``receipts``) and
    ``messaging.ledger.list_deliveries(subject=...)``. Each entry is ``{"time": UTC "Z" text,
    "kind": "event" | "payment" | "webhook" | "mail", "icon", "color", "title", "status" (or
    None), "lines": [text], "attention": text or None, "when": time in ``timezone``}``.
    """
    by_event: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        by_event.setdefault(delivery["event_id"], []).append(delivery)
    entries: list[dict[str, Any]] = []
    for event in events:
        icon, color = EVENT_ICONS.get(event["type"], ("bolt", "primary"))
        lines = []
        for delivery in sorted(by_event.get(event["id"], []), key=lambda d: d["consumer"]):
            status = t(f"delivery.{delivery['status']}")
            consumer = t(f"consumer.{delivery['consumer']}")
            lines.append(t("timeline.delivery", consumer=consumer, status=status, attempts=delivery["attempts"]))
            if delivery.get("last_error"):
                lines.append(f"↳ {delivery['last_error']}")
        if event.get("published_at") is None:
            lines.append(t("timeline.event.unpublished"))
        elif not by_event.get(event["id"]):
            lines.append(t("timeline.delivery.none"))
        entries.append(_entry(event["time"], "event", icon, color, t(f"timeline.event.{event['type']}"), None, lines))
    for payment in payments:
        amount = fmt.money_of(payment["amount"], locale)
        lines = [t("timeline.payment.id", id=payment["id"])]
        if payment.get("failure_reason"):
            lines.append(t("timeline.payment.reason", reason=payment["failure_reason"]))
        if payment.get("updated_at") and payment["updated_at"] != payment["created_at"]:
            lines.append(t("timeline.payment.updated", time=fmt.date_time(payment["updated_at"], timezone, locale)))
        title = t("timeline.payment", provider=payment["provider"], amount=amount)
        entry = _entry(payment["created_at"], "payment", "credit_card", "primary", title, payment["status"], lines)
        entry["attention"] = payment.get("attention") or None
        entries.append(entry)
        for receipt in payment.get("receipts", []):
            verified = t("timeline.webhook.verified" if receipt["verified"] else "timeline.webhook.unverified")
            lines = [verified] + ([receipt["error"]] if receipt.get("error") else [])
            outcome = t(f"webhook.outcome.{receipt['outcome']}")
            title = t("timeline.webhook", provider=receipt["provider"], outcome=outcome)
            color = OUTCOME_COLORS.get(receipt["outcome"], "negative")
            entries.append(_entry(receipt["received_at"], "webhook", "webhook", color, title, None, lines))
    for mail in mails:
        details = t(
            "timeline.mail.details",
            recipient=mail["recipient"],
            template=mail["template"],
            language=mail["locale"],
            backend=mail["backend"],
        )
        title = t("timeline.mail", subject=mail["subject"])
        entries.append(
            _entry(mail["created_at"], "mail", "mail", "blue-grey-6", title, None, [details, mail["message_id"]])
        )
    # Ties (one transaction stages several events at one instant) keep their causal order:
    # payment started, webhook received, events in staging order, then the mails they caused.
    order = {"payment": 0, "webhook": 1, "event": 2, "mail": 3}
    ranked = sorted(enumerate(entries), key=lambda pair: (pair[1]["time"] or "", order[pair[1]["kind"]], pair[0]))
    entries = [entry for _, entry in reversed(ranked)]
    for entry in entries:
        entry["when"] = fmt.date_time(entry["time"], timezone, locale, fmt="medium") if entry["time"] else ""
    return entries


def _entry(time: str, kind: str, icon: str, color: str, title: str, status: str | None, lines: list[str]) -> dict:
    return {
        "time": time,
        "kind": kind,
        "icon": icon,
        "color": color,
        "title": title,
        "status": status,
        "lines": lines,
        "attention": None,
    }


def render_timeline(ctx: PageContext, entries: list[dict[str, Any]]) -> None:
    """Draw ``entries`` (from ``timeline_entries``) in the current container. The page adds
    ``TIMELINE_CSS`` once (``ui.add_css``), outside any refreshable part."""
    if not entries:
        ui.label(ctx.t("timeline.empty")).classes("bd-muted")
        return
    with ui.timeline(side="right", layout="dense").classes("w-full").mark("timeline"):
        for entry in entries:
            entry_element = ui.timeline_entry(icon=entry["icon"], color=entry["color"], subtitle=entry["when"])
            with entry_element.classes("bd-timeline-entry"), ui.column().classes("gap-0 pb-1"):
                with ui.row().classes("items-center gap-2"):
                    ui.label(entry["title"]).classes("font-medium")
                    if entry["status"]:
                        ui.badge(ctx.t(f"status.{entry['status']}"), color=STATUS_COLORS.get(entry["status"])).props(
                            "outline"
                        )
                if entry["attention"]:
                    with ui.row().classes("items-center gap-1 bg-red-1 text-negative rounded px-2 py-1"):
                        ui.icon("warning")
                        ui.label(entry["attention"]).classes("text-sm")
                for line in entry["lines"]:
                    ui.label(line).classes("bd-muted")
