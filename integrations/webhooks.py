"""Integration Service: POST every event to the configured endpoints (DESIGN.md section 9).

The body is the event's structured CloudEvents JSON, signed per Standard Webhooks
(https://www.standardwebhooks.com/): ``webhook-id`` = event id, ``webhook-timestamp`` = unix
seconds, ``webhook-signature`` = ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. Progress per
(event, endpoint) is kept in ``IntegrationSend``, so an endpoint that accepted an event is not
sent it again when the delivery is redelivered for another endpoint's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC

import httpx
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from data.db import UnitOfWork
from data.models import IntegrationSend
from messaging.consumer import Clock, Handler
from messaging.envelope import CloudEvent

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
ACCEPTED = "accepted"
FAILED = "failed"


class WebhookDeliveryFailed(Exception):
    """One or more endpoints did not accept the event; ``failures`` maps URL to reason."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        listed = "; ".join(f"{url}: {reason}" for url, reason in failures.items())
        super().__init__(f"{len(failures)} endpoint(s) did not accept the event: {listed}")


def make_integration_handler(
    uow: UnitOfWork,
    urls: list[str] | Callable[[], list[str]],
    secret: str,
    clock: Clock,
    client: httpx.Client | None = None,
    timeout_seconds: float = 10.0,
) -> Handler:
    """A handler that POSTs each event to every URL in ``urls`` not yet accepted for it.

    ``urls`` is a list, or a function called for each event (so endpoints added in the dashboard
    take effect at once).

    ``secret`` is the ``whsec_...`` signing secret; ``clock`` gives the signature timestamp and
    the record times (aware UTC; receivers reject timestamps more than 5 minutes off, so it must
    be the real time in production). A 2xx answer is accepted; any other answer, a timeout or a
    connection error fails. Each attempt is recorded in ``IntegrationSend``. The handler raises
    ``WebhookDeliveryFailed`` naming the failing URLs if any failed; with no URLs it does nothing.
    """
    current_urls = urls if callable(urls) else (lambda fixed=list(urls): fixed)
    signer = Webhook(secret) if secret else None
    http = client or httpx.Client(follow_redirects=False)

    def handle(event: CloudEvent) -> None:
        urls = current_urls()
        if not urls:
            return
        if signer is None:
            raise RuntimeError("outbound webhooks need BOOKING_INTEGRATION_WEBHOOK_SECRET")
        with uow.begin() as session:
            done = session.exec(
                select(IntegrationSend.url).where(
                    IntegrationSend.event_id == event.id, IntegrationSend.status == ACCEPTED
                )
            ).all()
        failures: dict[str, str] = {}
        for url in urls:
            if url in done:
                continue
            status_code, error = _post(http, signer, url, event, clock, timeout_seconds)
            _record(uow, event.id, url, status_code, error, clock)
            if error is not None:
                failures[url] = error
        if failures:
            raise WebhookDeliveryFailed(failures)

    return handle


def _post(
    http: httpx.Client, signer: Webhook, url: str, event: CloudEvent, clock: Clock, timeout: float
) -> tuple[int | None, str | None]:
    """POST the signed event; returns (HTTP status or None, error or None when accepted)."""
    body = event.to_json()
    sent_at = clock().astimezone(UTC)
    headers = {
        "content-type": CONTENT_TYPE,
        "webhook-id": event.id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signer.sign(event.id, sent_at, body),
    }
    try:
        response = http.post(url, content=body.encode(), headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        log.warning("webhook to %s failed: event=%s type=%s: %s", url, event.id, event.type, reason)
        return None, reason
    if response.is_success:
        return response.status_code, None
    reason = f"HTTP {response.status_code}"
    if response.text:
        reason += f": {response.text[:200]}"
    log.warning("webhook to %s answered %s: event=%s type=%s", url, response.status_code, event.id, event.type)
    return response.status_code, reason


def _record(uow: UnitOfWork, event_id: str, url: str, status_code: int | None, error: str | None, clock: Clock) -> None:
    with uow.begin() as session:
        send = session.get(IntegrationSend, (event_id, url), with_for_update=True)
        if send is None:
            send = IntegrationSend(event_id=event_id, url=url, status=FAILED)
        send.status = ACCEPTED if error is None else FAILED
        send.attempts += 1
        send.last_status_code = status_code
        send.last_error = error
        send.updated_at = clock()
        session.add(send)
        session.commit()
