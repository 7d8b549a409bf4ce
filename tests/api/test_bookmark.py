"""`/api/bookmark`: each user's bookmarks of collections (and cards and dashboards), newest first."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.test_dashboard import admin, count_orders_card, new_dashboard, sample
from tests.support.http import Api

__all__ = ["admin", "sample"]


def collection(api: Api, user: str = "rasta", **extra: Any) -> dict[str, Any]:
    body = {"name": f"Bookmarked {uuid.uuid4().hex[:8]}", **extra}
    return api.as_(user).post("/api/collection", body)


def test_bookmark_list_and_delete(api, user_ids):
    rasta = api.as_("rasta")
    first = collection(api, description="about")
    second = collection(api)
    created = rasta.post(f"/api/bookmark/collection/{first['id']}")
    assert set(created) == {"id", "user_id", "collection_id", "created_at"}
    assert (created["user_id"], created["collection_id"]) == (user_ids["rasta"], first["id"])
    rasta.post(f"/api/bookmark/collection/{second['id']}")
    mine = [b for b in rasta.get("/api/bookmark") if b["item_id"] in (first["id"], second["id"])]
    assert mine == [
        {
            "id": f"collection-{second['id']}",
            "type": "collection",
            "item_id": second["id"],
            "name": second["name"],
            "is_remote_synced": False,
        },
        {
            "id": f"collection-{first['id']}",
            "type": "collection",
            "item_id": first["id"],
            "name": first["name"],
            "description": "about",
            "is_remote_synced": False,
        },
    ]
    assert f"collection-{first['id']}" not in {b["id"] for b in api.as_("lucky").get("/api/bookmark")}
    assert rasta.delete(f"/api/bookmark/collection/{first['id']}", expect=204) is None
    assert rasta.delete(f"/api/bookmark/collection/{first['id']}", expect=204) is None
    assert f"collection-{first['id']}" not in {b["id"] for b in rasta.get("/api/bookmark")}


def test_archived_items_are_not_listed(api):
    rasta = api.as_("rasta")
    item = collection(api)
    rasta.post(f"/api/bookmark/collection/{item['id']}")
    rasta.put(f"/api/collection/{item['id']}", {"archived": True})
    assert f"collection-{item['id']}" not in {b["id"] for b in rasta.get("/api/bookmark")}


def test_bad_requests(api):
    rasta = api.as_("rasta")
    item = collection(api)
    rasta.post(f"/api/bookmark/collection/{item['id']}")
    assert rasta.post(f"/api/bookmark/collection/{item['id']}", expect=400) == "Bookmark already exists"
    assert rasta.post("/api/bookmark/collection/999999", expect=404) == "Not found."
    assert rasta.post("/api/bookmark/card/999999", expect=404) == "Not found."
    assert rasta.post("/api/bookmark/pulse/1", expect=404) == "API endpoint does not exist."
    assert rasta.post("/api/bookmark/card/0", expect=404) == "API endpoint does not exist."
    assert api.get("/api/bookmark", expect=401) == "Unauthenticated"
    assert api.post(f"/api/bookmark/collection/{item['id']}", expect=401) == "Unauthenticated"


def test_other_peoples_personal_collections_cannot_be_bookmarked(api, user_ids):
    lucky_personal = next(
        c["id"]
        for c in api.as_("crowberto").get("/api/collection")
        if c.get("personal_owner_id") == user_ids["lucky"]
    )
    expected = "You don't have permissions to do that."
    assert api.as_("rasta").post(f"/api/bookmark/collection/{lucky_personal}", expect=403) == expected


def test_ordering_is_validated(api):
    rasta = api.as_("rasta")
    orderings = [{"type": "collection", "item_id": 1}, {"type": "card", "item_id": 2}]
    assert rasta.put("/api/bookmark/ordering", {"orderings": orderings}, expect=204) is None
    body = rasta.put("/api/bookmark/ordering", {"orderings": [{"type": "pulse", "item_id": 1}]}, expect=400)
    assert list(body["errors"]) == ["orderings"]
    assert rasta.put("/api/bookmark/ordering", {}, expect=400)["specific-errors"] == {
        "orderings": ["missing required key, received: nil"]
    }


def test_cards_and_dashboards(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample, description="How many")
    dashboard = new_dashboard(rasta)
    assert set(rasta.post(f"/api/bookmark/card/{card['id']}")) == {"id", "user_id", "card_id", "created_at"}
    rasta.post(f"/api/bookmark/dashboard/{dashboard['id']}")
    listed = {b["id"]: b for b in rasta.get("/api/bookmark")}
    assert listed[f"card-{card['id']}"] == {
        "id": f"card-{card['id']}",
        "type": "card",
        "item_id": card["id"],
        "name": card["name"],
        "description": "How many",
        "card_type": "question",
        "display": "scalar",
    }
    assert listed[f"dashboard-{dashboard['id']}"] == {
        "id": f"dashboard-{dashboard['id']}",
        "type": "dashboard",
        "item_id": dashboard["id"],
        "name": dashboard["name"],
    }
    rasta.put(f"/api/card/{card['id']}", {"archived": True})
    assert f"card-{card['id']}" not in {b["id"] for b in rasta.get("/api/bookmark")}
