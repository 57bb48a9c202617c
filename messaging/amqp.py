"""The RabbitMQ transport through pika: the broker of record when ``BOOKING_AMQP_URL`` is set
(DESIGN.md sections 2, 6 and 7). Topology and names are in ``messaging/amqp_topology.py``.

Threads, each with its own ``BlockingConnection`` (a pika connection belongs to one thread):

- ``amqp-relay`` publishes unpublished outbox rows to ``booking.events`` with publisher
  confirms, ``mandatory``, persistent, ``message_id`` = event id, and marks a row published only
  after its confirm. It also re-publishes replayed dead letters (see ``publish_replays``).
- ``amqp-consumer-<name>`` per consumer reads ``<name>.events`` (manual acks, small prefetch)
  and runs each message through ``consumer.run_delivery`` on a worker thread while it keeps the
  connection (heartbeats) going. The delivery ledger stays the record of attempts and dead
  letters, as with the embedded transport; RabbitMQ only carries and delays messages.
- ``amqp-live`` binds an exclusive, auto-delete, server-named queue to ``booking.events`` and
  calls ``on_published`` for every event published by any process (the live dashboard). With
  AMQP ``on_published`` is driven by this queue alone, not by the relay, so the local process
  sees each event once, like every other process.

Every thread reconnects with back-off (logged) after the broker or its connection goes away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from data.db import UnitOfWork
from data.models import Delivery, OutboxEvent
from messaging.amqp_topology import (
    CONTENT_TYPE,
    EXCHANGE,
    PERSISTENT,
    connection_parameters,
    dead_queue,
    declare_topology,
    retry_queue,
    work_queue,
)
from messaging.consumer import Clock, Consumer, DeliveryOutcome, DeliveryStatus, RetryPolicy, run_delivery
from messaging.envelope import CloudEvent
from messaging.outbox import to_envelope

log = logging.getLogger(__name__)

ERROR_BACKOFF_SECONDS = 1.0
"""Pause after a database error before trying again (the message is requeued, the row kept)."""

PUMP_SECONDS = 0.25
"""Longest a connection thread blocks in ``process_data_events`` before it looks at ``stop()``;
messages and callbacks from other threads end the wait at once."""

RECONNECT_FIRST_SECONDS = 0.5
"""First pause before reconnecting; it doubles up to ``reconnect_max_seconds``."""


@dataclass(frozen=True)
class _Message:
    delivery_tag: int
    redelivered: bool
    properties: pika.BasicProperties
    body: bytes


def event_properties(event: CloudEvent, headers: dict | None = None) -> pika.BasicProperties:
    """AMQP properties of an event message: persistent, ``message_id`` = event id, CloudEvents
    JSON content type, ``type`` = event type, ``timestamp`` = event time (Unix seconds)."""
    return pika.BasicProperties(
        message_id=event.id,
        content_type=CONTENT_TYPE,
        delivery_mode=PERSISTENT,
        type=event.type,
        timestamp=int(event.time.timestamp()),
        app_id="booking-desk",
        headers=headers,
    )


class AmqpTransport:
    """The RabbitMQ transport (see the module docstring); implements ``Transport``.

    ``url`` is ``BOOKING_AMQP_URL``; the other arguments are those of ``EmbeddedTransport``:
    ``poll_seconds`` is the longest the relay waits before looking for unpublished outbox rows
    (and replays) without ``notify()``; ``batch_size`` is how many rows one relay pass takes.
    ``reconnect_max_seconds`` caps the doubling pause between reconnection attempts.
    ``prefetch`` is the number of unacknowledged messages per consumer; messages are handled one
    at a time per consumer and process. ``run_consumers=False`` runs the relay and the live feed
    only (a web-only process); ``on_published=None`` starts no live feed (a worker). Raises
    ``ValueError`` for a URL that is not ``amqp://`` or ``amqps://``.
    """

    def __init__(
        self,
        url: str,
        uow: UnitOfWork,
        consumers: list[Consumer],
        policy: RetryPolicy,
        clock: Clock,
        on_published: Callable[[CloudEvent], None] | None = None,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
        prefetch: int = 4,
        run_consumers: bool = True,
        reconnect_max_seconds: float = 5.0,
    ) -> None:
        connection_parameters(url, "check")  # a bad URL fails here, at bootstrap, not in a thread
        self.url = url
        self.uow = uow
        self.consumers = list(consumers)
        self.policy = policy
        self.clock = clock
        self.on_published = on_published
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.prefetch = prefetch
        self.run_consumers = run_consumers
        self.reconnect_max_seconds = reconnect_max_seconds
        self._stopping = threading.Event()
        self._relay_wake = threading.Event()
        self._ready: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []

    # -- Transport -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the relay, one consumer thread per consumer and the live feed (daemon threads).
        Each declares the topology when it connects; ``wait_connected`` waits for that."""
        if self._threads:
            raise RuntimeError("transport already started")
        self._stopping.clear()
        sessions: list[tuple[str, Callable[[BlockingConnection], None]]] = [("relay", self._relay_session)]
        if self.run_consumers:
            for consumer in self.consumers:
                sessions.append((f"consumer-{consumer.name}", self._consumer_session(consumer)))
        if self.on_published is not None:
            sessions.append(("live", self._live_session))
        self._ready = {role: threading.Event() for role, _ in sessions}
        self._threads = [
            threading.Thread(target=self._run_connected, args=(role, session), name=f"amqp-{role}", daemon=True)
            for role, session in sessions
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread and close its connection, waiting up to ``timeout`` seconds per
        thread. A message whose handler is still running is left unacknowledged, so the broker
        delivers it again (the inbox drops it if the handler did finish)."""
        self._stopping.set()
        self._relay_wake.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("thread %s did not stop within %.1f s", thread.name, timeout)
        self._threads = []

    def notify(self) -> None:
        """Wake the relay now (after a commit that staged events, or a replay); never blocks."""
        self._relay_wake.set()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until every started thread is connected with its topology declared (and the live
        queue bound). Returns ``False`` if that did not happen within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        return all(ready.wait(max(0.0, deadline - time.monotonic())) for ready in self._ready.values())

    # -- relay: one step of work, called on the relay's connection --------------------------------

    def publish_pending(self, channel: BlockingChannel) -> int:
        """Publish up to ``batch_size`` unpublished outbox rows, oldest first, each confirmed by
        the broker, then set their ``published_at``. Returns how many were published.

        On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED`` and stay locked during the
        publish, so several processes never publish the same row at once. On SQLite (one process)
        no transaction is held across the network: rows are read, published, then marked. A
        publish error (``pika.exceptions.AMQPError``, e.g. ``UnroutableError``) is raised after
        the rows confirmed before it are marked; the rest are published again later.
        """
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.time, OutboxEvent.sequence)
            .limit(self.batch_size)
        )
        if self.uow.is_postgres:
            with self.uow.begin() as session:
                events = [to_envelope(row) for row in session.exec(query.with_for_update(skip_locked=True)).all()]
                confirmed, error = self._publish_events(channel, events)
                self._mark_published(session, confirmed)
                session.commit()
        else:
            with self.uow.begin() as session:
                events = [to_envelope(row) for row in session.exec(query).all()]
            confirmed, error = self._publish_events(channel, events)
            with self.uow.begin() as session:
                self._mark_published(session, confirmed)
                session.commit()
        if error is not None:
            raise error
        return len(confirmed)

    def publish_replays(self, channel: BlockingChannel) -> int:
        """Publish each replayed dead letter of our consumers straight to that consumer's work
        queue (default exchange), so only that consumer gets it again. Returns how many.

        ``messaging.ledger.replay_delivery`` leaves the ledger row ``pending`` with 0 attempts and
        due now, a state ``run_delivery`` never leaves behind (it counts the first attempt in the
        transaction that creates the row). Such a row is "to be sent"; after its confirm its
        ``next_attempt_at`` is cleared ("with the broker"). The dead copy stays parked in the
        ``.dead`` queue as a record. Locking as in ``publish_pending``.
        """
        names = [consumer.name for consumer in self.consumers]
        if not names:
            return 0
        query = (
            select(Delivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
            .where(
                Delivery.consumer.in_(names),
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.attempts == 0,
                Delivery.next_attempt_at.is_not(None),
            )
            .order_by(Delivery.id)
            .limit(self.batch_size)
        )
        if self.uow.is_postgres:
            with self.uow.begin() as session:
                rows = session.exec(query.with_for_update(skip_locked=True, of=Delivery)).all()
                replays = [(delivery.id, delivery.consumer, to_envelope(event)) for delivery, event in rows]
                sent = self._publish_replays(channel, replays)
                self._mark_replays_sent(session, sent)
                session.commit()
        else:
            with self.uow.begin() as session:
                rows = session.exec(query).all()
                replays = [(delivery.id, delivery.consumer, to_envelope(event)) for delivery, event in rows]
            sent = self._publish_replays(channel, replays)
            with self.uow.begin() as session:
                self._mark_replays_sent(session, sent)
                session.commit()
        return len(sent)

    def _publish_events(
        self, channel: BlockingChannel, events: list[CloudEvent]
    ) -> tuple[list[str], pika.exceptions.AMQPError | None]:
        """Publish with confirms until the first failure; returns the confirmed ids and that failure."""
        confirmed: list[str] = []
        for event in events:
            try:
                channel.basic_publish(
                    EXCHANGE, event.type, event.to_json().encode(), event_properties(event), mandatory=True
                )
            except pika.exceptions.AMQPError as error:
                log.warning("outbox relay: publishing event=%s type=%s failed: %r", event.id, event.type, error)
                return confirmed, error
            confirmed.append(event.id)
        return confirmed, None

    def _mark_published(self, session, event_ids: list[str]) -> None:
        if event_ids:
            session.exec(update(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).values(published_at=self.clock()))

    def _publish_replays(self, channel: BlockingChannel, replays: list[tuple[int, str, CloudEvent]]) -> list[int]:
        sent: list[int] = []
        for delivery_id, consumer, event in replays:
            channel.basic_publish(
                "", work_queue(consumer), event.to_json().encode(), event_properties(event), mandatory=True
            )
            log.info("replayed delivery %d: event=%s sent again to consumer %s", delivery_id, event.id, consumer)
            sent.append(delivery_id)
        return sent

    def _mark_replays_sent(self, session, delivery_ids: list[int]) -> None:
        if delivery_ids:
            session.exec(
                update(Delivery)
                .where(
                    Delivery.id.in_(delivery_ids),
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.attempts == 0,
                )
                .values(next_attempt_at=None)
            )

    # -- connections ------------------------------------------------------------------------------

    def _run_connected(self, role: str, session: Callable[[BlockingConnection], None]) -> None:
        """Run ``session(connection)`` until stopped, reconnecting with doubling back-off."""
        backoff = RECONNECT_FIRST_SECONDS
        parameters = connection_parameters(self.url, role)
        log.info(
            "amqp %s starting (broker %s:%s vhost %s)", role, parameters.host, parameters.port, parameters.virtual_host
        )
        while not self._stopping.is_set():
            connection: BlockingConnection | None = None
            try:
                connection = pika.BlockingConnection(parameters)
                backoff = RECONNECT_FIRST_SECONDS
                session(connection)
            except (pika.exceptions.AMQPError, OSError) as error:
                if self._stopping.is_set():
                    break
                log.warning(
                    "amqp %s: broker connection lost or refused (%r); reconnecting in %.1f s", role, error, backoff
                )
            except Exception:
                log.exception("amqp %s failed; reconnecting in %.1f s", role, backoff)
            finally:
                self._ready[role].clear()
                if connection is not None and connection.is_open:
                    try:
                        connection.close()
                    except pika.exceptions.AMQPError:
                        pass  # already going away; nothing more to release
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, self.reconnect_max_seconds)
        log.info("amqp %s stopped", role)

    # -- relay ------------------------------------------------------------------------------------

    def _relay_session(self, connection: BlockingConnection) -> None:
        channel = connection.channel()
        declare_topology(channel, [c.name for c in self.consumers], self.policy.delays)
        channel.confirm_delivery()
        self._ready["relay"].set()
        while not self._stopping.is_set():
            self._relay_wake.clear()
            try:
                published = self.publish_pending(channel)
                replayed = self.publish_replays(channel)
            except SQLAlchemyError:
                log.exception("outbox relay: database failed; trying again in %.1f s", ERROR_BACKOFF_SECONDS)
                connection.sleep(ERROR_BACKOFF_SECONDS)
                continue
            if published < self.batch_size and replayed < self.batch_size:
                self._relay_idle(connection)

    def _relay_idle(self, connection: BlockingConnection) -> None:
        """Wait up to ``poll_seconds`` for ``notify()``, keeping the connection's heartbeats going."""
        deadline = time.monotonic() + self.poll_seconds
        while not self._relay_wake.wait(PUMP_SECONDS):
            connection.process_data_events(0)
            if time.monotonic() >= deadline:
                return
        connection.process_data_events(0)

    # -- consumers --------------------------------------------------------------------------------

    def _consumer_session(self, consumer: Consumer) -> Callable[[BlockingConnection], None]:
        role = f"consumer-{consumer.name}"

        def session(connection: BlockingConnection) -> None:
            channel = connection.channel()
            declare_topology(channel, [c.name for c in self.consumers], self.policy.delays)
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.confirm_delivery()  # for the copies sent to the delay and dead queues
            arrived: deque[_Message] = deque()

            def on_message(_channel, method, properties, body) -> None:
                arrived.append(_Message(method.delivery_tag, method.redelivered, properties, body))

            channel.basic_consume(work_queue(consumer.name), on_message_callback=on_message)
            self._ready[role].set()
            while not self._stopping.is_set():
                if not arrived:
                    connection.process_data_events(time_limit=PUMP_SECONDS)
                    continue
                self._handle(connection, channel, consumer, arrived.popleft())

        return session

    def _handle(
        self, connection: BlockingConnection, channel: BlockingChannel, consumer: Consumer, message: _Message
    ) -> None:
        """Run one message through ``run_delivery`` and settle it; acks only after the ledger commit."""
        try:
            event = CloudEvent.from_json(message.body)
        except ValueError as error:  # also json.JSONDecodeError, UnicodeDecodeError
            log.error(
                "consumer %s: not a CloudEvent (message_id=%s), parked as dead: %s",
                consumer.name,
                message.properties.message_id,
                error,
            )
            self._send_copy(
                channel, dead_queue(consumer.name), message, {"x-booking-last-error": f"malformed: {error}"}
            )
            channel.basic_ack(message.delivery_tag)
            return

        result = self._run_on_worker(connection, consumer, event)
        if result is None:
            return  # stopping: left unacknowledged, the broker delivers it again
        if result.exception() is not None:
            log.error(
                "consumer %s: event=%s could not be recorded (%r); requeued in %.1f s",
                consumer.name,
                event.id,
                result.exception(),
                ERROR_BACKOFF_SECONDS,
            )
            connection.sleep(ERROR_BACKOFF_SECONDS)
            channel.basic_nack(message.delivery_tag, requeue=True)
            return

        outcome: DeliveryOutcome = result.result()
        if outcome.status == DeliveryStatus.RETRYING:
            headers = {"x-booking-attempts": outcome.attempts}
            self._send_copy(channel, retry_queue(consumer.name, outcome.delay_seconds or 0.0), message, headers)
        elif outcome.status == DeliveryStatus.DEAD:
            headers = {
                "x-booking-attempts": outcome.attempts,
                "x-booking-last-error": self._last_error(event, consumer),
            }
            self._send_copy(channel, dead_queue(consumer.name), message, headers)
        elif outcome.status == DeliveryStatus.DUPLICATE:
            log.info("consumer %s: event=%s already processed; redelivered copy acknowledged", consumer.name, event.id)
        channel.basic_ack(message.delivery_tag)

    def _run_on_worker(
        self, connection: BlockingConnection, consumer: Consumer, event: CloudEvent
    ) -> Future[DeliveryOutcome] | None:
        """``run_delivery`` on a worker thread while this thread keeps the connection alive.

        Returns the finished future, or ``None`` if the transport is stopping first. If the
        connection is lost meanwhile, waits for the handler to finish before raising, so the
        redelivered copy finds the result in the inbox instead of running beside it.
        """
        result: Future[DeliveryOutcome] = Future()

        def work() -> None:
            try:
                result.set_result(run_delivery(self.uow, consumer, event, self.policy, self.clock))
            except Exception as error:  # database errors: settled (requeued) on the connection thread
                result.set_exception(error)
            try:
                connection.add_callback_threadsafe(lambda: None)  # wake process_data_events now
            except pika.exceptions.ConnectionWrongStateError:
                pass  # the connection closed meanwhile; its thread is not waiting on it any more

        threading.Thread(target=work, name=f"amqp-handler-{consumer.name}", daemon=True).start()
        try:
            while not result.done():
                if self._stopping.is_set():
                    log.warning(
                        "consumer %s stopping while event=%s is handled; left unacknowledged", consumer.name, event.id
                    )
                    return None
                connection.process_data_events(time_limit=PUMP_SECONDS)
        except pika.exceptions.AMQPError:
            log.warning(
                "consumer %s: connection lost while event=%s is handled; waiting for the handler",
                consumer.name,
                event.id,
            )
            while not result.done() and not self._stopping.wait(0.05):
                pass
            raise
        return result

    def _send_copy(self, channel: BlockingChannel, queue: str, message: _Message, headers: dict) -> None:
        """Publish a persistent copy of ``message`` to ``queue`` (default exchange), confirmed."""
        properties = message.properties
        merged = {**(properties.headers or {}), **headers}
        copy = pika.BasicProperties(
            message_id=properties.message_id,
            content_type=properties.content_type,
            delivery_mode=PERSISTENT,
            type=properties.type,
            timestamp=properties.timestamp,
            app_id=properties.app_id,
            headers=merged,
        )
        channel.basic_publish("", queue, message.body, copy, mandatory=True)

    def _last_error(self, event: CloudEvent, consumer: Consumer) -> str:
        with self.uow.begin() as session:
            query = select(Delivery.last_error).where(Delivery.event_id == event.id, Delivery.consumer == consumer.name)
            return session.exec(query).first() or ""

    # -- live dashboard ---------------------------------------------------------------------------

    def _live_session(self, connection: BlockingConnection) -> None:
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, EXCHANGE, routing_key="#")
        channel.basic_consume(queue, on_message_callback=self._on_live_message, auto_ack=True)
        self._ready["live"].set()
        while not self._stopping.is_set():
            connection.process_data_events(time_limit=PUMP_SECONDS)

    def _on_live_message(self, _channel, _method, properties, body: bytes) -> None:
        try:
            event = CloudEvent.from_json(body)
        except ValueError as error:
            log.warning("live feed: not a CloudEvent (message_id=%s): %s", properties.message_id, error)
            return
        try:
            self.on_published(event)
        except Exception:
            log.exception("on_published failed for event=%s type=%s", event.id, event.type)
