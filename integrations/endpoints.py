"""Outbound webhook endpoints: those of ``BOOKING_INTEGRATION_WEBHOOK_URLS`` (trusted) plus those
added in the dashboard, which must point to public addresses (DESIGN.md section 9: no loopback,
private, link-local or otherwise reserved address, against server-side request forgery)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from data.db import UnitOfWork
from data.models import IntegrationEndpoint
from domain.errors import NotFound, ValidationProblem

Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6); ``[]`` if it does not resolve."""
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except socket.gaierror:
        return []


def check_public_url(url: str, resolve: Resolver = resolve_host) -> str:
    """Return ``url`` if it is an http(s) URL whose host resolves only to public addresses.

    Raises ``ValidationProblem`` (field ``url``) naming what is wrong: scheme, credentials in the
    URL, a host that does not resolve, or an address that is loopback, private, link-local,
    multicast, reserved or unspecified. Every resolved address is checked, so a name that points
    to both a public and a private address is refused.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationProblem("the endpoint must be an http:// or https:// URL with a host", field="url")
    if parts.username or parts.password:
        raise ValidationProblem("the endpoint URL may not carry credentials", field="url")
    addresses = resolve(parts.hostname)
    if not addresses:
        raise ValidationProblem(f"the host {parts.hostname!r} does not resolve", field="url")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ValidationProblem(
                f"{parts.hostname} resolves to {address}, which is not a public address", field="url"
            )
    return url.strip()


def add_endpoint(uow: UnitOfWork, url: str, description: str, now: datetime, resolve: Resolver = resolve_host) -> dict:
    """Add a dashboard endpoint after ``check_public_url``; raises ``ValidationProblem``."""
    url = check_public_url(url, resolve)
    with uow.begin() as session:
        endpoint = IntegrationEndpoint(url=url, description=description.strip()[:200], created_at=now)
        session.add(endpoint)
        try:
            session.commit()
        except IntegrityError:
            raise ValidationProblem("this endpoint is already configured", field="url") from None
        return endpoint_view(endpoint)


def remove_endpoint(uow: UnitOfWork, endpoint_id: int) -> None:
    """Delete a dashboard endpoint; raises ``NotFound``."""
    with uow.begin() as session:
        endpoint = session.get(IntegrationEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFound(f"endpoint {endpoint_id} does not exist", field="id")
        session.delete(endpoint)
        session.commit()


def list_endpoints(uow: UnitOfWork) -> list[dict]:
    """Dashboard endpoints as ``{id, url, description, active, created_at}``."""
    with uow.begin() as session:
        return [endpoint_view(e) for e in session.exec(select(IntegrationEndpoint).order_by(IntegrationEndpoint.id))]


def endpoint_view(endpoint: IntegrationEndpoint) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "active": endpoint.active,
        "created_at": endpoint.created_at.isoformat(),
    }


def all_urls(uow: UnitOfWork, configured: list[str]) -> Callable[[], list[str]]:
    """A function giving the environment's URLs plus the active dashboard endpoints, read afresh
    on every call (the Integration Service calls it per event)."""

    def urls() -> list[str]:
        with uow.begin() as session:
            extra = session.exec(select(IntegrationEndpoint.url).where(IntegrationEndpoint.active)).all()
        return list(dict.fromkeys([*configured, *extra]))

    return urls
