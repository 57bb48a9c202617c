"""Event throughput and latency, commit to handled: the embedded transport and RabbitMQ, each
beside raw pika (publish with confirms + consume and ack) of the same message size on the same
broker in the same run. Not part of the test suite.

    .venv/bin/python bench/events.py [--events 1000] [--paced 200] [--rate 100]

Needs RabbitMQ (``BOOKING_BENCH_AMQP``, default ``amqp://guest:guest@127.0.0.1:5672``) and
``rabbitmqctl`` (a throw-away vhost is made, so nothing else on the broker sees these events).
The database is a SQLite file in a temporary folder, as in the embedded default.

Throughput: ``--events`` committed one per transaction as fast as possible; events/s from the
first commit to the last handler call. Latency: ``--paced`` events at ``--rate`` per second;
p50/p95 of (handler called - commit returned), in milliseconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pika

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.db import UnitOfWork, make_engine  # noqa: E402
from data.migrate import migrate  # noqa: E402
from messaging.amqp import AmqpTransport  # noqa: E402
from messaging.consumer import Consumer, RetryPolicy  # noqa: E402
from messaging.embedded import EmbeddedTransport  # noqa: E402
from messaging.envelope import CloudEvent  # noqa: E402
from messaging.outbox import add_event  # noqa: E402

BROKER = os.environ.get("BOOKING_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")
PAYLOAD = {
    "id": "6f1c1c3e-2b1e-4d1a-9a53-0d7d2f0d9a11",
    "resource_id": 1,
    "resource_name": "Court 1",
    "start": "2026-12-01T10:00:00+03:00",
    "end": "2026-12-01T11:00:00+03:00",
    "status": "pending_payment",
    "customer": {"name": "Guest Example", "email": "guest@example.test", "phone": None},
    "price": {"amount": 150000, "currency": "RUB"},
    "hold_expires_at": "2026-12-01T06:15:00Z",
    "created_at": "2026-12-01T06:00:00Z",
}


@dataclass
class Result:
    name: str
    events_per_second: float
    p50_ms: float
    p95_ms: float


class Timings:
    """Commit and handled times (``time.perf_counter`` seconds) per message id, thread-safe."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.handled: dict[str, float] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expected = 0

    def reset(self, expected: int) -> None:
        with self.lock:
            self.sent.clear()
            self.handled.clear()
            self.expected = expected
            self.done.clear()

    def mark_sent(self, key: str, at: float) -> None:
        with self.lock:
            self.sent[key] = at

    def mark_handled(self, key: str) -> None:
        now = time.perf_counter()
        with self.lock:
            self.handled.setdefault(key, now)
            if len(self.handled) >= self.expected:
                self.done.set()

    def throughput(self) -> float:
        return len(self.handled) / (max(self.handled.values()) - min(self.sent.values()))

    def latencies_ms(self) -> list[float]:
        return sorted((self.handled[key] - self.sent[key]) * 1000 for key in self.sent)


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def measure(name: str, timings: Timings, send: Callable[[int], None], events: int, paced: int, rate: float) -> Result:
    """Run a burst of ``events`` (throughput), then ``paced`` events at ``rate``/s (latency)."""
    timings.reset(20)
    send(20)  # warm-up: connections, caches
    if not timings.done.wait(30):
        raise RuntimeError(f"{name}: warm-up not handled")
    timings.reset(events)
    for _ in range(events):
        send(1)
    if not timings.done.wait(120):
        raise RuntimeError(f"{name}: only {len(timings.handled)} of {events} handled")
    throughput = timings.throughput()
    timings.reset(paced)
    start = time.perf_counter()
    for n in range(paced):
        time.sleep(max(0.0, start + n / rate - time.perf_counter()))
        send(1)
    if not timings.done.wait(60):
        raise RuntimeError(f"{name}: only {len(timings.handled)} of {paced} handled")
    latencies = timings.latencies_ms()
    return Result(name, throughput, percentile(latencies, 0.50), percentile(latencies, 0.95))


