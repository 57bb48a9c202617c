"""The SMTP mail backend against real SMTP servers on loopback (aiosmtpd), DESIGN.md sections 4
and 9, issue 3 deliverable 5: plain SMTP, STARTTLS and implicit TLS, AUTH, certificate checks,
a stable ``Message-ID`` across redeliveries, and failures that raise so the delivery is retried.

Certificates come from a throw-away CA made by ``trustme`` for this test session."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import select

from data.models import MailMessage
from notifications.handlers import make_notification_handler
from notifications.mailer import FileMailer, MailDeliveryError, SmtpConfig, SmtpMailer, make_mailer, parse_smtp_url
from settings import Settings, SettingsError, load_settings
from tests.support import free_port
from tests.test_notifications_mail import BOOKING_ID, MAIL_FROM, PUBLIC_URL, booking_view, event_of

pytestmark = pytest.mark.filterwarnings(
    # aiosmtpd 1.4 warns for the implicit-TLS server: it counts only STARTTLS as encryption.
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)

HOST = "127.0.0.1"
USER = "desk@example.test"
PASSWORD = "p@ss:w/rd"
USER_IN_URL = "desk%40example.test"
PASSWORD_IN_URL = "p%40ss%3Aw%2Frd"


@dataclass
class Received:
    """One message as the server got it: envelope, parsed message, and how the session looked."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: bytes | None


@dataclass
class Inbox:
    """aiosmtpd handler keeping every message it accepts (appended before the server answers 250,
    so a returned ``send`` has its message here already)."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        tls = server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login if session.authenticated else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, tls, login))
        return "250 OK queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """Accept ``USER``/``PASSWORD`` only; remember every attempt."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class Server:
    """A running SMTP server on ``HOST:port`` and what it received."""

    port: int
    inbox: Inbox


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca) -> ssl.SSLContext:
    """The servers' TLS context: a certificate for 127.0.0.1 and localhost signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca) -> ssl.SSLContext:
    """A client context trusting ``ca`` (and verifying, as the default does)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def run_server(**options) -> Iterator[Server]:
    inbox = Inbox()
    if "authenticator" in options:
        options["authenticator"] = inbox.authenticate
    port = free_port()
    controller = Controller(inbox, hostname=HOST, port=port, server_hostname="smtp.test", **options)
    controller.start()
    try:
        yield Server(port, inbox)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def plain_server() -> Iterator[Server]:
    """Plain SMTP, no TLS, no AUTH."""
    yield from run_server()


@pytest.fixture(scope="module")
def starttls_server(server_tls) -> Iterator[Server]:
    """STARTTLS required before MAIL; AUTH required, offered only after STARTTLS."""
    yield from run_server(
        tls_context=server_tls, require_starttls=True, authenticator=True, auth_required=True, auth_require_tls=True
    )


@pytest.fixture(scope="module")
def tls_server(server_tls) -> Iterator[Server]:
    """Implicit TLS from the first byte; AUTH required. aiosmtpd 1.4 counts only STARTTLS as
    encryption for ``auth_require_tls``, so it is off here; the whole connection is TLS anyway."""
    yield from run_server(ssl_context=server_tls, authenticator=True, auth_required=True, auth_require_tls=False)


@pytest.fixture(autouse=True)
def empty_inboxes(request) -> None:
    for name in ("plain_server", "starttls_server", "tls_server"):
        if name in request.fixturenames:
            inbox = request.getfixturevalue(name).inbox
            inbox.received.clear()
            inbox.logins.clear()


@pytest.fixture
def database_url(tmp_path) -> str:
    """The mail log is covered on both databases elsewhere; SQLite suffices here."""
    return f"sqlite:///{tmp_path}/booking.db"


def handler_with(uow, clock, mailer):
    return make_notification_handler(uow, mailer, public_url=PUBLIC_URL, mail_from=MAIL_FROM, clock=clock)


