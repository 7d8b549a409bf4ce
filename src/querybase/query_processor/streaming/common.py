"""What the three download formats share: column titles, per-column settings and value formatting.

Metabase formats export values in two steps (`streaming/common.clj`, `formatter/*.clj`): every value is
first turned into its plain export form (`format-value`), then, when the request says `format_rows`, into
the text the UI shows ("1,234.57", "April 1, 2014, 8:30 AM", "Discount ($)" in headers). This module
reproduces both for the values the query processor hands over (JSON-ready: str/int/float/bool/None, temporal
values as ISO-8601 strings in the report timezone). Writers build one formatter per column up front, so a
row costs only calls.

Not reproduced: the admin's global `custom-formatting` setting (treated as empty), `number_style: scientific`
in CSV/JSON text (shown as a plain decimal) and the ordinal/name formats of extraction units (`day-of-week`
columns are integers and format as numbers).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import itertools
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from querybase.query_processor.postprocess.format_rows import FormattedBatch, columns_of

Col = Mapping[str, Any]
Settings = dict[str, Any]
Formatter = Callable[[Any], Any]

# --- Metabase's type hierarchy (the part exports look at), from `metabase/types/core.cljc`.

_PARENTS: dict[str, tuple[str, ...]] = {
    "type/Integer": ("type/Number",),
    "type/BigInteger": ("type/Integer",),
    "type/Quantity": ("type/Integer",),
    "type/Float": ("type/Number",),
    "type/Decimal": ("type/Float",),
    "type/Share": ("type/Float",),
    "type/Percentage": ("type/Decimal",),
    "type/Currency": ("type/Decimal",),
    "type/Income": ("type/Currency",),
    "type/Discount": ("type/Currency",),
    "type/Price": ("type/Currency",),
    "type/GrossMargin": ("type/Currency",),
    "type/Cost": ("type/Currency",),
    "type/Coordinate": ("type/Float",),
    "type/Latitude": ("type/Coordinate",),
    "type/Longitude": ("type/Coordinate",),
    "type/Score": ("type/Number",),
    "type/Duration": ("type/Number",),
    "type/Date": ("type/Temporal",),
    "type/Time": ("type/Temporal",),
    "type/TimeWithTZ": ("type/Time",),
    "type/TimeWithLocalTZ": ("type/TimeWithTZ",),
    "type/TimeWithZoneOffset": ("type/TimeWithTZ",),
    "type/DateTime": ("type/Temporal",),
    "type/DateTimeWithTZ": ("type/DateTime",),
    "type/DateTimeWithLocalTZ": ("type/DateTimeWithTZ",),
    "type/DateTimeWithZoneOffset": ("type/DateTimeWithTZ",),
    "type/DateTimeWithZoneID": ("type/DateTimeWithTZ",),
    "type/Instant": ("type/DateTimeWithLocalTZ",),
    "type/Interval": ("type/Temporal",),
    "type/CreationTimestamp": ("type/DateTime",),
    "type/CreationTime": ("type/Time",),
    "type/CreationDate": ("type/Date",),
    "type/JoinTimestamp": ("type/DateTime",),
    "type/JoinTime": ("type/Time",),
    "type/JoinDate": ("type/Date",),
    "type/CancelationTimestamp": ("type/DateTime",),
    "type/CancelationTime": ("type/Date",),  # sic: Metabase derives it from Date
    "type/CancelationDate": ("type/Date",),
    "type/DeletionTimestamp": ("type/DateTime",),
    "type/DeletionTime": ("type/Time",),
    "type/DeletionDate": ("type/Date",),
    "type/UpdatedTimestamp": ("type/DateTime",),
    "type/UpdatedTime": ("type/Time",),
    "type/UpdatedDate": ("type/Date",),
    "type/Birthdate": ("type/Date",),
    "type/PK": ("Relation/*",),
    "type/FK": ("Relation/*",),
    "type/Dictionary": ("type/Collection",),
    "type/Array": ("type/Collection",),
    "type/JSON": ("type/Collection", "type/Structured"),
    "type/SerializedJSON": ("type/Text", "type/Collection", "type/Structured"),
}


@functools.cache
def isa(child: str | None, ancestor: str) -> bool:
    """Metabase's `isa?` on type keywords: `child` is `ancestor` or derives from it."""
    if child is None:
        return False
    return child == ancestor or any(isa(parent, ancestor) for parent in _PARENTS.get(child, ()))


