"""Every endpoint of the API x {anonymous, a user without access, a user with access, a group manager, an
admin}: the status Metabase answers each of them.

The world: a warehouse database and a collection that All Users may not use, and a group with full query
access to the database and curate access to the collection. "Member" and "manager" belong to that group
(the manager manages it, which gives nothing more in Metabase's open-source edition); "no access" is only in
All Users. What is looked at lives in the collection and the database; what an endpoint changes or deletes is
made afresh for each caller, so every caller meets the same state. The world's alert (on its card) and
dashboard subscription are the admin's and are sent to the member and the manager.

`test_every_endpoint_has_an_entry` fails when an endpoint is added without its row here.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest

from querybase import sync
from querybase.api import routers
from tests.api.test_database import SYNC_TIMEOUT, forget, wait_for_sync
from tests.api.test_permissions_graph import ALL_USERS
from tests.support.http import Api
from tests.support.smtp import SmtpServer, smtp_server
from tests.support.users import PASSWORD
from tests.support.warehouses import fresh_warehouse

ROLES = ("anonymous", "no_access", "member", "manager", "admin")
FORBIDDEN = "You don't have permissions to do that."
UNAUTHENTICATED = "Unauthenticated"

Expect = tuple[int, int, int, int, int]


def everyone(status: int) -> Expect:
    """Anonymous endpoints: the same answer whoever asks."""
    return (status,) * 5


def users(status: int) -> Expect:
    """Any logged-in user."""
    return (401, status, status, status, status)


def members(status: int) -> Expect:
    """Users with access to the world's database or collection."""
    return (401, 403, status, status, status)


def admins(status: int) -> Expect:
    """Admins only (the data model, settings, people, groups, sharing)."""
    return (401, 403, 403, 403, status)


def recipients(status: int) -> Expect:
    """The recipients of the world's alert (the member and the manager) only: not even an admin who does not
    receive it."""
    return (401, 403, status, status, 403)


RECEIVERS = ("member", "manager")


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


# --- The world ----------------------------------------------------------------------------------------------


@dataclass
class World:
    anonymous: Api
    admin: Api
    clients: dict[str, Api] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    secret: str = ""
    smtp: SmtpServer | None = None

    def __getitem__(self, key: str) -> Any:
        return self.ids[key]

    # Things made afresh, as the admin, in the world's collection.

    def card(self, **extra: Any) -> dict[str, Any]:
        query = {
            "database": self["db"],
            "type": "query",
            "query": {"source-table": self["venues"], "aggregation": [["count"]]},
        }
        body = {
            "name": unique("Matrix card"),
            "dataset_query": query,
            "display": "bar",
            "visualization_settings": {},
            "collection_id": self["collection"],
            **extra,
        }
        return self.admin.post("/api/card", body)

    def dashboard(self, **extra: Any) -> dict[str, Any]:
        body = {"name": unique("Matrix dashboard"), "collection_id": self["collection"], **extra}
        return self.admin.post("/api/dashboard", body)

    def dashboard_with_card(self) -> tuple[int, int]:
        """A fresh dashboard showing the world's card: (dashboard id, dashcard id)."""
        dashboard = self.dashboard()
        dashcard = self.admin.post(f"/api/dashboard/{dashboard['id']}/cards", {"cardId": self["card"]})
        return dashboard["id"], dashcard["id"]

    def collection(self, *, archived: bool = False) -> dict[str, Any]:
        body = {"name": unique("Matrix child"), "parent_id": self["collection"]}
        collection = self.admin.post("/api/collection", body)
        if archived:
            self.admin.put(f"/api/collection/{collection['id']}", {"archived": True})
        return collection

    def timeline(self) -> dict[str, Any]:
        return self.admin.post(
            "/api/timeline", {"name": unique("Matrix"), "collection_id": self["collection"]}
        )

    def event(self) -> dict[str, Any]:
        body = {
            "name": unique("Launch"),
            "timestamp": "2024-05-01T00:00:00Z",
            "timezone": "UTC",
            "timeline_id": self["timeline"],
        }
        return self.admin.post("/api/timeline-event", body)

    def segment(self) -> dict[str, Any]:
        return self.admin.post("/api/segment", self.segment_body())

    def segment_body(self) -> dict[str, Any]:
        price = ["field", self["venues.price"], None]
        definition = {"source-table": self["venues"], "filter": [">", price, 2]}
        return {"name": unique("Expensive"), "table_id": self["venues"], "definition": definition}

    def metric(self) -> dict[str, Any]:
        return self.admin.post("/api/metric", self.metric_body())

    def metric_body(self) -> dict[str, Any]:
        definition = {"source-table": self["venues"], "aggregation": [["count"]]}
        return {"name": unique("Venues"), "table_id": self["venues"], "definition": definition}

    def alert(self) -> dict[str, Any]:
        """An alert on the world's card, mailed to the member and the manager."""
        return self.admin.post("/api/notification", alert_body(self, *RECEIVERS))

    def subscription(self) -> dict[str, Any]:
        """A subscription to the world's dashboard, mailed to the member and the manager."""
        return self.admin.post("/api/pulse", subscription_body(self, *RECEIVERS))

    def api_key(self) -> int:
        return self.admin.post("/api/api-key", {"name": unique("Matrix key"), "group_id": self["group"]})[
            "id"
        ]

    def group(self) -> int:
        return self.admin.post("/api/permissions/group", {"name": unique("Matrix group")})["id"]

    def user(self, *, group_ids: tuple[int, ...] = ()) -> int:
        body = {
            "first_name": "Matrix",
            "last_name": uuid.uuid4().hex[:8],
            "email": f"matrix-{uuid.uuid4().hex[:12]}@example.com",
            "password": PASSWORD,
            "user_group_memberships": [{"id": 1}, *({"id": g} for g in group_ids)],
        }
        return self.admin.post("/api/user", body)["id"]

    def database(self) -> int:
        """Another connection to the world's warehouse, deleted when the world ends."""
        body = {"engine": "sqlite", "name": unique("Matrix copy"), "details": self["details"]}
        return self.admin.post("/api/database", body)["id"]

    def token(self, resource: str, object_id: int, **claims: Any) -> str:
        payload = {"resource": {resource: object_id}, "params": {}, **claims}
        return jwt.encode(payload, self.secret, algorithm="HS256")

    def revision(self, entity: str, object_id: int) -> int:
        """The id of the object's oldest revision (to revert to)."""
        return self.admin.get("/api/revision", params={"entity": entity, "id": object_id})[-1]["id"]


def log_in(anonymous: Api, email: str) -> Api:
    session = anonymous.post("/api/session", {"username": email, "password": PASSWORD})["id"]
    return anonymous.with_headers({"X-Metabase-Session": session})


SHARING_SETTINGS = ("enable-public-sharing", "enable-embedding-static", "embedding-secret-key")
PARAMETER = {
    "id": "price",
    "slug": "price",
    "name": "Price",
    "type": "category",
    "values_source_type": "static-list",
    "values_source_config": {"values": ["1", "2", "3", "4"]},
}


@pytest.fixture(scope="module")
def world(server: Any) -> Iterator[World]:
    anonymous = server.api()
    admin = anonymous.as_("crowberto")
    w = World(anonymous=anonymous, admin=admin)
    saved = {key: admin.raw("GET", f"/api/setting/{key}") for key in SHARING_SETTINGS}
    with ExitStack() as stack:
        stack.callback(restore_settings, admin, saved)
        w.smtp = stack.enter_context(smtp_server())
        # The mail server goes with the world: so does the instance's mail setup (see `mailed`).
        stack.callback(admin.delete, "/api/email", expect=204)
        details = stack.enter_context(fresh_warehouse("sqlite"))
        # Before the warehouse goes: the databases connected to it.
        stack.callback(tear_down, w)
        build(w, details)
        yield w


