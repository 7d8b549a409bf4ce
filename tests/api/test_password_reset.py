"""Mail that users get, through a real SMTP server: the invitation sent when an admin creates a user,
`POST /api/session/forgot_password`, `POST /api/session/reset_password` with the mailed token (once,
for 48 hours), `GET /api/session/password_reset_token_valid`, and the note to admins when an
invitation is accepted."""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from querybase.models.user import User
from tests.conftest import Server
from tests.support.http import Api
from tests.support.smtp import Mail, SmtpServer, smtp_server
from tests.support.users import PASSWORD

INVALID_TOKEN = {"errors": {"password": "Invalid reset token"}}
NEW_PASSWORD = "fresh-pass-77"
LINK = re.compile(r'href="([^"]*/auth/reset_password/[^"]*)"')
THROTTLED = re.compile(r"Too many attempts! You must wait (\d+) seconds before trying again\.")


@pytest.fixture
def smtp(api: Api) -> Iterator[SmtpServer]:
    """A running SMTP server the shared instance is configured to use, unconfigured afterwards."""
    admin = api.as_("crowberto")
    with smtp_server() as server:
        admin.put("/api/email", {"email-smtp-host": server.host, "email-smtp-port": server.port})
        yield server
    admin.delete("/api/email", expect=204)


def from_new_ip(api: Api) -> Api:
    """Each test its own client address: the reset throttles count per address on the shared server."""
    ip = f"192.168.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    return api.with_headers({"X-Forwarded-For": ip})


def invite(api: Api, **body: Any) -> dict[str, Any]:
    email = f"invited-{uuid.uuid4().hex[:10]}@example.com"
    created = api.as_("crowberto").post("/api/user", {"email": email, "first_name": "Ivy", **body})
    return {**created, "email": email}


def link_in(mail: Mail) -> str:
    [link] = LINK.findall(mail.html)
    return html.unescape(link)


def token_in(mail: Mail) -> str:
    return re.split(r"[?#]", link_in(mail).rpartition("/auth/reset_password/")[2])[0]


def only_mail_to(smtp: SmtpServer, address: str) -> Mail:
    [mail] = smtp.to(address)
    return mail


def forgot(api: Api, smtp: SmtpServer, email: str) -> str:
    """Ask for a reset mail for `email`; the token it carries."""
    smtp.clear()
    assert from_new_ip(api).post("/api/session/forgot_password", {"email": email}, expect=204) is None
    return token_in(only_mail_to(smtp, email.lower()))


def token_valid(api: Api, token: str) -> bool:
    return api.get("/api/session/password_reset_token_valid", params={"token": token})["valid"]


def as_session(api: Api, session_id: str) -> Api:
    return api.with_headers({"X-Metabase-Session": session_id})


