"""`/api/user`: the current user, listing, creating, reading, updating, passwords, deactivation and
reactivation, with Metabase's exact bodies and statuses."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Server
from tests.support.http import Api
from tests.support.users import PASSWORD, USERS

FORBIDDEN = "You don't have permissions to do that."
NOT_FOUND = "Not found."
LAST_ADMIN = "You cannot remove the last member of the 'Admin' group!"
ALL_USERS_LOCKED = "You cannot add or remove users to/from the 'All Users' group."
DISABLED = {"errors": {"_error": "Your account is disabled."}}
BAD_CREDENTIALS = {"errors": {"password": "did not match stored password"}}
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NEW_PASSWORD = "n3w-Passw0rd-77"
MISMATCH = "Value of is_superuser must correspond to presence of Admin group ID in group_ids."

# The admin-or-self view of a user, which every endpoint here answers with.
USER_KEYS = {
    "id",
    "email",
    "date_joined",
    "first_name",
    "last_name",
    "last_login",
    "is_superuser",
    "is_qbnewb",
    "tenant_id",
    "sso_source",
    "is_active",
    "updated_at",
    "login_attributes",
    "jwt_attributes",
    "locale",
    "common_name",
}
# Metabase's API tutorial shows these keys for GET /api/user/current ...
TUTORIAL_CURRENT_KEYS = {
    "email",
    "ldap_auth",
    "first_name",
    "locale",
    "last_login",
    "is_active",
    "is_qbnewb",
    "updated_at",
    "group_ids",
    "is_superuser",
    "login_attributes",
    "id",
    "last_name",
    "date_joined",
    "personal_collection_id",
    "common_name",
    "google_auth",
}
# ... and Metabase 0.57 adds these.
CURRENT_KEYS = TUTORIAL_CURRENT_KEYS | {
    "first_login",
    "is_installer",
    "has_invited_second_user",
    "has_question_and_dashboard",
    "has_model",
    "custom_homepage",
    "sso_source",
    "jwt_attributes",
    "tenant_id",
}
LIST_ROW_KEYS = USER_KEYS | {"group_ids", "personal_collection_id"}
# Whether questions, dashboards and models exist: other tests may create some on the shared server, so
# their values are pinned only on a fresh instance.
CONTENT_FLAGS = ("has_question_and_dashboard", "has_model")
VOLATILE = ("id", "date_joined", "updated_at", "last_login", "first_login", "personal_collection_id")


def stable(body: dict[str, Any]) -> dict[str, Any]:
    """`body` without ids and timestamps, after checking that each timestamp is ISO-8601 UTC (`Z`)."""
    for key in ("date_joined", "updated_at", "last_login", "first_login"):
        if body.get(key) is not None:
            assert TIMESTAMP_RE.fullmatch(body[key]), (key, body[key])
    return {k: v for k, v in body.items() if k not in VOLATILE}


def person(
    email: str,
    *,
    first: str | None,
    last: str | None,
    superuser: bool = False,
    active: bool = True,
    groups: list[int] | None = None,
) -> dict[str, Any]:
    """The stable part of a freshly created user's JSON."""
    names = [n for n in (first, last) if n]
    body = {
        "email": email,
        "first_name": first,
        "last_name": last,
        "common_name": " ".join(names) if names else email,
        "is_superuser": superuser,
        "is_active": active,
        "is_qbnewb": True,
        "locale": None,
        "sso_source": None,
        "login_attributes": None,
        "jwt_attributes": None,
        "tenant_id": None,
    }
    if groups is not None:
        body["user_group_memberships"] = [{"id": g} for g in groups]
    return body


@dataclass
class Person:
    """A user a test created, with a client logged in as them."""

    id: int
    email: str
    created: dict[str, Any]
    client: Api


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def new_user(api: Api, admin: Api) -> Iterator[Callable[..., Person]]:
    """`new_user(first, last, **body)` creates a user with a unique email and logs them in; every user
    created is deactivated afterwards, so the shared server's active lists stay short."""
    created: list[int] = []

    def create(first: str | None = "Test", last: str | None = "Person", **extra: Any) -> Person:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": PASSWORD, **extra}
        if first is not None:
            body["first_name"] = first
        if last is not None:
            body["last_name"] = last
        user = admin.post("/api/user", body)
        created.append(user["id"])
        session = api.login(email, PASSWORD)["id"]
        return Person(user["id"], email, user, api.with_headers({"X-Metabase-Session": session}))

    yield create
    for user_id in created:
        admin.raw("DELETE", f"/api/user/{user_id}")


