"""`/api/permissions/graph` and `/api/collection/graph`: the data and collection permission graphs, their
revisions, the defaults new databases, groups and collections get, graphs in pre-0.50 spellings, and how
collection permissions decide who may see and curate what."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import column, create_engine, insert, select, table, text
from sqlalchemy.engine import Engine

from querybase.db.migrate import upgrade
from querybase.models.base import UTCDateTime
from querybase.models.permissions import CollectionPermissionGraphRevision, PermissionsRevision
from tests.api.test_database import forget, unique, wait_for_sync
from tests.query_processor.test_dataset_api import sample as sample
from tests.support.appdb import fresh_app_db
from tests.support.http import Api
from tests.support.warehouses import fresh_warehouse

FORBIDDEN = "You don't have permissions to do that."
STALE = (
    "Looks like someone else edited the permissions and your data is out of date. "
    "Please fetch new data and try again."
)
INVALID = "Cannot parse permissions graph because it is invalid: "
BLOCKED_NEEDS_EE = (
    "The blocked permissions functionality is only enabled if you have a premium token with the "
    "advanced-permissions feature."
)
FULL = {
    "view-data": "unrestricted",
    "create-queries": "query-builder-and-native",
    "download": {"schemas": "full"},
}
ADMIN = {**FULL, "data-model": {"schemas": "all"}, "details": "yes"}
# Everything of a database spelled out, so that putting it back restores it whatever a test changed.
DEFAULT = {**FULL, "data-model": {"schemas": "none"}, "details": "no"}
ALL_USERS, ADMINISTRATORS = "1", "2"
SAMPLE_TABLES = (
    "ACCOUNTS",
    "ANALYTIC_EVENTS",
    "FEEDBACK",
    "INVOICES",
    "ORDERS",
    "PEOPLE",
    "PRODUCTS",
    "REVIEWS",
)


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def data_graph(admin: Api, path: str = "") -> dict[str, Any]:
    return admin.get(f"/api/permissions/graph{path}")


def put_data_graph(admin: Api, groups: dict[str, Any], *, expect: int = 200, **params: str) -> Any:
    """PUT `groups` on top of the current revision."""
    body = {"revision": data_graph(admin)["revision"], "groups": groups}
    return admin.put("/api/permissions/graph", body, params=params, expect=expect)


def restore_all_users(admin: Api) -> None:
    """All Users back to full access on every database, whatever a test changed."""
    databases = [d["id"] for d in admin.get("/api/database")["data"]]
    graph = {"groups": {ALL_USERS: {str(d): DEFAULT for d in databases}}}
    admin.put("/api/permissions/graph", graph, params={"force": "true", "skip-graph": "true"})


@pytest.fixture
def all_users_restored(admin: Api) -> Iterator[None]:
    """For tests that restrict All Users: full access comes back afterwards."""
    yield
    restore_all_users(admin)


@pytest.fixture
def new_group(admin: Api) -> Iterator[Callable[[], str]]:
    """`new_group()` creates a group and answers its id (as a graph key); deleted afterwards."""
    created: list[str] = []

    def create() -> str:
        group = admin.post("/api/permissions/group", {"name": f"Perms {uuid.uuid4().hex[:10]}"})
        created.append(str(group["id"]))
        return str(group["id"])

    yield create
    for group_id in created:
        admin.delete(f"/api/permissions/group/{group_id}", expect=204)


@pytest.fixture
def app_db(server: Any) -> Iterator[Engine]:
    engine = create_engine(server.config.app_db_url)
    yield engine
    engine.dispose()


def table_ids(ids: dict[str, Any], *names: str) -> list[int]:
    return [ids[name] for name in names]


def by_table(ids: dict[str, Any], value: str, *, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """`{"<table id>": value}` for every table of the Sample Database but `leave_out`."""
    return {str(ids[name]): value for name in SAMPLE_TABLES if name not in leave_out}


# --- reading the data graph ---------------------------------------------------------------------------


def test_only_admins_read_or_change_the_graphs(api):
    rasta = api.as_("rasta")
    for path in ("/api/permissions/graph", "/api/permissions/graph/db/1", "/api/permissions/graph/group/1"):
        assert rasta.get(path, expect=403) == FORBIDDEN
    assert rasta.put("/api/permissions/graph", {"groups": {}}, expect=403) == FORBIDDEN
    assert rasta.get("/api/collection/graph", expect=403) == FORBIDDEN
    assert rasta.put("/api/collection/graph", {"groups": {}}, expect=403) == FORBIDDEN
    assert api.get("/api/permissions/graph", expect=401) == "Unauthenticated"


def test_graph_shows_metabase_defaults(admin, sample):
    graph = data_graph(admin)
    assert set(graph) == {"revision", "groups"}
    assert isinstance(graph["revision"], int)
    sample_db = str(sample["db"])
    assert graph["groups"][ALL_USERS][sample_db] == FULL
    assert graph["groups"][ADMINISTRATORS][sample_db] == ADMIN
    assert graph["groups"][ADMINISTRATORS] == {d: ADMIN for d in graph["groups"][ADMINISTRATORS]}
    assert data_graph(admin, f"/db/{sample['db']}") == {
        "revision": graph["revision"],
        "groups": {
            group: {sample_db: dbs[sample_db]} for group, dbs in graph["groups"].items() if sample_db in dbs
        },
    }
    assert data_graph(admin, "/group/1") == {
        "revision": graph["revision"],
        "groups": {"1": graph["groups"]["1"]},
    }
    assert data_graph(admin, "/group/2") == {
        "revision": graph["revision"],
        "groups": {"2": graph["groups"]["2"]},
    }


def test_a_new_group_starts_from_all_users(admin, sample, new_group, all_users_restored):
    first = new_group()
    graph = data_graph(admin)
    assert graph["groups"][first] == graph["groups"][ALL_USERS]
    # All Users restricted on the Sample Database: a group made now gets no more than that there.
    put_data_graph(admin, {ALL_USERS: {str(sample["db"]): {"create-queries": "query-builder"}}})
    second = new_group()
    assert data_graph(admin, f"/group/{second}")["groups"][second][str(sample["db"])] == {
        "view-data": "unrestricted",
        "create-queries": "query-builder",
        "download": {"schemas": "full"},
    }


def test_a_new_database_gives_each_group_what_it_holds_elsewhere(admin, sample, new_group):
    limited = new_group()
    put_data_graph(
        admin, {limited: {str(sample["db"]): {"create-queries": "no", "download": {"schemas": "none"}}}}
    )
    with fresh_warehouse("sqlite", dataset=False) as details:
        database = admin.post(
            "/api/database", {"engine": "sqlite", "name": unique("perms"), "details": details}
        )
        try:
            wait_for_sync(admin, database["id"])
            key = str(database["id"])
            graph = data_graph(admin, f"/db/{database['id']}")
            assert graph["groups"][ALL_USERS] == {key: FULL}
            assert graph["groups"][ADMINISTRATORS] == {key: ADMIN}
            # No more than its most restricted values elsewhere: no queries, no downloads.
            assert graph["groups"][limited] == {key: {"view-data": "unrestricted"}}
        finally:
            forget(admin, database["id"])
    assert str(database["id"]) not in data_graph(admin)["groups"][ALL_USERS]


# --- changing the data graph --------------------------------------------------------------------------


def test_put_applies_changes_and_bumps_the_revision(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    before = data_graph(admin)["revision"]
    body = put_data_graph(admin, {group: {db_key: {"create-queries": "query-builder"}}})
    assert body == {
        "revision": before + 1,
        "groups": {
            group: {
                db_key: {
                    "view-data": "unrestricted",
                    "create-queries": "query-builder",
                    "download": {"schemas": "full"},
                }
            }
        },
    }
    assert data_graph(admin)["revision"] == before + 1
    # Only what differs is applied: sending the other keys unchanged changes nothing else.
    body = put_data_graph(admin, {group: {db_key: {**FULL, "create-queries": "no"}}})
    assert body["groups"] == {group: {db_key: {"view-data": "unrestricted", "download": {"schemas": "full"}}}}
    # skip-graph answers only the revision.
    assert put_data_graph(admin, {group: {db_key: FULL}}, **{"skip-graph": "true"}) == {
        "revision": before + 3
    }
    assert data_graph(admin, f"/group/{group}")["groups"][group][db_key] == FULL


def test_a_stale_revision_is_refused_unless_forced(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    stale = data_graph(admin)["revision"]
    put_data_graph(admin, {group: {db_key: {"create-queries": "query-builder"}}})
    other_admin = {"revision": stale, "groups": {group: {db_key: {"create-queries": "no"}}}}
    assert admin.put("/api/permissions/graph", other_admin, expect=409) == STALE
    assert admin.put("/api/permissions/graph", {"groups": other_admin["groups"]}, expect=409) == STALE
    assert data_graph(admin, f"/group/{group}")["groups"][group][db_key]["create-queries"] == "query-builder"
    forced = admin.put("/api/permissions/graph", other_admin, params={"force": "true"})
    assert forced["revision"] == stale + 2
    assert "create-queries" not in forced["groups"][group][db_key]
    in_body = admin.put("/api/permissions/graph", {**other_admin, "force": True})
    assert in_body["revision"] == stale + 3


def test_revisions_record_who_changed_what(admin, sample, new_group, app_db, user_ids):
    group, db_key = new_group(), str(sample["db"])
    body = put_data_graph(admin, {group: {db_key: {**FULL, "create-queries": "query-builder"}}})
    with app_db.connect() as conn:
        row = conn.execute(
            select(PermissionsRevision).where(PermissionsRevision.id == body["revision"])
        ).one()
    assert row.user_id == user_ids["crowberto"]
    assert row.before == {group: {db_key: {"create-queries": "query-builder-and-native"}}}
    assert row.after == {group: {db_key: {"create-queries": "query-builder"}}}
    assert row.created_at is not None


def test_table_by_table_create_queries(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    granular = {"": {str(sample["ORDERS"]): "query-builder", str(sample["PRODUCTS"]): "no"}}
    body = put_data_graph(admin, {group: {db_key: {"create-queries": granular}}})
    # The database-wide native access is split table by table: the other tables keep the query builder.
    assert body["groups"][group][db_key] == {
        "view-data": "unrestricted",
        "create-queries": {"": by_table(sample, "query-builder", leave_out=("PRODUCTS",))},
        "download": {"schemas": "full"},
    }
    # Once every table agrees again, one value stands for the whole database.
    body = put_data_graph(
        admin, {group: {db_key: {"create-queries": {"": {str(sample["PRODUCTS"]): "query-builder"}}}}}
    )
    assert body["groups"][group][db_key]["create-queries"] == "query-builder"
    # A whole schema at once: its tables agree, so the schema shows one value (even the least one).
    body = put_data_graph(admin, {group: {db_key: {"create-queries": {"": "no"}}}})
    assert body["groups"][group][db_key] == {
        "view-data": "unrestricted",
        "create-queries": {"": "no"},
        "download": {"schemas": "full"},
    }


def test_blocking_a_table_takes_its_queries_and_downloads(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    body = put_data_graph(admin, {group: {db_key: {"view-data": {"": {str(sample["PRODUCTS"]): "blocked"}}}}})
    others = ("PRODUCTS",)
    assert body["groups"][group][db_key] == {
        "view-data": {"": by_table(sample, "unrestricted", leave_out=others)},
        "create-queries": {"": by_table(sample, "query-builder", leave_out=others)},
        "download": {"schemas": {"": by_table(sample, "full", leave_out=others)}},
    }


def test_blocking_a_whole_database_is_an_enterprise_feature(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    revision = data_graph(admin)["revision"]
    assert put_data_graph(admin, {group: {db_key: {"view-data": "blocked"}}}, expect=402) == BLOCKED_NEEDS_EE
    assert data_graph(admin)["revision"] == revision
    assert data_graph(admin, f"/group/{group}")["groups"][group][db_key] == FULL


def test_downloads_data_model_and_details(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    changes = {"download": {"schemas": "limited"}, "data-model": {"schemas": "all"}, "details": "yes"}
    body = put_data_graph(admin, {group: {db_key: changes}})
    assert body["groups"][group][db_key] == {
        "view-data": "unrestricted",
        "create-queries": "query-builder-and-native",
        **changes,
    }
    table_model = {"data-model": {"schemas": {"": {str(sample["ORDERS"]): "none"}}}}
    body = put_data_graph(admin, {group: {db_key: table_model}})
    assert body["groups"][group][db_key]["data-model"] == {
        "schemas": {"": by_table(sample, "all", leave_out=("ORDERS",))}
    }


def test_pre_050_graphs_are_understood(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    put_data_graph(admin, {group: {db_key: {"create-queries": "no"}}})
    body = put_data_graph(admin, {group: {db_key: {"data": {"native": "write", "schemas": "all"}}}})
    assert body["groups"][group][db_key] == FULL
    body = put_data_graph(admin, {group: {db_key: {"data": {"native": "none", "schemas": "all"}}}})
    assert body["groups"][group][db_key]["create-queries"] == "query-builder"
    body = put_data_graph(admin, {group: {db_key: {"data": {"schemas": "none"}}}})
    assert "create-queries" not in body["groups"][group][db_key]
    legacy_granular = {"data": {"schemas": {"": {str(sample["ORDERS"]): "all"}}}}
    body = put_data_graph(admin, {group: {db_key: legacy_granular}})
    assert body["groups"][group][db_key]["create-queries"] == {"": {str(sample["ORDERS"]): "query-builder"}}
    # Native access to some schemas only was never valid.
    invalid = {"data": {"native": "write", "schemas": {"": "all"}}}
    message = put_data_graph(admin, {group: {db_key: invalid}}, expect=400)
    assert message.startswith(INVALID) and "If you have write access for native queries" in message


@pytest.mark.parametrize(
    "groups",
    [
        None,
        {"x": {}},
        {"3": {"1": {"view-data": "everything"}}},
        {"3": {"1": {"create-queries": "query-builder-and-native", "view-data": "blocked"}}},
        {"3": {"1": {"details": "maybe"}}},
        {"3": ["not", "a", "map"]},
    ],
)
def test_invalid_graphs_are_refused(admin, groups):
    revision = data_graph(admin)["revision"]
    body: dict[str, Any] = (
        {"revision": revision} if groups is None else {"revision": revision, "groups": groups}
    )
    message = admin.put("/api/permissions/graph", body, expect=400)
    assert message.startswith(INVALID), message
    assert data_graph(admin)["revision"] == revision


def test_sandboxes_are_an_enterprise_feature(admin, sample, new_group):
    group, db_key = new_group(), str(sample["db"])
    revision = data_graph(admin)["revision"]
    body = {
        "revision": revision,
        "groups": {group: {db_key: {"create-queries": "no"}}},
        "sandboxes": [{"card_id": 1}],
    }
    assert admin.put("/api/permissions/graph", body, expect=402) == (
        "Sandboxes is a paid feature not currently available to your instance. Please upgrade to use it. "
        "Learn more at metabase.com/upgrade/"
    )
    assert data_graph(admin)["revision"] == revision
    assert data_graph(admin, f"/group/{group}")["groups"][group][db_key] == FULL


# --- the collection graph -----------------------------------------------------------------------------


def collection_graph(admin: Api, **params: str) -> dict[str, Any]:
    return admin.get("/api/collection/graph", params=params)


def put_collection_graph(admin: Api, groups: dict[str, Any], *, expect: int = 200, **params: str) -> Any:
    body = {"revision": collection_graph(admin)["revision"], "groups": groups}
    return admin.put("/api/collection/graph", body, params=params, expect=expect)


@pytest.fixture
def collections(admin: Api) -> Iterator[Callable[..., dict[str, Any]]]:
    """`collections(parent_id=None)` makes a collection; All Users curate it again afterwards."""
    made: list[dict[str, Any]] = []

    def make(parent_id: int | None = None) -> dict[str, Any]:
        collection = admin.post("/api/collection", {"name": unique("Perms"), "parent_id": parent_id})
        made.append(collection)
        return collection

    yield make
    if made:
        put_collection_graph(admin, {ALL_USERS: {str(c["id"]): "write" for c in made}}, force="true")


def test_collection_graph_shape_and_inheritance(admin, collections, new_group):
    parent = collections()
    key = str(parent["id"])
    graph = collection_graph(admin)
    assert set(graph) == {"revision", "groups"}
    # A new collection starts with the root's permissions: All Users curate everything by default.
    assert graph["groups"][ALL_USERS]["root"] == "write"
    assert graph["groups"][ALL_USERS][key] == "write"
    assert graph["groups"][ADMINISTRATORS]["root"] == "write"
    assert graph["groups"][ADMINISTRATORS][key] == "write"
    group = new_group()
    assert group not in graph["groups"]  # a new group has no collection access
    body = put_collection_graph(admin, {group: {key: "read"}, ALL_USERS: {key: "none"}})
    assert body["revision"] == graph["revision"] + 1
    assert body["groups"][group] == {key: "read"}
    assert key not in body["groups"][ALL_USERS]
    # A child starts with its parent's permissions.
    child = collections(parent["id"])
    graph = collection_graph(admin)
    assert graph["groups"][group] == {key: "read", str(child["id"]): "read"}
    assert str(child["id"]) not in graph["groups"][ALL_USERS]
    assert graph["groups"][ADMINISTRATORS][str(child["id"])] == "write"


def test_collection_graph_revisions(admin, collections, new_group, app_db, user_ids):
    key, group = str(collections()["id"]), new_group()
    stale = collection_graph(admin)["revision"]
    put_collection_graph(admin, {group: {key: "write"}})
    refused = {"revision": stale, "groups": {group: {key: "none"}}}
    assert admin.put("/api/collection/graph", refused, expect=409) == STALE
    assert collection_graph(admin)["groups"][group] == {key: "write"}
    skipped = admin.put("/api/collection/graph", refused, params={"force": "true", "skip-graph": "true"})
    assert skipped == {"revision": stale + 2}
    assert group not in collection_graph(admin)["groups"]
    with app_db.connect() as conn:
        row = conn.execute(
            select(CollectionPermissionGraphRevision).where(CollectionPermissionGraphRevision.id == stale + 2)
        ).one()
    assert row.user_id == user_ids["crowberto"]
    assert row.after == {group: {key: "none"}}
    assert row.before["groups"][group] == {key: "write"}
    # Nothing changed, no revision.
    assert put_collection_graph(admin, {ALL_USERS: {key: "write"}})["revision"] == stale + 2


def test_personal_collections_are_not_in_the_graph(admin, api, new_group):
    group = new_group()
    mine = str(admin.get("/api/user/current")["personal_collection_id"])
    rastas = str(api.as_("rasta").get("/api/user/current")["personal_collection_id"])
    graph = collection_graph(admin)
    assert all(mine not in g and rastas not in g for g in graph["groups"].values())
    body = put_collection_graph(admin, {group: {rastas: "write"}})
    assert body["revision"] == graph["revision"]
    assert group not in body["groups"]


def test_collection_permissions_decide_who_sees_and_curates(api, admin, collections):
    rasta = api.as_("rasta")
    collection = collections()
    path = f"/api/collection/{collection['id']}"
    assert rasta.get(path)["can_write"] is True
    put_collection_graph(admin, {ALL_USERS: {str(collection["id"]): "read"}})
    assert rasta.get(path)["can_write"] is False
    assert rasta.put(path, {"name": "Renamed"}, expect=403) == FORBIDDEN
    assert (
        rasta.post("/api/collection", {"name": unique("Child"), "parent_id": collection["id"]}, expect=403)
        == FORBIDDEN
    )
    put_collection_graph(admin, {ALL_USERS: {str(collection["id"]): "none"}})
    assert rasta.get(path, expect=403) == FORBIDDEN
    assert admin.get(path)["can_write"] is True


def test_moving_across_the_personal_boundary(admin, collections):
    shared = collections()
    personal = admin.get("/api/user/current")["personal_collection_id"]
    admin.put(f"/api/collection/{shared['id']}", {"parent_id": personal})
    assert str(shared["id"]) not in collection_graph(admin)["groups"].get(ALL_USERS, {})
    admin.put(f"/api/collection/{shared['id']}", {"parent_id": None})
    # Out of the personal collection it takes its new parent's (the root's) permissions.
    assert collection_graph(admin)["groups"][ALL_USERS][str(shared["id"])] == "write"


# --- the migration --------------------------------------------------------------------------------------


def old_table(name: str, *columns: str) -> Any:
    """A table of the 0004 schema with the columns a row needs (timestamps as the app stores them)."""
    timestamps = {"date_joined", "updated_at", "created_at"}
    return table(name, *(column(c, UTCDateTime()) if c in timestamps else column(c) for c in columns))


def test_the_migration_keeps_the_access_existing_instances_had(app_db_kind):
    """Before permissions everyone could query every database and curate every shared collection: the
    migration seeds exactly that, for every group but Administrators (who hold the root path `/`)."""
    with fresh_app_db(app_db_kind) as url:
        engine = create_engine(url)
        try:
            upgrade(engine, "0004")
            now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            with engine.begin() as conn:
                conn.execute(
                    insert(old_table("core_user", "id", "email", "date_joined", "updated_at")),
                    [{"id": 10, "email": "a@b.c", "date_joined": now, "updated_at": now}],
                )
                conn.execute(insert(old_table("permissions_group", "id", "name")), [{"id": 3, "name": "X"}])
                conn.execute(
                    insert(
                        old_table(
                            "metabase_database", "id", "name", "engine", "details", "metadata_sync_schedule"
                        )
                    ),
                    [
                        {
                            "id": 30,
                            "name": "W",
                            "engine": "sqlite",
                            "details": "{}",
                            "metadata_sync_schedule": "0 0 * * * ? *",
                        }
                    ],
                )
                conn.execute(
                    insert(
                        old_table(
                            "collection", "id", "name", "slug", "location", "personal_owner_id", "created_at"
                        )
                    ),
                    [
                        {
                            "id": cid,
                            "name": f"C{cid}",
                            "slug": f"c{cid}",
                            "location": location,
                            "personal_owner_id": owner,
                            "created_at": now,
                        }
                        for cid, location, owner in (
                            (20, "/", 10),
                            (21, "/20/", None),
                            (22, "/", None),
                            (23, "/22/", None),
                        )
                    ],
                )
            upgrade(engine, "0005")
            with engine.connect() as conn:
                data_rows = conn.execute(
                    text("SELECT group_id, db_id, perm_type, perm_value, table_id FROM data_permissions")
                ).all()
                paths = conn.execute(
                    text("SELECT group_id, object, perm_value, collection_id FROM permissions")
                ).all()
        finally:
            engine.dispose()
    full = {
        ("perms/view-data", "unrestricted"),
        ("perms/create-queries", "query-builder-and-native"),
        ("perms/download-results", "one-million-rows"),
        ("perms/manage-table-metadata", "no"),
        ("perms/manage-database", "no"),
    }
    assert sorted(data_rows) == sorted((g, 30, t, v, None) for g in (1, 3) for t, v in full)
    assert sorted(paths, key=str) == sorted(
        [
            (2, "/", None, None),
            (1, "/collection/root/", "read-and-write", None),
            (1, "/collection/22/", "read-and-write", 22),
            (1, "/collection/23/", "read-and-write", 23),
        ],
        key=str,
    )
