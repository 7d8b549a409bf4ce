"""The MBQL feature matrix: every clause of mbql.md §2 through `POST /api/dataset`, on every engine
(SQLite, DuckDB, PostgreSQL, MySQL), each answer checked row for row with the key column metadata.

The warehouses hold the test-data dataset plus the `events` table (tests/support/datasets/events.py),
whose values make every answer exact and engine-independent. One warehouse per engine is connected
through the API for the whole module and deleted at its end.

Runs on the SQLite app DB only: the app DB holds the metadata, never the rows, so the other app DBs
would repeat the same queries for the same answers (their metadata reads are covered by tests/api).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from querybase.query_processor import answers
from querybase.query_processor.context import QueryContext
from tests.support.datasets import events
from tests.support.datasets.connected import Connected, Warehouses, connect
from tests.support.http import Api
from tests.support.warehouses import fresh_warehouse

KEYS = ("name", "display_name", "base_type", "source", "field_ref", "unit")
ALL_IDS = [row[0] for row in events.ROWS]


@pytest.fixture(scope="module")
def warehouses(server: Any, app_db_kind: str) -> Iterator[Warehouses]:
    if app_db_kind != "sqlite":
        pytest.skip("the MBQL matrix runs on the SQLite app DB only (the app DB does not change results)")
    admin = server.api().as_("crowberto")

    @contextmanager
    def make(engine: str) -> Iterator[Connected]:
        with fresh_warehouse(engine) as details:
            events.add_events(engine, details)
            with connect(admin, engine, details) as connected:
                yield connected

    with ExitStack() as stack:
        yield Warehouses(stack, make)


@pytest.fixture
def db(warehouses: Warehouses, engine: str) -> Connected:
    return warehouses(engine)


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative filters evaluated at `events.NOW` (the API builds each query's context with this `now`)."""
    monkeypatch.setattr(answers, "QueryContext", functools.partial(QueryContext, now=events.NOW))


def run(admin: Api, db: Connected, inner: dict[str, Any]) -> dict[str, Any]:
    return admin.post("/api/dataset", {"database": db.id, "type": "query", "query": inner}, expect=202)


def completed(body: dict[str, Any]) -> dict[str, Any]:
    assert body["status"] == "completed", (body.get("error_type"), body.get("error"))
    return body


def rows(body: dict[str, Any]) -> list[list[Any]]:
    return completed(body)["data"]["rows"]


def cols(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: col.get(key) for key in KEYS} for col in completed(body)["data"]["cols"]]


def failure(body: dict[str, Any]) -> tuple[str, str]:
    assert body["status"] == "failed", body.get("data", {}).get("rows")
    assert body["data"] == {"rows": [], "cols": []}
    return body["error_type"], body["error"]


def col(
    name: str, display: str, base: str, source: str, field_ref: list[Any], unit: str | None = None
) -> dict[str, Any]:
    return dict(zip(KEYS, (name, display, base, source, field_ref, unit), strict=True))


def fcol(
    db: Connected, path: str, source: str = "fields", *, display: str | None = None, **opts: Any
) -> dict:
    """A field's column: its synced name, display name and type; `opts` are its ref's options."""
    field = db.fields[path]
    ref = db.ref(path, **opts)
    unit = (ref[2] or {}).get("temporal-unit")
    return col(field["name"], display or field["display_name"], field["base_type"], source, ref, unit)


def agg(name: str, display: str, base: str, index: int) -> dict[str, Any]:
    return col(name, display, base, "aggregation", ["aggregation", index])


def iso(value: dt.date | None) -> str | None:
    """A stored date or datetime as the API answers it."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def ids(admin: Api, db: Connected, filter_clause: list[Any]) -> list[int]:
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.id")],
            "filter": filter_clause,
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    assert cols(body) == [fcol(db, "events.id")]
    return [row[0] for row in rows(body)]


def but(*excluded: int) -> list[int]:
    return [i for i in ALL_IDS if i not in excluded]


# ---------------------------------------------------------------------------------------------------
# Source rows


def test_source_table_rows_with_default_fields(admin, db):
    body = run(admin, db, {"source-table": db.table("events"), "order-by": [["asc", db.ref("events.id")]]})
    assert rows(body) == [
        [i, title, kind, score, ratio, iso(created), iso(day), user]
        for i, title, kind, score, ratio, created, day, user in events.ROWS
    ]
    assert cols(body) == [
        fcol(db, "events.id"),
        fcol(db, "events.title"),
        fcol(db, "events.kind"),
        fcol(db, "events.score"),
        fcol(db, "events.ratio"),
        fcol(db, "events.created_at", temporal_unit="default"),
        fcol(db, "events.day", temporal_unit="default"),
        fcol(db, "events.user_id"),
    ]
    assert [c["base_type"] for c in cols(body)] == [
        "type/Integer",
        "type/Text",
        "type/Text",
        "type/Integer",
        "type/Float",
        "type/DateTime",
        "type/Date",
        "type/BigInteger",
    ]


def test_fields_list_with_order_and_limit(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.title"), db.ref("events.created_at")],
            "order-by": [["desc", db.ref("events.id")]],
            "limit": 3,
        },
    )
    assert rows(body) == [
        ["epsilon", "2025-01-15T12:00:00Z"],
        ["Delta", "2024-06-30T23:59:59Z"],
        ["ALPHA", "2024-04-02T07:00:00Z"],
    ]
    assert cols(body) == [fcol(db, "events.title"), fcol(db, "events.created_at", temporal_unit="default")]


def test_booleans_are_booleans_on_every_engine(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("users"),
            "fields": [db.ref("users.is_active"), db.ref("users.birth_date")],
            "order-by": [["asc", db.ref("users.id")]],
        },
    )
    assert rows(body) == [
        [True, "1980-01-02T00:00:00Z"],
        [True, "1975-05-06T00:00:00Z"],
        [False, "1990-07-08T00:00:00Z"],
        [True, "1985-09-10T00:00:00Z"],
        [True, "1970-11-12T00:00:00Z"],
    ]


# ---------------------------------------------------------------------------------------------------
# Filters (mbql.md §2.2); TITLE(db), SCORE(db)... are refs to the events table's fields.

Clause = Callable[[Connected], list[Any]]


def _f(path: str) -> Callable[..., list[Any]]:
    """`F(db, **opts)`: a ref to the events table's field `path`."""
    return lambda db, **opts: db.ref(f"events.{path}", **opts)


TITLE, KIND, SCORE, RATIO, CREATED, DAY = (
    _f(n) for n in ("title", "kind", "score", "ratio", "created_at", "day")
)

