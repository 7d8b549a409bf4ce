"""`/api/dashboard`: dashboards, their cards and tabs (all three API generations), filters and running cards,
on the Sample Database."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.http import Api

# Orders per product category in the Sample Database.
ORDERS_BY_CATEGORY = {"Doohickey": 3976, "Gadget": 4939, "Gizmo": 4784, "Widget": 5061}
DASHBOARD_KEYS = {
    "id",
    "entity_id",
    "name",
    "description",
    "creator_id",
    "creator",
    "collection_id",
    "collection",
    "collection_position",
    "collection_authority_level",
    "parameters",
    "dashcards",
    "tabs",
    "param_fields",
    "last_used_param_values",
    "archived",
    "archived_directly",
    "public_uuid",
    "made_public_by_id",
    "enable_embedding",
    "embedding_params",
    "embedding_type",
    "initially_published_at",
    "cache_ttl",
    "width",
    "auto_apply_filters",
    "show_in_getting_started",
    "caveats",
    "points_of_interest",
    "position",
    "view_count",
    "last_viewed_at",
    "moderation_reviews",
    "can_write",
    "can_restore",
    "can_delete",
    "is_remote_synced",
    "last-edit-info",
    "created_at",
    "updated_at",
}
DASHCARD_KEYS = {
    "id",
    "entity_id",
    "dashboard_id",
    "dashboard_tab_id",
    "card_id",
    "card",
    "action_id",
    "row",
    "col",
    "size_x",
    "size_y",
    "series",
    "parameter_mappings",
    "visualization_settings",
    "inline_parameters",
    "created_at",
    "updated_at",
}
TEXT_CARD = {
    "virtual_card": {
        "name": None,
        "display": "text",
        "visualization_settings": {},
        "dataset_query": {},
        "archived": False,
    },
    "text": "# Hello",
}


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def sample(admin: Api) -> dict[str, int]:
    """The Sample Database once synced: its id and ids by "TABLE" and "TABLE.FIELD"."""
    database = next(d for d in admin.get("/api/database")["data"] if d["is_sample"])
    for _ in range(600):
        if admin.get(f"/api/database/{database['id']}")["initial_sync_status"] == "complete":
            break
        time.sleep(0.1)
    ids = {"db": database["id"]}
    for table in admin.get(f"/api/database/{database['id']}/metadata")["tables"]:
        ids[table["name"]] = table["id"]
        for field in table["fields"]:
            ids[f"{table['name']}.{field['name']}"] = field["id"]
    return ids


def count_orders_card(api: Api, sample: dict[str, int], **extra: Any) -> dict[str, Any]:
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": sample["ORDERS"], "aggregation": [["count"]]},
    }
    body = {
        "name": unique("Orders"),
        "display": "scalar",
        "visualization_settings": {},
        "dataset_query": query,
    }
    return api.post("/api/card", {**body, **extra})


def native_count_card(api: Api, sample: dict[str, int]) -> dict[str, Any]:
    tag = {
        "id": "4b4d7d4c-1",
        "name": "category",
        "display-name": "Category",
        "type": "dimension",
        "dimension": ["field", sample["PRODUCTS.CATEGORY"], None],
        "widget-type": "string/=",
    }
    query = {
        "database": sample["db"],
        "type": "native",
        "native": {
            "query": "SELECT COUNT(*) FROM ORDERS JOIN PRODUCTS ON ORDERS.PRODUCT_ID = PRODUCTS.ID "
            "WHERE {{category}}",
            "template-tags": {"category": tag},
        },
    }
    return api.post(
        "/api/card",
        {"name": unique("Native"), "display": "scalar", "visualization_settings": {}, "dataset_query": query},
    )


def new_dashboard(api: Api, **extra: Any) -> dict[str, Any]:
    return api.post("/api/dashboard", {"name": unique("Dash"), **extra})


CATEGORY_PARAMETER = {
    "id": "cat1",
    "name": "Category",
    "slug": "category",
    "type": "string/=",
    "sectionId": "string",
}


def category_target(sample: dict[str, int]) -> list[Any]:
    ref = [
        "field",
        sample["PRODUCTS.CATEGORY"],
        {"base-type": "type/Text", "source-field": sample["ORDERS.PRODUCT_ID"]},
    ]
    return ["dimension", ref, {"stage-number": 0}]


# --- Create and read.


def test_create_then_get_answers_the_full_dashboard(api, user_ids):
    rasta = api.as_("rasta")
    name = unique("Sales")
    created = rasta.post(
        "/api/dashboard",
        {"name": name, "description": "About sales", "parameters": [CATEGORY_PARAMETER], "cache_ttl": 60},
    )
    assert set(created) == DASHBOARD_KEYS
    assert {k: created[k] for k in ("name", "description", "parameters", "cache_ttl", "creator_id")} == {
        "name": name,
        "description": "About sales",
        "parameters": [CATEGORY_PARAMETER],
        "cache_ttl": 60,
        "creator_id": user_ids["rasta"],
    }
    assert (
        created["dashcards"],
        created["tabs"],
        created["param_fields"],
        created["last_used_param_values"],
    ) == (
        [],
        [],
        {},
        {},
    )
    assert (
        created["archived"],
        created["archived_directly"],
        created["width"],
        created["auto_apply_filters"],
    ) == (
        False,
        False,
        "fixed",
        True,
    )
    assert (created["collection_id"], created["collection"]["id"], created["collection"]["name"]) == (
        None,
        "root",
        "Our analytics",
    )
    assert created["creator"]["email"] == "rasta@metabase.com"
    edit = created["last-edit-info"]
    assert (edit["id"], edit["first_name"], edit["last_name"], edit["email"]) == (
        user_ids["rasta"],
        "Rasta",
        "Toucan",
        "rasta@metabase.com",
    )
    fetched = rasta.get(f"/api/dashboard/{created['id']}")
    assert fetched == created
    assert rasta.get(f"/api/dashboard/{created['entity_id']}") == created


def test_create_rejects_bad_bodies(api):
    rasta = api.as_("rasta")
    assert rasta.post("/api/dashboard", {}, expect=400) == {
        "errors": {"name": "value must be a non-blank string."},
        "specific-errors": {"name": ["should be a string, received: nil", "non-blank string, received: nil"]},
    }
    assert rasta.post("/api/dashboard", {"name": "Test", "parameters": "abc"}, expect=400) == {
        "errors": {"parameters": "nullable sequence of parameter must be a map with :id and :type keys"},
        "specific-errors": {"parameters": ['invalid type, received: "abc"']},
    }
    body = rasta.post("/api/dashboard", {"name": "Test", "parameters": [{"name": "no id"}]}, expect=400)
    assert body["errors"] == {
        "parameters": "nullable sequence of parameter must be a map with :id and :type keys"
    }
    assert body["specific-errors"] == {
        "parameters": [
            {"id": ["missing required key, received: nil"], "type": ["missing required key, received: nil"]}
        ]
    }
    assert (
        rasta.post("/api/dashboard", {"name": "Test", "collection_id": 99999999}, expect=404) == "Not found."
    )
    assert api.post("/api/dashboard", {"name": "Test"}, expect=401) == "Unauthenticated"
    assert api.get("/api/dashboard", expect=401) == "Unauthenticated"


def test_unknown_dashboards_are_404(api):
    rasta = api.as_("rasta")
    assert rasta.get("/api/dashboard/99999999", expect=404) == "Not found."
    assert rasta.get("/api/dashboard/aaaaaaaaaaaaaaaaaaaaa", expect=404) == "Not found."
    assert rasta.put("/api/dashboard/99999999", {"name": "x"}, expect=404) == "Not found."
    assert rasta.delete("/api/dashboard/99999999", expect=404) == "Not found."
    assert rasta.post("/api/dashboard/99999999/copy", {}, expect=404) == "Not found."
    assert rasta.post("/api/dashboard/99999999/cards", {"cardId": None}, expect=404) == "Not found."


def test_another_users_personal_collection_is_private(api):
    lucky = api.as_("lucky")
    lucky_collection = lucky.get("/api/user/current")["personal_collection_id"]
    private = new_dashboard(lucky, collection_id=lucky_collection)
    assert private["collection"]["is_personal"] is True
    rasta = api.as_("rasta")
    assert (
        rasta.get(f"/api/dashboard/{private['id']}", expect=403) == "You don't have permissions to do that."
    )
    assert rasta.post("/api/dashboard", {"name": "x", "collection_id": lucky_collection}, expect=403) == (
        "You don't have permissions to do that."
    )
    assert private["id"] not in {d["id"] for d in rasta.get("/api/dashboard")}
    assert api.as_("crowberto").get(f"/api/dashboard/{private['id']}")["id"] == private["id"]


# --- Cards on a dashboard.


def test_old_api_adds_updates_and_removes_cards(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    other = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}/cards"
    added = rasta.post(path, {"cardId": card["id"], "row": 1, "col": 2, "sizeX": 6, "sizeY": 3, "series": []})
    assert set(added) == DASHCARD_KEYS
    assert {k: added[k] for k in ("dashboard_id", "card_id", "row", "col", "size_x", "size_y", "series")} == {
        "dashboard_id": dashboard["id"],
        "card_id": card["id"],
        "row": 1,
        "col": 2,
        "size_x": 6,
        "size_y": 3,
        "series": [],
    }
    assert (added["card"]["id"], added["card"]["name"]) == (card["id"], card["name"])
    second = rasta.post(
        path, {"card_id": other["id"], "size_x": 4, "size_y": 4, "series": [{"id": card["id"]}]}
    )
    assert ([s["id"] for s in second["series"]], second["row"], second["col"]) == ([card["id"]], 0, 0)

    answer = rasta.put(
        path,
        {
            "cards": [
                {"id": added["id"], "row": 5, "col": 0, "size_x": 12, "size_y": 4},
                {"id": second["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4, "series": []},
            ]
        },
    )
    assert set(answer) == {"cards", "tabs"}
    assert [(c["id"], c["row"], c["size_x"], c["series"]) for c in answer["cards"]] == [
        (second["id"], 0, 4, []),
        (added["id"], 5, 12, []),
    ]
    assert rasta.delete(path, params={"dashcardId": second["id"]}, expect=204) is None
    assert [c["id"] for c in rasta.get(f"/api/dashboard/{dashboard['id']}")["dashcards"]] == [added["id"]]
    assert rasta.delete(path, params={"dashcardId": second["id"]}, expect=404) == "Not found."
    assert rasta.post(path, {"cardId": 99999999}, expect=404) == "Not found."


def test_put_replaces_dashcards_and_tabs(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}"
    body = rasta.put(
        path,
        {
            "dashcards": [
                {
                    "id": -1,
                    "card_id": card["id"],
                    "row": 0,
                    "col": 0,
                    "size_x": 6,
                    "size_y": 4,
                    "dashboard_tab_id": -1,
                },
                {
                    "id": -2,
                    "card_id": None,
                    "row": 0,
                    "col": 0,
                    "size_x": 12,
                    "size_y": 2,
                    "dashboard_tab_id": -2,
                    "visualization_settings": TEXT_CARD,
                },
            ],
            "tabs": [{"id": -1, "name": "Overview"}, {"id": -2, "name": "Notes"}],
        },
    )
    assert set(body) == DASHBOARD_KEYS
    tabs = body["tabs"]
    assert [(t["name"], t["position"], t["dashboard_id"]) for t in tabs] == [
        ("Overview", 0, dashboard["id"]),
        ("Notes", 1, dashboard["id"]),
    ]
    assert all(t["id"] > 0 for t in tabs)
    by_card = {dc["card_id"]: dc for dc in body["dashcards"]}
    assert set(by_card) == {card["id"], None}
    assert by_card[card["id"]]["dashboard_tab_id"] == tabs[0]["id"]
    text = by_card[None]
    assert (text["dashboard_tab_id"], text["card"], text["visualization_settings"]) == (
        tabs[1]["id"],
        None,
        TEXT_CARD,
    )

    # Omitting the text card and the second tab deletes them; the kept card moves.
    kept = by_card[card["id"]]
    body = rasta.put(
        path,
        {
            "dashcards": [{**kept, "row": 3}],
            "tabs": [{"id": tabs[0]["id"], "name": "Renamed"}],
        },
    )
    assert [(t["id"], t["name"]) for t in body["tabs"]] == [(tabs[0]["id"], "Renamed")]
    assert [(dc["id"], dc["row"]) for dc in body["dashcards"]] == [(kept["id"], 3)]

    # Dropping all tabs and cards.
    body = rasta.put(path, {"dashcards": [], "tabs": []})
    assert (body["dashcards"], body["tabs"]) == ([], [])


def test_put_rejects_bad_dashcards(api, sample):
    rasta = api.as_("rasta")
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}"
    body = rasta.put(
        path, {"dashcards": [{"id": -1, "row": 0, "col": 0, "size_x": 0, "size_y": 2}]}, expect=400
    )
    assert body == {
        "errors": {"dashcards": "nullable value must be seq of maps in which ids are unique"},
        "specific-errors": {
            "dashcards": [{"size_x": ["value must be an integer greater than zero., received: 0"]}]
        },
    }
    card = {"row": 0, "col": 0, "size_x": 2, "size_y": 2}
    body = rasta.put(path, {"dashcards": [{"id": -1, **card}, {"id": -1, **card}]}, expect=400)
    assert body["errors"] == {"dashcards": "nullable value must be seq of maps in which ids are unique"}
    body = rasta.put(
        path,
        {"dashcards": [{"id": -1, "card_id": 99999999, "row": 0, "col": 0, "size_x": 2, "size_y": 2}]},
        expect=404,
    )
    assert body == "Not found."
    body = rasta.put(path, {"width": "wide"}, expect=400)
    assert body == {
        "errors": {"width": "nullable enum of fixed, full"},
        "specific-errors": {"width": ['should be either "fixed" or "full", received: "wide"']},
    }
    assert rasta.put(path, {"parameters": [{"id": "x"}]}, expect=400)["specific-errors"] == {
        "parameters": [{"type": ["missing required key, received: nil"]}]
    }


def test_put_updates_fields_and_archives_to_the_trash(api):
    rasta = api.as_("rasta")
    dashboard = new_dashboard(rasta)
    path = f"/api/dashboard/{dashboard['id']}"
    body = rasta.put(
        path,
        {
            "name": "Renamed",
            "description": None,
            "width": "full",
            "auto_apply_filters": False,
            "caveats": "careful",
            "parameters": [CATEGORY_PARAMETER],
        },
    )
    assert {
        k: body[k] for k in ("name", "description", "width", "auto_apply_filters", "caveats", "parameters")
    } == {
        "name": "Renamed",
        "description": None,
        "width": "full",
        "auto_apply_filters": False,
        "caveats": "careful",
        "parameters": [CATEGORY_PARAMETER],
    }
    # A null name is ignored rather than stored.
    assert rasta.put(path, {"name": None})["name"] == "Renamed"

    archived = rasta.put(path, {"archived": True})
    assert (
        archived["archived"],
        archived["archived_directly"],
        archived["can_restore"],
        archived["can_delete"],
    ) == (
        True,
        True,
        True,
        True,
    )
    # Directly archived items are presented in the Trash collection.
    assert isinstance(archived["collection_id"], int)
    assert rasta.put(path, {"dashcards": []}, expect=404) == {
        "message": "The object has been archived.",
        "error_code": "archived",
    }
    assert dashboard["id"] in {d["id"] for d in rasta.get("/api/dashboard", params={"f": "archived"})}
    assert dashboard["id"] not in {d["id"] for d in rasta.get("/api/dashboard")}
    restored = rasta.put(path, {"archived": False})
    assert (restored["archived"], restored["archived_directly"], restored["collection_id"]) == (
        False,
        False,
        None,
    )
    assert dashboard["id"] in {d["id"] for d in rasta.get("/api/dashboard", params={"f": "mine"})}
    assert dashboard["id"] not in {
        d["id"] for d in api.as_("lucky").get("/api/dashboard", params={"f": "mine"})
    }
    assert rasta.get("/api/dashboard", params={"f": "everything"}, expect=400) == {
        "errors": {"f": "nullable enum of all, mine, archived"},
        "specific-errors": {"f": ['should be either "all", "mine" or "archived", received: "everything"']},
    }


def test_list_items_have_the_row_and_creator(api, user_ids):
    rasta = api.as_("rasta")
    dashboard = new_dashboard(rasta)
    item = next(d for d in rasta.get("/api/dashboard") if d["id"] == dashboard["id"])
    assert item["creator"]["id"] == user_ids["rasta"]
    assert item["last-edit-info"]["id"] == user_ids["rasta"]
    assert "dashcards" not in item
    assert item["name"] == dashboard["name"]


def test_delete(api):
    rasta = api.as_("rasta")
    dashboard = new_dashboard(rasta)
    assert rasta.delete(f"/api/dashboard/{dashboard['id']}", expect=204) is None
    assert rasta.get(f"/api/dashboard/{dashboard['id']}", expect=404) == "Not found."


def test_copy(api, sample, user_ids):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta, parameters=[CATEGORY_PARAMETER])
    rasta.put(
        f"/api/dashboard/{dashboard['id']}",
        {
            "dashcards": [
                {
                    "id": -1,
                    "card_id": card["id"],
                    "row": 0,
                    "col": 0,
                    "size_x": 6,
                    "size_y": 4,
                    "dashboard_tab_id": -1,
                    "parameter_mappings": [
                        {"parameter_id": "cat1", "card_id": card["id"], "target": category_target(sample)}
                    ],
                },
                {
                    "id": -2,
                    "row": 4,
                    "col": 0,
                    "size_x": 6,
                    "size_y": 2,
                    "dashboard_tab_id": -1,
                    "visualization_settings": TEXT_CARD,
                },
            ],
            "tabs": [{"id": -1, "name": "Only"}],
        },
    )
    shallow = api.as_("lucky").post(f"/api/dashboard/{dashboard['id']}/copy", {"name": "Copied"})
    assert "dashcards" not in shallow
    assert (shallow["name"], shallow["creator_id"], shallow["parameters"]) == (
        "Copied",
        user_ids["lucky"],
        [CATEGORY_PARAMETER],
    )
    copied = rasta.get(f"/api/dashboard/{shallow['id']}")
    assert [t["name"] for t in copied["tabs"]] == ["Only"]
    assert [dc["card_id"] for dc in copied["dashcards"]] == [card["id"], None]
    assert {dc["dashboard_tab_id"] for dc in copied["dashcards"]} == {copied["tabs"][0]["id"]}
    assert copied["param_fields"]["cat1"][0]["id"] == sample["PRODUCTS.CATEGORY"]

    deep = rasta.post(f"/api/dashboard/{dashboard['id']}/copy", {"is_deep_copy": True})
    assert deep["name"] == dashboard["name"]
    deep_cards = rasta.get(f"/api/dashboard/{deep['id']}")["dashcards"]
    new_card = deep_cards[0]["card"]
    assert new_card["id"] != card["id"]
    assert new_card["name"] == f"{card['name']} - Duplicate"
    assert deep_cards[0]["parameter_mappings"][0]["card_id"] == new_card["id"]


# --- Filters and running cards.


@pytest.fixture
def filtered(api, sample) -> dict[str, Any]:
    """A dashboard whose Category filter (default Widget) is mapped to an MBQL card (through
    ORDERS.PRODUCT_ID) and to a native card's field filter."""
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    native = native_count_card(rasta, sample)
    parameter = {**CATEGORY_PARAMETER, "default": ["Widget"]}
    dashboard = new_dashboard(rasta, parameters=[parameter])
    body = rasta.put(
        f"/api/dashboard/{dashboard['id']}",
        {
            "dashcards": [
                {
                    "id": -1,
                    "card_id": card["id"],
                    "row": 0,
                    "col": 0,
                    "size_x": 6,
                    "size_y": 4,
                    "parameter_mappings": [
                        {"parameter_id": "cat1", "card_id": card["id"], "target": category_target(sample)}
                    ],
                },
                {
                    "id": -2,
                    "card_id": native["id"],
                    "row": 0,
                    "col": 6,
                    "size_x": 6,
                    "size_y": 4,
                    "parameter_mappings": [
                        {
                            "parameter_id": "cat1",
                            "card_id": native["id"],
                            "target": ["dimension", ["template-tag", "category"], {"stage-number": 0}],
                        }
                    ],
                },
            ]
        },
    )
    by_card = {dc["card_id"]: dc for dc in body["dashcards"]}
    return {
        "dashboard": body,
        "card": card,
        "native": native,
        "dashcard": by_card[card["id"]],
        "native_dashcard": by_card[native["id"]],
    }


