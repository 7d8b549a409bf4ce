"""`/api/session`: logging in and out, using and expiring sessions, the login throttle, and the
properties the login page reads (`/api/session/properties`)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from querybase.config import Config
from querybase.models.session import LoginHistory, UserSession
from tests.conftest import Server, set_up_users, start
from tests.support.appdb import fresh_app_db
from tests.support.http import Api
from tests.support.users import PASSWORD, USERS

BAD_CREDENTIALS = {"errors": {"password": "did not match stored password"}}
DISABLED = {"errors": {"_error": "Your account is disabled."}}
THROTTLED = re.compile(r"Too many attempts! You must wait (\d+) seconds before trying again\.")


def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (TypeError, ValueError):
        return False


def unique_ip() -> str:
    """An address no other test uses (the shared server's IP throttler counts per address)."""
    return f"172.{16 + secrets.randbelow(16)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def from_ip(api: Api, ip: str | None = None) -> Api:
    return api.with_headers({"X-Forwarded-For": ip or unique_ip()})


def new_user(api: Api, *, password: str = PASSWORD) -> dict[str, Any]:
    """A fresh active user with a password: tests that fail logins must not throttle the named users."""
    email = f"session-{uuid.uuid4().hex[:10]}@example.com"
    created = api.as_("crowberto").post(
        "/api/user", {"email": email, "first_name": "Sess", "password": password}
    )
    return {"id": created["id"], "email": email, "password": password}


def as_session(api: Api, session_id: str) -> Api:
    return api.with_headers({"X-Metabase-Session": session_id})


def set_cookies(response: Any) -> dict[str, list[str]]:
    """Each Set-Cookie header as name -> its lower-cased attributes (the value first)."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        cookies[name] = [part.strip().lower() for part in rest.split(";")]
    return cookies


# ---------------------------------------------------------------------------------------------------
# GET /api/session/properties


def test_properties_before_setup(fresh_api: Api) -> None:
    props = fresh_api.get("/api/session/properties")
    assert is_uuid(props["setup-token"])
    assert props["has-user-setup"] is False
    assert props["password-complexity"] == {"total": 6, "digit": 1}
    assert set(props["version"]) == {"tag", "date", "branch", "hash"}
    assert re.fullmatch(r"v0\.57\.\d+", props["version"]["tag"])
    # sensitive, admin-only, settings-manager and authenticated settings are not for anonymous callers
    for key in (
        "email-smtp-password",
        "embedding-secret-key",
        "site-name",
        "enable-public-sharing",
        "admin-email",
    ):
        assert key not in props


def test_properties_after_setup(fresh_api: Api) -> None:
    token = fresh_api.get("/api/session/properties")["setup-token"]
    user = {"email": "first@example.com", "password": PASSWORD}
    fresh_api.post("/api/setup", {"token": token, "user": user, "prefs": {"site_name": "Setup"}})
    assert fresh_api.get("/api/session/properties")["has-user-setup"] is True


def test_properties_grow_with_the_callers_rights(api: Api) -> None:
    anonymous = api.get("/api/session/properties")
    rasta = api.as_("rasta").get("/api/session/properties")
    admin = api.as_("crowberto").get("/api/session/properties")
    assert anonymous["has-user-setup"] is True
    assert set(anonymous) < set(rasta) < set(admin)
    # a normal user sees the "authenticated" settings, not the settings-manager or admin ones
    assert isinstance(rasta["enable-public-sharing"], bool)
    assert rasta["admin-email"] == USERS["crowberto"]["email"]
    for key in ("site-name", "embedding-secret-key"):
        assert key not in rasta
    assert isinstance(admin["site-name"], str)
    assert "embedding-secret-key" in admin
    for props in (anonymous, rasta, admin):
        assert "email-smtp-password" not in props


# ---------------------------------------------------------------------------------------------------
# POST /api/session


def test_login_returns_a_session_and_a_browser_session_cookie(api: Api, user_ids: dict[str, int]) -> None:
    response = from_ip(api).raw(
        "POST", "/api/session", json={"username": "RASTA@Metabase.COM", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["id"] and is_uuid(body["id"])
    cookies = set_cookies(response)
    session_cookie = cookies["metabase.SESSION"]
    assert session_cookie[0] == body["id"]
    assert {"httponly", "path=/", "samesite=lax"} <= set(session_cookie)
    assert not any(part.startswith(("max-age", "expires")) for part in session_cookie)
    assert cookies["metabase.TIMEOUT"][0] == "alive"
    assert as_session(api, body["id"]).get("/api/user/current")["id"] == user_ids["rasta"]


def test_remember_me_makes_the_cookie_last_the_session_age(api: Api, server: Server) -> None:
    response = from_ip(api).raw(
        "POST",
        "/api/session",
        json={"username": "lucky@metabase.com", "password": PASSWORD, "remember": True},
    )
    assert response.status_code == 200, response.text
    session_cookie = set_cookies(response)["metabase.SESSION"]
    assert f"max-age={server.config.session_age_minutes * 60}" in session_cookie
    assert "max-age=1209600" in session_cookie


def test_wrong_password_and_unknown_user_get_the_same_401(api: Api) -> None:
    user = new_user(api)
    assert from_ip(api).login(user["email"], "wrong-pass-1", expect=401) == BAD_CREDENTIALS
    assert (
        from_ip(api).login(f"nobody-{uuid.uuid4().hex}@example.com", PASSWORD, expect=401) == BAD_CREDENTIALS
    )


def test_deactivated_user(api: Api, user_ids: dict[str, int]) -> None:
    assert from_ip(api).login(USERS["trashbird"]["email"], PASSWORD, expect=401) == DISABLED
    user = new_user(api)
    api.as_("crowberto").delete(f"/api/user/{user['id']}")
    # the password is checked first: a wrong one gets the generic answer
    assert from_ip(api).login(user["email"], "wrong-pass-1", expect=401) == BAD_CREDENTIALS
    assert from_ip(api).login(user["email"], user["password"], expect=401) == DISABLED


def test_empty_login_body(api: Api) -> None:
    assert api.post("/api/session", {}, expect=400) == {
        "errors": {
            "username": "value must be a non-blank string.",
            "password": "value must be a non-blank string.",
        },
        "specific-errors": {
            "username": ["missing required key, received: nil"],
            "password": ["missing required key, received: nil"],
        },
    }


def test_missing_password(api: Api) -> None:
    assert api.post("/api/session", {"username": "anything@metabase.com"}, expect=400) == {
        "errors": {"password": "value must be a non-blank string."},
        "specific-errors": {"password": ["missing required key, received: nil"]},
    }


def test_headers_longer_than_their_columns_do_not_break_a_login(api: Api) -> None:
    user = new_user(api)
    long_headers = {"X-Forwarded-For": "10.0.0." + "1" * 100, "User-Agent": "agent/" + "x" * 2000}
    session = api.with_headers(long_headers).login(user["email"], user["password"])["id"]
    assert as_session(api, session).get("/api/user/current")["id"] == user["id"]


def test_a_very_long_username_is_just_a_failed_login(api: Api) -> None:
    username = "x" * 300 + "@example.com"
    assert from_ip(api, "10.0.0." + "2" * 300).login(username, PASSWORD, expect=401) == BAD_CREDENTIALS


# ---------------------------------------------------------------------------------------------------
# POST /api/session/password-check, /api/session/google_auth


def test_password_check(api: Api) -> None:
    assert api.post("/api/session/password-check", {"password": "p@ssword1x"}) == {"valid": True}
    assert api.post("/api/session/password-check", {"password": "anything"}, expect=400) == {
        "errors": {"password": "password is too common."},
        "specific-errors": {"password": ['valid password that is not too common, received: "anything"']},
    }
    # long and varied enough, but on the common-passwords list
    assert api.post("/api/session/password-check", {"password": "password1"}, expect=400)["errors"] == {
        "password": "password is too common."
    }
    assert api.post("/api/session/password-check", {}, expect=400) == {
        "errors": {"password": "password is too common."},
        "specific-errors": {"password": ["missing required key, received: nil"]},
    }


def test_google_auth_is_disabled(api: Api) -> None:
    assert api.post("/api/session/google_auth", {"token": "a-google-id-token"}, expect=400) == (
        "Google Auth is disabled."
    )
    assert api.post("/api/session/google_auth", {}, expect=400) == {
        "errors": {"token": "value must be a non-blank string."},
        "specific-errors": {"token": ["missing required key, received: nil"]},
    }


# ---------------------------------------------------------------------------------------------------
# Using a session


def test_session_header_and_cookie_both_authenticate(api: Api, user_ids: dict[str, int]) -> None:
    session = from_ip(api).login(USERS["lucky"]["email"], PASSWORD)["id"]
    assert as_session(api, session).get("/api/user/current")["id"] == user_ids["lucky"]
    by_cookie = api.get("/api/user/current", headers={"Cookie": f"metabase.SESSION={session}"})
    assert by_cookie["id"] == user_ids["lucky"]


@pytest.fixture
def endpoint_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads `user_json` ran in: it serves `/api/user/current` (a `quick` endpoint) and `/api/user`
    (not one)."""
    from querybase.api import user as user_api

    threads: list[int] = []
    real = user_api.user_json

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(user_api, "user_json", recording)
    return threads


def loop_thread(server: Server) -> int:
    return server.client.portal.call(threading.get_ident)


def test_quick_reads_run_on_the_event_loop_and_the_rest_in_worker_threads(
    api: Api, server: Server, endpoint_threads: list[int]
) -> None:
    """On an SQLite app DB a `quick` GET endpoint runs on the event loop, other endpoints in a worker
    thread; on a networked app DB every one in a worker thread."""
    loop = loop_thread(server)
    api.as_("lucky").get("/api/user/current")
    on_loop = server.client.app.state.appdb.local
    assert (endpoint_threads[-1] == loop) is on_loop
    api.as_("crowberto").get("/api/user")
    assert endpoint_threads[-1] != loop
    api.as_("crowberto").put(f"/api/user/{server.user_ids['crowberto']}", {"locale": None})
    assert endpoint_threads[-1] != loop


def test_a_read_waits_for_the_pool_in_a_worker_thread(
    api: Api, server: Server, user_ids: dict[str, int], endpoint_threads: list[int]
) -> None:
    """On an SQLite app DB a GET's session is looked up, and a `quick` endpoint run, on the event loop
    only while a connection is free (`AppDB.quick_read`). With none left both wait in a worker thread,
    and the loop goes on answering meanwhile; the request completes once a connection comes back."""
    appdb = server.client.app.state.appdb
    if not appdb.local:
        pytest.skip("only an SQLite app DB is read on the event loop")
    lucky = api.as_("lucky")
    assert lucky.get("/api/user/current")["id"] == user_ids["lucky"]
    held = []
    try:
        while appdb.quick_read():
            held.append(appdb.engine.connect())
        held.append(appdb.engine.connect())  # the last one: a checkout would now wait
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(lucky.get, "/api/user/current")
            time.sleep(0.5)
            assert not pending.done()
            assert api.get("/api/health") == {"status": "ok"}
            held.pop().close()
            assert pending.result(timeout=10)["id"] == user_ids["lucky"]
    finally:
        for connection in held:
            connection.close()
    assert endpoint_threads[-1] != loop_thread(server)
    assert appdb.quick_read()


@pytest.mark.parametrize("session", ["5e1ec7ed-0000-4000-8000-000000000000", "not-a-uuid", ""])
def test_unknown_or_malformed_sessions_are_unauthenticated(api: Api, session: str) -> None:
    response = api.raw("GET", "/api/user/current", headers={"X-Metabase-Session": session})
    assert (response.status_code, response.text) == (401, "Unauthenticated")
    assert response.headers["content-type"].startswith("text/plain")
    assert api.get("/api/user/current", headers={"Cookie": f"metabase.SESSION={session}"}, expect=401) == (
        "Unauthenticated"
    )


def test_deactivated_users_old_session_is_dead(api: Api) -> None:
    """conftest logged trashbird in before deactivating him; `api.sessions` holds that session."""
    assert api.as_("trashbird").get("/api/user/current", expect=401) == "Unauthenticated"


def test_logout(api: Api) -> None:
    user = new_user(api)
    session = from_ip(api).login(user["email"], user["password"])["id"]
    me = as_session(api, session)
    assert me.get("/api/user/current")["id"] == user["id"]
    response = me.raw("DELETE", "/api/session")
    assert (response.status_code, response.content) == (204, b"")
    cleared = set_cookies(response)
    assert {"metabase.SESSION", "metabase.TIMEOUT", "metabase.EMBEDDED_SESSION"} <= set(cleared)
    assert "max-age=0" in cleared["metabase.SESSION"]
    assert me.get("/api/user/current", expect=401) == "Unauthenticated"
    assert me.delete("/api/session", expect=404) == "Not found."


def test_logout_by_cookie(api: Api) -> None:
    user = new_user(api)
    session = from_ip(api).login(user["email"], user["password"])["id"]
    cookie = {"Cookie": f"metabase.SESSION={session}"}
    assert api.delete("/api/session", headers=cookie, expect=204) is None
    assert as_session(api, session).get("/api/user/current", expect=401) == "Unauthenticated"


def test_logout_without_a_session_is_not_found(api: Api) -> None:
    assert api.delete("/api/session", expect=404) == "Not found."
    assert as_session(api, str(uuid.uuid4())).delete("/api/session", expect=404) == "Not found."


def test_logout_ends_only_that_session(api: Api) -> None:
    user = new_user(api)
    first = from_ip(api).login(user["email"], user["password"])["id"]
    second = from_ip(api).login(user["email"], user["password"])["id"]
    as_session(api, first).delete("/api/session", expect=204)
    assert as_session(api, second).get("/api/user/current")["id"] == user["id"]


# ---------------------------------------------------------------------------------------------------
# Session age and storage


def age_sessions(server: Server, user_id: int, age: dt.timedelta) -> None:
    """Make every session of `user_id` `age` old, straight in the app DB."""
    engine = server.client.app.state.appdb.engine
    with engine.begin() as conn:
        conn.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(created_at=dt.datetime.now(dt.UTC) - age)
        )


