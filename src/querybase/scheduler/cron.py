"""Schedules: Metabase's schedule maps and Quartz cron strings, turned into APScheduler cron triggers, and
the question every job asks: which scheduled time, if any, is due now.

Metabase stores a subscription channel's schedule as a map (`schedule_type` hourly/daily/weekly/monthly
with an hour, a day and a frame) and everything else (alerts, database syncs) as Quartz cron strings
(`sec min hour day-of-month month day-of-week [year]`, Sunday = 1). APScheduler's `CronTrigger` computes
the fire times; this module only translates.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from apscheduler.triggers.cron import CronTrigger

# Quartz numbers its days Sunday = 1 ... Saturday = 7.
_QUARTZ_DAYS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}
_DAY_NAMES = {name: number for number, name in _QUARTZ_DAYS.items()}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ORDINALS = {"1": "1st", "2": "2nd", "3": "3rd", "4": "4th", "5": "5th"}
_SIMPLE = re.compile(r"^(\*|\d+)(-\d+)?(/\d+)?$")
# (lowest, highest) of the fields APScheduler takes the same way Quartz writes them.
_RANGES = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}


def schedule_to_cron(schedule: dict[str, Any]) -> str:
    """A schedule map as a Quartz cron string (Metabase's `schedule-map->cron-string`)."""
    hour = schedule.get("schedule_hour")
    hours = "*" if hour is None else str(hour)
    day = schedule.get("schedule_day")
    frame = schedule.get("schedule_frame")
    kind = schedule.get("schedule_type")
    day_of_month, day_of_week = "*", "?"
    if kind == "hourly":
        hours = "*"
    elif kind == "weekly":
        day_of_month, day_of_week = "?", _DAY_NAMES[day]
    elif kind == "monthly":
        if day:
            day_of_month = "?"
            day_of_week = _DAY_NAMES[day] + ("#1" if frame == "first" else "L")
        else:
            day_of_month = {"first": "1", "mid": "15", "last": "L"}[frame]
    return f"0 0 {hours} {day_of_month} * {day_of_week} *"


def is_valid_cron(expression: Any) -> bool:
    if not isinstance(expression, str):
        return False
    try:
        cron_trigger(expression)
    except ValueError:
        return False
    return True


def cron_trigger(expression: str, timezone: str | dt.tzinfo = "UTC") -> CronTrigger:
    """The APScheduler trigger firing when the Quartz cron `expression` does (ValueError when it is not one
    querybase can run: Quartz's `W` and `L-n` are not supported)."""
    parts = expression.split()
    if len(parts) not in (6, 7):
        raise ValueError(f"not a Quartz cron expression: {expression!r}")
    second, minute, hour, day_of_month, month, day_of_week = parts[:6]
    year = parts[6] if len(parts) == 7 else "*"
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError("Quartz needs '?' in exactly one of day-of-month and day-of-week")
    fields: dict[str, str] = {
        "second": _simple(second, "second"),
        "minute": _simple(minute, "minute"),
        "hour": _simple(hour, "hour"),
        "month": _month(month),
        "year": year if year == "*" or re.fullmatch(r"\d{4}(-\d{4})?(,\d{4})*", year) else _bad(year),
    }
    if day_of_week == "?":
        fields["day"] = "last" if day_of_month == "L" else _simple(day_of_month, "day")
    else:
        fields.update(_day_of_week(day_of_week))
    try:
        return CronTrigger(timezone=timezone, **fields)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a Quartz cron expression: {expression!r}") from exc


def _bad(part: str) -> str:
    raise ValueError(f"unsupported cron field: {part!r}")


def _simple(part: str, field: str) -> str:
    """A list of `*`, `n`, `a-b` and steps; Quartz's `a/n` (from a, every n) as APScheduler's `a-max/n`."""
    items = []
    for item in part.split(","):
        match = _SIMPLE.match(item)
        if match is None:
            _bad(item)
        start, end, step = match.groups()
        if step and start != "*" and not end:
            end = f"-{_RANGES[field][1]}"
        items.append(start + (end or "") + (step or ""))
    return ",".join(items)


def _month(part: str) -> str:
    lowered = part.lower()
    for number, name in enumerate(_MONTHS, start=1):
        lowered = re.sub(rf"\b{name}\b", str(number), lowered)
    return _simple(lowered, "month")


def _day_of_week(part: str) -> dict[str, str]:
    """Quartz's day of week: names or numbers (Sunday = 1), lists, ranges; `6L` (last Friday of the month)
    and `2#1` (first Monday) become APScheduler's `day` expressions."""
    lowered = part.lower()
    for name, number in _DAY_NAMES.items():
        lowered = lowered.replace(name, number)
    last = re.fullmatch(r"([1-7])l", lowered)
    if last:
        return {"day": f"last {_QUARTZ_DAYS[last.group(1)]}"}
    nth = re.fullmatch(r"([1-7])#([1-5])", lowered)
    if nth:
        return {"day": f"{_ORDINALS[nth.group(2)]} {_QUARTZ_DAYS[nth.group(1)]}"}
    if lowered == "*":
        return {"day_of_week": "*"}
    days: set[str] = set()
    for item in lowered.split(","):
        match = re.fullmatch(r"([1-7])(?:-([1-7]))?(?:/(\d+))?|\*/(\d+)", item)
        if match is None:
            _bad(item)
        start, end, step, star_step = match.groups()
        if star_step:
            first, last_day, every = 1, 7, int(star_step)
        else:
            first = int(start)
            last_day = int(end) if end else (7 if step else first)
            every = int(step) if step else 1
        if every < 1 or last_day < first:
            _bad(item)
        days.update(_QUARTZ_DAYS[str(n)] for n in range(first, last_day + 1, every))
    return {"day_of_week": ",".join(sorted(days, key=lambda d: _DAY_NAMES[d]))}


def latest_due(trigger: CronTrigger, after: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The last time the trigger fires in (`after`, `now`], if any: the run that is due now. Earlier fire
    times in the window were missed (the server was down) and are not made up one by one."""
    due = None
    fire = trigger.get_next_fire_time(None, after + dt.timedelta(microseconds=1))
    while fire is not None and fire <= now:
        due = fire
        fire = trigger.get_next_fire_time(None, fire + dt.timedelta(microseconds=1))
    return due.astimezone(dt.UTC) if due is not None else None
