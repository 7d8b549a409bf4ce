"""Mail over SMTP with the `email-smtp-*` settings, and the connection test behind `PUT /api/email`.

The security modes mean what they mean in Metabase (postal over JavaMail): "none" is plain SMTP, "tls"
upgrades with STARTTLS when the server offers it, "starttls" requires STARTTLS, "ssl" speaks TLS from
the first byte (SMTPS). Certificates are checked against the system's trust store; `SSL_CERT_FILE`
points OpenSSL at another bundle (a private CA). As JavaMail does, credentials are only sent when the
server offers AUTH.

Nothing here holds a lock: callers should not keep a SQLite write transaction open across `send_mail`,
which talks to the network.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from sqlalchemy.orm import Session

from querybase.settings.registry import Settings

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "ssl", "tls", "starttls")
# The order Metabase tries other modes in when the one given does not connect.
GUESS_ORDER = ("tls", "starttls", "ssl")
# Between guesses: some providers (Outlook.com) ban clients that reconnect too fast.
GUESS_DELAY_SECONDS = 0.5
TEST_TIMEOUT_SECONDS = 4.0
SEND_TIMEOUT_SECONDS = 30.0

WRONG_HOST = "Wrong host or port"
WRONG_CREDENTIALS = "Wrong username or password"
CONNECTION_ERROR = {"errors": {"email-smtp-host": WRONG_HOST, "email-smtp-port": WRONG_HOST}}
CREDENTIALS_ERROR = {
    "errors": {"email-smtp-username": WRONG_CREDENTIALS, "email-smtp-password": WRONG_CREDENTIALS}
}


class MailError(Exception):
    """Mail could not be sent or the server could not be reached. `body` is Metabase's 400 body for it:
    per-field errors for a wrong host or wrong credentials, else `{"message": "Sorry, ..."}`."""

    def __init__(self, message: str, body: Any) -> None:
        super().__init__(message)
        self.body = body


class EmailNotConfigured(MailError):
    """No SMTP host is set: nothing can be sent."""

    def __init__(self) -> None:
        super().__init__("SMTP host is not set.", WRONG_HOST)


def _sorry(message: str) -> MailError:
    return MailError(message, {"message": f"Sorry, something went wrong. Please try again. Error: {message}"})


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int | None = None
    security: str = "none"
    username: str | None = None
    password: str | None = None

    @property
    def effective_port(self) -> int:
        """Without a port, JavaMail's defaults: 465 for SMTPS, else 25."""
        if self.port:
            return self.port
        return 465 if self.security == "ssl" else 25

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """The configuration in force; EmailNotConfigured without a host."""
        host = settings.get("email-smtp-host")
        if not host:
            raise EmailNotConfigured()
        return cls(
            host=host,
            port=settings.get("email-smtp-port"),
            security=settings.get("email-smtp-security") or "none",
            username=settings.get("email-smtp-username"),
            password=settings.get("email-smtp-password"),
        )


def _connect(config: SmtpConfig, timeout: float) -> smtplib.SMTP:
    """An open, secured and (when the server offers AUTH) authenticated connection, or MailError."""
    context = ssl.create_default_context()
    port = config.effective_port
    try:
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, port, timeout=timeout)
        client.ehlo()
    except OSError as exc:
        # Unknown host, refused, timed out, TLS handshake failed, greeting refused: JavaMail reports
        # them all as "Could not connect to SMTP host", which Metabase shows as a wrong host or port.
        log.warning("could not connect to SMTP host %s, port %s: %s", config.host, port, exc)
        raise MailError(
            f"Could not connect to SMTP host: {config.host}, port: {port}", CONNECTION_ERROR
        ) from exc
    try:
        if config.security in ("tls", "starttls"):
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif config.security == "starttls":
                raise _sorry("STARTTLS is required but host does not support STARTTLS")
        if config.username and client.has_extn("auth"):
            client.login(config.username, config.password or "")
    except smtplib.SMTPAuthenticationError as exc:
        client.close()
        raise MailError(f"Authentication failed: {exc.smtp_code}", CREDENTIALS_ERROR) from exc
    except MailError:
        client.close()
        raise
    except OSError as exc:
        client.close()
        raise _sorry(str(exc) or type(exc).__name__) from exc
    return client