def restore_settings(admin: Api, saved: dict[str, Any]) -> None:
    for key, response in saved.items():
        value = response.json() if response.status_code == 200 else None
        admin.put(f"/api/setting/{key}", {"value": value}, expect=204)


def tear_down(w: World) -> None:
    """Everything that would change what other tests see: the databases the world made (and with them the
    restrictions on All Users) and its groups, all named "Matrix ..."."""
    for database in w.admin.get("/api/database")["data"]:
        if database["name"].startswith("Matrix "):
            forget(w.admin, database["id"])
    for group in w.admin.get("/api/permissions/group"):
        if group["name"].startswith("Matrix "):
            w.admin.delete(f"/api/permissions/group/{group['id']}", expect=204)


def build(w: World, details: dict[str, Any]) -> None:
    admin = w.admin
    # One sync at a time: two first syncs at once can deadlock on MySQL (the Sample Database's may still run).
    sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
    w.secret = secrets.token_hex(32)
    admin.put("/api/setting/embedding-secret-key", {"value": w.secret}, expect=204)
    admin.put("/api/setting/enable-embedding-static", {"value": True}, expect=204)
    admin.put("/api/setting/enable-public-sharing", {"value": True}, expect=204)

    database = admin.post("/api/database", {"engine": "sqlite", "name": unique("Matrix"), "details": details})
    w.ids.update(db=database["id"], details=details)
    wait_for_sync(admin, database["id"])
    metadata = admin.get(f"/api/database/{database['id']}/metadata")
    for table in metadata["tables"]:
        w.ids[table["name"]] = table["id"]
        w.ids[f"{table['name']}.schema"] = table["schema"]
        for f in table["fields"]:
            w.ids[f"{table['name']}.{f['name']}"] = f["id"]

    # The group is made before All Users loses access, so it starts with full access to the database.
    group = w.group()
    w.ids["group"] = group
    db_key = str(database["id"])
    graph = admin.get("/api/permissions/graph")
    admin.put(
        "/api/permissions/graph",
        {
            "revision": graph["revision"],
            "groups": {
                ALL_USERS: {db_key: {"view-data": "unrestricted", "create-queries": "no"}},
                str(group): {
                    db_key: {"view-data": "unrestricted", "create-queries": "query-builder-and-native"}
                },
            },
        },
    )
    collection = admin.post("/api/collection", {"name": unique("Matrix"), "parent_id": None})
    w.ids["collection"] = collection["id"]
    w.ids["collection_name"] = collection["name"]
    revision = admin.get("/api/collection/graph")["revision"]
    admin.put(
        "/api/collection/graph",
        {
            "revision": revision,
            "groups": {
                ALL_USERS: {str(collection["id"]): "none"},
                str(group): {str(collection["id"]): "write"},
            },
        },
    )

    w.user_ids["no_access"] = w.user()
    w.user_ids["member"] = w.user(group_ids=(group,))
    manager = {
        "first_name": "Matrix",
        "last_name": "Manager",
        "email": f"matrix-manager-{uuid.uuid4().hex[:12]}@example.com",
        "password": PASSWORD,
        "user_group_memberships": [{"id": 1}, {"id": group, "is_group_manager": True}],
    }
    w.user_ids["manager"] = admin.post("/api/user", manager)["id"]
    w.user_ids["admin"] = admin.get("/api/user/current")["id"]
    w.ids["target_user"] = w.user()
    w.clients["anonymous"] = w.anonymous
    w.clients["admin"] = admin
    for role in ("no_access", "member", "manager"):
        email = admin.get(f"/api/user/{w.user_ids[role]}")["email"]
        w.clients[role] = log_in(w.anonymous, email)

    card = w.card(parameters=[PARAMETER])
    w.ids["card"] = card["id"]
    w.ids["card_name"] = card["name"]
    admin.put(f"/api/card/{card['id']}", {"enable_embedding": True, "embedding_params": {"price": "enabled"}})
    w.ids["card_uuid"] = admin.post(f"/api/card/{card['id']}/public_link")["uuid"]
    dashboard = w.dashboard(parameters=[PARAMETER])
    w.ids["dashboard"] = dashboard["id"]
    mapping = {
        "parameter_id": "price",
        "card_id": card["id"],
        "target": ["dimension", ["field", w["venues.price"], None]],
    }
    dashcard = admin.post(
        f"/api/dashboard/{dashboard['id']}/cards", {"cardId": card["id"], "parameter_mappings": [mapping]}
    )
    w.ids["dashcard"] = dashcard["id"]
    admin.put(
        f"/api/dashboard/{dashboard['id']}",
        {"enable_embedding": True, "embedding_params": {"price": "enabled"}},
    )
    w.ids["dashboard_uuid"] = admin.post(f"/api/dashboard/{dashboard['id']}/public_link")["uuid"]
    w.ids["timeline"] = w.timeline()["id"]
    w.ids["event"] = w.event()["id"]
    w.ids["segment"] = w.segment()["id"]
    w.ids["metric"] = w.metric()["id"]
    snippet = {"name": unique("matrix snippet"), "content": "price > 1"}
    w.ids["snippet"] = admin.post("/api/native-query-snippet", snippet)["id"]
    w.ids["api_key"] = w.api_key()
    alert = w.alert()
    w.ids["alert"] = alert["id"]
    w.ids["alert_handler"] = alert["handlers"][0]["id"]
    w.ids["pulse"] = w.subscription()["id"]


# --- The matrix ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


Builder = Callable[[World, str], Call]


def at(path: str, **kwargs: Any) -> Builder:
    """A call whose path and body are filled in from the world's ids (`{card}`...)."""

    def build(w: World, role: str) -> Call:
        me = w.user_ids.get(role, w.user_ids["no_access"])
        filled = {k: fill(v, w) for k, v in kwargs.items()}
        return Call(template(path, {**w.ids, "me": me}), **filled)

    return build


def template(path: str, values: dict[str, Any]) -> str:
    """`path` with each `{key}` replaced by `values[key]` (keys may hold dots: `{venues.name}`)."""
    return re.sub(r"\{([^{}]+)\}", lambda m: str(values[m.group(1)]), path)


def fill(value: Any, w: World) -> Any:
    """`"{card}"`-style strings of a body or of parameters, replaced (as ints when they are ids)."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in w.ids:
        return w.ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: fill(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, w) for v in value]
    return value


def fresh(make: Callable[[World, str], Call]) -> Builder:
    """A call on something made afresh for each caller (what it changes or deletes)."""
    return make


def query(w: World) -> dict[str, Any]:
    return {
        "database": w["db"],
        "type": "query",
        "query": {"source-table": w["venues"], "aggregation": [["count"]]},
    }


def card_body(w: World) -> dict[str, Any]:
    return {
        "name": unique("Saved"),
        "dataset_query": query(w),
        "display": "table",
        "visualization_settings": {},
        "collection_id": w["collection"],
    }


def alert_body(w: World, *roles: str) -> dict[str, Any]:
    """An alert on the world's card, mailed to the users of `roles`."""
    to = [{"type": "notification-recipient/user", "user_id": w.user_ids[role]} for role in roles]
    return {
        "payload_type": "notification/card",
        "payload": {"card_id": w["card"], "send_condition": "has_result", "send_once": False},
        "handlers": [{"channel_type": "channel/email", "recipients": to}],
    }