def test_invite_accept_and_log_in(api: Api, smtp: SmtpServer) -> None:
    user = invite(api, last_name="Vine")
    mail = only_mail_to(smtp, user["email"])
    assert mail.recipients == [user["email"]]
    assert mail.header("To") == user["email"]
    assert mail.subject == "You're invited to join Test's Metabase"
    assert "Crowberto wants you to join them on Metabase" in mail.html
    link = link_in(mail)
    assert re.fullmatch(rf"http://testserver/auth/reset_password/{user['id']}_[0-9a-f-]{{36}}#new", link)
    token = token_in(mail)
    assert token_valid(api, token) is True

    smtp.clear()
    response = from_new_ip(api).raw(
        "POST", "/api/session/reset_password", json={"token": token, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and str(uuid.UUID(body["session_id"])) == body["session_id"]
    assert response.cookies.get("metabase.SESSION") == body["session_id"]
    assert as_session(api, body["session_id"]).get("/api/user/current")["email"] == user["email"]
    assert api.login(user["email"], NEW_PASSWORD)["id"]

    # The admins hear that the invitation was accepted.
    joined = only_mail_to(smtp, "crowberto@metabase.com")
    assert joined.subject == "Ivy Vine accepted their Metabase invite"
    assert user["email"] in joined.html

    # The token worked once.
    assert token_valid(api, token) is False
    again = {"token": token, "password": "another-pass-88"}
    assert from_new_ip(api).post("/api/session/reset_password", again, expect=400) == INVALID_TOKEN
    assert api.login(user["email"], NEW_PASSWORD)["id"]


def test_the_invitation_links_to_the_site_url(api: Api, smtp: SmtpServer) -> None:
    admin = api.as_("crowberto")
    admin.put("/api/setting/site-url", {"value": "https://bi.example.com/"}, expect=204)
    try:
        user = invite(api)
    finally:
        admin.put("/api/setting/site-url", {"value": None}, expect=204)
    link = link_in(only_mail_to(smtp, user["email"]))
    assert link.startswith(f"https://bi.example.com/auth/reset_password/{user['id']}_")
    assert link.endswith("#new")


def test_an_invited_admin_from_setup_is_sent_on_to_adding_a_database(api: Api, smtp: SmtpServer) -> None:
    user = invite(api, source="setup")
    mail = only_mail_to(smtp, user["email"])
    assert "Crowberto could use your help setting up Metabase" in mail.html
    assert re.search(r"/auth/reset_password/[^?#]+\?redirect=/admin/databases/create#new$", link_in(mail))


def test_a_user_created_with_a_password_is_invited_too(api: Api, smtp: SmtpServer) -> None:
    user = invite(api, password=PASSWORD)
    token = token_in(only_mail_to(smtp, user["email"]))
    # The given password works until the invitation is used.
    assert api.login(user["email"], PASSWORD)["id"]
    from_new_ip(api).post("/api/session/reset_password", {"token": token, "password": NEW_PASSWORD})
    api.login(user["email"], PASSWORD, expect=401)


def test_creating_a_user_does_not_depend_on_the_mail_server(api: Api) -> None:
    admin = api.as_("crowberto")
    with smtp_server() as down:
        admin.put("/api/email", {"email-smtp-host": down.host, "email-smtp-port": down.port})
    try:
        user = invite(api)
    finally:
        admin.delete("/api/email", expect=204)
    assert admin.get(f"/api/user/{user['id']}")["email"] == user["email"]


def test_forgot_password_then_reset_ends_the_other_sessions(api: Api, smtp: SmtpServer) -> None:
    user = invite(api, password=PASSWORD)
    old_session = from_new_ip(api).login(user["email"], PASSWORD)["id"]
    mail_token = forgot(api, smtp, user["email"].upper())
    mail = only_mail_to(smtp, user["email"])
    assert mail.subject == "[Metabase] Password Reset Request"
    assert "reset the password for your Metabase account at http://testserver" in mail.html
    assert link_in(mail) == f"http://testserver/auth/reset_password/{mail_token}"

    smtp.clear()
    reset = from_new_ip(api).post(
        "/api/session/reset_password", {"token": mail_token, "password": NEW_PASSWORD}
    )
    assert as_session(api, old_session).get("/api/user/current", expect=401) == "Unauthenticated"
    assert as_session(api, reset["session_id"]).get("/api/user/current")["id"] == user["id"]
    # Not a first login: no note to the admins.
    assert smtp.messages == []


def test_forgot_password_answers_the_same_for_an_unknown_address(api: Api, smtp: SmtpServer) -> None:
    anonymous = from_new_ip(api)
    unknown = anonymous.raw("POST", "/api/session/forgot_password", json={"email": "nobody@example.com"})
    user = invite(api)
    smtp.clear()
    known = anonymous.raw("POST", "/api/session/forgot_password", json={"email": user["email"]})
    assert (unknown.status_code, unknown.content) == (known.status_code, known.content) == (204, b"")
    assert [mail.recipients for mail in smtp.messages] == [[user["email"]]]


def test_forgot_password_of_a_deactivated_user(api: Api, smtp: SmtpServer) -> None:
    admin = api.as_("crowberto")
    before = admin.get("/api/setting/admin-email")
    admin.put("/api/setting/admin-email", {"value": "help@metabase.com"}, expect=204)
    try:
        from_new_ip(api).post("/api/session/forgot_password", {"email": "trashbird@metabase.com"}, expect=204)
    finally:
        admin.put("/api/setting/admin-email", {"value": before}, expect=204)
    mail = only_mail_to(smtp, "trashbird@metabase.com")
    assert "your account has been deactivated" in mail.html
    assert 'href="mailto:help@metabase.com"' in mail.html
    assert LINK.search(mail.html) is None


def age_token(server: Server, user_id: int, age: dt.timedelta) -> None:
    """Make `user_id`'s reset token `age` old, straight in the app DB."""
    triggered = int((dt.datetime.now(dt.UTC) - age).timestamp() * 1000)
    with server.client.app.state.appdb.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user_id).values(reset_triggered=triggered))


