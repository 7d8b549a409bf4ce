"""Native queries with template tags and parameters through `POST /api/dataset`, on every engine: raw
values bound (never spliced into the SQL), optional clauses, field filters of every widget type, date
strings, Metabase's failure bodies, and injection attempts through each kind of tag.

Each engine's warehouse is connected and synced once for the module. These tests run on the SQLite app
database only: the app database just holds the synced metadata that field filters look up, which the
`/api/database` and sync suites already check on every app database, and three app databases times four
engines would triple the time of this module for no extra coverage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from querybase import sync
from querybase.drivers.sql import POOLS
from tests.support.datasets import test_data
from tests.support.http import Api
from tests.support.warehouses import fresh_warehouse

SYNC_TIMEOUT = 60.0
# How each engine writes a table-qualified column in a field filter (`native_form`).
VENUES_NAME_SQL = {
    "sqlite": '"venues"."name"',
    "duckdb": '"main"."venues"."name"',
    "postgres": '"public"."venues"."name"',
    "mysql": "`venues`.`name`",
}
ALL_VENUES = list(range(1, 11))


@dataclass(frozen=True)
class Warehouse:
    id: int
    fields: dict[str, int]  # "table.field" -> field id


@pytest.fixture(scope="module", autouse=True)
def _sqlite_app_db_only(app_db_kind: str) -> None:
    if app_db_kind != "sqlite":
        pytest.skip("native parameters only read synced metadata from the app DB; run on the SQLite app DB")


@contextmanager
def _connected(admin: Api, engine: str) -> Iterator[Warehouse]:
    """A fresh test-data warehouse, added through the API and synced; deleted afterwards."""
    with fresh_warehouse(engine) as details:
        name = f"native params {engine} {uuid.uuid4().hex[:8]}"
        database_id = admin.post("/api/database", {"engine": engine, "name": name, "details": details})["id"]
        try:
            sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
            assert admin.get(f"/api/database/{database_id}")["initial_sync_status"] == "complete"
            metadata = admin.get(f"/api/database/{database_id}/metadata")
            fields = {f"{t['name']}.{f['name']}": f["id"] for t in metadata["tables"] for f in t["fields"]}
            yield Warehouse(database_id, fields)
        finally:
            sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
            admin.raw("DELETE", f"/api/database/{database_id}")
            POOLS.close(database_id)


@pytest.fixture(scope="module")
def warehouses(server: Any) -> Iterator[Callable[[str], Warehouse]]:
    """Each engine's warehouse, connected on first use and kept for the module."""
    admin = server.api().as_("crowberto")
    connected: dict[str, Warehouse] = {}
    with ExitStack() as stack:

        def get(engine: str) -> Warehouse:
            if engine not in connected:
                connected[engine] = stack.enter_context(_connected(admin, engine))
            return connected[engine]

        yield get


@pytest.fixture
def warehouse(warehouses: Callable[[str], Warehouse], engine: str) -> Warehouse:
    return warehouses(engine)


@pytest.fixture
def run(api: Api, warehouse: Warehouse) -> Callable[..., dict[str, Any]]:
    """POST /api/dataset for a native query; always 202, completed or failed."""
    admin = api.as_("crowberto")

    def run(sql: str, tags: dict[str, Any] | None = None, *parameters: dict[str, Any]) -> dict[str, Any]:
        query = {
            "database": warehouse.id,
            "type": "native",
            "native": {"query": sql, "template-tags": tags or {}},
            "parameters": list(parameters),
        }
        return admin.post("/api/dataset", query, expect=202)

    return run


def rows(body: dict[str, Any]) -> list[list[Any]]:
    assert body["status"] == "completed", body.get("error")
    return body["data"]["rows"]


def ids(body: dict[str, Any]) -> list[int]:
    return [row[0] for row in rows(body)]


def assert_failed(body: dict[str, Any], error: str, error_type: str) -> None:
    """Metabase's failure body: the message and type, no rows."""
    assert {k: body[k] for k in ("status", "error", "error_type", "row_count", "data", "via")} == {
        "status": "failed",
        "error": error,
        "error_type": error_type,
        "row_count": 0,
        "data": {"rows": [], "cols": []},
        "via": [{"status": "failed", "error": error, "error_type": error_type}],
    }


def tag(name: str, tag_type: str = "text", **extra: Any) -> dict[str, Any]:
    return {
        name: {"id": f"tag-{name}", "name": name, "display-name": name.title(), "type": tag_type, **extra}
    }


