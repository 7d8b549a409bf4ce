"""`/api/database`: connecting each engine (the connection is tested first, sync runs in the background),
Metabase's error bodies, redacted secrets, edits, the read endpoints and the sync triggers.

Every test that changes something connects a warehouse of its own (`connected`) and deletes it through
the API afterwards, so the shared server's Sample Database is only read.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from querybase import sync
from querybase.drivers.sql import POOLS
from querybase.models.database import Database, Field, FieldValues, Table
from tests.support.appdb import MYSQL_HOST, MYSQL_PORT, MYSQL_USER, PG_HOST, PG_PORT, PG_USER
from tests.support.http import Api
from tests.support.warehouses import fresh_warehouse

FORBIDDEN = "You don't have permissions to do that."
SYNC_TIMEOUT = 60.0
REDACTED = "**MetabasePass**"

# A database row as Metabase's `to-json` shows it (POST's answer, and the base of every other view).
DATABASE_KEYS = {
    "id",
    "name",
    "description",
    "engine",
    "details",
    "features",
    "is_sample",
    "is_full_sync",
    "is_on_demand",
    "is_audit",
    "is_attached_dwh",
    "auto_run_queries",
    "refingerprint",
    "cache_ttl",
    "timezone",
    "dbms_version",
    "caveats",
    "points_of_interest",
    "settings",
    "creator_id",
    "initial_sync_status",
    "metadata_sync_schedule",
    "cache_field_values_schedule",
    "provider_name",
    "uploads_enabled",
    "uploads_schema_name",
    "uploads_table_prefix",
    "router_database_id",
    "entity_id",
    "created_at",
    "updated_at",
}
LIST_KEYS = DATABASE_KEYS | {"native_permissions", "can_upload", "router_user_attribute"}
GET_KEYS = DATABASE_KEYS | {"schedules", "can_upload", "router_user_attribute", "can-manage"}
TABLE_KEYS = {
    "id",
    "db_id",
    "schema",
    "name",
    "display_name",
    "description",
    "entity_type",
    "active",
    "visibility_type",
    "field_order",
    "initial_sync_status",
    "caveats",
    "points_of_interest",
    "show_in_getting_started",
    "estimated_row_count",
    "is_upload",
    "is_writable",
    "view_count",
    "database_require_filter",
    "entity_id",
    "created_at",
    "updated_at",
}
FIELD_KEYS = {
    "id",
    "table_id",
    "name",
    "display_name",
    "description",
    "database_type",
    "base_type",
    "effective_type",
    "semantic_type",
    "coercion_strategy",
    "fk_target_field_id",
    "parent_id",
    "nfc_path",
    "json_unfolding",
    "active",
    "visibility_type",
    "preview_display",
    "position",
    "database_position",
    "custom_position",
    "has_field_values",
    "settings",
    "caveats",
    "points_of_interest",
    "database_is_auto_increment",
    "database_required",
    "database_indexed",
    "last_analyzed",
    "fingerprint",
    "fingerprint_version",
    "entity_id",
    "created_at",
    "updated_at",
}
DATASET_TABLES = {"categories", "venues", "users", "checkins", "Odd Table ü"}
# The schema each engine puts the dataset's tables in ("" where the engine has none).
DATASET_SCHEMA = {"sqlite": "", "duckdb": "main", "postgres": "public", "mysql": ""}
SCHEDULES = {
    "metadata_sync": {
        "schedule_minute": 50,
        "schedule_day": None,
        "schedule_frame": None,
        "schedule_hour": None,
        "schedule_type": "hourly",
    },
    "cache_field_values": {
        "schedule_minute": 50,
        "schedule_day": None,
        "schedule_frame": None,
        "schedule_hour": 0,
        "schedule_type": "daily",
    },
}


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def wait_for_sync(admin: Api, database_id: int) -> dict[str, Any]:
    """Poll until the first sync is complete; a sync that aborts or hangs fails the test."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    while True:
        body = admin.get(f"/api/database/{database_id}")
        if body["initial_sync_status"] == "complete":
            return body
        assert body["initial_sync_status"] == "incomplete", body
        assert time.monotonic() < deadline, f"database {database_id} still not synced"
        time.sleep(0.05)