def subscription_body(w: World, *roles: str) -> dict[str, Any]:
    """An hourly subscription to the world's dashboard, mailed to the users of `roles`."""
    card = {"id": w["card"], "include_csv": False, "include_xls": False, "dashboard_card_id": w["dashcard"]}
    channel = {
        "channel_type": "email",
        "enabled": True,
        "schedule_type": "hourly",
        "recipients": [{"id": w.user_ids[role]} for role in roles],
    }
    return {
        "name": unique("Matrix subscription"),
        "dashboard_id": w["dashboard"],
        "cards": [card],
        "channels": [channel],
    }


def mailed(path: str) -> Builder:
    """A call that sends mail: the instance is first set up to use the world's mail server (set up once for
    the whole world, it would be undone by the `DELETE /api/email` row)."""

    def build(w: World, role: str) -> Call:
        assert w.smtp is not None
        w.admin.put("/api/email", {"email-smtp-host": w.smtp.host, "email-smtp-port": w.smtp.port})
        return at(path)(w, role)

    return build


def delete_public_link(kind: str) -> Builder:
    def build(w: World, role: str) -> Call:
        made = w.card() if kind == "card" else w.dashboard()
        w.admin.post(f"/api/{kind}/{made['id']}/public_link")
        return Call(f"/api/{kind}/{made['id']}/public_link")

    return build


def dashcard_delete(w: World, role: str) -> Call:
    dashboard_id, dashcard_id = w.dashboard_with_card()
    return Call(f"/api/dashboard/{dashboard_id}/cards", params={"dashcardId": dashcard_id})


def metric_revert(w: World, role: str) -> Call:
    metric = w.metric()
    body = {"revision_message": "changed", "description": "changed"}
    w.admin.put(f"/api/metric/{metric['id']}", body)
    oldest = w.admin.get(f"/api/metric/{metric['id']}/revisions")[-1]["id"]
    return Call(f"/api/metric/{metric['id']}/revert", {"revision_id": oldest})


def viewed_dashboard(w: World, role: str) -> Call:
    w.clients[role].raw("GET", f"/api/dashboard/{w['dashboard']}")
    return Call("/api/activity/most_recently_viewed_dashboard")


def card_revert(w: World, role: str) -> Call:
    card = w.card()
    w.admin.put(f"/api/card/{card['id']}", {"description": "changed"})
    body = {"entity": "card", "id": card["id"], "revision_id": w.revision("card", card["id"])}
    return Call("/api/revision/revert", body)


def membership(w: World, role: str) -> Call:
    group_id = w.group()
    members = w.admin.post("/api/permissions/membership", {"group_id": group_id, "user_id": w["target_user"]})
    return Call(f"/api/permissions/membership/{members[0]['membership_id']}")


def cleared_group(w: World, role: str) -> Call:
    group_id = w.group()
    w.admin.post("/api/permissions/membership", {"group_id": group_id, "user_id": w["target_user"]})
    return Call(f"/api/permissions/membership/{group_id}/clear")


def created_group(w: World, role: str) -> Call:
    return Call("/api/permissions/group", {"name": unique("Matrix new group")})


def deactivated_user(w: World, role: str) -> Call:
    user_id = w.user()
    w.admin.delete(f"/api/user/{user_id}")
    return Call(f"/api/user/{user_id}/reactivate")


def own_session(w: World, role: str) -> Call:
    """Logging out ends a session of the caller's own, not the one the other calls use."""
    if role == "anonymous":
        return Call("/api/session")
    email = w.admin.get(f"/api/user/{w.user_ids[role]}")["email"]
    session = w.anonymous.post("/api/session", {"username": email, "password": PASSWORD})["id"]
    return Call("/api/session", headers={"X-Metabase-Session": session})


def graph_put(w: World, role: str) -> Call:
    return Call(
        "/api/permissions/graph",
        {"revision": w.admin.get("/api/permissions/graph")["revision"], "groups": {}},
    )


def collection_graph_put(w: World, role: str) -> Call:
    revision = w.admin.get("/api/collection/graph")["revision"]
    return Call("/api/collection/graph", {"revision": revision, "groups": {}})


def setup_call(w: World, role: str) -> Call:
    token = w.anonymous.get("/api/session/properties").get("setup-token")
    user = {"first_name": "A", "last_name": "B", "email": "second-admin@example.com", "password": PASSWORD}
    return Call("/api/setup", {"token": token, "user": user, "prefs": {"site_name": "Again"}})


def embed(path: str) -> Builder:
    def build(w: World, role: str) -> Call:
        # A preview's token carries the embedding choices the admin is about to publish.
        claims = {"_embedding_params": {"price": "enabled"}} if "/preview_embed/" in path else {}
        tokens = {
            "card_token": w.token("question", w["card"], **claims),
            "dashboard_token": w.token("dashboard", w["dashboard"], **claims),
        }
        return Call(template(path, {**w.ids, **tokens}))

    return build


# Values from a field (a static list is anyone's to see).
VALUES = {"parameter": {"id": "price", "type": "category"}, "field_ids": ["{venues.price}"]}

