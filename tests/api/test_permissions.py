"""`/api/permissions/group` and `/api/permissions/membership`: permission groups, their members, and
the rules around the magic All Users and Administrators groups."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.http import Api
from tests.support.users import PASSWORD

FORBIDDEN = "You don't have permissions to do that."
NOT_FOUND = "Not found."
DUPLICATE = "A group with that name already exists."
ALL_USERS_LOCKED = "You cannot add or remove users to/from the 'All Users' group."
LAST_ADMIN = "You cannot remove the last member of the 'Admin' group!"
GROUP_MANAGERS_NEED_EE = (
    "The group manager permissions functionality is only enabled if you have a premium token with the "
    "advanced-permissions feature."
)
GROUP_KEYS = {"id", "name", "entity_id", "magic_group_type", "is_tenant_group"}
MEMBER_KEYS = {
    "id",
    "user_id",
    "first_name",
    "last_name",
    "email",
    "is_superuser",
    "group_id",
    "membership_id",
}
ALL_USERS = {"id": 1, "name": "All Users", "magic_group_type": "all-internal-users", "is_tenant_group": False}
ADMINISTRATORS = {"id": 2, "name": "Administrators", "magic_group_type": "admin", "is_tenant_group": False}


def without_entity_id(group: dict[str, Any]) -> dict[str, Any]:
    """`group` without its random `entity_id`, after checking it is Metabase's 21-character NanoID."""
    assert isinstance(group["entity_id"], str) and len(group["entity_id"]) == 21, group
    return {k: v for k, v in group.items() if k != "entity_id"}


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def new_group(admin: Api) -> Iterator[Callable[..., dict[str, Any]]]:
    """`new_group(suffix)` creates a group with a unique name; every group left is deleted afterwards."""
    created: list[int] = []

    def create(suffix: str = "group") -> dict[str, Any]:
        group = admin.post("/api/permissions/group", {"name": f"{uuid.uuid4().hex[:10]} {suffix}"})
        created.append(group["id"])
        return group

    yield create
    for group_id in created:
        admin.raw("DELETE", f"/api/permissions/group/{group_id}")


@pytest.fixture
def new_user(admin: Api) -> Iterator[Callable[..., dict[str, Any]]]:
    """`new_user(first, last)` creates a user with a unique email; all are deactivated afterwards."""
    created: list[int] = []

    def create(first: str = "Test", last: str = "Member") -> dict[str, Any]:
        email = f"member-{uuid.uuid4().hex[:10]}@example.com"
        user = admin.post("/api/user", {"email": email, "first_name": first, "last_name": last})
        created.append(user["id"])
        return user

    yield create
    for user_id in created:
        admin.raw("DELETE", f"/api/user/{user_id}")


def member(user: dict[str, Any], group_id: int, membership_id: int) -> dict[str, Any]:
    return {
        "id": user["id"],
        "user_id": user["id"],
        "first_name": user["first_name"],
        "last_name": user["last_name"],
        "email": user["email"],
        "is_superuser": user["is_superuser"],
        "group_id": group_id,
        "membership_id": membership_id,
    }


def membership_id(admin: Api, user_id: int, group_id: int) -> int:
    entries = admin.get("/api/permissions/membership")[str(user_id)]
    return next(e["membership_id"] for e in entries if e["group_id"] == group_id)


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
# Groups


def test_list_groups_on_a_fresh_instance(fresh_api: Api) -> None:
    _, solo = set_up_single_admin(fresh_api)
    groups = solo.get("/api/permissions/group")
    assert isinstance(groups, list)
    assert [without_entity_id(g) for g in groups] == [
        {**ADMINISTRATORS, "member_count": 1},
        {**ALL_USERS, "member_count": 1},
    ]
    assert [without_entity_id(g) for g in solo.get("/api/permissions/group", params={"limit": 1})] == [
        {**ADMINISTRATORS, "member_count": 1}
    ]
    for params in ({"limit": 1, "offset": 1}, {"offset": 1}):
        assert [g["id"] for g in solo.get("/api/permissions/group", params=params)] == [1], params


