"""Queries that use saved content: `card__N` / `source-card` sources (questions, models, native cards),
native `{{#N-name}}` card references and `{{snippet: …}}` snippets, `segment` filters and `metric`
aggregations (legacy v1 metrics and metric cards), on the Sample Database."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import Engine

from querybase.models.snippet import NativeQuerySnippet
from querybase.models.user import User
from tests.api.test_database import connected, tables_by_name
from tests.query_processor.test_dataset_api import PUBLISHED
from tests.query_processor.test_dataset_api import sample as sample
from tests.support.http import Api


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def create_card(api: Api, query: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A card saved through `POST /api/card`, with the result metadata a client sends (the query's
    `results_metadata`, unless given). Waits a little for the endpoint while it is being written."""
    body: dict[str, Any] = {
        "name": unique("Card"),
        "display": "table",
        "visualization_settings": {},
        "dataset_query": query,
        **extra,
    }
    if "result_metadata" not in body:
        ran = api.post("/api/dataset", query, expect=202)
        assert ran["status"] == "completed", ran
        body["result_metadata"] = ran["data"]["results_metadata"]["columns"]
    for _ in range(300):
        response = api.raw("POST", "/api/card", json=body)
        if response.status_code != 404:
            break
        time.sleep(1)
    assert response.status_code == 200, response.text
    return response.json()


def archive(api: Api, card: dict[str, Any]) -> None:
    assert api.put(f"/api/card/{card['id']}", {"archived": True})["archived"] is True


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def app_db(server) -> Engine:
    """The app DB itself, for snippets (no API creates them yet)."""
    engine = create_engine(server.config.app_db_url)
    yield engine
    engine.dispose()


def crowberto_id(app_db: Engine) -> int:
    with app_db.connect() as conn:
        return conn.scalar(select(User.id).where(User.email == "crowberto@metabase.com"))


def orders_over_100(ids: dict) -> dict[str, Any]:
    return {
        "database": ids["db"],
        "type": "query",
        "query": {
            "source-table": ids["ORDERS"],
            "filter": [">", ["field", ids["ORDERS.SUBTOTAL"], None], 100],
        },
    }


def run(api: Api, query: dict[str, Any]) -> dict[str, Any]:
    return api.post("/api/dataset", query, expect=202)


def rounded(rows: list[list[Any]]) -> list[list[Any]]:
    return [[round(v, 6) if isinstance(v, float) else v for v in row] for row in rows]


# --- card__N sources ----------------------------------------------------------------------------------------


def test_aggregating_a_saved_question_gives_the_tutorial_numbers(admin, sample, metabase_sample_data):
    card = create_card(admin, orders_over_100(sample))
    subtotal = ["field", "SUBTOTAL", {"base-type": "type/Float"}]
    by_category = ["field", sample["PRODUCTS.CATEGORY"], {"source-field": sample["ORDERS.PRODUCT_ID"]}]
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {
            "source-table": f"card__{card['id']}",
            "aggregation": [["avg", subtotal]],
            "breakout": [by_category],
        },
    }
    body = run(admin.as_("rasta"), query)
    assert body["status"] == "completed", body
    assert rounded(body["data"]["rows"]) == PUBLISHED
    assert [(c["name"], c["display_name"], c["source"]) for c in body["data"]["cols"]] == [
        ("CATEGORY", "Product → Category", "breakout"),
        ("avg", "Average of Subtotal", "aggregation"),
    ]
    assert body["json_query"] == query
    # The same with field-id refs to the card's underlying columns, and as MBQL 5 `source-card`.
    by_id = {
        **query,
        "query": {**query["query"], "aggregation": [["avg", ["field", sample["ORDERS.SUBTOTAL"], None]]]},
    }
    assert rounded(run(admin, by_id)["data"]["rows"]) == PUBLISHED
    mbql5 = {
        "lib/type": "mbql/query",
        "database": sample["db"],
        "stages": [
            {
                "lib/type": "mbql.stage/mbql",
                "source-card": card["id"],
                "aggregation": [["avg", {}, ["field", {"base-type": "type/Float"}, "SUBTOTAL"]]],
                "breakout": [
                    ["field", {"source-field": sample["ORDERS.PRODUCT_ID"]}, sample["PRODUCTS.CATEGORY"]]
                ],
            }
        ],
    }
    body5 = run(admin, mbql5)
    assert body5["status"] == "completed", body5
    assert rounded(body5["data"]["rows"]) == PUBLISHED


