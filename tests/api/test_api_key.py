"""`/api/api-key`: creating, listing, renaming, regenerating and deleting API keys, and requests made
with `X-API-Key`, which act as the key's hidden user."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, insert, text

from querybase.models.api_key import ApiKey
from tests.conftest import Server
from tests.support.http import Api

FORBIDDEN = "You don't have permissions to do that."
KEY_RE = re.compile(r"^mb_[A-Za-z0-9+/=]{44}$")
KEY_FIELDS = {"id", "name", "group", "masked_key", "created_at", "updated_at", "updated_by"}
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ALL_USERS = {"id": 1, "name": "All Users"}
ADMINISTRATORS = {"id": 2, "name": "Administrators"}


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def new_key(admin: Api) -> Iterator[Any]:
    """`new_key(group_id)` creates a key with a unique name; every key left is deleted afterwards."""
    created: list[int] = []

    def create(group_id: int = 1) -> dict[str, Any]:
        body = admin.post("/api/api-key", {"name": f"key {uuid.uuid4().hex[:10]}", "group_id": group_id})
        created.append(body["id"])
        return body

    yield create
    for key_id in created:
        admin.raw("DELETE", f"/api/api-key/{key_id}")


def with_key(api: Api, key: str) -> Api:
    return api.with_headers({"X-API-Key": key})


def masked(key: str) -> str:
    return key[:7] + "*" * 40


def crowberto(user_ids: dict[str, int]) -> dict[str, Any]:
    return {"id": user_ids["crowberto"], "common_name": "Crowberto Corv"}


# ---------------------------------------------------------------------------------------------------
# Create, list, count


def test_create_a_key(admin: Api, user_ids: dict[str, int]) -> None:
    name = f"ci {uuid.uuid4().hex[:8]}"
    body = admin.post("/api/api-key", {"name": name, "group_id": 1})
    try:
        assert set(body) == KEY_FIELDS | {"unmasked_key"}
        key = body["unmasked_key"]
        assert KEY_RE.fullmatch(key) and len(key) == 47
        assert isinstance(body["id"], int)
        assert TIMESTAMP_RE.fullmatch(body["created_at"]) and TIMESTAMP_RE.fullmatch(body["updated_at"])
        assert {k: v for k, v in body.items() if k not in ("id", "created_at", "updated_at")} == {
            "name": name,
            "group": ALL_USERS,
            "unmasked_key": key,
            "masked_key": masked(key),
            "updated_by": crowberto(user_ids),
        }
    finally:
        admin.delete(f"/api/api-key/{body['id']}", expect=204)


def test_an_admin_key_shows_the_administrators_group(new_key: Any) -> None:
    assert new_key(2)["group"] == ADMINISTRATORS


def test_list_and_count(admin: Api, new_key: Any) -> None:
    count = admin.get("/api/api-key/count")
    assert isinstance(count, int)
    created = new_key()
    assert admin.get("/api/api-key/count") == count + 1
    listing = admin.get("/api/api-key")
    assert len(listing) == count + 1
    for item in listing:
        assert set(item) == KEY_FIELDS
    assert [item for item in listing if item["id"] == created["id"]] == [
        {k: v for k, v in created.items() if k != "unmasked_key"}
    ]
    ids = [item["id"] for item in listing]
    assert ids == sorted(ids)


def test_a_duplicate_name(admin: Api, new_key: Any) -> None:
    name = new_key()["name"]
    count = admin.get("/api/api-key/count")
    assert admin.post("/api/api-key", {"name": name, "group_id": 1}, expect=400) == {
        "errors": {"name": "An API key with this name already exists."}
    }
    assert admin.get("/api/api-key/count") == count


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"group_id": 1, "name": ""},
            {
                "errors": {"name": "value must be a non-blank string."},
                "specific-errors": {
                    "name": ['should be at least 1 character, received: ""', 'non-blank string, received: ""']
                },
            },
        ),
        (
            {"group_id": 1, "name": "   "},
            {
                "errors": {"name": "value must be a non-blank string."},
                "specific-errors": {"name": ['non-blank string, received: "   "']},
            },
        ),
        (
            {"group_id": None, "name": "valid name"},
            {
                "errors": {"group_id": "value must be an integer greater than zero."},
                "specific-errors": {
                    "group_id": ["value must be an integer greater than zero., received: nil"]
                },
            },
        ),
    ],
)
def test_create_validation(admin: Api, body: dict[str, Any], errors: dict[str, Any]) -> None:
    count = admin.get("/api/api-key/count")
    assert admin.post("/api/api-key", body, expect=400) == errors
    assert admin.get("/api/api-key/count") == count


def test_a_name_longer_than_the_column(admin: Api, new_key: Any) -> None:
    """api_key.name is varchar(254): a longer name is a 400 on every app database, never a 500."""
    long_name = "n" * 255
    errors = {
        "errors": {"name": "string with length between 1 and 254 inclusive"},
        "specific-errors": {"name": [f'should be between 1 and 254 characters, received: "{long_name}"']},
    }
    count = admin.get("/api/api-key/count")
    assert admin.post("/api/api-key", {"name": long_name, "group_id": 1}, expect=400) == errors
    assert admin.get("/api/api-key/count") == count
    created = new_key()
    assert admin.put(f"/api/api-key/{created['id']}", {"name": long_name}, expect=400) == {
        **errors,
        "errors": {"name": "nullable string with length between 1 and 254 inclusive"},
    }
    longest = "n" * 254
    assert admin.put(f"/api/api-key/{created['id']}", {"name": longest})["name"] == longest


def test_rename_validation(admin: Api, new_key: Any) -> None:
    """PUT takes Metabase's `[:string {:min 1, :max 254}]` name; POST's non-blank rule is not repeated."""
    created = new_key()
    assert admin.put(f"/api/api-key/{created['id']}", {"name": ""}, expect=400) == {
        "errors": {"name": "nullable string with length between 1 and 254 inclusive"},
        "specific-errors": {"name": ['should be between 1 and 254 characters, received: ""']},
    }
    assert admin.put(f"/api/api-key/{created['id']}", {"group_id": 0}, expect=400) == {
        "errors": {"group_id": "nullable value must be an integer greater than zero."},
        "specific-errors": {"group_id": ["value must be an integer greater than zero., received: 0"]},
    }
    [listed] = [item for item in admin.get("/api/api-key") if item["id"] == created["id"]]
    assert (listed["name"], listed["group"]) == (created["name"], ALL_USERS)


@pytest.mark.parametrize("group_id", [987654, 2**31, 2**63 - 1])
def test_an_unknown_group(admin: Api, new_key: Any, group_id: int) -> None:
    count = admin.get("/api/api-key/count")
    body = {"name": f"nowhere {uuid.uuid4().hex[:8]}", "group_id": group_id}
    unknown = {"errors": {"group_id": "value must be the id of an existing group."}}
    assert admin.post("/api/api-key", body, expect=400) == unknown
    assert admin.get("/api/api-key/count") == count
    created = new_key()
    assert admin.put(f"/api/api-key/{created['id']}", {"group_id": group_id}, expect=400) == unknown


# ---------------------------------------------------------------------------------------------------
# Update, regenerate, delete


def test_rename_and_move_a_key(api: Api, admin: Api, new_key: Any, user_ids: dict[str, int]) -> None:
    created = new_key()
    key = created["unmasked_key"]
    name = f"renamed {uuid.uuid4().hex[:8]}"
    renamed = admin.put(f"/api/api-key/{created['id']}", {"name": name})
    assert set(renamed) == KEY_FIELDS
    assert {k: v for k, v in renamed.items() if k != "updated_at"} == {
        **{k: v for k, v in created.items() if k not in ("unmasked_key", "updated_at")},
        "name": name,
    }
    # The hidden user carries the key's name.
    assert with_key(api, key).get("/api/user/current")["first_name"] == name

    with_key(api, key).get("/api/setting", expect=403)
    promoted = admin.put(f"/api/api-key/{created['id']}", {"group_id": 2})
    assert (promoted["name"], promoted["group"]) == (name, ADMINISTRATORS)
    assert isinstance(with_key(api, key).get("/api/setting"), list)

    demoted = admin.put(f"/api/api-key/{created['id']}", {"group_id": 1})
    assert demoted["group"] == ALL_USERS
    assert with_key(api, key).get("/api/setting", expect=403) == FORBIDDEN
    assert with_key(api, key).get("/api/user/current")["is_superuser"] is False


def test_rename_to_a_taken_name(admin: Api, new_key: Any) -> None:
    first, second = new_key(), new_key()
    assert admin.put(f"/api/api-key/{second['id']}", {"name": first["name"]}, expect=400) == {
        "errors": {"name": "An API key with this name already exists."}
    }
    # Keeping its own name is no clash.
    assert admin.put(f"/api/api-key/{second['id']}", {"name": second["name"]})["name"] == second["name"]


def test_a_name_taken_by_a_concurrent_request(
    server: Server, admin: Api, user_ids: dict[str, int], app_db_kind: str, request: pytest.FixtureRequest
) -> None:
    """Another process inserts the same name after this request checked it: the unique index decides,
    and the loser gets the duplicate-name 400, not a 500."""
    name = f"raced {uuid.uuid4().hex[:8]}"
    engine = create_engine(server.config.app_db_url)
    try:
        with engine.connect() as other:
            # The other process's key, not yet committed; lucky stands in for its hidden user.
            now = dt.datetime.now(dt.UTC)
            other.execute(
                insert(ApiKey).values(
                    user_id=user_ids["lucky"],
                    key="0" * 64,
                    key_prefix="mb_" + uuid.uuid4().hex[:4],
                    name=name,
                    creator_id=user_ids["crowberto"],
                    updated_by_id=user_ids["crowberto"],
                    created_at=now,
                    updated_at=now,
                )
            )
            committer = threading.Timer(0.5, other.commit)
            committer.start()
            try:
                response = admin.raw("POST", "/api/api-key", json={"name": name, "group_id": 1})
            finally:
                committer.join()
            other.execute(delete(ApiKey).where(ApiKey.name == name))
            other.commit()
    finally:
        engine.dispose()
    assert (response.status_code, response.json()) == (
        400,
        {"errors": {"name": "An API key with this name already exists."}},
    )


def test_regenerate(api: Api, admin: Api, new_key: Any) -> None:
    created = new_key()
    old = created["unmasked_key"]
    with_key(api, old).get("/api/user/current")
    body = admin.put(f"/api/api-key/{created['id']}/regenerate")
    new = body["unmasked_key"]
    assert KEY_RE.fullmatch(new) and new != old
    assert body == {"id": created["id"], "unmasked_key": new, "masked_key": masked(new), "prefix": new[:7]}
    assert with_key(api, old).get("/api/user/current", expect=401) == "Unauthenticated"
    assert with_key(api, new).get("/api/user/current")["first_name"] == created["name"]
    [listed] = [item for item in admin.get("/api/api-key") if item["id"] == created["id"]]
    assert listed["masked_key"] == masked(new)


def test_delete(api: Api, admin: Api, new_key: Any) -> None:
    created = new_key()
    key = created["unmasked_key"]
    count = admin.get("/api/api-key/count")
    response = admin.raw("DELETE", f"/api/api-key/{created['id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert with_key(api, key).get("/api/user/current", expect=401) == "Unauthenticated"
    assert admin.get("/api/api-key/count") == count - 1
    assert created["id"] not in [item["id"] for item in admin.get("/api/api-key")]
    assert admin.delete(f"/api/api-key/{created['id']}", expect=404) == "Not found."


@pytest.mark.parametrize("key_id", [987654, 2**31, 2**63, 10**20])
def test_missing_keys_are_404(admin: Api, key_id: int) -> None:
    """Ids no app database column can hold are simply not found."""
    assert admin.put(f"/api/api-key/{key_id}", {"name": "x"}, expect=404) == "Not found."
    assert admin.put(f"/api/api-key/{key_id}/regenerate", expect=404) == "Not found."
    assert admin.delete(f"/api/api-key/{key_id}", expect=404) == "Not found."


@pytest.mark.parametrize("key_id", [0, -1])
def test_ids_below_one_match_no_route(admin: Api, key_id: int) -> None:
    """Metabase's id parameters are positive integers in the route pattern itself."""
    assert admin.delete(f"/api/api-key/{key_id}", expect=404) == "API endpoint does not exist."