def run(
    api: Api, dashboard: dict, dashcard: dict, card_id: int, parameters: Any = None, expect: int = 202
) -> Any:
    path = f"/api/dashboard/{dashboard['id']}/dashcard/{dashcard['id']}/card/{card_id}/query"
    body = {} if parameters is None else {"parameters": parameters}
    return api.post(path, body, expect=expect)


def test_dashcard_runs_with_filter_values_and_defaults(api, filtered, metabase_sample_data):
    rasta = api.as_("rasta")
    dashboard, card, dashcard = filtered["dashboard"], filtered["card"], filtered["dashcard"]
    body = run(
        rasta, dashboard, dashcard, card["id"], [{"id": "cat1", "type": "string/=", "value": ["Gizmo"]}]
    )
    assert (body["status"], body["context"], body["row_count"], body["data"]["rows"]) == (
        "completed",
        "dashboard",
        1,
        [[ORDERS_BY_CATEGORY["Gizmo"]]],
    )
    two = run(rasta, dashboard, dashcard, card["id"], [{"id": "cat1", "value": ["Gizmo", "Gadget"]}])
    assert two["data"]["rows"] == [[ORDERS_BY_CATEGORY["Gizmo"] + ORDERS_BY_CATEGORY["Gadget"]]]
    # No value sent: the parameter's default applies.
    assert run(rasta, dashboard, dashcard, card["id"])["data"]["rows"] == [[ORDERS_BY_CATEGORY["Widget"]]]
    # An explicit null clears the filter.
    cleared = run(rasta, dashboard, dashcard, card["id"], [{"id": "cat1", "value": None}])
    assert cleared["data"]["rows"] == [[sum(ORDERS_BY_CATEGORY.values())]]
    native = run(
        rasta,
        dashboard,
        filtered["native_dashcard"],
        filtered["native"]["id"],
        [{"id": "cat1", "value": ["Gizmo"]}],
    )
    assert (native["status"], native["data"]["rows"]) == ("completed", [[ORDERS_BY_CATEGORY["Gizmo"]]])
    native_default = run(rasta, dashboard, filtered["native_dashcard"], filtered["native"]["id"])
    assert native_default["data"]["rows"] == [[ORDERS_BY_CATEGORY["Widget"]]]