def col_type(col: Col) -> str | None:
    """The type Metabase dispatches formatting on: semantic type first, then effective, then base."""
    return col.get("semantic_type") or col.get("effective_type") or col.get("base_type")


def _field_type(col: Col, ancestor: str) -> bool:
    return isa(col.get("base_type"), ancestor) or isa(col.get("effective_type"), ancestor)


def temporal_kind(col: Col) -> str | None:
    """'date', 'time' or 'datetime' for temporal columns (base or effective type), else None."""
    if not _field_type(col, "type/Temporal"):
        return None
    field_type = col.get("effective_type") or col.get("base_type")
    for kind, ancestor in (("date", "type/Date"), ("time", "type/Time"), ("datetime", "type/DateTime")):
        if isa(field_type, ancestor):
            return kind
    return "datetime"


def is_coordinate(col: Col) -> bool:
    return isa(col.get("semantic_type"), "type/Coordinate")


# --- Visualization settings: which user settings apply to a column.


def _parse_column_key(key: str) -> tuple[str, Any] | None:
    """`["ref",["field",12,null]]` -> ("id", 12); `["name","sum"]` -> ("name", "sum"); anything else None.

    Metabase keeps only the field id or column name of a key, so options inside the ref never matter."""
    try:
        parsed = orjson.loads(key)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, list) and len(parsed) == 2:
        kind, ref = parsed
        if kind == "name" and isinstance(ref, str):
            return ("name", ref)
        field_id = (
            ref[1]
            if kind == "ref" and isinstance(ref, list) and len(ref) >= 2 and ref[0] == "field"
            else None
        )
        if isinstance(field_id, int) and not isinstance(field_id, bool):
            return ("id", field_id)
    return None


def global_type_settings(col: Col) -> Settings:
    """Defaults Metabase derives from the column's type (`global-type-settings`)."""
    kind = col_type(col)
    if isa(kind, "type/Date"):
        return {"time_enabled": None}
    if isa(kind, "type/Time"):
        return {"time_style": "h:mm A", "date_style": ""}
    if isa(kind, "type/Currency"):
        return {"number_style": "currency"}
    return {}


class VizSettings:
    """A card's `visualization_settings`, indexed once for per-column lookups (`viz-settings-for-col`)."""

    def __init__(self, visualization_settings: Mapping[str, Any] | None) -> None:
        self._by_id: dict[int, Settings] = {}
        self._by_name: dict[str, Settings] = {}
        for key, settings in ((visualization_settings or {}).get("column_settings") or {}).items():
            parsed = _parse_column_key(key)
            if parsed is not None and isinstance(settings, Mapping):
                index = self._by_id if parsed[0] == "id" else self._by_name
                index[parsed[1]] = dict(settings)

    def user_settings(self, col: Col) -> Settings:
        """The settings set on this column in the card (⚙ in the table view)."""
        field_ref = col.get("field_ref")
        ref_type, ref_id = (
            (field_ref[0], field_ref[1]) if isinstance(field_ref, list) and field_ref else (None, None)
        )
        id_or_name = (
            (col.get("remapped_from") and col.get("fk_field_id"))
            or ref_id
            or col.get("id")
            or col.get("name")
        )
        by_id = self._by_id.get(id_or_name) if ref_type == "field" and isinstance(id_or_name, int) else None
        by_name = self._by_name.get(col.get("name")) or (
            self._by_name.get(id_or_name) if isinstance(id_or_name, str) else None
        )
        return {**(by_id or {}), **(by_name or {})}

    def for_col(self, col: Col) -> Settings:
        """Type defaults, then the column's metadata settings (models), then the card's settings."""
        return {**global_type_settings(col), **(col.get("settings") or {}), **self.user_settings(col)}

    def for_number(self, col: Col) -> Settings:
        """The merge the number formatter uses, where the type defaults win (`number-formatter`)."""
        return {**self.user_settings(col), **(col.get("settings") or {}), **global_type_settings(col)}


# --- Currencies (the subset of Metabase's `util/currency.cljc` we name; others fall back to their code).