FILTERS: list[tuple[str, Clause, list[int]]] = [
    ("=", lambda db: ["=", KIND(db), "talk"], [1, 2, 8, 10]),
    ("= several values", lambda db: ["=", KIND(db), "talk", "sale"], [1, 2, 6, 7, 8, 9, 10]),
    ("in", lambda db: ["in", SCORE(db), 10, 50], [1, 11]),
    ("not-in", lambda db: ["not-in", KIND(db), "talk", "sale"], [3, 4, 5, 11, 12]),
    ("!= keeps NULLs", lambda db: ["!=", SCORE(db), 10], but(1)),
    ("!= several values", lambda db: ["!=", TITLE(db), "Gamma", "Delta"], but(3, 11)),
    ("!= nil", lambda db: ["!=", TITLE(db), None], but(5)),
    ("= nil", lambda db: ["=", SCORE(db), None], [4, 12]),
    ("<", lambda db: ["<", SCORE(db), 20], [1, 5, 6]),
    (">", lambda db: [">", SCORE(db), 40], [10, 11]),
    ("<=", lambda db: ["<=", SCORE(db), 10], [1, 5]),
    (">=", lambda db: [">=", RATIO(db), 2.5], [9, 11, 12]),
    ("between", lambda db: ["between", SCORE(db), 10, 30], [1, 2, 3, 6, 7]),
    ("is-null", lambda db: ["is-null", SCORE(db)], [4, 12]),
    ("not-null", lambda db: ["not-null", TITLE(db)], but(5)),
    ("is-empty text", lambda db: ["is-empty", TITLE(db)], [4, 5]),
    ("not-empty text", lambda db: ["not-empty", TITLE(db)], but(4, 5)),
    ("is-empty number", lambda db: ["is-empty", SCORE(db)], [4, 12]),
    ("not-empty number", lambda db: ["not-empty", SCORE(db)], but(4, 12)),
    ("contains", lambda db: ["contains", TITLE(db), "Alpha"], [1]),
    ("contains case-sensitive", lambda db: ["contains", TITLE(db), "alpha", {"case-sensitive": True}], []),
    (
        "contains case-insensitive",
        lambda db: ["contains", TITLE(db), "alpha", {"case-sensitive": False}],
        [1, 10],
    ),
    ("contains several", lambda db: ["contains", TITLE(db), "Gam", "Del", {}], [3, 11]),
    ("does-not-contain", lambda db: ["does-not-contain", TITLE(db), "a"], [4, 5, 6, 9, 10, 12]),
    (
        "does-not-contain case-insensitive",
        lambda db: ["does-not-contain", TITLE(db), "a", {"case-sensitive": False}],
        [4, 5, 6, 9, 12],
    ),
    ("starts-with", lambda db: ["starts-with", TITLE(db), "AL"], [10]),
    (
        "starts-with case-insensitive",
        lambda db: ["starts-with", TITLE(db), "AL", {"case-sensitive": False}],
        [1, 10],
    ),
    ("ends-with", lambda db: ["ends-with", TITLE(db), "Launch"], [2]),
    (
        "ends-with case-insensitive",
        lambda db: ["ends-with", TITLE(db), "launch", {"case-sensitive": False}],
        [1, 2],
    ),
    ("and", lambda db: ["and", ["=", KIND(db), "talk"], [">", SCORE(db), 15]], [2, 8, 10]),
    ("or", lambda db: ["or", ["<", SCORE(db), 10], [">=", RATIO(db), 4]], [5, 12]),
    ("not", lambda db: ["not", ["=", KIND(db), "talk"]], [3, 4, 5, 6, 7, 9, 11, 12]),
    ("not contains keeps NULLs", lambda db: ["not", ["contains", TITLE(db), "a"]], [4, 5, 6, 9, 10, 12]),
    # A date string against a datetime column compares days (Metabase's auto-bucketing).
    ("= date", lambda db: ["=", CREATED(db), "2024-03-12"], [6]),
    ("< date", lambda db: ["<", CREATED(db), "2024-01-01"], [1]),
    ("> date is after the whole day", lambda db: [">", CREATED(db), "2024-03-14"], [9, 10, 11, 12]),
    (
        "between dates is inclusive",
        lambda db: ["between", CREATED(db), "2024-03-10", "2024-03-12"],
        [4, 5, 6],
    ),
    ("= datetime", lambda db: ["=", CREATED(db), "2024-03-12T18:00:00"], [6]),
    ("< datetime", lambda db: ["<", CREATED(db), "2024-03-12T18:00:00Z"], [1, 2, 3, 4, 5]),
    ("= date on a date column", lambda db: ["=", DAY(db), "2024-03-12"], [6]),
    (
        "= month bucket",
        lambda db: ["=", CREATED(db, temporal_unit="month"), "2024-03-05"],
        [4, 5, 6, 7, 8, 9],
    ),
    (
        "!= month bucket",
        lambda db: ["!=", CREATED(db, temporal_unit="month"), "2024-03-01"],
        [1, 2, 3, 10, 11, 12],
    ),
    ("< year bucket", lambda db: ["<", CREATED(db, temporal_unit="year"), "2024-06-01"], [1]),
    ("<= week bucket", lambda db: ["<=", DAY(db, temporal_unit="week"), "2024-02-27"], [1, 2, 3]),
    ("> quarter bucket", lambda db: [">", CREATED(db, temporal_unit="quarter"), "2024-02-01"], [10, 11, 12]),
    ("= extraction", lambda db: ["=", CREATED(db, temporal_unit="day-of-week"), 1], [1, 4, 11]),
    ("during month", lambda db: ["during", CREATED(db), "2024-03", "month"], [4, 5, 6, 7, 8, 9]),
    ("during day", lambda db: ["during", CREATED(db), "2024-03-12", "day"], [6]),
]


@pytest.mark.parametrize(("clause", "expected"), [c[1:] for c in FILTERS], ids=[c[0] for c in FILTERS])
def test_filter(admin, db, clause, expected):
    assert ids(admin, db, clause(db)) == expected


def test_inside(admin, db):
    latitude, longitude = db.ref("venues.latitude"), db.ref("venues.longitude")
    body = run(
        admin,
        db,
        {
            "source-table": db.table("venues"),
            "fields": [db.ref("venues.id")],
            "filter": ["inside", latitude, longitude, 34.1, -118.3, 34.05, -118.35],
            "order-by": [["asc", db.ref("venues.id")]],
        },
    )
    assert rows(body) == [[2], [7]]