def test_running_checks_the_dashcard(api, filtered):
    rasta = api.as_("rasta")
    dashboard, card, dashcard = filtered["dashboard"], filtered["card"], filtered["dashcard"]
    assert run(rasta, dashboard, dashcard, filtered["native"]["id"], expect=404) == "Not found."
    assert run(rasta, dashboard, {"id": 99999999}, card["id"], expect=404) == "Not found."
    assert run(rasta, {"id": 99999999}, dashcard, card["id"], expect=404) == "Not found."
    assert run(rasta, dashboard, dashcard, card["id"], [{"id": "nope", "value": 1}], expect=400) == (
        'Dashboard does not have a parameter with ID "nope".'
    )
    assert run(api, dashboard, dashcard, card["id"], expect=401) == "Unauthenticated"


def test_dashcard_download(api, filtered, metabase_sample_data):
    rasta = api.as_("rasta")
    dashboard, card, dashcard = filtered["dashboard"], filtered["card"], filtered["dashcard"]
    path = f"/api/dashboard/{dashboard['id']}/dashcard/{dashcard['id']}/card/{card['id']}/query/csv"
    response = rasta.raw("POST", path, data={"parameters": '[{"id": "cat1", "value": ["Gadget"]}]'})
    assert response.status_code == 200
    assert response.text.splitlines() == ["Count", str(ORDERS_BY_CATEGORY["Gadget"])]
    assert response.headers["content-disposition"].startswith('attachment; filename="orders_')
    assert rasta.raw("POST", path[:-3] + "pdf").status_code == 404


