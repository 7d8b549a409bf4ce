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


def history(api, entity: str, object_id: int) -> list[dict]:
    return api.get("/api/revision", params={"entity": entity, "id": object_id})


def test_card_revisions_hold_metabases_serialized_card(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    path = f"/api/card/{card['id']}"
    rasta.put(path, {"name": "Renamed card"})
    # Identity and bookkeeping (ids, timestamps, view counts, sharing) are not part of a revision, so the
    # diff of a rename is the name alone; result metadata is kept for models only.
    newest = history(rasta, "card", card["id"])[0]
    assert newest["diff"] == {"before": {"name": card["name"]}, "after": {"name": "Renamed card"}}
    assert newest["description"] == f'renamed this Card from "{card["name"]}" to "Renamed card".'
    # A change that changes nothing a revision holds records nothing.
    rasta.put(path, {"name": "Renamed card"})
    assert len(history(rasta, "card", card["id"])) == 2
    rasta.put(path, {"type": "model"})
    turned = history(rasta, "card", card["id"])[0]
    assert turned["description"].startswith("turned this to a model")
    assert "result_metadata" in turned["diff"]["after"]


def test_only_the_newest_15_revisions_are_kept(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    for i in range(16):
        rasta.put(f"/api/card/{card['id']}", {"name": f"Name {i}"})
    revisions = history(rasta, "card", card["id"])
    assert len(revisions) == 15
    # The oldest kept one has nothing to compare with any more.
    assert [r["is_creation"] for r in revisions] == [False] * 15
    assert revisions[-1]["description"] == "modified this."
    assert revisions[0]["description"] == 'renamed this Card from "Name 14" to "Name 15".'


def test_dashboard_descriptions(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}"

    def cell(dashcard_id: int, row: int) -> dict:
        return {"id": dashcard_id, "card_id": card["id"], "row": row, "col": 0, "size_x": 4, "size_y": 4}

    def described() -> str:
        return history(rasta, "dashboard", dashboard["id"])[0]["description"]

    first = rasta.put(path, {"dashcards": [cell(-1, 0)]})["dashcards"][0]["id"]
    assert described() == "added a card."
    cards = rasta.put(path, {"dashcards": [cell(first, 0), cell(-1, 4), cell(-2, 8)]})["dashcards"]
    assert described() == "added 2 cards."
    ids = [dc["id"] for dc in cards]
    rasta.put(path, {"dashcards": [cell(ids[0], 12), cell(ids[1], 4), cell(ids[2], 8)]})
    assert described() == "rearranged the cards."
    moved = history(rasta, "dashboard", dashboard["id"])[0]["diff"]
    # Lists are compared index by index, as Clojure's `diff` does: only the first card's row changed.
    assert moved == {"before": {"cards": [{"row": 0}]}, "after": {"cards": [{"row": 12}]}}
    rasta.put(path, {"name": "Renamed", "dashcards": [cell(ids[0], 12)]})
    assert (
        described() == f'renamed this Dashboard from "{dashboard["name"]}" to "Renamed" and removed 2 cards.'
    )
    rasta.put(path, {"cache_ttl": 60})
    assert described() == "added a cache ttl."
    rasta.put(path, {"cache_ttl": 1000, "auto_apply_filters": False})
    assert described() == 'changed the cache ttl from "60" to "1,000" and set auto apply filters to false.'
    rasta.put(path, {"tabs": [{"id": -1, "name": "One"}, {"id": -2, "name": "Two"}], "dashcards": []})
    assert described() == "removed a card and added 2 tabs."
    newest = history(rasta, "dashboard", dashboard["id"])[0]
    assert newest["has_multiple_changes"] is True


def test_reverting_a_dashboard_leaves_out_archived_cards(api, sample):
    rasta = api.as_("rasta")
    kept, archived = count_orders_card(rasta, sample), count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}"
    cells = [
        {"id": -1, "card_id": kept["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4},
        {"id": -2, "card_id": archived["id"], "row": 4, "col": 0, "size_x": 4, "size_y": 4},
    ]
    rasta.put(path, {"dashcards": cells})
    with_both = history(rasta, "dashboard", dashboard["id"])[0]
    rasta.put(path, {"dashcards": []})
    rasta.put(f"/api/card/{archived['id']}", {"archived": True})
    reverted = rasta.post(
        "/api/revision/revert", {"entity": "dashboard", "id": dashboard["id"], "revision_id": with_both["id"]}
    )
    assert reverted["description"] == "reverted to an earlier version."
    assert [dc["card_id"] for dc in rasta.get(path)["dashcards"]] == [kept["id"]]


def test_history_goes_with_objects_deleted_for_good(api, user_ids):
    """Deleting a database deletes its segments; their revisions go too, so that a later segment given
    the same id (SQLite hands out the highest freed id again) does not inherit them."""
    from tests.api.test_database import connected, tables_by_name

    admin = api.as_("crowberto")
    with connected(admin, "sqlite") as (database_id, _details):
        table = next(iter(tables_by_name(admin, database_id).values()))
        doomed = create(admin, table_id=table["id"], definition={"source-table": table["id"]})
        admin.put(f"/api/segment/{doomed['id']}", {"name": "Renamed", "revision_message": "r"})
        assert len(admin.get("/api/revision", params={"entity": "segment", "id": doomed["id"]})) == 2
    admin.get("/api/revision", params={"entity": "segment", "id": doomed["id"]}, expect=404)
    newer = create(admin)
    history = admin.get("/api/revision", params={"entity": "segment", "id": newer["id"]})
    assert [r["description"] for r in history] == ["created this."]