def test_only_admins_manage_keys(api: Api, admin: Api, new_key: Any) -> None:
    created = new_key()
    count = admin.get("/api/api-key/count")
    for caller, status, body in ((api.as_("rasta"), 403, FORBIDDEN), (api, 401, "Unauthenticated")):
        assert caller.get("/api/api-key", expect=status) == body
        assert caller.get("/api/api-key/count", expect=status) == body
        assert caller.post("/api/api-key", {"name": "mine", "group_id": 2}, expect=status) == body
        assert caller.put(f"/api/api-key/{created['id']}", {"name": "mine"}, expect=status) == body
        assert caller.put(f"/api/api-key/{created['id']}/regenerate", expect=status) == body
        assert caller.delete(f"/api/api-key/{created['id']}", expect=status) == body
    assert admin.get("/api/api-key/count") == count
    assert with_key(api, created["unmasked_key"]).get("/api/user/current")["first_name"] == created["name"]


def test_a_non_admin_key_cannot_manage_keys(api: Api, new_key: Any) -> None:
    key = new_key()["unmasked_key"]
    assert with_key(api, key).get("/api/api-key", expect=403) == FORBIDDEN


# ---------------------------------------------------------------------------------------------------
# Requests with X-API-Key


def test_a_key_acts_as_its_hidden_user(api: Api, admin: Api, new_key: Any) -> None:
    created = new_key()
    me = with_key(api, created["unmasked_key"]).get("/api/user/current")
    assert me["first_name"] == created["name"]
    assert me["last_name"] == ""
    assert re.fullmatch(r"api-key-user-[0-9a-f-]{36}@api-key\.invalid", me["email"])
    assert me["is_superuser"] is False
    assert me["group_ids"] == [1]
    listed = admin.get("/api/user", params={"status": "all"})
    assert me["id"] not in [user["id"] for user in listed["data"]]
    assert with_key(api, created["unmasked_key"]).get("/api/setting", expect=403) == FORBIDDEN