def test_param_values_and_fields(api, filtered, sample):
    rasta = api.as_("rasta")
    dashboard = filtered["dashboard"]
    fields = dashboard["param_fields"]
    assert list(fields) == ["cat1"]
    assert [f["id"] for f in fields["cat1"]] == [sample["PRODUCTS.CATEGORY"]]
    values = rasta.get(f"/api/dashboard/{dashboard['id']}/params/cat1/values")
    assert values == {"values": [[c] for c in sorted(ORDERS_BY_CATEGORY)], "has_more_values": False}
    found = rasta.get(f"/api/dashboard/{dashboard['id']}/params/cat1/search/GAD")
    assert found == {"values": [["Gadget"]], "has_more_values": False}
    assert rasta.get(f"/api/dashboard/{dashboard['id']}/params/nope/values", expect=400) == (
        'Dashboard does not have a parameter with ID "nope".'
    )
    assert rasta.get("/api/dashboard/99999999/params/cat1/values", expect=404) == "Not found."


def test_old_put_cards_takes_ordered_tabs(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    answer = rasta.put(
        f"/api/dashboard/{dashboard['id']}/cards",
        {
            "cards": [{"id": -5, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}],
            "ordered_tabs": [{"id": -3, "name": "Only tab"}],
        },
    )
    [tab] = answer["tabs"]
    assert (tab["name"], tab["position"]) == ("Only tab", 0)
    # With a single tab, cards without one land on it.
    assert [(c["card_id"], c["dashboard_tab_id"]) for c in answer["cards"]] == [(card["id"], tab["id"])]
    assert rasta.put(f"/api/dashboard/{dashboard['id']}/cards", {}, expect=400) == {
        "errors": {"cards": "value must be seq of maps in which ids are unique"},
        "specific-errors": {"cards": ["missing required key, received: nil"]},
    }


def dataset_count(api: Api, sample: dict[str, int], condition: list[Any]) -> int:
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": sample["ORDERS"], "aggregation": [["count"]], "filter": condition},
    }
    return api.post("/api/dataset", query, expect=202)["data"]["rows"][0][0]


