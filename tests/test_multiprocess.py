"""Two server processes on one PostgreSQL app database behave as one instance: sessions, settings and
the login throttle are shared through the database, not held in a process."""

from __future__ import annotations

import re

import httpx2
import pytest

from tests.support.appdb import PG_HOST, PG_PORT, PG_USER, fresh_app_db
from tests.support.processes import running_server

pytestmark = pytest.mark.multiprocess

ADMIN = {"email": "ada@example.com", "password": "s3cret-pw", "first_name": "Ada", "last_name": "Admin"}


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory):
    logs = tmp_path_factory.mktemp("multiprocess")
    with fresh_app_db("postgres") as url:
        env = {
            "MB_DB_TYPE": "postgres",
            "MB_DB_HOST": PG_HOST,
            "MB_DB_PORT": str(PG_PORT),
            "MB_DB_DBNAME": url.database,
            "MB_DB_USER": PG_USER,
        }
        with running_server(env, logs / "a.log") as a, running_server(env, logs / "b.log") as b:
            token = httpx2.get(f"{a}/api/session/properties").json()["setup-token"]
            assert httpx2.get(f"{b}/api/session/properties").json()["setup-token"] == token
            setup = httpx2.post(
                f"{a}/api/setup",
                json={"token": token, "user": ADMIN, "prefs": {"site_name": "Two"}},
            )
            assert setup.status_code == 200, setup.text
            yield a, b


def test_session_created_on_one_works_on_the_other(two_servers):
    a, b = two_servers
    login = httpx2.post(f"{a}/api/session", json={"username": ADMIN["email"], "password": ADMIN["password"]})
    assert login.status_code == 200
    session = login.json()["id"]
    current = httpx2.get(f"{b}/api/user/current", headers={"X-Metabase-Session": session})
    assert current.status_code == 200
    assert current.json()["email"] == ADMIN["email"]
    assert httpx2.delete(f"{b}/api/session", headers={"X-Metabase-Session": session}).status_code == 204
    gone = httpx2.get(f"{a}/api/user/current", headers={"X-Metabase-Session": session})
    assert (gone.status_code, gone.text) == (401, "Unauthenticated")


def test_setting_changed_on_one_is_seen_by_the_other(two_servers):
    a, b = two_servers
    login = httpx2.post(f"{a}/api/session", json={"username": ADMIN["email"], "password": ADMIN["password"]})
    headers = {"X-Metabase-Session": login.json()["id"]}
    for name in ("First name", "Second name"):
        put = httpx2.put(f"{a}/api/setting/site-name", json={"value": name}, headers=headers)
        assert put.status_code == 204
        seen = httpx2.get(f"{b}/api/setting/site-name", headers=headers)
        assert (seen.status_code, seen.json()) == (200, name)


def test_login_throttle_counts_attempts_on_both(two_servers):
    a, b = two_servers
    user = "throttled@example.com"
    for attempt in range(10):
        server = (a, b)[attempt % 2]
        failed = httpx2.post(f"{server}/api/session", json={"username": user, "password": "wrong"})
        assert failed.status_code == 401
        assert failed.json() == {"errors": {"password": "did not match stored password"}}
    for server in (a, b):
        throttled = httpx2.post(f"{server}/api/session", json={"username": user, "password": "wrong"})
        assert throttled.status_code == 401
        message = throttled.json()["errors"]["username"]
        assert re.fullmatch(r"Too many attempts! You must wait \d+ seconds before trying again\.", message)
