"""Payment providers behind one interface (``base.PaymentProvider``), built from settings."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from data.db import UnitOfWork
from payment.providers.base import PaymentProvider
from payment.providers.sandbox import SandboxGateway, SandboxProvider
from settings import Settings

log = logging.getLogger(__name__)

SANDBOX_WEBHOOK_PATH = "/api/webhooks/payments/sandbox"


def build_providers(
    settings: Settings, uow: UnitOfWork, clock: Callable[[], datetime]
) -> tuple[dict[str, PaymentProvider], SandboxGateway | None]:
    """The enabled providers by name, and the sandbox gateway (``None`` when
    ``BOOKING_SANDBOX_ENABLED=0``). Stripe and YooKassa join here when their adapters exist.

    The sandbox's webhooks go to ``{public_url}/api/webhooks/payments/sandbox``, signed with
    ``BOOKING_SANDBOX_WEBHOOK_SECRET``.
    """
    providers: dict[str, PaymentProvider] = {}
    gateway: SandboxGateway | None = None
    if settings.sandbox_enabled:
        secret = settings.sandbox_webhook_secret
        if not secret:  # load_settings() fills it; a hand-built Settings may not
            log.warning("BOOKING_SANDBOX_WEBHOOK_SECRET is empty; using a secret valid for this process only")
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        gateway = SandboxGateway(uow, clock, secret, f"{settings.public_url}{SANDBOX_WEBHOOK_PATH}")
        providers["sandbox"] = SandboxProvider(gateway, secret, settings.public_url)
    if settings.payment_provider not in providers:
        log.warning("the default payment provider %r is not enabled", settings.payment_provider)
    return providers, gateway