@pytest.mark.parametrize(
    ("parameter", "field", "value", "condition"),
    [
        ({"type": "number/between"}, "ORDERS.QUANTITY", [2, 4], ["between", "REF", 2, 4]),
        ({"type": "number/>="}, "ORDERS.QUANTITY", ["5"], [">=", "REF", 5]),
        ({"type": "category"}, "ORDERS.QUANTITY", [1, 3], ["=", "REF", 1, 3]),
        (
            {"type": "date/range"},
            "ORDERS.CREATED_AT",
            "2024-01-01~2024-03-31",
            ["and", [">=", "REF", "2024-01-01T00:00:00"], ["<", "REF", "2024-04-01T00:00:00"]],
        ),
        (
            {"type": "string/contains", "options": {"case-sensitive": False}},
            "PRODUCTS.CATEGORY",
            "GIZ",
            ["contains", "REF", "GIZ", {"case-sensitive": False}],
        ),
    ],
)
def test_parameter_types_become_filters(api, sample, parameter, field, value, condition):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    ref: list[Any] = ["field", sample[field], None]
    if field.startswith("PRODUCTS."):
        ref = ["field", sample[field], {"source-field": sample["ORDERS.PRODUCT_ID"]}]
    dashboard = new_dashboard(rasta, parameters=[{"id": "p", "name": "P", "slug": "p", **parameter}])
    [dashcard] = rasta.put(
        f"/api/dashboard/{dashboard['id']}",
        {
            "dashcards": [
                {
                    "id": -1,
                    "card_id": card["id"],
                    "row": 0,
                    "col": 0,
                    "size_x": 4,
                    "size_y": 4,
                    "parameter_mappings": [
                        {"parameter_id": "p", "card_id": card["id"], "target": ["dimension", ref]}
                    ],
                }
            ]
        },
    )["dashcards"]
    expected = dataset_count(rasta, sample, _with_ref(condition, ref))
    assert 0 < expected < sum(ORDERS_BY_CATEGORY.values())
    body = run(rasta, dashboard, dashcard, card["id"], [{"id": "p", "value": value}])
    assert (body["status"], body["data"]["rows"]) == ("completed", [[expected]])


