"""The transport interface: what the composition root needs of a broker (embedded or AMQP).

Handlers never see a transport; every transport runs them through ``consumer.run_delivery``.
"""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    """Carries committed outbox events to the consumers.

    ``start()`` begins publishing and consuming in background threads; ``stop()`` ends them,
    waiting a few seconds at most; ``notify()`` says "events were just committed", so the
    outbox is published now instead of at the next poll. All three are safe to call from any
    thread; ``notify()`` never blocks.
    """

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def notify(self) -> None: ...
