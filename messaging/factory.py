"""Choose the transport from the settings: embedded when ``BOOKING_AMQP_URL`` is empty, else
RabbitMQ (DESIGN.md section 2). Called once by the composition root."""

from __future__ import annotations

from collections.abc import Callable

from data.db import UnitOfWork
from messaging.amqp import AmqpTransport
from messaging.consumer import Clock, Consumer, RetryPolicy
from messaging.embedded import EmbeddedTransport
from messaging.envelope import CloudEvent
from messaging.transport import Transport


def make_transport(
    settings,
    uow: UnitOfWork,
    consumers: list[Consumer],
    policy: RetryPolicy,
    clock: Clock,
    on_published: Callable[[CloudEvent], None] | None,
    *,
    run_consumers: bool = True,
) -> Transport:
    """The transport for ``settings.amqp_url``: ``EmbeddedTransport`` if empty, else ``AmqpTransport``.

    ``on_published(event)`` refreshes open screens: the embedded relay calls it for events this
    process publishes; with AMQP a per-process live queue calls it for events of every process.
    ``run_consumers=False`` (AMQP only) makes a web-only process: relay and live feed, no
    consumers. Raises ``ValueError`` naming ``BOOKING_AMQP_URL`` if the URL is not amqp(s)://.
    """
    if not settings.amqp_url:
        return EmbeddedTransport(uow, consumers, policy, clock, on_published=on_published)
    return AmqpTransport(
        settings.amqp_url, uow, consumers, policy, clock, on_published=on_published, run_consumers=run_consumers
    )