MATRIX: dict[tuple[str, str], tuple[Expect, Builder]] = {
    # --- activity
    ("GET", "/api/activity/recent_views"): (users(200), at("/api/activity/recent_views")),
    ("GET", "/api/activity/recents"): (users(200), at("/api/activity/recents", params={"context": "views"})),
    ("POST", "/api/activity/recents"): (
        members(204),
        at("/api/activity/recents", json={"model": "card", "model_id": "{card}", "context": "selection"}),
    ),
    ("GET", "/api/activity/popular_items"): (users(200), at("/api/activity/popular_items")),
    # Each caller first opens the world's dashboard: only those who may see it get it back.
    ("GET", "/api/activity/most_recently_viewed_dashboard"): (
        (401, 204, 200, 200, 200),
        fresh(viewed_dashboard),
    ),
    # --- alerts (Metabase's legacy view of card notifications)
    ("GET", "/api/alert"): (users(200), at("/api/alert")),
    ("GET", "/api/alert/{alert_id}"): (members(200), at("/api/alert/{alert}")),
    ("DELETE", "/api/alert/{alert_id}/subscription"): (
        recipients(204),
        fresh(lambda w, r: Call(f"/api/alert/{w.alert()['id']}/subscription")),
    ),
    # --- api keys (admins)
    ("POST", "/api/api-key"): (
        admins(200),
        fresh(lambda w, r: Call("/api/api-key", {"name": unique("Key"), "group_id": w["group"]})),
    ),
    ("GET", "/api/api-key"): (admins(200), at("/api/api-key")),
    ("GET", "/api/api-key/count"): (admins(200), at("/api/api-key/count")),
    ("PUT", "/api/api-key/{key_id}"): (
        admins(200),
        at("/api/api-key/{api_key}", json={"group_id": "{group}"}),
    ),
    ("PUT", "/api/api-key/{key_id}/regenerate"): (admins(200), at("/api/api-key/{api_key}/regenerate")),
    ("DELETE", "/api/api-key/{key_id}"): (
        admins(204),
        fresh(lambda w, r: Call(f"/api/api-key/{w.api_key()}")),
    ),
    # --- bookmarks
    ("GET", "/api/bookmark"): (users(200), at("/api/bookmark")),
    ("POST", "/api/bookmark/{model}/{item_id}"): (
        members(200),
        fresh(lambda w, r: Call(f"/api/bookmark/card/{w.card()['id']}")),
    ),
    ("DELETE", "/api/bookmark/{model}/{item_id}"): (users(204), at("/api/bookmark/card/{card}")),
    ("PUT", "/api/bookmark/ordering"): (users(204), at("/api/bookmark/ordering", json={"orderings": []})),
    # --- cards
    ("GET", "/api/card/public"): (admins(200), at("/api/card/public")),
    ("GET", "/api/card/embeddable"): (admins(200), at("/api/card/embeddable")),
    ("GET", "/api/card"): (users(200), at("/api/card")),
    ("POST", "/api/card"): (members(200), fresh(lambda w, r: Call("/api/card", card_body(w)))),
    ("POST", "/api/card/collections"): (
        members(200),
        fresh(
            lambda w, r: Call(
                "/api/card/collections", {"card_ids": [w.card()["id"]], "collection_id": w["collection"]}
            )
        ),
    ),
    ("GET", "/api/card/{card_id}"): (members(200), at("/api/card/{card}")),
    ("PUT", "/api/card/{card_id}"): (members(200), at("/api/card/{card}", json={"description": "Matrix"})),
    ("DELETE", "/api/card/{card_id}"): (
        members(204),
        fresh(lambda w, r: Call(f"/api/card/{w.card()['id']}")),
    ),
    ("POST", "/api/card/{card_id}/copy"): (members(200), at("/api/card/{card}/copy")),
    ("GET", "/api/card/{card_id}/dashboards"): (members(200), at("/api/card/{card}/dashboards")),
    ("GET", "/api/card/{card_id}/query_metadata"): (members(200), at("/api/card/{card}/query_metadata")),
    ("GET", "/api/card/{card_id}/series"): (members(200), at("/api/card/{card}/series")),
    ("POST", "/api/card/{card_id}/query"): (members(202), at("/api/card/{card}/query")),
    ("POST", "/api/card/{card_id}/query/{export_format}"): (
        members(200),
        at("/api/card/{card}/query/csv", json={}),
    ),
    ("POST", "/api/card/{card_id}/public_link"): (admins(200), at("/api/card/{card}/public_link")),
    ("DELETE", "/api/card/{card_id}/public_link"): (admins(204), delete_public_link("card")),
    # --- collections
    ("GET", "/api/collection"): (users(200), at("/api/collection")),
    ("GET", "/api/collection/tree"): (users(200), at("/api/collection/tree")),
    ("GET", "/api/collection/root"): (users(200), at("/api/collection/root")),
    ("GET", "/api/collection/trash"): (users(200), at("/api/collection/trash")),
    ("GET", "/api/collection/graph"): (admins(200), at("/api/collection/graph")),
    ("PUT", "/api/collection/graph"): (admins(200), fresh(collection_graph_put)),
    ("GET", "/api/collection/root/items"): (users(200), at("/api/collection/root/items")),
    ("GET", "/api/collection/{collection_id}/items"): (
        members(200),
        at("/api/collection/{collection}/items"),
    ),
    ("GET", "/api/collection/{collection_id}"): (members(200), at("/api/collection/{collection}")),
    ("POST", "/api/collection"): (
        members(200),
        fresh(lambda w, r: Call("/api/collection", {"name": unique("Child"), "parent_id": w["collection"]})),
    ),
    ("PUT", "/api/collection/{collection_id}"): (
        members(200),
        fresh(lambda w, r: Call(f"/api/collection/{w.collection()['id']}", {"description": "Matrix"})),
    ),
    ("DELETE", "/api/collection/{collection_id}"): (
        admins(204),
        fresh(lambda w, r: Call(f"/api/collection/{w.collection(archived=True)['id']}")),
    ),
    # --- dashboards
    ("GET", "/api/dashboard/public"): (admins(200), at("/api/dashboard/public")),
    ("GET", "/api/dashboard/embeddable"): (admins(200), at("/api/dashboard/embeddable")),
    ("POST", "/api/dashboard"): (
        members(200),
        fresh(lambda w, r: Call("/api/dashboard", {"name": unique("New"), "collection_id": w["collection"]})),
    ),
    ("GET", "/api/dashboard"): (users(200), at("/api/dashboard")),
    ("GET", "/api/dashboard/{dashboard_id}"): (members(200), at("/api/dashboard/{dashboard}")),
    ("PUT", "/api/dashboard/{dashboard_id}"): (
        members(200),
        at("/api/dashboard/{dashboard}", json={"description": "Matrix"}),
    ),
    ("DELETE", "/api/dashboard/{dashboard_id}"): (
        members(204),
        fresh(lambda w, r: Call(f"/api/dashboard/{w.dashboard()['id']}")),
    ),
    ("POST", "/api/dashboard/{dashboard_id}/copy"): (
        members(200),
        at("/api/dashboard/{dashboard}/copy", json={"collection_id": "{collection}"}),
    ),
    ("POST", "/api/dashboard/{dashboard_id}/cards"): (
        members(200),
        fresh(lambda w, r: Call(f"/api/dashboard/{w.dashboard()['id']}/cards", {"cardId": w["card"]})),
    ),
    ("PUT", "/api/dashboard/{dashboard_id}/cards"): (
        members(200),
        fresh(lambda w, r: Call(f"/api/dashboard/{w.dashboard()['id']}/cards", {"cards": []})),
    ),
    ("DELETE", "/api/dashboard/{dashboard_id}/cards"): (members(204), fresh(dashcard_delete)),
    ("GET", "/api/dashboard/{dashboard_id}/params/{param_key}/values"): (
        members(200),
        at("/api/dashboard/{dashboard}/params/price/values"),
    ),
    ("GET", "/api/dashboard/{dashboard_id}/params/{param_key}/search/{query}"): (
        members(200),
        at("/api/dashboard/{dashboard}/params/price/search/2"),
    ),
    ("POST", "/api/dashboard/{dashboard_id}/dashcard/{dashcard_id}/card/{card_id}/query"): (
        members(202),
        at("/api/dashboard/{dashboard}/dashcard/{dashcard}/card/{card}/query", json={}),
    ),
    ("POST", "/api/dashboard/{dashboard_id}/dashcard/{dashcard_id}/card/{card_id}/query/{export_format}"): (
        members(200),
        at("/api/dashboard/{dashboard}/dashcard/{dashcard}/card/{card}/query/csv", json={}),
    ),
    ("POST", "/api/dashboard/{dashboard_id}/public_link"): (
        admins(200),
        at("/api/dashboard/{dashboard}/public_link"),
    ),
    ("DELETE", "/api/dashboard/{dashboard_id}/public_link"): (admins(204), delete_public_link("dashboard")),
    # --- databases
    ("GET", "/api/database"): (users(200), at("/api/database")),
    ("GET", "/api/database/-1337/metadata"): (users(200), at("/api/database/-1337/metadata")),
    ("GET", "/api/database/-1337/schemas"): (users(200), at("/api/database/-1337/schemas")),
    ("GET", "/api/database/-1337/schema/{schema}"): (
        users(200),
        at("/api/database/-1337/schema/{collection_name}"),
    ),
    ("GET", "/api/database/-1337/datasets"): (users(200), at("/api/database/-1337/datasets")),
    ("GET", "/api/database/-1337/datasets/{schema}"): (
        users(200),
        at("/api/database/-1337/datasets/{collection_name}"),
    ),
    ("POST", "/api/database"): (
        admins(200),
        fresh(
            lambda w, r: Call(
                "/api/database", {"engine": "sqlite", "name": unique("Matrix made"), "details": w["details"]}
            )
        ),
    ),
    ("POST", "/api/database/validate"): (
        admins(200),
        at("/api/database/validate", json={"details": {"engine": "sqlite", "details": "{details}"}}),
    ),
    ("POST", "/api/database/sample_database"): (admins(200), at("/api/database/sample_database")),
    ("GET", "/api/database/{database_id}"): (members(200), at("/api/database/{db}")),
    ("PUT", "/api/database/{database_id}"): (
        admins(200),
        at("/api/database/{db}", json={"description": "Matrix"}),
    ),
    ("DELETE", "/api/database/{database_id}"): (
        admins(204),
        fresh(lambda w, r: Call(f"/api/database/{w.database()}")),
    ),
    ("GET", "/api/database/{database_id}/metadata"): (members(200), at("/api/database/{db}/metadata")),
    ("GET", "/api/database/{database_id}/fields"): (members(200), at("/api/database/{db}/fields")),
    ("GET", "/api/database/{database_id}/idfields"): (members(200), at("/api/database/{db}/idfields")),
    ("GET", "/api/database/{database_id}/schemas"): (members(200), at("/api/database/{db}/schemas")),
    ("GET", "/api/database/{database_id}/schema/{schema}"): (
        members(200),
        at("/api/database/{db}/schema/{venues.schema}"),
    ),
    ("GET", "/api/database/{database_id}/schema"): (
        members(200),
        at("/api/database/{db}/schema", params={"schema": "{venues.schema}"}),
    ),
    ("GET", "/api/database/{database_id}/schema/"): (
        members(200),
        at("/api/database/{db}/schema/", params={"schema": "{venues.schema}"}),
    ),
    ("GET", "/api/database/{database_id}/autocomplete_suggestions"): (
        members(200),
        at("/api/database/{db}/autocomplete_suggestions", params={"prefix": "ven"}),
    ),
    ("POST", "/api/database/{database_id}/sync_schema"): (admins(200), at("/api/database/{db}/sync_schema")),
    ("POST", "/api/database/{database_id}/rescan_values"): (
        admins(200),
        at("/api/database/{db}/rescan_values"),
    ),
    ("POST", "/api/database/{database_id}/discard_values"): (
        admins(200),
        at("/api/database/{db}/discard_values"),
    ),
    ("POST", "/api/database/{database_id}/dismiss_spinner"): (
        admins(200),
        at("/api/database/{db}/dismiss_spinner"),
    ),
    # --- ad-hoc queries
    ("POST", "/api/dataset"): (members(202), fresh(lambda w, r: Call("/api/dataset", query(w)))),
    ("POST", "/api/dataset/native"): (
        members(200),
        fresh(lambda w, r: Call("/api/dataset/native", query(w))),
    ),
    ("POST", "/api/dataset/query_metadata"): (
        users(200),
        fresh(lambda w, r: Call("/api/dataset/query_metadata", query(w))),
    ),
    ("POST", "/api/dataset/parameter/values"): (
        members(200),
        at("/api/dataset/parameter/values", json=VALUES),
    ),
    ("POST", "/api/dataset/parameter/search/{query}"): (
        members(200),
        at("/api/dataset/parameter/search/2", json=VALUES),
    ),
    ("POST", "/api/dataset/{export_format}"): (
        members(200),
        fresh(lambda w, r: Call("/api/dataset/csv", {"query": query(w)})),
    ),
    # --- signed embedding (anyone with a token)
    ("GET", "/api/embed/card/{token}"): (everyone(200), embed("/api/embed/card/{card_token}")),
    ("GET", "/api/embed/card/{token}/query"): (everyone(202), embed("/api/embed/card/{card_token}/query")),
    ("GET", "/api/embed/card/{token}/query/{export_format}"): (
        everyone(200),
        embed("/api/embed/card/{card_token}/query/csv"),
    ),
    ("GET", "/api/embed/card/{token}/params/{param_key}/values"): (
        everyone(200),
        embed("/api/embed/card/{card_token}/params/price/values"),
    ),
    ("GET", "/api/embed/card/{token}/params/{param_key}/search/{prefix}"): (
        everyone(200),
        embed("/api/embed/card/{card_token}/params/price/search/2"),
    ),
    ("GET", "/api/embed/dashboard/{token}"): (everyone(200), embed("/api/embed/dashboard/{dashboard_token}")),
    ("GET", "/api/embed/dashboard/{token}/dashcard/{dashcard_id}/card/{card_id}"): (
        everyone(202),
        embed("/api/embed/dashboard/{dashboard_token}/dashcard/{dashcard}/card/{card}"),
    ),
    ("GET", "/api/embed/dashboard/{token}/dashcard/{dashcard_id}/card/{card_id}/{export_format}"): (
        everyone(200),
        embed("/api/embed/dashboard/{dashboard_token}/dashcard/{dashcard}/card/{card}/csv"),
    ),
    ("GET", "/api/embed/dashboard/{token}/params/{param_key}/values"): (
        everyone(200),
        embed("/api/embed/dashboard/{dashboard_token}/params/price/values"),
    ),
    ("GET", "/api/embed/dashboard/{token}/params/{param_key}/search/{prefix}"): (
        everyone(200),
        embed("/api/embed/dashboard/{dashboard_token}/params/price/search/2"),
    ),
    # --- email settings (admins; Metabase leaves `/api/email` outside its authentication wrapper, so an
    # anonymous caller is refused like any non-admin)
    ("PUT", "/api/email"): (
        (403, 403, 403, 403, 400),
        at("/api/email", json={"email-smtp-host": "localhost", "email-smtp-port": 1}),
    ),
    ("DELETE", "/api/email"): ((403, 403, 403, 403, 204), at("/api/email")),
    ("POST", "/api/email/test"): ((403, 403, 403, 403, 400), at("/api/email/test")),
    # --- fields
    ("GET", "/api/field/{field_id}"): (members(200), at("/api/field/{venues.name}")),
    ("PUT", "/api/field/{field_id}"): (
        admins(200),
        at("/api/field/{venues.name}", json={"description": "Matrix"}),
    ),
    ("GET", "/api/field/{field_id}/values"): (members(200), at("/api/field/{venues.price}/values")),
    ("POST", "/api/field/{field_id}/values"): (
        admins(200),
        at("/api/field/{users.is_active}/values", json={"values": [[True, "Yes"], [False, "No"]]}),
    ),
    ("POST", "/api/field/{field_id}/discard_values"): (
        admins(200),
        at("/api/field/{venues.price}/discard_values"),
    ),
    ("POST", "/api/field/{field_id}/rescan_values"): (
        admins(200),
        at("/api/field/{venues.price}/rescan_values"),
    ),
    ("GET", "/api/field/{field_id}/summary"): (members(200), at("/api/field/{venues.price}/summary")),
    ("GET", "/api/field/{field_id}/search/{search_field_id}"): (
        members(200),
        at("/api/field/{venues.id}/search/{venues.name}", params={"value": "a"}),
    ),
    ("GET", "/api/field/{field_id}/remapping/{remapped_id}"): (
        members(200),
        at("/api/field/{venues.id}/remapping/{venues.name}", params={"value": "1"}),
    ),
    # --- health
    ("GET", "/api/health"): (everyone(200), at("/api/health")),
    # --- legacy metrics
    ("GET", "/api/metric"): (users(200), at("/api/metric")),
    ("POST", "/api/metric"): (admins(200), fresh(lambda w, r: Call("/api/metric", w.metric_body()))),
    ("GET", "/api/metric/{metric_id}"): (members(200), at("/api/metric/{metric}")),
    ("PUT", "/api/metric/{metric_id}"): (
        admins(200),
        at("/api/metric/{metric}", json={"revision_message": "Matrix", "description": "Matrix"}),
    ),
    ("PUT", "/api/metric/{metric_id}/important_fields"): (
        admins(200),
        at("/api/metric/{metric}/important_fields", json={"important_field_ids": ["{venues.name}"]}),
    ),
    ("DELETE", "/api/metric/{metric_id}"): (
        admins(204),
        fresh(lambda w, r: Call(f"/api/metric/{w.metric()['id']}", params={"revision_message": "Gone"})),
    ),
    ("GET", "/api/metric/{metric_id}/revisions"): (members(200), at("/api/metric/{metric}/revisions")),
    ("POST", "/api/metric/{metric_id}/revert"): (admins(200), fresh(metric_revert)),
    ("GET", "/api/metric/{metric_id}/related"): (members(200), at("/api/metric/{metric}/related")),
    # --- snippets (anyone who may write native SQL somewhere: All Users may, on the Sample Database)
    ("GET", "/api/native-query-snippet"): (users(200), at("/api/native-query-snippet")),
    ("GET", "/api/native-query-snippet/{snippet_id}"): (
        users(200),
        at("/api/native-query-snippet/{snippet}"),
    ),
    ("POST", "/api/native-query-snippet"): (
        users(200),
        fresh(
            lambda w, r: Call("/api/native-query-snippet", {"name": unique("snippet"), "content": "1 = 1"})
        ),
    ),
    ("PUT", "/api/native-query-snippet/{snippet_id}"): (
        users(200),
        at("/api/native-query-snippet/{snippet}", json={"description": "Matrix"}),
    ),
    # --- notifications (alerts): read by their creator and recipients, changed by their creator (or an
    # admin), created on a card the caller may read
    ("GET", "/api/notification"): (users(200), at("/api/notification")),
    ("POST", "/api/notification"): (
        members(200),
        fresh(lambda w, r: Call("/api/notification", alert_body(w))),
    ),
    ("POST", "/api/notification/send"): (
        members(204),
        fresh(lambda w, r: Call("/api/notification/send", alert_body(w))),
    ),
    ("GET", "/api/notification/{notification_id}"): (members(200), at("/api/notification/{alert}")),
    ("PUT", "/api/notification/{notification_id}"): (
        admins(200),
        fresh(lambda w, r: Call(f"/api/notification/{w.alert()['id']}", {**alert_body(w), "active": False})),
    ),
    ("POST", "/api/notification/{notification_id}/send"): (
        members(204),
        mailed("/api/notification/{alert}/send"),
    ),
    ("POST", "/api/notification/{notification_id}/unsubscribe"): (
        recipients(204),
        fresh(lambda w, r: Call(f"/api/notification/{w.alert()['id']}/unsubscribe")),
    ),
    # The links of the emails need no session: the hash is checked first.
    ("POST", "/api/notification/unsubscribe"): (
        everyone(400),
        at(
            "/api/notification/unsubscribe",
            json={"notification-handler-id": "{alert_handler}", "email": "x@example.com", "hash": "bad"},
        ),
    ),
    ("POST", "/api/notification/unsubscribe/undo"): (
        everyone(400),
        at(
            "/api/notification/unsubscribe/undo",
            json={"notification-handler-id": "{alert_handler}", "email": "x@example.com", "hash": "bad"},
        ),
    ),
    # --- permissions (admins)
    ("GET", "/api/permissions/graph"): (admins(200), at("/api/permissions/graph")),
    ("GET", "/api/permissions/graph/db/{db_id}"): (admins(200), at("/api/permissions/graph/db/{db}")),
    ("GET", "/api/permissions/graph/group/{group_id}"): (
        admins(200),
        at("/api/permissions/graph/group/{group}"),
    ),
    ("PUT", "/api/permissions/graph"): (admins(200), fresh(graph_put)),
    ("GET", "/api/permissions/group"): (admins(200), at("/api/permissions/group")),
    ("GET", "/api/permissions/group/{group_id}"): (admins(200), at("/api/permissions/group/{group}")),
    ("POST", "/api/permissions/group"): (admins(200), fresh(created_group)),
    ("PUT", "/api/permissions/group/{group_id}"): (
        admins(200),
        fresh(lambda w, r: Call(f"/api/permissions/group/{w.group()}", {"name": unique("Matrix renamed")})),
    ),
    ("DELETE", "/api/permissions/group/{group_id}"): (
        admins(204),
        fresh(lambda w, r: Call(f"/api/permissions/group/{w.group()}")),
    ),
    ("GET", "/api/permissions/membership"): (admins(200), at("/api/permissions/membership")),
    ("POST", "/api/permissions/membership"): (
        admins(200),
        fresh(
            lambda w, r: Call(
                "/api/permissions/membership", {"group_id": w.group(), "user_id": w["target_user"]}
            )
        ),
    ),
    # Group managers are an Enterprise feature: 402 for anyone logged in.
    ("PUT", "/api/permissions/membership/{membership_id}"): (
        users(402),
        at("/api/permissions/membership/1", json={"is_group_manager": True}),
    ),
    ("PUT", "/api/permissions/membership/{group_id}/clear"): (admins(204), fresh(cleared_group)),
    ("DELETE", "/api/permissions/membership/{membership_id}"): (admins(204), fresh(membership)),
    # --- embedding previews (admins)
    ("GET", "/api/preview_embed/card/{token}"): (admins(200), embed("/api/preview_embed/card/{card_token}")),
    ("GET", "/api/preview_embed/card/{token}/query"): (
        admins(202),
        embed("/api/preview_embed/card/{card_token}/query"),
    ),
    ("GET", "/api/preview_embed/dashboard/{token}"): (
        admins(200),
        embed("/api/preview_embed/dashboard/{dashboard_token}"),
    ),
    ("GET", "/api/preview_embed/dashboard/{token}/dashcard/{dashcard_id}/card/{card_id}"): (
        admins(202),
        embed("/api/preview_embed/dashboard/{dashboard_token}/dashcard/{dashcard}/card/{card}"),
    ),
    ("GET", "/api/preview_embed/dashboard/{token}/params/{param_key}/values"): (
        admins(200),
        embed("/api/preview_embed/dashboard/{dashboard_token}/params/price/values"),
    ),
    ("GET", "/api/preview_embed/dashboard/{token}/params/{param_key}/search/{prefix}"): (
        admins(200),
        embed("/api/preview_embed/dashboard/{dashboard_token}/params/price/search/2"),
    ),
    # --- public links (anyone with the link)
    ("GET", "/api/public/card/{uuid}"): (everyone(200), at("/api/public/card/{card_uuid}")),
    ("GET", "/api/public/card/{uuid}/query"): (everyone(202), at("/api/public/card/{card_uuid}/query")),
    ("GET", "/api/public/card/{uuid}/query/{export_format}"): (
        everyone(200),
        at("/api/public/card/{card_uuid}/query/csv"),
    ),
    ("GET", "/api/public/card/{uuid}/params/{param_key}/values"): (
        everyone(200),
        at("/api/public/card/{card_uuid}/params/price/values"),
    ),
    ("GET", "/api/public/card/{uuid}/params/{param_key}/search/{query}"): (
        everyone(200),
        at("/api/public/card/{card_uuid}/params/price/search/2"),
    ),
    ("GET", "/api/public/dashboard/{uuid}"): (everyone(200), at("/api/public/dashboard/{dashboard_uuid}")),
    ("GET", "/api/public/dashboard/{uuid}/dashcard/{dashcard_id}/card/{card_id}"): (
        everyone(202),
        at("/api/public/dashboard/{dashboard_uuid}/dashcard/{dashcard}/card/{card}"),
    ),
    ("GET", "/api/public/dashboard/{uuid}/params/{param_key}/values"): (
        everyone(200),
        at("/api/public/dashboard/{dashboard_uuid}/params/price/values"),
    ),
    ("GET", "/api/public/dashboard/{uuid}/params/{param_key}/search/{query}"): (
        everyone(200),
        at("/api/public/dashboard/{dashboard_uuid}/params/price/search/2"),
    ),
    ("POST", "/api/public/dashboard/{uuid}/dashcard/{dashcard_id}/card/{card_id}/{export_format}"): (
        everyone(200),
        at("/api/public/dashboard/{dashboard_uuid}/dashcard/{dashcard}/card/{card}/csv", json={}),
    ),
    ("GET", "/api/public/oembed"): (
        everyone(200),
        at("/api/public/oembed", params={"url": "http://localhost/public/question/x", "format": "json"}),
    ),
    # --- dashboard subscriptions (pulses): read by their creator and recipients, changed by their creator
    # (or an admin)
    ("GET", "/api/pulse"): (users(200), at("/api/pulse")),
    ("POST", "/api/pulse"): (members(200), fresh(lambda w, r: Call("/api/pulse", subscription_body(w)))),
    ("GET", "/api/pulse/form_input"): (users(200), at("/api/pulse/form_input")),
    ("GET", "/api/pulse/preview_card/{card_id}"): (members(200), at("/api/pulse/preview_card/{card}")),
    ("GET", "/api/pulse/preview_card_info/{card_id}"): (
        members(200),
        at("/api/pulse/preview_card_info/{card}"),
    ),
    ("GET", "/api/pulse/preview_dashboard/{dashboard_id}"): (
        members(200),
        at("/api/pulse/preview_dashboard/{dashboard}"),
    ),
    ("POST", "/api/pulse/test"): (
        members(200),
        fresh(lambda w, r: Call("/api/pulse/test", subscription_body(w))),
    ),
    ("GET", "/api/pulse/{pulse_id}"): (members(200), at("/api/pulse/{pulse}")),
    ("PUT", "/api/pulse/{pulse_id}"): (admins(200), at("/api/pulse/{pulse}", json={"skip_if_empty": False})),
    # Unsubscribing finds no recipient to take off for those who do not receive it.
    ("DELETE", "/api/pulse/{pulse_id}/subscription"): (
        (401, 404, 204, 204, 404),
        fresh(lambda w, r: Call(f"/api/pulse/{w.subscription()['id']}/subscription")),
    ),
    ("POST", "/api/pulse/unsubscribe"): (
        everyone(400),
        at("/api/pulse/unsubscribe", json={"pulse-id": "{pulse}", "email": "x@example.com", "hash": "bad"}),
    ),
    ("POST", "/api/pulse/unsubscribe/undo"): (
        everyone(400),
        at(
            "/api/pulse/unsubscribe/undo",
            json={"pulse-id": "{pulse}", "email": "x@example.com", "hash": "bad"},
        ),
    ),
    # --- revisions
    ("GET", "/api/revision"): (members(200), at("/api/revision", params={"entity": "card", "id": "{card}"})),
    ("POST", "/api/revision/revert"): (members(200), fresh(card_revert)),
    ("GET", "/api/revision/{entity}/{object_id}"): (members(200), at("/api/revision/card/{card}")),
    # --- search
    ("GET", "/api/search"): (users(200), at("/api/search", params={"q": "matrix"})),
    # --- segments
    ("GET", "/api/segment"): (users(200), at("/api/segment")),
    ("POST", "/api/segment"): (admins(200), fresh(lambda w, r: Call("/api/segment", w.segment_body()))),
    ("GET", "/api/segment/{segment_id}"): (members(200), at("/api/segment/{segment}")),
    ("PUT", "/api/segment/{segment_id}"): (
        admins(200),
        at("/api/segment/{segment}", json={"revision_message": "Matrix", "description": "Matrix"}),
    ),
    ("DELETE", "/api/segment/{segment_id}"): (
        admins(204),
        fresh(lambda w, r: Call(f"/api/segment/{w.segment()['id']}", params={"revision_message": "Gone"})),
    ),
    ("GET", "/api/segment/{segment_id}/related"): (members(200), at("/api/segment/{segment}/related")),
    # --- sessions
    ("POST", "/api/session"): (
        everyone(200),
        fresh(
            lambda w, r: Call(
                "/api/session",
                {"username": w.admin.get(f"/api/user/{w['target_user']}")["email"], "password": PASSWORD},
            )
        ),
    ),
    # Logging out without a session finds no session to end.
    ("DELETE", "/api/session"): ((404, 204, 204, 204, 204), fresh(own_session)),
    ("POST", "/api/session/password-check"): (
        everyone(200),
        at("/api/session/password-check", json={"password": PASSWORD}),
    ),
    ("POST", "/api/session/google_auth"): (
        everyone(400),
        at("/api/session/google_auth", json={"token": "x"}),
    ),
    ("GET", "/api/session/properties"): (everyone(200), at("/api/session/properties")),
    ("POST", "/api/session/forgot_password"): (
        everyone(204),
        at("/api/session/forgot_password", json={"email": "nobody@example.com"}),
    ),
    ("POST", "/api/session/reset_password"): (
        everyone(400),
        at("/api/session/reset_password", json={"token": "not-a-token", "password": PASSWORD}),
    ),
    ("GET", "/api/session/password_reset_token_valid"): (
        everyone(200),
        at("/api/session/password_reset_token_valid", params={"token": "not-a-token"}),
    ),
    # --- settings
    ("GET", "/api/setting"): (admins(200), at("/api/setting")),
    ("GET", "/api/setting/{key}"): (admins(200), at("/api/setting/site-name")),
    ("PUT", "/api/setting/{key}"): (
        admins(204),
        fresh(lambda w, r: Call("/api/setting/site-name", {"value": w.admin.get("/api/setting/site-name")})),
    ),
    ("PUT", "/api/setting"): (
        admins(204),
        fresh(lambda w, r: Call("/api/setting", {"site-name": w.admin.get("/api/setting/site-name")})),
    ),
    # --- setup (done already: refused to everyone)
    ("POST", "/api/setup"): (everyone(403), fresh(setup_call)),
    ("POST", "/api/setup/validate"): (
        everyone(400),
        fresh(
            lambda w, r: Call(
                "/api/setup/validate",
                {
                    "token": w.anonymous.get("/api/session/properties").get("setup-token"),
                    "details": {"engine": "sqlite", "details": w["details"]},
                },
            )
        ),
    ),
    # `/api/setup` is outside Metabase's authentication wrapper: anonymous callers get its 403 too.
    ("GET", "/api/setup/admin_checklist"): ((403, 403, 403, 403, 200), at("/api/setup/admin_checklist")),
    # --- tables
    ("GET", "/api/table"): (users(200), at("/api/table")),
    # An unreadable card is answered with nothing (204), as Metabase does.
    ("GET", "/api/table/card__{card_id}/query_metadata"): (
        (401, 204, 200, 200, 200),
        at("/api/table/card__{card}/query_metadata"),
    ),
    ("GET", "/api/table/card__{card_id}/fks"): (users(200), at("/api/table/card__{card}/fks")),
    ("GET", "/api/table/{table_id}"): (members(200), at("/api/table/{venues}")),
    ("PUT", "/api/table/{table_id}"): (
        admins(200),
        at("/api/table/{venues}", json={"description": "Matrix"}),
    ),
    ("GET", "/api/table/{table_id}/query_metadata"): (members(200), at("/api/table/{venues}/query_metadata")),
    ("GET", "/api/table/{table_id}/fks"): (members(200), at("/api/table/{venues}/fks")),
    ("PUT", "/api/table/{table_id}/fields/order"): (
        admins(200),
        fresh(
            lambda w, r: Call(
                f"/api/table/{w['categories']}/fields/order", [w["categories.id"], w["categories.name"]]
            )
        ),
    ),
    ("POST", "/api/table/{table_id}/rescan_values"): (admins(200), at("/api/table/{venues}/rescan_values")),
    ("POST", "/api/table/{table_id}/discard_values"): (admins(200), at("/api/table/{venues}/discard_values")),
    # --- timelines
    ("GET", "/api/timeline"): (users(200), at("/api/timeline")),
    ("POST", "/api/timeline"): (
        members(200),
        fresh(
            lambda w, r: Call("/api/timeline", {"name": unique("Timeline"), "collection_id": w["collection"]})
        ),
    ),
    ("GET", "/api/timeline/collection/root"): (users(200), at("/api/timeline/collection/root")),
    ("GET", "/api/timeline/collection/{collection_id}"): (
        members(200),
        at("/api/timeline/collection/{collection}"),
    ),
    ("GET", "/api/timeline/{timeline_id}"): (members(200), at("/api/timeline/{timeline}")),
    ("PUT", "/api/timeline/{timeline_id}"): (
        members(200),
        at("/api/timeline/{timeline}", json={"description": "Matrix"}),
    ),
    ("DELETE", "/api/timeline/{timeline_id}"): (
        members(204),
        fresh(lambda w, r: Call(f"/api/timeline/{w.timeline()['id']}")),
    ),
    ("POST", "/api/timeline-event"): (
        members(200),
        at(
            "/api/timeline-event",
            json={
                "name": "Event",
                "timestamp": "2024-06-01T00:00:00Z",
                "timezone": "UTC",
                "timeline_id": "{timeline}",
            },
        ),
    ),
    ("GET", "/api/timeline-event/{event_id}"): (members(200), at("/api/timeline-event/{event}")),
    ("PUT", "/api/timeline-event/{event_id}"): (
        members(200),
        at("/api/timeline-event/{event}", json={"description": "Matrix"}),
    ),
    ("DELETE", "/api/timeline-event/{event_id}"): (
        members(204),
        fresh(lambda w, r: Call(f"/api/timeline-event/{w.event()['id']}")),
    ),
    # --- util
    ("GET", "/api/util/random_token"): (everyone(200), at("/api/util/random_token")),
    # --- users
    ("GET", "/api/user/current"): (users(200), at("/api/user/current")),
    # Group managers list their groups' members only with Enterprise's advanced permissions.
    ("GET", "/api/user"): (admins(200), at("/api/user")),
    ("GET", "/api/user/recipients"): (users(200), at("/api/user/recipients")),
    ("GET", "/api/user/{user_id}"): (admins(200), at("/api/user/{target_user}")),
    ("POST", "/api/user"): (
        admins(200),
        fresh(
            lambda w, r: Call(
                "/api/user",
                {
                    "first_name": "New",
                    "last_name": "User",
                    "email": f"matrix-new-{uuid.uuid4().hex[:12]}@example.com",
                },
            )
        ),
    ),
    ("PUT", "/api/user/{user_id}"): (
        admins(200),
        at("/api/user/{target_user}", json={"first_name": "Matrix"}),
    ),
    ("PUT", "/api/user/{user_id}/password"): (
        admins(204),
        at("/api/user/{target_user}/password", json={"password": PASSWORD}),
    ),
    ("DELETE", "/api/user/{user_id}"): (admins(200), fresh(lambda w, r: Call(f"/api/user/{w.user()}"))),
    ("PUT", "/api/user/{user_id}/reactivate"): (admins(200), fresh(deactivated_user)),
    # Everyone dismisses modals for themselves.
    ("PUT", "/api/user/{user_id}/modal/{modal}"): (users(200), at("/api/user/{me}/modal/datasetnewb")),
}