def test_a_bare_card_source_returns_its_columns_by_name(admin, sample):
    card = create_card(
        admin, {**orders_over_100(sample), "query": {**orders_over_100(sample)["query"], "limit": 3}}
    )
    body = run(
        admin, {"database": sample["db"], "type": "query", "query": {"source-table": f"card__{card['id']}"}}
    )
    assert body["status"] == "completed", body
    assert body["row_count"] == 3
    cols = body["data"]["cols"]
    assert [c["name"] for c in cols] == [c["name"] for c in card["result_metadata"]]
    subtotal = next(c for c in cols if c["name"] == "SUBTOTAL")
    assert subtotal["field_ref"] == ["field", "SUBTOTAL", {"base-type": "type/Float"}]
    assert subtotal["display_name"] == "Subtotal"
    assert subtotal["id"] == sample["ORDERS.SUBTOTAL"]
    assert all(row[cols.index(subtotal)] > 100 for row in body["data"]["rows"])


def test_a_model_s_edited_metadata_names_its_columns(admin, sample, metabase_sample_data):
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {
            "source-table": sample["PRODUCTS"],
            "fields": [["field", sample["PRODUCTS.CATEGORY"], None]],
        },
    }
    metadata = run(admin, query)["data"]["results_metadata"]["columns"]
    edited = [{**metadata[0], "display_name": "Kind of thing", "description": "What it is"}]
    model = create_card(admin, query, type="model", result_metadata=edited)
    body = run(
        admin,
        {
            "database": sample["db"],
            "type": "query",
            "query": {
                "source-table": f"card__{model['id']}",
                "breakout": [["field", "CATEGORY", {"base-type": "type/Text"}]],
                "aggregation": [["count"]],
            },
        },
    )
    assert body["status"] == "completed", body
    assert body["data"]["rows"] == [["Doohickey", 42], ["Gadget", 53], ["Gizmo", 51], ["Widget", 54]]
    category = body["data"]["cols"][0]
    assert (category["display_name"], category["description"]) == ("Kind of thing", "What it is")


def test_a_native_card_as_a_source(admin, sample, metabase_sample_data):
    native = {
        "database": sample["db"],
        "type": "native",
        "native": {"query": "SELECT CATEGORY, PRICE FROM PRODUCTS"},
    }
    card = create_card(admin, native)
    body = run(
        admin,
        {
            "database": sample["db"],
            "type": "query",
            "query": {
                "source-table": f"card__{card['id']}",
                "aggregation": [["count"]],
                "breakout": [["field", "CATEGORY", {"base-type": "type/Text"}]],
            },
        },
    )
    assert body["status"] == "completed", body
    assert body["data"]["rows"] == [["Doohickey", 42], ["Gadget", 53], ["Gizmo", 51], ["Widget", 54]]


def test_the_saved_questions_database_runs_on_the_card_s_database(admin, sample, metabase_sample_data):
    card = create_card(admin, orders_over_100(sample))
    query = {
        "database": -1337,
        "type": "query",
        "query": {"source-table": f"card__{card['id']}", "aggregation": [["count"]]},
    }
    body = run(admin, query)
    assert body["status"] == "completed", body
    assert (body["data"]["rows"], body["database_id"]) == ([[5244]], sample["db"])
    missing = {"database": -1337, "type": "query", "query": {"source-table": "card__987654321"}}
    assert admin.post("/api/dataset", missing, expect=404) == "Not found."


def test_archived_cards_still_work_and_unknown_ones_fail(admin, sample, metabase_sample_data):
    card = create_card(admin, orders_over_100(sample))
    archive(admin, card)
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": f"card__{card['id']}", "aggregation": [["count"]]},
    }
    assert run(admin, query)["data"]["rows"] == [[5244]]
    unknown = {"database": sample["db"], "type": "query", "query": {"source-table": "card__987654321"}}
    body = run(admin, unknown)
    assert (body["status"], body["error"], body["error_type"]) == (
        "failed",
        "Card 987654321 does not exist.",
        "invalid-query",
    )
    assert body["json_query"] == unknown


# --- native card references and snippets --------------------------------------------------------------------


def test_a_native_query_referencing_a_card(admin, sample):
    card = create_card(admin, orders_over_100(sample))
    tag = f"#{card['id']}-orders-over-100"
    query = {
        "database": sample["db"],
        "type": "native",
        "native": {
            "query": f"SELECT COUNT(*) AS n FROM {{{{{tag}}}}} AS o WHERE o.SUBTOTAL < {{{{most}}}}",
            "template-tags": {
                tag: {"id": "a", "name": tag, "display-name": tag, "type": "card", "card-id": card["id"]},
                "most": {"id": "b", "name": "most", "display-name": "Most", "type": "number"},
            },
        },
        "parameters": [{"type": "number/=", "value": 101, "target": ["variable", ["template-tag", "most"]]}],
    }
    body = run(admin, query)
    assert body["status"] == "completed", body
    assert body["data"]["rows"] == [[run(admin, between_100_and_101(sample))["data"]["rows"][0][0]]]
    native = body["data"]["native_form"]
    assert native["params"] == [100, 101]
    assert "(SELECT" in native["query"] and "?" in native["query"]
    unknown = {
        **query,
        "native": {
            **query["native"],
            "template-tags": {
                **query["native"]["template-tags"],
                tag: {**query["native"]["template-tags"][tag], "card-id": 987654321},
            },
        },
    }
    failed = run(admin, unknown)
    assert (failed["status"], failed["error"], failed["error_type"]) == (
        "failed",
        "Card 987654321 not found.",
        "invalid-parameter",
    )