# `now` is Wednesday 2024-03-13 at noon; weeks start on Sunday.
TIME_INTERVALS: list[tuple[str, Clause, list[int]]] = [
    ("current day", lambda db: ["time-interval", CREATED(db), "current", "day"], [7]),
    ("current week", lambda db: ["time-interval", CREATED(db), "current", "week"], [4, 5, 6, 7, 8]),
    ("current month", lambda db: ["time-interval", CREATED(db), "current", "month"], [4, 5, 6, 7, 8, 9]),
    ("current year", lambda db: ["time-interval", CREATED(db), "current", "year"], list(range(2, 12))),
    ("last day", lambda db: ["time-interval", CREATED(db), "last", "day"], [6]),
    ("next day", lambda db: ["time-interval", CREATED(db), "next", "day"], [8]),
    ("last 3 days", lambda db: ["time-interval", CREATED(db), -3, "day"], [4, 5, 6]),
    (
        "last 3 days with today",
        lambda db: ["time-interval", CREATED(db), -3, "day", {"include-current": True}],
        [4, 5, 6, 7],
    ),
    ("next week", lambda db: ["time-interval", CREATED(db), 1, "week"], [9]),
    (
        "next 3 weeks with this one",
        lambda db: ["time-interval", CREATED(db), 3, "week", {"include-current": True}],
        [4, 5, 6, 7, 8, 9, 10],
    ),
    ("last month", lambda db: ["time-interval", CREATED(db), -1, "month"], [3]),
    ("next month", lambda db: ["time-interval", CREATED(db), "next", "month"], [10]),
    ("last 2 quarters", lambda db: ["time-interval", CREATED(db), -2, "quarter"], [1]),
    ("last year", lambda db: ["time-interval", CREATED(db), "last", "year"], [1]),
    ("last 3 days of a date column", lambda db: ["time-interval", DAY(db), -3, "day"], [4, 5, 6]),
    (
        "relative-time-interval: last 2 months, 2 months earlier",
        lambda db: ["relative-time-interval", CREATED(db), -2, "month", -2, "month"],
        [1],
    ),
    (
        "relative-time-interval: last 2 weeks, a week later",
        lambda db: ["relative-time-interval", CREATED(db), -2, "week", 1, "week"],
        [4, 5, 6, 7, 8],
    ),
    (
        "relative-time-interval: next year, a month earlier (offset after truncation)",
        lambda db: ["relative-time-interval", CREATED(db), 1, "year", -1, "month"],
        [12],
    ),
    (
        "= relative-datetime",
        lambda db: ["=", CREATED(db, temporal_unit="day"), ["relative-datetime", -1, "day"]],
        [6],
    ),
]


@pytest.mark.parametrize(
    ("clause", "expected"), [c[1:] for c in TIME_INTERVALS], ids=[c[0] for c in TIME_INTERVALS]
)
def test_relative_time_filter(admin, db, fixed_now, clause, expected):
    assert ids(admin, db, clause(db)) == expected


# ---------------------------------------------------------------------------------------------------
# Aggregations (mbql.md §2.3)


def test_basic_aggregations(admin, db):
    score, ratio, kind = SCORE(db), RATIO(db), KIND(db)
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [
                ["count"],
                ["count", score],
                ["sum", score],
                ["avg", score],
                ["min", score],
                ["max", ratio],
                ["distinct", kind],
                ["sum", ratio],
                ["avg", ratio],
                ["aggregation-options", ["sum", ["*", score, 2]], {"name": "twice", "display-name": "Twice"}],
            ],
        },
    )
    assert rows(body) == [[12, 10, 275, 27.5, 5, 4.0, 4, 20.75, 20.75 / 12, 550]]
    assert cols(body) == [
        agg("count", "Count", "type/BigInteger", 0),
        agg("count_2", "Count of Score", "type/BigInteger", 1),
        agg("sum", "Sum of Score", "type/Integer", 2),
        agg("avg", "Average of Score", "type/Float", 3),
        agg("min", "Min of Score", "type/Integer", 4),
        agg("max", "Max of Ratio", "type/Float", 5),
        agg("count_3", "Distinct values of Kind", "type/BigInteger", 6),
        agg("sum_2", "Sum of Ratio", "type/Float", 7),
        agg("avg_2", "Average of Ratio", "type/Float", 8),
        agg("twice", "Twice", "type/Integer", 9),
    ]
    assert [c["semantic_type"] for c in completed(body)["data"]["cols"][:2]] == ["type/Quantity"] * 2


def test_conditional_aggregations(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [
                ["share", [">", SCORE(db), 20]],
                ["count-where", [">", SCORE(db), 20]],
                ["sum-where", RATIO(db), ["=", KIND(db), "talk"]],
                ["distinct-where", KIND(db), [">", SCORE(db), 20]],
            ],
        },
    )
    assert rows(body) == [[0.5, 6, 5.0, 4]]
    assert cols(body) == [
        agg("share", "Share of rows matching condition", "type/Float", 0),
        agg("count_where", "Count of rows matching condition", "type/BigInteger", 1),
        agg("sum_where", "Sum of Ratio matching condition", "type/Float", 2),
        agg("distinct_where", "Distinct values of Kind matching condition", "type/BigInteger", 3),
    ]


def test_cumulative_aggregations(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["cum-sum", SCORE(db)], ["cum-count"], ["count"]],
            "breakout": [KIND(db)],
        },
    )
    assert rows(body) == [
        ["meetup", 35, 3, 3],
        ["release", 85, 5, 2],
        ["sale", 165, 8, 3],
        ["talk", 275, 12, 4],
    ]
    assert cols(body) == [
        fcol(db, "events.kind", "breakout"),
        agg("sum", "Cumulative sum of Score", "type/Integer", 0),
        agg("count", "Cumulative count", "type/BigInteger", 1),
        agg("count_2", "Count", "type/BigInteger", 2),
    ]


def test_cumulative_count_follows_a_descending_order(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["cum-count"]],
            "breakout": [CREATED(db, temporal_unit="year")],
            "order-by": [["desc", CREATED(db, temporal_unit="year")]],
        },
    )
    assert rows(body) == [
        ["2025-01-01T00:00:00Z", 12],
        ["2024-01-01T00:00:00Z", 11],
        ["2023-01-01T00:00:00Z", 1],
    ]


def test_standard_deviation_and_variance(admin, db, engine):
    body = run(
        admin,
        db,
        {"source-table": db.table("events"), "aggregation": [["stddev", RATIO(db)], ["var", RATIO(db)]]},
    )
    if engine == "sqlite":
        assert failure(body) == (
            "unsupported-feature",
            "standard-deviation-aggregations is not supported by this driver.",
        )
        return
    # Population statistics, as Metabase computes them (stddev_pop, var_pop).
    assert rows(body) == [[1.0481051023421055, 1.0985243055555556]]
    assert cols(body) == [
        agg("stddev", "Standard deviation of Ratio", "type/Float", 0),
        agg("var", "Variance of Ratio", "type/Float", 1),
    ]


def test_median_and_percentile(admin, db, engine):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["median", SCORE(db)], ["percentile", SCORE(db), 0.9]],
        },
    )
    if engine in ("sqlite", "mysql"):
        assert failure(body) == (
            "unsupported-feature",
            "percentile-aggregations is not supported by this driver.",
        )
        return
    assert rows(body) == [[27.5, 45.5]]
    assert cols(body) == [
        agg("median", "Median of Score", "type/Float", 0),
        agg("percentile", "Percentile of Score", "type/Float", 1),
    ]


def test_invalid_percentile_fails(admin, db, engine):
    body = run(admin, db, {"source-table": db.table("events"), "aggregation": [["percentile", SCORE(db), 2]]})
    expected_type = "unsupported-feature" if engine in ("sqlite", "mysql") else "invalid-query"
    assert failure(body)[0] == expected_type


# ---------------------------------------------------------------------------------------------------
# Breakouts


