"""Metabase's date parameter strings (`2024-03`, `Q1-2024`, `past30days~`, `exclude-days-Mon`, …) as ranges.

The grammar and the arithmetic follow Metabase's `query_processor/parameters/dates.clj`:

* `date_range` gives the *inclusive* range of whole days (or hours, minutes, seconds for those units) that a
  string covers, as compared with a Date column: `thismonth` → first to last day of the month.
* `datetime_range` turns that into the half-open `[start, end)` compared with a DateTime column.
* `exclusion` reads `exclude-<unit>s-<v>-<v>…` into the unit to extract and the values to exclude.

Relative strings are anchored at `now`, a naive datetime in the report timezone; weeks start on the
instance's first day of the week. Absolute strings keep their wall-clock time (an offset is ignored).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from querybase.longs import parse_integer
from querybase.query_processor.mbql.temporal import add
from querybase.query_processor.parameters import InvalidParameter

Temporal = dt.date | dt.datetime

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
TIME_UNITS = ("second", "minute", "hour")
_UNITS = "(second|minute|hour|day|week|month|quarter|year)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # Monday first, as java.time counts

# `past3days`, `past3days~` (include the current day), `past3days-from-2years` (shifted back two years).
_PAST = re.compile(rf"past([0-9]+){_UNITS}s(|~|-from-([0-9]+){_UNITS}s)")
_NEXT = re.compile(rf"next([0-9]+){_UNITS}s(|~|-from-([0-9]+){_UNITS}s)")
_LAST = re.compile(rf"last{_UNITS}")
_THIS = re.compile(rf"this{_UNITS}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER = re.compile(r"Q([1-4])-([0-9]{4})")
_SINGLE = re.compile(r"[0-9T:-]+")
_DAY_RANGE = re.compile(r"([0-9T-]+)~([0-9T-]+)")
_DATETIME_RANGE = re.compile(r"([0-9T:-]+)~([0-9T:-]+)")
_BEFORE = re.compile(r"~([0-9T:-]+)")
_AFTER = re.compile(r"([0-9T:-]+)~")
EXCLUDE = re.compile(r"exclude-(millisecond|second|minute|hour|day|week|month|quarter|year)s-([-A-Za-z0-9]+)")
# Metabase's last resort for a DateTime column: the leading date and time of an ISO string.
_LEADING_DATETIME = re.compile(r"\d+-\d+-\d+(?:T\d{1,2}(?::\d+){0,2})?")
# How far past its last value a closed range ends: one unit for hours and seconds, else `_step`.
_END_STEPS = {"second": dt.timedelta(seconds=1), "hour": dt.timedelta(hours=1)}


@dataclass(frozen=True)
class DateRange:
    """An inclusive range (either end may be open) and the unit its values are precise to."""

    start: Temporal | None
    end: Temporal | None
    unit: str


def parse_temporal(value: str) -> Temporal:
    """An ISO date (`2024-03-05`) or datetime (`2024-03-05T10:30`, offsets ignored) from a parameter."""
    try:
        if "T" not in value:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise InvalidParameter(f"Don't know how to parse date param '{value}' — invalid format") from None


def date_range(value: str, now: dt.datetime | None, start_of_week: str = "sunday") -> DateRange:
    """The inclusive range a date string covers, relative strings anchored at `now` (None: only absolute
    strings are expected)."""
    relative = _relative_range(value, now, start_of_week) if now is not None else None
    found = relative or _absolute_range(value)
    if found is None:
        raise InvalidParameter(f"Don't know how to parse date param '{value}' — invalid format")
    return found


def datetime_range(
    value: str, now: dt.datetime | None, start_of_week: str = "sunday"
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The half-open `[start, end)` a date string covers, for DateTime columns.

    As in Metabase, an open range excludes its bound: `2024-01-01~` starts on January 2nd and
    `~2024-01-31` ends before January 31st.
    """
    try:
        found = date_range(value, now, start_of_week)
    except InvalidParameter:
        leading = _LEADING_DATETIME.match(value)
        if leading is None:
            raise
        point = parse_temporal(leading.group())
        found = DateRange(point, point, "day")
    start, end = found.start, found.end
    if start is not None and end is not None:
        return _as_datetime(start), _as_datetime(end) + (_END_STEPS.get(found.unit) or _step(end))
    if start is not None:
        return _as_datetime(start) + _step(start), None
    return None, _as_datetime(end) if end is not None else None


@dataclass(frozen=True)
class RelativeInterval:
    """A relative date string as Metabase's MBQL filter on it: `time-interval` over `amount` units
    (negative for the past, `current`), or, with an `offset`, `relative-time-interval`."""

    amount: int | str
    unit: str
    include_current: bool = False
    offset: tuple[int, str] | None = None


def relative_interval(value: str) -> RelativeInterval | None:
    """The interval a relative string (`past30days~`, `lastmonth`, `today`...) names, None for others."""
    if value in ("today", "yesterday"):
        return RelativeInterval("current" if value == "today" else -1, "day")
    for pattern, sign in ((_PAST, -1), (_NEXT, 1)):
        match = pattern.fullmatch(value)
        if match:
            amount, unit, suffix, offset, offset_unit = match.groups()
            shift = (sign * _amount(offset), offset_unit) if offset_unit else None
            return RelativeInterval(sign * _amount(amount), unit, suffix == "~", shift)
    match = _LAST.fullmatch(value) or _THIS.fullmatch(value)
    if match:
        return RelativeInterval(-1 if value.startswith("last") else "current", match.group(1))
    return None