def set_up_single_admin(fresh_api: Api) -> tuple[int, Api]:
    """Run first-run setup on a new instance; returns the only admin's id and a client for them."""
    token = fresh_api.get("/api/session/properties")["setup-token"]
    session = fresh_api.post(
        "/api/setup",
        {
            "token": token,
            "user": {
                "email": "solo@example.com",
                "password": PASSWORD,
                "first_name": "Solo",
                "last_name": "Admin",
            },
            "prefs": {"site_name": "Solo"},
        },
    )["id"]
    solo = fresh_api.with_headers({"X-Metabase-Session": session})
    return solo.get("/api/user/current")["id"], solo


# ---------------------------------------------------------------------------------------------------
# GET /api/user/current


def test_current_user_for_an_admin(admin: Api, user_ids: dict[str, int]) -> None:
    body = admin.get("/api/user/current")
    assert set(body) == CURRENT_KEYS
    assert body["id"] == user_ids["crowberto"]
    assert isinstance(body["personal_collection_id"], int)
    assert dt.datetime.fromisoformat(body["first_login"]) <= dt.datetime.fromisoformat(body["last_login"])
    assert all(isinstance(body[flag], bool) for flag in CONTENT_FLAGS)
    assert {k: v for k, v in stable(body).items() if k not in CONTENT_FLAGS} == {
        **person("crowberto@metabase.com", first="Crowberto", last="Corv", superuser=True),
        "group_ids": [1, 2],
        "is_installer": True,
        "has_invited_second_user": True,
        "custom_homepage": None,
        "google_auth": False,
        "ldap_auth": False,
    }


def test_current_user_for_a_normal_user(api: Api, user_ids: dict[str, int]) -> None:
    body = api.as_("rasta").get("/api/user/current")
    assert set(body) == CURRENT_KEYS
    assert body["id"] == user_ids["rasta"]
    assert all(isinstance(body[flag], bool) for flag in CONTENT_FLAGS)
    assert {k: v for k, v in stable(body).items() if k not in CONTENT_FLAGS} == {
        **person("rasta@metabase.com", first="Rasta", last="Toucan"),
        "group_ids": [1],
        "is_installer": False,
        "has_invited_second_user": False,
        "custom_homepage": None,
        "google_auth": False,
        "ldap_auth": False,
    }


def test_personal_collection_id_is_stable_and_personal(api: Api) -> None:
    rasta = [api.as_("rasta").get("/api/user/current")["personal_collection_id"] for _ in range(2)]
    lucky = api.as_("lucky").get("/api/user/current")["personal_collection_id"]
    assert rasta[0] == rasta[1]
    assert isinstance(lucky, int) and lucky != rasta[0]


def test_current_user_needs_a_session(api: Api) -> None:
    assert api.get("/api/user/current", expect=401) == "Unauthenticated"


def test_current_user_on_a_fresh_instance(fresh_api: Api) -> None:
    admin_id, solo = set_up_single_admin(fresh_api)
    body = solo.get("/api/user/current")
    assert body["id"] == admin_id
    assert {k: body[k] for k in ("is_installer", "has_invited_second_user", "group_ids")} == {
        "is_installer": True,
        "has_invited_second_user": False,
        "group_ids": [1, 2],
    }
    assert (body["has_question_and_dashboard"], body["has_model"], body["custom_homepage"]) == (
        False,
        False,
        None,
    )
    solo.post("/api/user", {"email": "second@example.com"})
    assert solo.get("/api/user/current")["has_invited_second_user"] is True


def test_current_user_content_flags_follow_what_the_user_can_see(fresh_api: Api) -> None:
    _, solo = set_up_single_admin(fresh_api)

    def flags() -> tuple[bool, bool]:
        body = solo.get("/api/user/current")
        return body["has_question_and_dashboard"], body["has_model"]

    query = {"database": 1, "type": "native", "native": {"query": "SELECT 1"}}
    card = {"name": "Q", "display": "table", "visualization_settings": {}, "dataset_query": query}
    solo.post("/api/card", card)
    assert flags() == (False, False)
    dashboard = solo.post("/api/dashboard", {"name": "D"})
    assert flags() == (True, False)
    model = solo.post("/api/card", {**card, "name": "M", "type": "model"})
    assert flags() == (True, True)
    solo.put(f"/api/card/{model['id']}", {"archived": True})
    solo.put(f"/api/dashboard/{dashboard['id']}", {"archived": True})
    assert flags() == (False, False)