def test_list_groups_ordered_by_lower_name(admin: Api, new_group: Callable[..., dict[str, Any]]) -> None:
    tag = uuid.uuid4().hex[:8]
    zeta, beta, alpha = (
        admin.post("/api/permissions/group", {"name": f"{tag}-{name}"}) for name in ("zeta", "Beta", "alpha")
    )
    try:
        groups = admin.get("/api/permissions/group")
        assert all(set(g) == GROUP_KEYS | {"member_count"} for g in groups)
        mine = [g["id"] for g in groups if g["name"].startswith(tag)]
        assert mine == [alpha["id"], beta["id"], zeta["id"]]
        ids = [g["id"] for g in groups]
        assert ids.index(2) < ids.index(1)
    finally:
        for group in (zeta, beta, alpha):
            admin.delete(f"/api/permissions/group/{group['id']}", expect=204)


def test_member_count_counts_active_users(
    admin: Api,
    user_ids: dict[str, int],
    new_group: Callable[..., dict[str, Any]],
    new_user: Callable[..., dict[str, Any]],
) -> None:
    group = new_group()
    stays, leaves = new_user(), new_user()
    for user in (stays, leaves):
        admin.post("/api/permissions/membership", {"group_id": group["id"], "user_id": user["id"]})
    admin.delete(f"/api/user/{leaves['id']}")

    counts = {g["id"]: g["member_count"] for g in admin.get("/api/permissions/group")}
    assert counts[group["id"]] == 1
    assert [m["user_id"] for m in admin.get(f"/api/permissions/group/{group['id']}")["members"]] == [
        stays["id"]
    ]
    # All Users holds every active user (API keys' users too), and no deactivated one.
    everyone = admin.get("/api/permissions/group/1")["members"]
    everyone_ids = {m["user_id"] for m in everyone}
    assert counts[1] == len(everyone) == len(everyone_ids)
    assert {user_ids["crowberto"], user_ids["rasta"], user_ids["lucky"], stays["id"]} <= everyone_ids
    assert not {user_ids["trashbird"], leaves["id"]} & everyone_ids
    admins = admin.get("/api/permissions/group/2")["members"]
    assert counts[2] == len(admins) and user_ids["crowberto"] in {m["user_id"] for m in admins}


def test_api_keys_are_group_members(admin: Api, new_group: Callable[..., dict[str, Any]]) -> None:
    group = new_group("keys")
    key_name = f"key {uuid.uuid4().hex[:8]}"
    key = admin.post("/api/api-key", {"name": key_name, "group_id": group["id"]})
    try:
        members = admin.get(f"/api/permissions/group/{group['id']}")["members"]
        assert [(m["first_name"], m["is_superuser"]) for m in members] == [(key_name, False)]
        counts = {g["id"]: g["member_count"] for g in admin.get("/api/permissions/group")}
        assert counts[group["id"]] == 1
    finally:
        admin.delete(f"/api/api-key/{key['id']}", expect=204)
    assert admin.get(f"/api/permissions/group/{group['id']}")["members"] == []


def test_get_a_group_with_its_members(
    admin: Api, new_group: Callable[..., dict[str, Any]], new_user: Callable[..., dict[str, Any]]
) -> None:
    group = new_group("members")
    zed, amy = new_user("zed", "Last"), new_user("Amy", "Last")
    for user in (zed, amy):
        admin.post("/api/permissions/membership", {"group_id": group["id"], "user_id": user["id"]})
    body = admin.get(f"/api/permissions/group/{group['id']}")
    assert set(body) == GROUP_KEYS | {"members"}
    assert all(set(m) == MEMBER_KEYS for m in body["members"])
    gid = group["id"]
    assert without_entity_id(body) == {
        "id": gid,
        "name": group["name"],
        "magic_group_type": None,
        "is_tenant_group": False,
        "members": [
            member(amy, gid, membership_id(admin, amy["id"], gid)),
            member(zed, gid, membership_id(admin, zed["id"], gid)),
        ],
    }
    assert body["entity_id"] == group["entity_id"]
    assert admin.get("/api/permissions/group/987654321", expect=404) == NOT_FOUND