def test_tokens_expire_after_48_hours(api: Api, server: Server, smtp: SmtpServer) -> None:
    user = invite(api)
    token = token_in(only_mail_to(smtp, user["email"]))
    age_token(server, user["id"], dt.timedelta(hours=47, minutes=59))
    assert token_valid(api, token) is True
    age_token(server, user["id"], dt.timedelta(hours=48, minutes=1))
    assert token_valid(api, token) is False
    body = {"token": token, "password": NEW_PASSWORD}
    assert from_new_ip(api).post("/api/session/reset_password", body, expect=400) == INVALID_TOKEN


def test_only_the_newest_token_works(api: Api, smtp: SmtpServer) -> None:
    user = invite(api)
    invitation = token_in(only_mail_to(smtp, user["email"]))
    reset = forgot(api, smtp, user["email"])
    assert token_valid(api, invitation) is False
    assert token_valid(api, reset) is True


def test_a_deactivated_users_token_is_refused(api: Api, smtp: SmtpServer) -> None:
    user = invite(api)
    token = token_in(only_mail_to(smtp, user["email"]))
    api.as_("crowberto").delete(f"/api/user/{user['id']}")
    assert token_valid(api, token) is False
    body = {"token": token, "password": NEW_PASSWORD}
    assert from_new_ip(api).post("/api/session/reset_password", body, expect=400) == INVALID_TOKEN


@pytest.mark.parametrize("token", ["garbage", "1_", "999999_abc", "99999999999999999999_x", "2_" + "0" * 36])
def test_made_up_tokens(api: Api, token: str) -> None:
    assert token_valid(api, token) is False
    body = {"token": token, "password": NEW_PASSWORD}
    assert from_new_ip(api).post("/api/session/reset_password", body, expect=400) == INVALID_TOKEN


def test_a_new_password_must_be_valid(api: Api, smtp: SmtpServer) -> None:
    user = invite(api)
    token = token_in(only_mail_to(smtp, user["email"]))
    refused = from_new_ip(api).post(
        "/api/session/reset_password", {"token": token, "password": "password"}, expect=400
    )
    assert refused["errors"] == {"password": "password is too common."}
    assert token_valid(api, token) is True


def test_bad_requests(api: Api) -> None:
    assert from_new_ip(api).post("/api/session/forgot_password", {"email": "not-an-email"}, expect=400) == {
        "errors": {"email": "value must be a valid email address."},
        "specific-errors": {"email": ['valid email address, received: "not-an-email"']},
    }
    missing = api.get("/api/session/password_reset_token_valid", expect=400)
    assert missing["errors"] == {"token": "value must be a non-blank string."}


def wait_in(body: Any, field: str) -> int:
    assert list(body) == ["errors"] and list(body["errors"]) == [field], body
    match = THROTTLED.fullmatch(body["errors"][field])
    assert match, body
    return int(match.group(1))


def test_resets_are_throttled_per_address(api: Api, smtp: SmtpServer) -> None:
    guesser = from_new_ip(api)
    for attempt in range(10):
        body = {"token": f"1_{uuid.uuid4()}", "password": NEW_PASSWORD}
        assert guesser.post("/api/session/reset_password", body, expect=400) == INVALID_TOKEN, attempt
    user = invite(api)
    token = token_in(only_mail_to(smtp, user["email"]))
    body = {"token": token, "password": NEW_PASSWORD}
    assert 10 <= wait_in(guesser.post("/api/session/reset_password", body, expect=400), "password") <= 15
    assert token_valid(api, token) is True
    assert from_new_ip(api).post("/api/session/reset_password", body)["success"] is True


def test_reset_mails_are_throttled_per_address(api: Api, smtp: SmtpServer) -> None:
    asker = from_new_ip(api)
    for _ in range(50):
        asker.post("/api/session/forgot_password", {"email": "nobody@example.com"}, expect=204)
    refused = asker.post("/api/session/forgot_password", {"email": "rasta@metabase.com"}, expect=400)
    assert 10 <= wait_in(refused, "email") <= 15
    assert smtp.to("rasta@metabase.com") == []