def between_100_and_101(ids: dict) -> dict[str, Any]:
    subtotal = ["field", ids["ORDERS.SUBTOTAL"], None]
    return {
        "database": ids["db"],
        "type": "query",
        "query": {
            "source-table": ids["ORDERS"],
            "filter": ["and", [">", subtotal, 100], ["<", subtotal, 101]],
            "aggregation": [["count"]],
        },
    }


def test_snippets_are_substituted_by_id_or_name(admin, sample, app_db, metabase_sample_data):
    name = unique("Big orders")
    with app_db.begin() as conn:
        snippet_id = conn.execute(
            insert(NativeQuerySnippet).values(
                name=name,
                content="SUBTOTAL > {{least}}",
                creator_id=crowberto_id(app_db),
                entity_id=uuid.uuid4().hex[:21],
            )
        ).inserted_primary_key[0]
    key = f"snippet: {name}"
    tags = {
        key: {
            "id": "s",
            "name": key,
            "display-name": key,
            "type": "snippet",
            "snippet-name": name,
            "snippet-id": snippet_id,
        },
        "least": {"id": "l", "name": "least", "display-name": "Least", "type": "number", "default": 100},
    }
    query = {
        "database": sample["db"],
        "type": "native",
        "native": {"query": f"SELECT COUNT(*) FROM ORDERS WHERE {{{{{key}}}}}", "template-tags": tags},
    }
    body = run(admin, query)
    assert body["status"] == "completed", body
    assert body["data"]["rows"] == [[5244]]
    by_name = {
        **query,
        "native": {
            **query["native"],
            "template-tags": {**tags, key: {k: v for k, v in tags[key].items() if k != "snippet-id"}},
        },
    }
    assert run(admin, by_name)["data"]["rows"] == [[5244]]
    nameless = {
        **query,
        "native": {
            **query["native"],
            "template-tags": {
                **tags,
                key: {k: v for k, v in tags[key].items() if k not in ("snippet-id", "snippet-name")},
            },
        },
    }
    nameless["native"]["template-tags"][key]["snippet-name"] = unique("No such snippet")
    failed = run(admin, nameless)
    assert (failed["status"], failed["error"], failed["error_type"]) == (
        "failed",
        "Unable to resolve Snippet: missing `:snippet-id`",
        "invalid-parameter",
    )
    missing = {
        **query,
        "native": {**query["native"], "template-tags": {**tags, key: {**tags[key], "snippet-id": 987654321}}},
    }
    failed = run(admin, missing)
    assert (failed["status"], failed["error"], failed["error_type"]) == (
        "failed",
        f'Snippet 987654321 "{name}" not found.',
        "invalid-parameter",
    )


# --- segments and metrics -----------------------------------------------------------------------------------


def test_a_segment_filter_is_inlined(admin, sample, metabase_sample_data):
    definition = {
        "source-table": sample["ORDERS"],
        "filter": [">", ["field", sample["ORDERS.SUBTOTAL"], None], 100],
    }
    segment = admin.post(
        "/api/segment", {"name": unique("Big"), "table_id": sample["ORDERS"], "definition": definition}
    )
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {
            "source-table": sample["ORDERS"],
            "filter": ["segment", segment["id"]],
            "aggregation": [["count"]],
        },
    }
    assert run(admin, query)["data"]["rows"] == [[5244]]
    unknown = {**query, "query": {**query["query"], "filter": ["segment", 987654321]}}
    failed = run(admin, unknown)
    assert (failed["status"], failed["error"]) == (
        "failed",
        "Segment 987654321 does not exist, or is invalid.",
    )


