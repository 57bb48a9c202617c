"""A tiny threaded JSON HTTP server on 127.0.0.1 for the provider fakes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """One request as the fake received it: ``query`` and ``form`` flattened (last value wins)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


Handler = Callable[[Request], tuple[int, Any]]


class FakeServer:
    """Serves ``handler(request) -> (status, JSON body or bytes)`` on a free loopback port; every
    request is kept in ``requests``. ``close()`` stops it."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[Request] = []
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so after close() the fake is really down.
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {key.lower(): value for key, value in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                fake.requests.append(request)
                status, body = handler(request)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815 (http.server's naming)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="fake-provider", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HeldAnswer:
    """Holds the answer of one request until ``release()`` (or ``limit`` seconds), so the client
    times out while the provider has done the work: "the answer was lost"."""

    def __init__(self, limit: float = 10.0) -> None:
        self.event = threading.Event()
        self.limit = limit
        self.reached = threading.Event()

    def wait(self) -> None:
        self.reached.set()
        self.event.wait(self.limit)

    def release(self) -> None:
        self.event.set()
