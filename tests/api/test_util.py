"""`/api/util/random_token`: the token the admin screens offer as an embedding secret key."""

from __future__ import annotations

import re

from tests.support.http import Api


def test_random_token_needs_no_session_and_is_fresh_each_time(api: Api) -> None:
    first = api.raw("GET", "/api/util/random_token")
    assert first.status_code == 200 and set(first.json()) == {"token"}
    assert re.fullmatch(r"[0-9a-f]{64}", first.json()["token"])
    second = api.as_("rasta").get("/api/util/random_token")
    assert re.fullmatch(r"[0-9a-f]{64}", second["token"]) and second["token"] != first.json()["token"]


def test_a_random_token_is_accepted_as_the_embedding_secret_key(api: Api) -> None:
    admin = api.as_("crowberto")
    before = admin.raw("GET", "/api/setting/embedding-secret-key")
    token = api.get("/api/util/random_token")["token"]
    try:
        admin.put("/api/setting/embedding-secret-key", {"value": token}, expect=204)
        assert admin.get("/api/setting/embedding-secret-key") == token
    finally:
        previous = before.json() if before.status_code == 200 else None
        admin.put("/api/setting/embedding-secret-key", {"value": previous}, expect=204)
