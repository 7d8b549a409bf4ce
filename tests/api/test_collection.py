"""`/api/collection`: the root, creating, reading, listing, the tree, moving, archiving, deleting, items,
and personal-collection privacy, with Metabase's bodies and statuses.

Tests marked "needs cards" create cards and dashboards through `/api/card` and `/api/dashboard`."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.support.http import Api

FORBIDDEN = "You don't have permissions to do that."
NOT_FOUND = "Not found."
ROOT_ANCESTOR = {
    "metabase.collections.models.collection.root/is-root?": True,
    "authority_level": None,
    "name": "Our analytics",
    "id": "root",
    "can_write": True,
}
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
COLLECTION_KEYS = {
    "authority_level",
    "description",
    "archived",
    "slug",
    "archive_operation_id",
    "name",
    "personal_owner_id",
    "type",
    "is_sample",
    "id",
    "archived_directly",
    "entity_id",
    "location",
    "namespace",
    "created_at",
    "can_write",
    "is_personal",
    "can_restore",
    "can_delete",
}
DETAIL_KEYS = COLLECTION_KEYS | {"parent_id", "effective_location", "effective_ancestors"}


def unique(prefix: str = "Coll") -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def create(api: Api, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return api.post("/api/collection", {"name": name or unique(), **extra})


def personal_id(api: Api) -> int:
    return api.get("/api/user/current")["personal_collection_id"]


def ancestor(collection: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": collection["name"],
        "id": collection["id"],
        "personal_owner_id": None,
        "type": None,
        "can_write": True,
    }


def test_root_collection(api: Api) -> None:
    assert api.as_("rasta").get("/api/collection/root") == {
        "authority_level": None,
        "name": "Our analytics",
        "id": "root",
        "namespace": None,
        "is_personal": False,
        "can_write": True,
        "can_restore": False,
        "can_delete": False,
        "parent_id": None,
        "effective_location": None,
        "effective_ancestors": [],
    }
    assert api.as_("rasta").get("/api/collection/root?namespace=snippets")["namespace"] == "snippets"


def test_anonymous_is_refused(api: Api) -> None:
    for path in (
        "/api/collection",
        "/api/collection/root",
        "/api/collection/tree",
        "/api/collection/trash",
        "/api/collection/1",
        "/api/collection/root/items",
        "/api/collection/1/items",
    ):
        assert api.get(path, expect=401) == "Unauthenticated"
    assert api.post("/api/collection", {"name": "x"}, expect=401) == "Unauthenticated"
    assert api.put("/api/collection/1", {"name": "x"}, expect=401) == "Unauthenticated"
    assert api.delete("/api/collection/1", expect=401) == "Unauthenticated"


def test_create_and_get(api: Api) -> None:
    rasta = api.as_("rasta")
    name = unique("Top Level!")
    top = create(rasta, name, description="About it")
    assert set(top) == DETAIL_KEYS
    assert TIMESTAMP_RE.match(top["created_at"])
    assert len(top["entity_id"]) == 21
    assert {k: v for k, v in top.items() if k not in ("id", "entity_id", "created_at")} == {
        "authority_level": None,
        "description": "About it",
        "archived": False,
        "slug": "top_level_" + name.rsplit(" ", 1)[1],
        "archive_operation_id": None,
        "name": name,
        "personal_owner_id": None,
        "type": None,
        "is_sample": False,
        "archived_directly": None,
        "location": "/",
        "namespace": None,
        "can_write": True,
        "is_personal": False,
        "can_restore": False,
        "can_delete": False,
        "parent_id": None,
        "effective_location": "/",
        "effective_ancestors": [ROOT_ANCESTOR],
    }
    child = create(rasta, parent_id=top["id"])
    grandchild = create(rasta, parent_id=child["id"])
    assert child["location"] == f"/{top['id']}/"
    assert grandchild["location"] == f"/{top['id']}/{child['id']}/"
    assert grandchild["parent_id"] == child["id"]
    assert grandchild["effective_location"] == grandchild["location"]
    assert grandchild["effective_ancestors"] == [ROOT_ANCESTOR, ancestor(top), ancestor(child)]
    assert rasta.get(f"/api/collection/{grandchild['id']}") == grandchild
    assert rasta.get(f"/api/collection/{grandchild['entity_id']}") == grandchild


def test_create_invalid(api: Api) -> None:
    rasta = api.as_("rasta")
    assert rasta.post("/api/collection", {}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {"name": ["missing required key, received: nil"]},
    }
    assert rasta.post("/api/collection", {"name": ""}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {
            "name": ['should be at least 1 character, received: ""', 'non-blank string, received: ""']
        },
    }
    body = rasta.post("/api/collection", {"name": "x", "parent_id": 0}, expect=400)
    assert body["errors"] == {"parent_id": "nullable value must be an integer greater than zero."}
    assert rasta.post("/api/collection", {"name": "x", "parent_id": 2**31 - 2}, expect=404) == NOT_FOUND
    trash = rasta.get("/api/collection/trash")
    assert (
        rasta.post("/api/collection", {"name": "x", "parent_id": trash["id"]}, expect=400)
        == "You cannot modify the Trash Collection."
    )


def test_unknown_ids(api: Api) -> None:
    admin = api.as_("crowberto")
    missing = 2**31 - 2
    assert admin.get(f"/api/collection/{missing}", expect=404) == NOT_FOUND
    assert admin.get("/api/collection/aaaaaaaaaaaaaaaaaaaaa", expect=404) == NOT_FOUND
    assert admin.get(f"/api/collection/{missing}/items", expect=404) == NOT_FOUND
    assert admin.put(f"/api/collection/{missing}", {"name": "x"}, expect=404) == NOT_FOUND
    assert admin.delete(f"/api/collection/{missing}", expect=404) == NOT_FOUND


def test_trash(api: Api) -> None:
    trash = api.as_("rasta").get("/api/collection/trash")
    assert set(trash) == DETAIL_KEYS
    assert (trash["name"], trash["type"], trash["location"], trash["can_write"]) == (
        "Trash",
        "trash",
        "/",
        False,
    )
    assert api.as_("rasta").get(f"/api/collection/{trash['id']}") == trash
    assert api.as_("rasta").put(f"/api/collection/{trash['id']}", {"name": "Bin"}, expect=403) == FORBIDDEN


def test_list(api: Api, user_ids: dict[str, int]) -> None:
    rasta, lucky, admin = api.as_("rasta"), api.as_("lucky"), api.as_("crowberto")
    mine = create(rasta)
    listed = rasta.get("/api/collection")
    assert listed[0] == {
        "authority_level": None,
        "name": "Our analytics",
        "id": "root",
        "can_write": True,
        "is_personal": False,
        "can_delete": False,
    }
    by_id = {c["id"]: c for c in listed}
    assert set(by_id[mine["id"]]) == COLLECTION_KEYS
    assert {k: by_id[mine["id"]][k] for k in COLLECTION_KEYS} == {k: mine[k] for k in COLLECTION_KEYS}
    trash_id = rasta.get("/api/collection/trash")["id"]
    assert trash_id not in by_id
    rasta_personal, lucky_personal = personal_id(rasta), personal_id(lucky)
    assert by_id[rasta_personal]["is_personal"] is True
    assert by_id[rasta_personal]["personal_owner_id"] == user_ids["rasta"]
    assert lucky_personal not in by_id
    assert all(not c["archived"] for c in listed[1:])

    archived = rasta.get("/api/collection?archived=true")
    assert "root" not in {c["id"] for c in archived}
    assert trash_id in {c["id"] for c in archived}

    everyone = {c["id"] for c in admin.get("/api/collection")}
    assert {rasta_personal, lucky_personal} <= everyone
    own_only = {c["id"] for c in admin.get("/api/collection?exclude-other-user-collections=true")}
    assert rasta_personal not in own_only and mine["id"] in own_only
    personal = admin.get("/api/collection?personal-only=true")
    assert {rasta_personal, lucky_personal} <= {c["id"] for c in personal}
    assert all(c["personal_owner_id"] is not None for c in personal)
    assert {c["id"] for c in lucky.get("/api/collection?personal-only=true")} == {lucky_personal}
    assert rasta.get("/api/collection?archived=maybe", expect=400) == {
        "errors": {"archived": "nullable value must be a valid boolean string ('true' or 'false')."},
        "specific-errors": {
            "archived": ["value must be a valid boolean string ('true' or 'false'), received: \"maybe\""]
        },
    }


def test_personal_collection_privacy(api: Api, user_ids: dict[str, int]) -> None:
    rasta, lucky, admin = api.as_("rasta"), api.as_("lucky"), api.as_("crowberto")
    personal = personal_id(rasta)
    inside = create(rasta, parent_id=personal)
    assert inside["is_personal"] is True
    for path in (
        f"/api/collection/{personal}",
        f"/api/collection/{inside['id']}",
        f"/api/collection/{personal}/items",
    ):
        assert lucky.get(path, expect=403) == FORBIDDEN
        admin.get(path)
    assert lucky.post("/api/collection", {"name": "x", "parent_id": personal}, expect=403) == FORBIDDEN
    assert lucky.put(f"/api/collection/{inside['id']}", {"name": "x"}, expect=403) == FORBIDDEN
    mine = create(lucky)
    assert lucky.put(f"/api/collection/{mine['id']}", {"parent_id": personal}, expect=403) == FORBIDDEN
    assert inside["id"] not in {c["id"] for c in lucky.get("/api/collection")}
    assert personal not in {c["id"] for c in lucky.get("/api/collection/tree")}
    body = rasta.get(f"/api/collection/{personal}")
    assert (body["personal_owner_id"], body["is_personal"], body["location"]) == (
        user_ids["rasta"],
        True,
        "/",
    )

    assert rasta.put(f"/api/collection/{personal}", {"archived": True}, expect=400) == {
        "errors": {"archived": "You cannot archive a Personal Collection!"}
    }
    top = create(rasta)
    assert rasta.put(f"/api/collection/{personal}", {"parent_id": top["id"]}, expect=400) == {
        "errors": {"location": "You cannot move a Personal Collection."}
    }


def test_update_and_move(api: Api) -> None:
    rasta = api.as_("rasta")
    a = create(rasta)
    b = create(rasta, parent_id=a["id"])
    c = create(rasta, parent_id=b["id"])
    d = create(rasta)
    new_name = unique("Renamed")
    updated = rasta.put(f"/api/collection/{a['id']}", {"name": new_name, "description": "now"})
    assert (updated["name"], updated["description"], updated["slug"]) == (
        new_name,
        "now",
        new_name.lower().replace(" ", "_"),
    )
    moved = rasta.put(f"/api/collection/{a['id']}", {"parent_id": d["id"]})
    assert (moved["location"], moved["parent_id"]) == (f"/{d['id']}/", d["id"])
    assert rasta.get(f"/api/collection/{b['id']}")["location"] == f"/{d['id']}/{a['id']}/"
    assert rasta.get(f"/api/collection/{c['id']}")["location"] == f"/{d['id']}/{a['id']}/{b['id']}/"
    message = "You can't move a Collection into itself or into one of its descendants."
    assert rasta.put(f"/api/collection/{a['id']}", {"parent_id": c["id"]}, expect=400) == message
    assert rasta.put(f"/api/collection/{a['id']}", {"parent_id": a["id"]}, expect=400) == message
    assert rasta.put(f"/api/collection/{a['id']}", {"parent_id": 2**31 - 2}, expect=404) == NOT_FOUND
    back = rasta.put(f"/api/collection/{a['id']}", {"parent_id": None})
    assert back["location"] == "/"
    assert rasta.get(f"/api/collection/{c['id']}")["location"] == f"/{a['id']}/{b['id']}/"
    assert rasta.put(f"/api/collection/{a['id']}", {"name": ""}, expect=400)["errors"] == {
        "name": "nullable value must be a non-blank string."
    }


def test_archive_and_unarchive(api: Api) -> None:
    rasta, admin = api.as_("rasta"), api.as_("crowberto")
    a = create(rasta)
    b = create(rasta, parent_id=a["id"])
    c = create(rasta, parent_id=b["id"])
    b_sibling = create(rasta, parent_id=a["id"])
    # Archived on its own first: unarchiving `a` later must leave it in the Trash.
    rasta.put(f"/api/collection/{b_sibling['id']}", {"archived": True})
    sibling_op = rasta.get(f"/api/collection/{b_sibling['id']}")["archive_operation_id"]

    archived = rasta.put(f"/api/collection/{a['id']}", {"archived": True})
    trash = rasta.get("/api/collection/trash")
    assert (archived["archived"], archived["archived_directly"], archived["can_restore"]) == (
        True,
        True,
        True,
    )
    assert archived["effective_location"] == f"/{trash['id']}/"
    assert archived["effective_ancestors"] == [
        ROOT_ANCESTOR,
        {**ancestor(trash), "type": "trash", "can_write": False},
    ]
    operation = archived["archive_operation_id"]
    assert operation and operation != sibling_op
    for child in (b, c):
        got = rasta.get(f"/api/collection/{child['id']}")
        assert (got["archived"], got["archived_directly"], got["archive_operation_id"]) == (
            True,
            False,
            operation,
        )
        assert got["can_restore"] is False
    assert rasta.get(f"/api/collection/{b_sibling['id']}")["archive_operation_id"] == sibling_op
    assert a["id"] not in {x["id"] for x in rasta.get("/api/collection")}
    assert {a["id"], b["id"]} <= {x["id"] for x in rasta.get("/api/collection?archived=true")}
    trash_items = rasta.get(f"/api/collection/{trash['id']}/items?models=collection")
    trash_ids = {item["id"] for item in trash_items["data"]}
    assert a["id"] in trash_ids and b_sibling["id"] in trash_ids and b["id"] not in trash_ids
    assert admin.get(f"/api/collection/{a['id']}")["can_delete"] is True

    restored = rasta.put(f"/api/collection/{a['id']}", {"archived": False})
    assert (restored["archived"], restored["archived_directly"], restored["archive_operation_id"]) == (
        False,
        None,
        None,
    )
    for child in (b, c):
        got = rasta.get(f"/api/collection/{child['id']}")
        assert (got["archived"], got["archived_directly"], got["archive_operation_id"]) == (False, None, None)
    still = rasta.get(f"/api/collection/{b_sibling['id']}")
    assert (still["archived"], still["archived_directly"]) == (True, True)


def test_delete(api: Api) -> None:
    rasta, admin = api.as_("rasta"), api.as_("crowberto")
    a = create(rasta)
    b = create(rasta, parent_id=a["id"])
    assert rasta.delete(f"/api/collection/{a['id']}", expect=403) == FORBIDDEN
    assert (
        admin.delete(f"/api/collection/{a['id']}", expect=400)
        == "Collection must be trashed before deletion."
    )
    rasta.put(f"/api/collection/{a['id']}", {"archived": True})
    assert admin.delete(f"/api/collection/{a['id']}", expect=204) is None
    assert admin.get(f"/api/collection/{a['id']}", expect=404) == NOT_FOUND
    assert admin.get(f"/api/collection/{b['id']}", expect=404) == NOT_FOUND


def test_tree(api: Api) -> None:
    rasta = api.as_("rasta")
    a = create(rasta)
    b = create(rasta, parent_id=a["id"])
    c = create(rasta, parent_id=b["id"])
    tree = rasta.get("/api/collection/tree")
    node = next(n for n in tree if n["id"] == a["id"])
    assert set(node) == COLLECTION_KEYS | {"children", "here", "below"}
    assert (node["here"], node["below"]) == (["collection"], ["collection"])
    (child,) = node["children"]
    assert (child["id"], child["here"], child["below"]) == (b["id"], ["collection"], [])
    (grandchild,) = child["children"]
    assert (grandchild["id"], grandchild["children"], grandchild["here"]) == (c["id"], [], [])
    assert all(n["id"] != b["id"] for n in tree)

    shallow = rasta.get(f"/api/collection/tree?shallow=true&collection-id={a['id']}")
    assert [(n["id"], n["children"]) for n in shallow] == [(b["id"], True)]
    top = rasta.get("/api/collection/tree?shallow=true")
    assert (a["id"], True) in [(n["id"], n["children"]) for n in top]

    rasta.put(f"/api/collection/{c['id']}", {"archived": True})
    pruned = rasta.get("/api/collection/tree?exclude-archived=true")
    node = next(n for n in pruned if n["id"] == a["id"])
    assert node["children"][0]["children"] == []
    trash_id = rasta.get("/api/collection/trash")["id"]
    assert trash_id not in {n["id"] for n in pruned}


def test_items_of_collections(api: Api) -> None:
    rasta = api.as_("rasta")
    a = create(rasta)
    b = create(rasta, unique("B"), parent_id=a["id"])
    c = create(rasta, unique("A"), parent_id=a["id"])
    create(rasta, parent_id=b["id"])
    body = rasta.get(f"/api/collection/{a['id']}/items")
    assert body["models"] == ["card", "collection", "dashboard", "dataset", "metric", "pulse", "timeline"]
    assert (body["total"], body["limit"], body["offset"]) == (2, None, None)
    first, second = body["data"]
    assert [first["id"], second["id"]] == [c["id"], b["id"]]
    assert second == {
        "id": b["id"],
        "name": b["name"],
        "description": None,
        "entity_id": b["entity_id"],
        "collection_id": a["id"],
        "dashboard_id": None,
        "model": "collection",
        "authority_level": None,
        "location": f"/{a['id']}/",
        "type": None,
        "database_id": None,
        "archived": False,
        "last_used_at": None,
        "can_write": True,
        "effective_location": f"/{a['id']}/",
        "can_restore": False,
        "can_delete": False,
        "here": ["collection"],
        "below": [],
    }
    desc = rasta.get(f"/api/collection/{a['id']}/items?sort_column=name&sort_direction=desc")
    assert [item["id"] for item in desc["data"]] == [b["id"], c["id"]]
    paged = rasta.get(f"/api/collection/{a['id']}/items?limit=1&offset=1")
    assert (paged["total"], paged["limit"], paged["offset"], [i["id"] for i in paged["data"]]) == (
        2,
        1,
        1,
        [b["id"]],
    )
    assert rasta.get(f"/api/collection/{a['id']}/items?offset=1")["limit"] == 50
    assert rasta.get(f"/api/collection/{a['id']}/items?models=no_models") == {
        "total": 0,
        "data": [],
        "limit": None,
        "offset": None,
        "models": [],
    }
    only = rasta.get(f"/api/collection/{a['id']}/items?models=collection&models=dashboard")
    assert only["models"] == ["collection", "dashboard"]
    assert rasta.get(f"/api/collection/{a['id']}/items?pinned_state=is_pinned")["total"] == 0
    bad = rasta.get(f"/api/collection/{a['id']}/items?models=widget", expect=400)
    assert set(bad) == {"errors", "specific-errors"} and "models" in bad["errors"]
    assert (
        "sort_column" in rasta.get(f"/api/collection/{a['id']}/items?sort_column=size", expect=400)["errors"]
    )

    root = rasta.get("/api/collection/root/items?models=collection")
    root_ids = {item["id"] for item in root["data"]}
    assert a["id"] in root_ids and b["id"] not in root_ids
    assert personal_id(rasta) not in root_ids
    assert all(item["collection_id"] is None for item in root["data"])


# ---------------------------------------------------------------------------------------------------
# Needs cards: these use `POST /api/card` and `POST /api/dashboard`.


def native_card(
    api: Api, collection_id: int | None, card_type: str = "question", **extra: Any
) -> dict[str, Any]:
    database_id = next(d["id"] for d in api.get("/api/database")["data"] if d["is_sample"])
    return api.post(
        "/api/card",
        {
            "name": unique("Card"),
            "type": card_type,
            "display": "table",
            "visualization_settings": {},
            "dataset_query": {"database": database_id, "type": "native", "native": {"query": "SELECT 1"}},
            "collection_id": collection_id,
            **extra,
        },
    )


def test_items_with_cards_and_dashboards(api: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    a = create(rasta)
    sub = create(rasta, parent_id=a["id"])
    question = native_card(rasta, a["id"], collection_position=1)
    model = native_card(rasta, a["id"], "model")
    metric_parent = create(rasta, parent_id=sub["id"])
    native_card(rasta, metric_parent["id"], "metric")
    dashboard = rasta.post("/api/dashboard", {"name": unique("Dash"), "collection_id": a["id"]})

    body = rasta.get(f"/api/collection/{a['id']}/items")
    by_model = {item["model"]: item for item in body["data"]}
    assert set(by_model) == {"card", "dataset", "dashboard", "collection"}
    card = by_model["card"]
    assert card["id"] == question["id"]
    assert (card["collection_id"], card["collection_position"], card["display"]) == (a["id"], 1, "table")
    assert (card["dashboard_count"], card["fully_parameterized"], card["dashboard"]) == (0, True, None)
    assert card["database_id"] == question["database_id"]
    assert card["last-edit-info"]["id"] == user_ids["rasta"]
    assert card["last-edit-info"]["email"] == "rasta@metabase.com"
    assert by_model["dataset"]["id"] == model["id"]
    assert by_model["dashboard"]["id"] == dashboard["id"]
    assert by_model["dashboard"]["location"] == f"/{a['id']}/"
    assert (by_model["collection"]["here"], by_model["collection"]["below"]) == (["collection"], ["metric"])

    by_kind = rasta.get(f"/api/collection/{a['id']}/items?sort_column=model")
    assert [item["model"] for item in by_kind["data"]] == ["dashboard", "dataset", "card", "collection"]
    pinned = rasta.get(f"/api/collection/{a['id']}/items?pinned_state=is_pinned")
    assert [item["id"] for item in pinned["data"]] == [question["id"]]
    datasets = rasta.get(f"/api/collection/{a['id']}/items?models=dataset")
    assert [item["id"] for item in datasets["data"]] == [model["id"]]

    tree = rasta.get("/api/collection/tree")
    node = next(n for n in tree if n["id"] == a["id"])
    assert node["here"] == ["card", "collection", "dashboard", "dataset"]
    assert node["below"] == ["collection", "metric"]

    rasta.put(f"/api/collection/{a['id']}", {"archived": True})
    got = rasta.get(f"/api/card/{question['id']}")
    assert (got["archived"], got["archived_directly"]) == (True, False)
    archived_items = rasta.get(f"/api/collection/{a['id']}/items?models=card")
    assert [item["id"] for item in archived_items["data"]] == [question["id"]]
    rasta.put(f"/api/collection/{a['id']}", {"archived": False})
    assert rasta.get(f"/api/card/{question['id']}")["archived"] is False
    assert rasta.get(f"/api/dashboard/{dashboard['id']}")["archived"] is False

    root_metric = native_card(rasta, None, "metric")
    root = rasta.get("/api/collection/root/items?models=metric")
    assert root_metric["id"] in {item["id"] for item in root["data"]}
    assert root["models"] == ["metric"]
    rasta.put(f"/api/card/{question['id']}", {"archived": True})
    trash_id = rasta.get("/api/collection/trash")["id"]
    trash_items = rasta.get(f"/api/collection/{trash_id}/items?models=card")
    (trashed,) = [item for item in trash_items["data"] if item["id"] == question["id"]]
    assert (trashed["archived"], trashed["can_restore"], trashed["collection_id"]) == (True, True, trash_id)
    remaining = rasta.get(f"/api/collection/{a['id']}/items")["data"]
    assert ("card", question["id"]) not in {(i["model"], i["id"]) for i in remaining}


def test_items_models_must_be_known(api: Api) -> None:
    rasta = api.as_("rasta")
    models_enum = (
        "enum of dashboard, dataset, no_models, timeline, snippet, collection, document, pulse, metric, card"
    )
    should_be = (
        'should be either "dashboard", "dataset", "no_models", "timeline", "snippet", "collection", '
        '"document", "pulse", "metric" or "card"'
    )
    assert rasta.get("/api/collection/root/items?models=card&models=widget", expect=400) == {
        "errors": {"models": f"nullable vector of {models_enum}"},
        "specific-errors": {"models": [None, [f'{should_be}, received: "widget"']]},
    }
    collection = rasta.post("/api/collection", {"name": f"Box {uuid.uuid4().hex[:8]}"})
    assert rasta.get(f"/api/collection/{collection['id']}/items?models=x", expect=400)["specific-errors"] == {
        "models": [[f'{should_be}, received: "x"']]
    }
    both = rasta.get("/api/collection/root/items?models=card&models=dashboard&models=card")
    assert both["models"] == ["card", "dashboard"]


def test_creating_or_changing_a_collection_is_a_recent_view(api: Api) -> None:
    rasta = api.as_("rasta")

    def viewed() -> list[int]:
        views = rasta.get("/api/activity/recent_views")["recent_views"]
        return [v["id"] for v in views if v["model"] == "collection"]

    first = rasta.post("/api/collection", {"name": f"First {uuid.uuid4().hex[:8]}"})
    second = rasta.post("/api/collection", {"name": f"Second {uuid.uuid4().hex[:8]}"})
    assert viewed()[:2] == [second["id"], first["id"]]
    rasta.put(f"/api/collection/{first['id']}", {"description": "Now described"})
    assert viewed()[:2] == [first["id"], second["id"]]
    # Reading one is not.
    rasta.get(f"/api/collection/{second['id']}")
    assert viewed()[:2] == [first["id"], second["id"]]