_CURRENCIES: dict[str, tuple[str, str, int]] = {
    # code: (symbol, plural name, decimal digits)
    "USD": ("$", "US dollars", 2),
    "EUR": ("€", "euros", 2),
    "GBP": ("£", "British pounds sterling", 2),
    "JPY": ("¥", "Japanese yen", 0),
    "CAD": ("CA$", "Canadian dollars", 2),
    "AUD": ("AU$", "Australian dollars", 2),
    "CNY": ("CN¥", "Chinese yuan", 2),
    "INR": ("₹", "Indian rupees", 2),
    "BRL": ("R$", "Brazilian reals", 2),
    "MXN": ("MX$", "Mexican pesos", 2),
    "CHF": ("CHF", "Swiss francs", 2),
    "KRW": ("₩", "South Korean won", 0),
}


def currency_code(settings: Settings) -> str:
    return settings.get("currency") or "USD"


def currency_symbol(code: str) -> str:
    return _CURRENCIES[code][0] if code in _CURRENCIES else code


def currency_name(code: str) -> str:
    return _CURRENCIES[code][1] if code in _CURRENCIES else code


def currency_identifier(settings: Settings) -> str:
    """Symbol, code or plural name of the column's currency, per `currency_style` (default: symbol)."""
    code = currency_code(settings)
    style = settings.get("currency_style") or "symbol"
    if style == "code":
        return code
    if style == "name":
        return currency_name(code)
    return currency_symbol(code)


def column_titles(cols: Sequence[Col], viz: VizSettings, *, format_rows: bool) -> list[str]:
    """Header names: the card's `column_title` (only when formatting), else display name, else name; currency
    columns get " ($)" unless `currency_in_header` is false -- even unformatted (`column-titles`)."""
    titles = []
    for col in cols:
        settings = viz.for_col(col)
        custom = settings.get("column_title") if format_rows else None
        display = col.get("display_name")
        title = custom or (display if display is not None else col.get("name")) or ""
        currency = (
            isa(col.get("semantic_type"), "type/Currency") or settings.get("number_style") == "currency"
        )
        if currency and settings.get("currency_in_header", True):
            title = f"{title} ({currency_identifier(settings)})"
        titles.append(title)
    return titles


# --- Plain export values (`format-value` + Clojure's `str`).


def java_double_str(value: float) -> str:
    """`Double.toString`: plain between 10^-3 and 10^7, else computerized scientific ("1.0E7", "1.5E-4")."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    mantissa = str(digits[0]) + "." + ("".join(map(str, digits[1:])) or "0")
    return ("-" if sign else "") + mantissa + "E" + str(int(exponent) + len(digits) - 1)


def clj_str(value: Any) -> str:
    """How Clojure's `str` prints a row value into a CSV cell: nil -> "", true -> "true", doubles as Java."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
_OFFSET = r"Z|[+-]\d{2}(?::?\d{2})?"
_ISO_RE = re.compile(
    rf"(?P<date>\d{{4}}-\d{{2}}-\d{{2}})(?:[T ](?P<time>{_TIME})(?P<offset>{_OFFSET})?)?"
    rf"|(?P<clock>{_TIME})(?P<clock_offset>{_OFFSET})?"
)


def _split_iso(text: str) -> tuple[str | None, str | None, str | None] | None:
    """(date, time, offset) of an ISO-8601 date, date-time or time string; None if it is none of those."""
    match = _ISO_RE.fullmatch(text)
    if match is None:
        return None
    if match["clock"]:
        return None, match["clock"], match["clock_offset"]
    return match["date"], match["time"], match["offset"]


def unformatted(col: Col) -> Formatter:
    """The plain export form of a value (`format_rows` false), as `format-value` prints the JDBC object.

    The query processor hands over API strings (`2014-04-07T00:00:00Z`), but an unformatted export shows what
    the driver read: a DATE is `2014-04-07`; a TIMESTAMP without time zone is a local date-time without
    offset, a bare date at midnight (`2020-06-03`, Metabase #10803); zoned values keep their offset."""
    kind = temporal_kind(col)
    field_type = col.get("effective_type") or col.get("base_type")
    if kind == "date":
        return _date_part
    if kind == "datetime" and field_type == "type/DateTime":
        return _local_datetime
    return identity


def identity(value: Any) -> Any:
    return value