def _with_ref(clause: Any, ref: list[Any]) -> Any:
    if clause == "REF":
        return ref
    if isinstance(clause, list):
        return [_with_ref(part, ref) for part in clause]
    return clause


def test_changes_are_revisions(api, sample):
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    dashboard = new_dashboard(rasta)
    rasta.put(f"/api/dashboard/{dashboard['id']}", {"name": "Renamed"})
    rasta.post(f"/api/dashboard/{dashboard['id']}/cards", {"cardId": card["id"]})
    history = rasta.get("/api/revision", params={"entity": "dashboard", "id": dashboard["id"]})
    assert [(r["is_creation"], r["most_recent"]) for r in history] == [
        (False, True),
        (False, False),
        (True, False),
    ]
    assert history[1]["diff"]["after"]["name"] == "Renamed"


# --- Chained filters and temporal-unit parameters.


def _parameter(parameter_id: str, kind: str = "string/=") -> dict[str, Any]:
    return {"id": parameter_id, "name": parameter_id, "slug": parameter_id, "type": kind}


def _via(sample: dict[str, int], field: str, fk: str) -> list[Any]:
    return ["dimension", ["field", sample[field], {"source-field": sample[fk]}], {"stage-number": 0}]


def _distinct(
    api: Api, sample: dict[str, int], table: str, breakout: list[Any], condition: list[Any]
) -> list:
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": sample[table], "breakout": [breakout], "filter": condition},
    }
    return api.post("/api/dataset", query, expect=202)["data"]["rows"]


