"""Time zones on every engine: the `report-timezone` setting (the session runs in it where the engine can
set one, and `data.results_timezone` names the zone actually used), `now` and relative dates on that zone's
clock (also in a card's date parameters), `convert-timezone`, and `datetime-diff` across zones.

PostgreSQL and DuckDB set their session's zone; MySQL only knows named zones with its time zone tables
loaded (the test server may have none), SQLite has no zones: those run and answer in UTC. The warehouses
hold the events table and `moments`, whose `seen_tz` column is zoned where the engine has such a type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, text
from sqlalchemy.dialects import mysql
from sqlalchemy.pool import NullPool

from tests.query_processor.test_mbql_matrix import CREATED, failure, ids, rows, run
from tests.query_processor.test_mbql_matrix import admin as admin
from tests.query_processor.test_mbql_matrix import fixed_now as fixed_now
from tests.query_processor.test_saved_sources import create_card
from tests.support.datasets import events
from tests.support.datasets.connected import Connected, Warehouses, connect
from tests.support.http import Api
from tests.support.warehouses import fresh_warehouse

MOMENTS = [
    (1, dt.datetime(2004, 3, 19, 9, 19, 9), dt.datetime(2004, 3, 19, 2, 19, 9, tzinfo=dt.UTC)),
    (2, dt.datetime(2008, 6, 20, 10, 20, 10), dt.datetime(2024, 1, 1, 23, 30, tzinfo=dt.UTC)),
    (3, dt.datetime(2012, 11, 21, 11, 21, 11), dt.datetime(2024, 1, 2, 0, 30, tzinfo=dt.UTC)),
]
# Whether a connected database knows named time zones (MySQL: its time zone tables), by database id.
NAMED_ZONES: dict[int, bool] = {}


def add_moments(engine_name: str, details: dict[str, Any]) -> bool:
    """Create and fill `moments`; answers whether the warehouse knows named time zones."""
    engine = create_engine(events.warehouse_url(engine_name, details), poolclass=NullPool)
    zoned = DateTime(timezone=True).with_variant(mysql.TIMESTAMP(), "mysql")
    table = Table(
        "moments",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seen", DateTime),
        Column("seen_tz", zoned, nullable=True),
    )
    try:
        table.create(engine)
        with engine.begin() as conn:
            if engine_name == "mysql":
                conn.execute(text("SET time_zone = '+00:00'"))
            values = [
                {
                    "id": i,
                    "seen": at,
                    "seen_tz": at_tz if engine_name != "mysql" else at_tz.replace(tzinfo=None),
                }
                for i, at, at_tz in MOMENTS
            ]
            conn.execute(table.insert(), values)
            if engine_name == "mysql":
                probe = "SELECT CONVERT_TZ('2000-01-01 00:00:00', 'UTC', 'Europe/Paris')"
                return conn.execute(text(probe)).scalar() is not None
    finally:
        engine.dispose()
    return engine_name in ("postgres", "duckdb")


@pytest.fixture(scope="module")
def warehouses(server: Any, app_db_kind: str) -> Iterator[Warehouses]:
    if app_db_kind != "sqlite":
        pytest.skip("warehouse time zones run on the SQLite app DB only (the app DB does not change them)")
    admin = server.api().as_("crowberto")

    @contextmanager
    def make(engine: str) -> Iterator[Connected]:
        with fresh_warehouse(engine) as details:
            events.add_events(engine, details)
            named = add_moments(engine, details)
            with connect(admin, engine, details) as connected:
                NAMED_ZONES[connected.id] = named
                yield connected

    with ExitStack() as stack:
        yield Warehouses(stack, make)


@pytest.fixture
def db(warehouses: Warehouses, engine: str) -> Connected:
    return warehouses(engine)


@pytest.fixture
def report_timezone(admin: Api) -> Iterator[Callable[[str | None], None]]:
    """Sets the `report-timezone` setting; unset again afterwards."""

    def set_zone(zone: str | None) -> None:
        admin.put("/api/setting/report-timezone", {"value": zone}, expect=204)

    yield set_zone
    set_zone(None)


def zone_used(db: Connected, report: str) -> str:
    """The zone a query runs in with `report` as report timezone: where the engine sets sessions' zones."""
    return report if db.engine in ("postgres", "duckdb") or NAMED_ZONES[db.id] else "UTC"


