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
    "effective_location",
    "context",
}
SEARCH_MODELS_ENUM = (
    "enum of dashboard, table, dataset, segment, collection, transform, document, database, action, "
    "indexed-entity, metric, card"
)
SHOULD_BE_MODEL = (
    'should be either "dashboard", "table", "dataset", "segment", "collection", "transform", "document", '
    '"database", "action", "indexed-entity", "metric" or "card"'
)
ROOT = {"id": "root", "name": "Our analytics", "authority_level": None, "type": None}


def token() -> str:
    """A word no other test's content contains."""
    return "tok" + uuid.uuid4().hex[:12]


def search(api: Api, q: str, **params: Any) -> dict[str, Any]:
    return api.get("/api/search", params={"q": q, **params})


def sample_database_id(api: Api) -> int:
    return next(d["id"] for d in api.get("/api/database")["data"] if d["is_sample"])


def card(
    api: Api,
    name: str,
    collection_id: int | None,
    card_type: str = "question",
    sql: str = "SELECT 1",
    **values: Any,
) -> dict[str, Any]:
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
                "native": {"query": sql},
            },
            "collection_id": collection_id,
            **values,
        },
    )


def found(body: dict[str, Any]) -> list[tuple[str, int]]:
    return [(item["model"], item["id"]) for item in body["data"]]


def test_anonymous_and_bad_input(api: Api) -> None:
    assert api.get("/api/search?q=x", expect=401) == "Unauthenticated"
    rasta = api.as_("rasta")
    assert rasta.get("/api/search?q=x&models=widget", expect=400) == {
        "errors": {"models": f"nullable vector of {SEARCH_MODELS_ENUM}"},
        "specific-errors": {"models": [[f'{SHOULD_BE_MODEL}, received: "widget"']]},
    }
    # Each bad value of a repeated parameter is explained at its place; good ones before it are null.
    assert rasta.get("/api/search?models=card&models=widget&models=table", expect=400)["specific-errors"] == {
        "models": [None, [f'{SHOULD_BE_MODEL}, received: "widget"']]
    }
    assert rasta.get("/api/search?created_by=1&created_by=abc&last_edited_by=0", expect=400) == {
        "errors": {
            "created_by": "nullable vector of value must be an integer greater than zero.",
            "last_edited_by": "nullable vector of value must be an integer greater than zero.",
        },
        "specific-errors": {
            "created_by": [None, ['value must be an integer greater than zero., received: "abc"']],
            "last_edited_by": [["value must be an integer greater than zero., received: 0"]],
        },
    }
    assert rasta.get("/api/search?display_type=", expect=400) == {
        "errors": {"display_type": "nullable vector of value must be a non-blank string."},
        "specific-errors": {
            "display_type": [
                ['should be at least 1 character, received: ""', 'non-blank string, received: ""']
            ]
        },
    }
    assert rasta.get("/api/search?ids=1", expect=400) == (
        "Filtering by ids work only when you ask for a single model"
    )
    assert (
        rasta.get("/api/search?created_at=someday", expect=400) == "Failed to parse datetime value: someday"
    )
    assert rasta.get("/api/search?last_edited_at=2024-13", expect=400) == (
        "Failed to parse datetime value: 2024-13"
    )
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
    # A collection is shown in its effective parent: here the root.
    assert (item["collection"], item["effective_location"]) == (ROOT, "/")
    assert (item["archived"], item["context"], item["can_write"]) == (False, None, True)
    assert isinstance(item["scores"], list) and item["scores"]
    # Case-insensitive, every word must start a word of the name (in any order), the last one may be
    # unfinished; words are runs of letters and digits.
    assert search(rasta, f"things {word}")["total"] == 1
    assert search(rasta, f"THI {word[:-2]}")["total"] == 1
    assert search(rasta, f"alpha-{word}")["total"] == 1
    assert search(rasta, f"{word} missing")["total"] == 0
    assert search(rasta, word[3:])["total"] == 0
    # LIKE wildcards in the text are matched literally; text without a word matches nothing.
    assert search(rasta, word[:5] + "%" + word[6:])["total"] == 0
    assert search(rasta, word[:5] + "_" + word[6:])["total"] == 0
    assert search(rasta, "%")["total"] == 0

    child = rasta.post("/api/collection", {"name": f"{word} child", "parent_id": top["id"]})
    inside = next(i for i in search(rasta, f"{word} child")["data"] if i["id"] == child["id"])
    assert inside["collection"] == {
        "id": top["id"],
        "name": top["name"],
        "authority_level": None,
        "type": None,
    }
    assert inside["effective_location"] == f"/{top['id']}/"
    rasta.put(f"/api/collection/{child['id']}", {"archived": True})
    (trashed,) = search(rasta, f"{word} child", archived="true")["data"]
    trash = rasta.get("/api/collection/trash")
    assert trashed["collection"] == {
        "id": trash["id"],
        "name": trash["name"],
        "authority_level": None,
        "type": "trash",
    }
    assert trashed["effective_location"] == f"/{trash['id']}/"


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
    assert item["collection"] == {
        "id": home["id"],
        "name": home["name"],
        "authority_level": None,
        "type": None,
    }
    assert by_id[("metric", metric["id"])]["collection"] == {
        "id": None,
        "name": None,
        "authority_level": None,
        "type": None,
    }
    assert item["effective_location"] is None

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
    # What was archived by itself is shown in the Trash.
    trash = rasta.get("/api/collection/trash")
    assert archived["data"][0]["collection"] == {
        "id": trash["id"],
        "name": trash["name"],
        "authority_level": None,
        "type": "trash",
    }


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