def field_filter(name: str, field_id: int, widget_type: str, **extra: Any) -> dict[str, Any]:
    return tag(
        name, "dimension", dimension=["field", field_id, None], **{"widget-type": widget_type}, **extra
    )


def value(name: str, the_value: Any, param_type: str = "category") -> dict[str, Any]:
    return {"type": param_type, "target": ["variable", ["template-tag", name]], "value": the_value}


def filter_value(name: str, the_value: Any, param_type: str) -> dict[str, Any]:
    return {"type": param_type, "target": ["dimension", ["template-tag", name]], "value": the_value}


def checkins_where(predicate: Callable[[dt.date], bool]) -> list[int]:
    return [row[0] for row in test_data.CHECKINS if predicate(row[1])]


# --- raw values ---------------------------------------------------------------------------------------------


def test_text_tags_are_bound(run):
    sql = "SELECT id, name FROM venues WHERE name = {{name}} ORDER BY id"
    body = run(sql, tag("name"), value("name", "Red Medicine"))
    assert rows(body) == [[1, "Red Medicine"]]
    assert body["data"]["native_form"] == {
        "query": "SELECT id, name FROM venues WHERE name = ? ORDER BY id",
        "params": ["Red Medicine"],
    }


@pytest.mark.parametrize(
    "attack", ["x' OR '1'='1", "'; DROP TABLE venues; --", "Red Medicine' --", "\\' OR 1=1 -- "]
)
def test_text_tag_injection_is_only_a_value(run, attack):
    assert rows(
        run("SELECT count(*) AS n FROM venues WHERE name = {{name}}", tag("name"), value("name", attack))
    ) == [[0]]
    assert rows(run("SELECT count(*) AS n FROM venues")) == [[10]]


def test_number_tags_bind_numbers(run):
    sql = "SELECT id FROM venues WHERE price = {{price}} ORDER BY id"
    assert ids(run(sql, tag("price", "number"), value("price", "3"))) == [1]
    assert ids(run(sql, tag("price", "number"), value("price", 1))) == [9]
    body = run(
        "SELECT id FROM venues WHERE id IN ({{ids}}) ORDER BY id", tag("ids", "number"), value("ids", "1,2,3")
    )
    assert ids(body) == [1, 2, 3]
    assert body["data"]["native_form"] == {
        "query": "SELECT id FROM venues WHERE id IN (?, ?, ?) ORDER BY id",
        "params": [1, 2, 3],
    }


@pytest.mark.parametrize("attack", ["1 OR 1=1", "3; DROP TABLE venues", "3)--"])
def test_number_tag_injection_is_refused(run, attack):
    body = run(
        "SELECT id FROM venues WHERE price = {{price}}", tag("price", "number"), value("price", attack)
    )
    assert_failed(body, f'For input string: "{attack}"', "invalid-parameter")


def test_several_text_values_bind_several_parameters(run):
    sql = "SELECT id FROM venues WHERE name IN ({{names}}) ORDER BY id"
    body = run(sql, tag("names"), value("names", ["Fred 62", "Krua Siri", "x') OR ('1'='1"]))
    assert ids(body) == [9, 10]
    assert body["data"]["native_form"]["query"] == "SELECT id FROM venues WHERE name IN (?, ?, ?) ORDER BY id"


def test_date_and_boolean_tags(run):
    sql = "SELECT id FROM users WHERE birth_date >= {{since}} ORDER BY id"
    assert ids(run(sql, tag("since", "date"), value("since", "1980-01-01", "date/single"))) == [1, 3, 4]
    sql = "SELECT id FROM users WHERE last_login < {{before}} ORDER BY id"
    assert ids(run(sql, tag("before", "date"), value("before", "2014-10-03T17:30:00", "date/single"))) == [
        1,
        4,
    ]
    sql = "SELECT id FROM users WHERE is_active = {{active}} ORDER BY id"
    assert ids(run(sql, tag("active", "boolean"), value("active", True, "boolean/="))) == [1, 2, 4, 5]


def test_optional_clauses_need_every_value_inside(run):
    sql = (
        "SELECT id FROM venues WHERE 1 = 1 [[AND price = {{price}}]] "
        "[[AND name <> {{name}} AND id > {{min}}]] ORDER BY id"
    )
    tags = {**tag("price", "number"), **tag("name"), **tag("min", "number")}
    assert ids(run(sql, tags)) == ALL_VENUES
    assert ids(run(sql, tags, value("price", 3))) == [1]
    assert ids(run(sql, tags, value("name", "Fred 62"))) == ALL_VENUES
    assert ids(run(sql, tags, value("name", "Fred 62"), value("min", "7"))) == [8, 9]
    # an unknown placeholder inside an optional clause drops it too
    assert (
        ids(run("SELECT id FROM venues WHERE 1 = 1 [[AND id = {{nope}}]] ORDER BY id", tag("x")))
        == ALL_VENUES
    )