def run_transport(name: str, make: Callable[..., object], folder: Path, events: int, paced: int, rate: float) -> Result:
    """The transport built by ``make(uow, consumers, policy, clock)``, over a fresh SQLite file."""
    engine = make_engine(f"sqlite:///{folder}/{name}.db")
    migrate(engine)
    uow = UnitOfWork(engine)
    timings = Timings()
    transport = make(
        uow, [Consumer("bench", lambda event: timings.mark_handled(event.id))], RetryPolicy([1.0], 3), utc_now
    )
    transport.start()
    if hasattr(transport, "wait_connected") and not transport.wait_connected(10):
        raise RuntimeError(f"{name}: cannot connect to the broker")

    def send(count: int) -> None:
        for _ in range(count):
            with uow.begin() as session:
                event = add_event(session, "booking.created", PAYLOAD, subject=PAYLOAD["id"], now=utc_now())
                session.commit()
            timings.mark_sent(event.id, time.perf_counter())
            transport.notify()

    try:
        return measure(name, timings, send, events, paced, rate)
    finally:
        transport.stop()
        engine.dispose()


def run_raw_pika(url: str, size: int, events: int, paced: int, rate: float) -> Result:
    """Raw pika: publish persistent, mandatory, with confirms; a consumer thread acks each message."""
    queue = "bench.raw"
    timings = Timings()
    ready = threading.Event()
    stopping = threading.Event()

    def consume() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        channel.basic_qos(prefetch_count=4)

        def on_message(ch, method, properties, _body) -> None:
            ch.basic_ack(method.delivery_tag)
            timings.mark_handled(properties.message_id)

        channel.basic_consume(queue, on_message)
        ready.set()
        while not stopping.is_set():
            connection.process_data_events(time_limit=0.2)
        connection.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    ready.wait(10)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    body = b"x" * size

    def send(count: int) -> None:
        for _ in range(count):
            message_id = str(uuid.uuid4())
            timings.mark_sent(message_id, time.perf_counter())
            properties = pika.BasicProperties(message_id=message_id, delivery_mode=2)
            channel.basic_publish("", queue, body, properties, mandatory=True)

    try:
        return measure("raw pika", timings, send, events, paced, rate)
    finally:
        connection.close()
        stopping.set()
        consumer.join(5)


def utc_now() -> datetime:
    return datetime.now(UTC)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="burst size for throughput")
    parser.add_argument("--paced", type=int, default=200, help="events for latency")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second for latency")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    vhost = f"booking_bench_{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = f"{BROKER}/{vhost}"
    size = len(CloudEvent(id=str(uuid.uuid4()), type="booking.created", time=utc_now(), data=PAYLOAD).to_json())
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            n, p, r = args.events, args.paced, args.rate
            raw = run_raw_pika(url, size, n, p, r)
            results.append(raw)
            results.append(run_transport("embedded", EmbeddedTransport, Path(folder), n, p, r))
            results.append(
                run_transport(
                    "rabbitmq", lambda *a: AmqpTransport(url, *a, reconnect_max_seconds=1.0), Path(folder), n, p, r
                )
            )
    finally:
        rabbitmqctl("delete_vhost", vhost)

    print(f"machine: {machine()}")
    print(f"message: {size} bytes; burst {args.events} events; latency over {args.paced} at {args.rate:g}/s")
    print(f"{'':10} {'events/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'vs raw pika (rate, p50)':>26}")
    for result in results:
        ratio = f"{result.events_per_second / raw.events_per_second:.2f}x, {result.p50_ms / raw.p50_ms:.1f}x"
        print(
            f"{result.name:10} {result.events_per_second:10.0f} {result.p50_ms:8.2f} {result.p95_ms:8.2f} {ratio:>26}"
        )


if __name__ == "__main__":
    main()