# Endpoints whose refusal is not Metabase's plain 403 text.
FORBIDDEN_BODIES = {
    ("POST", "/api/dataset/native"): "You do not have permissions to run this query.",
    (
        "POST",
        "/api/setup",
    ): "The /api/setup route can only be used to create the first user, however a user currently exists.",
}


def app_endpoints() -> set[tuple[str, str]]:
    return {
        (method, f"/api{prefix}{route.path}")
        for prefix, router in routers()
        for route in router.routes
        for method in getattr(route, "methods", ())
    }


def test_every_endpoint_has_an_entry():
    endpoints = app_endpoints()
    assert sorted(endpoints - set(MATRIX)) == [], "endpoints without a row in the permission matrix"
    assert sorted(set(MATRIX) - endpoints) == [], "rows for endpoints that do not exist"


@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_permission_matrix(world: World, endpoint: tuple[str, str]) -> None:
    method, _ = endpoint
    expect, build = MATRIX[endpoint]
    got: dict[str, Any] = {}
    for role in ROLES:
        call = build(world, role)
        response = world.clients[role].raw(
            method, call.path, json=call.json, params=call.params, headers=call.headers or {}
        )
        got[role] = response.status_code
        if response.status_code == 401:
            assert response.text == UNAUTHENTICATED, (role, response.text)
        elif response.status_code == 403:
            assert response.text == FORBIDDEN_BODIES.get(endpoint, FORBIDDEN), (role, response.text)
        elif response.status_code != dict(zip(ROLES, expect, strict=True))[role]:
            got[role] = (response.status_code, response.text[:300])
    assert got == dict(zip(ROLES, expect, strict=True))