def has_convert_timezone(db: Connected) -> bool:
    return db.engine != "sqlite" and NAMED_ZONES[db.id]


AT, AT_TZ = (lambda db, **o: db.ref("moments.seen", **o)), (lambda db, **o: db.ref("moments.seen_tz", **o))


def expressions_of(admin: Api, db: Connected, table: str, expressions: dict[str, Any], **query: Any):
    return run(
        admin,
        db,
        {
            "source-table": db.table(table),
            "expressions": expressions,
            "fields": [["expression", name] for name in expressions],
            "order-by": [["asc", db.ref(f"{table}.id")]],
            **query,
        },
    )


# ---------------------------------------------------------------------------------------------------
# report-timezone


SESSION_ZONE_SQL = {
    "postgres": "SELECT current_setting('TimeZone')",
    "duckdb": "SELECT current_setting('TimeZone')",
    "mysql": "SELECT @@session.time_zone",
    "sqlite": "SELECT 'none'",
}


def test_the_session_runs_in_the_report_timezone_where_the_engine_can(admin, db, report_timezone):
    native = {"database": db.id, "type": "native", "native": {"query": SESSION_ZONE_SQL[db.engine]}}
    default = admin.post("/api/dataset", native, expect=202)
    assert default["data"]["results_timezone"] == "UTC"
    report_timezone("Asia/Tokyo")
    zoned = admin.post("/api/dataset", native, expect=202)
    used = zone_used(db, "Asia/Tokyo")
    assert zoned["data"]["results_timezone"] == used
    if used != "UTC":
        assert rows(zoned) == [["Asia/Tokyo"]]
    else:
        assert rows(zoned) == rows(default)
    mbql = run(admin, db, {"source-table": db.table("events"), "aggregation": [["count"]]})
    assert (rows(mbql), mbql["data"]["results_timezone"]) == ([[12]], used)
    # A pooled connection goes back to its own zone once the query is over.
    report_timezone(None)
    again = admin.post("/api/dataset", native, expect=202)
    assert (rows(again), again["data"]["results_timezone"]) == (rows(default), "UTC")


def test_naive_values_are_wall_clock_times_of_the_results_timezone(admin, db, report_timezone):
    report_timezone("Europe/Rome")
    body = ids_and_created(admin, db, [1, 11])
    if zone_used(db, "Europe/Rome") == "UTC":
        assert rows(body) == [[1, "2023-12-31T23:30:00Z"], [11, "2024-06-30T23:59:59Z"]]
    else:
        assert rows(body) == [[1, "2023-12-31T23:30:00+01:00"], [11, "2024-06-30T23:59:59+02:00"]]


def ids_and_created(admin: Api, db: Connected, wanted: list[int]) -> dict[str, Any]:
    return run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "fields": [db.ref("events.id"), CREATED(db)],
            "filter": ["=", db.ref("events.id"), *wanted],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )


def test_zoned_columns_are_bucketed_in_the_results_timezone(admin, db, report_timezone):
    report_timezone("Asia/Tokyo")
    body = run(
        admin,
        db,
        {
            "source-table": db.table("moments"),
            "aggregation": [["count"]],
            "breakout": [AT_TZ(db, temporal_unit="day")],
        },
    )
    if db.engine == "sqlite":
        # No zoned type: the stored UTC text is bucketed as it is.
        expected = [["2004-03-19T00:00:00Z", 1], ["2024-01-01T00:00:00Z", 1], ["2024-01-02T00:00:00Z", 1]]
    elif zone_used(db, "Asia/Tokyo") == "UTC":
        expected = [["2004-03-19T00:00:00Z", 1], ["2024-01-01T00:00:00Z", 1], ["2024-01-02T00:00:00Z", 1]]
    else:
        # 2024-01-01 23:30 UTC is already January 2nd in Tokyo.
        expected = [["2004-03-19T00:00:00+09:00", 1], ["2024-01-02T00:00:00+09:00", 2]]
    assert rows(body) == expected


