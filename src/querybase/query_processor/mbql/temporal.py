"""Date arithmetic for relative filters, computed in Python from the query's `now`.

Bounds of `time-interval`, `relative-time-interval`, `during` and bucketed `=` are computed here and
reach the database as bound datetimes, so every engine filters the same instants (and no engine-specific
interval SQL is needed).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import TypeVar

from querybase.query_processor.errors import InvalidQuery

T = TypeVar("T", dt.date, dt.datetime)
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DATE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def parse_datetime(value: str, zone: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """An ISO date or datetime string (`2024-03`, `2024-03-05`, `2024-03-05T10:00:00Z`) as a naive
    datetime, one with an offset moved to `zone`'s wall clock; None when it is not one."""
    text = value.strip()
    if _DATE_RE.match(text):
        parts = [int(p) for p in text.split("-")]
        return dt.datetime(parts[0], parts[1], parts[2] if len(parts) > 2 else 1)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(zone).replace(tzinfo=None)
    return parsed


def truncate(value: dt.datetime, unit: str, start_of_week: str = "sunday") -> dt.datetime:
    if unit == "year":
        return dt.datetime(value.year, 1, 1)
    if unit == "quarter":
        return dt.datetime(value.year, 3 * ((value.month - 1) // 3) + 1, 1)
    if unit == "month":
        return dt.datetime(value.year, value.month, 1)
    if unit == "week":
        day = dt.datetime(value.year, value.month, value.day)
        weekday = (day.weekday() + 1) % 7  # 0 = Sunday
        return day - dt.timedelta(days=(weekday - WEEKDAYS.index(start_of_week)) % 7)
    if unit == "day":
        return dt.datetime(value.year, value.month, value.day)
    if unit == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    if unit == "minute":
        return value.replace(second=0, microsecond=0)
    if unit == "second":
        return value.replace(microsecond=0)
    return value


_SECONDS = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1, "millisecond": 0.001}


def add(value: T, amount: int, unit: str) -> T:
    """`value` (a date or a datetime) moved by `amount` units; months keep their day where it exists
    (January 31 + 1 month = February 29). Past the years 1 to 9999 the query is invalid, as Metabase's
    (java.time's) arithmetic fails past its own range."""
    try:
        if unit in ("year", "quarter", "month"):
            months = amount * {"year": 12, "quarter": 3, "month": 1}[unit]
            index = value.year * 12 + value.month - 1 + months
            year, month = divmod(index, 12)
            day = min(value.day, calendar.monthrange(year, month + 1)[1])
            return value.replace(year=year, month=month + 1, day=day)
        return value + dt.timedelta(seconds=amount * _SECONDS[unit])
    except (OverflowError, ValueError):
        raise InvalidQuery(f"{value.isoformat()} plus {amount} {unit}s is past the range of dates") from None


def interval_bounds(
    now: dt.datetime, amount: int | str, unit: str, *, include_current: bool, start_of_week: str = "sunday"
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of Metabase's `time-interval`: `current`, or the last/next `amount` whole units
    (the current one only with `include-current`)."""
    naive = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    current = truncate(naive, unit, start_of_week)
    if amount in ("current", 0):
        return current, add(current, 1, unit)
    if amount == "last":
        amount = -1
    elif amount == "next":
        amount = 1
    if not isinstance(amount, int):
        raise ValueError(f"Invalid time-interval amount: {amount!r}")
    if amount < 0:
        end = add(current, 1, unit) if include_current else current
        return add(current, amount, unit), end
    start = current if include_current else add(current, 1, unit)
    return start, add(current, amount + 1, unit)