def test_defaults_and_explicit_nulls(run):
    sql = "SELECT id FROM venues WHERE price = {{price}} ORDER BY id"
    assert ids(run(sql, tag("price", "number", default="3"))) == [1]
    assert ids(run(sql, tag("price", "number", default="3"), value("price", "1"))) == [9]
    sql = "SELECT id FROM venues WHERE 1 = 1 [[AND price = {{price}}]] ORDER BY id"
    assert ids(run(sql, tag("price", "number", default="3"), value("price", None))) == ALL_VENUES


def test_a_required_tag_without_value_fails(run):
    body = run("SELECT id FROM venues WHERE price = {{price}}", tag("price", "number", required=True))
    assert_failed(
        body,
        "You'll need to pick a value for 'Price' before this query can run.",
        "missing-required-parameter",
    )
    assert body["class"] == "MissingRequiredParameter"


def test_a_placeholder_without_value_or_tag_fails(run):
    body = run("SELECT id FROM venues WHERE name = {{name}} OR id = {{nope}} OR id = {{nope}}", tag("name"))
    assert_failed(
        body,
        'Cannot run the query: missing required parameters: #{"name" "nope"}',
        "missing-required-parameter",
    )


def test_malformed_clauses_fail_as_invalid_queries(run):
    body = run("SELECT id FROM venues WHERE id = {{id", tag("id"))
    assert_failed(body, "Invalid query: found '[[' or '{{' with no matching ']]' or '}}'", "invalid-query")


def test_literal_colons_question_marks_and_percents_survive(run):
    expected = [["10:30", ":name", "a?", "50%"]]
    literals = "'10:30' AS t, ':name' AS n, 'a?' AS q, '50%' AS p"
    assert rows(run(f"SELECT {literals}")) == expected
    assert (
        rows(run(f"SELECT {literals} FROM venues WHERE id = {{{{id}}}}", tag("id", "number"), value("id", 1)))
        == expected
    )
    sql = "SELECT name FROM venues WHERE name LIKE '%Pan%' AND name <> {{x}} AND ':x' = ':x'"
    assert rows(run(sql, tag("x"), value("x", "?"))) == [["The Apple Pan"]]


def test_postgres_casts_survive(run, engine):
    if engine not in ("postgres", "duckdb"):
        pytest.skip("the `::` cast is PostgreSQL syntax")
    sql = "SELECT '7'::int AS seven, {{x}}::text AS x"
    assert rows(run(sql, tag("x"), value("x", "a:b"))) == [[7, "a:b"]]
    assert rows(run("SELECT '7'::int AS seven")) == [[7]]


# --- field filters ------------------------------------------------------------------------------------------


def test_category_field_filter_and_its_native_form(run, warehouse, engine, api):
    sql = "SELECT id FROM venues WHERE {{name}} ORDER BY id"
    tags = field_filter("name", warehouse.fields["venues.name"], "category")
    body = run(sql, tags, filter_value("name", ["Red Medicine", "Fred 62"], "category"))
    assert ids(body) == [1, 10]
    expected_form = {
        "query": f"SELECT id FROM venues WHERE {VENUES_NAME_SQL[engine]} IN (?, ?) ORDER BY id",
        "params": ["Red Medicine", "Fred 62"],
    }
    assert body["data"]["native_form"] == expected_form
    query = {
        "database": warehouse.id,
        "type": "native",
        "native": {"query": sql, "template-tags": tags},
        "parameters": [filter_value("name", ["Red Medicine", "Fred 62"], "category")],
    }
    assert api.as_("crowberto").post("/api/dataset/native", query) == expected_form