# ---------------------------------------------------------------------------------------------------
# GET /api/user


def test_admin_lists_active_users(admin: Api, user_ids: dict[str, int]) -> None:
    body = admin.get("/api/user")
    assert set(body) == {"data", "total", "limit", "offset"}
    assert (body["limit"], body["offset"], body["total"]) == (None, None, len(body["data"]))
    by_email = {row["email"]: row for row in body["data"]}
    assert {"crowberto@metabase.com", "rasta@metabase.com", "lucky@metabase.com"} <= set(by_email)
    assert "trashbird@metabase.com" not in by_email
    assert all(set(row) == LIST_ROW_KEYS for row in body["data"])
    lucky = by_email["lucky@metabase.com"]
    assert lucky["id"] == user_ids["lucky"] and isinstance(lucky["personal_collection_id"], int)
    assert stable(lucky) == {**person("lucky@metabase.com", first="Lucky", last="Pigeon"), "group_ids": [1]}
    assert by_email["crowberto@metabase.com"]["group_ids"] == [1, 2]


def test_list_order_query_and_paging(admin: Api, new_user: Callable[..., Person]) -> None:
    tag = uuid.uuid4().hex[:8]
    zed = new_user(f"zed{tag}", "Last")
    beta_b = new_user(f"Beta{tag}", "bravo")
    beta_a = new_user(f"beta{tag}", "Alpha")
    alpha = new_user(f"ALPHA{tag}", "Last")
    expected = [alpha.id, beta_a.id, beta_b.id, zed.id]

    def ids(**params: Any) -> tuple[list[int], int, Any, Any]:
        body = admin.get("/api/user", params={"query": tag, **params})
        return [row["id"] for row in body["data"]], body["total"], body["limit"], body["offset"]

    # Ordered by lower(first_name), then lower(last_name); the query matches names case-insensitively.
    assert ids() == (expected, 4, None, None)
    assert ids(query=tag.upper()) == (expected, 4, None, None)
    assert ids(limit=2) == (expected[:2], 4, 2, 0)
    assert ids(limit=2, offset=1) == (expected[1:3], 4, 2, 1)
    # `offset` alone pages with Metabase's default limit of 50.
    assert ids(offset=1) == (expected[1:], 4, 50, 1)


