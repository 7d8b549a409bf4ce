"""`/api/email`: SMTP settings saved only after a real connection works (per-field 400s otherwise), the
obfuscated password, Metabase's security autocorrection, STARTTLS and SMTPS, and the test mail; all
against a real SMTP server (`tests/support/smtp.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import Api
from tests.support.smtp import SmtpServer, free_port, smtp_server, trust_certificate

CONNECTION_ERROR = {
    "errors": {"email-smtp-host": "Wrong host or port", "email-smtp-port": "Wrong host or port"}
}
CREDENTIALS_ERROR = {
    "errors": {
        "email-smtp-username": "Wrong username or password",
        "email-smtp-password": "Wrong username or password",
    }
}
SORRY = "Sorry, something went wrong. Please try again. Error: "
SMTP_KEYS = (
    "email-smtp-host",
    "email-smtp-port",
    "email-smtp-security",
    "email-smtp-username",
    "email-smtp-password",
)


@pytest.fixture
def admin(api: Api) -> Iterator[Api]:
    """crowberto; the email settings he leaves behind are cleared (the server is shared)."""
    admin = api.as_("crowberto")
    yield admin
    admin.delete("/api/email", expect=204)
    for key in ("email-from-name", "email-reply-to"):
        admin.put(f"/api/setting/{key}", {"value": None}, expect=204)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def setting(admin: Api, key: str) -> Any:
    """A setting as the settings API shows it (a 204 when it has no value)."""
    response = admin.raw("GET", f"/api/setting/{key}")
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None


def settings_of(admin: Api) -> dict[str, Any]:
    return {key: setting(admin, key) for key in SMTP_KEYS}


def smtp_body(server: SmtpServer, host: str | None = None, **more: Any) -> dict[str, Any]:
    return {"email-smtp-host": host or server.host, "email-smtp-port": server.port, **more}


def test_put_connects_then_saves(admin: Api, api: Api, smtp: SmtpServer) -> None:
    body = smtp_body(smtp, **{"email-smtp-security": "none"})
    assert admin.put("/api/email", body) == {
        "email-smtp-host": smtp.host,
        "email-smtp-port": smtp.port,
        "email-smtp-security": "none",
        "email-smtp-username": None,
        "email-smtp-password": None,
        "with-corrections": {},
    }
    assert settings_of(admin) == {
        "email-smtp-host": smtp.host,
        "email-smtp-port": smtp.port,
        # "none" is the default, which the settings API shows as null
        "email-smtp-security": None,
        "email-smtp-username": None,
        "email-smtp-password": None,
    }
    assert api.get("/api/session/properties")["email-configured?"] is True
    assert smtp.messages == []


def test_put_with_nothing_listening_is_a_wrong_host_and_saves_nothing(admin: Api, smtp: SmtpServer) -> None:
    admin.put("/api/email", smtp_body(smtp))
    before = settings_of(admin)
    nothing_listening = smtp_body(smtp) | {"email-smtp-port": free_port()}
    assert admin.put("/api/email", nothing_listening, expect=400) == CONNECTION_ERROR
    unknown_host = smtp_body(smtp, host="no-such-host.invalid")
    assert admin.put("/api/email", unknown_host, expect=400) == CONNECTION_ERROR
    assert settings_of(admin) == before


def test_put_without_host_or_port_is_a_wrong_host(admin: Api, smtp: SmtpServer) -> None:
    assert admin.put("/api/email", {"email-smtp-port": smtp.port}, expect=400) == CONNECTION_ERROR
    assert admin.put("/api/email", {"email-smtp-host": smtp.host}, expect=400) == CONNECTION_ERROR
    assert setting(admin, "email-smtp-host") is None


def test_wrong_credentials_and_the_obfuscated_password(admin: Api) -> None:
    with smtp_server(credentials=("mailer", "s3cret-pass")) as smtp:
        wrong = smtp_body(smtp, **{"email-smtp-username": "mailer", "email-smtp-password": "nope"})
        assert admin.put("/api/email", wrong, expect=400) == CREDENTIALS_ERROR
        assert setting(admin, "email-smtp-host") is None

        right = wrong | {"email-smtp-password": "s3cret-pass"}
        saved = admin.put("/api/email", right)
        # Metabase echoes the password the admin just typed; everywhere else it is obfuscated.
        assert saved["email-smtp-password"] == "s3cret-pass"
        assert setting(admin, "email-smtp-password") == "**********ss"
        assert "email-smtp-password" not in admin.get("/api/session/properties")

        # The form sends back what it was shown: the stored password is used (the server only accepts it).
        again = right | {"email-smtp-password": "**********ss"}
        assert admin.put("/api/email", again)["email-smtp-password"] == "**********ss"
        assert admin.post("/api/email/test") == {"ok": True}
        assert [mail.recipients for mail in smtp.messages] == [["crowberto@metabase.com"]]


def test_keys_left_out_are_cleared(admin: Api) -> None:
    with smtp_server(credentials=("mailer", "s3cret-pass")) as smtp:
        creds = {"email-smtp-username": "mailer", "email-smtp-password": "s3cret-pass"}
        admin.put("/api/email", smtp_body(smtp, **creds))
        # This server accepts mail without AUTH too, so dropping the credentials still connects.
        saved = admin.put("/api/email", smtp_body(smtp))
    assert saved["email-smtp-username"] is None and saved["email-smtp-password"] is None
    assert setting(admin, "email-smtp-username") is None
    assert setting(admin, "email-smtp-password") is None


def test_a_security_mode_that_fails_is_autocorrected(admin: Api, smtp: SmtpServer) -> None:
    saved = admin.put("/api/email", smtp_body(smtp, **{"email-smtp-security": "ssl"}))
    assert saved["email-smtp-security"] == "tls"
    assert saved["with-corrections"] == {"email-smtp-security": "security was autocorrected to TLS"}
    assert setting(admin, "email-smtp-security") == "tls"


def test_bad_bodies(admin: Api, api: Api, smtp: SmtpServer) -> None:
    body = smtp_body(smtp, **{"email-smtp-security": "carrier-pigeon"})
    assert "must be one of" in admin.put("/api/email", body, expect=400)
    bad_port = admin.put("/api/email", {"email-smtp-host": smtp.host, "email-smtp-port": "x"}, expect=400)
    assert list(bad_port["errors"]) == ["email-smtp-port"]
    assert setting(admin, "email-smtp-host") is None


def test_starttls_with_a_trusted_certificate(
    admin: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server(tls="starttls", cert_dir=tmp_path) as smtp:
        body = smtp_body(smtp, host="localhost", **{"email-smtp-security": "starttls"})
        # The certificate is self-signed: until it is trusted, the TLS upgrade fails.
        refused = admin.put("/api/email", body, expect=400)
        assert refused["message"].startswith(SORRY) and "CERTIFICATE_VERIFY_FAILED" in refused["message"]
        trust_certificate(monkeypatch, smtp)
        assert admin.put("/api/email", body)["with-corrections"] == {}
        assert admin.post("/api/email/test") == {"ok": True}
        assert [mail.subject for mail in smtp.messages] == ["Metabase Test Email"]


def test_starttls_required_but_not_offered(admin: Api, smtp: SmtpServer) -> None:
    """No autocorrection helps a plain server when STARTTLS was asked for: "tls" (STARTTLS when offered)
    connects, so Metabase would save that; a server that refuses every mode gets the first error."""
    saved = admin.put("/api/email", smtp_body(smtp, **{"email-smtp-security": "starttls"}))
    assert saved["with-corrections"] == {"email-smtp-security": "security was autocorrected to TLS"}


def test_ssl_from_the_first_byte(admin: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(tls="ssl", cert_dir=tmp_path) as smtp:
        body = smtp_body(smtp, host="localhost", **{"email-smtp-security": "ssl"})
        assert admin.put("/api/email", body, expect=400) == CONNECTION_ERROR
        trust_certificate(monkeypatch, smtp)
        assert admin.put("/api/email", body)["email-smtp-security"] == "ssl"
        assert admin.post("/api/email/test") == {"ok": True}
        assert [mail.recipients for mail in smtp.messages] == [["crowberto@metabase.com"]]


def test_the_test_mail(admin: Api, smtp: SmtpServer) -> None:
    admin.put("/api/email", smtp_body(smtp))
    admin.put("/api/setting/email-from-name", {"value": "Sender Name"}, expect=204)
    admin.put("/api/setting/email-reply-to", {"value": ["reply-to@metabase.com"]}, expect=204)
    assert admin.post("/api/email/test") == {"ok": True}
    [mail] = smtp.messages
    assert mail.sender == "notifications@metabase.com"
    assert mail.recipients == ["crowberto@metabase.com"]
    assert mail.header("From") == "Sender Name <notifications@metabase.com>"
    assert mail.header("To") == "crowberto@metabase.com"
    assert mail.header("Reply-To") == "reply-to@metabase.com"
    assert mail.subject == "Metabase Test Email"
    assert mail.text.strip() == "Your Metabase emails are working — hooray!"


def test_the_test_mail_when_the_server_is_down(admin: Api) -> None:
    with smtp_server() as smtp:
        admin.put("/api/email", smtp_body(smtp))
    assert admin.post("/api/email/test", expect=400) == CONNECTION_ERROR


def test_the_test_mail_without_settings(admin: Api) -> None:
    assert admin.post("/api/email/test", expect=400) == "Wrong host or port"


def test_delete_clears_the_settings(admin: Api, api: Api, smtp: SmtpServer) -> None:
    admin.put("/api/email", smtp_body(smtp, **{"email-smtp-security": "tls"}))
    assert admin.delete("/api/email", expect=204) is None
    assert settings_of(admin) == dict.fromkeys(SMTP_KEYS)
    assert api.get("/api/session/properties")["email-configured?"] is False


def test_only_admins(api: Api, smtp: SmtpServer) -> None:
    rasta = api.as_("rasta")
    assert rasta.put("/api/email", smtp_body(smtp), expect=403) == "You don't have permissions to do that."
    assert rasta.delete("/api/email", expect=403) == "You don't have permissions to do that."
    assert rasta.post("/api/email/test", expect=403) == "You don't have permissions to do that."
    # Metabase mounts /api/email outside its authentication wrapper: anonymous callers get its 403 too.
    assert api.put("/api/email", smtp_body(smtp), expect=403) == "You don't have permissions to do that."
    assert api.delete("/api/email", expect=403) == "You don't have permissions to do that."
    assert api.post("/api/email/test", expect=403) == "You don't have permissions to do that."
    assert smtp.messages == []
