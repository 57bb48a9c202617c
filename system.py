"""The composition root's product: one ``System`` holding the adapters every page, route and job
gets handed (field_friend's "System", cosmicpython's bootstrap). ``bootstrap(settings)`` builds it;
nothing else creates an engine, reads the environment or picks a provider."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from components.live import LiveHub
from data.db import UnitOfWork, make_engine
from data.migrate import migrate
from data.seed import seed_demo_data
from integrations.endpoints import all_urls
from integrations.webhooks import make_integration_handler
from messaging.consumer import Consumer, RetryPolicy
from messaging.factory import make_transport
from notifications.handlers import make_notification_handler
from notifications.mailer import make_mailer
from payment.providers import build_providers
from settings import Settings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The real clock: aware UTC now."""
    return datetime.now(UTC)


@dataclass
class System:
    """Everything wired for one process.

    ``providers`` maps a provider name (``sandbox``, ``stripe``, ``yookassa``) to its adapter;
    ``sandbox`` is the embedded payment gateway (``None`` when ``BOOKING_SANDBOX_ENABLED=0``);
    ``transport`` carries outbox events to the consumers; ``live`` fans events out to open screens.
    """

    settings: Settings
    uow: UnitOfWork
    clock: Callable[[], datetime] = utc_now
    providers: dict[str, Any] = field(default_factory=dict)
    sandbox: Any = None
    transport: Any = None
    live: Any = None
    scheduler: Any = None
    mailer: Any = None

    def now(self) -> datetime:
        return self.clock()

    def events_committed(self) -> None:
        """Call after a commit that staged outbox events: wakes the relay at once."""
        if self.transport is not None:
            self.transport.notify()


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utc_now, *, role: str = "web") -> System:
    """Build the ``System``: migrate the database, seed demo data if asked, create the payment
    providers, the transport and its consumers. Starts no threads (``start_background`` does).

    ``role`` is ``web`` (serves pages; open screens are refreshed from the events) or ``worker``
    (consumers and jobs only). A web process runs the consumers only with ``BOOKING_BACKGROUND=1``.
    """
    engine = make_engine(settings.database_url)
    migrate(engine)
    uow = UnitOfWork(engine)
    if settings.demo_data and seed_demo_data(uow):
        log.info("seeded demo resources into an empty database")

    system = System(settings=settings, uow=uow, clock=clock, live=LiveHub())
    system.providers, system.sandbox = build_providers(settings, uow, clock)

    mailer = make_mailer(settings)
    system.mailer = mailer
    consumers = [
        Consumer(
            "integration",
            make_integration_handler(
                uow, all_urls(uow, settings.integration_webhook_urls), settings.integration_webhook_secret, clock
            ),
        ),
        Consumer(
            "notification",
            make_notification_handler(
                uow, mailer, public_url=settings.public_url, mail_from=settings.mail_from, clock=clock
            ),
        ),
    ]
    policy = RetryPolicy(settings.retry_delays, settings.max_redeliveries)
    system.transport = make_transport(
        settings,
        uow,
        consumers,
        policy,
        clock,
        on_published=system.live.publish if role == "web" else None,
        run_consumers=settings.background or role == "worker",
    )
    return system


def start_background(system: System) -> None:
    """Start the outbox relay and consumers (the transport) and the APScheduler jobs.

    Called from ``app.on_startup`` only, and only when ``BOOKING_BACKGROUND=1``.
    """
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = system.settings
    system.transport.start()
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs = [
        (expire_holds_job, settings.expiry_interval_seconds, "hold-expiry"),
        (reconcile_job, settings.reconcile_interval_seconds, "payment-reconciliation"),
        (purge_job, 3600, "idempotency-key-purge"),
    ]
    for job, seconds, name in jobs:
        scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            args=[system],
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    scheduler.start()
    system.scheduler = scheduler
    log.info("background started: relay, consumers and %d scheduler jobs", len(jobs))


def start_web_only(system: System) -> None:
    """A web process without background work (``BOOKING_BACKGROUND=0``): with RabbitMQ it still
    runs the relay and its live queue, so its screens show every process's events."""
    if system.settings.amqp_url:
        system.transport.start()


def stop_background(system: System) -> None:
    """Stop the scheduler and the transport (waits briefly for running work)."""
    if system.scheduler is not None:
        system.scheduler.shutdown(wait=False)
        system.scheduler = None
    if system.transport is not None:
        system.transport.stop()
    if system.sandbox is not None:
        system.sandbox.close()


def expire_holds_job(system: System) -> None:
    """Every ``BOOKING_EXPIRY_INTERVAL_SECONDS``: expire passed holds (``booking.expired``)."""
    from domain.bookings import expire_holds

    if expire_holds(system.uow, system.now()):
        system.events_committed()


def reconcile_job(system: System) -> None:
    """Every ``BOOKING_RECONCILE_INTERVAL_SECONDS``: settle payments pending longer than
    ``BOOKING_RECONCILE_AFTER_SECONDS`` from their provider's own status."""
    from payment.service import reconcile_payments

    if reconcile_payments(system.uow, system.providers, system.now(), system.settings.reconcile_after_seconds):
        system.events_committed()


def purge_job(system: System) -> None:
    """Hourly: forget idempotency keys older than 24 hours."""
    from api.idempotency import purge_expired

    purge_expired(system.uow, system.now())