def test_breakout_on_a_field(admin, db):
    body = run(
        admin, db, {"source-table": db.table("events"), "aggregation": [["count"]], "breakout": [KIND(db)]}
    )
    assert rows(body) == [["meetup", 3], ["release", 2], ["sale", 3], ["talk", 4]]
    assert cols(body) == [fcol(db, "events.kind", "breakout"), agg("count", "Count", "type/BigInteger", 0)]


TEMPORAL_BREAKOUTS: list[tuple[str, str, list[list[Any]]]] = [
    (
        "day",
        "Day",
        [
            ["2023-12-31T00:00:00Z", 1],
            ["2024-01-01T00:00:00Z", 1],
            ["2024-02-29T00:00:00Z", 1],
            ["2024-03-10T00:00:00Z", 1],
            ["2024-03-11T00:00:00Z", 1],
            ["2024-03-12T00:00:00Z", 1],
            ["2024-03-13T00:00:00Z", 1],
            ["2024-03-14T00:00:00Z", 1],
            ["2024-03-20T00:00:00Z", 1],
            ["2024-04-02T00:00:00Z", 1],
            ["2024-06-30T00:00:00Z", 1],
            ["2025-01-15T00:00:00Z", 1],
        ],
    ),
    (
        "week",
        "Week",
        [
            ["2023-12-31T00:00:00Z", 2],
            ["2024-02-25T00:00:00Z", 1],
            ["2024-03-10T00:00:00Z", 5],
            ["2024-03-17T00:00:00Z", 1],
            ["2024-03-31T00:00:00Z", 1],
            ["2024-06-30T00:00:00Z", 1],
            ["2025-01-12T00:00:00Z", 1],
        ],
    ),
    (
        "month",
        "Month",
        [
            ["2023-12-01T00:00:00Z", 1],
            ["2024-01-01T00:00:00Z", 1],
            ["2024-02-01T00:00:00Z", 1],
            ["2024-03-01T00:00:00Z", 6],
            ["2024-04-01T00:00:00Z", 1],
            ["2024-06-01T00:00:00Z", 1],
            ["2025-01-01T00:00:00Z", 1],
        ],
    ),
    (
        "quarter",
        "Quarter",
        [
            ["2023-10-01T00:00:00Z", 1],
            ["2024-01-01T00:00:00Z", 8],
            ["2024-04-01T00:00:00Z", 2],
            ["2025-01-01T00:00:00Z", 1],
        ],
    ),
    (
        "year",
        "Year",
        [["2023-01-01T00:00:00Z", 1], ["2024-01-01T00:00:00Z", 10], ["2025-01-01T00:00:00Z", 1]],
    ),
]


@pytest.mark.parametrize("column", ["created_at", "day"])
@pytest.mark.parametrize(
    ("unit", "label", "expected"), TEMPORAL_BREAKOUTS, ids=[b[0] for b in TEMPORAL_BREAKOUTS]
)
def test_breakout_by_temporal_unit(admin, db, column, unit, label, expected):
    ref = db.ref(f"events.{column}", temporal_unit=unit)
    body = run(admin, db, {"source-table": db.table("events"), "aggregation": [["count"]], "breakout": [ref]})
    assert rows(body) == expected
    display = f"{db.fields[f'events.{column}']['display_name']}: {label}"
    assert cols(body) == [
        fcol(db, f"events.{column}", "breakout", display=display, temporal_unit=unit),
        agg("count", "Count", "type/BigInteger", 0),
    ]


def test_breakout_by_hour(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [CREATED(db, temporal_unit="hour")],
            "filter": ["<", CREATED(db), "2024-03-11"],
        },
    )
    assert rows(body) == [
        ["2023-12-31T23:00:00Z", 1],
        ["2024-01-01T00:00:00Z", 1],
        ["2024-02-29T10:00:00Z", 1],
        ["2024-03-10T09:00:00Z", 1],
    ]
    assert cols(body)[0] == fcol(
        db, "events.created_at", "breakout", display="Created At: Hour", temporal_unit="hour"
    )


def test_breakout_on_a_bare_datetime_groups_by_day(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [CREATED(db)],
            "order-by": [["desc", CREATED(db)]],
            "limit": 2,
        },
    )
    assert rows(body) == [["2025-01-15T00:00:00Z", 1], ["2024-06-30T00:00:00Z", 1]]
    assert cols(body)[0] == fcol(
        db, "events.created_at", "breakout", display="Created At: Day", temporal_unit="day"
    )


EXTRACTIONS: list[tuple[str, str, list[list[int]]]] = [
    ("day-of-week", "Day of week", [[1, 3], [2, 2], [3, 2], [4, 3], [5, 2]]),
    ("month-of-year", "Month of year", [[1, 2], [2, 1], [3, 6], [4, 1], [6, 1], [12, 1]]),
    ("quarter-of-year", "Quarter of year", [[1, 9], [2, 2], [4, 1]]),
    (
        "hour-of-day",
        "Hour of day",
        [[0, 1], [7, 1], [8, 1], [9, 1], [10, 1], [11, 1], [12, 1], [14, 1], [18, 1], [20, 1], [23, 2]],
    ),
    (
        "day-of-month",
        "Day of month",
        [
            [1, 1],
            [2, 1],
            [10, 1],
            [11, 1],
            [12, 1],
            [13, 1],
            [14, 1],
            [15, 1],
            [20, 1],
            [29, 1],
            [30, 1],
            [31, 1],
        ],
    ),
    # Metabase's week of year: the day of the year of the (Sunday-started) week's first day, in sevenths.
    ("week-of-year", "Week of year", [[2, 1], [8, 1], [10, 5], [11, 1], [13, 1], [26, 1], [53, 2]]),
]


@pytest.mark.parametrize(("unit", "label", "expected"), EXTRACTIONS, ids=[e[0] for e in EXTRACTIONS])
def test_breakout_by_extraction(admin, db, unit, label, expected):
    ref = CREATED(db, temporal_unit=unit)
    body = run(admin, db, {"source-table": db.table("events"), "aggregation": [["count"]], "breakout": [ref]})
    assert rows(body) == expected
    assert cols(body) == [
        col("created_at", f"Created At: {label}", "type/Integer", "breakout", ref, unit),
        agg("count", "Count", "type/BigInteger", 0),
    ]


def test_binning_by_number_of_bins(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [SCORE(db, binning={"strategy": "num-bins", "num-bins": 4})],
        },
    )
    # A "nice" width of 12.5 over [0, 50]; NULL scores make their own group, first.
    assert rows(body) == [[None, 2], [0.0, 2], [12.5, 2], [25.0, 3], [37.5, 2], [50.0, 1]]
    binning = {"strategy": "num-bins", "min-value": 0.0, "max-value": 50.0, "num-bins": 4, "bin-width": 12.5}
    assert cols(body)[0] == col(
        "score", "Score: 4 bins", "type/Integer", "breakout", db.ref("events.score", binning=binning)
    )
    assert completed(body)["data"]["cols"][0]["binning_info"] == {
        "binning_strategy": "num-bins",
        "min_value": 0.0,
        "max_value": 50.0,
        "num_bins": 4,
        "bin_width": 12.5,
    }