def test_create_a_group(admin: Api) -> None:
    name = f"Analysts {uuid.uuid4().hex[:8]}"
    group = admin.post("/api/permissions/group", {"name": name})
    try:
        assert set(group) == GROUP_KEYS
        assert isinstance(group["id"], int)
        assert without_entity_id(group) == {
            "id": group["id"],
            "name": name,
            "magic_group_type": None,
            "is_tenant_group": False,
        }
        listed = next(g for g in admin.get("/api/permissions/group") if g["id"] == group["id"])
        assert listed == {**group, "member_count": 0}
        # Names are unique whatever their case.
        for taken in (name, name.upper(), "all users", "ADMINISTRATORS"):
            assert admin.post("/api/permissions/group", {"name": taken}, expect=400) == DUPLICATE, taken
    finally:
        admin.delete(f"/api/permissions/group/{group['id']}", expect=204)


def test_create_validates_the_name(admin: Api) -> None:
    assert admin.post("/api/permissions/group", {"name": None}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {"name": ["should be a string, received: nil", "non-blank string, received: nil"]},
    }
    assert admin.post("/api/permissions/group", {"name": ""}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {
            "name": ['should be at least 1 character, received: ""', 'non-blank string, received: ""']
        },
    }
    assert admin.post("/api/permissions/group", {}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {"name": ["missing required key, received: nil"]},
    }


def test_tenant_groups_need_enterprise(admin: Api) -> None:
    name = f"tenant {uuid.uuid4().hex[:8]}"
    body = admin.post("/api/permissions/group", {"name": name, "is_tenant_group": True}, expect=402)
    assert body["message"] == (
        "Tenants is a paid feature not currently available to your instance. Please upgrade to use it. "
        "Learn more at metabase.com/upgrade/"
    )
    assert all(g["name"] != name for g in admin.get("/api/permissions/group"))


def test_rename_a_group(admin: Api, new_group: Callable[..., dict[str, Any]]) -> None:
    group, other = new_group("renamed"), new_group("other")
    name = f"Renamed {uuid.uuid4().hex[:8]}"
    body = admin.put(f"/api/permissions/group/{group['id']}", {"name": name})
    assert body == {**group, "name": name}
    assert admin.get(f"/api/permissions/group/{group['id']}")["name"] == name
    # Sending the current name changes nothing; taking another group's name (any case) is refused, and
    # so, as in Metabase, is changing only the case of the group's own name.
    assert admin.put(f"/api/permissions/group/{group['id']}", {"name": name})["name"] == name
    for taken in (other["name"].upper(), name.lower()):
        assert admin.put(f"/api/permissions/group/{group['id']}", {"name": taken}, expect=400) == DUPLICATE
    assert admin.put("/api/permissions/group/987654321", {"name": "Nobody"}, expect=404) == NOT_FOUND


def test_delete_a_group(admin: Api, new_user: Callable[..., dict[str, Any]]) -> None:
    group = admin.post("/api/permissions/group", {"name": f"doomed {uuid.uuid4().hex[:8]}"})
    user = new_user()
    admin.post("/api/permissions/membership", {"group_id": group["id"], "user_id": user["id"]})
    assert admin.delete(f"/api/permissions/group/{group['id']}", expect=204) is None
    assert admin.get(f"/api/permissions/group/{group['id']}", expect=404) == NOT_FOUND
    assert admin.get(f"/api/user/{user['id']}")["user_group_memberships"] == [{"id": 1}]
    # Metabase does not check that the group exists.
    assert admin.delete("/api/permissions/group/987654321", expect=204) is None


def test_magic_groups_cannot_be_edited_or_deleted(admin: Api) -> None:
    for group_id, name in ((1, "All Users"), (2, "Administrators")):
        message = f"You cannot edit or delete the '{name}' permissions group!"
        assert admin.put(f"/api/permissions/group/{group_id}", {"name": "Renamed"}, expect=400) == message
        assert admin.delete(f"/api/permissions/group/{group_id}", expect=400) == message
    names = {g["id"]: g["name"] for g in admin.get("/api/permissions/group")}
    assert (names[1], names[2]) == ("All Users", "Administrators")