def test_now_and_relative_filters_follow_the_results_timezone(admin, db, fixed_now, report_timezone):
    # `now` is 2024-03-13 12:00 UTC: already March 14th, 02:00, at UTC+14.
    report_timezone("Pacific/Kiritimati")
    local = zone_used(db, "Pacific/Kiritimati") != "UTC"
    body = expressions_of(admin, db, "events", {"Now": ["now"], "Hour": ["get-hour", ["now"]]}, limit=1)
    assert rows(body) == [["2024-03-14T02:00:00+14:00", 2] if local else ["2024-03-13T12:00:00Z", 12]]
    today = ["time-interval", CREATED(db), "current", "day"]
    assert ids(admin, db, today) == ([8] if local else [7])


def test_relative_date_parameters_use_the_query_clock_and_zone(admin, db, fixed_now, report_timezone):
    card = create_card(admin, {"database": db.id, "type": "query", "query": events_ids_query(db)})

    def card_ids(value: str) -> list[int]:
        parameter = {"type": "date/all-options", "value": value, "target": ["dimension", CREATED(db)]}
        body = admin.post(f"/api/card/{card['id']}/query", {"parameters": [parameter]}, expect=202)
        return [row[0] for row in rows(body)]

    # Relative to the fixed `now` (Wednesday 2024-03-13 12:00 UTC), never the wall clock.
    assert card_ids("past3days") == [4, 5, 6]
    assert card_ids("past3days~") == [4, 5, 6, 7]
    assert card_ids("today") == [7]
    assert card_ids("thisweek") == [4, 5, 6, 7, 8]
    assert card_ids("next2days") == [8]
    assert card_ids("past1weeks-from-1weeks") == [3]
    assert card_ids("2024-03-12~2024-03-13") == [6, 7]
    report_timezone("Pacific/Kiritimati")
    local = zone_used(db, "Pacific/Kiritimati") != "UTC"
    assert card_ids("today") == ([8] if local else [7])
    assert card_ids("past3days") == ([5, 6, 7] if local else [4, 5, 6])
    assert card_ids("today") == ids(admin, db, ["time-interval", CREATED(db), "current", "day"])


def events_ids_query(db: Connected) -> dict[str, Any]:
    return {
        "source-table": db.table("events"),
        "fields": [db.ref("events.id")],
        "order-by": [["asc", db.ref("events.id")]],
    }


# Metabase's `datetime-diff-time-zones-test`: dates are taken in the results timezone.
ZONE_DIFFS = [
    # a, b, units in Atlantic/Cape_Verde (UTC-1), units in UTC
    ("2022-10-02T01:00:00+01:00", "2022-10-03T00:00:00+00:00", {"second": 86400, "hour": 24, "day": 1}, None),
    (
        "2022-10-02T00:00:00+00:00",
        "2022-10-03T00:00:00+01:00",
        {"second": 82800, "minute": 1380, "hour": 23, "day": 1},
        {"second": 82800, "minute": 1380, "hour": 23, "day": 0},
    ),
    (
        "2022-10-02T00:00:00+00:00",
        "2022-10-09T00:00:00+01:00",
        {"hour": 167, "day": 7, "week": 1},
        {"hour": 167, "day": 6, "week": 0},
    ),
    ("2022-10-02T01:00:00+01:00", "2022-10-09T00:00:00+00:00", {"hour": 168, "day": 7, "week": 1}, None),
    (
        "2022-10-02T00:00:00+00:00",
        "2022-11-02T00:00:00+01:00",
        {"hour": 743, "day": 31, "week": 4, "month": 1},
        {"hour": 743, "day": 30, "week": 4, "month": 0},
    ),
    ("2022-10-02T01:00:00+01:00", "2022-11-02T00:00:00+00:00", {"hour": 744, "month": 1, "year": 0}, None),
    ("2022-10-02T01:00:00+01:00", "2023-10-02T00:00:00+00:00", {"day": 365, "week": 52, "year": 1}, None),
    (
        "2022-10-02T00:00:00+00:00",
        "2023-10-02T00:00:00+01:00",
        {"day": 365, "month": 12, "year": 1},
        {"day": 364, "month": 11, "year": 0},
    ),
]


