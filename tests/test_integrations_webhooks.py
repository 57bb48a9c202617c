"""Outbound integration webhooks against a real local HTTP server (DESIGN.md section 9)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from data.models import IntegrationSend
from integrations.webhooks import WebhookDeliveryFailed, make_integration_handler
from messaging.envelope import CloudEvent

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def real_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Endpoint:
    """A fake receiver: answers ``status`` to POSTs on its path; ``hold`` makes it hang."""

    status: int = 204
    hold: threading.Event | None = None
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


class Receiver:
    """A real HTTP server on 127.0.0.1 whose paths are ``Endpoint``s."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                endpoint = receiver.endpoints[self.path]
                endpoint.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if endpoint.hold is not None:
                    endpoint.hold.wait(5)
                self.send_response(endpoint.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"no")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str, **options) -> str:
        self.endpoints[path] = Endpoint(**options)
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            if endpoint.hold is not None:
                endpoint.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def an_event() -> CloudEvent:
    return CloudEvent(
        id="3f1c9a52-5c1e-4a57-9a52-0d0c1f2e3a4b",
        type="booking.confirmed",
        time=datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        data={"id": "b-1", "status": "confirmed", "resource_name": "Court 1"},
        subject="b-1",
    )


def sends(uow) -> dict[str, IntegrationSend]:
    with uow.begin() as session:
        rows = session.exec(select(IntegrationSend)).all()
        for row in rows:
            session.expunge(row)
        return {row.url: row for row in rows}


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_event_is_posted_as_signed_cloudevents_json(uow, receiver):
    url = receiver.url("/hook")
    handler = make_integration_handler(uow, [url], SECRET, real_clock)
    event = an_event()

    handler(event)

    [(headers, body)] = receiver.endpoints["/hook"].requests
    assert Webhook(SECRET).verify(body, headers) == event.to_dict()
    assert headers["webhook-id"] == event.id
    assert headers["content-type"] == "application/cloudevents+json"
    assert CloudEvent.from_json(body) == event
    row = sends(uow)[url]
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("accepted", 1, 204, None)


def test_endpoint_that_accepted_is_not_sent_again_when_another_fails(uow, receiver):
    good, bad = receiver.url("/good"), receiver.url("/bad", status=500)
    handler = make_integration_handler(uow, [good, bad], SECRET, real_clock)

    for _ in range(2):
        with pytest.raises(WebhookDeliveryFailed) as failure:
            handler(an_event())
        assert list(failure.value.failures) == [bad]
        assert bad in str(failure.value) and "HTTP 500" in str(failure.value)

    assert len(receiver.endpoints["/good"].requests) == 1
    assert len(receiver.endpoints["/bad"].requests) == 2
    rows = sends(uow)
    assert (rows[good].status, rows[good].attempts) == ("accepted", 1)
    assert (rows[bad].status, rows[bad].attempts, rows[bad].last_status_code) == ("failed", 2, 500)
    assert rows[bad].last_error == "HTTP 500: no"

    receiver.endpoints["/bad"].status = 200
    handler(an_event())
    assert len(receiver.endpoints["/good"].requests) == 1
    assert sends(uow)[bad].status == "accepted"


def test_timeout_and_refused_connection_fail_the_delivery(uow, receiver):
    slow = receiver.url("/slow", hold=threading.Event())
    refused = closed_port_url()
    handler = make_integration_handler(uow, [slow, refused], SECRET, real_clock, timeout_seconds=0.2)

    with pytest.raises(WebhookDeliveryFailed) as failure:
        handler(an_event())

    assert set(failure.value.failures) == {slow, refused}
    assert "Timeout" in failure.value.failures[slow]
    assert "ConnectError" in failure.value.failures[refused]
    rows = sends(uow)
    assert rows[slow].status == rows[refused].status == "failed"
    assert rows[slow].last_status_code is None


def test_no_configured_endpoints_means_nothing_to_do(uow):
    handler = make_integration_handler(uow, [], "", real_clock)

    handler(an_event())

    assert sends(uow) == {}