# ---------------------------------------------------------------------------------------------------
# Memberships


def test_list_memberships(admin: Api, user_ids: dict[str, int]) -> None:
    body = admin.get("/api/permissions/membership")
    assert all(isinstance(key, str) for key in body)

    def groups_of(name: str) -> list[tuple[int, int, bool]]:
        entries = body[str(user_ids[name])]
        assert all(set(e) == {"membership_id", "group_id", "user_id", "is_group_manager"} for e in entries)
        assert all(isinstance(e["membership_id"], int) for e in entries)
        return sorted((e["group_id"], e["user_id"], e["is_group_manager"]) for e in entries)

    crowberto, rasta, trashbird = (user_ids[n] for n in ("crowberto", "rasta", "trashbird"))
    assert groups_of("crowberto") == [(1, crowberto, False), (2, crowberto, False)]
    assert groups_of("rasta") == [(1, rasta, False)]
    # Deactivated users keep their memberships.
    assert groups_of("trashbird") == [(1, trashbird, False)]


def test_add_members(
    admin: Api, new_group: Callable[..., dict[str, Any]], new_user: Callable[..., dict[str, Any]]
) -> None:
    group = new_group("joined")
    gid = group["id"]
    zoe, abe = new_user("Zoe", "Zed"), new_user("abe", "Able")
    first = admin.post("/api/permissions/membership", {"group_id": gid, "user_id": zoe["id"]})
    assert first == [member(zoe, gid, membership_id(admin, zoe["id"], gid))]
    both = admin.post(
        "/api/permissions/membership", {"group_id": gid, "user_id": abe["id"], "is_group_manager": False}
    )
    assert both == [
        member(abe, gid, membership_id(admin, abe["id"], gid)),
        member(zoe, gid, membership_id(admin, zoe["id"], gid)),
    ]
    assert admin.get(f"/api/user/{abe['id']}")["user_group_memberships"] == [{"id": 1}, {"id": gid}]


def test_all_users_membership_is_automatic(
    admin: Api, user_ids: dict[str, int], new_user: Callable[..., dict[str, Any]]
) -> None:
    user = new_user()
    add = {"group_id": 1, "user_id": user["id"]}
    assert admin.post("/api/permissions/membership", add, expect=400) == ALL_USERS_LOCKED
    all_users = membership_id(admin, user["id"], 1)
    assert admin.delete(f"/api/permissions/membership/{all_users}", expect=400) == ALL_USERS_LOCKED
    assert admin.get(f"/api/user/{user['id']}")["user_group_memberships"] == [{"id": 1}]


def test_administrators_membership_is_superuser(admin: Api, new_user: Callable[..., dict[str, Any]]) -> None:
    user = new_user()
    members = admin.post("/api/permissions/membership", {"group_id": 2, "user_id": user["id"]})
    entry = next(m for m in members if m["user_id"] == user["id"])
    assert entry["is_superuser"] is True
    fetched = admin.get(f"/api/user/{user['id']}")
    assert (fetched["is_superuser"], fetched["user_group_memberships"]) == (True, [{"id": 1}, {"id": 2}])

    assert admin.delete(f"/api/permissions/membership/{entry['membership_id']}", expect=204) is None
    fetched = admin.get(f"/api/user/{user['id']}")
    assert (fetched["is_superuser"], fetched["user_group_memberships"]) == (False, [{"id": 1}])


def test_remove_a_member(
    admin: Api, new_group: Callable[..., dict[str, Any]], new_user: Callable[..., dict[str, Any]]
) -> None:
    group, user = new_group("left"), new_user()
    admin.post("/api/permissions/membership", {"group_id": group["id"], "user_id": user["id"]})
    mid = membership_id(admin, user["id"], group["id"])
    assert admin.delete(f"/api/permissions/membership/{mid}", expect=204) is None
    assert admin.get(f"/api/permissions/group/{group['id']}")["members"] == []
    assert admin.delete(f"/api/permissions/membership/{mid}", expect=404) == NOT_FOUND