@pytest.fixture
def chained(api, sample) -> dict[str, Any]:
    """A dashboard on an Orders card with filters on the product's category and vendor and on the
    customer's state, each mapped through the order's foreign keys."""
    rasta = api.as_("rasta")
    card = count_orders_card(rasta, sample)
    parameters = [
        _parameter("cat"),
        _parameter("vendor"),
        _parameter("state"),
        _parameter("part", "string/contains"),
    ]
    dashboard = new_dashboard(rasta, parameters=parameters)
    targets = {
        "cat": _via(sample, "PRODUCTS.CATEGORY", "ORDERS.PRODUCT_ID"),
        "vendor": _via(sample, "PRODUCTS.VENDOR", "ORDERS.PRODUCT_ID"),
        "state": _via(sample, "PEOPLE.STATE", "ORDERS.USER_ID"),
        "part": _via(sample, "PRODUCTS.VENDOR", "ORDERS.PRODUCT_ID"),
    }
    mappings = [{"parameter_id": p, "card_id": card["id"], "target": t} for p, t in targets.items()]
    dashcard = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
    rasta.put(
        f"/api/dashboard/{dashboard['id']}", {"dashcards": [{**dashcard, "parameter_mappings": mappings}]}
    )
    return {"dashboard": dashboard, "card": card}


def test_chained_filter_values(api, sample, chained):
    rasta = api.as_("rasta")
    path = f"/api/dashboard/{chained['dashboard']['id']}/params"
    vendor = ["field", sample["PRODUCTS.VENDOR"], None]
    category = ["field", sample["PRODUCTS.CATEGORY"], None]
    gizmo_vendors = _distinct(rasta, sample, "PRODUCTS", vendor, ["=", category, "Gizmo"])
    everything = rasta.get(f"{path}/vendor/values")
    assert 0 < len(gizmo_vendors) < len(everything["values"])
    # Another filter's value narrows the choices to the values that occur with it.
    assert rasta.get(f"{path}/vendor/values", params={"cat": "Gizmo"}) == {
        "values": gizmo_vendors,
        "has_more_values": False,
    }
    two = _distinct(rasta, sample, "PRODUCTS", vendor, ["=", category, "Gizmo", "Widget"])
    assert rasta.get(f"{path}/vendor/values", params={"cat": ["Gizmo", "Widget"]})["values"] == two
    # Query parameters that name no filter of the dashboard are ignored.
    assert rasta.get(f"{path}/vendor/values", params={"nope": "Gizmo"}) == everything
    # Across tables: the categories of the products people in Alaska ordered (Products <- Orders -> People).
    state = ["field", sample["PEOPLE.STATE"], {"source-field": sample["ORDERS.USER_ID"]}]
    ordered = ["field", sample["PRODUCTS.CATEGORY"], {"source-field": sample["ORDERS.PRODUCT_ID"]}]
    in_alaska = _distinct(rasta, sample, "ORDERS", ordered, ["=", state, "AK"])
    assert rasta.get(f"{path}/cat/values", params={"state": "AK"})["values"] == in_alaska
    # A filter's own type makes its condition: `string/contains` ignores case.
    contains = _distinct(
        rasta, sample, "PRODUCTS", category, ["contains", vendor, "inc", {"case-sensitive": False}]
    )
    assert rasta.get(f"{path}/cat/values", params={"part": "INC"})["values"] == contains
    # Search is chained too.
    found = rasta.get(f"{path}/vendor/search/and", params={"cat": "Gizmo"})["values"]
    assert found == [v for v in gizmo_vendors if "and" in v[0].lower()] and found
    assert rasta.get(f"{path}/vendor/values", params={"cat": "No such category"}) == {
        "values": [],
        "has_more_values": False,
    }
    assert api.as_("lucky").get(f"{path}/vendor/values", params={"cat": "Gizmo"})["values"] == gizmo_vendors