def _date_part(value: Any) -> Any:
    if isinstance(value, str) and (parts := _split_iso(value)) is not None and parts[0]:
        return parts[0]
    return value


# What the query processor hands over for a timestamp (`2024-05-15T08:04:04.58Z`): the common case,
# matched without the general ISO parser.
_API_DATETIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)Z")


def _local_datetime(value: Any) -> Any:
    if isinstance(value, str) and (match := _API_DATETIME.fullmatch(value)) is not None:
        date, time = match.groups()
        return date if time == "00:00:00" else f"{date}T{time}"
    if not isinstance(value, str) or (parts := _split_iso(value)) is None or not parts[0]:
        return value
    date, time, _offset = parts
    if time is None or re.fullmatch(r"00:00(?::00(?:\.0+)?)?", time):
        return date
    return f"{date}T{time if time.count(':') == 2 else time + ':00'}"


_API_DATETIME_NOT_MIDNIGHT = re.compile(r"\d{4}-\d\d-\d\dT(?!00:00:00Z)\d\d:\d\d:\d\d(?:\.\d+)?Z").fullmatch


def _local_datetime_column(values: Sequence[Any]) -> list[Any]:
    """`_local_datetime` for a whole column; the common case (API timestamps, none at midnight) in C-speed
    builtins: the `Z` cut off."""
    if set(map(type, values)) == {str} and all(map(_API_DATETIME_NOT_MIDNIGHT, values)):
        return list(map(operator.itemgetter(slice(None, -1)), values))
    return list(map(_local_datetime, values))


# Column-at-a-time versions of formatters.
_COLUMN_VERSIONS: dict[Formatter, Callable[[Sequence[Any]], list[Any]]] = {
    _local_datetime: _local_datetime_column
}


def format_column(formatter: Formatter, values: Sequence[Any]) -> list[Any]:
    """`formatter` over a column of values (the writers work a batch at a time), through its
    column-at-a-time version when it has one."""
    column_version = _COLUMN_VERSIONS.get(formatter)
    return column_version(values) if column_version is not None else list(map(formatter, values))


def formatted_columns(batch: Sequence[Sequence[Any]], formatters: Sequence[Formatter]) -> list[Any]:
    """A batch's columns, each through its formatter (`identity` leaves it as it is). Of a
    `FormattedBatch`, a column of plain naive ISO text (`naive_iso`) that is to be local text is that text
    already, but for midnight, shown as the date alone: no value is checked or copied again."""
    if isinstance(batch, FormattedBatch):
        naive_iso, column = batch.naive_iso, batch.column
    else:
        naive_iso, column = {}, columns_of(batch).__getitem__
    columns = []
    for index, formatter in enumerate(formatters):
        if formatter is _local_datetime and index in naive_iso:
            values: list[Any] = naive_iso[index]
            if any(map(str.endswith, values, itertools.repeat("T00:00:00"))):
                values = [value[:10] if value.endswith("T00:00:00") else value for value in values]
            columns.append(values)
            continue
        values = column(index)
        columns.append(values if formatter is identity else format_column(formatter, values))
    return columns


# --- Temporal values as the UI shows them (`formatter/datetime.clj`), via Java-style patterns.

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PATTERN_TOKEN = re.compile(r"'([^']*)'|([A-Za-z])\2*|[^A-Za-z']+")


def parse_temporal(text: str) -> dt.date | dt.datetime | dt.time | None:
    """An ISO-8601 date, date-time or time with its local fields (already in the report timezone)."""
    parts = _split_iso(text.strip())
    if parts is None:
        return None
    date, time, _offset = parts
    try:
        if time is not None:
            clock, _, fraction = time.partition(".")
            hour, minute, *rest = (int(p) for p in clock.split(":"))
            micros = int((fraction + "000000")[:6]) if fraction else 0
            t = dt.time(hour, minute, rest[0] if rest else 0, micros)
            if date is None:
                return t
            return dt.datetime.combine(dt.date.fromisoformat(date), t)
        return dt.date.fromisoformat(date) if date else None
    except ValueError:
        return None