def test_binning_by_width(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [RATIO(db, binning={"strategy": "bin-width", "bin-width": 1.0})],
        },
    )
    assert rows(body) == [[0.0, 3], [1.0, 4], [2.0, 3], [3.0, 1], [4.0, 1]]
    binning = {"strategy": "bin-width", "min-value": 0.0, "max-value": 4.0, "num-bins": 4, "bin-width": 1.0}
    assert cols(body)[0] == col(
        "ratio", "Ratio: 1", "type/Float", "breakout", db.ref("events.ratio", binning=binning)
    )


def test_default_binning_of_a_coordinate_uses_ten_degrees(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("venues"),
            "aggregation": [["count"]],
            "breakout": [db.ref("venues.latitude", binning={"strategy": "default"})],
        },
    )
    assert rows(body) == [[10.0, 1], [30.0, 9]]
    binning = {
        "strategy": "bin-width",
        "min-value": 10.0,
        "max-value": 40.0,
        "num-bins": 3,
        "bin-width": 10.0,
    }
    assert cols(body)[0] == col(
        "latitude", "Latitude: 10°", "type/Float", "breakout", db.ref("venues.latitude", binning=binning)
    )


# ---------------------------------------------------------------------------------------------------
# Order, limit, page


def test_order_by_aggregation_then_field(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["count"], ["sum", SCORE(db)]],
            "breakout": [KIND(db)],
            "order-by": [["desc", ["aggregation", 0]], ["desc", KIND(db)]],
        },
    )
    assert rows(body) == [["talk", 4, 110], ["sale", 3, 80], ["meetup", 3, 35], ["release", 2, 50]]


def test_order_by_nullable_field_puts_nulls_first(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.id")],
            "order-by": [["asc", SCORE(db)], ["desc", db.ref("events.id")]],
            "limit": 4,
        },
    )
    assert rows(body) == [[12], [4], [5], [1]]
    descending = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.id")],
            "order-by": [["desc", SCORE(db)]],
        },
    )
    assert [r[0] for r in rows(descending)][-2:] in ([4, 12], [12, 4])


@pytest.mark.parametrize(("page", "expected"), [(1, [1, 2, 3, 4, 5]), (2, [6, 7, 8, 9, 10]), (3, [11, 12])])
def test_page(admin, db, page, expected):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.id")],
            "order-by": [["asc", db.ref("events.id")]],
            "page": {"page": page, "items": 5},
        },
    )
    assert rows(body) == [[i] for i in expected]
    assert cols(body) == [fcol(db, "events.id")]


# ---------------------------------------------------------------------------------------------------
# Joins


def _users_join(db: Connected, strategy: str, fields: Any, alias: str = "U") -> dict[str, Any]:
    return {
        "source-table": db.table("users"),
        "alias": alias,
        "strategy": strategy,
        "condition": ["=", db.ref("events.user_id"), db.ref("users.id", join_alias=alias)],
        "fields": fields,
    }


def test_left_join_with_a_fields_list(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "joins": [_users_join(db, "left-join", [db.ref("users.name", join_alias="Users")], "Users")],
            "fields": [db.ref("events.id")],
            "filter": ["<=", db.ref("events.id"), 5],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    assert rows(body) == [
        [1, "Plato Yeshua"],
        [2, "Felipinho Asklepios"],
        [3, "Kaneonuskatew Eiran"],
        [4, None],
        [5, "Plato Yeshua"],
    ]
    assert cols(body) == [
        fcol(db, "events.id"),
        fcol(db, "users.name", display="Users → Name", join_alias="Users"),
    ]


def test_inner_join_with_all_fields(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "joins": [_users_join(db, "inner-join", "all")],
            "fields": [db.ref("events.id")],
            "order-by": [["desc", db.ref("events.id")]],
            "limit": 2,
        },
    )
    assert rows(body) == [
        [11, 4, "Simcha Yan", "simcha@example.com", "2014-01-01T08:30:00Z", "1985-09-10T00:00:00Z", True],
        [
            10,
            3,
            "Kaneonuskatew Eiran",
            "kane@example.com",
            "2014-11-06T16:15:00Z",
            "1990-07-08T00:00:00Z",
            False,
        ],
    ]
    joined = [
        fcol(db, "users.id", display="U → ID", join_alias="U"),
        fcol(db, "users.name", display="U → Name", join_alias="U"),
        fcol(db, "users.email", display="U → Email", join_alias="U"),
        fcol(db, "users.last_login", display="U → Last Login", join_alias="U", temporal_unit="default"),
        fcol(db, "users.birth_date", display="U → Birth Date", join_alias="U", temporal_unit="default"),
        fcol(db, "users.is_active", display="U → Is Active", join_alias="U"),
    ]
    # The joined `id` is renamed, as Metabase deduplicates column names.
    assert cols(body) == [fcol(db, "events.id"), {**joined[0], "name": "id_2"}, *joined[1:]]


def test_join_without_fields_and_a_breakout_on_the_joined_table(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "joins": [_users_join(db, "left-join", "none")],
            "aggregation": [["count"]],
            "breakout": [db.ref("users.is_active", join_alias="U")],
        },
    )
    assert rows(body) == [[None, 2], [False, 2], [True, 8]]
    assert cols(body)[0] == fcol(db, "users.is_active", "breakout", display="U → Is Active", join_alias="U")


def test_join_on_a_source_query_with_all_its_columns(admin, db):
    # Both columns of the joined query are big integers: the ref options are the same but for the name.
    user_id = {"base-type": "type/BigInteger", "join-alias": "C"}
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "joins": [
                {
                    "source-query": {
                        "source-table": db.table("checkins"),
                        "aggregation": [["count"]],
                        "breakout": [db.ref("checkins.user_id")],
                    },
                    "alias": "C",
                    "condition": ["=", db.ref("events.user_id"), ["field", "user_id", user_id]],
                    "fields": "all",
                }
            ],
            "fields": [db.ref("events.id")],
            "filter": ["<=", db.ref("events.id"), 3],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    # Every user has eight checkins.
    assert rows(body) == [[1, 1, 8], [2, 2, 8], [3, 3, 8]]
    assert cols(body) == [
        fcol(db, "events.id"),
        col("user_id", "C → User ID", "type/BigInteger", "fields", ["field", "user_id", user_id]),
        col("count", "C → Count", "type/BigInteger", "fields", ["field", "count", user_id]),
    ]


@pytest.mark.parametrize("strategy", ["right-join", "full-join"])
def test_right_and_full_joins_where_the_engine_has_them(admin, db, engine, strategy):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "joins": [_users_join(db, strategy, "none")],
            "aggregation": [["count"], ["count", db.ref("events.id")]],
        },
    )
    supported = {"right-join": ("duckdb", "postgres", "mysql"), "full-join": ("duckdb", "postgres")}[strategy]
    if engine not in supported:
        assert failure(body) == ("unsupported-feature", f"{strategy} is not supported by this driver.")
        return
    # Every user has events, so a right join adds no row; a full join keeps the two events without one.
    assert rows(body) == ([[10, 10]] if strategy == "right-join" else [[12, 12]])


