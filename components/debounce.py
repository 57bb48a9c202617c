"""Coalesce bursts of live events into one refresh per screen.

A settled payment publishes ``payment.succeeded`` and ``booking.confirmed`` back to back, and a
relay catching up may publish dozens at once; each open screen should re-read its data once per
burst, not once per event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

DEFAULT_DELAY_SECONDS = 0.15


def debounced(
    action: Callable[[], Awaitable[None]], delay: float = DEFAULT_DELAY_SECONDS
) -> Callable[[], Awaitable[None]]:
    """An async trigger that runs ``action`` once, ``delay`` seconds after the first trigger of a
    burst; triggers arriving while one is scheduled join it. A trigger arriving while ``action``
    runs schedules one more run, so the last change is never missed.

    Pass the trigger to ``system.live.subscribe`` inside a page: NiceGUI runs it as a task in the
    page's context, and unsubscribes it when the page's client goes.
    """
    scheduled = False

    async def trigger() -> None:
        nonlocal scheduled
        if scheduled:
            return
        scheduled = True
        try:
            await asyncio.sleep(delay)
        finally:
            scheduled = False
        await action()

    return trigger