def ids_of(items: Any) -> set[Any]:
    return {item["id"] for item in (items["data"] if isinstance(items, dict) else items)}


def test_listings_show_only_what_each_user_may_see(world: World) -> None:
    """The same lists, as a user without access and as a member: the world's database, tables, question,
    dashboard, collection, segment, metric and timeline appear to the member only."""
    expected = {
        "/api/database": world["db"],
        "/api/table": world["venues"],
        "/api/card": world["card"],
        "/api/dashboard": world["dashboard"],
        "/api/collection": world["collection"],
        "/api/segment": world["segment"],
        "/api/metric": world["metric"],
        "/api/timeline": world["timeline"],
    }
    for path, object_id in expected.items():
        assert object_id not in ids_of(world.clients["no_access"].get(path)), path
        assert object_id in ids_of(world.clients["member"].get(path)), path
    found = world.clients["member"].get("/api/search", params={"q": world["card_name"]})
    assert world["card"] in {item["id"] for item in found["data"] if item["model"] == "card"}
    hidden = world.clients["no_access"].get("/api/search", params={"q": world["card_name"]})
    assert world["card"] not in {item["id"] for item in hidden["data"] if item["model"] == "card"}
    listed = {d["id"]: d for d in world.clients["member"].get("/api/database")["data"]}
    assert listed[world["db"]]["native_permissions"] == "write"
    fields = world.clients["no_access"].get(f"/api/database/{world['db']}/fields", expect=403)
    assert fields == FORBIDDEN