def test_implicit_join_through_a_foreign_key(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [db.ref("users.name", source_field=db.field_id("events.user_id"))],
        },
    )
    assert rows(body) == [
        [None, 2],
        ["Felipinho Asklepios", 2],
        ["Kaneonuskatew Eiran", 2],
        ["Plato Yeshua", 2],
        ["Quentin Sören", 2],
        ["Simcha Yan", 2],
    ]
    assert cols(body)[0] == fcol(
        db, "users.name", "breakout", display="User → Name", source_field=db.field_id("events.user_id")
    )


def test_implicit_join_in_fields_and_filter(admin, db):
    via = db.field_id("checkins.venue_id")
    body = run(
        admin,
        db,
        {
            "source-table": db.table("checkins"),
            "fields": [db.ref("checkins.id"), db.ref("venues.name", source_field=via)],
            "filter": ["=", db.ref("venues.price", source_field=via), 3],
            "order-by": [["asc", db.ref("checkins.id")]],
        },
    )
    assert rows(body) == [
        [10, "Red Medicine"],
        [20, "Red Medicine"],
        [30, "Red Medicine"],
        [40, "Red Medicine"],
    ]
    assert cols(body) == [
        fcol(db, "checkins.id"),
        fcol(db, "venues.name", display="Venue → Name", source_field=via),
    ]


# ---------------------------------------------------------------------------------------------------
# Expressions


def test_expressions_in_fields(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {
                "Double": ["*", SCORE(db), 2],
                "Label": ["concat", KIND(db), "-", ["upper", KIND(db)]],
                "Middle": ["substring", KIND(db), 2, 3],
                "Lower": ["lower", ["coalesce", TITLE(db), "none"]],
                "Size": ["length", KIND(db)],
                "Year": ["get-year", CREATED(db)],
                "Quarter": ["get-quarter", CREATED(db)],
                "Weekday": ["get-day-of-week", CREATED(db)],
                "Hour": ["get-hour", CREATED(db)],
                "Score or zero": ["coalesce", SCORE(db), 0],
                "Size class": ["case", [[[">", SCORE(db), 20], "big"]], {"default": "small"}],
                "Quarter score": ["/", SCORE(db), 4],
                "Net": ["-", ["+", SCORE(db), 10], ["*", RATIO(db), 4]],
            },
            "fields": [db.ref("events.id")]
            + [["expression", n] for n in ("Double", "Label", "Middle", "Lower")]
            + [["expression", n] for n in ("Size", "Year", "Quarter", "Weekday", "Hour", "Score or zero")]
            + [["expression", n] for n in ("Size class", "Quarter score", "Net")],
            "filter": ["<=", db.ref("events.id"), 5],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    assert rows(body) == [
        [1, 20, "talk-TALK", "alk", "alpha launch", 4, 2023, 4, 1, 23, 10, "small", 2.5, 18.0],
        [2, 40, "talk-TALK", "alk", "beta launch", 4, 2024, 1, 2, 0, 20, "small", 5.0, 24.0],
        [3, 60, "meetup-MEETUP", "eet", "gamma", 6, 2024, 1, 5, 10, 30, "big", 7.5, 31.0],
        [4, None, "meetup-MEETUP", "eet", "", 6, 2024, 1, 1, 9, 0, "small", None, None],
        [5, 10, "meetup-MEETUP", "eet", "none", 6, 2024, 1, 2, 14, 5, "small", 1.25, 11.0],
    ]
    types = ["type/Integer", "type/Text", "type/Text", "type/Text", "type/Integer", "type/Integer"]
    types += [
        "type/Integer",
        "type/Integer",
        "type/Integer",
        "type/Integer",
        "type/Text",
        "type/Float",
        "type/Float",
    ]
    names = [
        "Double",
        "Label",
        "Middle",
        "Lower",
        "Size",
        "Year",
        "Quarter",
        "Weekday",
        "Hour",
        "Score or zero",
    ]
    names += ["Size class", "Quarter score", "Net"]
    assert cols(body) == [fcol(db, "events.id")] + [
        col(name, name, base, "fields", ["expression", name]) for name, base in zip(names, types, strict=True)
    ]


def test_expressions_in_filter_and_breakout(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {"Year": ["get-year", CREATED(db)], "Twice": ["*", RATIO(db), 2]},
            "filter": [">=", ["expression", "Twice"], 3],
            "aggregation": [["count"], ["sum", ["expression", "Twice"]]],
            "breakout": [["expression", "Year"]],
        },
    )
    assert rows(body) == [[2024, 6, 26.0], [2025, 1, 8.0]]
    assert cols(body) == [
        col("Year", "Year", "type/Integer", "breakout", ["expression", "Year"]),
        agg("count", "Count", "type/BigInteger", 0),
        agg("sum", "Sum of Twice", "type/Float", 1),
    ]