def forget(admin: Api, database_id: int) -> None:
    """Delete a test database once its syncs are done, so no connection to the warehouse outlives it."""
    sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
    admin.raw("DELETE", f"/api/database/{database_id}")
    POOLS.close(database_id)


@contextmanager
def connected(admin: Api, engine: str, **extra_details: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """A fresh warehouse of `engine` with the test dataset, connected through the API and synced:
    `(database id, details sent)`. Deleted through the API before the warehouse is dropped."""
    with fresh_warehouse(engine) as details:
        details = {**details, **extra_details}
        body = admin.post("/api/database", {"engine": engine, "name": unique(engine), "details": details})
        try:
            wait_for_sync(admin, body["id"])
            yield body["id"], details
        finally:
            forget(admin, body["id"])


def tables_by_name(admin: Api, database_id: int, **params: Any) -> dict[str, dict[str, Any]]:
    metadata = admin.get(f"/api/database/{database_id}/metadata", params=params)
    return {t["name"]: t for t in metadata["tables"]}


def fields_by_name(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in table["fields"]}


def database_names(admin: Api) -> set[str]:
    return {d["name"] for d in admin.get("/api/database")["data"]}


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def test_connect_sync_read_and_delete_each_engine(admin, engine, user_ids):
    with fresh_warehouse(engine) as details:
        name = unique(f"{engine} warehouse")
        created = admin.post("/api/database", {"engine": engine, "name": name, "details": details})
        try:
            assert set(created) == DATABASE_KEYS
            assert isinstance(created["id"], int)
            assert {k: created[k] for k in ("name", "engine", "details", "is_sample", "creator_id")} == {
                "name": name,
                "engine": engine,
                "details": details,
                "is_sample": False,
                "creator_id": user_ids["crowberto"],
            }
            assert created["initial_sync_status"] == "incomplete"
            assert "basic-aggregations" in created["features"]
            assert all(isinstance(f, str) for f in created["features"])

            synced = wait_for_sync(admin, created["id"])
            assert set(synced) == GET_KEYS
            assert synced["schedules"] == SCHEDULES
            assert synced["dbms_version"]["version"]
            listed = {d["id"]: d for d in admin.get("/api/database")["data"]}
            assert set(listed[created["id"]]) == LIST_KEYS

            tables = tables_by_name(admin, created["id"])
            assert set(tables) == DATASET_TABLES
            assert all(t["initial_sync_status"] == "complete" for t in tables.values())
            checkins = fields_by_name(tables["checkins"])
            venues = fields_by_name(tables["venues"])
            assert checkins["venue_id"]["semantic_type"] == "type/FK"
            assert checkins["venue_id"]["fk_target_field_id"] == venues["id"]["id"]
            assert checkins["venue_id"]["target"] == {k: v for k, v in venues["id"].items() if k != "target"}
            assert venues["id"]["target"] is None

            with_tables = admin.get(f"/api/database/{created['id']}", params={"include": "tables"})
            assert {t["name"] for t in with_tables["tables"]} == DATASET_TABLES
            assert all(set(t) == TABLE_KEYS for t in with_tables["tables"])
            with_fields = admin.get(f"/api/database/{created['id']}", params={"include": "tables.fields"})
            with_fields = {t["name"]: fields_by_name(t) for t in with_fields["tables"]}
            assert with_fields["checkins"]["venue_id"] == checkins["venue_id"]

            schema = DATASET_SCHEMA[engine]
            assert admin.get(f"/api/database/{created['id']}/schemas") == [schema]
            # `/schema/` (an empty name) lists the tables of an engine without schemas.
            in_schema = admin.get(f"/api/database/{created['id']}/schema/{schema}")
            assert {t["name"] for t in in_schema} == DATASET_TABLES
            assert admin.get(f"/api/database/{created['id']}/schema/nope", expect=404) == "Not found."
        finally:
            sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
            assert admin.delete(f"/api/database/{created['id']}", expect=204) is None
    assert admin.get(f"/api/database/{created['id']}", expect=404) == "Not found."
    assert admin.get(f"/api/database/{created['id']}/metadata", expect=404) == "Not found."
    assert admin.delete(f"/api/database/{created['id']}", expect=404) == "Not found."
    assert name not in database_names(admin)


@pytest.mark.parametrize(
    ("body", "errors", "specific"),
    [
        (
            {"engine": "foo", "name": "x", "details": {}},
            {"engine": "value must be a valid database engine."},
            {"engine": ['Valid database engine, received: "foo"']},
        ),
        (
            {"engine": "sqlite", "details": {}},
            {"name": "value must be a non-blank string."},
            {"name": ["missing required key, received: nil"]},
        ),
        (
            {"engine": "sqlite", "name": "x", "details": "abc"},
            {"details": "Value must be a map."},
            {"details": ['invalid type, received: "abc"']},
        ),
    ],
    ids=["unknown-engine", "missing-name", "details-not-a-map"],
)
def test_create_rejects_invalid_bodies(admin, body, errors, specific):
    before = admin.get("/api/database")["total"]
    assert admin.post("/api/database", body, expect=400) == {"errors": errors, "specific-errors": specific}
    assert admin.get("/api/database")["total"] == before


BAD_CONNECTIONS = {
    "postgres-wrong-dbname": (
        "postgres",
        {"host": PG_HOST, "port": PG_PORT, "dbname": "qb_no_such_database", "user": PG_USER},
        {
            "message": "Looks like the Database name is incorrect.",
            "errors": {"dbname": "check your database name settings"},
        },
    ),
    "mysql-wrong-password": (
        "mysql",
        {"host": MYSQL_HOST, "port": MYSQL_PORT, "dbname": "mysql", "user": MYSQL_USER, "password": "wrong"},
        {
            "message": "Looks like the Username or Password is incorrect.",
            "errors": {"user": "check your username", "password": "check your password"},
        },
    ),
    "sqlite-missing-file": (
        "sqlite",
        {"db": "/nonexistent/qb/warehouse.sqlite"},
        {"message": "Database cannot be found.", "errors": {"db": "check your connection string"}},
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONNECTIONS))
def test_create_with_bad_connection_saves_nothing(admin, case):
    engine, details, error = BAD_CONNECTIONS[case]
    before = admin.get("/api/database")["total"]
    name = unique(case)
    body = {"engine": engine, "name": name, "details": details}
    assert admin.post("/api/database", body, expect=400) == error
    assert admin.get("/api/database")["total"] == before
    assert name not in database_names(admin)


@pytest.mark.parametrize("case", sorted(BAD_CONNECTIONS))
def test_validate_reports_bad_connections(admin, case):
    engine, details, error = BAD_CONNECTIONS[case]
    body = {"details": {"engine": engine, "details": details}}
    assert admin.post("/api/database/validate", body) == {**error, "valid": False}


def test_validate_answers_good_details_with_themselves(admin, api):
    details = {"host": PG_HOST, "port": PG_PORT, "dbname": "postgres", "user": PG_USER}
    body = {"details": {"engine": "postgres", "details": details}}
    assert admin.post("/api/database/validate", body) == {**details, "valid": True}
    assert api.as_("rasta").post("/api/database/validate", body, expect=403) == FORBIDDEN
    bad_engine = {"details": {"engine": "foo", "details": {}}}
    assert admin.post("/api/database/validate", bad_engine, expect=400) == {
        "errors": {"details": {"engine": "value must be a valid database engine."}},
        "specific-errors": {"details": {"engine": ['Valid database engine, received: "foo"']}},
    }


def test_only_admins_create_change_or_delete(api):
    body = {"engine": "sqlite", "name": unique("nope"), "details": {"db": "/nonexistent.sqlite"}}
    assert api.as_("rasta").post("/api/database", body, expect=403) == FORBIDDEN
    assert api.post("/api/database", body, expect=401) == "Unauthenticated"
    sample = next(d for d in api.as_("rasta").get("/api/database")["data"] if d["is_sample"])
    assert "details" not in sample
    rasta = api.as_("rasta")
    # Harmless bodies and targets, should a check be missing: the Sample Database is shared.
    assert rasta.put(f"/api/database/{sample['id']}", {"name": sample["name"]}, expect=403) == FORBIDDEN
    assert rasta.delete("/api/database/999999999", expect=403) == FORBIDDEN
    # Changes look the database up first (Metabase's `write-check`): a missing one is 404 for anyone.
    assert rasta.put("/api/database/999999999", {"name": "x"}, expect=404) == "Not found."
    assert rasta.post("/api/database/999999999/sync_schema", expect=404) == "Not found."
    for action in ("sync_schema", "rescan_values", "discard_values", "dismiss_spinner"):
        assert rasta.post(f"/api/database/{sample['id']}/{action}", expect=403) == FORBIDDEN
    assert api.get("/api/database", expect=401) == "Unauthenticated"


def stored_details(server, database_id: int) -> dict[str, Any]:
    """The details as the app DB holds them (decrypted), which the API never shows."""
    with server.client.app.state.appdb.transaction() as db:
        return dict(db.get(Database, database_id).details)


def test_secrets_are_redacted_and_kept_on_update(admin, api, server):
    with connected(admin, "postgres", password="secret") as (database_id, details):
        shown = admin.get(f"/api/database/{database_id}")
        assert shown["details"] == {**details, "password": REDACTED}
        assert shown["can-manage"] is True
        as_rasta = api.as_("rasta").get(f"/api/database/{database_id}")
        assert "details" not in as_rasta
        assert "can-manage" not in as_rasta
        assert set(as_rasta) == GET_KEYS - {"details", "can-manage"}

        renamed = unique("renamed")
        updated = admin.put(f"/api/database/{database_id}", {"name": renamed, "details": shown["details"]})
        assert set(updated) == DATABASE_KEYS | {"schedules"}
        assert updated["name"] == renamed
        assert updated["details"] == {**details, "password": REDACTED}
        assert stored_details(server, database_id) == details

        bad = {"details": {**shown["details"], "dbname": "qb_no_such_database"}, "name": unique("bad")}
        assert admin.put(f"/api/database/{database_id}", bad, expect=400) == {
            "message": "Looks like the Database name is incorrect.",
            "errors": {"dbname": "check your database name settings"},
        }
        assert admin.get(f"/api/database/{database_id}")["name"] == renamed
        assert stored_details(server, database_id) == details

        # Details not sent are kept: only the changed key is merged in.
        admin.put(f"/api/database/{database_id}", {"details": {"password": "other"}})
        assert stored_details(server, database_id) == {**details, "password": "other"}


def test_sample_database_cannot_be_edited(admin):
    sample = next(d for d in admin.get("/api/database")["data"] if d["is_sample"])
    body = {"name": sample["name"]}
    assert (
        admin.put(f"/api/database/{sample['id']}", body, expect=400)
        == "The sample database cannot be edited."
    )


def test_cache_ttl_needs_a_premium_token(admin):
    body = {
        "engine": "sqlite",
        "name": unique("ttl"),
        "details": {"db": "/nonexistent.sqlite"},
        "cache_ttl": 10,
    }
    assert admin.post("/api/database", body, expect=402) == (
        "The cache TTL database setting is only enabled if you have a premium token with the cache granular "
        "controls feature."
    )


def sample_id(api: Api) -> int:
    admin = api.as_("crowberto")
    database_id = next(d["id"] for d in admin.get("/api/database")["data"] if d["is_sample"])
    wait_for_sync(admin, database_id)
    return database_id


def test_fields_and_idfields(api):
    database_id = sample_id(api)
    fields = api.as_("rasta").get(f"/api/database/{database_id}/fields")
    assert len(fields) == 71
    keys = {"id", "name", "display_name", "base_type", "semantic_type", "table_name", "table_id", "schema"}
    assert all(set(f) == keys for f in fields)
    user_id = next(f for f in fields if (f["table_name"], f["name"]) == ("ORDERS", "USER_ID"))
    assert user_id | {"id": None, "table_id": None} == {
        "id": None,
        "name": "USER_ID",
        "display_name": "User ID",
        "base_type": "type/Integer",
        "semantic_type": "type/FK",
        "table_name": "ORDERS",
        "table_id": None,
        "schema": None,
    }

    id_fields = api.as_("rasta").get(f"/api/database/{database_id}/idfields")
    assert [(f["table"]["name"], f["name"], f["semantic_type"]) for f in id_fields] == [
        (name, "ID", "type/PK")
        for name in (
            "ACCOUNTS",
            "ANALYTIC_EVENTS",
            "FEEDBACK",
            "INVOICES",
            "ORDERS",
            "PEOPLE",
            "PRODUCTS",
            "REVIEWS",
        )
    ]
    assert all(set(f) == FIELD_KEYS | {"table"} for f in id_fields)
    assert all(set(f["table"]) == TABLE_KEYS for f in id_fields)


def test_autocomplete_suggestions(api):
    database_id = sample_id(api)
    rasta = api.as_("rasta")
    path = f"/api/database/{database_id}/autocomplete_suggestions"
    assert rasta.get(path, params={"prefix": "PRO"}) == [
        ["PRODUCTS", "Table"],
        ["PRODUCT_ID", "ORDERS :type/Integer :type/FK"],
        ["PRODUCT_ID", "REVIEWS :type/Integer :type/FK"],
    ]
    assert rasta.get(path, params={"substring": "_id"}) == [
        ["ACCOUNT_ID", "ANALYTIC_EVENTS :type/BigInteger :type/FK"],
        ["ACCOUNT_ID", "FEEDBACK :type/BigInteger :type/FK"],
        ["ACCOUNT_ID", "INVOICES :type/BigInteger :type/FK"],
        ["PRODUCT_ID", "ORDERS :type/Integer :type/FK"],
        ["PRODUCT_ID", "REVIEWS :type/Integer :type/FK"],
        ["USER_ID", "ORDERS :type/Integer :type/FK"],
    ]
    # A field without a semantic type has no third part; `substring` wins over `prefix`.
    assert rasta.get(path, params={"substring": "subtot", "prefix": "zzz"}) == [
        ["SUBTOTAL", "ORDERS :type/Float"]
    ]
    response = rasta.raw("GET", path, params={"prefix": "orders"})
    assert response.json() == [["ORDERS", "Table"]]
    # The endpoint's own caching header comes first (the app's default no-cache header should not be
    # added after it; reported).
    assert response.headers.get_list("cache-control")[0] == "public, max-age=60"
    assert response.headers["vary"] == "Cookie"
    assert rasta.get(path, expect=400) == "Must include prefix or search"
    assert rasta.get("/api/database/999999999/autocomplete_suggestions?prefix=a", expect=404) == "Not found."


def test_sync_triggers_and_a_vanished_database(admin, api, server):
    with connected(admin, "sqlite") as (database_id, details):
        path = f"/api/database/{database_id}"
        assert admin.post(f"{path}/sync_schema") == {"status": "ok"}
        sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
        assert admin.post(f"{path}/rescan_values") == {"status": "ok"}
        sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
        appdb = server.client.app.state.appdb

        def cached_values() -> int:
            with appdb.transaction() as db:
                field_ids = select(Field.id).join(Table).where(Table.db_id == database_id)
                return len(db.scalars(select(FieldValues).where(FieldValues.field_id.in_(field_ids))).all())

        assert cached_values() > 0
        assert admin.post(f"{path}/discard_values") == {"status": "ok"}
        assert cached_values() == 0

        with appdb.transaction() as db:
            db.get(Database, database_id).initial_sync_status = "incomplete"
        assert admin.post(f"{path}/dismiss_spinner") == {"status": "ok"}
        assert admin.get(path)["initial_sync_status"] == "complete"

        POOLS.close(database_id)
        os.remove(details["db"])
        assert admin.post(f"{path}/sync_schema", expect=422) == "Database cannot be found."
    assert admin.post(f"/api/database/{database_id}/sync_schema", expect=404) == "Not found."
