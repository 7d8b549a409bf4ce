"""`/api/revision`: the described history of an object, and reverting it to an earlier snapshot."""

from __future__ import annotations

from tests.api.test_dashboard import admin, count_orders_card, new_dashboard, sample
from tests.api.test_segment import create

__all__ = ["admin", "sample"]


def test_rename_and_revert_a_segment(api, user_ids):
    segment = create(api)
    admin = api.as_("crowberto")
    path = f"/api/segment/{segment['id']}"
    admin.put(path, {"name": "New name", "revision_message": "rename"})
    admin.put(path, {"name": "New name", "revision_message": "no change"})
    admin.put(
        path, {"description": "Big", "caveats": "c", "points_of_interest": "p", "revision_message": "d"}
    )
    params = {"entity": "segment", "id": segment["id"]}
    revisions = api.as_("rasta").get("/api/revision", params=params)
    assert [(r["description"], r["has_multiple_changes"], r["message"]) for r in revisions] == [
        ("added a description.", False, "d"),
        (f'renamed this Segment from "{segment["name"]}" to "New name".', False, "rename"),
        ("created this.", False, None),
    ]
    newest, renamed, created = revisions
    assert set(newest) == {
        "id",
        "timestamp",
        "is_creation",
        "is_reversion",
        "most_recent",
        "message",
        "metabase_version",
        "diff",
        "description",
        "has_multiple_changes",
        "user",
    }
    assert newest["user"] == {
        "id": user_ids["crowberto"],
        "first_name": "Crowberto",
        "last_name": "Corv",
        "common_name": "Crowberto Corv",
    }
    assert [r["most_recent"] for r in revisions] == [True, False, False]
    assert (created["is_creation"], created["diff"]) == (True, None)
    assert renamed["diff"] == {"before": {"name": segment["name"]}, "after": {"name": "New name"}}
    assert api.as_("rasta").get(f"/api/revision/segment/{segment['id']}") == revisions

    reverted = admin.post(
        "/api/revision/revert", {"entity": "segment", "id": segment["id"], "revision_id": renamed["id"]}
    )
    assert (reverted["is_reversion"], reverted["description"], reverted["most_recent"]) == (
        True,
        "reverted to an earlier version.",
        True,
    )
    assert reverted["diff"] == {
        "before": {"description": "Big", "caveats": "c", "points_of_interest": "p"},
        "after": {"description": None, "caveats": None, "points_of_interest": None},
    }
    current = admin.get(path)
    assert (current["name"], current["description"], current["caveats"]) == ("New name", None, None)
    assert len(admin.get("/api/revision", params=params)) == 4


def test_multiple_changes_make_one_sentence(api):
    segment = create(api, description="old")
    admin = api.as_("crowberto")
    admin.put(
        f"/api/segment/{segment['id']}",
        {"name": "Two", "description": "new", "archived": True, "revision_message": "m"},
    )
    newest = admin.get(f"/api/revision/segment/{segment['id']}")[0]
    assert newest["has_multiple_changes"] is True
    assert newest["description"] == (
        f'renamed this Segment from "{segment["name"]}" to "Two", changed the description and trashed it.'
    )


def test_bad_requests(api):
    segment = create(api)
    admin, rasta = api.as_("crowberto"), api.as_("rasta")
    assert admin.get("/api/revision", params={"entity": "segment", "id": 999999}, expect=404) == "Not found."
    assert admin.get("/api/revision/card/999999", expect=404) == "Not found."
    body = admin.get("/api/revision", params={"entity": "pulse", "id": 1}, expect=400)
    assert body["errors"] == {"entity": "enum of card, dashboard, document, segment, legacy-metric"}
    assert admin.get("/api/revision", params={"entity": "segment"}, expect=400) == {
        "errors": {"id": "value must be an integer greater than zero."},
        "specific-errors": {"id": ["missing required key, received: nil"]},
    }
    revert = {"entity": "segment", "id": segment["id"], "revision_id": 999999}
    assert admin.post("/api/revision/revert", revert, expect=404) == "Not found."
    first = admin.get(f"/api/revision/segment/{segment['id']}")[0]
    revert["revision_id"] = first["id"]
    assert rasta.post("/api/revision/revert", revert, expect=403) == "You don't have permissions to do that."
    assert api.get(f"/api/revision/segment/{segment['id']}", expect=401) == "Unauthenticated"


def test_card_history_and_revert(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    path = f"/api/card/{card['id']}"
    rasta.put(path, {"name": "Renamed card", "display": "bar"})
    revisions = rasta.get("/api/revision", params={"entity": "card", "id": card["id"]})
    assert revisions[0]["description"].startswith(
        f'renamed this Card from "{card["name"]}" to "Renamed card"'
    )
    assert "changed the display from" in revisions[0]["description"]
    assert revisions[-1]["description"] == "created this."
    reverted = rasta.post(
        "/api/revision/revert", {"entity": "card", "id": card["id"], "revision_id": revisions[-1]["id"]}
    )
    assert reverted["is_reversion"] is True
    restored = rasta.get(path)
    assert (restored["name"], restored["display"]) == (card["name"], card["display"])
    assert rasta.get("/api/revision", params={"entity": "card", "id": card["id"]})[0]["id"] == reverted["id"]


def test_dashboard_revert_restores_its_cards(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}"
    dashcard = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4}
    with_card = rasta.put(path, {"dashcards": [dashcard]})
    assert len(with_card["dashcards"]) == 1
    revisions = rasta.get(f"/api/revision/dashboard/{dashboard['id']}")
    rasta.put(path, {"name": "Emptied", "dashcards": []})
    assert rasta.get(path)["dashcards"] == []
    rasta.post(
        "/api/revision/revert",
        {"entity": "dashboard", "id": dashboard["id"], "revision_id": revisions[0]["id"]},
    )
    restored = rasta.get(path)
    assert restored["name"] == dashboard["name"]
    assert [(dc["card_id"], dc["size_x"], dc["size_y"]) for dc in restored["dashcards"]] == [
        (card["id"], 6, 4)
    ]