def exclusion(value: str, start_of_week: str = "sunday") -> tuple[str, list[int]] | None:
    """`(extraction unit, values)` of an `exclude-…` string, or None when it is not one.

    Day numbers count from the instance's first day of the week (1 to 7), as `day-of-week` extraction does.
    """
    match = EXCLUDE.fullmatch(value)
    if match is None:
        return None
    unit, listed = match.groups()
    values = [_excluded(unit, item, start_of_week) for item in listed.split("-")]
    extraction = {
        "hour": "hour-of-day",
        "day": "day-of-week",
        "month": "month-of-year",
        "quarter": "quarter-of-year",
    }
    if unit not in extraction or not values or any(v is None for v in values):
        raise InvalidParameter(f'Don\'t know how to parse date string "{value}"')
    return extraction[unit], [v for v in values if v is not None]


# --- arithmetic ---------------------------------------------------------------------------------------------


def _truncate(value: Temporal, unit: str, start_of_week: str) -> Temporal:
    if isinstance(value, dt.datetime) and unit in TIME_UNITS:
        drop = {"second": {"microsecond": 0}, "minute": {"second": 0, "microsecond": 0}}
        return value.replace(**drop.get(unit, {"minute": 0, "second": 0, "microsecond": 0}))
    day = value.date() if isinstance(value, dt.datetime) else value
    if unit == "week":
        sunday_based = (day.weekday() + 1) % 7
        return day - dt.timedelta(days=(sunday_based - WEEKDAYS.index(start_of_week)) % 7)
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _unit_range(start: Temporal, end: Temporal, unit: str, start_of_week: str) -> DateRange:
    """From the start of `start`'s unit to the last day (or hour, minute, second) of `end`'s unit."""
    first = _truncate(start, unit, start_of_week)
    last = _truncate(end, unit, start_of_week)
    if unit not in TIME_UNITS and unit != "day":
        last = add(last, 1, unit) - dt.timedelta(days=1)
    return DateRange(first, last, unit)


def _resolution(value: Temporal, unit: str) -> Temporal:
    """Units of a day or more count whole days."""
    return value.date() if isinstance(value, dt.datetime) and unit not in TIME_UNITS else value


def _as_datetime(value: Temporal) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day)


def _step(value: Temporal) -> dt.timedelta:
    """The precision of a range end as written: a day for a date, a minute for a datetime."""
    return dt.timedelta(minutes=1) if isinstance(value, dt.datetime) else dt.timedelta(days=1)


def _amount(digits: str) -> int:
    """A count of units, as the pattern matched it (ASCII digits): thousands of digits stand for a number
    past any date rather than failing `int()`."""
    number = parse_integer(digits)
    return 0 if number is None else number


def _excluded(unit: str, item: str, start_of_week: str) -> int | None:
    number = parse_integer(item) if item.isdigit() else None
    if unit == "hour":
        return number if number is not None and 0 <= number <= 23 else None
    if unit == "quarter":
        return number if number is not None and 1 <= number <= 4 else None
    if unit == "month":
        return _MONTHS.index(item) + 1 if item in _MONTHS else None
    if unit == "day" and item in _DAYS:
        first = (WEEKDAYS.index(start_of_week) - 1) % 7  # Monday-based, like _DAYS
        return (_DAYS.index(item) - first) % 7 + 1
    return None


# --- decoders -----------------------------------------------------------------------------------------------


def _relative_range(value: str, now: dt.datetime, start_of_week: str) -> DateRange | None:
    today = now.date()
    if value == "today":
        return DateRange(today, today, "day")
    if value == "yesterday":
        yesterday = today - dt.timedelta(days=1)
        return DateRange(yesterday, yesterday, "day")
    for pattern, sign in ((_PAST, -1), (_NEXT, 1)):
        match = pattern.fullmatch(value)
        if match:
            amount, unit, suffix, offset, offset_unit = match.groups()
            anchor = add(now, sign * _amount(offset), offset_unit) if offset_unit else now
            base = _resolution(anchor, unit)
            near = add(base, sign * (0 if suffix == "~" else 1), unit)
            far = add(base, sign * _amount(amount), unit)
            return _unit_range(*((far, near) if sign < 0 else (near, far)), unit, start_of_week)
    match = _LAST.fullmatch(value)
    if match:
        previous = add(_resolution(now, match.group(1)), -1, match.group(1))
        return _unit_range(previous, previous, match.group(1), start_of_week)
    match = _THIS.fullmatch(value)
    if match:
        current = _resolution(now, match.group(1))
        return _unit_range(current, current, match.group(1), start_of_week)
    return None


def _absolute_range(value: str) -> DateRange | None:
    match = _MONTH.fullmatch(value)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            return None
        return DateRange(
            dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]), "month"
        )
    match = _QUARTER.fullmatch(value)
    if match:
        quarter, year = int(match.group(1)), int(match.group(2))
        first = dt.date(year, 3 * quarter - 2, 1)
        return DateRange(first, add(first, 1, "quarter") - dt.timedelta(days=1), "quarter")
    if _SINGLE.fullmatch(value):
        point = parse_temporal(value)
        return DateRange(point, point, _unit_of(value))
    match = _DAY_RANGE.fullmatch(value) or _DATETIME_RANGE.fullmatch(value)
    if match:
        return DateRange(
            parse_temporal(match.group(1)), parse_temporal(match.group(2)), _unit_of(match.group(1))
        )
    match = _BEFORE.fullmatch(value)
    if match:
        return DateRange(None, parse_temporal(match.group(1)), _unit_of(match.group(1)))
    match = _AFTER.fullmatch(value)
    if match:
        return DateRange(parse_temporal(match.group(1)), None, _unit_of(match.group(1)))
    return None


def _unit_of(value: str) -> str:
    """The UI picks times to the minute, so a string with a time is precise to the minute."""
    return "minute" if "T" in value else "day"