def test_group_managers_need_enterprise(
    api: Api, admin: Api, new_group: Callable[..., dict[str, Any]], new_user: Callable[..., dict[str, Any]]
) -> None:
    group, user = new_group("managed"), new_user()
    manager = {"group_id": group["id"], "user_id": user["id"], "is_group_manager": True}
    assert admin.post("/api/permissions/membership", manager, expect=402) == GROUP_MANAGERS_NEED_EE
    assert admin.get(f"/api/permissions/group/{group['id']}")["members"] == []
    all_users = membership_id(admin, user["id"], 1)
    flag = {"is_group_manager": True}
    assert admin.put(f"/api/permissions/membership/{all_users}", flag, expect=402) == GROUP_MANAGERS_NEED_EE
    # Metabase checks the feature first: unknown ids and normal users get the same 402.
    assert admin.put("/api/permissions/membership/987654321", flag, expect=402) == GROUP_MANAGERS_NEED_EE
    rasta = api.as_("rasta")
    assert rasta.put(f"/api/permissions/membership/{all_users}", flag, expect=402) == GROUP_MANAGERS_NEED_EE
    assert api.put(f"/api/permissions/membership/{all_users}", flag, expect=401) == "Unauthenticated"


def test_clear_a_group(
    admin: Api, new_group: Callable[..., dict[str, Any]], new_user: Callable[..., dict[str, Any]]
) -> None:
    group = new_group("cleared")
    users = [new_user(), new_user()]
    for user in users:
        admin.post("/api/permissions/membership", {"group_id": group["id"], "user_id": user["id"]})
    assert admin.put(f"/api/permissions/membership/{group['id']}/clear", expect=204) is None
    assert admin.get(f"/api/permissions/group/{group['id']}")["members"] == []
    assert all(admin.get(f"/api/user/{u['id']}")["user_group_memberships"] == [{"id": 1}] for u in users)
    assert admin.put("/api/permissions/membership/2/clear", expect=400) == "Invalid Request."
    assert admin.put("/api/permissions/membership/1/clear", expect=400) == ALL_USERS_LOCKED
    assert admin.put("/api/permissions/membership/987654321/clear", expect=404) == NOT_FOUND
    admins = admin.get("/api/permissions/group/2")["members"]
    assert admins and all(m["is_superuser"] for m in admins)


def test_the_last_admin_cannot_leave_administrators(fresh_api: Api) -> None:
    admin_id, solo = set_up_single_admin(fresh_api)
    own = next(e for e in solo.get("/api/permissions/membership")[str(admin_id)] if e["group_id"] == 2)
    assert solo.delete(f"/api/permissions/membership/{own['membership_id']}", expect=400) == LAST_ADMIN
    assert solo.get("/api/user/current")["is_superuser"] is True


def test_normal_users_are_refused(api: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    lucky = user_ids["lucky"]
    refused = [
        ("GET", "/api/permissions/group", None),
        ("GET", "/api/permissions/group/1", None),
        ("POST", "/api/permissions/group", {"name": f"rasta {uuid.uuid4().hex[:8]}"}),
        ("PUT", "/api/permissions/group/1", {"name": "Mine"}),
        ("DELETE", "/api/permissions/group/987654321", None),
        ("GET", "/api/permissions/membership", None),
        ("POST", "/api/permissions/membership", {"group_id": 2, "user_id": lucky}),
        ("PUT", "/api/permissions/membership/1/clear", None),
        ("DELETE", "/api/permissions/membership/1", None),
    ]
    for method, path, body in refused:
        assert rasta.request(method, path, json=body, expect=403) == FORBIDDEN, (method, path)
        assert api.request(method, path, json=body, expect=401) == "Unauthenticated", (method, path)
    assert api.as_("crowberto").get(f"/api/user/{lucky}")["is_superuser"] is False
