"""A real SMTP server for tests (aiosmtpd), on a free local port, that keeps what it is sent.

    with smtp_server() as smtp:                       # plain SMTP, no AUTH
        ...configure email-smtp-host = smtp.host, email-smtp-port = smtp.port...
        [mail] = smtp.messages
        mail.recipients, mail.subject, mail.html

Options: `credentials=("user", "pass")` makes the server offer AUTH and accept only that pair (over
plain SMTP too); `tls="starttls"` offers STARTTLS, `tls="ssl"` speaks TLS from the first byte
(SMTPS), both with a self-signed certificate for localhost made by `self_signed_certificate` (the
client must trust it: point `SSL_CERT_FILE` at `smtp.cert_file`, see `trust_certificate`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Mail:
    """One delivered message: the SMTP envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, "no text/html part"
        return part.get_content()

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return part.get_content()

    def attachments(self) -> list[tuple[str, bytes, str]]:
        return [
            (part.get_filename() or "", part.get_content(), part.get_content_type())
            for part in self.message.iter_attachments()
        ]


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Mail] = field(default_factory=list)
    cert_file: Path | None = None

    def clear(self) -> None:
        self.messages.clear()

    def to(self, address: str) -> list[Mail]:
        """The messages whose envelope included `address`."""
        return [mail for mail in self.messages if address in mail.recipients]


class _Inbox:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.server.messages.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for `localhost` and 127.0.0.1, valid for a day; returns their files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextmanager
def smtp_server(
    *,
    credentials: tuple[str, str] | None = None,
    tls: str | None = None,
    cert_dir: Path | None = None,
) -> Iterator[SmtpServer]:
    """Run an SMTP server on 127.0.0.1 for the block. `tls` ("starttls" or "ssl") needs `cert_dir`."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    options: dict[str, Any] = {}
    if credentials is not None:

        def authenticate(
            _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == credentials
            )
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticate, auth_require_tls=False)
    if tls is not None:
        assert cert_dir is not None, "a TLS server needs cert_dir for its certificate"
        cert_file, key_file = self_signed_certificate(cert_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        server.cert_file = cert_file
        if tls == "ssl":
            options["ssl_context"] = context
        else:
            options["tls_context"] = context
    controller = Controller(_Inbox(server), hostname=server.host, port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def trust_certificate(monkeypatch: pytest.MonkeyPatch, server: SmtpServer) -> None:
    """Make the app's TLS connections trust the server's self-signed certificate (and only it)."""
    assert server.cert_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert_file))
