"""Saved content in queries, on every engine: metrics whose definition has a filter (legacy metrics from
`/api/metric` and metric cards) aggregate only the rows that filter keeps, leaving the query's other
aggregations alone; saved native questions with template tags serve as sources with their tags' defaults.
(`GET /api/table/card__:id/query_metadata` is in test_card_virtual_table.py.)"""

from __future__ import annotations

import uuid
from typing import Any

from tests.query_processor.test_mbql_matrix import KIND, SCORE, cols, failure, rows, run
from tests.query_processor.test_mbql_matrix import admin as admin
from tests.query_processor.test_mbql_matrix import db as db
from tests.query_processor.test_mbql_matrix import warehouses as warehouses
from tests.query_processor.test_saved_sources import create_card
from tests.support.datasets.connected import Connected
from tests.support.http import Api


def legacy_metric(admin: Api, db: Connected, name: str, aggregation: list[Any], where: list[Any]) -> int:
    definition = {"source-table": db.table("events"), "aggregation": [aggregation], "filter": where}
    body = admin.post("/api/metric", {"name": name, "table_id": db.table("events"), "definition": definition})
    return int(body["id"])


def metric_card(admin: Api, db: Connected, name: str, aggregation: list[Any], where: list[Any]) -> int:
    """A card of type metric. `["metric", id]` means a legacy metric first when one of the same table has
    that id (their ids are counted apart), so cards are made until one has an id of its own."""
    query = {
        "database": db.id,
        "type": "query",
        "query": {"source-table": db.table("events"), "aggregation": [aggregation], "filter": where},
    }
    legacy = {m["id"] for m in admin.get("/api/metric") if m["table_id"] == db.table("events")}
    for _ in range(len(legacy) + 1):
        card_id = int(create_card(admin, query, type="metric", name=name, display="scalar")["id"])
        if card_id not in legacy:
            return card_id
    raise AssertionError("no metric card id free of legacy metrics")


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


# ---------------------------------------------------------------------------------------------------
# Metrics with a filter


def test_two_metrics_with_different_filters_in_one_query(admin, db):
    talk_score = legacy_metric(admin, db, "Talk score", ["sum", SCORE(db)], ["=", KIND(db), "talk"])
    sales_name = unique("Sales")
    sales = metric_card(admin, db, sales_name, ["count"], ["=", KIND(db), "sale"])
    user = db.ref("events.user_id")
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["metric", talk_score], ["metric", sales], ["count"]],
            "breakout": [user],
        },
    )
    # Each metric's filter narrows its own aggregation only: Count still counts every row.
    assert rows(body) == [
        [None, None, 0, 2],
        [1, 10, 0, 2],
        [2, 20, 1, 2],
        [3, 45, 0, 2],
        [4, None, 1, 2],
        [5, 35, 1, 2],
    ]
    assert [(c["name"], c["display_name"], c["source"]) for c in cols(body)][1:] == [
        ("sum", "Talk score", "aggregation"),
        ("count", sales_name, "aggregation"),
        ("count_2", "Count", "aggregation"),
    ]


def test_the_query_s_own_filter_still_narrows_every_aggregation(admin, db):
    talk_score = legacy_metric(admin, db, "Talk score", ["sum", SCORE(db)], ["=", KIND(db), "talk"])
    sales = legacy_metric(admin, db, "Sales", ["count"], ["=", KIND(db), "sale"])
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["metric", talk_score], ["metric", sales], ["count"]],
            "filter": ["!=", KIND(db), "release"],
        },
    )
    assert rows(body) == [[110, 3, 10]]


