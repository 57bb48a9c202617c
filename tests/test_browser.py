"""The main path in real Chromium (Playwright driving Debian's /usr/bin/chromium) against the app
started as its own process: sign in, book a walk-in from the availability grid, pay on the
sandbox's hosted page in a second tab, and see ``confirmed`` appear without a reload. Every screen
is saved as a screenshot, in English and in Russian, under ``test-artifacts/screenshots``."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import need
from tests.support import ROOT, AppProcess, start_app

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-password-1"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENS = [
    ("overview", "/"),
    ("availability-day", "/availability?day={day}"),
    ("availability-week", "/availability?day={day}&view=week"),
    ("new-booking", "/bookings/new"),
    ("bookings", "/bookings"),
    ("booking-detail", "/bookings/{booking_id}"),
    ("payments", "/payments"),
    ("events", "/events"),
    ("notifications", "/notifications"),
    ("settings", "/settings"),
    ("kiosk", "/kiosk"),
]


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        need(f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> AppProcess:
    folder = tmp_path_factory.mktemp("browser")
    process = start_app(
        folder,
        f"sqlite:///{folder}/booking.db",
        admin_password=PASSWORD,
        retry_delays_seconds="0.2",
        reconcile_after_seconds="5",
        reconcile_interval_seconds="2",
    )
    yield process
    process.stop()


def sign_in(page, desk: AppProcess, password: str = PASSWORD) -> None:
    page.goto(f"{desk.url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{desk.url}/", timeout=20_000)


def shot(page, locale: str, name: str) -> Path:
    folder = SHOTS / locale
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_walk_in_booked_from_the_grid_and_paid_turns_confirmed_without_reload(browser, desk: AppProcess):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    sign_in(page, desk)
    day = date.today() + timedelta(days=1)
    page.goto(f"{desk.url}/availability?day={day.isoformat()}")
    page.get_by_text("Studio Berlin (24/7)").first.wait_for()
    page.get_by_role("button", name="10:00").last.click()  # the Berlin column is the last one

    page.get_by_role("button", name="Next").first.click()
    page.get_by_label("Name").fill("Walk-in Wanda")
    page.get_by_label("Email").fill("wanda@example.test")
    page.get_by_role("button", name="Next").nth(1).click()
    page.get_by_role("button", name="Book and create payment link").click()
    link = page.locator("a.font-mono").first
    link.wait_for(timeout=15_000)
    pay_url = link.get_attribute("href")
    assert pay_url.startswith(f"{desk.url}/pay/")
    booking_id = pay_url.rsplit("/", 1)[1]
    page.get_by_text("pending payment").first.wait_for()

    checkout = context.new_page()
    checkout.goto(pay_url)  # /pay/{id} redirects to the sandbox's hosted page
    assert "/sandbox/checkout/" in checkout.url
    checkout.click("button.pay")
    checkout.wait_for_url("**/payments/*/return", timeout=15_000)

    # The wizard page, never reloaded, shows the booking confirmed once the webhook has landed.
    page.get_by_text("confirmed", exact=True).first.wait_for(timeout=10_000)
    shot(page, "en", "new-booking-confirmed")

    detail = context.new_page()
    detail.goto(f"{desk.url}/bookings/{booking_id}")
    detail.get_by_text("Payment succeeded").first.wait_for(timeout=10_000)
    detail.get_by_text("Booking confirmed").first.wait_for()
    context.close()


def test_every_screen_in_both_languages_is_saved_as_a_screenshot(browser, desk: AppProcess):
    import httpx

    day = date.today() + timedelta(days=2)
    with httpx.Client(base_url=desk.url, timeout=10) as client:
        slots = client.get("/api/availability", params={"resource_id": 4, "from": day, "to": day}).json()["slots"]
        booking = client.post(
            "/api/bookings",
            json={
                "resource_id": 4,
                "start": slots[20]["start"],
                "customer": {"name": "Ivan", "phone": "+7 999 1234567"},
            },
        ).json()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, desk)
    saved = []
    for locale in ("en", "ru"):
        if locale == "ru":
            page.goto(f"{desk.url}/")
            page.get_by_text("Русский", exact=False).first.click()
            page.get_by_text("Обзор").first.wait_for(timeout=10_000)
        for name, path in SCREENS:
            page.goto(desk.url + path.format(day=day.isoformat(), booking_id=booking["id"]))
            # Screens are built once the websocket connects: wait for the frame (the kiosk has none).
            page.locator(
                ".q-btn-group, .q-btn-toggle" if name == "kiosk" else ".q-header .q-toggle, .q-header a"
            ).first.wait_for(timeout=15_000)
            page.wait_for_timeout(800)  # tables and charts fill in right after
            saved.append(shot(page, locale, name))
    page.goto(f"{desk.url}/")
    page.get_by_text("English", exact=False).first.click()
    page.get_by_text("Overview").first.wait_for(timeout=10_000)
    context.close()
    assert len(saved) == 2 * len(SCREENS)
    blank = [str(path) for path in saved if path.stat().st_size <= 10_000]
    assert not blank, f"screenshots that look empty: {blank}"


def test_kiosk_pay_now_takes_a_walk_in_to_the_providers_page(browser, desk: AppProcess):
    context = browser.new_context(viewport={"width": 1024, "height": 1300})
    page = context.new_page()
    page.goto(f"{desk.url}/kiosk")  # public: no sign-in
    page.get_by_text("Tennis court 1").first.click()
    page.get_by_role("button", name="Tomorrow").click()
    page.get_by_role("button", name="14:00").click()
    page.get_by_label("Name").fill("Kiosk Karl")
    page.get_by_label("Email").fill("karl@example.test")
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url("**/sandbox/checkout/**", timeout=15_000)
    assert "Sandbox payment page" in page.content()
    context.close()
