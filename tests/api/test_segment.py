"""`/api/segment`: admins create, edit and archive named filters on a table; everyone reads them; each
change is a revision."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.test_table import sample
from tests.support.http import Api

FORBIDDEN = "You don't have permissions to do that."
SEGMENT_KEYS = {
    "id",
    "name",
    "description",
    "table_id",
    "definition",
    "archived",
    "creator_id",
    "creator",
    "entity_id",
    "points_of_interest",
    "caveats",
    "show_in_getting_started",
    "created_at",
    "updated_at",
    "definition_description",
}
CREATOR_KEYS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "common_name",
    "is_superuser",
    "is_qbnewb",
    "date_joined",
    "last_login",
    "locale",
    "tenant_id",
}


def orders_definition(api: Api) -> tuple[int, dict[str, Any]]:
    orders = sample(api)["ORDERS"]
    total = next(f["id"] for f in orders["fields"] if f["name"] == "TOTAL")
    return orders["id"], {"source-table": orders["id"], "filter": [">", ["field", total, None], 100]}


def create(api: Api, **extra: Any) -> dict[str, Any]:
    table_id, definition = orders_definition(api)
    body = {"name": f"Big orders {uuid.uuid4().hex[:8]}", "table_id": table_id, "definition": definition}
    return api.as_("crowberto").post("/api/segment", {**body, **extra})


def test_create_and_read(api, user_ids):
    table_id, definition = orders_definition(api)
    name = f"Big orders {uuid.uuid4().hex[:8]}"
    segment = api.as_("crowberto").post(
        "/api/segment",
        {"name": name, "table_id": table_id, "definition": definition, "description": "Over 100"},
    )
    assert set(segment) == SEGMENT_KEYS
    assert set(segment["creator"]) >= CREATOR_KEYS
    assert {
        k: segment[k] for k in SEGMENT_KEYS - {"id", "entity_id", "created_at", "updated_at", "creator"}
    } == {
        "name": name,
        "description": "Over 100",
        "table_id": table_id,
        "definition": definition,
        "archived": False,
        "creator_id": user_ids["crowberto"],
        "points_of_interest": None,
        "caveats": None,
        "show_in_getting_started": False,
        "definition_description": None,
    }
    assert segment["creator"]["id"] == user_ids["crowberto"]
    assert len(segment["entity_id"]) == 21
    assert api.as_("rasta").get(f"/api/segment/{segment['id']}") == segment
    listed = [s for s in api.as_("rasta").get("/api/segment") if s["id"] == segment["id"]]
    assert listed == [segment]


def test_only_admins_write_and_anonymous_is_refused(api):
    table_id, definition = orders_definition(api)
    body = {"name": "x", "table_id": table_id, "definition": definition}
    assert api.as_("rasta").post("/api/segment", body, expect=403) == FORBIDDEN
    segment = create(api)
    path = f"/api/segment/{segment['id']}"
    assert api.as_("rasta").put(path, {"name": "y", "revision_message": "m"}, expect=403) == FORBIDDEN
    assert api.as_("rasta").delete(path, params={"revision_message": "m"}, expect=403) == FORBIDDEN
    assert api.get("/api/segment", expect=401) == "Unauthenticated"
    assert api.get(path, expect=401) == "Unauthenticated"


def test_invalid_bodies(api):
    admin = api.as_("crowberto")
    assert admin.post("/api/segment", {"table_id": 1, "definition": {}}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {"name": ["missing required key, received: nil"]},
    }
    assert admin.post("/api/segment", {"name": "a", "table_id": 0, "definition": {}}, expect=400) == {
        "errors": {"table_id": "value must be an integer greater than zero."},
        "specific-errors": {"table_id": ["value must be an integer greater than zero., received: 0"]},
    }
    assert admin.post("/api/segment", {"name": "a", "table_id": 1, "definition": 3}, expect=400) == {
        "errors": {"definition": "Value must be a map."},
        "specific-errors": {"definition": ["Value must be a map., received: 3"]},
    }
    assert admin.post("/api/segment", {"name": "a", "table_id": 999999, "definition": {}}, expect=404) == (
        "Not found."
    )


def test_update_needs_a_revision_message_and_keeps_unsent_fields(api):
    segment = create(api, description="first")
    admin = api.as_("crowberto")
    path = f"/api/segment/{segment['id']}"
    assert admin.put(path, {"name": "z"}, expect=400) == {
        "errors": {"revision_message": "value must be a non-blank string."},
        "specific-errors": {"revision_message": ["missing required key, received: nil"]},
    }
    updated = admin.put(path, {"name": "Renamed", "caveats": "careful", "revision_message": "why"})
    assert (updated["name"], updated["caveats"], updated["description"]) == ("Renamed", "careful", "first")
    cleared = admin.put(path, {"description": None, "name": None, "revision_message": "clear"})
    assert (cleared["name"], cleared["description"]) == ("Renamed", None)
    assert admin.put("/api/segment/999999", {"revision_message": "m"}, expect=404) == "Not found."
    assert admin.get("/api/segment/999999", expect=404) == "Not found."


def test_delete_archives(api):
    segment = create(api)
    admin = api.as_("crowberto")
    path = f"/api/segment/{segment['id']}"
    assert admin.delete(path, expect=400) == {
        "errors": {"revision_message": "value must be a non-blank string."},
        "specific-errors": {"revision_message": ["missing required key, received: nil"]},
    }
    assert admin.delete(path, params={"revision_message": "gone"}, expect=204) is None
    assert admin.get(path)["archived"] is True
    assert segment["id"] not in {s["id"] for s in admin.get("/api/segment")}
    revisions = admin.get("/api/revision", params={"entity": "segment", "id": segment["id"]})
    assert [(r["description"], r["message"]) for r in revisions] == [
        ("trashed this Segment.", "gone"),
        ("created this.", None),
    ]


def test_related_lists_the_table_and_its_other_segments(api):
    first, second = create(api), create(api)
    related = api.as_("rasta").get(f"/api/segment/{first['id']}/related")
    assert related["table"]["id"] == first["table_id"]
    ids = {s["id"] for s in related["segments"]}
    assert second["id"] in ids and first["id"] not in ids
    assert api.as_("rasta").get("/api/segment/999999/related", expect=404) == "Not found."