def _by_unit_dashboard(rasta: Api, sample: dict[str, int], table: str, field: str, base_type: str) -> dict:
    ref = ["field", sample[f"{table}.{field}"], {"temporal-unit": "month"}]
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": sample[table], "aggregation": [["count"]], "breakout": [ref]},
    }
    card = rasta.post(
        "/api/card",
        {"name": unique("By month"), "display": "line", "visualization_settings": {}, "dataset_query": query},
    )
    dashboard = new_dashboard(
        rasta, parameters=[{**_parameter("unit", "temporal-unit"), "default": "quarter"}]
    )
    target = [
        "dimension",
        ["field", sample[f"{table}.{field}"], {"base-type": base_type, "temporal-unit": "month"}],
        {"stage-number": 0},
    ]
    mapping = {"parameter_id": "unit", "card_id": card["id"], "target": target}
    dashcard = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
    body = rasta.put(
        f"/api/dashboard/{dashboard['id']}", {"dashcards": [{**dashcard, "parameter_mappings": [mapping]}]}
    )
    return {"dashboard": body, "dashcard": body["dashcards"][0], "card": card}


def test_temporal_unit_parameters_change_the_breakout(api, sample):
    rasta = api.as_("rasta")
    made = _by_unit_dashboard(rasta, sample, "ORDERS", "CREATED_AT", "type/DateTime")
    dashboard, dashcard, card = made["dashboard"], made["dashcard"], made["card"]
    by_month = rasta.post(f"/api/card/{card['id']}/query", expect=202)
    yearly = run(rasta, dashboard, dashcard, card["id"], [{"id": "unit", "value": "year"}])
    assert yearly["status"] == "completed"
    assert yearly["data"]["cols"][0]["unit"] == "year"
    assert len(yearly["data"]["rows"]) < len(by_month["data"]["rows"])
    # Each year's count is the sum of its months'.
    years: dict[str, int] = {}
    for month, count in by_month["data"]["rows"]:
        years[month[:4]] = years.get(month[:4], 0) + count
    assert {row[0][:4]: row[1] for row in yearly["data"]["rows"]} == years
    # Without a value the parameter's default applies; an explicit null keeps the card's own unit.
    assert run(rasta, dashboard, dashcard, card["id"])["data"]["cols"][0]["unit"] == "quarter"
    kept = run(rasta, dashboard, dashcard, card["id"], [{"id": "unit", "value": None}])
    assert kept["data"]["rows"] == by_month["data"]["rows"]
    # A unit the column cannot take fails the query, as Metabase answers it.
    dates = _by_unit_dashboard(rasta, sample, "PEOPLE", "BIRTH_DATE", "type/Date")
    failed = run(
        rasta, dates["dashboard"], dates["dashcard"], dates["card"]["id"], [{"id": "unit", "value": "hour"}]
    )
    assert (failed["status"], failed["error"]) == (
        "failed",
        "This chart can not be broken out by the selected unit of time: hour.",
    )


# --- Collections and recent views.

ROOT_COLLECTION = {
    "metabase.collections.models.collection.root/is-root?": True,
    "authority_level": None,
    "name": "Our analytics",
    "is_personal": False,
    "id": "root",
    "can_write": True,
}


def test_the_root_collection_and_effective_location(api):
    rasta = api.as_("rasta")
    created = new_dashboard(rasta)
    # POST and GET hydrate the root's map onto a dashboard outside any collection; PUT answers null.
    assert created["collection"] == ROOT_COLLECTION
    assert rasta.get(f"/api/dashboard/{created['id']}")["collection"] == ROOT_COLLECTION
    assert rasta.put(f"/api/dashboard/{created['id']}", {"description": "d"})["collection"] is None
    parent = rasta.post("/api/collection", {"name": unique("Parent")})
    child = rasta.post("/api/collection", {"name": unique("Child"), "parent_id": parent["id"]})
    inside = new_dashboard(rasta, collection_id=child["id"])
    collection = rasta.get(f"/api/dashboard/{inside['id']}")["collection"]
    assert (collection["id"], collection["location"], collection["is_personal"]) == (
        child["id"],
        f"/{parent['id']}/",
        False,
    )
    assert collection["effective_location"] == f"/{parent['id']}/"


def test_reading_a_dashboard_is_a_recent_view(api):
    rasta = api.as_("rasta")
    dashboard = new_dashboard(rasta)

    def recent() -> list[int]:
        views = rasta.get("/api/activity/recent_views")["recent_views"]
        return [v["id"] for v in views if v["model"] == "dashboard"]

    assert dashboard["id"] not in recent()
    rasta.get(f"/api/dashboard/{dashboard['id']}")
    assert recent()[0] == dashboard["id"]
    assert rasta.get("/api/activity/most_recently_viewed_dashboard")["id"] == dashboard["id"]
