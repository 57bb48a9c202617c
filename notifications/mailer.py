"""Mail channels of the Notification Service: the ``Mailer`` interface, the file and SMTP backends.

The file backend writes one RFC 5322 ``.eml`` file per message into a folder (by default
``{data_dir}/mail``); the SMTP backend sends through ``BOOKING_SMTP_URL`` (DESIGN.md sections 2,
4 and 9). ``make_mailer(settings)`` picks one of them; the composition root calls it.

``BOOKING_SMTP_URL`` forms (user and password are optional and percent-decoded, so a ``@`` in a
password is written ``%40``):

- ``smtp://user:pass@host:port``: plain SMTP (default port 25; a password would cross the
  network readable, so give one only with ``starttls=1`` or ``smtps://``);
- ``smtp://user:pass@host:port?starttls=1``: plain connection upgraded with ``STARTTLS``
  (default port 587); the upgrade is required, a server that does not offer it fails the send;
- ``smtps://user:pass@host:port``: implicit TLS from the first byte (default port 465).

Query options: ``starttls=1`` (``smtp://`` only); ``timeout=SECONDS`` for connecting and each
reply (default 30); ``cafile=/path/ca.pem`` trusts that CA (PEM) instead of the system's, for a
server with a private certificate; ``verify=0`` turns certificate and host name checks off. Keep
``verify`` on (the default) in production: ``verify=0`` is for self-signed test servers only and
lets anyone between us and the server read the mail and the password.
"""

from __future__ import annotations

import logging
import math
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

SETTING = "BOOKING_SMTP_URL"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Mailer(Protocol):
    """Sends a complete message (headers ``From``, ``To``, ``Subject``, ``Message-ID`` set).

    ``backend`` names the channel for the notifications log (``"file"``, ``"smtp"``). ``send``
    raises on failure (the delivery is then redelivered); sending a message with the same
    ``Message-ID`` again must be harmless to the receiver (at-least-once).
    """

    backend: str

    def send(self, message: EmailMessage) -> None: ...


class MailSettings(Protocol):
    """The part of ``settings.Settings`` that ``make_mailer`` reads."""

    smtp_url: str
    data_dir: Path


def make_mailer(settings: MailSettings) -> Mailer:
    """The mailer the settings ask for: ``SmtpMailer`` when ``BOOKING_SMTP_URL`` is set, else a
    ``FileMailer`` writing into ``{data_dir}/mail``.

    Raises ``ValueError`` naming ``BOOKING_SMTP_URL`` when the URL is malformed, so a bad setting
    stops the start instead of failing every mail later.
    """
    if settings.smtp_url.strip():
        return SmtpMailer(parse_smtp_url(settings.smtp_url))
    return FileMailer(Path(settings.data_dir) / "mail")


