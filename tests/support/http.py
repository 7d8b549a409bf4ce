"""An HTTP client for tests: `api.as_("rasta").get("/api/user/1", expect=403)` returns the decoded body
and fails the test when the status is not the expected one."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.testclient import TestClient

from tests.support.users import PASSWORD, USERS


def decode(response: Any) -> Any:
    if not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.text


def random_ip() -> str:
    """Each client gets its own address, so one test's failed logins never throttle another's."""
    return "10." + ".".join(str(secrets.randbelow(254) + 1) for _ in range(3))


class Api:
    """Requests as one caller: anonymous, a named test user, or explicit headers."""

    def __init__(
        self, client: TestClient, headers: dict[str, str] | None = None, sessions: dict | None = None
    ):
        self.client = client
        self.headers = {"X-Forwarded-For": random_ip(), **(headers or {})}
        self.sessions: dict[str, str] = {} if sessions is None else sessions

    def request(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.client.cookies.clear()
        body = decode(response)
        assert response.status_code == expect, (
            f"{method} {path}: expected {expect}, got {response.status_code}: {body!r}"
        )
        return body

    def raw(self, method: str, path: str, **kwargs: Any) -> Any:
        """The response itself, for tests about headers and cookies."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.client.cookies.clear()
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def with_headers(self, headers: dict[str, str]) -> Api:
        return Api(self.client, {**self.headers, **headers}, self.sessions)

    def session_for(self, username: str) -> str:
        if username not in self.sessions:
            body = self.post("/api/session", {"username": USERS[username]["email"], "password": PASSWORD})
            self.sessions[username] = body["id"]
        return self.sessions[username]

    def as_(self, username: str) -> Api:
        return self.with_headers({"X-Metabase-Session": self.session_for(username)})

    def login(self, email: str, password: str, **kwargs: Any) -> Any:
        return self.post("/api/session", {"username": email, "password": password}, **kwargs)
