"""Metabase's date parameter strings with a fixed `now`: the inclusive ranges compared with Date columns,
the half-open ranges compared with DateTime columns, and exclusions. Expected values are those of
Metabase's `dates_test.clj` and `substitute_test.clj` (now = 2016-06-07T12:13:55, weeks from Sunday)."""

from __future__ import annotations

import datetime as dt

import pytest

from querybase.query_processor.parameters import InvalidParameter
from querybase.query_processor.parameters.dates import (
    DateRange,
    date_range,
    datetime_range,
    exclusion,
    parse_temporal,
)

NOW = dt.datetime(2016, 6, 7, 12, 13, 55)
D = dt.date
T = dt.datetime


def iso(found: DateRange) -> dict[str, str]:
    return {k: v.isoformat() for k, v in (("start", found.start), ("end", found.end)) if v is not None}


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        # absolute
        ("Q1-2016", "2016-01-01", "2016-03-31"),
        ("2016-02", "2016-02-01", "2016-02-29"),
        ("2016-04-18", "2016-04-18", "2016-04-18"),
        ("2016-04-18~2016-04-23", "2016-04-18", "2016-04-23"),
        ("2016-04-18T10:30:00~2016-04-23T10:30:00", "2016-04-18T10:30:00", "2016-04-23T10:30:00"),
        ("2016-04-18~", "2016-04-18", None),
        ("~2016-04-18", None, "2016-04-18"),
        # past
        ("past30seconds", "2016-06-07T12:13:25", "2016-06-07T12:13:54"),
        ("past5minutes~", "2016-06-07T12:08:00", "2016-06-07T12:13:00"),
        ("past3hours", "2016-06-07T09:00:00", "2016-06-07T11:00:00"),
        ("past3days", "2016-06-04", "2016-06-06"),
        ("past3days~", "2016-06-04", "2016-06-07"),
        ("past7days", "2016-05-31", "2016-06-06"),
        ("past30days", "2016-05-08", "2016-06-06"),
        ("past2months", "2016-04-01", "2016-05-31"),
        ("past2months~", "2016-04-01", "2016-06-30"),
        ("past13months", "2015-05-01", "2016-05-31"),
        ("past2quarters", "2015-10-01", "2016-03-31"),
        ("past2quarters~", "2015-10-01", "2016-06-30"),
        ("past1years", "2015-01-01", "2015-12-31"),
        ("past1years~", "2015-01-01", "2016-12-31"),
        ("past16years", "2000-01-01", "2015-12-31"),
        # next
        ("next45seconds", "2016-06-07T12:13:56", "2016-06-07T12:14:40"),
        ("next20minutes", "2016-06-07T12:14:00", "2016-06-07T12:33:00"),
        ("next6hours", "2016-06-07T13:00:00", "2016-06-07T18:00:00"),
        ("next3days", "2016-06-08", "2016-06-10"),
        ("next3days~", "2016-06-07", "2016-06-10"),
        ("next30days", "2016-06-08", "2016-07-07"),
        ("next2months~", "2016-06-01", "2016-08-31"),
        ("next2quarters", "2016-07-01", "2016-12-31"),
        ("next13months", "2016-07-01", "2017-07-31"),
        ("next1years~", "2016-01-01", "2017-12-31"),
        # this / last / today / yesterday
        ("thissecond", "2016-06-07T12:13:55", "2016-06-07T12:13:55"),
        ("thisminute", "2016-06-07T12:13:00", "2016-06-07T12:13:00"),
        ("thishour", "2016-06-07T12:00:00", "2016-06-07T12:00:00"),
        ("thisday", "2016-06-07", "2016-06-07"),
        ("thisweek", "2016-06-05", "2016-06-11"),
        ("thismonth", "2016-06-01", "2016-06-30"),
        ("thisquarter", "2016-04-01", "2016-06-30"),
        ("thisyear", "2016-01-01", "2016-12-31"),
        ("lastsecond", "2016-06-07T12:13:54", "2016-06-07T12:13:54"),
        ("lastminute", "2016-06-07T12:12:00", "2016-06-07T12:12:00"),
        ("lasthour", "2016-06-07T11:00:00", "2016-06-07T11:00:00"),
        ("lastweek", "2016-05-29", "2016-06-04"),
        ("lastmonth", "2016-05-01", "2016-05-31"),
        ("lastquarter", "2016-01-01", "2016-03-31"),
        ("lastyear", "2015-01-01", "2015-12-31"),
        ("yesterday", "2016-06-06", "2016-06-06"),
        ("today", "2016-06-07", "2016-06-07"),
        # shifted
        ("past1days-from-0days", "2016-06-06", "2016-06-06"),
        ("past1months-from-36months", "2013-05-01", "2013-05-31"),
        ("past1years-from-36months", "2012-01-01", "2012-12-31"),
        ("past3days-from-3years", "2013-06-04", "2013-06-06"),
        ("next2days-from-1months", "2016-07-08", "2016-07-09"),
        ("next1months-from-36months", "2019-07-01", "2019-07-31"),
        ("next7hours-from-13months", "2017-07-07T13:00:00", "2017-07-07T19:00:00"),
    ],
)
def test_date_range(value, start, end):
    expected = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    assert iso(date_range(value, NOW)) == expected