def test_an_admin_key(api: Api, new_key: Any) -> None:
    key = new_key(2)["unmasked_key"]
    me = with_key(api, key).get("/api/user/current")
    assert (me["is_superuser"], sorted(me["group_ids"])) == (True, [1, 2])
    settings = with_key(api, key).get("/api/setting")
    assert "site-name" in [item["key"] for item in settings]


@pytest.mark.parametrize(
    "key",
    [
        "mb_not_an_api_key",
        "mb_",
        "",
        "not-even-prefixed-but-47-characters-long-xxxxxxx",
    ],
)
def test_invalid_keys_are_unauthenticated(api: Api, key: str) -> None:
    assert with_key(api, key).get("/api/user/current", expect=401) == "Unauthenticated"


def test_a_key_with_the_right_prefix_and_wrong_secret(api: Api, new_key: Any) -> None:
    key = new_key()["unmasked_key"]
    forged = key[:7] + ("A" if key[7] != "A" else "B") + key[8:]
    assert with_key(api, forged).get("/api/user/current", expect=401) == "Unauthenticated"
    assert with_key(api, key[:-1]).get("/api/user/current", expect=401) == "Unauthenticated"


def test_keys_are_stored_hashed(server: Server, new_key: Any) -> None:
    key = new_key()["unmasked_key"]
    engine = create_engine(server.config.app_db_url)
    try:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(text("SELECT * FROM api_key"))]
    finally:
        engine.dispose()
    assert rows
    for row in rows:
        for value in row.values():
            assert key[3:] not in str(value)
    [mine] = [row for row in rows if row["key_prefix"] == key[:7]]
    assert re.fullmatch(r"[0-9a-f]{64}", mine["key"])
