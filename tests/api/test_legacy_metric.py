"""Legacy `/api/metric` (Metabase 0.49's v1 metrics): CRUD by admins, archiving, revisions and revert."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.test_segment import FORBIDDEN, SEGMENT_KEYS
from tests.api.test_table import sample
from tests.support.http import Api

METRIC_KEYS = SEGMENT_KEYS | {"how_is_this_calculated"}


def create(api: Api, **extra: Any) -> dict[str, Any]:
    orders = sample(api)["ORDERS"]
    total = next(f["id"] for f in orders["fields"] if f["name"] == "TOTAL")
    body = {
        "name": f"Revenue {uuid.uuid4().hex[:8]}",
        "table_id": orders["id"],
        "definition": {"source-table": orders["id"], "aggregation": [["sum", ["field", total, None]]]},
    }
    return api.as_("crowberto").post("/api/metric", {**body, **extra})


def test_create_read_and_list(api, user_ids):
    metric = create(api, description="Money")
    assert set(metric) == METRIC_KEYS
    assert (metric["description"], metric["creator_id"], metric["archived"]) == (
        "Money",
        user_ids["crowberto"],
        False,
    )
    assert metric["how_is_this_calculated"] is None
    assert api.as_("rasta").get(f"/api/metric/{metric['id']}") == metric
    listed = [m for m in api.as_("rasta").get("/api/metric") if m["id"] == metric["id"]]
    database_id = sample(api)["ORDERS"]["db_id"]
    assert listed == [{**metric, "database_id": database_id}]
    assert api.get("/api/metric", expect=401) == "Unauthenticated"
    assert api.as_("rasta").get("/api/metric/999999", expect=404) == "Not found."


def test_writes_are_for_admins_with_valid_bodies(api):
    metric = create(api)
    path = f"/api/metric/{metric['id']}"
    rasta, admin = api.as_("rasta"), api.as_("crowberto")
    assert rasta.post("/api/metric", {"name": "a", "table_id": 1, "definition": {}}, expect=403) == FORBIDDEN
    assert rasta.put(path, {"revision_message": "m", "name": "b"}, expect=403) == FORBIDDEN
    assert admin.post("/api/metric", {"name": "", "table_id": 1, "definition": {}}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {
            "name": ['should be at least 1 character, received: ""', 'non-blank string, received: ""']
        },
    }
    assert admin.put(path, {"name": "b"}, expect=400)["errors"] == {
        "revision_message": "value must be a non-blank string."
    }


def test_update_archive_revisions_and_revert(api):
    metric = create(api)
    admin = api.as_("crowberto")
    path = f"/api/metric/{metric['id']}"
    updated = admin.put(path, {"name": "Renamed", "how_is_this_calculated": "Sum", "revision_message": "r"})
    assert (updated["name"], updated["how_is_this_calculated"]) == ("Renamed", "Sum")
    assert admin.delete(path, params={"revision_message": "bye"}, expect=204) is None
    assert admin.get(path)["archived"] is True
    revisions = admin.get(f"{path}/revisions")
    assert [r["description"] for r in revisions] == [
        "trashed this Metric.",
        f'renamed this Metric from "{metric["name"]}" to "Renamed".',
        "created this.",
    ]
    reverted = admin.post(f"{path}/revert", {"revision_id": revisions[-1]["id"]})
    assert (reverted["is_reversion"], reverted["description"]) == (True, "reverted to an earlier version.")
    restored = admin.get(path)
    assert (restored["name"], restored["archived"], restored["how_is_this_calculated"]) == (
        metric["name"],
        False,
        None,
    )
    assert admin.post(f"{path}/revert", {"revision_id": 999999}, expect=404) == "Not found."


def test_important_fields_allow_at_most_three(api):
    metric = create(api)
    admin = api.as_("crowberto")
    path = f"/api/metric/{metric['id']}/important_fields"
    assert admin.put(path, {"important_field_ids": [1, 2]}) == {"success": True}
    assert admin.put(path, {"important_field_ids": [1, 2, 3, 4]}, expect=400) == (
        "A Metric can have a maximum of 3 important fields."
    )
    assert api.as_("rasta").put(path, {"important_field_ids": []}, expect=403) == FORBIDDEN


def test_related(api):
    metric = create(api)
    related = api.as_("rasta").get(f"/api/metric/{metric['id']}/related")
    assert related["table"]["id"] == metric["table_id"]
    assert metric["id"] not in {m["id"] for m in related["metrics"]}