def test_every_kind_of_aggregation_becomes_conditional(admin, db):
    talks = ["=", KIND(db), "talk"]
    metrics = [
        legacy_metric(admin, db, "Average talk score", ["avg", SCORE(db)], talks),
        legacy_metric(
            admin, db, "Selling users", ["distinct", db.ref("events.user_id")], ["=", KIND(db), "sale"]
        ),
        legacy_metric(admin, db, "Talk share", ["share", talks], ["=", KIND(db), "talk", "meetup"]),
        legacy_metric(admin, db, "Big talks", ["count-where", [">", SCORE(db), 20]], talks),
        metric_card(admin, db, unique("Top talk"), ["max", SCORE(db)], talks),
        metric_card(
            admin, db, unique("Talk score total"), ["sum-where", SCORE(db), [">", SCORE(db), 15]], talks
        ),
    ]
    body = run(
        admin,
        db,
        {"source-table": db.table("events"), "aggregation": [["metric", m] for m in metrics] + [["count"]]},
    )
    [[average, sellers, share, big, top, total, count]] = rows(body)
    # Talks score 10, 20, 35 and 45; sales are users 2, 4 and 5; 4 of the 7 talks and meetups are talks.
    assert (float(average), sellers, round(share, 6), big, top, total, count) == (
        27.5,
        3,
        round(4 / 7, 6),
        2,
        45,
        100,
        12,
    )


# ---------------------------------------------------------------------------------------------------
# Saved native questions with template tags as sources


def tag(name: str, tag_type: str, **extra: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "name": name, "display-name": name.title(), "type": tag_type, **extra}


def native_card(admin: Api, db: Connected, sql: str, tags: dict[str, Any], **extra: Any) -> dict[str, Any]:
    query = {"database": db.id, "type": "native", "native": {"query": sql, "template-tags": tags}}
    return create_card(admin, query, **extra)


def by_kind(card_id: int) -> dict[str, Any]:
    kind = ["field", "kind", {"base-type": "type/Text"}]
    return {"source-table": f"card__{card_id}", "aggregation": [["count"]], "breakout": [kind]}


def test_a_native_source_runs_with_its_tags_defaults(admin, db):
    # Also text that a driver's paramstyle or SQLAlchemy could misread: `%` and `:name`.
    sql = (
        "SELECT id, kind, score FROM events WHERE score >= {{least}} AND kind NOT LIKE '%:x%' "
        "[[AND kind = {{kind}}]]"
    )
    card = native_card(
        admin, db, sql, {"least": tag("least", "number", default=20), "kind": tag("kind", "text")}
    )
    expected = [["meetup", 1], ["release", 1], ["sale", 2], ["talk", 3]]
    assert rows(run(admin, db, by_kind(card["id"]))) == expected
    mbql5 = {
        "lib/type": "mbql/query",
        "database": db.id,
        "stages": [
            {
                "lib/type": "mbql.stage/mbql",
                "source-card": card["id"],
                "aggregation": [["count", {}]],
                "breakout": [["field", {"base-type": "type/Text"}, "kind"]],
            }
        ],
    }
    assert rows(admin.post("/api/dataset", mbql5, expect=202)) == expected


def test_a_native_source_s_field_filter_takes_its_default(admin, db):
    dimension = tag(
        "kinds",
        "dimension",
        dimension=["field", db.field_id("events.kind"), None],
        **{"widget-type": "string/=", "default": ["talk", "sale"]},
    )
    card = native_card(admin, db, "SELECT id, kind FROM events WHERE {{kinds}}", {"kinds": dimension})
    assert rows(run(admin, db, by_kind(card["id"]))) == [["sale", 3], ["talk", 4]]


def test_a_required_tag_without_default_fails_as_in_metabase(admin, db):
    metadata = [{"name": "id", "display_name": "id", "base_type": "type/Integer"}]
    card = native_card(
        admin,
        db,
        "SELECT id FROM events WHERE score >= {{least}}",
        {"least": tag("least", "number", required=True)},
        result_metadata=metadata,
    )
    body = run(admin, db, {"source-table": f"card__{card['id']}", "aggregation": [["count"]]})
    assert failure(body) == (
        "missing-required-parameter",
        "You'll need to pick a value for 'Least' before this query can run.",
    )