def test_sessions_expire_after_the_configured_age(api: Api, server: Server) -> None:
    user = new_user(api)
    session = from_ip(api).login(user["email"], user["password"])["id"]
    me = as_session(api, session)
    max_age = dt.timedelta(minutes=server.config.session_age_minutes)
    age_sessions(server, user["id"], max_age - dt.timedelta(minutes=5))
    assert me.get("/api/user/current")["id"] == user["id"]
    age_sessions(server, user["id"], max_age + dt.timedelta(minutes=1))
    assert me.get("/api/user/current", expect=401) == "Unauthenticated"


def test_session_ids_are_not_stored(api: Api, server: Server) -> None:
    user = new_user(api)
    session = from_ip(api).login(user["email"], user["password"])["id"]
    engine = server.client.app.state.appdb.engine
    with engine.connect() as conn:
        rows = conn.execute(select(UserSession.__table__)).all()
        rows += conn.execute(select(LoginHistory.__table__)).all()
    assert rows
    stored = [str(value) for row in rows for value in row]
    assert not any(session in value or session.replace("-", "") in value for value in stored)


# ---------------------------------------------------------------------------------------------------
# Login throttle


def wait_in(body: Any) -> int:
    """The seconds of a throttled login's 401 body (which must be exactly that body)."""
    assert list(body) == ["errors"] and list(body["errors"]) == ["username"], body
    match = THROTTLED.fullmatch(body["errors"]["username"])
    assert match, body
    return int(match.group(1))


