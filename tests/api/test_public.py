"""Public links: sharing a question or dashboard (`POST/DELETE /api/card/:id/public_link`, the admin lists)
and what anyone with the link gets from `/api/public` — the tutorial's rows, and nothing else: no SQL, no
database, no user, and only Metabase's generic errors."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openpyxl
import pytest

from tests.query_processor.test_dataset_api import PUBLISHED, sample, tutorial_query
from tests.support.http import Api

__all__ = ["sample"]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PUBLIC_CARD_KEYS = {
    "id", "name", "description", "display", "visualization_settings", "dataset_query", "parameters",
    "param_fields",
}  # fmt: skip
PUBLIC_DASHBOARD_KEYS = {
    "id", "name", "description", "parameters", "auto_apply_filters", "width", "dashcards", "tabs",
    "param_fields",
}  # fmt: skip
PUBLIC_DASHCARD_KEYS = {
    "id", "card_id", "dashboard_id", "dashboard_tab_id", "card", "series", "row", "col", "size_x", "size_y",
    "parameter_mappings", "visualization_settings",
}  # fmt: skip
DASHCARD_CARD_KEYS = {
    "id", "name", "description", "display", "visualization_settings", "parameters", "entity_id",
    "dataset_query",
}  # fmt: skip
# Words that only a leak of the card's query, its database or its author would put in a public answer.
SECRETS = ("SELECT", "source-table", '"database"', "creator", "collection", "email", "details", "native_form")


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def keep(admin: Api) -> Iterator[Callable[..., None]]:
    """`keep("enable-public-sharing")` before changing a setting: the shared server gets it back after."""
    saved: dict[str, Any] = {}

    def remember(*keys: str) -> None:
        for key in keys:
            saved.setdefault(key, admin.raw("GET", f"/api/setting/{key}"))

    yield remember
    for key, response in saved.items():
        value = response.json() if response.status_code == 200 else None
        admin.put(f"/api/setting/{key}", {"value": value}, expect=204)


def tutorial_card(admin: Api, sample: dict, **extra: Any) -> dict[str, Any]:
    body = {
        "name": unique("Average value of orders over $100 grouped by category"),
        "dataset_query": tutorial_query(sample),
        "display": "bar",
        "visualization_settings": {},
        **extra,
    }
    return admin.post("/api/card", body)


def share(admin: Api, kind: str, object_id: int) -> str:
    return admin.post(f"/api/{kind}/{object_id}/public_link")["uuid"]


NATIVE_SQL = "SELECT COUNT(*) AS n FROM PRODUCTS WHERE CATEGORY = {{cat}} [[AND PRICE > {{min_price}}]]"
NATIVE_TAGS = {
    "cat": {"id": "t-cat", "name": "cat", "display-name": "Category", "type": "text", "required": True},
    "min_price": {"id": "t-min", "name": "min_price", "display-name": "Min price", "type": "number"},
}


def native_card(admin: Api, sample: dict, sql: str = NATIVE_SQL, tags: dict | None = None) -> dict[str, Any]:
    native = {"query": sql, "template-tags": NATIVE_TAGS if tags is None else tags}
    body = {
        "name": unique("Products"),
        "dataset_query": {"database": sample["db"], "type": "native", "native": native},
        "display": "scalar",
        "visualization_settings": {},
    }
    return admin.post("/api/card", body)


def count(admin: Api, sample: dict, sql: str) -> int:
    query = {"database": sample["db"], "type": "native", "native": {"query": sql}}
    return admin.post("/api/dataset", query, expect=202)["data"]["rows"][0][0]


def assert_nothing_secret(body: Any) -> None:
    text = json.dumps(body)
    for word in SECRETS:
        assert word not in text, f"{word!r} leaked: {text[:300]}"


# --- Sharing (admins) ---------------------------------------------------------------------------------------


def test_a_public_link_is_made_once_listed_and_revoked(api, admin, sample, user_ids):
    card = tutorial_card(admin, sample)
    assert card["public_uuid"] is None
    link = share(admin, "card", card["id"])
    assert UUID.fullmatch(link)
    assert share(admin, "card", card["id"]) == link
    got = admin.get(f"/api/card/{card['id']}")
    assert (got["public_uuid"], got["made_public_by_id"]) == (link, user_ids["crowberto"])
    listed = admin.get("/api/card/public")
    assert {"name": card["name"], "id": card["id"], "public_uuid": link} in listed
    assert all(set(item) == {"name", "id", "public_uuid"} for item in listed)
    assert api.get(f"/api/public/card/{link}")["name"] == card["name"]

    assert admin.delete(f"/api/card/{card['id']}/public_link", expect=204) is None
    assert api.get(f"/api/public/card/{link}", expect=404) == "Not found."
    assert api.get(f"/api/public/card/{link}/query", expect=404) == "Not found."
    assert admin.delete(f"/api/card/{card['id']}/public_link", expect=404) == "Not found."
    assert card["id"] not in [item["id"] for item in admin.get("/api/card/public")]
    got = admin.get(f"/api/card/{card['id']}")
    assert (got["public_uuid"], got["made_public_by_id"]) == (None, None)
    assert share(admin, "card", card["id"]) != link


def test_only_admins_share(api, admin, sample):
    card = tutorial_card(admin, sample)
    rasta = api.as_("rasta")
    forbidden = "You don't have permissions to do that."
    assert rasta.post(f"/api/card/{card['id']}/public_link", expect=403) == forbidden
    assert api.post(f"/api/card/{card['id']}/public_link", expect=401) == "Unauthenticated"
    assert rasta.delete(f"/api/card/{card['id']}/public_link", expect=403) == forbidden
    for path in (
        "/api/card/public",
        "/api/card/embeddable",
        "/api/dashboard/public",
        "/api/dashboard/embeddable",
    ):
        assert rasta.get(path, expect=403) == forbidden
        assert api.get(path, expect=401) == "Unauthenticated"
    assert admin.post("/api/card/99999999/public_link", expect=404) == "Not found."
    assert admin.post("/api/card/abc/public_link", expect=404) == "API endpoint does not exist."
    admin.put(f"/api/card/{card['id']}", {"archived": True})
    assert admin.post(f"/api/card/{card['id']}/public_link", expect=404) == {
        "message": "The object has been archived.",
        "error_code": "archived",
    }


def test_static_paths_are_not_taken_for_ids(admin):
    assert isinstance(admin.get("/api/card/public"), list)
    assert isinstance(admin.get("/api/dashboard/public"), list)


# --- Public questions ---------------------------------------------------------------------------------------


def test_the_tutorial_question_through_its_public_link(api, admin, sample, metabase_sample_data):
    card = tutorial_card(admin, sample, description="Orders by category")
    link = share(admin, "card", card["id"])
    for viewer in (api, api.as_("rasta")):
        shown = viewer.get(f"/api/public/card/{link}")
        assert set(shown) == PUBLIC_CARD_KEYS
        assert shown == {
            "id": card["id"],
            "name": card["name"],
            "description": "Orders by category",
            "display": "bar",
            "visualization_settings": {},
            "dataset_query": {"type": "query"},
            "parameters": [],
            "param_fields": None,
        }
        answer = viewer.get(f"/api/public/card/{link}/query", expect=202)
        assert set(answer) == {"data", "json_query", "status"}
        assert (answer["status"], answer["json_query"]) == ("completed", {"parameters": []})
        assert set(answer["data"]) == {"cols", "rows", "insights", "results_timezone"}
        assert [[category, round(avg, 6)] for category, avg in answer["data"]["rows"]] == PUBLISHED
        assert [c["display_name"] for c in answer["data"]["cols"]] == [
            "Product → Category",
            "Average of Subtotal",
        ]
        assert "native_form" not in json.dumps(answer)


def test_public_downloads(api, admin, sample, metabase_sample_data):
    link = share(admin, "card", tutorial_card(admin, sample)["id"])
    csv = api.raw("GET", f"/api/public/card/{link}/query/csv")
    assert (csv.status_code, csv.headers["content-type"]) == (200, "text/csv")
    assert csv.text.splitlines()[0] == "Product → Category,Average of Subtotal"
    assert [line.split(",")[0] for line in csv.text.splitlines()[1:]] == [c for c, _ in PUBLISHED]
    rows = api.get(f"/api/public/card/{link}/query/json?format_rows=true")
    assert [row["Product → Category"] for row in rows] == [c for c, _ in PUBLISHED]
    xlsx = api.raw("GET", f"/api/public/card/{link}/query/xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [cell.value for cell in sheet[1]] == ["Product → Category", "Average of Subtotal"]
    assert api.get(f"/api/public/card/{link}/query/pdf", expect=404) == "API endpoint does not exist."


def test_a_native_question_shows_its_parameters_but_not_its_sql(api, admin, sample):
    card = native_card(admin, sample)
    link = share(admin, "card", card["id"])
    shown = api.get(f"/api/public/card/{link}")
    assert shown["dataset_query"]["type"] == "native"
    assert set(shown["dataset_query"]["native"]) == {"template-tags"}
    assert [(p["id"], p["slug"], p["type"], p["required"]) for p in shown["parameters"]] == [
        ("t-cat", "cat", "category", True),
        ("t-min", "min_price", "number/=", False),
    ]
    assert shown["parameters"][0]["target"] == ["variable", ["template-tag", "cat"]]
    assert "SELECT" not in json.dumps(shown)

    gizmos = count(admin, sample, "SELECT COUNT(*) FROM PRODUCTS WHERE CATEGORY = 'Gizmo'")
    pricey = count(admin, sample, "SELECT COUNT(*) FROM PRODUCTS WHERE CATEGORY = 'Gizmo' AND PRICE > 50")
    assert 0 < pricey < gizmos

    def run(parameters: Any, expect: int = 202) -> Any:
        return api.get(
            f"/api/public/card/{link}/query", params={"parameters": json.dumps(parameters)}, expect=expect
        )

    by_id = run([{"id": "t-cat", "value": "Gizmo"}])
    assert by_id["data"]["rows"] == [[gizmos]]
    assert by_id["json_query"]["parameters"][0]["target"] == ["variable", ["template-tag", "cat"]]
    both = run([{"id": "t-cat", "value": "Gizmo"}, {"id": "t-min", "type": "number/=", "value": ["50"]}])
    assert both["data"]["rows"] == [[pricey]]
    by_target = run([{"type": "category", "target": ["variable", ["template-tag", "cat"]], "value": "Gizmo"}])
    assert by_target["data"]["rows"] == [[gizmos]]
    # A required parameter without a value: the one message Metabase lets through.
    assert run([]) == {
        "status": "failed",
        "error": "You'll need to pick a value for 'Category' before this query can run.",
        "error_type": "missing-required-parameter",
    }
    # A viewer sets values of the card's parameters, never new filters.
    other = {
        "id": "x",
        "type": "category",
        "target": ["dimension", ["field", sample["PRODUCTS.VENDOR"], None]],
    }
    assert run([{**other, "value": "x"}], expect=400) == "An error occurred."
    assert run([{"id": "nope", "value": 1}], expect=400) == "An error occurred."
    assert api.get(f"/api/public/card/{link}/query?parameters=not-json", expect=400) == "An error occurred."
    assert api.get(f"/api/public/card/{link}/query?parameters=%7B%7D", expect=400) == "An error occurred."


def test_public_question_parameter_values(api, admin, sample):
    tag = {
        "id": "t-category",
        "name": "category",
        "display-name": "Category",
        "type": "dimension",
        "dimension": ["field", sample["PRODUCTS.CATEGORY"], None],
        "widget-type": "string/=",
    }
    sql = "SELECT COUNT(*) FROM PRODUCTS WHERE {{category}}"
    link = share(admin, "card", native_card(admin, sample, sql, {"category": tag})["id"])
    values = api.get(f"/api/public/card/{link}/params/t-category/values")
    assert values == {"values": [["Doohickey"], ["Gadget"], ["Gizmo"], ["Widget"]], "has_more_values": False}
    found = api.get(f"/api/public/card/{link}/params/t-category/search/GI")
    assert found == {"values": [["Gizmo"]], "has_more_values": False}
    assert api.get(f"/api/public/card/{link}/params/nope/values", expect=400) == "An error occurred."
    fields = api.get(f"/api/public/card/{link}")["param_fields"]
    assert [f["id"] for f in fields["t-category"]] == [sample["PRODUCTS.CATEGORY"]]


def test_a_failing_question_says_only_that_it_failed(api, admin, sample):
    card = native_card(admin, sample, "SELECT secret_column FROM no_such_table", tags={})
    link = share(admin, "card", card["id"])
    body = api.get(f"/api/public/card/{link}/query", expect=202)
    assert body == {
        "status": "failed",
        "error": "An error occurred while running the query.",
        "error_type": "db",
    }
    # A failed download is answered like a failed query.
    assert api.get(f"/api/public/card/{link}/query/csv") == body


def test_unknown_malformed_and_archived_links(api, admin, sample):
    assert api.get(f"/api/public/card/{uuid.uuid4()}", expect=404) == "Not found."
    assert api.get(f"/api/public/card/{uuid.uuid4()}/query", expect=404) == "Not found."
    assert api.get(f"/api/public/dashboard/{uuid.uuid4()}", expect=404) == "Not found."
    for bad in ("not-a-uuid", str(uuid.uuid4()).upper(), "1"):
        assert api.get(f"/api/public/card/{bad}", expect=404) == "API endpoint does not exist."
        assert api.get(f"/api/public/dashboard/{bad}", expect=404) == "API endpoint does not exist."
    card = tutorial_card(admin, sample)
    link = share(admin, "card", card["id"])
    admin.put(f"/api/card/{card['id']}", {"archived": True})
    assert api.get(f"/api/public/card/{link}", expect=404) == "Not found."
    assert api.get(f"/api/public/card/{link}/query", expect=404) == "Not found."
    assert api.get(f"/api/public/card/{link}/query/csv", expect=404) == "Not found."


def test_switching_public_sharing_off(api, admin, sample, keep):
    card = tutorial_card(admin, sample)
    link = share(admin, "card", card["id"])
    dashboard = admin.post("/api/dashboard", {"name": unique("Shared")})
    board = share(admin, "dashboard", dashboard["id"])
    keep("enable-public-sharing")
    admin.put("/api/setting/enable-public-sharing", {"value": False}, expect=204)
    for path in (
        f"/api/public/card/{link}",
        f"/api/public/card/{link}/query",
        f"/api/public/card/{link}/query/csv",
        f"/api/public/card/{uuid.uuid4()}",
        f"/api/public/dashboard/{board}",
        f"/api/public/dashboard/{board}/params/x/values",
        "/api/public/oembed?url=http://example.com/public/question/1",
    ):
        assert api.get(path, expect=400) == "An error occurred.", path
    disabled = "Public sharing is not enabled."
    assert admin.post(f"/api/card/{card['id']}/public_link", expect=400) == disabled
    assert admin.delete(f"/api/card/{card['id']}/public_link", expect=400) == disabled
    assert admin.get("/api/card/public", expect=400) == disabled
    assert admin.post(f"/api/dashboard/{dashboard['id']}/public_link", expect=400) == disabled
    assert admin.get("/api/dashboard/public", expect=400) == disabled
    admin.put("/api/setting/enable-public-sharing", {"value": True}, expect=204)
    assert api.get(f"/api/public/card/{link}")["id"] == card["id"]


# --- Public dashboards --------------------------------------------------------------------------------------


@pytest.fixture
def shared_dashboard(admin, sample) -> dict[str, Any]:
    """A shared dashboard with a Category filter mapped to a native card, a text card, and a card that is
    later archived."""
    optional = {"cat": {**NATIVE_TAGS["cat"], "required": False}}
    sql = "SELECT COUNT(*) AS n FROM PRODUCTS WHERE 1 = 1 [[AND CATEGORY = {{cat}}]]"
    card = native_card(admin, sample, sql, optional)
    gone = tutorial_card(admin, sample)
    parameter = {"id": "p-cat", "name": "Category", "slug": "cat", "type": "string/="}
    dashboard = admin.post("/api/dashboard", {"name": unique("Shared"), "parameters": [parameter]})
    mapping = {
        "parameter_id": "p-cat",
        "card_id": card["id"],
        "target": ["variable", ["template-tag", "cat"]],
    }
    body = admin.put(
        f"/api/dashboard/{dashboard['id']}",
        {
            "dashcards": [
                {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4,
                 "parameter_mappings": [mapping]},
                {"id": -2, "card_id": None, "row": 4, "col": 0, "size_x": 6, "size_y": 2,
                 "visualization_settings": {"virtual_card": {"display": "text"}, "text": "Hello"}},
                {"id": -3, "card_id": gone["id"], "row": 6, "col": 0, "size_x": 6, "size_y": 4},
            ]
        },
    )  # fmt: skip
    admin.put(f"/api/card/{gone['id']}", {"archived": True})
    by_card = {dc["card_id"]: dc for dc in body["dashcards"]}
    return {
        "dashboard": dashboard,
        "uuid": share(admin, "dashboard", dashboard["id"]),
        "card": card,
        "dashcard": by_card[card["id"]],
        "gone": gone,
        "gone_dashcard": by_card[gone["id"]],
    }


def test_a_public_dashboard_shows_its_public_face(api, admin, shared_dashboard):
    link, card = shared_dashboard["uuid"], shared_dashboard["card"]
    shown = api.get(f"/api/public/dashboard/{link}")
    assert set(shown) == PUBLIC_DASHBOARD_KEYS
    assert (shown["id"], shown["name"], shown["tabs"]) == (
        shared_dashboard["dashboard"]["id"],
        shared_dashboard["dashboard"]["name"],
        [],
    )
    assert shown["parameters"] == [{"id": "p-cat", "name": "Category", "slug": "cat", "type": "string/="}]
    # The archived question's card is gone; the text card stays.
    assert [dc["card_id"] for dc in shown["dashcards"]] == [card["id"], None]
    assert all(set(dc) == PUBLIC_DASHCARD_KEYS for dc in shown["dashcards"])
    assert set(shown["dashcards"][0]["card"]) == DASHCARD_CARD_KEYS
    assert shown["dashcards"][0]["card"]["dataset_query"] == {
        "type": "native",
        "native": {"template-tags": card["dataset_query"]["native"]["template-tags"]},
    }
    assert_nothing_secret(shown)
    listed = admin.get("/api/dashboard/public")
    assert {"name": shown["name"], "id": shown["id"], "public_uuid": link} in listed


def test_a_public_dashboard_card_runs_with_filter_values(api, admin, sample, shared_dashboard):
    link, card, dashcard = shared_dashboard["uuid"], shared_dashboard["card"], shared_dashboard["dashcard"]
    path = f"/api/public/dashboard/{link}/dashcard/{dashcard['id']}/card/{card['id']}"
    everything = count(admin, sample, "SELECT COUNT(*) FROM PRODUCTS")
    widgets = count(admin, sample, "SELECT COUNT(*) FROM PRODUCTS WHERE CATEGORY = 'Widget'")
    answer = api.get(path, expect=202)
    assert (answer["status"], answer["data"]["rows"]) == ("completed", [[everything]])
    assert set(answer) == {"data", "json_query", "status"}
    sent = [{"id": "p-cat", "value": ["Widget"]}]
    filtered = api.get(path, params={"parameters": json.dumps(sent)}, expect=202)
    assert (filtered["data"]["rows"], filtered["json_query"]) == ([[widgets]], {"parameters": sent})
    unknown = json.dumps([{"id": "nope", "value": 1}])
    assert api.get(path, params={"parameters": unknown}, expect=400) == "An error occurred."
    gone, gone_dashcard = shared_dashboard["gone"], shared_dashboard["gone_dashcard"]
    for bad in (
        f"/api/public/dashboard/{link}/dashcard/{gone_dashcard['id']}/card/{gone['id']}",
        f"/api/public/dashboard/{link}/dashcard/{dashcard['id']}/card/{gone['id']}",
        f"/api/public/dashboard/{link}/dashcard/{dashcard['id']}/card/99999999",
        f"/api/public/dashboard/{link}/dashcard/99999999/card/{card['id']}",
        f"/api/public/dashboard/{uuid.uuid4()}/dashcard/{dashcard['id']}/card/{card['id']}",
    ):
        assert api.get(bad, expect=404) == "Not found.", bad
    assert api.get(f"{path[: path.rindex('/')]}/abc", expect=404) == "API endpoint does not exist."


def test_downloading_a_public_dashboard_card(api, admin, sample, shared_dashboard):
    """`POST .../{export-format}`: the browser posts a form (`parameters` as JSON text), scripts may post
    JSON; failures say only what any public endpoint says."""
    link, card, dashcard = shared_dashboard["uuid"], shared_dashboard["card"], shared_dashboard["dashcard"]
    path = f"/api/public/dashboard/{link}/dashcard/{dashcard['id']}/card/{card['id']}"
    everything = count(admin, sample, "SELECT COUNT(*) FROM PRODUCTS")
    widgets = count(admin, sample, "SELECT COUNT(*) FROM PRODUCTS WHERE CATEGORY = 'Widget'")
    sent = [{"id": "p-cat", "value": ["Widget"]}]
    csv = api.raw("POST", f"{path}/csv", data={"parameters": json.dumps(sent), "format_rows": "true"})
    assert (csv.status_code, csv.headers["content-type"]) == (200, "text/csv")
    assert csv.text.splitlines() == ["n", str(widgets)]
    assert api.post(f"{path}/json", {"parameters": sent, "format_rows": False}) == [{"n": widgets}]
    assert api.post(f"{path}/json") == [{"n": everything}]
    xlsx = api.raw("POST", f"{path}/xlsx", data={})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [["n"], [everything]]

    assert api.post(f"{path}/pdf", expect=404) == "API endpoint does not exist."
    unknown = {"parameters": json.dumps([{"id": "nope", "value": 1}])}
    refused = api.raw("POST", f"{path}/csv", data=unknown)
    assert (refused.status_code, refused.text) == (400, "An error occurred.")
    assert api.post(f"{path}/csv", {"parameters": "not json"}, expect=400) == "An error occurred."
    gone, gone_dashcard = shared_dashboard["gone"], shared_dashboard["gone_dashcard"]
    for bad in (
        f"/api/public/dashboard/{link}/dashcard/{gone_dashcard['id']}/card/{gone['id']}/csv",
        f"/api/public/dashboard/{link}/dashcard/{dashcard['id']}/card/99999999/csv",
        f"/api/public/dashboard/{link}/dashcard/99999999/card/{card['id']}/csv",
        f"/api/public/dashboard/{uuid.uuid4()}/dashcard/{dashcard['id']}/card/{card['id']}/csv",
    ):
        assert api.post(bad, expect=404) == "Not found.", bad


def test_links_are_hidden_while_public_sharing_is_off(api, admin, keep, user_ids, shared_dashboard):
    """Metabase shows a card's or dashboard's `public_uuid` as null while sharing is off (the link would not
    work); `made_public_by_id` stays, and the link comes back with sharing."""
    dashboard, card = shared_dashboard["dashboard"], shared_dashboard["card"]
    card_link, board_link = share(admin, "card", card["id"]), shared_dashboard["uuid"]

    def shown() -> tuple[Any, ...]:
        got_card = admin.get(f"/api/card/{card['id']}")
        got_board = admin.get(f"/api/dashboard/{dashboard['id']}")
        listed = next(d for d in admin.get("/api/dashboard") if d["id"] == dashboard["id"])
        return (
            (got_card["public_uuid"], got_card["made_public_by_id"]),
            (got_board["public_uuid"], got_board["made_public_by_id"]),
            got_board["dashcards"][0]["card"]["public_uuid"],
            listed["public_uuid"],
        )

    crowberto = user_ids["crowberto"]
    assert shown() == ((card_link, crowberto), (board_link, crowberto), card_link, board_link)
    keep("enable-public-sharing")
    admin.put("/api/setting/enable-public-sharing", {"value": False}, expect=204)
    assert shown() == ((None, crowberto), (None, crowberto), None, None)
    path = (
        f"/api/public/dashboard/{board_link}/dashcard/{shared_dashboard['dashcard']['id']}/card/{card['id']}"
    )
    assert api.post(f"{path}/csv", expect=400) == "An error occurred."
    admin.put("/api/setting/enable-public-sharing", {"value": True}, expect=204)
    assert shown() == ((card_link, crowberto), (board_link, crowberto), card_link, board_link)


def test_public_dashboard_filter_values(api, shared_dashboard):
    link = shared_dashboard["uuid"]
    # The filter is mapped to a text template tag, not a field: its choices are none.
    assert api.get(f"/api/public/dashboard/{link}/params/p-cat/values") == {
        "values": [],
        "has_more_values": False,
    }
    assert api.get(f"/api/public/dashboard/{link}/params/p-cat/search/wid") == {
        "values": [],
        "has_more_values": False,
    }
    assert api.get(f"/api/public/dashboard/{link}/params/nope/values", expect=400) == "An error occurred."


def test_public_dashboard_field_filter_values(api, admin, sample):
    card = tutorial_card(admin, sample)
    parameter = {"id": "p-cat", "name": "Category", "slug": "cat", "type": "string/="}
    dashboard = admin.post("/api/dashboard", {"name": unique("Filtered"), "parameters": [parameter]})
    target = [
        "dimension",
        ["field", sample["PRODUCTS.CATEGORY"], {"source-field": sample["ORDERS.PRODUCT_ID"]}],
    ]
    mapping = {"parameter_id": "p-cat", "card_id": card["id"], "target": target}
    dashcard = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4}
    admin.put(
        f"/api/dashboard/{dashboard['id']}", {"dashcards": [{**dashcard, "parameter_mappings": [mapping]}]}
    )
    link = share(admin, "dashboard", dashboard["id"])
    values = api.get(f"/api/public/dashboard/{link}/params/p-cat/values")
    assert values == {"values": [[c] for c, _ in PUBLISHED], "has_more_values": False}
    assert api.get(f"/api/public/dashboard/{link}/params/p-cat/search/GAD") == {
        "values": [["Gadget"]],
        "has_more_values": False,
    }
    shown = api.get(f"/api/public/dashboard/{link}")
    assert [f["id"] for f in shown["param_fields"]["p-cat"]] == [sample["PRODUCTS.CATEGORY"]]


def test_revoking_a_dashboard_link(api, admin, shared_dashboard):
    dashboard_id, link = shared_dashboard["dashboard"]["id"], shared_dashboard["uuid"]
    assert share(admin, "dashboard", dashboard_id) == link
    assert api.as_("rasta").delete(f"/api/dashboard/{dashboard_id}/public_link", expect=403) == (
        "You don't have permissions to do that."
    )
    admin.delete(f"/api/dashboard/{dashboard_id}/public_link", expect=204)
    assert api.get(f"/api/public/dashboard/{link}", expect=404) == "Not found."
    assert admin.delete(f"/api/dashboard/{dashboard_id}/public_link", expect=404) == "Not found."


# --- oEmbed -------------------------------------------------------------------------------------------------


def test_oembed(api):
    url = 'https://bi.example.com/public/question/abc?a=1&b="2"'
    assert api.get("/api/public/oembed", params={"url": url, "format": "json"}) == {
        "version": "1.0",
        "type": "rich",
        "width": 1024,
        "height": 800,
        "html": '<iframe frameborder="0" height="800" '
        'src="https://bi.example.com/public/question/abc?a=1&amp;b=&quot;2&quot;" width="1024"></iframe>',
    }
    small = api.get("/api/public/oembed", params={"url": url, "maxwidth": 300, "maxheight": 200})
    assert (small["width"], small["height"]) == (300, 200)
    assert 'width="300"' in small["html"] and 'height="200"' in small["html"]
    for bad in (
        {"url": url, "format": "xml"},
        {"url": url, "maxwidth": 0},
        {"url": url, "maxheight": "x"},
        {},
    ):
        assert api.get("/api/public/oembed", params=bad, expect=400) == "An error occurred."
