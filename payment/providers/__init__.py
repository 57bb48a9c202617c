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
from payment.providers.stripe import StripeProvider
from payment.providers.yookassa import YooKassaProvider
from settings import Settings

log = logging.getLogger(__name__)

SANDBOX_WEBHOOK_PATH = "/api/webhooks/payments/sandbox"


def build_providers(
    settings: Settings, uow: UnitOfWork, clock: Callable[[], datetime]
) -> tuple[dict[str, PaymentProvider], SandboxGateway | None]:
    """The enabled providers by name, and the sandbox gateway (``None`` when
    ``BOOKING_SANDBOX_ENABLED=0``). Every provider with credentials is enabled (DESIGN.md
    section 4): Stripe with ``BOOKING_STRIPE_API_KEY`` (its webhooks need
    ``BOOKING_STRIPE_WEBHOOK_SECRET``), YooKassa with ``BOOKING_YOOKASSA_SHOP_ID`` and
    ``BOOKING_YOOKASSA_SECRET_KEY``.

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
    if settings.stripe_api_key:
        if not settings.stripe_webhook_secret:
            log.warning("BOOKING_STRIPE_WEBHOOK_SECRET is empty: every Stripe webhook will be rejected")
        providers["stripe"] = StripeProvider(
            settings.stripe_api_key, settings.stripe_webhook_secret, settings.stripe_api_base
        )
    if settings.yookassa_shop_id and settings.yookassa_secret_key:
        providers["yookassa"] = YooKassaProvider(
            settings.yookassa_shop_id,
            settings.yookassa_secret_key,
            settings.yookassa_api_base,
            receipts=settings.yookassa_receipts,
        )
    elif settings.yookassa_shop_id or settings.yookassa_secret_key:
        log.warning("YooKassa needs both BOOKING_YOOKASSA_SHOP_ID and BOOKING_YOOKASSA_SECRET_KEY; it is off")
    if settings.payment_provider not in providers:
        log.warning("the default payment provider %r is not enabled", settings.payment_provider)
    return providers, gateway