def test_ten_failures_throttle_a_username_whatever_the_address(api: Api) -> None:
    user = new_user(api)
    for _ in range(10):
        assert from_ip(api).login(user["email"], "wrong-pass-1", expect=401) == BAD_CREDENTIALS
    # the right password does not help, nor does a new address
    assert 10 <= wait_in(from_ip(api).login(user["email"], user["password"], expect=401)) <= 19
    # each refused attempt counts: the next wait is 15 s * 2^1.5
    assert 40 <= wait_in(from_ip(api).login(user["email"], user["password"], expect=401)) <= 49


def test_nine_failures_do_not_throttle(api: Api) -> None:
    user = new_user(api)
    for _ in range(9):
        from_ip(api).login(user["email"], "wrong-pass-1", expect=401)
    session = from_ip(api).login(user["email"], user["password"])["id"]
    assert as_session(api, session).get("/api/user/current")["id"] == user["id"]


def test_fifty_failures_throttle_an_address_whatever_the_username(api: Api) -> None:
    attacker = from_ip(api)
    for _ in range(50):
        attacker.login(f"guess-{uuid.uuid4().hex[:12]}@example.com", "wrong-pass-1", expect=401)
    user = new_user(api)
    assert 10 <= wait_in(attacker.login(user["email"], user["password"], expect=401)) <= 19
    # the same user from another address is fine
    assert is_uuid(from_ip(api).login(user["email"], user["password"])["id"])


@pytest.fixture
def unthrottled(app_db_kind: str) -> Iterator[Api]:
    """An instance started with MB_DISABLE_SESSION_THROTTLE=true, with the named users."""
    with fresh_app_db(app_db_kind) as url:
        for server in start(Config(app_db_url=url, disable_session_throttle=True)):
            set_up_users(server)
            yield server.api()


def test_throttle_can_be_disabled(unthrottled: Api) -> None:
    for _ in range(12):
        assert unthrottled.login(USERS["rasta"]["email"], "wrong-pass-1", expect=401) == BAD_CREDENTIALS
    assert is_uuid(unthrottled.login(USERS["rasta"]["email"], PASSWORD)["id"])
