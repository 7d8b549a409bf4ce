"""Values as Metabase serializes them: temporal values as ISO-8601 strings in the results timezone
(`2024-05-15T08:04:04.58Z`, `2024-05-15T10:04:04.58+02:00`), decimals as numbers, text-stored dates (SQLite)
parsed first. A naive value is a wall-clock time of that zone; a zoned one is moved into it; a column that
is a `convert-timezone` result is shown in its own zone (`converted_timezone`)."""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import operator
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from querybase.drivers import types as t
from querybase.query_processor.context import zone_info
from querybase.query_processor.execute import Batch

Formatter = Callable[[Any], Any]


def _fraction(micros: int) -> str:
    return f".{micros:06d}".rstrip("0") if micros else ""


def format_datetime(value: dt.datetime) -> str:
    """ISO-8601 with an offset (`Z` for UTC), the fraction only as long as needed, as Java prints it."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    text = value.isoformat()  # the fraction only when there is one; much faster than strftime
    return (text.rstrip("0") if value.microsecond else text) + "Z"


# A naive ISO timestamp as SQLite stores them; formatted without parsing, since most rows of a large
# result from SQLite are such text.
_NAIVE_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?")


def _parse_text(value: str) -> Any:
    text = value.strip().replace(" ", "T", 1)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return dt.time.fromisoformat(text)
        except ValueError:
            return value


def _offset(value: dt.datetime) -> str:
    """A zoned datetime's offset as java.time prints it: `Z`, `+09:00`, `-03:30`, `+00:09:21`."""
    seconds = int((value.utcoffset() or dt.timedelta(0)).total_seconds())
    if seconds == 0:
        return "Z"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def in_zone(zone: dt.tzinfo) -> Formatter:
    """The formatter of a temporal column shown in a zone other than UTC."""

    def format_in_zone(value: Any) -> Any:
        if isinstance(value, str):
            value = _parse_text(value)
        if isinstance(value, dt.datetime):
            local = value.astimezone(zone) if value.tzinfo else value.replace(tzinfo=zone)
            text = local.replace(tzinfo=None).isoformat()
            return (text.rstrip("0") if local.microsecond else text) + _offset(local)
        if isinstance(value, dt.date):
            return format_in_zone(dt.datetime(value.year, value.month, value.day))
        return format_value(value)

    return format_in_zone


def format_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str, float)):
        return value
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return format_datetime(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S") + _fraction(value.microsecond)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def _temporal_text(value: Any) -> Any:
    if isinstance(value, str):
        match = _NAIVE_ISO.fullmatch(value)
        if match is not None:
            date, time, fraction = match.groups()
            fraction = (fraction or "").rstrip("0")
            return f"{date}T{time}.{fraction}Z" if fraction else f"{date}T{time}Z"
        parsed = _parse_text(value)
        return format_value(parsed) if not isinstance(parsed, str) else value
    return format_value(value)


def _boolean(value: Any) -> Any:
    """Booleans stored as 0/1 (SQLite, MySQL's TINYINT(1)) as JSON booleans."""
    return bool(value) if isinstance(value, int) and value in (0, 1) else format_value(value)


def _float(value: Any) -> Any:
    """A float column's value as a float, whichever numeric type the engine answered with."""
    if isinstance(value, decimal.Decimal | int) and not isinstance(value, bool):
        return float(value)
    return format_value(value)


# Columns whose values every driver already returns JSON-ready (int, str): left as they are, which is most
# of the cost of formatting a large result.
_AS_IS = frozenset({t.INTEGER, t.BIG_INTEGER, t.TEXT})


def formatters(cols: list[dict[str, Any]], timezone: str = "UTC") -> list[Formatter | None]:
    """One formatter per column (None: values pass as they are): temporal columns also accept text (how
    SQLite returns dates) and are shown in `timezone` (or their `converted_timezone`), boolean columns
    0/1, float columns decimals and integers."""
    result: list[Formatter | None] = []
    for col in cols:
        types = {col.get("effective_type"), col.get("base_type")}
        temporal_column = bool(types & t.TEMPORAL_TYPES) and "-of-" not in str(col.get("unit"))
        zone_name = str(col.get("converted_timezone") or timezone)
        zone = zone_info(zone_name) if zone_name != "UTC" else None
        if temporal_column and zone is not None and col.get("base_type") not in (t.TIME, t.TIME_TZ):
            result.append(in_zone(zone))
        elif temporal_column:
            result.append(_temporal_text)
        elif col.get("base_type") == t.BOOLEAN:
            result.append(_boolean)
        elif col.get("base_type") == t.FLOAT:
            result.append(_float)
        elif col.get("base_type") in _AS_IS and col.get("effective_type") in (None, col.get("base_type")):
            result.append(None)
        else:
            result.append(format_value)
    return result


def columns_of(batch: Sequence[Sequence[Any]]) -> list[Any]:
    """A batch's columns (`map(itemgetter(i), rows)` per column: several times faster than `zip(*rows)`)."""
    if isinstance(batch, FormattedBatch):
        return [batch.column(index) for index in range(batch.width)]
    width = len(batch[0])
    return [list(map(itemgetter(index), batch)) for index in range(width)]


class FormattedBatch(Sequence[tuple[Any, ...]]):
    """A formatted batch kept as the columns it was formatted in; its rows are made on first use. The CSV
    and JSON download writers work a column at a time and never need them: turning each batch into rows
    and back into columns took a good part of a million-row export.

    A column of nothing but naive ISO text (SQLite's timestamps, the bulk of a large SQLite result) is
    kept in `naive_iso` (by index) as `_temporal_text` writes it but for the `Z` (a fraction's trailing
    zeros dropped), and gets the API's `Z` only when it is read as a column or in rows: the writers, which
    want local text, take the text itself (`streaming.formatted_columns`)."""

    def __init__(self, columns: list[list[Any] | None], naive_iso: dict[int, list[str]], length: int) -> None:
        self._columns = columns
        self.naive_iso = naive_iso
        self.width = len(columns)
        self._length = length
        self._rows: list[tuple[Any, ...]] | None = None

    def column(self, index: int) -> list[Any]:
        values = self._columns[index]
        if values is None:
            values = self._columns[index] = list(
                map(operator.add, self.naive_iso[index], itertools.repeat("Z"))
            )
        return values

    def _all_rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = list(zip(*columns_of(self), strict=True))
        return self._rows

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        return self._all_rows()[index]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._all_rows())


