"""Live updates for open screens (DESIGN.md section 6, "Live dashboard").

The relay and consumers run on background threads; NiceGUI objects are not thread-safe. The hub
hands each published event to the event loop with ``loop.call_soon_threadsafe`` and fires a
``nicegui.Event`` there; pages subscribe inside their UI context, so a closed page unsubscribes
itself (no growth per client).
"""

from __future__ import annotations

import asyncio
import logging

from nicegui import Event

from messaging.envelope import CloudEvent

log = logging.getLogger(__name__)


class LiveHub:
    """Thread-safe fan-out of ``CloudEvent``s to subscribers on the UI event loop."""

    def __init__(self) -> None:
        self.event: Event[CloudEvent] = Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the UI event loop (called from ``app.on_startup``)."""
        self._loop = loop

    def publish(self, event: CloudEvent) -> None:
        """Callable from any thread; a no-op until a loop is attached or after it closed."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.event.emit, event)
        except RuntimeError:  # the loop closed between the check and the call (shutdown)
            log.debug("live event %s dropped: event loop closed", event.id)

    def subscribe(self, callback) -> None:
        """Subscribe ``callback(event)`` from within a page; it is dropped when the page's client goes."""
        self.event.subscribe(callback)
