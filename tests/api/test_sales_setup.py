"""Metabase's common set-up, as an admin would script it over HTTP: a "Sales" group with query-builder-only
access to one database and curate access to one collection, All Users with access to nothing. A Sales user
then builds and saves questions and dashboards there, and is refused (403) everywhere else: the other
database, native SQL, other collections, the root collection. And a table that appears in a database later
is not opened by sync to a group that chose its tables one by one."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import column, select, table
from sqlalchemy.engine import Engine

from querybase import sync
from tests.api.test_database import SYNC_TIMEOUT, connected
from tests.api.test_permissions_graph import ALL_USERS, restore_all_users
from tests.api.test_permissions_graph import app_db as app_db
from tests.query_processor.test_dataset_api import sample as sample
from tests.support.http import Api
from tests.support.users import PASSWORD

FORBIDDEN = "You don't have permissions to do that."
CANNOT_RUN = "You do not have permissions to run this query."


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def warehouse(admin: Api) -> Iterator[tuple[int, dict[str, Any]]]:
    """The Sales database: a SQLite warehouse with the test dataset, synced (its id and details)."""
    # One sync at a time: two first syncs at once can deadlock on MySQL (the Sample Database's may still run).
    sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
    with connected(admin, "sqlite") as connection:
        yield connection


@pytest.fixture
def sales_db(warehouse: tuple[int, dict[str, Any]]) -> int:
    return warehouse[0]


@pytest.fixture
def restored(admin: Api) -> Iterator[list[int]]:
    """All Users get their data and root-collection access back, and the groups made go, whatever happened."""
    groups: list[int] = []
    yield groups
    restore_all_users(admin)
    revision = admin.get("/api/collection/graph")["revision"]
    admin.put("/api/collection/graph", {"revision": revision, "groups": {ALL_USERS: {"root": "write"}}})
    for group_id in groups:
        admin.delete(f"/api/permissions/group/{group_id}", expect=204)


def put_graph(admin: Api, path: str, groups: dict[str, Any]) -> dict[str, Any]:
    return admin.put(path, {"revision": admin.get(path)["revision"], "groups": groups})


def mbql(database_id: int, table_id: int, **inner: Any) -> dict[str, Any]:
    return {"database": database_id, "type": "query", "query": {"source-table": table_id, **inner}}


def test_a_sales_group_builds_questions_in_its_database_and_collection_only(
    api: Api, admin: Api, sample: dict[str, Any], sales_db: int, restored: list[int]
) -> None:
    # --- The admin's script --------------------------------------------------------------------------------
    sales = admin.post("/api/permissions/group", {"name": unique("Sales")})["id"]
    restored.append(sales)
    databases = [d["id"] for d in admin.get("/api/database")["data"]]
    nothing = {"view-data": "unrestricted", "create-queries": "no"}
    put_graph(
        admin,
        "/api/permissions/graph",
        {
            ALL_USERS: {str(d): nothing for d in databases},
            str(sales): {
                **{str(d): nothing for d in databases},
                str(sales_db): {"view-data": "unrestricted", "create-queries": "query-builder"},
            },
        },
    )
    sales_collection = admin.post("/api/collection", {"name": unique("Sales"), "parent_id": None})["id"]
    finance = admin.post("/api/collection", {"name": unique("Finance"), "parent_id": None})["id"]
    put_graph(
        admin,
        "/api/collection/graph",
        {
            ALL_USERS: {"root": "none", str(sales_collection): "none", str(finance): "none"},
            str(sales): {str(sales_collection): "write"},
        },
    )
    email = f"sales-{uuid.uuid4().hex[:10]}@example.com"
    user = {
        "first_name": "Sally",
        "last_name": "Sales",
        "email": email,
        "password": PASSWORD,
        "user_group_memberships": [{"id": int(ALL_USERS)}, {"id": sales}],
    }
    admin.post("/api/user", user)
    finance_card = admin.post(
        "/api/card",
        {
            "name": unique("Revenue"),
            "dataset_query": mbql(sample["db"], sample["ORDERS"], aggregation=[["count"]]),
            "display": "scalar",
            "visualization_settings": {},
            "collection_id": finance,
        },
    )
    root_card = admin.post(
        "/api/card",
        {
            "name": unique("Everyone's"),
            "dataset_query": mbql(sample["db"], sample["ORDERS"]),
            "display": "table",
            "visualization_settings": {},
        },
    )

    # --- The Sales user ------------------------------------------------------------------------------------
    session = api.post("/api/session", {"username": email, "password": PASSWORD})["id"]
    sally = api.with_headers({"X-Metabase-Session": session})

    listed = {d["id"]: d for d in sally.get("/api/database")["data"]}
    assert set(listed) == {sales_db}
    assert listed[sales_db]["native_permissions"] == "none"
    tables = {t["name"]: t for t in sally.get(f"/api/database/{sales_db}/metadata")["tables"]}
    venues = tables["venues"]
    price = next(f["id"] for f in venues["fields"] if f["name"] == "price")
    assert sally.get(f"/api/table/{venues['id']}/query_metadata")["id"] == venues["id"]
    assert {t["db_id"] for t in sally.get("/api/table")} == {sales_db}

    # Building: the query builder runs, native SQL does not.
    by_price = mbql(sales_db, venues["id"], aggregation=[["count"]], breakout=[["field", price, None]])
    ran = sally.post("/api/dataset", by_price, expect=202)
    assert ran["status"] == "completed" and ran["row_count"] > 0
    native = {"database": sales_db, "type": "native", "native": {"query": "SELECT 1"}}
    refused = sally.post("/api/dataset", native, expect=202)
    assert (refused["status"], refused["error_type"]) == ("failed", "missing-required-permissions")
    assert sally.post("/api/dataset/native", by_price, expect=403) == CANNOT_RUN

    # Saving in the Sales collection, and working with what was saved.
    question = {
        "name": unique("Venues by price"),
        "dataset_query": by_price,
        "display": "bar",
        "visualization_settings": {},
        "collection_id": sales_collection,
    }
    card = sally.post("/api/card", question)
    assert (card["collection_id"], card["can_write"], card["can_run_adhoc_query"]) == (
        sales_collection,
        True,
        True,
    )
    assert sally.post(f"/api/card/{card['id']}/query", expect=202)["data"]["rows"] == ran["data"]["rows"]
    assert sally.put(f"/api/card/{card['id']}", {"description": "Weekly"})["description"] == "Weekly"
    dashboard = sally.post("/api/dashboard", {"name": unique("Sales"), "collection_id": sales_collection})
    sally.post(f"/api/dashboard/{dashboard['id']}/cards", {"cardId": card["id"]})
    items = sally.get(f"/api/collection/{sales_collection}/items")["data"]
    assert {(i["model"], i["id"]) for i in items} >= {("card", card["id"]), ("dashboard", dashboard["id"])}
    found = sally.get("/api/search", params={"q": question["name"]})["data"]
    assert [i["id"] for i in found if i["model"] == "card"] == [card["id"]]

    # Refused everywhere else.
    sample_query = mbql(sample["db"], sample["ORDERS"], aggregation=[["count"]])
    forbidden = [
        sally.post("/api/card", {**question, "dataset_query": native}, expect=403),
        sally.post("/api/card", {**question, "collection_id": finance}, expect=403),
        sally.post("/api/card", {**question, "collection_id": None}, expect=403),
        sally.post("/api/card", {**question, "dataset_query": sample_query}, expect=403),
        sally.put(f"/api/card/{card['id']}", {"dataset_query": native}, expect=403),
        sally.post("/api/dataset", sample_query, expect=403),
        sally.get(f"/api/database/{sample['db']}", expect=403),
        sally.get(f"/api/database/{sample['db']}/metadata", expect=403),
        sally.get(f"/api/table/{sample['ORDERS']}", expect=403),
        sally.get(f"/api/field/{sample['ORDERS.TOTAL']}", expect=403),
        sally.get(f"/api/card/{finance_card['id']}", expect=403),
        sally.post(f"/api/card/{finance_card['id']}/query", expect=403),
        sally.get(f"/api/card/{root_card['id']}", expect=403),
        sally.get(f"/api/collection/{finance}", expect=403),
        sally.post("/api/collection", {"name": unique("Mine"), "parent_id": None}, expect=403),
        sally.post("/api/dashboard", {"name": unique("Elsewhere"), "collection_id": finance}, expect=403),
        sally.put(f"/api/database/{sales_db}", {"description": "Sales"}, expect=403),
        sally.put(f"/api/table/{venues['id']}", {"description": "Sales"}, expect=403),
        sally.get("/api/permissions/graph", expect=403),
    ]
    assert forbidden == [FORBIDDEN] * len(forbidden)
    assert finance not in {c["id"] for c in sally.get("/api/collection")}
    assert "root" not in {c["id"] for c in sally.get("/api/collection")}
    assert finance_card["id"] not in {c["id"] for c in sally.get("/api/card")}
    root_items = sally.get("/api/collection/root/items")["data"]
    assert ("card", root_card["id"]) not in {(i["model"], i["id"]) for i in root_items}
    assert {(i["model"], i["id"]) for i in admin.get("/api/collection/root/items")["data"]} >= {
        ("card", root_card["id"])
    }


def test_a_table_found_later_is_closed_to_a_group_that_chose_table_by_table(
    admin: Api, warehouse: tuple[int, dict[str, Any]], restored: list[int], app_db: Engine
) -> None:
    """Sync gives a new table the permissions Metabase does: a group that set query access table by table
    gets a row saying "no" for it (its tables disagree), while database-wide values cover it for the
    rest."""
    database_id, details = warehouse
    sales = admin.post("/api/permissions/group", {"name": unique("Sales")})["id"]
    restored.append(sales)
    venues = next(
        t["id"] for t in admin.get(f"/api/database/{database_id}/metadata")["tables"] if t["name"] == "venues"
    )
    for create_queries in ("no", {"": {str(venues): "query-builder"}}):
        put_graph(
            admin,
            "/api/permissions/graph",
            {str(sales): {str(database_id): {"create-queries": create_queries}}},
        )
    with sqlite3.connect(details["db"]) as conn:
        conn.execute("CREATE TABLE leads (id INTEGER PRIMARY KEY, name TEXT)")
    admin.post(f"/api/database/{database_id}/sync_schema")
    sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
    tables = {t["name"]: t["id"] for t in admin.get(f"/api/database/{database_id}/metadata")["tables"]}
    graph = admin.get(f"/api/permissions/graph/db/{database_id}")["groups"]
    # The graph leaves out what is "no".
    assert graph[str(sales)][str(database_id)]["create-queries"] == {"": {str(venues): "query-builder"}}
    assert graph[ALL_USERS][str(database_id)]["create-queries"] == "query-builder-and-native"
    rows = table(
        "data_permissions", column("group_id"), column("perm_type"), column("perm_value"), column("table_id")
    )
    with app_db.connect() as conn:
        found = conn.execute(
            select(rows.c.group_id, rows.c.perm_type, rows.c.perm_value).where(
                rows.c.table_id == tables["leads"]
            )
        ).all()
    assert [tuple(r) for r in found] == [(sales, "perms/create-queries", "no")]