def test_week_modes_of_get_week(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {
                "ISO": ["get-week", CREATED(db)],
                "US": ["get-week", CREATED(db), "us"],
                "Instance": ["get-week", CREATED(db), "instance"],
            },
            "fields": [
                db.ref("events.id"),
                ["expression", "ISO"],
                ["expression", "US"],
                ["expression", "Instance"],
            ],
            "filter": ["in", db.ref("events.id"), 1, 2, 7, 12],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    # 2023-12-31 (a Sunday), 2024-01-01 (a Monday), 2024-03-13, 2025-01-15.
    assert rows(body) == [[1, 52, 53, 53], [2, 1, 1, 1], [7, 11, 11, 11], [12, 3, 3, 3]]


# ---------------------------------------------------------------------------------------------------
# Nested queries


def test_filter_on_an_aggregated_source_query(admin, db):
    body = run(
        admin,
        db,
        {
            "source-query": {
                "source-table": db.table("events"),
                "aggregation": [["count"], ["sum", RATIO(db)]],
                "breakout": [KIND(db)],
            },
            "filter": [">", ["field", "count", {"base-type": "type/BigInteger"}], 2],
            "order-by": [["desc", ["field", "sum", {"base-type": "type/Float"}]]],
        },
    )
    assert rows(body) == [["sale", 3, 5.75], ["talk", 4, 5.0], ["meetup", 3, 3.5]]
    kind = db.fields["events.kind"]
    assert cols(body) == [
        col(
            "kind",
            kind["display_name"],
            kind["base_type"],
            "fields",
            ["field", "kind", {"base-type": "type/Text"}],
        ),
        col(
            "count",
            "Count",
            "type/BigInteger",
            "fields",
            ["field", "count", {"base-type": "type/BigInteger"}],
        ),
        col("sum", "Sum of Ratio", "type/Float", "fields", ["field", "sum", {"base-type": "type/Float"}]),
    ]


def test_aggregation_over_a_source_query_with_a_bucketed_breakout(admin, db):
    body = run(
        admin,
        db,
        {
            "source-query": {
                "source-table": db.table("events"),
                "aggregation": [["count"]],
                "breakout": [CREATED(db, temporal_unit="month")],
            },
            "aggregation": [["max", ["field", "count", {"base-type": "type/BigInteger"}]], ["count"]],
        },
    )
    assert rows(body) == [[6, 7]]


def test_nested_stage_over_rows_keeps_the_field_metadata(admin, db):
    body = run(
        admin,
        db,
        {
            "source-query": {
                "source-table": db.table("events"),
                "fields": [db.ref("events.id"), db.ref("events.created_at")],
                "filter": ["=", KIND(db), "release"],
            },
            "order-by": [["desc", ["field", "id", {"base-type": "type/Integer"}]]],
        },
    )
    assert rows(body) == [[12, "2025-01-15T12:00:00Z"], [11, "2024-06-30T23:59:59Z"]]
    assert cols(body) == [
        col("id", "ID", "type/Integer", "fields", ["field", "id", {"base-type": "type/Integer"}]),
        col(
            "created_at",
            "Created At",
            "type/DateTime",
            "fields",
            ["field", "created_at", {"base-type": "type/DateTime"}],
            "default",
        ),
    ]


# ---------------------------------------------------------------------------------------------------
# Legacy spellings and MBQL 5 give the same answers


def _same_answer(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert rows(first) == rows(second)
    assert cols(first) == cols(second)


def test_legacy_field_clauses(admin, db):
    user_id, created_at = db.field_id("events.user_id"), db.field_id("events.created_at")
    name = db.field_id("users.name")
    canonical = {
        "source-table": db.table("events"),
        "aggregation": [["count"]],
        "breakout": [["field", created_at, {"temporal-unit": "year"}]],
        "filter": ["!=", ["field", name, {"source-field": user_id}], "Plato Yeshua"],
    }
    legacy = {
        "source_table": db.table("events"),
        "aggregation": [["COUNT"]],
        "breakout": [["datetime-field", ["field-id", created_at], "year"]],
        "filter": ["!=", ["fk->", ["field-id", user_id], ["field-id", name]], "Plato Yeshua"],
    }
    older = {**legacy, "breakout": [["datetime-field", created_at, "as", "year"]]}
    expected = run(admin, db, canonical)
    # `!=` keeps the events without a user (Metabase's NULL behaviour).
    assert rows(expected) == [["2024-01-01T00:00:00Z", 9], ["2025-01-01T00:00:00Z", 1]]
    _same_answer(run(admin, db, legacy), expected)
    _same_answer(run(admin, db, older), expected)


def test_legacy_binning_and_named_aggregation(admin, db):
    score = db.field_id("events.score")
    canonical = {
        "source-table": db.table("events"),
        "aggregation": [["aggregation-options", ["count"], {"display-name": "Events"}]],
        "breakout": [["field", score, {"binning": {"strategy": "num-bins", "num-bins": 4}}]],
    }
    legacy = {**canonical, "aggregation": [["named", ["count"], "Events"]]}
    legacy["breakout"] = [["binning-strategy", ["field-id", score], "num-bins", 4]]
    _same_answer(run(admin, db, legacy), run(admin, db, canonical))


def test_mbql5_query(admin, db):
    kind, score = db.field_id("events.kind"), db.field_id("events.score")
    created_at = db.field_id("events.created_at")
    legacy = {
        "source-query": {
            "source-table": db.table("events"),
            "expressions": {"Twice": ["*", ["field", score, None], 2]},
            "filter": ["and", ["not-null", ["field", score, None]], [">", ["expression", "Twice"], 20]],
            "aggregation": [["count"], ["sum", ["expression", "Twice"]]],
            "breakout": [["field", kind, None], ["field", created_at, {"temporal-unit": "year"}]],
        },
        "filter": [">", ["field", "count", {"base-type": "type/BigInteger"}], 1],
    }
    uuid = {"lib/uuid": "00000000-0000-0000-0000-000000000000"}
    mbql5 = {
        "lib/type": "mbql/query",
        "database": db.id,
        "stages": [
            {
                "lib/type": "mbql.stage/mbql",
                "source-table": db.table("events"),
                "expressions": [["*", {**uuid, "lib/expression-name": "Twice"}, ["field", uuid, score], 2]],
                "filters": [
                    ["not-null", uuid, ["field", uuid, score]],
                    [">", uuid, ["expression", uuid, "Twice"], 20],
                ],
                "aggregation": [["count", uuid], ["sum", uuid, ["expression", uuid, "Twice"]]],
                "breakout": [
                    ["field", {**uuid, "base-type": "type/Text"}, kind],
                    ["field", {**uuid, "temporal-unit": "year"}, created_at],
                ],
            },
            {
                "lib/type": "mbql.stage/mbql",
                "filters": [[">", uuid, ["field", {**uuid, "base-type": "type/BigInteger"}, "count"], 1]],
            },
        ],
    }
    expected = run(admin, db, legacy)
    assert rows(expected) == [
        ["sale", "2024-01-01T00:00:00Z", 3, 160],
        ["talk", "2024-01-01T00:00:00Z", 3, 200],
    ]
    _same_answer(admin.post("/api/dataset", mbql5, expect=202), expected)


# ---------------------------------------------------------------------------------------------------
# Injection attempts: values are bound, names are quoted or refused; nothing else ever runs.


def _tables_intact(admin: Api, db: Connected) -> None:
    for table, count in (("users", 5), ("events", 12)):
        body = run(admin, db, {"source-table": db.table(table), "aggregation": [["count"]]})
        assert rows(body) == [[count]]


INJECTED_VALUES: list[tuple[str, Clause, list[int]]] = [
    ("quote", lambda db: ["=", TITLE(db), "x' OR '1'='1"], [9]),
    ("quote and comment", lambda db: ["=", KIND(db), "talk' OR 1=1; DROP TABLE users; --"], []),
    ("percent is not a wildcard", lambda db: ["=", TITLE(db), "%"], []),
    ("percent in contains", lambda db: ["contains", TITLE(db), "%", {"case-sensitive": False}], [6]),
    ("underscore in starts-with", lambda db: ["starts-with", TITLE(db), "_"], []),
    ("underscore in ends-with", lambda db: ["ends-with", TITLE(db), "_case"], [7]),
    ("backslash", lambda db: ["contains", TITLE(db), "\\"], [8]),
    ("backslash before a wildcard", lambda db: ["contains", TITLE(db), "\\%"], []),
    ("LIKE escape character", lambda db: ["contains", TITLE(db), "/"], []),
    ("quote in contains", lambda db: ["contains", TITLE(db), "' OR '1"], [9]),
    ("expression string", lambda db: ["=", TITLE(db), ["concat", "x' OR ", "'1'='1"]], [9]),
]


@pytest.mark.parametrize(
    ("clause", "expected"), [c[1:] for c in INJECTED_VALUES], ids=[c[0] for c in INJECTED_VALUES]
)
def test_injected_values_are_plain_values(admin, db, clause, expected):
    assert ids(admin, db, clause(db)) == expected
    _tables_intact(admin, db)


def test_text_compared_with_a_number_column_is_parsed_or_refused(admin, db):
    assert ids(admin, db, ["=", SCORE(db), "10"]) == [1]
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.id")],
            "filter": ["=", SCORE(db), "10 OR 1=1"],
        },
    )
    assert failure(body) == (
        "invalid-query",
        'Error filtering against :type/Integer Field: unable to parse String "10 OR 1=1" to a :type/Integer',
    )
    _tables_intact(admin, db)