def check_connection(config: SmtpConfig) -> None:
    """Connect, secure and log in with `config`, then hang up; MailError when any step fails."""
    client = _connect(config, TEST_TIMEOUT_SECONDS)
    try:
        client.quit()
    except OSError:
        client.close()


def try_connection(config: SmtpConfig) -> SmtpConfig:
    """The working configuration: `config` if it connects, else `config` with the first other security
    mode that does (Metabase's autocorrection). Raises the first attempt's MailError when none works."""
    try:
        check_connection(config)
        return config
    except MailError as first:
        for security in GUESS_ORDER:
            time.sleep(GUESS_DELAY_SECONDS)
            guess = replace(config, security=security)
            try:
                check_connection(guess)
            except MailError:
                continue
            return guess
        raise first


def build_message(
    settings: Settings,
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    subtype: str,
    attachments: Iterable[tuple[str, bytes, str]],
    bcc: bool,
) -> EmailMessage:
    """The message as Metabase sends it: From with the sender name, Reply-To when set, recipients in
    To, or hidden (Bcc) when `bcc`."""
    from_address = settings.get("email-from-address")
    from_name = settings.get("email-from-name")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((from_name, from_address)) if from_name else from_address
    if not bcc:
        message["To"] = ", ".join(to)
    reply_to = settings.get("email-reply-to")
    if reply_to:
        message["Reply-To"] = ", ".join(reply_to) if isinstance(reply_to, list) else str(reply_to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    message.set_content(body, subtype=subtype)
    for filename, data, content_type in attachments:
        maintype, _, subtype_ = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype_ or "octet-stream", filename=filename)
    return message


@dataclass(frozen=True)
class Outgoing:
    """A message ready to go, with the server to send it through: built while the settings can be read,
    sent once the caller's transaction is over."""

    config: SmtpConfig
    sender: str
    recipients: list[str]
    message: EmailMessage


def prepare(
    settings: Settings,
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    subtype: str = "html",
    attachments: Iterable[tuple[str, bytes, str]] = (),
    bcc: bool = False,
) -> Outgoing:
    """The message for `to`, each address once; EmailNotConfigured without a host."""
    config = SmtpConfig.from_settings(settings)
    recipients = list(dict.fromkeys(to))
    message = build_message(
        settings, to=recipients, subject=subject, body=body, subtype=subtype, attachments=attachments, bcc=bcc
    )
    return Outgoing(config, settings.get("email-from-address"), recipients, message)


def transmit(outgoing: Outgoing) -> None:
    """Send a prepared message (to no one: nothing to do); MailError when the server cannot be reached
    or refuses it."""
    if not outgoing.recipients:
        return
    client = _connect(outgoing.config, SEND_TIMEOUT_SECONDS)
    try:
        client.send_message(outgoing.message, from_addr=outgoing.sender, to_addrs=outgoing.recipients)
    except OSError as exc:
        log.warning("failed to send email %r: %s", outgoing.message["Subject"], exc)
        raise _sorry(str(exc) or type(exc).__name__) from exc
    finally:
        try:
            client.quit()
        except OSError:
            client.close()


def send_mail(
    db: Session,
    *,
    to: list[str],
    subject: str,
    html: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    bcc: bool = False,
) -> None:
    """Send an HTML mail to `to` (one message, every address in To, or in Bcc when `bcc`), with
    `attachments` as (filename, content, MIME type). Reads the `email-*` settings through `db`.

    Raises EmailNotConfigured without an SMTP host, MailError when the server cannot be reached or
    refuses the mail (its `body` is Metabase's 400 body)."""
    transmit(prepare(Settings(db), to=to, subject=subject, body=html, attachments=attachments, bcc=bcc))