def test_a_legacy_metric_aggregation(admin, sample, metabase_sample_data):
    subtotal = ["field", sample["ORDERS.SUBTOTAL"], None]
    definition = {
        "source-table": sample["ORDERS"],
        "aggregation": [["avg", subtotal]],
        "filter": [">", subtotal, 100],
    }
    metric = admin.post(
        "/api/metric",
        {"name": "Average big subtotal", "table_id": sample["ORDERS"], "definition": definition},
    )
    metric_id = metric["id"]
    body = run(admin, metric_query(sample, metric_id))
    assert body["status"] == "completed", body
    assert rounded(body["data"]["rows"]) == PUBLISHED
    assert body["data"]["cols"][1]["display_name"] == "Average big subtotal"


def metric_query(ids: dict, metric_id: int) -> dict[str, Any]:
    return {
        "database": ids["db"],
        "type": "query",
        "query": {
            "source-table": ids["ORDERS"],
            "aggregation": [["metric", metric_id]],
            "breakout": [["field", ids["PRODUCTS.CATEGORY"], {"source-field": ids["ORDERS.PRODUCT_ID"]}]],
        },
    }


def test_a_metric_card_aggregation(admin, sample, metabase_sample_data):
    subtotal = ["field", sample["ORDERS.SUBTOTAL"], None]
    definition = {
        "database": sample["db"],
        "type": "query",
        "query": {
            "source-table": sample["ORDERS"],
            "aggregation": [["avg", subtotal]],
            "filter": [">", subtotal, 100],
        },
    }
    name = unique("Average big subtotal")
    metric = create_card(admin, definition, type="metric", name=name, display="scalar")
    body = run(admin, metric_query(sample, metric["id"]))
    assert body["status"] == "completed", body
    assert rounded(body["data"]["rows"]) == PUBLISHED
    assert body["data"]["cols"][1]["display_name"] == name
    failed = run(admin, metric_query(sample, 987654321))
    assert (failed["status"], failed["error"]) == ("failed", "Metric 987654321 does not exist.")


def test_a_card_of_another_database_is_refused(admin, sample):
    with connected(admin, "sqlite") as (database_id, _):
        tables = tables_by_name(admin, database_id)
        table = next(iter(tables.values()))
        card = create_card(
            admin, {"database": database_id, "type": "query", "query": {"source-table": table["id"]}}
        )
        query = {"database": sample["db"], "type": "query", "query": {"source-table": f"card__{card['id']}"}}
        body = run(admin, query)
        assert (body["status"], body["error"], body["error_type"]) == (
            "failed",
            f"Card {card['id']} does not exist, or is from a different Database.",
            "invalid-query",
        )
        # Through the Saved Questions database, the same query runs on the card's own database.
        virtual = run(admin, {**query, "database": -1337})
        assert (virtual["status"], virtual["database_id"]) == ("completed", database_id)


def test_joining_a_saved_question(admin, sample, metabase_sample_data):
    products = {"database": sample["db"], "type": "query", "query": {"source-table": sample["PRODUCTS"]}}
    card = create_card(admin, products)
    subtotal = ["field", sample["ORDERS.SUBTOTAL"], None]
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {
            "source-table": sample["ORDERS"],
            "joins": [
                {
                    "alias": "P",
                    "source-table": f"card__{card['id']}",
                    "condition": [
                        "=",
                        ["field", sample["ORDERS.PRODUCT_ID"], None],
                        ["field", "ID", {"base-type": "type/BigInteger", "join-alias": "P"}],
                    ],
                }
            ],
            "filter": [">", subtotal, 100],
            "aggregation": [["avg", subtotal]],
            "breakout": [["field", "CATEGORY", {"base-type": "type/Text", "join-alias": "P"}]],
        },
    }
    body = run(admin, query)
    assert body["status"] == "completed", body
    assert rounded(body["data"]["rows"]) == PUBLISHED
    assert body["data"]["cols"][0]["display_name"] == "P → Category"


def test_a_snippet_that_includes_itself_fails(admin, sample, app_db):
    name = unique("Loop")
    key = f"snippet: {name}"
    with app_db.begin() as conn:
        snippet_id = conn.execute(
            insert(NativeQuerySnippet).values(
                name=name,
                content=f"1 = 1 AND {{{{{key}}}}}",
                creator_id=crowberto_id(app_db),
                entity_id=uuid.uuid4().hex[:21],
            )
        ).inserted_primary_key[0]
    tag = {
        "id": "s",
        "name": key,
        "display-name": key,
        "type": "snippet",
        "snippet-name": name,
        "snippet-id": snippet_id,
    }
    query = {
        "database": sample["db"],
        "type": "native",
        "native": {"query": f"SELECT COUNT(*) FROM ORDERS WHERE {{{{{key}}}}}", "template-tags": {key: tag}},
    }
    failed = run(admin, query)
    assert (failed["status"], failed["error"], failed["error_type"]) == (
        "failed",
        f"Snippet {key!r} includes itself.",
        "invalid-parameter",
    )
