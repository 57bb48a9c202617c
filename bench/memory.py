"""Memory per client: does the web process stay flat?

Starts the app as its own process (SQLite in a temporary folder, background work on), signs in,
and measures the process's resident set size (VmRSS from /proc) around two loads:

1. two rounds of 1,000 plain GETs of a staff page by a client that never connects the page's
   websocket (the app builds no screen for it and prunes its client 25 s after creation);
2. 200 page opens and closes in real Chromium (Playwright driving /usr/bin/chromium).

It prints each reading, the growth against the baseline in MiB and as a ratio. Run it with
``.venv/bin/python bench/memory.py [/page]`` (default ``/bookings``; about four minutes); it is not
part of the test suite.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import start_app  # noqa: E402

PASSWORD = "bench-password-1"
CHROMIUM = "/usr/bin/chromium"
PRUNE_WAIT_SECONDS = 40  # the app prunes never-connected clients 25 s after creation, every 5 s


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def report(label: str, value: float, baseline: float) -> None:
    print(f"{label:<44} {value:8.1f} MiB   growth {value - baseline:+7.1f} MiB   ratio {value / baseline:5.3f}")


def main(path: str = "/bookings") -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    app = start_app(folder, f"sqlite:///{folder}/booking.db", admin_password=PASSWORD)
    pid = app.process.pid
    try:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            assert client.post("/api/session", json={"username": "admin", "password": PASSWORD}).status_code == 200
            for _ in range(50):  # warm up imports, caches and the connection pool
                client.get(path)
            time.sleep(2)
            baseline = rss_mib(pid)
            print(f"{'baseline (after 50 warm-up GETs)':<44} {baseline:8.1f} MiB")

            after_rounds = []
            for round_number in (1, 2):
                started = time.monotonic()
                for _ in range(1000):
                    assert client.get(path).status_code == 200
                took = time.monotonic() - started
                report(f"round {round_number}: right after 1,000 GETs ({took:.0f} s)", rss_mib(pid), baseline)
                time.sleep(PRUNE_WAIT_SECONDS)
                after_rounds.append(rss_mib(pid))
                report(
                    f"round {round_number}: {PRUNE_WAIT_SECONDS} s later (clients pruned)", after_rounds[-1], baseline
                )
                print("   diagnostics:", client.get("/api/diagnostics").json())
            print(f"growth from the second 1,000 GETs: {after_rounds[1] - after_rounds[0]:+.1f} MiB")

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{app.url}/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{app.url}/", timeout=30_000)
            page.close()
            before_opens = rss_mib(pid)
            started = time.monotonic()
            for _ in range(200):
                page = context.new_page()
                page.goto(f"{app.url}{path}")
                page.wait_for_selector(".q-header", timeout=30_000)
                page.wait_for_function("window.socket && window.socket.connected", timeout=30_000)
                page.close()
            print(f"200 page opens and closes took {time.monotonic() - started:.1f} s")
            browser.close()
        time.sleep(10)  # disconnected clients are deleted after reconnect_timeout (3 s)
        after_opens = rss_mib(pid)
        report("after 200 page opens and closes", after_opens, baseline)
        with httpx.Client(base_url=app.url, timeout=30) as client:
            client.post("/api/session", json={"username": "admin", "password": PASSWORD})
            print("diagnostics:", client.get("/api/diagnostics").json())
        print(f"growth over the 200 opens alone: {after_opens - before_opens:+.1f} MiB")
    finally:
        app.stop()


if __name__ == "__main__":
    main(*sys.argv[1:2])