def test_datetime_diff_takes_dates_in_the_results_timezone(admin, db, report_timezone):
    report_timezone("Atlantic/Cape_Verde")
    local = zone_used(db, "Atlantic/Cape_Verde") != "UTC"
    expressions, expected = {}, []
    for index, (a, b, in_cape_verde, in_utc) in enumerate(ZONE_DIFFS):
        units = in_cape_verde if local or in_utc is None else in_utc
        for unit, value in units.items():
            expressions[f"{unit}{index}"] = ["datetime-diff", a, b, unit]
            expected.append(value)
    body = expressions_of(admin, db, "events", expressions, limit=1)
    assert rows(body) == [expected]


# ---------------------------------------------------------------------------------------------------
# convert-timezone


def converted(admin: Api, db: Connected, table: str, expressions: dict[str, Any], wanted: int) -> dict:
    return expressions_of(
        admin, db, table, expressions, filter=["=", db.ref(f"{table}.id"), wanted], **{"limit": 1}
    )


def test_convert_timezone_where_the_engine_can(admin, db):
    body = converted(
        admin,
        db,
        "moments",
        {
            "Tokyo": ["convert-timezone", AT(db), "Asia/Tokyo", "Asia/Shanghai"],
            "Tokyo hour": ["get-hour", ["expression", "Tokyo"]],
            "Two hours later": ["datetime-add", ["expression", "Tokyo"], 2, "hour"],
            "From zoned": ["convert-timezone", AT_TZ(db), "Asia/Tokyo"],
            "Literal": ["convert-timezone", "2022-10-03T07:10:20", "Asia/Saigon", "UTC"],
            "To +07": ["convert-timezone", AT(db), "Asia/Saigon", "UTC"],
            "Then +09": ["convert-timezone", ["expression", "To +07"], "Asia/Tokyo", "Asia/Saigon"],
        },
        1,
    )
    if not has_convert_timezone(db):
        assert failure(body) == ("unsupported-feature", "convert-timezone is not supported by this driver.")
        return
    assert rows(body) == [
        [
            "2004-03-19T10:19:09+09:00",
            10,
            "2004-03-19T12:19:09+09:00",
            "2004-03-19T11:19:09+09:00",
            "2022-10-03T14:10:20+07:00",
            "2004-03-19T16:19:09+07:00",
            "2004-03-19T18:19:09+09:00",
        ]
    ]
    metadata = {c["name"]: (c["base_type"], c.get("converted_timezone")) for c in body["data"]["cols"]}
    assert metadata == {
        "Tokyo": ("type/DateTime", "Asia/Tokyo"),
        "Tokyo hour": ("type/Integer", None),
        "Two hours later": ("type/DateTime", "Asia/Tokyo"),
        "From zoned": ("type/DateTime", "Asia/Tokyo"),
        "Literal": ("type/DateTime", "Asia/Saigon"),
        "To +07": ("type/DateTime", "Asia/Saigon"),
        "Then +09": ("type/DateTime", "Asia/Tokyo"),
    }


