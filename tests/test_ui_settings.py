"""``/settings`` (managers only), through NiceGUI's simulated user: the refusal for staff, a
resource with hours that becomes bookable, the endpoint address guard, and a new staff account."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from nicegui import app, ui
from nicegui.testing import User

from components.frame import PageContext
from components.i18n import translator
from domain.accounts import authenticate
from domain.bookings import get_availability
from domain.resources import create_resource, list_resources_with_hours
from integrations.endpoints import list_endpoints
from pages.settings import attempt
from tests.ui_support import STAFF_PASSWORD, add_staff, sign_in


def element(user: User, marker: str) -> ui.element:
    [found] = user.find(marker=marker).elements
    return found


async def until(condition, timeout: float = 10.0) -> None:
    """Wait (on the event loop, so page handlers run) until ``condition()`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_staff_get_the_refusal_and_their_actions_are_refused_server_side(desk_env, user: User):
    add_staff(user)
    await sign_in(user, "frontdesk", STAFF_PASSWORD)
    await user.open("/settings")
    await user.should_see(marker="forbidden")
    await user.should_not_see(marker="add-resource")

    system = app.state.system
    staff = authenticate(system.uow, "frontdesk", STAFF_PASSWORD, system.now())
    with user.client:  # a forged settings action from a staff page context
        ok, _ = await attempt(
            PageContext(system, staff, "en", translator("en")),
            create_resource,
            system.uow,
            name="Sneaky",
            timezone="UTC",
            slot_minutes=60,
            price="1",
            currency="EUR",
        )
    assert ok is False
    assert all(r["name"] != "Sneaky" for r in list_resources_with_hours(system.uow))


async def test_manager_adds_a_resource_with_hours_and_it_becomes_bookable(desk_env, user: User):
    await sign_in(user)
    await user.open("/settings")
    user.find(marker="add-resource").click()
    user.find(marker="res-name").type("Sauna")
    element(user, "res-timezone").value = "Europe/Moscow"
    element(user, "res-slot").value = 30
    element(user, "res-price").value = "1,500.50"
    element(user, "res-currency").value = "rub"
    user.find(marker="res-save").click()
    system = app.state.system
    await until(lambda: any(r["name"] == "Sauna" for r in list_resources_with_hours(system.uow)))
    [sauna] = [r for r in list_resources_with_hours(system.uow) if r["name"] == "Sauna"]
    assert sauna["price"] == {"amount": 150050, "currency": "RUB"}
    assert sauna["slot_minutes"] == 30 and sauna["timezone"] == "Europe/Moscow"

    user.find(marker="tab-hours").click()
    element(user, "hours-resource").value = sauna["id"]
    for weekday in range(7):
        element(user, f"hours-{weekday}").value = "09:00-10:30"
    element(user, "hours-6").value = "12:00-11:00"  # refused: closes before it opens
    user.find(marker="hours-save").click()
    await until(lambda: element(user, "hours-6").props.get("error") is True)
    await user.should_see("opening must be before closing")
    element(user, "hours-6").value = ""  # closed on Sundays
    user.find(marker="hours-save").click()

    def saved_hours() -> dict:
        return next(r for r in list_resources_with_hours(system.uow) if r["id"] == sauna["id"])["hours"]

    await until(lambda: saved_hours()[0] == [{"opens": "09:00", "closes": "10:30"}])
    assert saved_hours()[6] == []

    now = system.now()
    days = [now.date() + timedelta(days=n) for n in range(1, 8)]
    slots = [slot for _, slot in get_availability(system.uow, sauna["id"], days[0], days[-1], now)]
    assert {slot.start.strftime("%H:%M") for slot in slots} == {"09:00", "09:30", "10:00"}
    assert all(slot.start.weekday() != 6 for slot in slots) and len(slots) == 6 * 3


async def test_endpoints_on_loopback_or_private_addresses_are_refused_with_a_message(desk_env, user: User):
    await sign_in(user)
    await user.open("/settings")
    user.find(marker="tab-endpoints").click()
    for url, address in (("http://127.0.0.1:9000/hook", "127.0.0.1"), ("https://10.0.0.1/hook", "10.0.0.1")):
        element(user, "endpoint-url").value = url
        user.find(marker="endpoint-add").click()
        message = f"resolves to {address}, which is not a public address"
        await until(lambda message=message: message in element(user, "endpoint-error").text)
    assert list_endpoints(app.state.system.uow) == []


async def test_manager_creates_a_staff_user_who_can_then_sign_in(desk_env, user: User):
    await sign_in(user)
    await user.open("/settings")
    user.find(marker="tab-users").click()
    user.find(marker="user-name").type("maria")
    user.find(marker="user-password").type("maria-password-1")
    assert element(user, "user-role").value == "staff"
    user.find(marker="user-create").click()
    users = element(user, "users")
    await until(lambda: any(row["username"] == "maria" for row in users.rows))

    answer = await user.http_client.post("/api/session", json={"username": "maria", "password": "maria-password-1"})
    assert answer.status_code == 200, answer.text
    await user.open("/settings")
    await user.should_see(marker="forbidden")  # maria is front desk, not a manager


async def test_settings_events_and_notifications_speak_russian(desk_env, user: User):
    from components.i18n import missing_keys
    from domain.accounts import update_user

    await sign_in(user)
    system = app.state.system
    admin = authenticate(system.uow, "admin", "admin-password-1", system.now())
    update_user(system.uow, admin.id, locale="ru")
    await user.open("/settings")
    await user.should_see("Часы работы")
    await user.open("/events")
    await user.should_see("Недоставленных нет")
    await user.open("/notifications")
    await user.should_see("Отправленные письма")
    assert not any(
        key.startswith(("settings.", "events.", "notifications.")) for keys in missing_keys().values() for key in keys
    )
