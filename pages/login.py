"""``/login``: the sign-in screen. The form posts to ``POST /login`` (api/auth.py), which sets the
signed session cookie and redirects to ``next``; errors come back as ``?error=<code>``."""

from __future__ import annotations

from nicegui import ui

from api.auth import safe_next
from components.frame import CSS, wait_for_browser
from components.i18n import register, translator
from system import System

register(
    {
        "en": {
            "login.title": "Sign in",
            "login.username": "Username",
            "login.password": "Password",
            "login.submit": "Sign in",
            "login.invalid_credentials": "Wrong username or password.",
            "login.account_locked": "Too many failed attempts. The account is locked for a few minutes.",
            "login.hint": "Front desk and managers. Walk-in clients use the kiosk.",
        },
        "ru": {
            "login.title": "Вход",
            "login.username": "Имя пользователя",
            "login.password": "Пароль",
            "login.submit": "Войти",
            "login.invalid_credentials": "Неверное имя пользователя или пароль.",
            "login.account_locked": "Слишком много неудачных попыток. Учётная запись заблокирована на несколько минут.",
            "login.hint": "Для сотрудников стойки и менеджеров. Клиенты без записи — через киоск.",
        },
    }
)


def register(system: System) -> None:
    @ui.page("/login", title="Booking Desk")
    async def login(next: str = "/", error: str = "", username: str = "") -> None:  # noqa: A002
        if not await wait_for_browser():
            return
        t = translator(system.settings.locale)
        ui.add_head_html(CSS)
        with ui.column().classes("absolute-center items-center gap-4"):
            with ui.row().classes("items-center gap-2"):
                ui.icon("event_available").classes("text-4xl text-slate-700")
                ui.label(t("app.name")).classes("text-2xl font-semibold text-slate-800")
            with ui.card().classes("bd-card w-80 p-6"):
                ui.label(t("login.title")).classes("text-lg font-medium")
                if error in ("invalid_credentials", "account_locked"):
                    ui.label(t(f"login.{error}")).classes("text-negative text-sm").mark("login-error")
                with ui.element("form").props('method="post" action="/login"').classes("w-full column gap-2"):
                    ui.input(t("login.username"), value=username).props(
                        'name="username" autocomplete="username" autofocus outlined dense'
                    ).classes("w-full").mark("username")
                    ui.input(t("login.password"), password=True).props(
                        'name="password" autocomplete="current-password" outlined dense'
                    ).classes("w-full").mark("password")
                    hidden = ui.element("input").props('type="hidden" name="next"')
                    hidden._props["value"] = safe_next(next)
                    ui.button(t("login.submit")).props('type="submit" unelevated color="primary"').classes("w-full")
                ui.label(t("login.hint")).classes("bd-muted")
