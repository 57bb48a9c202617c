"""Settings of Booking Desk, read from ``BOOKING_*`` environment variables and a ``.env`` file.

The names, defaults and meanings are the contract of DESIGN.md section 4. ``load_settings()`` is
the only place that reads the environment; everything else receives a ``Settings`` object from
the composition root (``app.py``).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


class Settings(BaseSettings):
    """All settings of one process. Durations are seconds (floats allowed); URLs are strings."""

    model_config = SettingsConfigDict(env_prefix="BOOKING_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_url: str = ""
    data_dir: Path = Path("./var")
    database_url: str = ""
    amqp_url: str = ""

    payment_provider: Literal["sandbox", "stripe", "yookassa"] = "sandbox"
    sandbox_enabled: bool = True
    sandbox_webhook_secret: str = ""
    stripe_api_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    yookassa_shop_id: str = ""
    yookassa_secret_key: str = ""
    yookassa_api_base: str = "https://api.yookassa.ru"
    yookassa_receipts: bool = False
    trusted_proxies: CommaList = []

    hold_seconds: float = Field(900, gt=0)
    expiry_interval_seconds: float = Field(10, gt=0)
    reconcile_interval_seconds: float = Field(60, gt=0)
    reconcile_after_seconds: float = Field(120, ge=0)
    max_redeliveries: int = Field(3, ge=0)
    retry_delays_seconds: CommaList = ["5", "30", "120"]

    smtp_url: str = ""
    mail_from: str = "Booking Desk <no-reply@localhost>"
    integration_webhook_urls: CommaList = []
    integration_webhook_secret: str = ""

    admin_password: str = ""
    locale: Literal["en", "ru"] = "en"
    timezone: str = "UTC"
    storage_secret: str = ""
    background: bool = True
    return_url_hosts: CommaList = []
    demo_data: bool = True

    @field_validator("trusted_proxies", "integration_webhook_urls", "return_url_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        import socket

        try:
            socket.getaddrinfo(value, None)
        except (socket.gaierror, UnicodeError):
            raise ValueError(f"{value!r} is not an address this machine can listen on") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not _is_http_url(value):
            raise ValueError("must be an http:// or https:// URL with a host, e.g. https://desk.example.com")
        return value

    @field_validator("integration_webhook_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not _is_http_url(url):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return value

    @field_validator("return_url_hosts")
    @classmethod
    def _hostnames(cls, value: list[str]) -> list[str]:
        import re

        for host in value:
            if not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]+)?", host):
                raise ValueError(f"{host!r} is not a host name")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        from email.utils import parseaddr

        if "@" not in parseaddr(value)[1]:
            raise ValueError("must be an address like 'Booking Desk <no-reply@example.com>'")
        return value

    @field_validator("amqp_url")
    @classmethod
    def _amqp_url(cls, value: str) -> str:
        if value and not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must start with amqp:// or amqps://")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(value).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise ValueError(
                "is not a database URL SQLAlchemy can use (sqlite:///..., postgresql+psycopg://...)"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for part in value:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or CIDR") from None
        return value

    @field_validator("retry_delays_seconds", mode="before")
    @classmethod
    def _split_delays(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            if not value:
                raise ValueError("needs at least one delay, e.g. 5,30,120")
            for part in value:
                try:
                    delay = float(part)
                except (TypeError, ValueError):
                    raise ValueError(f"{part!r} is not a number of seconds") from None
                if delay < 0:
                    raise ValueError(f"{part!r} is negative")
        return [str(part) for part in value] if isinstance(value, list) else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value:
            from notifications.mailer import parse_smtp_url

            try:
                parse_smtp_url(value)
            except ValueError as error:
                raise ValueError(str(error).removeprefix("BOOKING_SMTP_URL: ")) from None
        return value

    @field_validator("sandbox_webhook_secret", "integration_webhook_secret")
    @classmethod
    def _whsec(cls, value: str) -> str:
        if value and not value.startswith("whsec_"):
            raise ValueError("must start with 'whsec_' (Standard Webhooks secret)")
        return value

    @model_validator(mode="after")
    def _derived_defaults(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir}/booking.db"
        return self

    @property
    def retry_delays(self) -> list[float]:
        """Delays before redelivery 1, 2, 3, ... in seconds; the last one repeats."""
        return [float(part) for part in self.retry_delays_seconds]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_secrets(self) -> None:
        """Fill secrets left empty with values generated once and kept in ``data_dir/secrets``.

        Creates ``data_dir`` if needed. The files are created with mode 0600.
        """
        folder = self.data_dir / "secrets"
        folder.mkdir(parents=True, exist_ok=True)
        generated = {
            "sandbox_webhook_secret": lambda: "whsec_" + _b64(secrets.token_bytes(24)),
            "integration_webhook_secret": lambda: "whsec_" + _b64(secrets.token_bytes(24)),
            "storage_secret": lambda: secrets.token_urlsafe(32),
        }
        for name, make in generated.items():
            if getattr(self, name):
                continue
            path = folder / name
            if not path.exists():
                path.touch(mode=0o600)
                path.write_text(make())
            setattr(self, name, path.read_text().strip())


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``.env``), with ``overrides`` taking precedence.

    Raises ``SettingsError`` with one line such as
    ``BOOKING_PORT: Input should be a valid integer (got 'abc')``.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        got = first.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"BOOKING_{field.upper()}: {message}{shown}") from None
    settings.ensure_secrets()
    return settings


def load_settings_or_exit(**overrides: object) -> Settings:
    """Like ``load_settings`` but prints the one-line error to stderr and exits with status 2."""
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
