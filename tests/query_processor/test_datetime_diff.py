"""`["datetime-diff", a, b, unit]` through `POST /api/dataset` on every engine: Metabase's own cases
(`date_time_zone_functions_test.clj`, `datetime-diff-base-test`) give the same whole units everywhere,
negative when b is earlier, on literals and on the events table's columns. (Report-timezone cases are in
test_timezones.py.)"""

from __future__ import annotations

from typing import Any

from tests.query_processor.test_mbql_matrix import CREATED, DAY, col, cols, failure, rows, run
from tests.query_processor.test_mbql_matrix import admin as admin
from tests.query_processor.test_mbql_matrix import db as db
from tests.query_processor.test_mbql_matrix import warehouses as warehouses

# (unit, a, b, whole units from a to b): Metabase's cases, plus quarters and month ends.
CASES: list[tuple[str, str, str, int]] = [
    ("year", "2021-10-03T09:18:09", "2022-10-02T09:18:09", 0),  # a day under a year
    ("year", "2021-10-03T09:19:09", "2022-10-03T09:18:09", 1),  # times of day are ignored
    ("year", "2017-06-10T08:30:00", "2019-07-10T08:30:00", 2),
    ("year", "2020-02-29T00:00:00", "2021-02-28T00:00:00", 0),  # from a leap day
    ("quarter", "2022-01-31T00:00:00", "2022-04-30T00:00:00", 0),
    ("quarter", "2022-01-31T00:00:00", "2022-05-01T00:00:00", 1),
    ("quarter", "2021-11-15T00:00:00", "2022-11-15T00:00:00", 4),
    ("month", "2022-10-03T09:18:09", "2022-11-02T09:18:09", 0),  # a day under a month
    ("month", "2022-10-02T09:19:09", "2022-11-02T09:18:09", 1),  # a minute under, times ignored
    ("month", "2022-10-02T09:18:09", "2023-10-03T09:18:09", 12),
    ("month", "2022-01-31T00:00:00", "2022-02-28T00:00:00", 0),  # January 31st to February's end
    ("week", "2022-10-01T09:18:09", "2022-10-04T09:18:09", 0),  # across a week boundary
    ("week", "2022-10-02T09:19:09", "2022-10-09T09:18:09", 1),
    ("week", "2022-10-02T09:18:09", "2023-10-03T09:18:09", 52),
    ("day", "2022-10-02T08:30:00", "2022-10-02T10:30:00", 0),
    ("day", "2022-10-02T09:19:09", "2022-10-03T09:18:09", 1),  # under 24 hours, consecutive days
    ("day", "2021-10-02T08:30:00", "2022-10-05T10:30:00", 368),
    ("hour", "2022-10-02T08:30:00", "2022-10-02T08:34:00", 0),
    ("hour", "2022-10-02T08:30:00", "2022-10-02T09:29:59.999", 0),
    ("hour", "2022-10-02T08:30:00", "2022-10-05T08:34:00", 72),
    ("hour", "2021-10-02T08:30:00", "2022-10-02T08:34:00", 8760),
    ("minute", "2022-10-02T08:30:00", "2022-10-02T08:30:59.999", 0),
    ("minute", "2022-10-02T08:30:00", "2022-10-02T08:34:00", 4),
    ("minute", "2022-10-02T08:30:00", "2022-10-02T10:30:00", 120),
    ("minute", "2021-10-02T08:30:00", "2022-10-02T08:34:00", 525604),
    ("second", "2022-10-02T08:30:00", "2022-10-02T08:30:00.999", 0),
    ("second", "2022-10-02T08:30:00", "2022-10-02T08:34:00", 240),
    ("second", "2022-10-02T08:30:00", "2022-10-02T10:30:00", 7200),
    ("second", "2021-10-02T08:30:00", "2022-10-02T08:34:00", 31536240),
]


def one_row(admin: Any, db: Any, expressions: dict[str, Any]) -> dict[str, Any]:
    return run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": expressions,
            "fields": [["expression", name] for name in expressions],
            "limit": 1,
        },
    )


def test_whole_units_between_literals_either_way_round(admin, db):
    expressions = {}
    for index, (unit, a, b, _) in enumerate(CASES):
        expressions[f"d{index}"] = ["datetime-diff", a, b, unit]
        expressions[f"r{index}"] = ["datetime-diff", b, a, unit]
    body = one_row(admin, db, expressions)
    expected = [value for *_, units in CASES for value in (units, -units)]
    assert rows(body) == [expected]
    assert {c["base_type"] for c in cols(body)} == {"type/Integer"}


def test_differences_of_columns(admin, db):
    noon = "2024-03-13T12:00:00"
    body = run(
        admin,
        db,
        {
            "source-table": db.table("events"),
            "expressions": {
                "Days": ["datetime-diff", CREATED(db), noon, "day"],
                "Hours": ["datetime-diff", CREATED(db), noon, "hour"],
                "Weeks": ["datetime-diff", CREATED(db), noon, "week"],
                "Months": ["datetime-diff", CREATED(db), noon, "month"],
                "Since midnight": ["datetime-diff", DAY(db), CREATED(db), "minute"],
            },
            "fields": [db.ref("events.id")]
            + [["expression", n] for n in ("Days", "Hours", "Weeks", "Months", "Since midnight")],
            "filter": ["=", db.ref("events.id"), 1, 3, 11],
            "order-by": [["asc", db.ref("events.id")]],
        },
    )
    # 2023-12-31 23:30, 2024-02-29 10:00 and 2024-06-30 23:59:59, to 2024-03-13 12:00.
    assert rows(body) == [
        [1, 73, 1740, 10, 2, 1410],
        [3, 13, 314, 1, 0, 600],
        [11, -109, -2627, -15, -3, 1439],
    ]
    assert cols(body)[1:] == [
        col(name, name, "type/Integer", "fields", ["expression", name])
        for name in ("Days", "Hours", "Weeks", "Months", "Since midnight")
    ]


def test_now_and_moved_dates_as_arguments(admin, db):
    body = one_row(
        admin,
        db,
        {
            "Same": ["datetime-diff", ["now"], ["now"], "month"],
            "Month later": ["datetime-diff", ["now"], ["datetime-add", ["now"], 1, "month"], "month"],
            "Moved": [
                "datetime-diff",
                ["datetime-add", "2022-10-03T00:00:00", 1, "day"],
                ["datetime-add", "2023-10-03T00:00:00", 4, "day"],
                "day",
            ],
            "Plus five": ["+", ["datetime-diff", "2021-10-03T09:19:09", "2022-10-03T09:18:09", "year"], 5],
        },
    )
    assert rows(body) == [[0, 1, 368, 6]]


def test_an_unknown_unit_fails(admin, db):
    body = one_row(admin, db, {"Diff": ["datetime-diff", CREATED(db), "2024-03-13", "fortnight"]})
    assert failure(body) == ("invalid-query", "Invalid datetime-diff unit: 'fortnight'")