@pytest.mark.parametrize(
    ("start_of_week", "start", "end"),
    [
        ("sunday", "2021-02-21", "2021-02-27"),
        ("monday", "2021-02-22", "2021-02-28"),
        ("tuesday", "2021-02-16", "2021-02-22"),
        ("saturday", "2021-02-20", "2021-02-26"),
    ],
)
def test_weeks_start_on_the_instance_first_day(start_of_week, start, end):
    assert iso(date_range("past1weeks", T(2021, 3, 1, 14, 15), start_of_week)) == {"start": start, "end": end}


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2016-07-01", T(2016, 7, 1), T(2016, 7, 2)),
        ("2016-07-01~2016-08-01", T(2016, 7, 1), T(2016, 8, 2)),
        ("2016-07", T(2016, 7, 1), T(2016, 8, 1)),
        ("Q1-2016", T(2016, 1, 1), T(2016, 4, 1)),
        # open ranges exclude their bound, as in Metabase
        ("~2016-07-01", None, T(2016, 7, 1)),
        ("2016-07-01~", T(2016, 7, 2), None),
        ("2024-08-20T10:20:00", T(2024, 8, 20, 10, 20), T(2024, 8, 20, 10, 21)),
        ("~2024-08-20T10:20:00", None, T(2024, 8, 20, 10, 20)),
        ("2024-08-20T10:20:00~", T(2024, 8, 20, 10, 21), None),
        ("yesterday", T(2016, 6, 6), T(2016, 6, 7)),
        ("past7days", T(2016, 5, 31), T(2016, 6, 7)),
        ("thisweek", T(2016, 6, 5), T(2016, 6, 12)),
        ("thisyear", T(2016, 1, 1), T(2017, 1, 1)),
        ("lastmonth", T(2016, 5, 1), T(2016, 6, 1)),
        ("past1hours", T(2016, 6, 7, 11), T(2016, 6, 7, 12)),
        ("past1seconds", T(2016, 6, 7, 11, 59, 59), T(2016, 6, 7, 12)),
        # an offset is ignored: the wall-clock time counts
        ("2019-09-20T19:52-07:00", T(2019, 9, 20, 19, 52), T(2019, 9, 20, 19, 53)),
        # what no decoder reads falls back to its leading date and time
        ("2019-09-20T19:52:00.000-07:00", T(2019, 9, 20, 19, 52), T(2019, 9, 20, 19, 53)),
    ],
)
def test_datetime_range_is_half_open(value, start, end):
    assert datetime_range(value, T(2016, 6, 7, 12)) == (start, end)


@pytest.mark.parametrize(
    ("value", "start_of_week", "expected"),
    [
        ("exclude-hours-0", "sunday", ("hour-of-day", [0])),
        ("exclude-hours-0-23", "sunday", ("hour-of-day", [0, 23])),
        ("exclude-quarters-2-3-4", "sunday", ("quarter-of-year", [2, 3, 4])),
        ("exclude-days-Fri-Tue", "sunday", ("day-of-week", [6, 3])),
        ("exclude-days-Mon-Sun", "monday", ("day-of-week", [1, 7])),
        ("exclude-months-Dec-Apr-Sep", "sunday", ("month-of-year", [12, 4, 9])),
        ("past3days", "sunday", None),
        ("2016-01-01", "sunday", None),
    ],
)
def test_exclusion(value, start_of_week, expected):
    assert exclusion(value, start_of_week) == expected


@pytest.mark.parametrize(
    "value",
    [
        "exclude-hours-24-3",
        "exclude-quarters-Q1",
        "exclude-days-Friday",
        "exclude-months-April",
        "exclude-minutes-15-30",
    ],
)
def test_bad_exclusions_are_refused(value):
    with pytest.raises(InvalidParameter) as error:
        exclusion(value)
    assert error.value.message == f'Don\'t know how to parse date string "{value}"'


@pytest.mark.parametrize(
    "value", ["next", "past3millis", "2016-13-01", "2016-04-18' OR '1'='1", "Q5-2016", "past3milliseconds"]
)
def test_bad_strings_are_refused(value):
    with pytest.raises(InvalidParameter) as error:
        date_range(value, NOW)
    assert error.value.message == f"Don't know how to parse date param '{value}' — invalid format"
    assert error.value.error_type == "invalid-parameter"


def test_parse_temporal():
    assert parse_temporal("2016-07-19") == D(2016, 7, 19)
    assert parse_temporal("2016-07-19T10:30") == T(2016, 7, 19, 10, 30)
    assert parse_temporal("2016-07-19T10:30:00Z") == T(2016, 7, 19, 10, 30)
    with pytest.raises(InvalidParameter):
        parse_temporal("19/07/2016")