class FileMailer:
    """Writes each message to ``{folder}/{message id}.eml`` (CRLF line ends, RFC 5322).

    The file name comes from the ``Message-ID``, so a redelivered event overwrites its file
    instead of adding a second. The file appears whole (written to a temporary file, then
    renamed). Raises ``ValueError`` for a message without a ``Message-ID`` and ``OSError`` if
    the folder cannot be written.
    """

    backend = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, message_id: str) -> Path:
        """The file a message with ``message_id`` is written to."""
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip().strip("<>"))
        return self.folder / f"{name}.eml"

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` to its file, replacing an earlier copy with the same ``Message-ID``."""
        message_id = message["Message-ID"]
        if not message_id:
            raise ValueError("a message needs a Message-ID to be written to a file")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_for(str(message_id))
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(message.as_bytes(policy=policy.SMTP))
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


Security = Literal["plain", "starttls", "tls"]


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to reach the SMTP server, as parsed from ``BOOKING_SMTP_URL``.

    ``security``: ``plain`` (no TLS), ``starttls`` (upgrade required) or ``tls`` (implicit TLS).
    ``timeout`` is in seconds. ``verify`` checks the server's certificate and host name against
    ``cafile`` (PEM) or, without it, the system's trusted CAs. The password is left out of
    ``repr`` so it never reaches a log line.
    """

    host: str
    port: int
    security: Security = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    verify: bool = True
    cafile: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context for this server (verification on unless ``verify`` is false)."""
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse ``BOOKING_SMTP_URL`` (forms and options in this module's docstring).

    Raises ``ValueError`` with a message starting ``BOOKING_SMTP_URL:`` for an unknown scheme, a
    missing host, a bad port, an unknown option or a bad option value. The message never repeats
    the URL, which may hold a password.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{SETTING}: bad port or address ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"}:
        shown = f"{scheme!r}" if scheme else "none"
        raise ValueError(f"{SETTING}: unknown scheme {shown}; use smtp://host:port or smtps://host:port")
    if not parts.hostname:
        raise ValueError(f"{SETTING}: missing host, e.g. {scheme}://user:pass@mail.example.com:587")
    if port == 0:
        raise ValueError(f"{SETTING}: bad port 0; use 1-65535")
    if parts.path not in {"", "/"}:
        raise ValueError(f"{SETTING}: unexpected path {parts.path!r}; options go after '?'")

    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"starttls", "verify", "timeout", "cafile"})
    if unknown:
        raise ValueError(f"{SETTING}: unknown option {', '.join(unknown)}; known: starttls, verify, timeout, cafile")
    starttls = _flag(options, "starttls", default=False)
    if scheme == "smtps" and starttls:
        raise ValueError(f"{SETTING}: smtps:// is TLS from the start; starttls=1 belongs to smtp://")
    security: Security = "tls" if scheme == "smtps" else "starttls" if starttls else "plain"

    timeout = DEFAULT_TIMEOUT_SECONDS
    if "timeout" in options:
        try:
            timeout = float(options["timeout"])
        except ValueError:
            timeout = math.nan
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"{SETTING}: timeout must be a positive number of seconds, got {options['timeout']!r}")
    cafile = options.get("cafile") or None
    if cafile is not None and not Path(cafile).is_file():
        raise ValueError(f"{SETTING}: cafile {cafile!r} is not a file")

    return SmtpConfig(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[security],
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout,
        verify=_flag(options, "verify", default=True),
        cafile=cafile,
    )


def _flag(options: dict[str, str], name: str, *, default: bool) -> bool:
    if name not in options:
        return default
    value = options[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{SETTING}: {name} must be 1 or 0, got {options[name]!r}")


class MailDeliveryError(Exception):
    """The SMTP server could not be reached or did not accept a message.

    The message names the server and the ``Message-ID``, never the password; the original error
    is the ``__cause__``. Raised from ``SmtpMailer.send`` so the delivery is redelivered.
    """


class SmtpMailer:
    """Sends each message over one SMTP connection of its own (connect, TLS, AUTH, send, QUIT).

    The message goes out as built (``From``, ``To``, ``Subject`` and the ``Message-ID`` derived
    from the event stay as they are); the envelope sender and recipients come from its headers.
    ``ssl_context`` replaces the context built from the configuration (tests pass one trusting
    their own CA). ``send`` raises ``MailDeliveryError`` when the server is unreachable, the TLS
    handshake or certificate check fails, AUTH is refused, or any recipient is refused.
    """

    backend = "smtp"

    def __init__(
        self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None, local_hostname: str | None = None
    ) -> None:
        self.config = config
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

    @classmethod
    def from_url(
        cls, url: str, *, ssl_context: ssl.SSLContext | None = None, local_hostname: str | None = None
    ) -> SmtpMailer:
        """An ``SmtpMailer`` for ``BOOKING_SMTP_URL`` (``ValueError`` if the URL is bad)."""
        return cls(parse_smtp_url(url), ssl_context=ssl_context, local_hostname=local_hostname)

    def __repr__(self) -> str:
        return f"SmtpMailer({self.config!r})"

    def send(self, message: EmailMessage) -> None:
        """Send ``message``; raises ``MailDeliveryError`` unless the server accepted it for every
        recipient."""
        config = self.config
        message_id = str(message["Message-ID"] or "")
        try:
            with self._connect() as smtp:
                if config.security == "starttls":
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if config.username:
                    smtp.login(config.username, config.password or "")
                refused = smtp.send_message(message)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
        except (smtplib.SMTPException, OSError) as error:
            raise MailDeliveryError(
                f"SMTP {config.host}:{config.port} ({config.security}) did not take {message_id or 'the message'}: "
                f"{type(error).__name__}: {error}"
            ) from error
        log.debug("smtp %s:%s accepted %s", config.host, config.port, message_id)

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        if config.security == "tls":
            return smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=self._local_hostname,
                timeout=config.timeout,
                context=self._context(),
            )
        return smtplib.SMTP(config.host, config.port, local_hostname=self._local_hostname, timeout=config.timeout)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else self.config.ssl_context()
