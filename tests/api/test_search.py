"""`/api/search`: matching, ranking, the item and response shapes, filters, privacy and bad input.

Tests that search cards, dashboards or segments create them through `/api/card`, `/api/dashboard` and
`/api/segment`."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.test_database import tables_by_name, wait_for_sync
from tests.support.http import Api

ITEM_KEYS = {
    "id",
    "model",
    "name",
    "description",
    "archived",
    "collection",
    "collection_position",
    "dashboard",
    "dashboard_count",
    "database_id",
    "database_name",
    "display",
    "table_id",
    "table_name",
    "table_schema",
    "table_description",
    "model_id",
    "model_name",
    "model_index_id",
    "pk_ref",
    "bookmark",
    "moderated_status",
    "initial_sync_status",
    "can_write",
    "created_at",
    "creator_id",
    "creator_common_name",
    "updated_at",
    "last_edited_at",
    "last_editor_id",
    "last_editor_common_name",
    "scores",
    "context",
}


def token() -> str:
    """A word no other test's content contains."""
    return "tok" + uuid.uuid4().hex[:12]


def search(api: Api, q: str, **params: Any) -> dict[str, Any]:
    return api.get("/api/search", params={"q": q, **params})


def sample_database_id(api: Api) -> int:
    return next(d["id"] for d in api.get("/api/database")["data"] if d["is_sample"])


def card(api: Api, name: str, collection_id: int | None, card_type: str = "question") -> dict[str, Any]:
    return api.post(
        "/api/card",
        {
            "name": name,
            "type": card_type,
            "display": "scalar",
            "visualization_settings": {},
            "dataset_query": {
                "database": sample_database_id(api),
                "type": "native",
                "native": {"query": "SELECT 1"},
            },
            "collection_id": collection_id,
        },
    )


def test_anonymous_and_bad_input(api: Api) -> None:
    assert api.get("/api/search?q=x", expect=401) == "Unauthenticated"
    rasta = api.as_("rasta")
    bad = rasta.get("/api/search?q=x&models=widget", expect=400)
    assert set(bad) == {"errors", "specific-errors"} and "models" in bad["errors"]
    assert "table_db_id" in rasta.get("/api/search?table_db_id=0", expect=400)["errors"]
    assert (
        "filter_items_in_personal_collection"
        in (rasta.get("/api/search?filter_items_in_personal_collection=mine", expect=400)["errors"])
    )


