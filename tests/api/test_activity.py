"""`/api/activity`: a user's recent selections and views, popular items, and the dashboard viewed last."""

from __future__ import annotations

import uuid

from tests.api.test_table import sample

ROOT = {"id": "root", "name": "Our analytics", "authority_level": None}


def test_selections_are_recent_items(api, user_ids):
    rasta = api.as_("rasta")
    parent = rasta.post("/api/collection", {"name": f"Parent {uuid.uuid4().hex[:8]}"})
    child = rasta.post(
        "/api/collection", {"name": f"Child {uuid.uuid4().hex[:8]}", "parent_id": parent["id"]}
    )
    orders = sample(api)["ORDERS"]
    for model, model_id in (
        ("collection", parent["id"]),
        ("table", orders["id"]),
        ("collection", child["id"]),
    ):
        assert (
            rasta.post(
                "/api/activity/recents",
                {"model": model, "model_id": model_id, "context": "selection"},
                expect=204,
            )
            is None
        )
    recents = rasta.get("/api/activity/recents", params={"context": "selections"})["recents"]
    assert [(r["model"], r["id"]) for r in recents[:3]] == [
        ("collection", child["id"]),
        ("table", orders["id"]),
        ("collection", parent["id"]),
    ]
    newest, table, oldest = recents[:3]
    assert newest == {
        "id": child["id"],
        "name": child["name"],
        "description": None,
        "model": "collection",
        "can_write": True,
        "timestamp": newest["timestamp"],
        "authority_level": None,
        "collection_type": None,
        "effective_location": f"/{parent['id']}/",
        "parent_collection": {"id": parent["id"], "name": parent["name"], "authority_level": None},
    }
    assert oldest["parent_collection"] == ROOT
    assert set(table) == {
        "id",
        "name",
        "description",
        "model",
        "display_name",
        "can_write",
        "timestamp",
        "table_schema",
        "database",
    }
    assert (table["name"], table["display_name"], table["can_write"]) == ("ORDERS", "Orders", False)
    assert table["database"]["id"] == orders["db_id"]
    # Selecting again moves an item to the front without repeating it.
    rasta.post(
        "/api/activity/recents",
        {"model": "collection", "model_id": parent["id"], "context": "selection"},
        expect=204,
    )
    again = rasta.get("/api/activity/recents", params={"context": ["selections", "views"]})["recents"]
    assert [(r["model"], r["id"]) for r in again[:3]] == [
        ("collection", parent["id"]),
        ("collection", child["id"]),
        ("table", orders["id"]),
    ]
    # Creating a collection is a view of it (Metabase's collection-touch event), not a selection.
    viewed = [
        r["id"] for r in rasta.get("/api/activity/recent_views")["recent_views"] if r["model"] == "collection"
    ]
    assert viewed[:2] == [child["id"], parent["id"]]
    # Someone else's recents are their own.
    assert child["id"] not in {
        r["id"]
        for r in api.as_("lucky").get("/api/activity/recents", params={"context": "selections"})["recents"]
        if r["model"] == "collection"
    }
    # Archived items disappear.
    rasta.put(f"/api/collection/{child['id']}", {"archived": True})
    left = rasta.get("/api/activity/recents", params={"context": "selections"})["recents"]
    assert ("collection", child["id"]) not in {(r["model"], r["id"]) for r in left}


def test_bad_requests(api, user_ids):
    rasta = api.as_("rasta")
    assert rasta.get("/api/activity/recents", expect=400)["specific-errors"] == {
        "context": ["missing required key, received: nil"]
    }
    assert rasta.get("/api/activity/recents", params={"context": ["views", "later"]}, expect=400) == {
        "errors": {"context": "vector of enum of selections, views"},
        "specific-errors": {
            "context": [None, ['should be either "selections" or "views", received: "later"']]
        },
    }
    body = {"model": "collection", "model_id": 999999, "context": "selection"}
    assert rasta.post("/api/activity/recents", body, expect=404) == "Not found."
    assert rasta.post("/api/activity/recents", {**body, "context": "view"}, expect=400)["errors"] == {
        "context": "enum of selection"
    }
    lucky_personal = next(
        c["id"]
        for c in api.as_("crowberto").get("/api/collection")
        if c.get("personal_owner_id") == user_ids["lucky"]
    )
    assert rasta.post("/api/activity/recents", {**body, "model_id": lucky_personal}, expect=403) == (
        "You don't have permissions to do that."
    )
    assert api.get("/api/activity/recent_views", expect=401) == "Unauthenticated"


def test_popular_items_and_last_dashboard_shapes(api):
    rasta = api.as_("rasta")
    popular = rasta.get("/api/activity/popular_items")
    assert list(popular) == ["popular_items"]
    assert len(popular["popular_items"]) <= 5
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    password = "a-long-Unusual-passw0rd"
    api.as_("crowberto").post("/api/user", {"email": email, "first_name": "New", "password": password})
    session = api.login(email, password)["id"]
    newcomer = api.with_headers({"X-Metabase-Session": session})
    assert newcomer.get("/api/activity/most_recently_viewed_dashboard", expect=204) is None
    assert newcomer.get("/api/activity/recent_views") == {"recent_views": []}


def _card(api, name: str, card_type: str = "question") -> dict:
    database = next(d["id"] for d in api.get("/api/database")["data"] if d["is_sample"])
    query = {"database": database, "type": "native", "native": {"query": "SELECT 1"}}
    body = {"name": name, "type": card_type, "display": "scalar", "visualization_settings": {}}
    return api.post("/api/card", {**body, "dataset_query": query, "result_metadata": []})


def test_recent_items_are_pruned_per_kind(api):
    lucky = api.as_("lucky")
    word = uuid.uuid4().hex[:8]
    model = _card(lucky, f"Model {word}", "model")
    questions = [_card(lucky, f"Question {word} {i}") for i in range(21)]

    def select(card: dict) -> None:
        body = {"model": "card", "model_id": card["id"], "context": "selection"}
        lucky.post("/api/activity/recents", body, expect=204)

    select(model)
    for question in questions:
        select(question)
    select(questions[-1])
    recents = lucky.get("/api/activity/recents", params={"context": "selections"})["recents"]
    picked = [(r["model"], r["id"]) for r in recents]
    # A repeat is kept once; the 20 newest questions stay, the oldest goes; the model, in a kind of its own
    # (questions, models and metrics are kept apart), stays although it is older than all of them.
    assert picked.count(("card", questions[-1]["id"])) == 1
    assert [i for m, i in picked if m == "card"] == [q["id"] for q in reversed(questions[1:])]
    assert ("dataset", model["id"]) in picked
    assert ("card", questions[0]["id"]) not in picked