def _date_field(letter: str, width: int) -> Callable[[Any], str]:
    """A renderer for one run of a date pattern letter; it raises AttributeError on a bare time."""
    if letter in "yY":
        if width == 2:
            return lambda v: f"{v.year % 100:02d}"
        return lambda v: f"{v.year:0{width}d}"
    if letter == "M":
        if width >= 4:
            return lambda v: _MONTHS[v.month - 1]
        if width == 3:
            return lambda v: _MONTHS[v.month - 1][:3]
        return lambda v: f"{v.month:0{width}d}"
    if letter == "d":
        return lambda v: f"{v.day:0{width}d}"
    if letter == "D":
        return lambda v: f"{v.timetuple().tm_yday:0{width}d}"
    if letter == "E":
        return lambda v: _WEEKDAYS[v.weekday()] if width >= 4 else _WEEKDAYS[v.weekday()][:3]
    if letter == "Q":
        if width == 3:
            return lambda v: f"Q{(v.month - 1) // 3 + 1}"
        return lambda v: f"{(v.month - 1) // 3 + 1:0{width}d}"
    return _clock_field(letter, width)


def _clock_field(letter: str, width: int) -> Callable[[Any], str]:
    if letter == "a":
        return lambda v: "AM" if v.hour < 12 else "PM"
    if letter == "S":
        return lambda v: f"{v.microsecond:06d}000"[:width]
    clock: dict[str, Callable[[Any], int]] = {
        "h": lambda v: v.hour % 12 or 12,
        "K": lambda v: v.hour % 12,
        "H": lambda v: v.hour,
        "k": lambda v: v.hour or 24,
        "m": lambda v: v.minute,
        "s": lambda v: v.second,
    }
    if letter not in clock:
        raise ValueError(f"unsupported pattern letter {letter}")
    field = clock[letter]
    return lambda v: f"{field(v):0{width}d}"


def compile_pattern(pattern: str) -> Callable[[dt.datetime | dt.time], str]:
    """A formatter like Java's `DateTimeFormatter.ofPattern(pattern)` in English (Metabase's default site
    locale), parsed once. It raises AttributeError when the pattern needs a date and gets a time."""
    parts: list[Callable[[Any], str]] = []
    for match in _PATTERN_TOKEN.finditer(pattern):
        literal, letter = match.group(1), match.group(2)
        if letter:
            parts.append(_date_field(letter, len(match.group(0))))
        else:
            text = (literal or "'") if literal is not None else match.group(0)
            parts.append(lambda _v, text=text: text)
    return lambda value: "".join([part(value) for part in parts])


def _fix_time_style(time_style: str | None, default: str) -> str:
    """Metabase writes AM/PM as Moment's `A`; Java wants `a`."""
    return (default if time_style is None else time_style).replace("A", "a")


def _time_format(settings: Settings) -> str | None:
    """`determine-time-format`: precision from `time_enabled` (present but None: no time), style from
    `time_style` (default "h:mm A")."""
    base = {"minutes": "mm", "seconds": "mm:ss", "milliseconds": "mm:ss.SSS"}.get(
        settings.get("time_enabled", "minutes")  # type: ignore[arg-type]
    )
    if base is None:
        return None
    style = settings.get("time_style", "h:mm A")
    if style == "HH:mm":
        return f"HH:{base}"
    if style == "k:mm":
        return "h" + base
    if style in ("h:mm A", "h:mm a"):
        return f"h:{base} a"
    return style


def _date_style(date_style: str, settings: Settings) -> str:
    """`post-process-date-style`: Moment-style day names, separators and abbreviations to Java letters."""
    style = date_style.replace("dddd", "EEEE")
    if settings.get("date_separator") is not None:
        style = style.replace("/", settings["date_separator"])
    if settings.get("date_abbreviate"):
        style = style.replace("MMMM", "MMM").replace("EEEE", "EEE").replace("DDD", "D")
    return style.replace("D", "d").replace("YYYY", "yyyy")


def _week_range(render: Callable[[dt.datetime | dt.time], str]) -> Callable[[dt.datetime], str]:
    return lambda value: f"{render(value)} - {render(value + dt.timedelta(days=6))}"


