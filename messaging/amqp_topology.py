"""RabbitMQ names and topology (DESIGN.md section 6), declared idempotently on every connect.

Per consumer ``<name>`` (e.g. ``integration``)::

    booking.events (topic, durable) --#--> <name>.events                      work queue
    <name>.events.retry.<ms>ms   x-message-ttl=<ms>, dead-letters to <name>.events   one per delay
    <name>.events.dead                                                        dead letters, parked

Only the delay queues carry arguments, and their name carries their delay, so changing
``BOOKING_RETRY_DELAYS_SECONDS`` declares new delay queues instead of redeclaring old ones with
other arguments (which RabbitMQ refuses with PRECONDITION_FAILED). The work and dead queues have
no arguments at all, so no setting can ever conflict with them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pika
from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger(__name__)

EXCHANGE = "booking.events"
"""The durable topic exchange every event is published to; routing key = event type."""

CONTENT_TYPE = "application/cloudevents+json"
PERSISTENT = 2  # AMQP delivery_mode of a message written to disk by the broker


def work_queue(consumer: str) -> str:
    """``integration`` -> ``integration.events``: the queue the consumer reads."""
    return f"{consumer}.events"


def dead_queue(consumer: str) -> str:
    """``integration`` -> ``integration.events.dead``: where its dead letters are parked."""
    return f"{work_queue(consumer)}.dead"


def delay_milliseconds(delay_seconds: float) -> int:
    """A redelivery delay in whole milliseconds (the unit of ``x-message-ttl``)."""
    return max(0, round(delay_seconds * 1000))


def retry_queue(consumer: str, delay_seconds: float) -> str:
    """``integration``, 5.0 -> ``integration.events.retry.5000ms``: the delay queue for that delay."""
    return f"{work_queue(consumer)}.retry.{delay_milliseconds(delay_seconds)}ms"


def queue_names(consumers: Iterable[str], delays: Iterable[float]) -> list[str]:
    """Every queue ``declare_topology`` declares for these consumers and delays (seconds)."""
    delays = list(delays)
    names: list[str] = []
    for consumer in consumers:
        names += [work_queue(consumer), dead_queue(consumer)]
        names += sorted({retry_queue(consumer, delay) for delay in delays})
    return names


def declare_topology(channel: BlockingChannel, consumers: Iterable[str], delays: Iterable[float]) -> None:
    """Declare the exchange, and per consumer its work, dead and delay queues (one per distinct
    delay in seconds). Idempotent; raises ``pika.exceptions.ChannelClosedByBroker`` only if a
    queue of the same name exists with other arguments (made by something else than this code)."""
    delays = list(delays)
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    for consumer in consumers:
        work = work_queue(consumer)
        channel.queue_declare(work, durable=True)
        channel.queue_bind(work, EXCHANGE, routing_key="#")
        channel.queue_declare(dead_queue(consumer), durable=True)
        for delay in delays:
            channel.queue_declare(
                retry_queue(consumer, delay),
                durable=True,
                arguments={
                    "x-message-ttl": delay_milliseconds(delay),
                    "x-dead-letter-exchange": "",  # the default exchange: routing key = queue name
                    "x-dead-letter-routing-key": work,
                },
            )


def connection_parameters(url: str, role: str) -> pika.URLParameters:
    """Parameters for ``url`` (``amqp://user:pass@host:port/vhost?heartbeat=...``), naming the
    connection ``booking-desk <role>`` so ``rabbitmqctl list_connections`` tells them apart.
    Raises ``ValueError`` for a URL that is not ``amqp://`` or ``amqps://``."""
    if not url.startswith(("amqp://", "amqps://")):
        raise ValueError(f"BOOKING_AMQP_URL must start with amqp:// or amqps://, got {url!r}")
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": f"booking-desk {role}"}
    return parameters
