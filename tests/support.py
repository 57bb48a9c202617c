"""Test support: the app as a real process on a free port, and a webhook receiver on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> object:
    """Poll ``condition`` until it returns something truthy; raise ``AssertionError`` on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition} (last: {last!r})")


def create_pg_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh PostgreSQL database; returns its SQLAlchemy URL and a function that drops it."""
    name = f"booking_app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", drop


def launch(arguments: list[str], settings: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``python app.py <arguments>`` with the machine's environment minus pytest's, NiceGUI's and
    any ``BOOKING_*`` variable, plus ``settings``; output goes to ``log_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "NICEGUI", "BOOKING_"))}
    env.update(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *arguments],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate ``process`` (SIGTERM, then SIGKILL after 10 s) if it still runs."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class AppProcess:
    """``python app.py`` started with ``env``; ``url`` is its base URL, ``data_dir`` its folder."""

    env: dict[str, str]
    data_dir: Path
    port: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 40.0) -> AppProcess:
        self.log_path = self.data_dir / "app.log"
        self.process = launch([], self.env, self.log_path)

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"app exited with {self.process.returncode}:\n{self.log()}")
            try:
                return httpx.get(f"{self.url}/api/resources", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=timeout, interval=0.2, what="the app to answer")
        return self

    def stop(self) -> None:
        stop_process(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def start_app(tmp_dir: Path, database_url: str, **settings: str) -> AppProcess:
    """Start the app on a free port with ``BOOKING_*`` settings (keys without the prefix)."""
    port = free_port()
    env = {
        "BOOKING_HOST": "127.0.0.1",
        "BOOKING_PORT": str(port),
        "BOOKING_DATA_DIR": str(tmp_dir),
        "BOOKING_DATABASE_URL": database_url,
    }
    env.update({f"BOOKING_{key.upper()}": value for key, value in settings.items()})
    return AppProcess(env=env, data_dir=tmp_dir, port=port).start()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST.

    Paths: ``/ok`` answers 204; ``/fail`` 500 until ``recovered`` is set, then 204; ``/flaky``
    answers 500 to the first two deliveries of each ``webhook-id``, then 204; ``/slow`` answers
    the first delivery of each ``webhook-id`` after ``slow_seconds``.
    """

    recovered: bool = False
    slow_seconds: float = 8.0

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.received.append(item)
                    seen = sum(
                        1
                        for r in receiver.received
                        if r.path == self.path and r.headers.get("webhook-id") == item.headers.get("webhook-id")
                    )
                status = 204
                if self.path == "/slow" and seen == 1:
                    time.sleep(receiver.slow_seconds)  # a slow first answer: long enough to kill a worker
                failing = self.path == "/fail" and not receiver.recovered
                if failing or (self.path == "/flaky" and seen <= 2):
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()

    def at(self, path: str, event_type: str | None = None, subject: str | None = None) -> list[Received]:
        with self.lock:
            items = [r for r in self.received if r.path == path]
        if event_type:
            items = [r for r in items if r.json["type"] == event_type]
        if subject:
            items = [r for r in items if r.json.get("subject") == subject]
        return items


AMQP_HOST = "127.0.0.1:5672"


def rabbitmqctl(*args: str, attempts: int = 10) -> str:
    """Run ``rabbitmqctl -q ...`` (root on this machine). Retried a few times: right after the
    broker app restarts (a fault test does that) vhost commands can fail for a moment. Raises
    ``RuntimeError`` with rabbitmqctl's own message when it keeps failing."""
    for attempt in range(attempts):
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return done.stdout
        time.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")


def create_vhost() -> tuple[str, Callable[[], None]]:
    """A fresh RabbitMQ virtual host for one test app; returns its AMQP URL and a function deleting it."""
    name = f"booking_app_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{AMQP_HOST}/{name}", lambda: rabbitmqctl("delete_vhost", name)


@dataclass
class WorkerProcess:
    """``python app.py worker`` (consumers and jobs, no web UI) started with ``env``."""

    env: dict[str, str]
    data_dir: Path
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 40.0) -> WorkerProcess:
        log_path = self.data_dir / "worker.log"
        self.process = launch(["worker"], self.env, log_path)

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{log_path.read_text()}")
            return "worker running" in log_path.read_text(errors="replace")

        wait_until(ready, timeout=timeout, interval=0.2, what="the worker to start")
        return self

    def stop(self) -> None:
        stop_process(self.process)