def format_batches(
    cols: list[dict[str, Any]], batches: Iterator[Batch], timezone: str = "UTC"
) -> Iterator[Sequence[Sequence[Any]]]:
    """Format each batch column by column, only the columns that need it (the others pass untouched);
    temporal values in the results `timezone`."""
    work = [(index, fn) for index, fn in enumerate(formatters(cols, timezone)) if fn is not None]
    for batch in batches:
        if not work:
            yield batch
            continue
        columns: list[list[Any] | None] = columns_of(batch)
        naive_iso: dict[int, list[str]] = {}
        for index, fn in work:
            values = columns[index]
            text = _naive_iso_text(values) if fn is _temporal_text else None
            if text is not None:
                naive_iso[index], columns[index] = text, None
            else:
                columns[index] = _format_column(fn, values)
        yield FormattedBatch(columns, naive_iso, len(batch))


def _format_column(fn: Formatter, values: list[Any]) -> list[Any]:
    column_version = _COLUMN_VERSIONS.get(fn)
    return column_version(values) if column_version is not None else list(map(fn, values))


# SQLite's naive ISO text (`2024-05-03T12:34:56`), the bulk of a large SQLite result's timestamps, with
# every ASCII digit made a 0; and with the fractions of up to six digits that `_NAIVE_ISO` reads.
_NAIVE_ISO_SHAPE = b"0000-00-00T00:00:00"
_NAIVE_ISO_SHAPES = frozenset([_NAIVE_ISO_SHAPE] + [_NAIVE_ISO_SHAPE + b"." + b"0" * n for n in range(1, 7)])
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)


def _naive_iso_text(values: list[Any]) -> list[str] | None:
    """A column of nothing but naive ISO text as `_temporal_text` would write it, but for the `Z` it ends
    with; None for any other column. Checked on the whole column at once in C-speed builtins (a regular
    expression per value was a tenth of a million-row SQLite export): the column's text, digits zeroed,
    is the shape repeated when every value has 19 characters, and otherwise has no line that is not one of
    the shapes. Fractions then lose their trailing zeros, as `_temporal_text` drops them."""
    if set(map(type, values)) != {str}:
        return None
    plain = set(map(len, values)) == {len(_NAIVE_ISO_SHAPE)}
    try:
        text = ("" if plain else "\n").join(values).encode("ascii")
    except UnicodeEncodeError:
        return None
    zeroed = text.translate(_DIGITS_TO_ZERO)
    if plain:
        return values if zeroed == _NAIVE_ISO_SHAPE * len(values) else None
    lines = zeroed.split(b"\n")
    # As many lines as values (none held a line break of its own), each of a known shape.
    if len(lines) != len(values) or not set(lines) <= _NAIVE_ISO_SHAPES:
        return None
    return [value.rstrip("0").rstrip(".") if "." in value else value for value in values]


def _float_column(values: list[Any]) -> list[Any]:
    """`_float` for a whole column: nothing to do when the driver already answered with floats."""
    if set(map(type, values)) <= _FLOAT_OR_NONE:
        return values
    return list(map(_float, values))


_FLOAT_OR_NONE = frozenset({float, type(None)})
# Column-at-a-time versions of formatters.
_COLUMN_VERSIONS: dict[Formatter, Callable[[list[Any]], list[Any]]] = {
    _float: _float_column,
}