def test_convert_timezone_follows_daylight_saving_time(admin, db):
    expressions = {"LA": ["convert-timezone", CREATED(db), "America/Los_Angeles", "UTC"]}
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {**expressions, "Hour": ["get-hour", ["expression", "LA"]]},
            "fields": [db.ref("events.id"), ["expression", "LA"], ["expression", "Hour"]],
            "filter": ["=", db.ref("events.id"), 1, 11],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    if not has_convert_timezone(db):
        assert failure(body)[0] == "unsupported-feature"
        return
    assert rows(body) == [[1, "2023-12-31T15:30:00-08:00", 15], [11, "2024-06-30T16:59:59-07:00", 16]]


def test_converted_values_keep_their_zone_under_a_report_timezone(admin, db, report_timezone):
    report_timezone("Europe/Rome")
    body = run(
        admin,
        db,
        {
            "source-table": db.table("moments"),
            "expressions": {
                "Naive": ["convert-timezone", AT(db), "Asia/Tokyo", "Europe/Rome"],
                "Zoned": ["convert-timezone", AT_TZ(db), "Asia/Tokyo"],
            },
            "fields": [AT(db), ["expression", "Naive"], AT_TZ(db), ["expression", "Zoned"]],
            "filter": ["=", db.ref("moments.id"), 1],
        },
    )
    if not has_convert_timezone(db):
        assert failure(body)[0] == "unsupported-feature"
        return
    if zone_used(db, "Europe/Rome") == "UTC":
        pytest.fail("an engine that converts time zones also sets its session's")
    assert rows(body) == [
        [
            "2004-03-19T09:19:09+01:00",
            "2004-03-19T17:19:09+09:00",
            "2004-03-19T03:19:09+01:00",
            "2004-03-19T11:19:09+09:00",
        ]
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            lambda db: ["convert-timezone", AT(db), "Asia/Tokyo"],
            "input column doesn't have a set timezone. Please set the source parameter in convertTimezone "
            "to convert it.",
        ),
        (
            lambda db: ["convert-timezone", AT_TZ(db), "Asia/Tokyo", "UTC"],
            "input column already has a set timezone. Please remove the source parameter in convertTimezone.",
        ),
        (
            lambda db: ["convert-timezone", AT(db), "Mars/Olympus_Mons", "UTC"],
            "Invalid time zone: 'Mars/Olympus_Mons'",
        ),
        (
            lambda db: ["convert-timezone", AT(db), "Asia/Tokyo", "UTC'; DROP TABLE moments; --"],
            'Invalid time zone: "UTC\'; DROP TABLE moments; --"',
        ),
    ],
    ids=["naive without source", "zoned with source", "unknown zone", "injected zone"],
)
def test_convert_timezone_refuses_wrong_arguments(admin, db, expression, message):
    body = converted(admin, db, "moments", {"Converted": expression(db)}, 1)
    if not has_convert_timezone(db):
        assert failure(body)[0] == "unsupported-feature"
        return
    assert failure(body) == ("invalid-query", message)


def test_a_converted_column_of_a_saved_question_keeps_its_zone(admin, db):
    if not has_convert_timezone(db):
        pytest.skip("the engine has no convert-timezone")
    query = {
        "database": db.id,
        "type": "query",
        "query": {
            "source-table": db.table("moments"),
            "expressions": {"Tokyo": ["convert-timezone", AT(db), "Asia/Tokyo", "UTC"]},
            "fields": [db.ref("moments.id"), ["expression", "Tokyo"]],
            "filter": ["=", db.ref("moments.id"), 1],
        },
    }
    card = create_card(admin, query)
    body = run(admin, db, {"source-table": f"card__{card['id']}"})
    assert rows(body) == [[1, "2004-03-19T18:19:09+09:00"]]
    assert [c.get("converted_timezone") for c in body["data"]["cols"]] == [None, "Asia/Tokyo"]
