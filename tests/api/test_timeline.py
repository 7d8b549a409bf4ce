"""`/api/timeline` and `/api/timeline-event`: timelines in collections (or the root) and their events,
with their collection's permissions."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.test_segment import CREATOR_KEYS, FORBIDDEN
from tests.support.http import Api

TIMELINE_KEYS = {
    "id",
    "entity_id",
    "name",
    "description",
    "icon",
    "collection_id",
    "archived",
    "creator_id",
    "default",
    "created_at",
    "updated_at",
}
EVENT_KEYS = {
    "id",
    "timeline_id",
    "name",
    "description",
    "timestamp",
    "time_matters",
    "timezone",
    "icon",
    "archived",
    "creator_id",
    "created_at",
    "updated_at",
}


def collection(api: Api, user: str = "rasta") -> dict[str, Any]:
    return api.as_(user).post("/api/collection", {"name": f"Timelines {uuid.uuid4().hex[:8]}"})


def timeline(api: Api, user: str = "rasta", **extra: Any) -> dict[str, Any]:
    return api.as_(user).post("/api/timeline", {"name": f"Launches {uuid.uuid4().hex[:8]}", **extra})


def event(api: Api, timeline_id: int, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Release",
        "timestamp": "2024-03-01T10:00:00Z",
        "timezone": "UTC",
        "timeline_id": timeline_id,
    }
    return api.as_("rasta").post("/api/timeline-event", {**body, **extra})


def test_create_and_read_with_events(api, user_ids):
    coll = collection(api)
    created = timeline(api, collection_id=coll["id"], description="d")
    assert set(created) == TIMELINE_KEYS
    assert (created["icon"], created["default"], created["archived"], created["creator_id"]) == (
        "star",
        False,
        False,
        user_ids["rasta"],
    )
    first = event(api, created["id"], icon="cake", time_matters=True)
    assert set(first) == EVENT_KEYS
    assert (first["timestamp"], first["icon"], first["time_matters"]) == (
        "2024-03-01T10:00:00Z",
        "cake",
        True,
    )
    second = event(api, created["id"], timestamp="2024-01-15", archived=True)
    assert (second["icon"], second["timestamp"]) == ("star", "2024-01-15T00:00:00Z")

    fetched = api.as_("rasta").get(f"/api/timeline/{created['id']}", params={"include": "events"})
    assert set(fetched) == TIMELINE_KEYS | {"creator", "collection", "events"}
    assert set(fetched["creator"]) >= CREATOR_KEYS
    assert (fetched["collection"]["id"], fetched["collection"]["can_write"]) == (coll["id"], True)
    assert [e["id"] for e in fetched["events"]] == [first["id"]]
    assert set(fetched["events"][0]) == EVENT_KEYS | {"creator"}
    everything = api.as_("rasta").get(
        f"/api/timeline/{created['id']}", params={"include": "events", "archived": "true"}
    )
    assert [e["id"] for e in everything["events"]] == [second["id"], first["id"]]
    window = {"include": "events", "archived": "true", "start": "2024-02-01", "end": "2024-12-31"}
    assert [
        e["id"] for e in api.as_("rasta").get(f"/api/timeline/{created['id']}", params=window)["events"]
    ] == [first["id"]]
    assert "events" not in api.as_("rasta").get(f"/api/timeline/{created['id']}")

    in_collection = api.as_("rasta").get(
        f"/api/timeline/collection/{coll['id']}", params={"include": "events"}
    )
    assert [(t["id"], len(t["events"])) for t in in_collection] == [(created["id"], 1)]
    listed = [t for t in api.as_("rasta").get("/api/timeline") if t["id"] == created["id"]]
    assert len(listed) == 1 and "events" not in listed[0]


def test_root_timelines(api):
    root = timeline(api)
    assert root["collection_id"] is None
    listed = api.as_("lucky").get("/api/timeline/collection/root")
    mine = next(t for t in listed if t["id"] == root["id"])
    assert mine["collection"]["id"] == "root"


def test_update_archives_events_and_delete_cascades(api):
    created = timeline(api)
    first = event(api, created["id"])
    rasta = api.as_("rasta")
    path = f"/api/timeline/{created['id']}"
    updated = rasta.put(path, {"name": "Renamed", "icon": "bell", "archived": True, "description": None})
    assert (updated["name"], updated["icon"], updated["archived"], updated["description"]) == (
        "Renamed",
        "bell",
        True,
        None,
    )
    assert rasta.get(f"/api/timeline-event/{first['id']}")["archived"] is True
    assert created["id"] not in {t["id"] for t in rasta.get("/api/timeline")}
    assert created["id"] in {t["id"] for t in rasta.get("/api/timeline", params={"archived": "true"})}
    assert rasta.delete(path, expect=204) is None
    assert rasta.get(path, expect=404) == "Not found."
    assert rasta.get(f"/api/timeline-event/{first['id']}", expect=404) == "Not found."


def test_event_update_and_delete(api):
    created = timeline(api)
    first = event(api, created["id"], description="x")
    rasta = api.as_("rasta")
    path = f"/api/timeline-event/{first['id']}"
    updated = rasta.put(path, {"name": "Moved", "timestamp": "2025-05-05T05:05:05Z", "description": None})
    assert (updated["name"], updated["timestamp"], updated["description"]) == (
        "Moved",
        "2025-05-05T05:05:05Z",
        None,
    )
    assert rasta.get(path) == updated
    assert rasta.delete(path, expect=204) is None
    assert rasta.get(path, expect=404) == "Not found."


def test_permissions_and_bad_input(api, user_ids):
    lucky_personal = next(
        c["id"]
        for c in api.as_("crowberto").get("/api/collection")
        if c.get("personal_owner_id") == user_ids["lucky"]
    )
    rasta = api.as_("rasta")
    assert (
        rasta.post("/api/timeline", {"name": "x", "collection_id": lucky_personal}, expect=403) == FORBIDDEN
    )
    private = timeline(api, user="lucky", collection_id=lucky_personal)
    assert rasta.get(f"/api/timeline/{private['id']}", expect=403) == FORBIDDEN
    assert private["id"] not in {t["id"] for t in rasta.get("/api/timeline")}
    assert rasta.get(f"/api/timeline/collection/{lucky_personal}", expect=403) == FORBIDDEN
    body = {"name": "e", "timestamp": "2024-01-01", "timezone": "UTC", "timeline_id": private["id"]}
    assert rasta.post("/api/timeline-event", body, expect=403) == FORBIDDEN
    assert rasta.post("/api/timeline-event", {**body, "timeline_id": 999999}, expect=404) == (
        "Timeline with id 999999 not found"
    )
    assert rasta.post("/api/timeline-event", {**body, "timestamp": "soon"}, expect=400) == {
        "errors": {"timestamp": "value must be a valid date string"},
        "specific-errors": {"timestamp": ['valid date string, received: "soon"']},
    }
    assert rasta.post("/api/timeline", {"name": "x", "icon": "rocket"}, expect=400)["errors"] == {
        "icon": "nullable enum of star, cake, mail, warning, bell, cloud"
    }
    assert rasta.post("/api/timeline", {}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {"name": ["missing required key, received: nil"]},
    }
    assert rasta.get("/api/timeline/999999", expect=404) == "Not found."
    assert rasta.get("/api/timeline-event/999999", expect=404) == "Not found."
    assert api.get("/api/timeline", expect=401) == "Unauthenticated"
