"""The embedded transport: the outbox and the delivery ledger in the database are the broker
(DESIGN.md section 2), so a fresh machine runs the whole flow with no server installed.

One relay thread publishes outbox rows by creating a ``pending`` delivery per consumer; one
dispatcher thread per consumer runs due deliveries through ``run_delivery``. Several processes
may share a PostgreSQL database: rows are taken with ``FOR UPDATE SKIP LOCKED`` and a delivery
is leased before its handler runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import select

from data.db import UnitOfWork
from data.models import Delivery, OutboxEvent
from messaging.consumer import (
    DUE_STATUSES,
    LEASE_SECONDS,
    Clock,
    Consumer,
    DeliveryOutcome,
    DeliveryStatus,
    RetryPolicy,
    run_delivery,
)
from messaging.envelope import CloudEvent
from messaging.outbox import to_envelope

log = logging.getLogger(__name__)

ERROR_BACKOFF_SECONDS = 1.0
"""Pause after an unexpected error in a loop (database down), before trying again."""


class EmbeddedTransport:
    """The database-backed transport (see the module docstring); implements ``Transport``.

    ``on_published(event)`` is called once per event after it is published (the live dashboard
    listens there); its exceptions are logged and ignored. ``poll_seconds`` is the longest a
    thread sleeps before looking for work without being woken; ``batch_size`` is how many
    outbox rows one relay transaction takes.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        consumers: list[Consumer],
        policy: RetryPolicy,
        clock: Clock,
        on_published: Callable[[CloudEvent], None] | None = None,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
    ) -> None:
        self.uow = uow
        self.consumers = list(consumers)
        self.policy = policy
        self.clock = clock
        self.on_published = on_published
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._stopping = threading.Event()
        self._relay_wake = threading.Event()
        self._dispatch_wakes = {consumer.name: threading.Event() for consumer in self.consumers}
        self._threads: list[threading.Thread] = []

    # -- Transport -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the relay thread and one dispatcher thread per consumer (daemon threads)."""
        if self._threads:
            raise RuntimeError("transport already started")
        self._stopping.clear()
        self._threads = [self._thread("outbox-relay", self._relay_loop)]
        for consumer in self.consumers:
            self._threads.append(self._thread(f"dispatch-{consumer.name}", self._dispatch_loop, consumer))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread, waiting up to ``timeout`` seconds in all; a handler still running
        then (a slow HTTP call) is left to finish in its daemon thread and is logged."""
        self._stopping.set()
        self.notify()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("thread %s did not stop within %.1f s", thread.name, timeout)
        self._threads = []

    def notify(self) -> None:
        """Wake the relay and the dispatchers now (after a commit that staged events or a replay)."""
        self._relay_wake.set()
        for wake in self._dispatch_wakes.values():
            wake.set()

    # -- one step of work, also usable without threads ------------------------------------------

    def publish_pending(self) -> list[CloudEvent]:
        """Publish up to ``batch_size`` unpublished outbox rows, oldest first, in one transaction:
        a ``pending`` delivery due now per consumer, and ``published_at`` set. Then call
        ``on_published`` for each and wake the dispatchers. Returns the published events."""
        with self.uow.begin() as session:
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.time, OutboxEvent.sequence)
                .limit(self.batch_size)
            )
            if self.uow.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = session.exec(query).all()
            if not rows:
                return []
            now = self.clock()
            taken = select(Delivery.event_id, Delivery.consumer).where(Delivery.event_id.in_([r.id for r in rows]))
            existing = {(event_id, name) for event_id, name in session.exec(taken).all()}
            for row in rows:
                for consumer in self.consumers:
                    if (row.id, consumer.name) not in existing:
                        session.add(
                            Delivery(
                                event_id=row.id,
                                consumer=consumer.name,
                                status=DeliveryStatus.PENDING,
                                next_attempt_at=now,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                row.published_at = now
                session.add(row)
            events = [to_envelope(row) for row in rows]
            session.commit()

        for wake in self._dispatch_wakes.values():
            wake.set()
        if self.on_published is not None:
            for event in events:
                try:
                    self.on_published(event)
                except Exception:
                    log.exception("on_published failed for event=%s type=%s", event.id, event.type)
        return events

    def dispatch_due(self, consumer: Consumer) -> tuple[DeliveryOutcome | None, float | None]:
        """Run the oldest due delivery of ``consumer``, if any.

        Returns ``(outcome, None)`` when one ran, or ``(None, seconds)`` when none is due:
        ``seconds`` until the next known delivery of this consumer falls due (``None`` if none).
        """
        with self.uow.begin() as session:
            query = (
                select(Delivery)
                .where(Delivery.consumer == consumer.name, Delivery.status.in_(DUE_STATUSES))
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(1)
            )
            if self.uow.is_postgres:
                query = query.with_for_update(skip_locked=True)
            delivery = session.exec(query).first()
            if delivery is None:
                return None, None
            now = self.clock()
            if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
                return None, (delivery.next_attempt_at - now).total_seconds()
            # Lease it, so another dispatcher (another process) does not take it meanwhile.
            delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
            session.add(delivery)
            event = to_envelope(session.get(OutboxEvent, delivery.event_id))
            session.commit()
        return run_delivery(self.uow, consumer, event, self.policy, self.clock), None

    # -- threads --------------------------------------------------------------------------------

    def _thread(self, name: str, loop: Callable[..., None], *args: object) -> threading.Thread:
        """A daemon thread running ``loop``; its end is always logged, an unexpected one loudly."""

        def run() -> None:
            try:
                loop(*args)
            except BaseException:
                log.critical("thread %s died", name, exc_info=True)
                raise
            if not self._stopping.is_set():
                log.critical("thread %s ended although the transport was not stopped", name)

        return threading.Thread(target=run, name=name, daemon=True)

    def _relay_loop(self) -> None:
        log.info("outbox relay started")
        while not self._stopping.is_set():
            self._relay_wake.clear()
            try:
                published = self.publish_pending()
            except Exception:
                log.exception("outbox relay failed; trying again in %.1f s", ERROR_BACKOFF_SECONDS)
                self._stopping.wait(ERROR_BACKOFF_SECONDS)
                continue
            if len(published) < self.batch_size:
                self._relay_wake.wait(self.poll_seconds)
        log.info("outbox relay stopped")

    def _dispatch_loop(self, consumer: Consumer) -> None:
        wake = self._dispatch_wakes[consumer.name]
        log.info("dispatcher for consumer %s started", consumer.name)
        while not self._stopping.is_set():
            wake.clear()
            try:
                outcome, due_in = self.dispatch_due(consumer)
            except Exception:
                log.exception(
                    "dispatcher for consumer %s failed; trying again in %.1f s", consumer.name, ERROR_BACKOFF_SECONDS
                )
                self._stopping.wait(ERROR_BACKOFF_SECONDS)
                continue
            if outcome is None:
                wait = self.poll_seconds if due_in is None else min(max(due_in, 0.0), self.poll_seconds)
                wake.wait(wait)
        log.info("dispatcher for consumer %s stopped", consumer.name)