def a_message(message_id: str = "<evt-1@desk.example.test>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = MAIL_FROM
    message["To"] = "Guest Person <guest@example.test>"
    message["Subject"] = "Проверка связи"
    message["Message-ID"] = message_id
    message.set_content("Здравствуйте!\n")
    return message


def logged(uow) -> list[tuple[str, str]]:
    with uow.begin() as session:
        return [(row.message_id, row.backend) for row in session.exec(select(MailMessage)).all()]


# --- sending through real servers -----------------------------------------------------------


def test_plain_smtp_delivers_the_booking_mail_with_its_headers(uow, clock, plain_server):
    mailer = SmtpMailer.from_url(f"smtp://{HOST}:{plain_server.port}")
    event = event_of("booking.created", booking_view())

    handler_with(uow, clock, mailer)(event)

    [got] = plain_server.inbox.received
    assert got.mail_from == "no-reply@desk.example.test"
    assert got.rcpt_tos == ["guest@example.test"]
    assert got.message["From"] == MAIL_FROM
    assert got.message["To"] == "Guest Person <guest@example.test>"
    assert "Court 1" in got.message["Subject"]
    assert got.message["Message-ID"] == f"<{event.id}@desk.example.test>"
    assert f"{PUBLIC_URL}/pay/{BOOKING_ID}" in got.message.get_body(("plain",)).get_content()
    assert not got.tls
    assert logged(uow) == [(f"<{event.id}@desk.example.test>", "smtp")]


def test_redelivered_event_sends_the_same_message_id_again(uow, clock, plain_server):
    handle = handler_with(uow, clock, SmtpMailer.from_url(f"smtp://{HOST}:{plain_server.port}"))
    event = event_of("booking.confirmed", booking_view(status="confirmed"))

    handle(event)
    handle(event)  # the broker redelivers: at least once, with a stable id receivers can drop

    ids = [got.message["Message-ID"] for got in plain_server.inbox.received]
    assert ids == [f"<{event.id}@desk.example.test>"] * 2
    assert len(logged(uow)) == 1


def test_russian_mail_arrives_intact_over_smtp(uow, clock, plain_server):
    handle = handler_with(uow, clock, SmtpMailer.from_url(f"smtp://{HOST}:{plain_server.port}"))

    handle(event_of("booking.created", booking_view(locale="ru", customer={"name": "Анна", "email": "a@example.test"})))

    [got] = plain_server.inbox.received
    assert got.message["Subject"].startswith("Оплатите бронирование «Court 1»")
    assert got.message["To"] == "Анна <a@example.test>"
    assert "1\u00a0500,00\u00a0₽" in got.message.get_body(("plain",)).get_content()


def test_starttls_with_auth_verifies_the_server_against_a_given_ca(starttls_server, ca_file):
    url = f"smtp://{USER_IN_URL}:{PASSWORD_IN_URL}@{HOST}:{starttls_server.port}?starttls=1&cafile={ca_file}"
    mailer = SmtpMailer.from_url(url)

    mailer.send(a_message())

    [got] = starttls_server.inbox.received
    assert got.tls and got.login == USER.encode()
    assert starttls_server.inbox.logins == [(USER.encode(), PASSWORD.encode())]  # percent-decoded
    assert got.message["Message-ID"] == "<evt-1@desk.example.test>"
    assert got.message["Subject"] == "Проверка связи"


def test_implicit_tls_with_auth_through_the_notification_handler(uow, clock, tls_server, client_tls):
    url = f"smtps://{USER_IN_URL}:{PASSWORD_IN_URL}@{HOST}:{tls_server.port}"
    handle = handler_with(uow, clock, SmtpMailer.from_url(url, ssl_context=client_tls))
    event = event_of("booking.cancelled", booking_view(status="cancelled"))

    handle(event)
    handle(event)

    received = tls_server.inbox.received
    assert [got.tls for got in received] == [True, True]
    assert [got.login for got in received] == [USER.encode()] * 2
    assert [got.message["Message-ID"] for got in received] == [f"<{event.id}@desk.example.test>"] * 2
    assert received[0].message["To"] == "Guest Person <guest@example.test>"
    assert "cancelled" in received[0].message["Subject"]


def test_certificates_are_verified_by_default(tls_server):
    mailer = SmtpMailer.from_url(f"smtps://{USER_IN_URL}:{PASSWORD_IN_URL}@{HOST}:{tls_server.port}")

    with pytest.raises(MailDeliveryError, match="CERTIFICATE_VERIFY_FAILED") as raised:
        mailer.send(a_message())

    assert isinstance(raised.value.__cause__, ssl.SSLCertVerificationError)
    assert tls_server.inbox.received == []


def test_verify_0_accepts_a_self_signed_test_server(tls_server):
    mailer = SmtpMailer.from_url(f"smtps://{USER_IN_URL}:{PASSWORD_IN_URL}@{HOST}:{tls_server.port}?verify=0")

    mailer.send(a_message())

    assert [got.message["Message-ID"] for got in tls_server.inbox.received] == ["<evt-1@desk.example.test>"]


def test_wrong_password_fails_the_send_without_showing_it(tls_server, client_tls):
    mailer = SmtpMailer.from_url(f"smtps://{USER_IN_URL}:wrong-secret@{HOST}:{tls_server.port}", ssl_context=client_tls)

    with pytest.raises(MailDeliveryError, match="SMTPAuthenticationError") as raised:
        mailer.send(a_message())

    assert "wrong-secret" not in str(raised.value) and "wrong-secret" not in repr(mailer)
    assert tls_server.inbox.received == []


def test_starttls_never_falls_back_to_plain(plain_server):
    mailer = SmtpMailer.from_url(f"smtp://{HOST}:{plain_server.port}?starttls=1")

    with pytest.raises(MailDeliveryError, match="STARTTLS"):
        mailer.send(a_message())

    assert plain_server.inbox.received == []


def test_plain_client_is_refused_by_a_server_requiring_starttls(starttls_server):
    with pytest.raises(MailDeliveryError):
        SmtpMailer.from_url(f"smtp://{HOST}:{starttls_server.port}").send(a_message())

    assert starttls_server.inbox.received == []


def test_closed_port_fails_the_delivery_and_logs_nothing(uow, clock):
    mailer = SmtpMailer.from_url(f"smtp://{HOST}:{free_port()}?timeout=5")
    handle = handler_with(uow, clock, mailer)

    with pytest.raises(MailDeliveryError, match="ConnectionRefusedError"):
        handle(event_of("booking.created", booking_view()))

    assert logged(uow) == []


def test_a_silent_server_fails_the_send_after_the_timeout():
    with socket.create_server((HOST, 0), backlog=1) as listener:  # accepts TCP, never says a word
        mailer = SmtpMailer.from_url(f"smtp://{HOST}:{listener.getsockname()[1]}?timeout=0.3")

        with pytest.raises(MailDeliveryError, match="timed out"):
            mailer.send(a_message())


# --- BOOKING_SMTP_URL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.test", SmtpConfig("mail.example.test", 25, "plain")),
        ("smtp://mail.example.test:2525", SmtpConfig("mail.example.test", 2525, "plain")),
        ("smtp://mail.example.test?starttls=1", SmtpConfig("mail.example.test", 587, "starttls")),
        ("smtp://u:p@mail.example.test:587?starttls=true", SmtpConfig("mail.example.test", 587, "starttls", "u", "p")),
        ("smtps://mail.example.test", SmtpConfig("mail.example.test", 465, "tls")),
        (
            f"smtps://{USER_IN_URL}:{PASSWORD_IN_URL}@[::1]:4650/?verify=0&timeout=2.5",
            SmtpConfig("::1", 4650, "tls", USER, PASSWORD, timeout=2.5, verify=False),
        ),
        ("SMTP://user@mail.example.test", SmtpConfig("mail.example.test", 25, "plain", "user", None)),
        ("smtp://:secret@mail.example.test", SmtpConfig("mail.example.test", 25, "plain", None, "secret")),
    ],
)
def test_smtp_url_forms(url, expected):
    config = parse_smtp_url(url)
    assert config == expected
    assert "password" not in repr(config)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://mail.example.test", "unknown scheme 'http'"),
        ("mail.example.test:25", "unknown scheme"),
        ("smtp://", "missing host"),
        ("smtp://u:secret@:25", "missing host"),
        ("smtp://mail.example.test:abc", "bad port"),
        ("smtp://mail.example.test:70000", "bad port"),
        ("smtp://mail.example.test:0", "bad port"),
        ("smtp://mail.example.test?startls=1", "unknown option startls"),
        ("smtps://mail.example.test?starttls=1", "starttls=1 belongs to smtp://"),
        ("smtp://mail.example.test?verify=maybe", "verify must be 1 or 0"),
        ("smtp://mail.example.test?timeout=-1", "timeout must be a positive number"),
        ("smtp://mail.example.test?timeout=nan", "timeout must be a positive number"),
        ("smtp://mail.example.test?cafile=/no/such/ca.pem", "is not a file"),
        ("smtp://mail.example.test/inbox", "unexpected path"),
    ],
)
def test_bad_smtp_url_is_refused_naming_the_setting(url, complaint):
    with pytest.raises(ValueError, match="^BOOKING_SMTP_URL: ") as raised:
        parse_smtp_url(url)
    assert complaint in str(raised.value)
    assert "secret" not in str(raised.value)


def test_make_mailer_picks_smtp_when_the_url_is_set_else_files(tmp_path):
    files = make_mailer(Settings(smtp_url="", data_dir=tmp_path))
    smtp = make_mailer(Settings(smtp_url="smtps://u:p@mail.example.test", data_dir=tmp_path))

    assert isinstance(files, FileMailer) and files.backend == "file" and files.folder == tmp_path / "mail"
    assert isinstance(smtp, SmtpMailer) and smtp.backend == "smtp"
    assert smtp.config == SmtpConfig("mail.example.test", 465, "tls", "u", "p")
    with pytest.raises(SettingsError, match="^BOOKING_SMTP_URL: "):  # a bad URL stops the start
        load_settings(smtp_url="smtp//mail.example.test", data_dir=tmp_path)
