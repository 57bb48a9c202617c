"""Scaled out: two web processes and one worker on PostgreSQL and RabbitMQ. A booking paid through
one web process shows ``confirmed`` live on a dashboard served by the other (DESIGN.md section 6,
"Live dashboard"; issue 4)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, need
from tests.support import WorkerProcess, create_pg_database, create_vhost, start_app
from tests.test_browser import browser, sign_in  # noqa: F401 (the Chromium fixture)

PASSWORD = "scaled-password-1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        database_url, drop = create_pg_database(PG_ADMIN_URL)
    except Exception as error:  # noqa: BLE001
        need(f"PostgreSQL not reachable: {error}")
    try:
        amqp_url, delete_vhost = create_vhost()
    except Exception as error:  # noqa: BLE001
        drop()
        need(f"RabbitMQ (rabbitmqctl) not available: {error}")
    shared = {
        "amqp_url": amqp_url,
        "admin_password": PASSWORD,
        "storage_secret": "scaled-test-storage-secret",
        "sandbox_webhook_secret": "whsec_c2NhbGVkdGVzdHNlY3JldHNjYWxlZHRlc3Q=",
        "integration_webhook_secret": "whsec_c2NhbGVkdGVzdHNlY3JldHNjYWxlZHRlc3Q=",
        "background": "0",
    }
    first = start_app(tmp_path_factory.mktemp("web-a"), database_url, **shared)
    second = start_app(tmp_path_factory.mktemp("web-b"), database_url, **shared)
    worker_dir = tmp_path_factory.mktemp("worker")
    worker_env = {f"BOOKING_{k.upper()}": v for k, v in shared.items()}
    worker_env.update(
        {"BOOKING_DATABASE_URL": database_url, "BOOKING_DATA_DIR": str(worker_dir), "BOOKING_BACKGROUND": "1"}
    )
    worker = WorkerProcess(env=worker_env, data_dir=worker_dir).start()
    yield first, second, worker
    for process in (first, second, worker):
        process.stop()
    delete_vhost()
    drop()


def test_a_payment_through_one_web_process_shows_live_on_the_other(browser, cluster):  # noqa: F811
    first, second, _worker = cluster
    day = date.today() + timedelta(days=1)
    with httpx.Client(base_url=first.url, timeout=10) as client:
        slots = client.get("/api/availability", params={"resource_id": 4, "from": day, "to": day}).json()["slots"]
        start = next(slot["start"] for slot in slots if slot["available"])
        booking = client.post(
            "/api/bookings",
            json={"resource_id": 4, "start": start, "customer": {"name": "Scaled", "phone": "+4930123"}},
        ).json()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, second, PASSWORD)
    page.goto(f"{second.url}/bookings/{booking['id']}")
    page.get_by_text("pending payment").first.wait_for(timeout=15_000)

    with httpx.Client(base_url=first.url, timeout=10) as client:
        payment = client.post("/api/payments", json={"booking_id": booking["id"]}).json()
        assert payment["redirect_url"].startswith(first.url)
        click = client.post(payment["redirect_url"], json={"outcome": "succeeded"})
        assert click.status_code == 303

    # Web process B never handled this payment: the event reached its screen through RabbitMQ.
    page.get_by_text("confirmed", exact=True).first.wait_for(timeout=15_000)
    with httpx.Client(base_url=second.url, timeout=10) as client:
        assert client.get(f"/api/bookings/{booking['id']}").json()["status"] == "confirmed"
    context.close()