def temporal_patterns(col: Col, settings: Settings) -> Callable[[dt.datetime | dt.time], str]:
    """How one temporal column renders (`format-timestring`): by unit when it has one, else by column type.

    A column whose semantic type is not temporal (say `type/Category`) falls to the date-only default, as in
    Metabase, which dispatches on the semantic type first."""
    date_style: str | None = settings.get("date_style")
    time_style: str | None = settings.get("time_style")

    def date_or(default: str) -> str:
        return default if date_style is None else date_style

    unit = col.get("unit")
    key = unit if unit and unit != "default" else col_type(col)
    if key == "week":
        return _week_range(compile_pattern(_date_style(date_or("MMMM d, YYYY"), settings)))
    if key == "minute":
        pattern = _date_style(f"{date_or('MMMM, yyyy')}, {_fix_time_style(time_style, 'h:mm A')}", settings)
    elif key == "hour":
        pattern = _date_style(f"{date_or('MMMM d, yyyy')}, {_fix_time_style(time_style, 'h a')}", settings)
    elif key == "day":
        pattern = _date_style(date_or("EEEE, MMMM d, YYYY"), settings)
    elif key == "month":
        pattern = _date_style(date_or("MMMM, yyyy"), settings)
    elif key == "quarter":
        pattern = "QQQ - yyyy"
    elif key == "year":
        pattern = "YYYY"
    elif isa(key, "type/Time"):
        time_format = _time_format(settings)
        pattern = "" if time_format is None else _fix_time_style(time_format, "h:mm A")
    elif isa(key, "type/DateTime"):
        time_format = _time_format(settings)
        date_time = date_or("MMMM d, yyyy")
        if time_format is not None:
            date_time += ", " + _fix_time_style(time_format, "h:mm A")
        pattern = _date_style(date_time, settings)
    else:
        pattern = _date_style(date_or("MMMM d, yyyy"), settings)
    return compile_pattern(pattern)


def _temporal_formatter(col: Col, settings: Settings) -> Formatter:
    render = temporal_patterns(col, settings)

    def format_temporal(value: Any) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            return ""
        parsed = parse_temporal(value) if isinstance(value, str) else None
        if parsed is None:
            return clj_str(value)
        if not isinstance(parsed, (dt.datetime, dt.time)):
            parsed = dt.datetime.combine(parsed, dt.time())
        try:
            return render(parsed)
        except AttributeError:
            # A bare time shown with a date pattern: Metabase's fallback is the raw string.
            return clj_str(value)

    return format_temporal


# --- Numbers as the UI shows them (`formatter/impl.clj` `number-formatter`).

_CONTEXT = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_UP)
_TWENTY_PLACES = decimal.Decimal("1e-20")


def _fraction_digits(value: float | int) -> str:
    """The digits after the point of Java's `String.format("%.20f", value)`, trailing zeros dropped: Java
    prints the shortest round-trip digits (Python's `repr`), rounded half-up at 20 places."""
    if isinstance(value, int) or value == 0:
        return ""
    text = repr(value)
    if "e" not in text:
        fraction = text.partition(".")[2].rstrip("0")
        if len(fraction) <= 20:
            return fraction
    text = format(decimal.Decimal(text).quantize(_TWENTY_PLACES, context=_CONTEXT), "f")
    return text.partition(".")[2].rstrip("0")


@functools.cache
def _quantum(places: int) -> decimal.Decimal:
    return decimal.Decimal(1).scaleb(-places)


def format_decimal(value: float | int, places: int, decimal_sep: str, grouping_sep: str | None) -> str:
    """`java.text.DecimalFormat("#,##0.00")` with HALF_UP rounding of the exact binary value (JDK 8+)."""
    if isinstance(value, int):
        text = f"{value:,}" if grouping_sep else str(value)
        if places:
            text += "." + "0" * places
    else:
        rounded = decimal.Decimal(value).quantize(_quantum(places), context=_CONTEXT)
        text = f"{rounded:,f}" if grouping_sep else f"{rounded:f}"
    if decimal_sep != "." or grouping_sep not in (",", None):
        text = text.translate({ord(","): grouping_sep or "", ord("."): decimal_sep})
    return text


def _strip_trailing_zeros(text: str, decimal_sep: str) -> str:
    if decimal_sep not in text:
        return text
    return re.sub(re.escape(decimal_sep) + r"?0+$", "", text)


# java.text.DecimalFormat shows at most 340 fraction digits of a double, whatever it is asked for.
MAX_DECIMALS = 340