@pytest.mark.parametrize(
    ("field", "widget_type", "param_type", "the_value", "options", "expected"),
    [
        ("venues.price", "category", "category", "2", None, [2, 3, 4, 5, 6, 7, 8, 10]),
        ("venues.id", "id", "id", ["1", "2"], None, [1, 2]),
        ("venues.price", "number/=", "number/=", [3, 1], None, [1, 9]),
        ("venues.price", "number/!=", "number/!=", [2], None, [1, 9]),
        ("venues.price", "number/between", "number/between", [1, 2], None, [2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ("venues.price", "number/between", "number/between", [3, None], None, [1]),
        ("venues.price", "number/>=", "number/>=", [3], None, [1]),
        ("venues.price", "number/<=", "number/<=", ["1"], None, [9]),
        ("venues.name", "string/=", "string/=", ["Fred 62", "Krua Siri"], None, [9, 10]),
        ("venues.name", "string/!=", "string/!=", ["Fred 62"], None, list(range(1, 10))),
        ("venues.name", "string/contains", "string/contains", ["Burg"], None, [2]),
        ("venues.name", "string/contains", "string/contains", ["burg"], {"case-sensitive": False}, [2]),
        (
            "venues.name",
            "string/does-not-contain",
            "string/does-not-contain",
            ["restaurant"],
            {"case-sensitive": False},
            [1, 2, 3, 4, 6, 8, 9, 10],
        ),
        ("venues.name", "string/starts-with", "string/starts-with", ["The"], None, [3, 6]),
        ("venues.name", "string/ends-with", "string/ends-with", ["Restaurant"], None, [5, 7]),
        ("venues.name", "location/city", "location/city", ["Krua Siri"], None, [9]),
        ("venues.name", "location/state", "string/=", ["Fred 62"], None, [10]),
        ("users.is_active", "boolean/=", "boolean/=", [False], None, [3]),
    ],
)
def test_field_filter_widget_types(
    run, warehouse, field, widget_type, param_type, the_value, options, expected
):
    table = field.split(".")[0]
    extra = {"options": options} if options else {}
    tags = field_filter("f", warehouse.fields[field], widget_type, **extra)
    body = run(
        f"SELECT id FROM {table} WHERE {{{{f}}}} ORDER BY id", tags, filter_value("f", the_value, param_type)
    )
    assert ids(body) == expected


def test_field_filter_without_value(run, warehouse):
    tags = field_filter("f", warehouse.fields["venues.price"], "number/=")
    body = run("SELECT id FROM venues WHERE {{f}} ORDER BY id", tags)
    assert ids(body) == ALL_VENUES
    assert body["data"]["native_form"]["query"] == "SELECT id FROM venues WHERE 1 = 1 ORDER BY id"
    # inside an optional clause the clause is dropped instead
    body = run("SELECT id FROM venues WHERE id < 3 [[AND {{f}}]] ORDER BY id", tags)
    assert body["data"]["native_form"]["query"] == "SELECT id FROM venues WHERE id < 3  ORDER BY id"
    # with a default
    tags = field_filter("f", warehouse.fields["venues.price"], "number/=", default=[3])
    assert ids(run("SELECT id FROM venues WHERE {{f}} ORDER BY id", tags)) == [1]


def test_a_required_field_filter_without_value_fails(run, warehouse):
    tags = field_filter("f", warehouse.fields["venues.price"], "number/=", required=True)
    body = run("SELECT id FROM venues WHERE {{f}}", tags)
    assert_failed(
        body, "You'll need to pick a value for 'F' before this query can run.", "missing-required-parameter"
    )


def test_field_filter_values_are_bound_or_refused(run, warehouse):
    sql = "SELECT id FROM venues WHERE {{f}} ORDER BY id"
    name = field_filter("f", warehouse.fields["venues.name"], "string/=")
    assert ids(run(sql, name, filter_value("f", ["x' OR 'a'='a"], "string/="))) == []
    contains = field_filter("f", warehouse.fields["venues.name"], "string/contains")
    for wildcard in ("%", "_"):
        assert ids(run(sql, contains, filter_value("f", [wildcard], "string/contains"))) == []
    price = field_filter("f", warehouse.fields["venues.price"], "category")
    body = run(sql, price, filter_value("f", "2 OR 1=1", "category"))
    assert_failed(body, 'For input string: "2 OR 1=1"', "invalid-parameter")
    date = field_filter("f", warehouse.fields["checkins.date"], "date/all-options")
    body = run(
        "SELECT id FROM checkins WHERE {{f}}", date, filter_value("f", "2014-01-01' OR '1'='1", "date/single")
    )
    assert_failed(
        body,
        "Don't know how to parse date param '2014-01-01' OR '1'='1' — invalid format",
        "invalid-parameter",
    )


def test_an_alias_replaces_the_column(run, warehouse):
    tags = field_filter("f", warehouse.fields["venues.price"], "number/=", alias="v.price")
    body = run(
        "SELECT v.id FROM venues v WHERE {{f}} ORDER BY v.id", tags, filter_value("f", [3], "number/=")
    )
    assert ids(body) == [1]


def test_field_filter_targeted_by_tag_id(run, warehouse):
    tags = field_filter("f", warehouse.fields["venues.price"], "number/=")
    by_id = {"type": "number/=", "target": ["dimension", ["template-tag", {"id": "tag-f"}]], "value": [1]}
    assert ids(run("SELECT id FROM venues WHERE {{f}} ORDER BY id", tags, by_id)) == [9]


def test_several_parameters_on_one_field_filter_are_anded(run, warehouse):
    tags = field_filter("d", warehouse.fields["checkins.date"], "date/all-options")
    body = run(
        "SELECT id FROM checkins WHERE {{d}} ORDER BY id",
        tags,
        filter_value("d", "2014-01-01~2014-12-31", "date/range"),
        filter_value("d", "2014-03-03", "date/single"),
    )
    assert ids(body) == [2]


def test_unknown_field_fails(run):
    body = run("SELECT 1 WHERE {{f}}", field_filter("f", 999999999, "category"))
    assert_failed(body, "Can't find field with ID: 999999999", "invalid-parameter")


@pytest.mark.parametrize(
    ("param_type", "the_value", "expected"),
    [
        ("date/single", "2014-02-02", checkins_where(lambda d: d == dt.date(2014, 2, 2))),
        ("date/range", "2014-03-01~2014-03-31", [2, 14, 26, 38]),
        ("date/month-year", "2014-03", [2, 14, 26, 38]),
        ("date/quarter-year", "Q1-2014", checkins_where(lambda d: d.month <= 3)),
        ("date/all-options", "~2014-03-03", checkins_where(lambda d: d < dt.date(2014, 3, 3))),
        ("date/all-options", "2014-03-03~", checkins_where(lambda d: d > dt.date(2014, 3, 3))),
        ("date/relative", "past30years", checkins_where(lambda d: True)),
        ("date/relative", "past30years-from-1years", checkins_where(lambda d: True)),
        ("date/relative", "next3years", []),
        ("date/relative", "thismonth", []),
        ("date/all-options", "exclude-months-Jan", checkins_where(lambda d: d.month != 1)),
        ("date/all-options", "exclude-months-Jan-Feb", checkins_where(lambda d: d.month > 2)),
        ("date/all-options", "exclude-quarters-1", checkins_where(lambda d: d.month > 3)),
        ("date/all-options", "exclude-days-Mon-Fri", checkins_where(lambda d: d.weekday() not in (0, 4))),
    ],
)
def test_date_strings_on_a_date_column(run, warehouse, param_type, the_value, expected):
    tags = field_filter("d", warehouse.fields["checkins.date"], "date/all-options")
    body = run(
        "SELECT id FROM checkins WHERE {{d}} ORDER BY id", tags, filter_value("d", the_value, param_type)
    )
    assert ids(body) == expected


@pytest.mark.parametrize(
    ("the_value", "expected"),
    [
        ("2014-04-01", [1]),
        ("2014-10-01~2014-11-30", [3, 5]),
        ("2014-04-01T08:30", [1]),
        ("2014-04-01T08:31", []),
        ("~2014-04-01", [4]),
        ("2014-11-06~", [2]),
        ("2014-12", [2]),
        ("Q4-2014", [2, 3, 5]),
        ("exclude-hours-8", [2, 3, 5]),
        ("past30years", [1, 2, 3, 4, 5]),
    ],
)
def test_date_strings_on_a_datetime_column(run, warehouse, the_value, expected):
    tags = field_filter("d", warehouse.fields["users.last_login"], "date/all-options")
    body = run(
        "SELECT id FROM users WHERE {{d}} ORDER BY id", tags, filter_value("d", the_value, "date/all-options")
    )
    assert ids(body) == expected


# --- saved questions and snippets ---------------------------------------------------------------------------


def test_card_and_snippet_references_are_refused(run):
    # Ids no other test reaches: the suite's app DB holds whatever cards the tests before this one made.
    card = tag("#2000000005-orders", "card", **{"card-id": 2000000005})
    body = run("SELECT * FROM {{#2000000005-orders}}", card)
    assert_failed(body, "Card 2000000005 not found.", "invalid-parameter")
    snippet = tag("snippet: cheap", "snippet", **{"snippet-name": "cheap", "snippet-id": 2000000007})
    body = run("SELECT * FROM venues WHERE {{snippet: cheap}}", snippet)
    assert_failed(body, 'Snippet 2000000007 "cheap" not found.', "invalid-parameter")