def test_collections(api: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    word = token()
    top = rasta.post("/api/collection", {"name": f"Alpha {word.upper()} things", "description": "d"})
    body = search(rasta, word)
    assert {k: v for k, v in body.items() if k != "data"} == {
        "total": 1,
        "limit": None,
        "offset": None,
        "models": None,
        "table_db_id": None,
        "engine": "search.engine/in-place",
    }
    (item,) = body["data"]
    assert set(item) == ITEM_KEYS
    assert (item["id"], item["model"], item["name"], item["description"]) == (
        top["id"],
        "collection",
        top["name"],
        "d",
    )
    assert item["collection"] == {
        "id": top["id"],
        "name": top["name"],
        "authority_level": None,
        "type": None,
        "effective_ancestors": [],
    }
    assert (item["archived"], item["context"], item["can_write"]) == (False, None, True)
    assert isinstance(item["scores"], list) and item["scores"]
    # Case-insensitive, and every word must appear (in any order).
    assert search(rasta, f"things {word}")["total"] == 1
    assert search(rasta, f"{word} missing")["total"] == 0
    # LIKE wildcards in the text are matched literally.
    assert search(rasta, word[:5] + "%" + word[6:])["total"] == 0
    assert search(rasta, word[:5] + "_" + word[6:])["total"] == 0


def test_privacy_and_archived(api: Api) -> None:
    rasta, lucky, admin = api.as_("rasta"), api.as_("lucky"), api.as_("crowberto")
    word = token()
    personal = rasta.get("/api/user/current")["personal_collection_id"]
    private = rasta.post("/api/collection", {"name": f"{word} private", "parent_id": personal})
    public = rasta.post("/api/collection", {"name": f"{word} public"})
    assert {i["id"] for i in search(rasta, word)["data"]} == {private["id"], public["id"]}
    assert {i["id"] for i in search(lucky, word)["data"]} == {public["id"]}
    assert {i["id"] for i in search(admin, word)["data"]} == {private["id"], public["id"]}
    only = search(rasta, word, filter_items_in_personal_collection="only")
    assert {i["id"] for i in only["data"]} == {private["id"]}
    mine = search(rasta, word, filter_items_in_personal_collection="only-mine")
    assert {i["id"] for i in mine["data"]} == {private["id"]}
    assert search(admin, word, filter_items_in_personal_collection="only-mine")["total"] == 0
    excluded = search(rasta, word, filter_items_in_personal_collection="exclude")
    assert {i["id"] for i in excluded["data"]} == {public["id"]}
    others = search(admin, word, filter_items_in_personal_collection="exclude-others")
    assert {i["id"] for i in others["data"]} == {public["id"]}

    rasta.put(f"/api/collection/{public['id']}", {"archived": True})
    assert {i["id"] for i in search(rasta, word)["data"]} == {private["id"]}
    archived = search(rasta, word, archived="true")
    assert [(i["id"], i["archived"]) for i in archived["data"]] == [(public["id"], True)]


def test_tables_and_databases(api: Api) -> None:
    admin = api.as_("crowberto")
    database_id = sample_database_id(admin)
    wait_for_sync(admin, database_id)
    orders = tables_by_name(admin, database_id)["ORDERS"]
    body = search(admin, "orders", models="table", table_db_id=database_id)
    assert body["models"] == ["table"] and body["table_db_id"] == database_id
    item = next(i for i in body["data"] if i["id"] == orders["id"])
    assert (item["model"], item["name"], item["table_name"], item["database_id"]) == (
        "table",
        "ORDERS",
        "ORDERS",
        database_id,
    )
    assert item["database_name"] == "Sample Database"
    assert all(i["model"] == "table" for i in body["data"])
    assert search(admin, "orders", models="table", table_db_id=2**31 - 2)["total"] == 0

    databases = search(admin, "sample database", models="database")
    assert [(i["id"], i["model"], i["name"]) for i in databases["data"] if i["id"] == database_id] == [
        (database_id, "database", "Sample Database")
    ]


def test_cards_dashboards_ranking_and_filters(api: Api, user_ids: dict[str, int]) -> None:
    rasta, lucky = api.as_("rasta"), api.as_("lucky")
    word = token()
    home = rasta.post("/api/collection", {"name": f"{word} home"})
    question = card(rasta, f"{word} question", home["id"])
    model = card(rasta, f"{word} model", home["id"], "model")
    metric = card(rasta, f"{word} metric", None, "metric")
    dashboard = rasta.post("/api/dashboard", {"name": f"{word} dashboard", "collection_id": home["id"]})
    exact = lucky.post("/api/collection", {"name": word})

    body = search(rasta, word)
    assert [(i["model"], i["id"]) for i in body["data"]] == [
        ("collection", exact["id"]),
        ("dashboard", dashboard["id"]),
        ("metric", metric["id"]),
        ("card", question["id"]),
        ("dataset", model["id"]),
        ("collection", home["id"]),
    ]
    by_id = {(i["model"], i["id"]): i for i in body["data"]}
    item = by_id[("card", question["id"])]
    assert set(item) == ITEM_KEYS
    assert (item["creator_id"], item["creator_common_name"]) == (user_ids["rasta"], "Rasta Toucan")
    assert (item["last_editor_id"], item["last_editor_common_name"]) == (user_ids["rasta"], "Rasta Toucan")
    assert (item["display"], item["dashboard_count"], item["database_name"]) == (
        "scalar",
        0,
        "Sample Database",
    )
    assert item["collection"]["id"] == home["id"] and item["collection"]["name"] == home["name"]
    assert by_id[("metric", metric["id"])]["collection"]["id"] is None

    chosen = api.as_("rasta").get(f"/api/search?q={word}&models=card&models=dashboard")
    assert [i["model"] for i in chosen["data"]] == ["dashboard", "card"]
    assert chosen["models"] == ["card", "dashboard"]

    paged = search(rasta, word, limit=2, offset=1)
    assert (paged["total"], paged["limit"], paged["offset"]) == (6, 2, 1)
    assert [i["id"] for i in paged["data"]] == [dashboard["id"], metric["id"]]

    mine = search(rasta, word, created_by=user_ids["rasta"])
    assert {i["model"] for i in mine["data"]} == {"dashboard", "metric", "card", "dataset"}
    assert search(rasta, word, created_by=user_ids["lucky"])["total"] == 0
    assert search(rasta, word, last_edited_by=user_ids["rasta"])["total"] == 4
    assert search(rasta, word, verified="true")["total"] == 0

    available = search(rasta, word, models="card", calculate_available_models="true")
    assert available["available_models"] == ["dashboard", "metric", "card", "dataset", "collection"]
    assert [i["model"] for i in available["data"]] == ["card"]

    inside = search(rasta, word, collection=home["id"])
    assert {i["id"] for i in inside["data"]} == {dashboard["id"], question["id"], model["id"]}

    rasta.put(f"/api/card/{question['id']}", {"archived": True})
    assert ("card", question["id"]) not in {(i["model"], i["id"]) for i in search(rasta, word)["data"]}
    archived = search(rasta, word, archived="true", models="card")
    assert [i["id"] for i in archived["data"]] == [question["id"]]


def test_segments(api: Api) -> None:
    admin = api.as_("crowberto")
    database_id = sample_database_id(admin)
    wait_for_sync(admin, database_id)
    orders = tables_by_name(admin, database_id)["ORDERS"]
    word = token()
    segment = admin.post(
        "/api/segment",
        {
            "name": f"{word} big orders",
            "table_id": orders["id"],
            "definition": {
                "source-table": orders["id"],
                "filter": [">", ["field", orders["fields"][0]["id"], None], 1],
            },
        },
    )
    (item,) = search(admin, word)["data"]
    assert (item["model"], item["id"], item["table_id"], item["database_id"]) == (
        "segment",
        segment["id"],
        orders["id"],
        database_id,
    )
    assert search(admin, word, filter_items_in_personal_collection="only")["total"] == 0
