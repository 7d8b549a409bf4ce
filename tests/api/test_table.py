"""`/api/table`: the list with each table's database, one table with its primary key, query metadata
with FK targets, the FKs pointing at a table, and admin edits (names, visibility, field order).

Reads use the shared Sample Database; edits use a warehouse connected for this module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_database import (
    DATABASE_KEYS,
    FIELD_KEYS,
    FORBIDDEN,
    TABLE_KEYS,
    connected,
    fields_by_name,
    tables_by_name,
    wait_for_sync,
)
from tests.support.http import Api

QUERY_FIELD_KEYS = FIELD_KEYS | {"target", "dimensions", "name_field"}


@pytest.fixture(scope="module")
def warehouse(server) -> Iterator[int]:
    """The id of an SQLite warehouse with the test dataset, shared by this module's edits (each test
    edits its own table)."""
    with connected(server.api().as_("crowberto"), "sqlite") as (database_id, _):
        yield database_id


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def sample(api: Api) -> dict[str, dict[str, Any]]:
    """The synced Sample Database's tables (with fields) by name."""
    admin = api.as_("crowberto")
    database_id = next(d["id"] for d in admin.get("/api/database")["data"] if d["is_sample"])
    wait_for_sync(admin, database_id)
    return tables_by_name(admin, database_id)


def test_list_has_every_table_with_its_database(api):
    tables = sample(api)
    listed = {t["id"]: t for t in api.as_("rasta").get("/api/table")}
    orders = listed[tables["ORDERS"]["id"]]
    assert set(orders) == TABLE_KEYS | {"db"}
    assert set(orders["db"]) == DATABASE_KEYS - {"details", "router_database_id"}
    assert orders["db"]["id"] == orders["db_id"] == tables["ORDERS"]["db_id"]
    assert {listed[t["id"]]["name"] for t in tables.values()} == set(tables)
    as_admin = {t["id"]: t for t in api.as_("crowberto").get("/api/table")}
    assert set(as_admin[orders["id"]]["db"]["details"]) == {"db"}
    assert api.get("/api/table", expect=401) == "Unauthenticated"


def test_get_table_adds_database_and_primary_key(api):
    tables = sample(api)
    orders = api.as_("rasta").get(f"/api/table/{tables['ORDERS']['id']}")
    assert set(orders) == TABLE_KEYS | {"db", "pk_field"}
    assert orders["pk_field"] == fields_by_name(tables["ORDERS"])["ID"]["id"]
    assert {k: orders[k] for k in ("name", "display_name", "schema", "entity_type", "field_order")} == {
        "name": "ORDERS",
        "display_name": "Orders",
        "schema": "",
        "entity_type": "entity/TransactionTable",
        "field_order": "database",
    }
    assert orders["db"]["id"] == orders["db_id"]
    assert api.as_("rasta").get("/api/table/999999999", expect=404) == "Not found."


def test_query_metadata_has_fields_with_targets(api):
    tables = sample(api)
    products_id = fields_by_name(tables["PRODUCTS"])["ID"]
    metadata = api.as_("crowberto").get(f"/api/table/{tables['ORDERS']['id']}/query_metadata")
    assert set(metadata) == TABLE_KEYS | {"db", "fields", "segments", "metrics"}
    assert (metadata["segments"], metadata["metrics"]) == ([], [])
    # The database comes without its connection details, even for an admin.
    assert set(metadata["db"]) == DATABASE_KEYS - {"details", "router_database_id"}
    assert [f["name"] for f in metadata["fields"]] == [
        "ID",
        "USER_ID",
        "PRODUCT_ID",
        "SUBTOTAL",
        "TAX",
        "TOTAL",
        "DISCOUNT",
        "CREATED_AT",
        "QUANTITY",
    ]
    fields = {f["name"]: f for f in metadata["fields"]}
    assert all(set(f) == QUERY_FIELD_KEYS for f in metadata["fields"])
    assert fields["PRODUCT_ID"]["target"] == {k: v for k, v in products_id.items() if k != "target"}
    assert fields["PRODUCT_ID"]["dimensions"] == []
    assert fields["TOTAL"]["target"] is None
    assert api.as_("rasta").get("/api/table/999999999/query_metadata", expect=404) == "Not found."


def test_fks_lists_the_keys_that_point_at_a_table(api):
    tables = sample(api)
    products_id = fields_by_name(tables["PRODUCTS"])["ID"]["id"]
    fks = api.as_("rasta").get(f"/api/table/{tables['PRODUCTS']['id']}/fks")
    assert sorted((fk["origin"]["table"]["name"], fk["origin"]["name"]) for fk in fks) == [
        ("ORDERS", "PRODUCT_ID"),
        ("REVIEWS", "PRODUCT_ID"),
    ]
    for fk in fks:
        assert set(fk) == {"relationship", "origin_id", "origin", "destination_id", "destination"}
        assert (fk["relationship"], fk["destination_id"], fk["origin_id"]) == (
            "Mt1",
            products_id,
            fk["origin"]["id"],
        )
        assert set(fk["origin"]) == FIELD_KEYS | {"table"}
        assert fk["origin"]["table"]["db"]["id"] == tables["PRODUCTS"]["db_id"]
        assert set(fk["destination"]) == FIELD_KEYS | {"table"}
        assert (fk["destination"]["name"], fk["destination"]["table"]["name"]) == ("ID", "PRODUCTS")
    assert api.as_("rasta").get(f"/api/table/{tables['ORDERS']['id']}/fks") == []
    assert api.as_("rasta").get("/api/table/999999999/fks", expect=404) == "Not found."