def decimal_places(settings: Settings) -> int | None:
    """The column's `decimals` setting as a number of places (0 to `MAX_DECIMALS`), None when unset or not a
    number (the column is then formatted as if it were unset, rather than failing the download)."""
    value = settings.get("decimals")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return min(max(int(value), 0), MAX_DECIMALS)


def _number_formatter(col: Col, settings: Settings) -> Formatter:
    number_style = settings.get("number_style")
    currency = number_style == "currency" or (
        number_style is None and bool(settings.get("currency_style") or settings.get("currency"))
    )
    code = currency_code(settings) if currency else None
    decimals = decimal_places(settings)
    scale = settings.get("scale")
    integral = isa(col.get("effective_type") or col.get("base_type"), "type/Integer") and (
        scale is None or (isinstance(scale, int) and not isinstance(scale, bool))
    )
    relation = isa(col.get("semantic_type"), "Relation/*")
    percent = isa(col.get("semantic_type"), "type/Percentage") or number_style == "percent"
    separators = settings.get("number_separators") or ".,"
    decimal_sep, grouping_sep = separators[0], (separators[1] if len(separators) > 1 else None)
    if relation:
        grouping_sep = None
    prefix, suffix = settings.get("prefix") or "", settings.get("suffix") or ""
    inline_currency = currency and settings.get("currency_in_header") is False
    currency_style = settings.get("currency_style")
    before = after = ""
    if inline_currency and code is not None:
        if currency_style in (None, "symbol"):
            before = currency_symbol(code)
        elif currency_style == "code":
            before = code + " "
        elif currency_style == "name":
            after = " " + currency_name(code)
    currency_places = _CURRENCIES[code][2] if code in _CURRENCIES else 2

    def format_number(value: Any) -> Any:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return value
        if isinstance(value, float) and not math.isfinite(value):
            return java_double_str(value)
        scaled = value * (scale if scale is not None else 1)
        if percent:
            scaled = scaled * 100
        if decimals is not None:
            places = decimals
        elif integral:
            places = 0
        elif currency:
            places = currency_places
        else:
            fraction = _fraction_digits(scaled)
            if percent or abs(scaled) >= 1:
                places = min(2, len(fraction))
            else:  # below 1: two significant digits
                figures = len(fraction.lstrip("0"))
                places = max(2, len(fraction) - (figures - 2)) if figures > 2 else len(fraction)
        text = format_decimal(scaled, places, decimal_sep, grouping_sep)
        if not currency and decimals is None:
            text = _strip_trailing_zeros(text, decimal_sep)
        return f"{prefix}{before}{text}{'%' if percent else ''}{after}{suffix}"

    return format_number


# --- Putting it together.


def format_coordinate(semantic_type: str | None, value: Any) -> str:
    """`34.09960000° N`: eight decimals (Java `%.8f`, half-up) and a hemisphere letter."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return clj_str(value)
    if isa(semantic_type, "type/Latitude"):
        direction = "S" if value < 0 else "N"
    elif isa(semantic_type, "type/Longitude"):
        direction = "W" if value < 0 else "E"
    else:
        return clj_str(value)
    magnitude = decimal.Decimal(repr(abs(float(value)))).quantize(decimal.Decimal("1e-8"), context=_CONTEXT)
    return f"{magnitude}° {direction}"


def _text(value: Any) -> str:
    return clj_str(value)


def _dictionary(value: Any) -> Any:
    """JSON columns print as JSON text (a missing value as `null`, as Metabase's encoder does)."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def cell_formatter(col: Col, viz: VizSettings, *, format_rows: bool) -> Formatter:
    """The per-column function from a row value to its export value (`create-formatter` after `format-value`).

    With `format_rows` the result is the display text (a str), except that a missing number stays None;
    without it, the plain value (numbers stay numbers)."""
    plain = unformatted(col)
    if format_rows and temporal_kind(col) is not None:
        return _temporal_formatter(col, viz.for_col(col))
    if format_rows and is_coordinate(col):
        return functools.partial(format_coordinate, col.get("semantic_type"))
    if format_rows and _field_type(col, "type/Number"):
        return _number_formatter(col, viz.for_number(col))
    if isa(col.get("semantic_type"), "type/SerializedJSON") or isa(
        col.get("effective_type") or col.get("base_type"), "type/Dictionary"
    ):
        return _dictionary
    return _text if format_rows else plain