def test_list_query_matches_email(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user("Nobody", "Special")
    body = admin.get("/api/user", params={"query": someone.email.split("@")[0].upper()})
    assert ([row["id"] for row in body["data"]], body["total"]) == ([someone.id], 1)


def test_list_deactivated_users(admin: Api, user_ids: dict[str, int]) -> None:
    def emails(**params: Any) -> set[str]:
        return {row["email"] for row in admin.get("/api/user", params=params)["data"]}

    trash, rasta = "trashbird@metabase.com", "rasta@metabase.com"
    deactivated = emails(status="deactivated")
    assert trash in deactivated and rasta not in deactivated
    for params in ({"status": "all"}, {"include_deactivated": "true"}, {"include_deactivated": True}):
        assert {trash, rasta} <= emails(**params), params
    # Metabase's quirk: include_deactivated=true wins over status; an unknown status means active users.
    assert {trash, rasta} <= emails(include_deactivated="true", status="deactivated")
    for params in ({"status": "whatever"}, {"include_deactivated": "false"}, {"status": "active"}):
        listed = emails(**params)
        assert rasta in listed and trash not in listed, params
    row = next(
        r for r in admin.get("/api/user", params={"status": "deactivated"})["data"] if r["email"] == trash
    )
    assert (row["id"], row["is_active"], row["group_ids"]) == (user_ids["trashbird"], False, [1])


def test_list_by_group(admin: Api, new_user: Callable[..., Person]) -> None:
    member, _outsider = new_user(), new_user()
    group = admin.post("/api/permissions/group", {"name": f"list {uuid.uuid4().hex[:8]}"})
    try:
        admin.post("/api/permissions/membership", {"group_id": group["id"], "user_id": member.id})
        body = admin.get("/api/user", params={"group_id": group["id"]})
        assert ([row["id"] for row in body["data"]], body["total"]) == ([member.id], 1)
        assert body["data"][0]["group_ids"] == [1, group["id"]]
    finally:
        admin.delete(f"/api/permissions/group/{group['id']}", expect=204)


def test_normal_users_cannot_list_users(api: Api) -> None:
    rasta = api.as_("rasta")
    assert rasta.get("/api/user", expect=403) == FORBIDDEN
    assert rasta.get("/api/user", params={"include_deactivated": "true"}, expect=403) == FORBIDDEN
    assert rasta.get("/api/user", params={"status": "all"}, expect=403) == FORBIDDEN
    assert api.get("/api/user", expect=401) == "Unauthenticated"


# ---------------------------------------------------------------------------------------------------
# POST /api/user


def test_admin_creates_a_user(api: Api, admin: Api) -> None:
    email = f"New-{uuid.uuid4().hex[:8]}@Example.COM"
    body = admin.post("/api/user", {"first_name": "New", "last_name": "Person", "email": email})
    try:
        assert set(body) == USER_KEYS | {"user_group_memberships"}
        assert isinstance(body["id"], int) and body["last_login"] is None
        # Emails are stored lower-cased.
        assert stable(body) == person(email.lower(), first="New", last="Person", groups=[1])
        fetched = admin.get(f"/api/user/{body['id']}")
        assert stable(fetched) == stable(body)
    finally:
        admin.delete(f"/api/user/{body['id']}")


def test_create_with_a_password_then_log_in_with_any_case(api: Api, admin: Api) -> None:
    email = f"casey-{uuid.uuid4().hex[:8]}@example.com"
    created = admin.post("/api/user", {"email": email, "password": PASSWORD})
    try:
        assert stable(created) == person(email, first=None, last=None, groups=[1])
        session = api.login(email.upper(), PASSWORD)["id"]
        assert UUID_RE.fullmatch(session)
        me = api.with_headers({"X-Metabase-Session": session}).get("/api/user/current")
        assert (me["id"], me["email"], me["common_name"]) == (created["id"], email, email)
    finally:
        admin.delete(f"/api/user/{created['id']}")


def test_named_users_log_in_with_an_upper_case_email(api: Api, user_ids: dict[str, int]) -> None:
    session = api.login(USERS["lucky"]["email"].upper(), PASSWORD)["id"]
    assert (
        api.with_headers({"X-Metabase-Session": session}).get("/api/user/current")["id"] == user_ids["lucky"]
    )


def test_create_with_a_taken_email(admin: Api) -> None:
    for email in ("rasta@metabase.com", "RASTA@Metabase.com", "TrashBird@metabase.com"):
        body = admin.post("/api/user", {"first_name": "Dup", "email": email}, expect=400)
        assert body == {"errors": {"email": "Email address already in use."}}, email


def test_create_validates_the_email(admin: Api) -> None:
    assert admin.post("/api/user", {"first_name": "x", "email": "whatever"}, expect=400) == {
        "errors": {"email": "value must be a valid email address."},
        "specific-errors": {"email": ['valid email address, received: "whatever"']},
    }
    assert admin.post("/api/user", {"first_name": "x"}, expect=400) == {
        "errors": {"email": "value must be a valid email address."},
        "specific-errors": {"email": ["missing required key, received: nil"]},
    }


def test_only_admins_create_users(api: Api, admin: Api) -> None:
    email = f"denied-{uuid.uuid4().hex[:8]}@example.com"
    assert api.as_("rasta").post("/api/user", {"email": email}, expect=403) == FORBIDDEN
    assert admin.get("/api/user", params={"query": email, "status": "all"})["total"] == 0


def test_create_an_admin_through_group_memberships(admin: Api) -> None:
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    body = admin.post("/api/user", {"email": email, "user_group_memberships": [{"id": 1}, {"id": 2}]})
    try:
        assert stable(body) == person(email, first=None, last=None, superuser=True, groups=[1, 2])
        fetched = admin.get(f"/api/user/{body['id']}")
        assert (fetched["is_superuser"], fetched["user_group_memberships"]) == (True, [{"id": 1}, {"id": 2}])
    finally:
        admin.delete(f"/api/user/{body['id']}")


def test_create_ignores_is_superuser_but_source_setup_makes_an_admin(admin: Api) -> None:
    plain, invited = (f"{kind}-{uuid.uuid4().hex[:8]}@example.com" for kind in ("plain", "invited"))
    ignored = admin.post("/api/user", {"email": plain, "is_superuser": True})
    setup = admin.post("/api/user", {"email": invited, "source": "setup"})
    try:
        assert (ignored["is_superuser"], ignored["user_group_memberships"]) == (False, [{"id": 1}])
        assert (setup["is_superuser"], setup["user_group_memberships"]) == (True, [{"id": 1}, {"id": 2}])
    finally:
        admin.delete(f"/api/user/{ignored['id']}")
        admin.delete(f"/api/user/{setup['id']}")


def test_create_without_all_users_fails_and_leaves_no_user(admin: Api) -> None:
    group = admin.post("/api/permissions/group", {"name": f"only {uuid.uuid4().hex[:8]}"})
    email = f"lonely-{uuid.uuid4().hex[:8]}@example.com"
    try:
        body = {"email": email, "user_group_memberships": [{"id": group["id"]}]}
        assert admin.post("/api/user", body, expect=400) == ALL_USERS_LOCKED
        assert admin.get("/api/user", params={"query": email, "status": "all"})["total"] == 0
    finally:
        admin.delete(f"/api/permissions/group/{group['id']}", expect=204)


def test_create_with_login_attributes(admin: Api) -> None:
    email = f"attrs-{uuid.uuid4().hex[:8]}@example.com"
    attributes = {"text": "hello", "integer": 42, "decimal": 45.67, "yes": True, "no": False}
    body = admin.post("/api/user", {"email": email, "login_attributes": attributes})
    try:
        expected = {"text": "hello", "integer": "42", "decimal": "45.67", "yes": "true", "no": "false"}
        assert body["login_attributes"] == expected
        assert admin.get(f"/api/user/{body['id']}")["login_attributes"] == expected
    finally:
        admin.delete(f"/api/user/{body['id']}")


def test_login_attribute_keys_cannot_start_with_at(admin: Api, new_user: Callable[..., Person]) -> None:
    expected = {
        "errors": {
            "login_attributes": {
                "@foo": "nullable map from <login attribute keys must be a keyword or string, and login "
                "attribute keys must not start with `@`> to <anything>"
            }
        },
        "specific-errors": {
            "login_attributes": {"@foo": ['login attribute keys must not start with `@`, received: "@foo"']}
        },
    }
    email = f"at-{uuid.uuid4().hex[:8]}@example.com"
    assert (
        admin.post("/api/user", {"email": email, "login_attributes": {"@foo": "foo"}}, expect=400) == expected
    )
    someone = new_user()
    assert admin.put(f"/api/user/{someone.id}", {"login_attributes": {"@foo": "foo"}}, expect=400) == expected


# ---------------------------------------------------------------------------------------------------
# GET /api/user/:id


def test_get_yourself_or_anyone_as_admin(api: Api, admin: Api, user_ids: dict[str, int]) -> None:
    rasta_id = user_ids["rasta"]
    own = api.as_("rasta").get(f"/api/user/{rasta_id}")
    by_admin = admin.get(f"/api/user/{rasta_id}")
    assert set(own) == USER_KEYS | {"user_group_memberships"}
    assert own["id"] == rasta_id
    assert (
        stable(own)
        == stable(by_admin)
        == person("rasta@metabase.com", first="Rasta", last="Toucan", groups=[1])
    )
    crowberto = admin.get(f"/api/user/{user_ids['crowberto']}")
    assert (crowberto["is_superuser"], crowberto["user_group_memberships"]) == (True, [{"id": 1}, {"id": 2}])


def test_admins_read_deactivated_users(admin: Api, user_ids: dict[str, int]) -> None:
    body = admin.get(f"/api/user/{user_ids['trashbird']}")
    assert stable(body) == person(
        "trashbird@metabase.com", first="Trash", last="Bird", active=False, groups=[1]
    )


def test_get_someone_else_or_nobody(api: Api, admin: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    assert rasta.get(f"/api/user/{user_ids['lucky']}", expect=403) == FORBIDDEN
    # The permission check comes first: a normal user cannot probe which ids exist.
    assert rasta.get("/api/user/987654321", expect=403) == FORBIDDEN
    assert admin.get("/api/user/987654321", expect=404) == NOT_FOUND
    assert admin.get("/api/user/abc", expect=404) == "API endpoint does not exist."


# ---------------------------------------------------------------------------------------------------
# PUT /api/user/:id


def test_update_own_names_renames_the_personal_collection(
    server: Server, new_user: Callable[..., Person]
) -> None:
    someone = new_user("Blue Ape", "Ron")
    collection_id = someone.client.get("/api/user/current")["personal_collection_id"]
    body = someone.client.put(f"/api/user/{someone.id}", {"first_name": "Blue", "last_name": "Sky"})
    assert stable(body) == person(someone.email, first="Blue", last="Sky", groups=[1])
    cleared = someone.client.put(f"/api/user/{someone.id}", {"first_name": None})
    assert (cleared["first_name"], cleared["last_name"], cleared["common_name"]) == (None, "Sky", "Sky")
    engine = create_engine(server.config.app_db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT name, slug FROM collection WHERE id = :id"), {"id": collection_id}
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("Sky's Personal Collection", "sky_s_personal_collection")


def test_update_locale_is_normalised(new_user: Callable[..., Person]) -> None:
    someone = new_user()
    assert someone.client.put(f"/api/user/{someone.id}", {"locale": "en-US"})["locale"] == "en_US"
    assert someone.client.put(f"/api/user/{someone.id}", {"locale": None})["locale"] is None


def test_normal_users_cannot_update_others(api: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    assert rasta.put(f"/api/user/{user_ids['lucky']}", {"first_name": "Hacked"}, expect=403) == FORBIDDEN
    assert rasta.put("/api/user/987654321", {"first_name": "Nobody"}, expect=403) == FORBIDDEN
    assert api.as_("crowberto").get(f"/api/user/{user_ids['lucky']}")["first_name"] == "Lucky"


def test_update_to_a_taken_email(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    for email in ("trashbird@metabase.com", "LUCKY@metabase.com"):
        assert admin.put(f"/api/user/{someone.id}", {"email": email}, expect=400) == {
            "errors": {"email": "Email address already associated to another user."}
        }
    # Your own address, in another case, is not "taken".
    assert admin.put(f"/api/user/{someone.id}", {"email": someone.email.upper()})["email"] == someone.email


def test_admin_changes_email(api: Api, admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    email = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    assert admin.put(f"/api/user/{someone.id}", {"email": email.upper()})["email"] == email
    assert api.login(email, PASSWORD)["id"]
    assert api.login(someone.email, PASSWORD, expect=401) == BAD_CREDENTIALS


def test_admin_grants_and_revokes_superuser(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    promoted = admin.put(f"/api/user/{someone.id}", {"is_superuser": True})
    assert (promoted["is_superuser"], promoted["user_group_memberships"]) == (True, [{"id": 1}, {"id": 2}])
    assert someone.client.get("/api/user/current")["group_ids"] == [1, 2]
    assert someone.client.get("/api/user")["total"] >= 1
    demoted = admin.put(f"/api/user/{someone.id}", {"is_superuser": False})
    assert (demoted["is_superuser"], demoted["user_group_memberships"]) == (False, [{"id": 1}])
    assert someone.client.get("/api/user", expect=403) == FORBIDDEN


def test_admin_sets_groups_and_superuser_together(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user("Kept", "Name")
    both = {"is_superuser": True, "user_group_memberships": [{"id": 1}, {"id": 2}]}
    body = admin.put(f"/api/user/{someone.id}", both)
    assert (body["is_superuser"], body["user_group_memberships"]) == (True, [{"id": 1}, {"id": 2}])
    mismatch = {
        "is_superuser": False,
        "user_group_memberships": [{"id": 1}, {"id": 2}],
        "first_name": "Changed",
    }
    assert admin.put(f"/api/user/{someone.id}", mismatch, expect=400) == {
        "errors": {"is_superuser": MISMATCH}
    }
    # The refused request changed nothing.
    after = admin.get(f"/api/user/{someone.id}")
    assert (after["first_name"], after["is_superuser"]) == ("Kept", True)
    only_groups = admin.put(f"/api/user/{someone.id}", {"user_group_memberships": [{"id": 1}]})
    assert (only_groups["is_superuser"], only_groups["user_group_memberships"]) == (False, [{"id": 1}])


def test_normal_users_cannot_raise_themselves(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user("Sneaky", "Person")
    body = someone.client.put(
        f"/api/user/{someone.id}",
        {"first_name": "Sneakier", "is_superuser": True, "login_attributes": {"role": "admin"}},
    )
    # is_superuser and login_attributes are silently ignored; the name change goes through.
    assert (body["first_name"], body["is_superuser"], body["login_attributes"]) == ("Sneakier", False, None)
    assert body["user_group_memberships"] == [{"id": 1}]
    same_groups = {"user_group_memberships": [{"id": 1}], "last_name": "Same"}
    assert someone.client.put(f"/api/user/{someone.id}", same_groups)["last_name"] == "Same"
    more_groups = {"user_group_memberships": [{"id": 1}, {"id": 2}], "last_name": "Admin"}
    assert someone.client.put(f"/api/user/{someone.id}", more_groups, expect=403) == FORBIDDEN
    after = admin.get(f"/api/user/{someone.id}")
    assert (after["last_name"], after["is_superuser"]) == ("Same", False)


def test_admin_sets_login_attributes(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    body = admin.put(f"/api/user/{someone.id}", {"login_attributes": {"tenant": 7, "ok": True}})
    assert body["login_attributes"] == {"tenant": "7", "ok": "true"}


def test_update_a_deactivated_user(admin: Api, user_ids: dict[str, int]) -> None:
    path = f"/api/user/{user_ids['trashbird']}"
    assert admin.put(path, {"email": "toucan@metabase.com"}, expect=404) == NOT_FOUND
    assert admin.put("/api/user/987654321", {"first_name": "Nobody"}, expect=404) == NOT_FOUND


def test_update_validates_the_body(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    assert admin.put(f"/api/user/{someone.id}", {"first_name": " "}, expect=400) == {
        "errors": {"first_name": "nullable value must be a non-blank string."},
        "specific-errors": {"first_name": ['non-blank string, received: " "']},
    }


# ---------------------------------------------------------------------------------------------------
# PUT /api/user/:id/password


def test_change_own_password(api: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    path = f"/api/user/{someone.id}/password"
    wrong = {"password": NEW_PASSWORD, "old_password": "not-my-password-1"}
    assert someone.client.put(path, wrong, expect=400) == {"errors": {"old_password": "Invalid password"}}
    assert someone.client.put(path, {"password": NEW_PASSWORD}, expect=400) == {
        "errors": {"old_password": "Invalid password"}
    }
    response = someone.client.raw("PUT", path, json={"password": NEW_PASSWORD, "old_password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "session_id"} and body["success"] is True
    assert UUID_RE.fullmatch(body["session_id"])
    assert response.cookies.get("metabase.SESSION") == body["session_id"]
    # The old session ends; the new one works; only the new password logs in.
    assert someone.client.get("/api/user/current", expect=401) == "Unauthenticated"
    renewed = api.with_headers({"X-Metabase-Session": body["session_id"]})
    assert renewed.get("/api/user/current")["id"] == someone.id
    assert api.login(someone.email, PASSWORD, expect=401) == BAD_CREDENTIALS
    assert UUID_RE.fullmatch(api.login(someone.email, NEW_PASSWORD)["id"])


def test_admin_changes_someone_elses_password(api: Api, admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    assert admin.put(f"/api/user/{someone.id}/password", {"password": NEW_PASSWORD}, expect=204) is None
    assert someone.client.get("/api/user/current", expect=401) == "Unauthenticated"
    assert UUID_RE.fullmatch(api.login(someone.email, NEW_PASSWORD)["id"])


def test_password_rules(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user()
    path = f"/api/user/{someone.id}/password"
    assert someone.client.put(path, {"password": "abc", "old_password": PASSWORD}, expect=400) == {
        "errors": {"password": "password is too common."},
        "specific-errors": {"password": ['valid password that is not too common, received: "abc"']},
    }
    assert someone.client.put(path, {}, expect=400) == {
        "errors": {"password": "password is too common."},
        "specific-errors": {"password": ["missing required key, received: nil"]},
    }


def test_password_of_others_or_of_the_deactivated(api: Api, admin: Api, user_ids: dict[str, int]) -> None:
    change = {"password": NEW_PASSWORD, "old_password": PASSWORD}
    rasta = api.as_("rasta")
    assert rasta.put(f"/api/user/{user_ids['lucky']}/password", change, expect=403) == FORBIDDEN
    assert rasta.put("/api/user/987654321/password", change, expect=403) == FORBIDDEN
    assert admin.put(f"/api/user/{user_ids['trashbird']}/password", change, expect=404) == NOT_FOUND
    assert admin.put("/api/user/987654321/password", change, expect=404) == NOT_FOUND


# ---------------------------------------------------------------------------------------------------
# DELETE /api/user/:id and PUT /api/user/:id/reactivate


def test_deactivate_and_reactivate(api: Api, admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user("Gone", "Soon")
    assert admin.delete(f"/api/user/{someone.id}") == {"success": True}
    assert someone.client.get("/api/user/current", expect=401) == "Unauthenticated"
    assert api.login(someone.email, PASSWORD, expect=401) == DISABLED
    assert api.login(someone.email, "wrong-password-1", expect=401) == BAD_CREDENTIALS
    listed = admin.get("/api/user", params={"query": someone.email})
    assert (listed["total"], listed["data"]) == (0, [])
    deactivated = admin.get("/api/user", params={"query": someone.email, "status": "deactivated"})
    assert [row["id"] for row in deactivated["data"]] == [someone.id]
    # Deactivating again is fine.
    assert admin.delete(f"/api/user/{someone.id}") == {"success": True}

    body = admin.put(f"/api/user/{someone.id}/reactivate")
    assert set(body) == USER_KEYS
    assert body["id"] == someone.id
    assert stable(body) == person(someone.email, first="Gone", last="Soon")
    assert UUID_RE.fullmatch(api.login(someone.email, PASSWORD)["id"])


def test_reactivated_admins_come_back_as_normal_users(admin: Api, new_user: Callable[..., Person]) -> None:
    someone = new_user(user_group_memberships=[{"id": 1}, {"id": 2}])
    assert someone.created["is_superuser"] is True
    admin.delete(f"/api/user/{someone.id}")
    body = admin.put(f"/api/user/{someone.id}/reactivate")
    assert body["is_superuser"] is False
    assert admin.get(f"/api/user/{someone.id}")["user_group_memberships"] == [{"id": 1}]


def test_reactivate_errors(api: Api, admin: Api, user_ids: dict[str, int]) -> None:
    body = admin.put(f"/api/user/{user_ids['rasta']}/reactivate", expect=400)
    assert body["message"] == "Not able to reactivate an active user"
    assert admin.put("/api/user/987654321/reactivate", expect=404) == NOT_FOUND
    assert api.as_("rasta").put(f"/api/user/{user_ids['trashbird']}/reactivate", expect=403) == FORBIDDEN


def test_delete_errors(api: Api, admin: Api, user_ids: dict[str, int]) -> None:
    assert admin.delete("/api/user/987654321", expect=404) == NOT_FOUND
    assert api.as_("rasta").delete(f"/api/user/{user_ids['lucky']}", expect=403) == FORBIDDEN
    assert api.as_("rasta").delete(f"/api/user/{user_ids['rasta']}", expect=403) == FORBIDDEN


def test_the_last_admin_cannot_leave(fresh_api: Api) -> None:
    admin_id, solo = set_up_single_admin(fresh_api)
    assert solo.delete(f"/api/user/{admin_id}", expect=400) == LAST_ADMIN
    assert solo.put(f"/api/user/{admin_id}", {"is_superuser": False}, expect=400) == LAST_ADMIN
    # A deactivated admin does not count.
    other = solo.post(
        "/api/user", {"email": "other@example.com", "user_group_memberships": [{"id": 1}, {"id": 2}]}
    )
    assert solo.delete(f"/api/user/{other['id']}") == {"success": True}
    assert solo.delete(f"/api/user/{admin_id}", expect=400) == LAST_ADMIN
    assert solo.get("/api/user/current")["is_superuser"] is True
    # With a second active admin, the first may go.
    solo.put(f"/api/user/{other['id']}/reactivate")
    solo.put(f"/api/user/{other['id']}", {"is_superuser": True})
    assert solo.delete(f"/api/user/{admin_id}") == {"success": True}
    assert solo.get("/api/user/current", expect=401) == "Unauthenticated"


# ---------------------------------------------------------------------------------------------------
# PUT /api/user/:id/modal/:modal


def test_dismiss_modals(
    api: Api, admin: Api, new_user: Callable[..., Person], user_ids: dict[str, int]
) -> None:
    someone = new_user()
    assert someone.client.put(f"/api/user/{someone.id}/modal/qbnewb") == {"success": True}
    assert someone.client.get("/api/user/current")["is_qbnewb"] is False
    assert someone.client.put(f"/api/user/{someone.id}/modal/datasetnewb") == {"success": True}
    other = new_user()
    assert admin.put(f"/api/user/{other.id}/modal/qbnewb") == {"success": True}
    assert admin.get(f"/api/user/{other.id}")["is_qbnewb"] is False
    assert api.as_("rasta").put(f"/api/user/{user_ids['lucky']}/modal/qbnewb", expect=403) == FORBIDDEN
