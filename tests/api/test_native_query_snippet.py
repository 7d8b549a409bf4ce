"""`/api/native-query-snippet`: any user creates, reads and edits snippets; names are unique and must
fit in `{{snippet: name}}`; archiving hides a snippet from the default list."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.test_segment import CREATOR_KEYS
from tests.support.http import Api

ROW_KEYS = {
    "id",
    "entity_id",
    "name",
    "description",
    "content",
    "creator_id",
    "archived",
    "collection_id",
    "template_tags",
    "created_at",
    "updated_at",
}
NAME_ERROR = "snippet names cannot include '}' or start with spaces"


def create(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"name": f"snippet {uuid.uuid4().hex[:8]}", "content": "TOTAL > 10", **extra}
    return api.as_("rasta").post("/api/native-query-snippet", body)


def test_create_read_list(api, user_ids):
    snippet = create(api, description="big ones")
    assert set(snippet) == ROW_KEYS
    assert (snippet["content"], snippet["description"], snippet["creator_id"], snippet["archived"]) == (
        "TOTAL > 10",
        "big ones",
        user_ids["rasta"],
        False,
    )
    fetched = api.as_("lucky").get(f"/api/native-query-snippet/{snippet['id']}")
    assert set(fetched) == ROW_KEYS | {"creator", "is_remote_synced"}
    assert set(fetched["creator"]) >= CREATOR_KEYS
    assert fetched["creator"]["id"] == user_ids["rasta"]
    assert {k: fetched[k] for k in ROW_KEYS} == snippet
    listed = [s for s in api.as_("lucky").get("/api/native-query-snippet") if s["id"] == snippet["id"]]
    assert listed == [fetched]
    assert api.get("/api/native-query-snippet", expect=401) == "Unauthenticated"
    assert api.as_("rasta").get("/api/native-query-snippet/999999", expect=404) == "Not found."


def test_names_are_checked_and_unique(api):
    snippet = create(api)
    rasta = api.as_("rasta")
    for bad in ("a}b", " lead"):
        assert rasta.post("/api/native-query-snippet", {"name": bad, "content": "x"}, expect=400) == {
            "errors": {"name": NAME_ERROR},
            "specific-errors": {"name": [f'{NAME_ERROR}, received: "{bad}"']},
        }
    assert rasta.post("/api/native-query-snippet", {"name": "ok"}, expect=400) == {
        "errors": {"content": "string"},
        "specific-errors": {"content": ["missing required key, received: nil"]},
    }
    taken = {"name": snippet["name"], "content": "y"}
    assert rasta.post("/api/native-query-snippet", taken, expect=400) == (
        "A snippet with that name already exists. Please pick a different name."
    )
    other = create(api)
    path = f"/api/native-query-snippet/{other['id']}"
    assert rasta.put(path, {"name": snippet["name"]}, expect=400) == (
        "A snippet with that name already exists. Please pick a different name."
    )
    assert rasta.put(path, {"name": "x}"}, expect=400)["errors"] == {"name": f"nullable {NAME_ERROR}"}
    assert rasta.put("/api/native-query-snippet/999999", {"content": "z"}, expect=404) == "Not found."


def test_update_and_archive(api):
    snippet = create(api, description="d")
    lucky = api.as_("lucky")
    path = f"/api/native-query-snippet/{snippet['id']}"
    updated = lucky.put(path, {"content": "TOTAL > 20", "name": None, "description": None})
    assert (updated["content"], updated["name"], updated["description"]) == (
        "TOTAL > 20",
        snippet["name"],
        None,
    )
    archived = lucky.put(path, {"archived": True})
    assert archived["archived"] is True
    assert snippet["id"] not in {s["id"] for s in lucky.get("/api/native-query-snippet")}
    assert snippet["id"] in {
        s["id"] for s in lucky.get("/api/native-query-snippet", params={"archived": "true"})
    }
    assert lucky.put(path, {"archived": False})["archived"] is False
