"""The slot grid: a resource's slots for a day (or a week of free-slot counts), in the resource's
own timezone and offset, for the availability screen, the booking wizard and the kiosk.

Data comes from ``domain.bookings.get_availability`` (free / taken / past) plus, for staff only,
``domain.occupancy.slot_holders`` (which booking holds a taken slot). ``load_slots`` is blocking:
call it with ``await run.io_bound(load_slots, ...)``.

Daylight saving time is shown as it is (domain/availability.py): on a spring-forward day the
missing local hour simply has no slots, on a fall-back day the repeated hour has two slots per
local time, one per offset. On such days every slot shows its offset and a divider marks the
clock change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from nicegui import ui

from components.format import day as format_day
from components.format import money_of
from components.frame import STATUS_COLORS
from components.i18n import register
from domain.bookings import get_availability
from domain.occupancy import active_resources, slot_holders
from domain.views import local_iso

register(
    {
        "en": {
            "slots.closed": "closed",
            "slots.none_free": "No free slots on this day.",
            "slots.clock_change": "clock change: UTC{before} → UTC{after}",
            "slots.free_count": "{free} free",
            "slots.of_total": "of {total}",
            "slots.resource": "Resource",
            "slots.per_slot": "{price} per {minutes} min",
            "slots.legend.free": "free",
            "slots.legend.taken": "taken (booking status colour)",
            "slots.legend.past": "past",
        },
        "ru": {
            "slots.closed": "закрыто",
            "slots.none_free": "На этот день свободных слотов нет.",
            "slots.clock_change": "перевод часов: UTC{before} → UTC{after}",
            "slots.free_count": "своб.: {free}",
            "slots.of_total": "из {total}",
            "slots.resource": "Ресурс",
            "slots.per_slot": "{price} за {minutes} мин",
            "slots.legend.free": "свободно",
            "slots.legend.taken": "занято (цвет — статус брони)",
            "slots.legend.past": "прошло",
        },
    }
)

FREE, TAKEN, PAST = "free", "taken", "past"


@dataclass(frozen=True)
class Cell:
    """One slot as the screens show it.

    ``start``/``end`` are RFC 3339 in the resource's own offset (what ``create_booking`` and the
    wizard's ``start`` query take); ``time`` is its local ``HH:mm`` and ``offset`` e.g. ``+01:00``;
    ``state`` is ``free``, ``taken`` or ``past``; ``holder`` (staff screens only) is
    ``{"booking_id", "status", "customer_name"}`` of the booking holding it.
    """

    resource_id: int
    key: str
    start: str
    end: str
    local_date: str
    time: str
    offset: str
    state: str
    holder: dict | None = None


@dataclass
class GridData:
    """Resources (``resource_view`` shapes, by id) and their cells by resource id, in real time order."""

    resources: list[dict]
    cells: dict[int, list[Cell]] = field(default_factory=dict)

    def keys(self) -> set[str]:
        return {cell.key for cells in self.cells.values() for cell in cells}


def slot_key(resource_id: int, start_utc: datetime) -> str:
    """A stable marker-safe key of a slot: ``<resource>-<UTC start as YYYYMMDDTHHMMZ>``."""
    return f"{resource_id}-{start_utc.astimezone(UTC):%Y%m%dT%H%MZ}"


def load_slots(
    uow, first: date, last: date, now: datetime, *, resource_id: int | None = None, holders: bool = True
) -> GridData:
    """Every active resource (or one) with its slots whose local dates fall in ``first..last``.

    ``holders=False`` skips the query of who holds taken slots (the kiosk shows no staff data).
    Raises what ``get_availability`` raises (``ValidationProblem``, ``NotFound``).
    """
    resources = active_resources(uow)
    if resource_id is not None:
        resources = [r for r in resources if r["id"] == resource_id]
    pairs = get_availability(uow, resource_id, first, last, now)
    held: dict = {}
    if holders and pairs:
        starts = [slot.start_utc for _, slot in pairs]
        ids = sorted({resource.id for resource, _ in pairs})
        held = slot_holders(uow, ids, min(starts), max(starts) + timedelta(minutes=1), now)
    data = GridData(resources=resources, cells={r["id"]: [] for r in resources})
    for resource, slot in pairs:
        holder = held.get((resource.id, slot.start_utc))
        state = PAST if slot.start < now else FREE if slot.available else TAKEN
        start = local_iso(slot.start, resource.timezone)
        data.cells.setdefault(resource.id, []).append(
            Cell(
                resource_id=resource.id,
                key=slot_key(resource.id, slot.start_utc),
                start=start,
                end=local_iso(slot.end, resource.timezone),
                local_date=start[:10],
                time=start[11:16],
                offset=start[-6:],
                state=state,
                holder=holder,
            )
        )
    return data


def wizard_url(cell: Cell) -> str:
    """``/bookings/new?resource_id=..&start=<RFC 3339>`` for a free cell (``+`` escaped)."""
    return "/bookings/new?" + urlencode({"resource_id": cell.resource_id, "start": cell.start})


def offsets_change(cells: list[Cell]) -> bool:
    """True on a day whose slots do not all share one UTC offset (a DST switch)."""
    return len({cell.offset for cell in cells}) > 1


def cell_text(cell: Cell, *, show_offset: bool, show_holder: bool = True) -> str:
    """``09:30``, ``02:30 +01:00`` on a DST day, plus `` · name`` of the holder on staff screens."""
    text = f"{cell.time} {cell.offset}" if show_offset else cell.time
    if show_holder and cell.holder:
        text += f" · {cell.holder['customer_name']}"
    return text


def style_cell(button: ui.button, cell: Cell) -> None:
    """Colour and enable a slot button for its state: free outlined, taken in its booking's status
    colour, past grey and disabled."""
    button.props(remove="outline unelevated flat color text-color")
    if cell.state == FREE:
        button.props("outline color=primary")
    elif cell.state == TAKEN:
        color = STATUS_COLORS.get(cell.holder["status"], "grey-7") if cell.holder else "grey-7"
        button.props(f"unelevated color={color} text-color=white")
    else:
        button.props("flat color=grey-5")
    button.set_enabled(cell.state != PAST)
    markers = ["slot", f"slot-{cell.state}", f"slot-{cell.key}"]
    if cell.holder:
        markers.append(f"holder-{cell.holder['booking_id']}")
    button.mark(*markers)


class SlotGrid:
    """Day view (one column per resource, slots down the side) and week view (free-slot counts per
    resource and day) of ``GridData``, updated in place when only states change.

    ``on_free(cell)`` runs for a click on a free slot, ``on_taken(cell)`` for a taken one (staff:
    open its booking), ``on_day(date)`` for a click on a week cell.
    """

    def __init__(
        self,
        t: Callable[..., str],
        locale: str,
        *,
        on_free: Callable[[Cell], object],
        on_taken: Callable[[Cell], object] | None = None,
        on_day: Callable[[date], object] | None = None,
    ) -> None:
        self.t, self.locale = t, locale
        self.on_free, self.on_taken, self.on_day = on_free, on_taken, on_day
        self.container = ui.column().classes("w-full gap-2")
        self._layout: tuple | None = None
        self._buttons: dict[str, tuple[ui.button, Cell, bool]] = {}
        self._week: dict[tuple[int, str], ui.button] = {}

    # ------------------------------------------------------------------ day

    def show_day(self, data: GridData, day: date) -> None:
        """Show ``data`` (one day) as columns of slot buttons; restyles in place if the same slots."""
        layout = ("day", day, tuple(r["id"] for r in data.resources), frozenset(data.keys()))
        if layout == self._layout:
            for cells in data.cells.values():
                for cell in cells:
                    button, _, show_offset = self._buttons[cell.key]
                    self._buttons[cell.key] = (button, cell, show_offset)
                    button.set_text(cell_text(cell, show_offset=show_offset))
                    style_cell(button, cell)
            return
        self._layout = layout
        self._buttons, self._week = {}, {}
        self.container.clear()
        with self.container:
            with ui.row().classes("w-full items-start gap-3 flex-nowrap overflow-x-auto"):
                for resource in data.resources:
                    self._day_column(resource, data.cells.get(resource["id"], []), day)

    def _day_column(self, resource: dict, cells: list[Cell], day: date) -> None:
        dst = offsets_change(cells)
        column = ui.column().classes("bd-card p-2 gap-1 grow basis-0 min-w-[180px] max-w-[280px]")
        with column.mark(f"column-{resource['id']}"):
            ui.label(resource["name"]).classes("font-medium leading-tight")
            zone = resource["timezone"]
            if cells:
                offsets = " → ".join(dict.fromkeys(cell.offset for cell in cells))
                ui.label(f"{zone} · UTC{offsets}").classes("bd-muted" + (" text-orange-9" if dst else ""))
            else:
                ui.label(zone).classes("bd-muted")
            price = money_of(resource["price"], self.locale)
            ui.label(self.t("slots.per_slot", price=price, minutes=resource["slot_minutes"])).classes("bd-muted")
            if not cells:
                ui.label(self.t("slots.closed")).classes("bd-muted italic mt-2")
                return
            with ui.column().classes("w-full gap-1 max-h-[66vh] overflow-y-auto pr-1"):
                previous: Cell | None = None
                for cell in cells:
                    if previous is not None and previous.offset != cell.offset:
                        ui.label(self.t("slots.clock_change", before=previous.offset, after=cell.offset)).classes(
                            "text-xs text-orange-9 border-t border-orange-300 w-full pt-1"
                        )
                    button = ui.button(cell_text(cell, show_offset=dst), color=None)
                    button.props("dense no-caps size=sm align=left").classes("w-full truncate")
                    button.on_click(lambda _e, key=cell.key: self._clicked(key))
                    style_cell(button, cell)
                    self._buttons[cell.key] = (button, cell, dst)
                    previous = cell

    def _clicked(self, key: str) -> None:
        _, cell, _ = self._buttons[key]
        if cell.state == FREE:
            self.on_free(cell)
        elif cell.state == TAKEN and cell.holder and self.on_taken is not None:
            self.on_taken(cell)

    # ------------------------------------------------------------------ week

    def show_week(self, data: GridData, days: list[date], today: date) -> None:
        """Per resource a row of free-slot counts for ``days``; a click on a day calls ``on_day``."""
        counts = {
            (resource["id"], d.isoformat()): _count(data.cells.get(resource["id"], []), d)
            for resource in data.resources
            for d in days
        }
        layout = ("week", tuple(days), tuple(r["id"] for r in data.resources))
        if layout == self._layout:
            for key, (free, total) in counts.items():
                self._style_week(self._week[key], free, total)
            return
        self._layout = layout
        self._buttons, self._week = {}, {}
        self.container.clear()
        with self.container, ui.grid(columns=f"minmax(160px, 1.4fr) repeat({len(days)}, minmax(90px, 1fr))"):
            ui.label(self.t("slots.resource")).classes("font-semibold text-sm self-end")
            for d in days:
                noon = datetime.combine(d, time(12), UTC)
                with ui.column().classes("gap-0 items-center" + (" text-primary font-semibold" if d == today else "")):
                    ui.label(format_day(noon, "UTC", self.locale, fmt="EEE")).classes("text-xs uppercase")
                    ui.label(format_day(noon, "UTC", self.locale, fmt="d MMM")).classes("text-sm")
            for resource in data.resources:
                with ui.column().classes("gap-0 justify-center"):
                    ui.label(resource["name"]).classes("text-sm font-medium leading-tight")
                    ui.label(resource["timezone"]).classes("bd-muted")
                for d in days:
                    free, total = counts[(resource["id"], d.isoformat())]
                    button = ui.button(color=None).props("dense no-caps").classes("w-full")
                    button.on_click(lambda _e, d=d: self.on_day and self.on_day(d))
                    button.mark(f"week-{resource['id']}-{d.isoformat()}")
                    self._style_week(button, free, total)
                    self._week[(resource["id"], d.isoformat())] = button

    def _style_week(self, button: ui.button, free: int, total: int) -> None:
        button.props(remove="outline unelevated flat color text-color")
        if total == 0:
            button.set_text(self.t("slots.closed"))
            button.props("flat color=grey-6")
        elif free == 0:
            button.set_text(f"0 {self.t('slots.of_total', total=total)}")
            button.props("flat color=grey-7")
        else:
            button.set_text(f"{self.t('slots.free_count', free=free)} {self.t('slots.of_total', total=total)}")
            button.props("outline color=primary")


def _count(cells: list[Cell], day: date) -> tuple[int, int]:
    """(free, total) slots of a resource on its local ``day``."""
    mine = [cell for cell in cells if cell.local_date == day.isoformat()]
    return sum(1 for cell in mine if cell.state == FREE), len(mine)


def legend(t: Callable[..., str]) -> None:
    """A one-line key to the slot colours."""
    with ui.row().classes("items-center gap-3 bd-muted"):
        for text_key, classes in (
            ("slots.legend.free", "border border-blue-700"),
            ("slots.legend.taken", "bg-orange-600"),
            ("slots.legend.past", "bg-gray-300"),
        ):
            with ui.row().classes("items-center gap-1"):
                ui.element("span").classes(f"inline-block w-3 h-3 rounded-sm {classes}")
                ui.label(t(text_key))


def free_slot_picker(
    cells: list[Cell],
    selected: str | None,
    on_pick: Callable[[Cell], object],
    t: Callable[..., str],
    *,
    big: bool = False,
) -> None:
    """Free slots of one resource and day as toggle-like buttons (wizard, kiosk); the one whose
    key is ``selected`` is filled. Shows a line saying so when there is none."""
    free = [cell for cell in cells if cell.state == FREE]
    if not free:
        ui.label(t("slots.none_free")).classes("bd-muted" + (" text-lg" if big else "")).mark("no-free-slots")
        return
    dst = offsets_change(cells)
    size = "min-w-[120px] text-lg py-3" if big else "min-w-[72px]"
    with ui.row().classes("gap-2" if big else "gap-1"):
        for cell in free:
            chosen = cell.key == selected
            button = ui.button(cell_text(cell, show_offset=dst, show_holder=False), color=None)
            button.props(("unelevated color=primary" if chosen else "outline color=primary") + " no-caps")
            if not big:
                button.props("dense")
            button.classes(size)
            button.on_click(lambda _e, cell=cell: on_pick(cell))
            button.mark("pick-slot", f"pick-{cell.key}", *(["pick-selected"] if chosen else []))