def test_update_names_and_visibility(admin, api, warehouse):
    venues = tables_by_name(admin, warehouse)["venues"]
    path = f"/api/table/{venues['id']}"
    body = {"display_name": "Places", "description": "Where people check in."}
    updated = admin.put(path, body)
    assert set(updated) == TABLE_KEYS
    assert {k: updated[k] for k in body} == body
    assert {k: admin.get(path)[k] for k in body} == body
    # A null description clears it; a null display name is ignored.
    cleared = admin.put(path, {"description": None, "display_name": None})
    assert (cleared["description"], cleared["display_name"]) == (None, "Places")

    assert admin.put(path, {"visibility_type": "hidden"})["visibility_type"] == "hidden"
    assert "venues" not in tables_by_name(admin, warehouse)
    assert tables_by_name(admin, warehouse, include_hidden="true")["venues"]["visibility_type"] == "hidden"
    assert admin.put(path, {"visibility_type": None})["visibility_type"] is None
    assert "venues" in tables_by_name(admin, warehouse)

    assert api.as_("rasta").put(path, {"display_name": "Mine"}, expect=403) == FORBIDDEN
    assert admin.get(path)["display_name"] == "Places"
    assert admin.put("/api/table/999999999", {"display_name": "x"}, expect=404) == "Not found."
    assert api.as_("rasta").put("/api/table/999999999", {"display_name": "x"}, expect=404) == "Not found."


def test_update_rejects_invalid_values(admin, warehouse):
    path = f"/api/table/{tables_by_name(admin, warehouse)['categories']['id']}"
    assert admin.put(path, {"field_order": "bogus"}, expect=400) == {
        "errors": {"field_order": "nullable enum of alphabetical, custom, database, smart"},
        "specific-errors": {
            "field_order": [
                'should be either "alphabetical", "custom", "database" or "smart", received: "bogus"'
            ]
        },
    }
    assert admin.put(path, {"visibility_type": "gone"}, expect=400) == {
        "errors": {"visibility_type": "nullable enum of technical, hidden, cruft"},
        "specific-errors": {
            "visibility_type": ['should be either "technical", "hidden" or "cruft", received: "gone"']
        },
    }
    assert admin.put(path, {"display_name": ""}, expect=400) == {
        "errors": {"display_name": "nullable value must be a non-blank string."},
        "specific-errors": {
            "display_name": ['should be at least 1 character, received: ""', 'non-blank string, received: ""']
        },
    }
    assert admin.get(path)["display_name"] == "Categories"


def field_names(admin: Api, table_id: int) -> list[str]:
    return [f["name"] for f in admin.get(f"/api/table/{table_id}/query_metadata")["fields"]]


def test_field_order(admin, api, warehouse):
    users = tables_by_name(admin, warehouse)["users"]
    path = f"/api/table/{users['id']}"
    in_database = ["id", "name", "email", "last_login", "birth_date", "is_active"]
    assert field_names(admin, users["id"]) == in_database

    alphabetical = admin.put(path, {"field_order": "alphabetical"})
    assert set(alphabetical) == TABLE_KEYS | {"fields"}
    assert [f["name"] for f in alphabetical["fields"]] == sorted(in_database)
    assert field_names(admin, users["id"]) == sorted(in_database)

    ids = {f["name"]: f["id"] for f in users["fields"]}
    custom = list(reversed(in_database))
    order_path = f"{path}/fields/order"
    assert admin.put(order_path, [ids[name] for name in custom]) == {"success": True}
    assert field_names(admin, users["id"]) == custom
    assert admin.get(path)["field_order"] == "custom"
    # The wrapped form of the body is accepted too.
    assert admin.put(order_path, {"field_order": [ids[name] for name in in_database]}) == {"success": True}
    assert field_names(admin, users["id"]) == in_database
    assert api.as_("rasta").put(order_path, [ids[name] for name in custom], expect=403) == FORBIDDEN

    assert [f["name"] for f in admin.put(path, {"field_order": "database"})["fields"]] == in_database
    assert field_names(admin, users["id"]) == in_database


def test_field_values_triggers(admin, api, warehouse):
    checkins = tables_by_name(admin, warehouse)["checkins"]
    for action in ("rescan_values", "discard_values"):
        assert admin.post(f"/api/table/{checkins['id']}/{action}") == {"status": "success"}
        assert api.as_("rasta").post(f"/api/table/{checkins['id']}/{action}", expect=403) == FORBIDDEN
        assert admin.post(f"/api/table/999999999/{action}", expect=404) == "Not found."