def test_created_at_and_last_edited_at(api: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    word = token()
    home = rasta.post("/api/collection", {"name": f"{word} home"})
    question = card(rasta, f"{word} question", home["id"])
    dashboard = rasta.post("/api/dashboard", {"name": f"{word} dashboard"})
    everything = [("dashboard", dashboard["id"]), ("card", question["id"]), ("collection", home["id"])]
    assert found(search(rasta, word)) == everything
    # Metabase's date strings: today is in `thisyear` and `past30days~`, not in `past30days` (which ends
    # yesterday) nor in a range of another year.
    assert found(search(rasta, word, created_at="thisyear")) == everything
    assert found(search(rasta, word, created_at="past30days~")) == everything
    assert found(search(rasta, word, created_at="today")) == everything
    assert search(rasta, word, created_at="past30days")["total"] == 0
    assert search(rasta, word, created_at="2020-01-01~2020-12-31")["total"] == 0
    assert search(rasta, word, created_at="~2020-01-01")["total"] == 0
    assert found(search(rasta, word, created_at="2020-01-01~")) == everything
    # Last edits are revisions: collections have none, so they drop out, as with `last_edited_by`.
    edited = search(rasta, word, last_edited_at="thisyear")
    assert found(edited) == [("dashboard", dashboard["id"]), ("card", question["id"])]
    assert edited["data"][1]["last_editor_id"] == user_ids["rasta"]
    assert search(rasta, word, last_edited_at="lastyear")["total"] == 0
    both = search(rasta, word, last_edited_at="thisyear", last_edited_by=user_ids["lucky"])
    assert both["total"] == 0
    available = search(rasta, word, created_at="thisyear", calculate_available_models="true")
    assert available["available_models"] == ["dashboard", "card", "collection"]


def test_search_native_query(api: Api) -> None:
    rasta = api.as_("rasta")
    word = token()
    native = card(rasta, "Plain name", None, sql=f"SELECT 1 AS {word}_total -- {word}")
    named = card(rasta, f"Named {word}", None)
    dashboard = rasta.post("/api/dashboard", {"name": f"{word} dashboard"})
    assert found(search(rasta, word)) == [("dashboard", dashboard["id"]), ("card", named["id"])]
    # The SQL of native cards is searched on request, and then only cards are.
    with_sql = search(rasta, word, search_native_query="true")
    assert sorted(found(with_sql)) == sorted([("card", native["id"]), ("card", named["id"])])
    # A word matches a word of the SQL from its start: `total` is a word of `<word>_total`.
    assert found(search(rasta, f"{word} tot", search_native_query="true")) == [("card", native["id"])]
    assert search(rasta, word[2:], search_native_query="true")["total"] == 0
    rasta.put(f"/api/card/{native['id']}", {"dataset_query": named["dataset_query"]})
    assert found(search(rasta, word, search_native_query="true")) == [("card", named["id"])]


def test_the_index_follows_names_descriptions_and_deletes(api: Api) -> None:
    rasta, admin = api.as_("rasta"), api.as_("crowberto")
    word, other = token(), token()
    question = card(rasta, f"{word} question", None, description=f"About {other} things")
    dashboard = rasta.post("/api/dashboard", {"name": f"{word} board", "description": f"{other} too"})
    collection = rasta.post("/api/collection", {"name": f"{word} folder", "description": other})
    # Descriptions of cards and dashboards are searched; a collection's is not (as in Metabase).
    assert found(search(rasta, other)) == [("dashboard", dashboard["id"]), ("card", question["id"])]
    rasta.put(f"/api/card/{question['id']}", {"name": f"{other} renamed", "description": None})
    rasta.put(f"/api/dashboard/{dashboard['id']}", {"name": "Plain"})
    rasta.put(f"/api/collection/{collection['id']}", {"name": f"{other} folder"})
    assert found(search(rasta, word)) == []
    # A match in the name ranks before a match in the description only.
    renamed = search(rasta, other)
    assert found(renamed) == [
        ("card", question["id"]),
        ("collection", collection["id"]),
        ("dashboard", dashboard["id"]),
    ]
    scores = [item["scores"][0]["score"] for item in renamed["data"]]
    assert scores[1] > scores[2]
    rasta.delete(f"/api/card/{question['id']}", expect=204)
    rasta.delete(f"/api/dashboard/{dashboard['id']}", expect=204)
    rasta.put(f"/api/collection/{collection['id']}", {"archived": True})
    admin.delete(f"/api/collection/{collection['id']}", expect=204)
    assert search(rasta, other)["total"] == 0
    assert search(rasta, other, archived="true")["total"] == 0


def test_model_ancestors(api: Api) -> None:
    rasta = api.as_("rasta")
    word = token()
    top = rasta.post("/api/collection", {"name": f"{word} top"})
    middle = rasta.post("/api/collection", {"name": f"{word} middle", "parent_id": top["id"]})
    model = card(rasta, f"{word} model", middle["id"], "model")
    question = card(rasta, f"{word} question", middle["id"])
    root_model = card(rasta, f"{word} rootmodel", None, "model")

    def collections(**params: Any) -> dict[int, dict[str, Any]]:
        body = search(rasta, word, models=["dataset", "card"], **params)
        return {item["id"]: item["collection"] for item in body["data"]}

    plain = collections()
    assert "effective_ancestors" not in plain[model["id"]]
    # With `model_ancestors`, a model's collection lists its collection's ancestors, without the root.
    with_ancestors = collections(model_ancestors="true")
    assert with_ancestors[model["id"]] == {
        "id": middle["id"],
        "name": middle["name"],
        "authority_level": None,
        "type": None,
        "effective_ancestors": [{"name": top["name"], "id": top["id"], "type": None}],
    }
    assert with_ancestors[root_model["id"]]["effective_ancestors"] == []
    assert "effective_ancestors" not in with_ancestors[question["id"]]


def test_dashboard_questions(api: Api) -> None:
    rasta = api.as_("rasta")
    word = token()
    dashboard = rasta.post("/api/dashboard", {"name": f"{word} home"})
    inner = card(rasta, f"{word} inner", None, dashboard_id=dashboard["id"])
    assert found(search(rasta, word, models="card")) == []
    # Only when asked for, and only while it is on its dashboard.
    assert found(search(rasta, word, models="card", include_dashboard_questions="true")) == []
    dashcard = {"id": -1, "card_id": inner["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
    rasta.put(f"/api/dashboard/{dashboard['id']}", {"dashcards": [dashcard]})
    body = search(rasta, word, models="card", include_dashboard_questions="true")
    assert found(body) == [("card", inner["id"])]
    assert body["data"][0]["dashboard"] == {
        "id": dashboard["id"],
        "name": dashboard["name"],
        "moderation_status": None,
    }
