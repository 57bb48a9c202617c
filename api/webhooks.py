"""``POST /api/webhooks/payments/{provider}``: the payment provider's webhook (seed step 9).

The body is read raw, as sent: the signature covers the exact bytes (DESIGN.md section 5). The
sender's address is handed to the provider too: YooKassa's notifications carry no signature and
are accepted only from its published ranges.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.problems import problem_responses
from payment.service import handle_webhook
from system import System

log = logging.getLogger(__name__)


def trusted_networks(cidrs: Iterable[str]) -> list[IPv4Network | IPv6Network]:
    """``BOOKING_TRUSTED_PROXIES`` as networks (a bare address is a /32 or /128); a malformed
    entry is logged and left out, so it trusts nothing."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ip_network(cidr.strip(), strict=False))
        except ValueError:
            log.error("BOOKING_TRUSTED_PROXIES: %r is not an address or CIDR; ignored", cidr)
    return networks


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[IPv4Network | IPv6Network]) -> str | None:
    """The client's address: the direct ``peer``, unless the peer is a trusted proxy, in which
    case ``X-Forwarded-For`` is read from the right, skipping trusted proxies, and the first
    address not trusted is the client (the left part of the header is the client's to forge).
    """
    if not peer or not _trusted(peer, trusted) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, trusted: list[IPv4Network | IPv6Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed.version == network.version and parsed in network for network in trusted)


def make_router(system: System) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["webhooks"], responses=problem_responses(422))
    trusted = trusted_networks(system.settings.trusted_proxies)

    @router.post(
        "/webhooks/payments/{provider}",
        summary="A payment provider's webhook",
        responses=problem_responses(400, 404),
    )
    async def payment_webhook(provider: str, request: Request) -> dict:
        """200 ``{"outcome": "applied" | "duplicate" | "ignored" | "error"}`` for every verified
        webhook (one that cannot be applied is stored and logged, so the provider stops
        retrying); 400 ``bad_signature`` (also: a YooKassa notification from outside its
        address ranges) / ``invalid_payload``; 404 unknown provider; 502 ``provider_error``
        when the provider's API, asked to confirm, did not answer (the provider retries)."""
        raw_body = await request.body()
        peer = request.client.host if request.client else None
        client_ip = client_address(peer, request.headers.get("x-forwarded-for"), trusted)
        outcome = await run_in_threadpool(
            lambda: handle_webhook(
                system.uow,
                system.providers,
                provider,
                raw_body,
                dict(request.headers),
                system.now(),
                client_ip=client_ip,
            )
        )
        if outcome == "applied":
            system.events_committed()
        return {"outcome": outcome}

    return router