INJECTED_NAMES: list[tuple[str, Callable[[Connected], dict[str, Any]], str]] = [
    (
        "field name",
        lambda db: {
            "source-table": db.table("events"),
            "fields": [["field", "id; DROP TABLE users", {"base-type": "type/Text"}]],
        },
        "Column 'id; DROP TABLE users' does not exist in table 'events'.",
    ),
    (
        "field name in a filter",
        lambda db: {
            "source-table": db.table("events"),
            "filter": ["=", ["field", 'title" = title OR "1', {"base-type": "type/Text"}], "x"],
        },
        "Column 'title\" = title OR \"1' does not exist in table 'events'.",
    ),
    (
        "field name of a source query",
        lambda db: {
            "source-query": {"source-table": db.table("events"), "fields": [db.ref("events.id")]},
            "fields": [["field", "id`; DROP TABLE users; --", {"base-type": "type/Integer"}]],
        },
        "Column 'id`; DROP TABLE users; --' is not returned by the source query.",
    ),
    (
        "temporal unit",
        lambda db: {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [CREATED(db, temporal_unit="month'), (SELECT 1); --")],
        },
        # Units are keywords: the normalizer lower-cases them before the compiler refuses this one.
        "Invalid temporal unit: month'), (select 1); --",
    ),
    (
        "bin width",
        lambda db: {
            "source-table": db.table("events"),
            "aggregation": [["count"]],
            "breakout": [
                SCORE(db, binning={"strategy": "bin-width", "bin-width": "1); DROP TABLE users; --"})
            ],
        },
        "Invalid bin width: '1); DROP TABLE users; --'",
    ),
    (
        "order direction",
        lambda db: {
            "source-table": db.table("events"),
            "order-by": [["asc; DROP TABLE users", db.ref("events.id")]],
        },
        'Invalid order-by clause: ["asc; DROP TABLE users", ',
    ),
]


@pytest.mark.parametrize(
    ("query", "message"), [c[1:] for c in INJECTED_NAMES], ids=[c[0] for c in INJECTED_NAMES]
)
def test_injected_names_are_refused(admin, db, query, message):
    error_type, error = failure(run(admin, db, query(db)))
    assert error_type == "invalid-query"
    assert error.startswith(message)
    _tables_intact(admin, db)


def test_names_of_expressions_and_joins_are_quoted(admin, db):
    name, alias = 'x"; DROP TABLE users; --', "U`]; DROP TABLE users; --"
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {name: ["+", SCORE(db), 1]},
            "joins": [_users_join(db, "left-join", [db.ref("users.name", join_alias=alias)], alias)],
            "fields": [db.ref("events.id"), ["expression", name]],
            "filter": ["=", db.ref("events.id"), 2],
        },
    )
    assert rows(body) == [[2, 21, "Felipinho Asklepios"]]
    assert [c["name"] for c in cols(body)] == ["id", name, "name"]
    assert cols(body)[2]["display_name"] == f"{alias} → Name"
    _tables_intact(admin, db)


@pytest.fixture
def weeks_start_on_monday(admin: Api) -> Iterator[None]:
    admin.put("/api/setting/start-of-week", {"value": "monday"}, expect=204)
    try:
        yield
    finally:
        admin.put("/api/setting/start-of-week", {"value": None}, expect=204)


def test_weeks_follow_the_start_of_week_setting(admin, db, weeks_start_on_monday):
    week, weekday = CREATED(db, temporal_unit="week"), CREATED(db, temporal_unit="day-of-week")
    by_week = run(
        admin, db, {"source-table": db.table("events"), "aggregation": [["count"]], "breakout": [week]}
    )
    assert rows(by_week) == [
        ["2023-12-25T00:00:00Z", 1],
        ["2024-01-01T00:00:00Z", 1],
        ["2024-02-26T00:00:00Z", 1],
        ["2024-03-04T00:00:00Z", 1],
        ["2024-03-11T00:00:00Z", 4],
        ["2024-03-18T00:00:00Z", 1],
        ["2024-04-01T00:00:00Z", 1],
        ["2024-06-24T00:00:00Z", 1],
        ["2025-01-13T00:00:00Z", 1],
    ]
    by_weekday = run(
        admin, db, {"source-table": db.table("events"), "aggregation": [["count"]], "breakout": [weekday]}
    )
    # Monday is day 1, Sunday day 7.
    assert rows(by_weekday) == [[1, 2], [2, 2], [3, 3], [4, 2], [7, 3]]
    assert ids(admin, db, ["=", DAY(db, temporal_unit="week"), "2024-03-17"]) == [5, 6, 7, 8]


def test_regex_where_the_engine_has_it(admin, db, engine):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {"Word": ["regex-match-first", TITLE(db), "[A-Z][a-z]+"]},
            "fields": [db.ref("events.id"), ["expression", "Word"]],
            "filter": ["in", db.ref("events.id"), 1, 2, 3],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    if engine == "sqlite":
        assert failure(body) == ("unsupported-feature", "regex is not supported by this driver.")
        return
    assert rows(body) == [[1, "Alpha"], [2, "Launch"], [3, "Gamma"]]


def test_datetime_add_and_subtract(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {
                "Next month": ["datetime-add", CREATED(db), 1, "month"],
                "Two days before": ["datetime-subtract", CREATED(db), 2, "day"],
                "Later": ["datetime-add", CREATED(db), 90, "minute"],
                "Next quarter": ["datetime-add", CREATED(db), 1, "quarter"],
            },
            "fields": [db.ref("events.id")]
            + [["expression", n] for n in ("Next month", "Two days before", "Later", "Next quarter")],
            "filter": ["=", db.ref("events.id"), 1, 2, 5],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    assert rows(body) == [
        [1, "2024-01-31T23:30:00Z", "2023-12-29T23:30:00Z", "2024-01-01T01:00:00Z", "2024-03-31T23:30:00Z"],
        [2, "2024-02-01T00:15:00Z", "2023-12-30T00:15:00Z", "2024-01-01T01:45:00Z", "2024-04-01T00:15:00Z"],
        [5, "2024-04-11T14:45:00Z", "2024-03-09T14:45:00Z", "2024-03-11T16:15:00Z", "2024-06-11T14:45:00Z"],
    ]
    assert [c["base_type"] for c in cols(body)][1:] == ["type/DateTime"] * 4


def test_datetime_add_refuses_a_non_integer_amount(admin, db):
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {"Bad": ["datetime-add", CREATED(db), "1; DROP TABLE events", "day"]},
            "fields": [["expression", "Bad"]],
        },
    )
    assert failure(body) == (
        "invalid-query",
        "The amount to add must be a whole number, not '1; DROP TABLE events'.",
    )
