"""MBQL (normalized, see `mbql/normalize.py`) → a SQLAlchemy Core `Select`, and the metadata of each
output column.

One stage (an inner query) compiles at a time: its source (a table, or the previous stage as a
subquery), joins, expressions, filter, breakouts and aggregations, ordering and paging. Every value the
user gave becomes a bound parameter; identifiers are quoted by the dialect. Engine differences (date
bucketing, percentiles, NULL ordering, ...) come only from the driver's hooks (`drivers/sql.py`).

Metabase's preprocessing that changes answers is done here too, so every engine answers alike:
unbucketed date breakouts, and date filters against `yyyy-MM-dd` strings, are bucketed by day; `=`, `<`,
`between`... on a bucketed column compare whole buckets; `!=` and negated string filters keep NULL rows;
`is-empty` means NULL or "" only for text; NULLs sort first.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    FromClause,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TextualSelect

from querybase.drivers import types as t
from querybase.drivers.base import Feature
from querybase.drivers.sql import SESSION_TIMEZONE
from querybase.models.database import Field, Table
from querybase.query_processor import columns
from querybase.query_processor.context import QueryContext, zone_info
from querybase.query_processor.errors import InvalidQuery, UnsupportedFeature
from querybase.query_processor.mbql import temporal

Expr = ColumnElement[Any]

TRUNCATION_UNITS = frozenset(
    {"millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year"}
)
# Extraction units a ref may be bucketed by; expressions (`get-week`, `temporal-extract`) also have
# the ISO/US/instance week and ISO weekday variants.
EXTRACTION_UNITS = frozenset(
    {
        "second-of-minute",
        "minute-of-hour",
        "hour-of-day",
        "day-of-week",
        "day-of-month",
        "day-of-year",
        "week-of-year",
        "month-of-year",
        "quarter-of-year",
        "year-of-era",
    }
)
EXPRESSION_EXTRACTION_UNITS = EXTRACTION_UNITS | {
    "day-of-week-iso",
    "week-of-year-iso",
    "week-of-year-us",
    "week-of-year-instance",
}
# What Metabase buckets by day when no unit is given (times of day are not).
DATE_TYPES = frozenset({t.DATE, t.DATETIME, t.DATETIME_TZ})
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Metabase's `breakout-bins-num` and `breakout-bin-width` defaults, and its "nice" bin widths.
DEFAULT_NUM_BINS = 8
DEFAULT_COORDINATE_BIN_WIDTH = 10.0
PLEASING_WIDTHS = (1, 1.25, 2, 2.5, 3, 5, 7.5, 10)
JOIN_FEATURES = {
    "left-join": Feature.LEFT_JOIN,
    "right-join": Feature.RIGHT_JOIN,
    "inner-join": Feature.INNER_JOIN,
    "full-join": Feature.FULL_JOIN,
}


@dataclass
class OutputColumn:
    """One column a stage returns: its SQL label, its result name, and Metabase's metadata for it."""

    alias: str
    expr: Expr
    meta: dict[str, Any]
    # How an outer stage may refer to this column: field ids (with join alias) and names.
    field_id: int | None = None
    join_alias: str | None = None
    source_field: int | None = None
    temporal_unit: str | None = None


@dataclass
class CompiledStage:
    select: Select[Any]
    columns: list[OutputColumn]


@dataclass
class _Join:
    alias: str
    source: FromClause
    condition: Expr | None
    strategy: str
    table: Table | None = None
    stage: CompiledStage | None = None


@dataclass
class _Scope:
    """Resolves references inside one stage."""

    ctx: QueryContext
    source: FromClause
    table: Table | None
    inner: CompiledStage | None
    joins: dict[str, _Join] = field(default_factory=dict)
    implicit: dict[tuple[int, int], _Join] = field(default_factory=dict)
    expressions: dict[str, Expr] = field(default_factory=dict)
    expression_types: dict[str, str] = field(default_factory=dict)
    expression_zones: dict[str, str] = field(default_factory=dict)
    aggregations: list[Expr] = field(default_factory=list)


@dataclass(frozen=True)
class Binning:
    """A binning strategy resolved against the field's range, as Metabase reports it."""

    strategy: str
    min_value: float
    max_value: float
    num_bins: int
    bin_width: float

    def ref_options(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "min-value": self.min_value,
            "max-value": self.max_value,
            "num-bins": self.num_bins,
            "bin-width": self.bin_width,
        }

    def info(self) -> dict[str, Any]:
        return {
            "binning_strategy": self.strategy,
            "min_value": self.min_value,
            "max_value": self.max_value,
            "num_bins": self.num_bins,
            "bin_width": self.bin_width,
        }


def _sa_source(table: Table, alias: str | None = None) -> FromClause:
    source = sa_table(table.name, schema=table.schema or None)
    return source.alias(alias) if alias else source


def _column(source: FromClause, name: str) -> Expr:
    if name in source.c:
        return source.c[name]
    col = sa_column(name)
    col.table = source  # type: ignore[assignment]
    return col


def _opts(ref: list[Any]) -> dict[str, Any]:
    return ref[2] if len(ref) > 2 and isinstance(ref[2], dict) else {}


def _is_clause(value: Any, *names: str) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], str)
        and (not names or value[0] in names)
    )


def _require(scope: _Scope, feature: Feature) -> None:
    """Metabase's check-features: a clause the engine cannot run fails with its message."""
    if feature not in scope.ctx.driver.features:
        raise UnsupportedFeature(f"{feature.value} is not supported by this driver.")


# ---------------------------------------------------------------------------------------------------
# References


def _field_row(scope: _Scope, field_id: int) -> Field:
    """A field of the query's database (another database's field ids are unknown here)."""
    row = scope.ctx.metadata.field(field_id)
    table = scope.ctx.metadata.table(row.table_id) if row is not None else None
    if row is None or table is None or table.db_id != scope.ctx.database.id:
        raise InvalidQuery(f"Field {field_id} does not exist.")
    return row


def _implicit_join(scope: _Scope, fk_id: int, target_table_id: int) -> _Join:
    key = (fk_id, target_table_id)
    if key not in scope.implicit:
        fk = _field_row(scope, fk_id)
        if fk.fk_target_field_id is None:
            raise InvalidQuery(f"Field {fk.name} is not a foreign key; it cannot be used with source-field.")
        target_field = _field_row(scope, fk.fk_target_field_id)
        table = scope.ctx.metadata.table(target_field.table_id)
        assert table is not None
        alias = f"{table.name}__via__{fk.name}"
        source = _sa_source(table, alias)
        fk_expr = _resolve_field(scope, ["field", fk_id, None], bucket=False)
        scope.implicit[key] = _Join(
            alias, source, fk_expr == _column(source, target_field.name), "left-join", table
        )
    return scope.implicit[key]


def _join(scope: _Scope, alias: str) -> _Join:
    join = scope.joins.get(alias)
    if join is None:
        raise InvalidQuery(f"No join named {alias!r}.")
    return join


def _resolve_field(scope: _Scope, ref: list[Any], *, bucket: bool = True) -> Expr:
    """The SQL for a `["field", id-or-name, opts]` ref, with its temporal bucket or binning applied."""
    target, opts = ref[1], _opts(ref)
    join_alias, source_field = opts.get("join-alias"), opts.get("source-field")
    if isinstance(target, int) and not isinstance(target, bool):
        row = _field_row(scope, target)
        if join_alias is not None:
            join = _join(scope, join_alias)
            expr = _column_of(join.source, join.stage, row)
        elif source_field is not None:
            join = _implicit_join(scope, source_field, row.table_id)
            expr = _column(join.source, row.name)
        elif scope.table is not None and row.table_id == scope.table.id:
            expr = _column(scope.source, row.name)
        elif scope.inner is not None:
            expr = _column_of(scope.source, scope.inner, row)
        else:
            raise InvalidQuery(f"Field {row.name} ({target}) is not in the query's source table.")
    elif isinstance(target, str):
        if join_alias is not None:
            join = _join(scope, join_alias)
            expr = _named_column(scope, join.source, join.stage, join.table, target)
        else:
            expr = _named_column(scope, scope.source, scope.inner, scope.table, target)
    else:
        raise InvalidQuery(f"Invalid field reference: {ref!r}")
    if not bucket:
        return expr
    unit = opts.get("temporal-unit")
    if unit and unit != "default":
        return _bucket(scope, expr, _plain_type(scope, ref), unit)
    if opts.get("binning"):
        return _bin(scope, expr, _binning(scope, ref))
    return expr


def _column_of(source: FromClause, stage: CompiledStage | None, row: Field) -> Expr:
    if stage is None:
        return _column(source, row.name)
    for col in stage.columns:
        if col.field_id == row.id and col.join_alias is None and col.temporal_unit is None:
            return _column(source, col.alias)
    for col in stage.columns:
        if col.field_id == row.id:
            return _column(source, col.alias)
    raise InvalidQuery(f"Column {row.name!r} is not returned by the source query.")


def _named_column(
    scope: _Scope, source: FromClause, stage: CompiledStage | None, table: Table | None, name: str
) -> Expr:
    """A column named in a ref: one the source query returns, or a field of the table."""
    if stage is not None:
        for col in stage.columns:
            if name in (col.alias, col.meta["name"]):
                return _column(source, col.alias)
        raise InvalidQuery(f"Column {name!r} is not returned by the source query.")
    if table is not None and scope.ctx.metadata.table_field_by_name(table.id, name) is None:
        raise InvalidQuery(f"Column {name!r} does not exist in table {table.name!r}.")
    return _column(source, name)


def _inner_column(scope: _Scope, ref: list[Any]) -> OutputColumn | None:
    """The source query's column a name ref (without join alias) points at."""
    if scope.inner is None or not isinstance(ref[1], str) or _opts(ref).get("join-alias"):
        return None
    return next((c for c in scope.inner.columns if ref[1] in (c.alias, c.meta["name"])), None)


def _plain_type(scope: _Scope, ref: list[Any]) -> str:
    """The type of a field ref's column before any bucketing or binning."""
    if isinstance(ref[1], int):
        row = _field_row(scope, ref[1])
        return row.effective_type or row.base_type or t.UNKNOWN
    opts = _opts(ref)
    inner = _inner_column(scope, ref)
    if inner is not None and inner.meta.get("base_type"):
        return str(inner.meta.get("effective_type") or inner.meta["base_type"])
    if isinstance(ref[1], str) and scope.table is not None and not opts.get("join-alias"):
        row = scope.ctx.metadata.table_field_by_name(scope.table.id, ref[1])
        if row is not None:
            return row.effective_type or row.base_type or t.UNKNOWN
    return opts.get("effective-type") or opts.get("base-type") or t.UNKNOWN


def _bucket(scope: _Scope, expr: Expr, base_type: str, unit: str) -> Expr:
    if base_type not in t.TEMPORAL_TYPES:
        raise InvalidQuery(f"Temporal unit {unit!r} is only valid for date and time columns.")
    driver = scope.ctx.driver
    value = driver.temporal(expr, base_type)
    if unit in EXTRACTION_UNITS:
        return driver.extract(unit, value, scope.ctx.start_of_week)
    if unit not in TRUNCATION_UNITS:
        raise InvalidQuery(f"Invalid temporal unit: {unit}")
    if unit == "millisecond":
        return value
    truncated = driver.truncate(unit, value, scope.ctx.start_of_week)
    if base_type == t.DATE and unit in ("day", "week", "month", "quarter", "year"):
        return driver.as_date(truncated)
    return truncated


# ---------------------------------------------------------------------------------------------------
# Binning (Metabase's `binning` middleware: a "nice" width and bounds covering the fingerprinted range)


def _binning(scope: _Scope, ref: list[Any]) -> Binning:
    opts = _opts(ref)
    spec = opts.get("binning") or {}
    if isinstance(ref[1], int):
        row = _field_row(scope, ref[1])
        fingerprint, semantic = row.fingerprint, row.semantic_type
    else:
        inner = _inner_column(scope, ref)
        meta = inner.meta if inner is not None else {}
        fingerprint, semantic = meta.get("fingerprint"), meta.get("semantic_type")
    number = ((fingerprint or {}).get("type") or {}).get("type/Number") or {}
    low, high = number.get("min"), number.get("max")
    if low is None or high is None:
        raise InvalidQuery("Unable to bin Field without a min/max value (missing or incomplete fingerprint)")
    strategy = spec.get("strategy", "default")
    if strategy == "default":
        if semantic in (t.LATITUDE, t.LONGITUDE):
            strategy, spec = "bin-width", {"bin-width": DEFAULT_COORDINATE_BIN_WIDTH}
        else:
            strategy, spec = "num-bins", {"num-bins": DEFAULT_NUM_BINS}
    if strategy == "bin-width":
        width = spec.get("bin-width")
        if not isinstance(width, int | float) or isinstance(width, bool) or width <= 0:
            raise InvalidQuery(f"Invalid bin width: {width!r}")
        lo, hi = _nicer_bounds(float(low), float(high), float(width))
        return Binning("bin-width", lo, hi, max(math.ceil((hi - lo) / width), 1), float(width))
    if strategy != "num-bins":
        raise InvalidQuery(f"Invalid binning strategy: {strategy!r}")
    bins = spec.get("num-bins")
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise InvalidQuery(f"Invalid number of bins: {bins!r}")
    state: tuple[float, float, float] = (float(low), float(high), 0.0)
    for _ in range(10):  # Metabase iterates to a fixed point, at most ten times
        width = _nicer_width(state[0], state[1], bins)
        following = (*_nicer_bounds(state[0], state[1], width), width)
        if following == state:
            break
        state = following
    return Binning("num-bins", state[0], state[1], bins, state[2])


def _nicer_width(low: float, high: float, bins: int) -> float:
    raw = round((high - low) / bins, 5)
    if raw <= 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(raw))
    return next(p * scale for p in PLEASING_WIDTHS if p * scale >= raw)


def _nicer_bounds(low: float, high: float, width: float) -> tuple[float, float]:
    return math.floor(low / width) * width, math.ceil(high / width) * width


def _bin(scope: _Scope, expr: Expr, binning: Binning) -> Expr:
    """floor((x - min) / width) * width + min, in doubles (widths and bounds are numbers we computed)."""
    driver = scope.ctx.driver
    width, low = literal_column(repr(binning.bin_width)), literal_column(repr(binning.min_value))
    return driver.floor((driver.to_float(expr) - low) / width) * width + low


# ---------------------------------------------------------------------------------------------------
# Values and temporal literals


def _temporal_base(scope: _Scope, ref: Any) -> str | None:
    """The temporal type of a ref whose values are instants (not extracted numbers), if it has one."""
    if not _is_clause(ref, "field"):
        return None
    if _opts(ref).get("temporal-unit") in EXTRACTION_UNITS:
        return None
    base = _plain_type(scope, ref)
    return base if base in t.TEMPORAL_TYPES else None


def _now(scope: _Scope) -> dt.datetime:
    """`now` on the results timezone's wall clock, as the session runs in that zone."""
    return scope.ctx.local_now()


def _instant(scope: _Scope, value: Any) -> dt.datetime | None:
    """A literal date/datetime (`"2024-03-01"`, `absolute-datetime`, `relative-datetime`) as a naive
    datetime of the results timezone; None for anything else."""
    if isinstance(value, str):
        return temporal.parse_datetime(value, scope.ctx.zone)
    if _is_clause(value, "absolute-datetime") and len(value) > 1 and isinstance(value[1], str):
        return temporal.parse_datetime(value[1], scope.ctx.zone)
    if _is_clause(value, "relative-datetime") and len(value) > 1:
        amount, unit = value[1], value[2] if len(value) > 2 else "day"
        if amount in ("current", 0):
            return _now(scope)
        if not isinstance(amount, int) or unit not in TRUNCATION_UNITS:
            raise InvalidQuery(f"Invalid relative-datetime: {value!r}")
        return temporal.add(_now(scope), amount, unit)
    return None


def _temporal_literal(scope: _Scope, instant: dt.datetime, base: str) -> Expr:
    return literal(scope.ctx.driver.temporal_literal(instant, base))


def _value(scope: _Scope, value: Any, like: Any = None) -> Expr:
    """A literal as a bound parameter (a temporal literal when compared with a temporal column)."""
    base = _temporal_base(scope, like) if like is not None else None
    if _is_clause(value, "absolute-datetime", "relative-datetime"):
        instant = _instant(scope, value)
        assert instant is not None
        return _temporal_literal(scope, instant, base or t.DATETIME)
    if _is_clause(value):
        return compile_expression(scope, value)
    if base is not None and isinstance(value, str):
        parsed = temporal.parse_datetime(value, scope.ctx.zone)
        if parsed is not None:
            return _temporal_literal(scope, parsed, base)
    if like is not None and isinstance(value, str):
        value = _parse_filter_value(value, _base_type_of(scope, like))
    if isinstance(value, bool):
        return true() if value else false()
    if isinstance(value, dict | list):
        raise InvalidQuery(f"Invalid value: {value!r}")
    return literal(value)


def _parse_filter_value(value: str, base_type: str) -> Any:
    """A string compared with a number or boolean column as that type (Metabase's
    auto-parse-filter-values), so every engine compares the same values; text that is not one fails."""
    parsers: dict[str, Any] = {
        t.INTEGER: int,
        t.BIG_INTEGER: int,
        t.FLOAT: float,
        t.DECIMAL: decimal.Decimal,
        t.BOOLEAN: lambda text: text.strip().lower() == "true",
    }
    parse = parsers.get(base_type)
    if parse is None:
        return value
    try:
        return parse(value)
    except (ValueError, decimal.InvalidOperation):
        raise InvalidQuery(
            f"Error filtering against :{base_type} Field: unable to parse String {json.dumps(value)} "
            f"to a :{base_type}"
        ) from None


def _compare_operand(scope: _Scope, ref: Any) -> Expr:
    expr = compile_expression(scope, ref)
    base = _temporal_base(scope, ref)
    if base is not None and not _opts(ref).get("temporal-unit"):
        return scope.ctx.driver.temporal(expr, base)
    return expr


def _raw_temporal(scope: _Scope, ref: list[Any]) -> tuple[Expr, str]:
    """A temporal field ref without its bucket, as the engine compares instants; and its type."""
    base = _temporal_base(scope, ref) or t.DATETIME
    options = {k: v for k, v in _opts(ref).items() if k != "temporal-unit"}
    plain = ["field", ref[1], options or None]
    return scope.ctx.driver.temporal(compile_expression(scope, plain), base), base


def _bucket_of(scope: _Scope, ref: Any, value: Any) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) of the bucket `value` falls in, when `ref` is a temporal column bucketed by a
    truncation unit and `value` a date literal: comparisons then cover whole buckets."""
    if not _is_clause(ref, "field"):
        return None
    unit = _opts(ref).get("temporal-unit")
    if unit not in TRUNCATION_UNITS or _temporal_base(scope, ref) is None:
        return None
    instant = _instant(scope, value)
    if instant is None:
        return None
    start = temporal.truncate(instant, unit, scope.ctx.start_of_week)
    return start, temporal.add(start, 1, unit)


def _within(scope: _Scope, ref: list[Any], start: dt.datetime | None, end: dt.datetime | None) -> Expr:
    """`start <= ref < end` on the raw instants (either bound may be open)."""
    expr, base = _raw_temporal(scope, ref)
    parts = []
    if start is not None:
        parts.append(expr >= _temporal_literal(scope, start, base))
    if end is not None:
        parts.append(expr < _temporal_literal(scope, end, base))
    return and_(*parts)


# ---------------------------------------------------------------------------------------------------
# Expressions


def compile_expression(scope: _Scope, clause: Any) -> Expr:
    """Any MBQL expression: refs, literals, arithmetic, functions, and boolean filter clauses."""
    if not isinstance(clause, list):
        return _value(scope, clause)
    if not clause or not isinstance(clause[0], str):
        raise InvalidQuery(f"Invalid expression: {clause!r}")
    name, args = clause[0], clause[1:]
    if name == "field":
        return _resolve_field(scope, clause)
    if name == "expression":
        if not args or args[0] not in scope.expressions:
            raise InvalidQuery(f"No expression named {args[0] if args else None!r}.")
        return scope.expressions[args[0]]
    if name == "aggregation":
        index = args[0] if args else None
        if not isinstance(index, int) or not 0 <= index < len(scope.aggregations):
            raise InvalidQuery(f"No aggregation at index {index!r}.")
        return scope.aggregations[index]
    if name == "value":
        return _value(scope, args[0])
    if name in ("absolute-datetime", "relative-datetime"):
        return _value(scope, clause)
    if name in FILTERS:
        return compile_filter(scope, clause)
    if name in ("+", "-", "*"):
        exprs = [compile_expression(scope, a) for a in args]
        result = exprs[0]
        for other in exprs[1:]:
            result = result + other if name == "+" else result - other if name == "-" else result * other
        return result
    if name == "/":
        driver = scope.ctx.driver
        exprs = [compile_expression(scope, a) for a in args]
        result = driver.to_float(exprs[0])
        for other in exprs[1:]:
            result = result / func.nullif(other, literal_column("0"))
        return result
    if name in ("case", "if"):
        return _case(scope, args)
    function = FUNCTIONS.get(name)
    if function is None:
        raise UnsupportedFeature(f"Unsupported expression: {name}")
    return function(scope, args)


def _case(scope: _Scope, args: list[Any]) -> Expr:
    if not args or not isinstance(args[0], list) or not args[0]:
        raise InvalidQuery("case needs at least one [condition, value] pair.")
    branches = [(compile_filter(scope, pred), compile_expression(scope, val)) for pred, val in args[0]]
    default = (args[1] or {}).get("default") if len(args) > 1 and isinstance(args[1], dict) else None
    return case(*branches, else_=compile_expression(scope, default) if default is not None else null())


def _fn(sql_name: str, feature: Feature | None = None) -> Any:
    def compile_fn(scope: _Scope, args: list[Any]) -> Expr:
        if feature is not None:
            _require(scope, feature)
        return getattr(func, sql_name)(*[compile_expression(scope, a) for a in args])

    return compile_fn


def _concat(scope: _Scope, args: list[Any]) -> Expr:
    exprs = [compile_expression(scope, a) for a in args]
    result = exprs[0]
    for other in exprs[1:]:
        result = result.concat(other)
    return result


def _temporal_arg(scope: _Scope, arg: Any) -> Expr:
    """A temporal function's argument: a column or expression as the engine compares instants, or a literal
    (`"2024-03-01T10:00:00"`, `absolute-datetime`...) as a bound datetime of the results timezone."""
    if isinstance(arg, str) or _is_clause(arg, "absolute-datetime", "relative-datetime"):
        instant = _instant(scope, arg)
        if instant is None:
            raise InvalidQuery(f"Invalid date or datetime: {arg!r}")
        return _temporal_literal(scope, instant, t.DATETIME)
    base = _temporal_base(scope, arg) or t.DATETIME
    return scope.ctx.driver.temporal(compile_expression(scope, arg), base)


def _extraction(unit: str, modes: dict[str, str] | None = None) -> Any:
    """`get-year`, `get-week [t, mode]`...: an extraction unit, chosen by the optional mode."""

    def compile_fn(scope: _Scope, args: list[Any]) -> Expr:
        chosen = unit
        if modes is not None and len(args) > 1:
            if args[1] not in modes:
                raise InvalidQuery(f"Invalid mode: {args[1]!r}")
            chosen = modes[args[1]]
        return scope.ctx.driver.extract(chosen, _temporal_arg(scope, args[0]), scope.ctx.start_of_week)

    return compile_fn


def _temporal_extract(scope: _Scope, args: list[Any]) -> Expr:
    """`["temporal-extract", t, "week-of-year-iso"]`: any of Metabase's extraction units."""
    if len(args) < 2 or args[1] not in EXPRESSION_EXTRACTION_UNITS:
        raise InvalidQuery(f"Invalid temporal-extract unit: {args[1] if len(args) > 1 else None!r}")
    return scope.ctx.driver.extract(args[1], _temporal_arg(scope, args[0]), scope.ctx.start_of_week)


INTERVAL_UNITS = frozenset(
    {"year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond"}
)


def _datetime_add(sign: int) -> Any:
    """`["datetime-add", t, amount, unit]` (and `datetime-subtract`): the amount is bound, never inlined."""

    def compile_fn(scope: _Scope, args: list[Any]) -> Expr:
        if len(args) != 3 or args[2] not in INTERVAL_UNITS:
            raise InvalidQuery(f"Invalid interval unit: {args[2] if len(args) > 2 else None!r}")
        amount = args[1]
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise InvalidQuery(f"The amount to add must be a whole number, not {amount!r}.")
        return scope.ctx.driver.add_interval(_temporal_arg(scope, args[0]), sign * amount, args[2])

    return compile_fn


def _now_expression(scope: _Scope, args: list[Any]) -> Expr:
    return _temporal_literal(scope, _now(scope), t.DATETIME)


DIFF_SECONDS = {"hour": 3600, "minute": 60, "second": 1}
DIFF_MONTHS = {"year": 12, "quarter": 3, "month": 1}


def _datetime_diff(scope: _Scope, args: list[Any]) -> Expr:
    """`["datetime-diff", a, b, unit]`: whole units from a to b, negative when b is earlier, as Metabase
    counts them on every engine. Hours, minutes and seconds count elapsed time; days and weeks count
    calendar days; months, quarters and years count calendar months, the day of the month deciding whether
    the last one is whole (Jan 31 to Feb 28 is 0 months, as java.time counts). Times are those of the
    results timezone."""
    _require(scope, Feature.DATETIME_DIFF)
    unit = args[2] if len(args) == 3 else None
    if unit not in (*DIFF_SECONDS, "day", "week", *DIFF_MONTHS):
        raise InvalidQuery(f"Invalid datetime-diff unit: {unit!r}")
    driver = scope.ctx.driver
    start, end = _temporal_arg(scope, args[0]), _temporal_arg(scope, args[1])
    if unit in DIFF_SECONDS:
        seconds = driver.seconds_between(start, end)
        per = DIFF_SECONDS[unit]
        return driver.truncate_number(seconds / literal_column(str(per)) if per > 1 else seconds)
    if unit in ("day", "week"):
        days = driver.days_between(start, end)
        return days if unit == "day" else _divided(scope, days, 7)
    # A date as one number that orders by month first, then by day: their difference divided by 32 and
    # rounded toward zero counts the whole months between the two dates, either way round.
    packed = [
        (driver.date_part("year", e) * literal_column("12") + driver.date_part("month", e))
        * literal_column("32")
        + driver.date_part("day", e)
        for e in (start, end)
    ]
    months = _divided(scope, packed[1] - packed[0], 32)
    return months if unit == "month" else _divided(scope, months, DIFF_MONTHS[unit])


def _divided(scope: _Scope, expr: Expr, divisor: int) -> Expr:
    """An integer divided by `divisor`, rounded toward zero (engines round integer division differently)."""
    driver = scope.ctx.driver
    return driver.truncate_number(driver.to_float(expr) / literal_column(str(divisor)))


def _convert_timezone(scope: _Scope, args: list[Any]) -> Expr:
    """`["convert-timezone", t, target, source?]`: the wall-clock time in `target`. A zoned value (a
    timestamptz column, a literal with an offset) takes no source; a naive one needs it."""
    _require(scope, Feature.CONVERT_TIMEZONE)
    ctx = scope.ctx
    if not ctx.driver.named_timezones(ctx.database.id, dict(ctx.database.details or {})):
        raise UnsupportedFeature(f"{Feature.CONVERT_TIMEZONE.value} is not supported by this driver.")
    if len(args) not in (2, 3):
        raise InvalidQuery("convert-timezone needs a datetime, a target time zone and maybe a source one.")
    target, source = args[1], args[2] if len(args) > 2 else None
    for zone in (target, source):
        if zone is not None and (not isinstance(zone, str) or zone_info(zone) is None):
            raise InvalidQuery(f"Invalid time zone: {zone!r}")
    if _has_timezone(scope, args[0]) and source is not None:
        raise InvalidQuery(
            "input column already has a set timezone. Please remove the source parameter in convertTimezone."
        )
    if not _has_timezone(scope, args[0]) and source is None:
        raise InvalidQuery(
            "input column doesn't have a set timezone. Please set the source parameter in convertTimezone "
            "to convert it."
        )
    if isinstance(args[0], str) and source is None:
        # A literal with an offset is bound as the results timezone's wall-clock time.
        source = ctx.results_timezone
    return ctx.driver.convert_timezone(_temporal_arg(scope, args[0]), target, source, ctx.results_timezone)


def _has_timezone(scope: _Scope, clause: Any) -> bool:
    """Whether a temporal value is zoned: a timestamptz column, or a literal with an offset."""
    if isinstance(clause, str):
        try:
            return dt.datetime.fromisoformat(clause.replace("Z", "+00:00")).tzinfo is not None
        except ValueError:
            return False
    return _base_type_of(scope, clause) in ZONED_TYPES


ZONED_TYPES = frozenset({t.DATETIME_TZ})


def _converted_timezone(scope: _Scope, clause: Any) -> str | None:
    """The zone a `convert-timezone` result (or a datetime moved from one) is a wall-clock time in: its
    values are shown with that zone's offset (Metabase's `converted_timezone`)."""
    if _is_clause(clause, "convert-timezone") and len(clause) > 2:
        return clause[2] if isinstance(clause[2], str) else None
    if _is_clause(clause, "datetime-add", "datetime-subtract") and len(clause) > 1:
        return _converted_timezone(scope, clause[1])
    if _is_clause(clause, "expression") and len(clause) > 1:
        return scope.expression_zones.get(clause[1])
    if _is_clause(clause, "field"):
        inner = _inner_column(scope, clause)
        return inner.meta.get("converted_timezone") if inner is not None else None
    return None


def _regex_match_first(scope: _Scope, args: list[Any]) -> Expr:
    _require(scope, Feature.REGEX)
    if len(args) < 2 or not isinstance(args[1], str):
        raise InvalidQuery("regex-match-first needs a text and a pattern.")
    return scope.ctx.driver.regex_match_first(compile_expression(scope, args[0]), args[1])


FUNCTIONS: dict[str, Any] = {
    "coalesce": _fn("coalesce"),
    "abs": _fn("abs"),
    "ceil": _fn("ceil"),
    "floor": lambda scope, args: scope.ctx.driver.floor(compile_expression(scope, args[0])),
    "round": _fn("round"),
    "power": _fn("power", Feature.ADVANCED_MATH),
    "sqrt": _fn("sqrt", Feature.ADVANCED_MATH),
    "exp": _fn("exp", Feature.ADVANCED_MATH),
    # Metabase's `log` is the base-10 logarithm.
    "log": _fn("log10", Feature.ADVANCED_MATH),
    "lower": _fn("lower"),
    "upper": _fn("upper"),
    "trim": _fn("trim"),
    "ltrim": _fn("ltrim"),
    "rtrim": _fn("rtrim"),
    "length": lambda scope, args: scope.ctx.driver.text_length(compile_expression(scope, args[0])),
    "replace": _fn("replace"),
    "substring": _fn("substr"),
    "concat": _concat,
    "regex-match-first": _regex_match_first,
    "get-year": _extraction("year-of-era"),
    "get-quarter": _extraction("quarter-of-year"),
    "get-month": _extraction("month-of-year"),
    "get-week": _extraction(
        "week-of-year-iso",
        {"iso": "week-of-year-iso", "us": "week-of-year-us", "instance": "week-of-year-instance"},
    ),
    "get-day": _extraction("day-of-month"),
    "get-day-of-week": _extraction("day-of-week", {"iso": "day-of-week-iso"}),
    "get-hour": _extraction("hour-of-day"),
    "get-minute": _extraction("minute-of-hour"),
    "get-second": _extraction("second-of-minute"),
    "temporal-extract": _temporal_extract,
    "datetime-add": _datetime_add(1),
    "datetime-subtract": _datetime_add(-1),
    "datetime-diff": _datetime_diff,
    "convert-timezone": _convert_timezone,
    "now": _now_expression,
}


# ---------------------------------------------------------------------------------------------------
# Filters


def _keeps_nulls(ref: Any) -> bool:
    """Metabase's `correct-null-behaviour`: negations of a column's test also match its NULLs."""
    return _is_clause(ref, "field", "expression")


def _negate(scope: _Scope, ref: Any, condition: Expr) -> Expr:
    if _keeps_nulls(ref):
        return or_(not_(condition), compile_expression(scope, ref).is_(None))
    return not_(condition)


def _equals(scope: _Scope, ref: Any, value: Any) -> Expr:
    if value is None:
        return compile_expression(scope, ref).is_(None)
    bounds = _bucket_of(scope, ref, value)
    if bounds is not None:
        return _within(scope, ref, *bounds)
    return _compare_operand(scope, ref) == _value(scope, value, ref)


def _equality(scope: _Scope, clause: list[Any]) -> Expr:
    """`=` with several values matches any; `!=` matches none (and NULLs, unless it is `!= nil`)."""
    name, ref, *values = clause
    if not values:
        raise InvalidQuery(f"{name} needs a value to compare with.")
    parts = [_equals(scope, ref, v) for v in values]
    if name in ("=", "in"):
        return or_(*parts) if len(parts) > 1 else parts[0]
    negated = [not_(p) if v is None else _negate(scope, ref, p) for v, p in zip(values, parts, strict=True)]
    return and_(*negated) if len(negated) > 1 else negated[0]


def _compare(scope: _Scope, clause: list[Any]) -> Expr:
    name, left, right = clause[0], clause[1], clause[2]
    bounds = _bucket_of(scope, left, right)
    if bounds is not None:
        start, end = bounds
        low, high = {"<": (None, start), "<=": (None, end), ">": (end, None), ">=": (start, None)}[name]
        return _within(scope, left, low, high)
    a = _compare_operand(scope, left)
    b = _compare_operand(scope, right) if _is_clause(right, "field") else _value(scope, right, left)
    return _COMPARISONS[name](a, b)


_COMPARISONS = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def _between(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, low, high = clause[:4]
    low_bucket, high_bucket = _bucket_of(scope, ref, low), _bucket_of(scope, ref, high)
    if low_bucket is not None and high_bucket is not None:
        return _within(scope, ref, low_bucket[0], high_bucket[1])
    expr = _compare_operand(scope, ref)
    return and_(expr >= _value(scope, low, ref), expr <= _value(scope, high, ref))


def _string_filter(scope: _Scope, clause: list[Any]) -> Expr:
    """`contains`... with one or more strings (any may match); `does-not-contain` matches none."""
    name, ref, *rest = clause
    options = rest[-1] if rest and isinstance(rest[-1], dict) else {}
    values = [v for v in rest if not isinstance(v, dict)]
    if not values or not all(isinstance(v, str) for v in values):
        raise InvalidQuery(f"{name} needs one or more strings to look for.")
    case_sensitive = options.get("case-sensitive", True) is not False
    expr = compile_expression(scope, ref)
    kind = "contains" if name == "does-not-contain" else name
    parts = [
        scope.ctx.driver.string_match(kind, expr, value, case_sensitive=case_sensitive) for value in values
    ]
    if name == "does-not-contain":
        negated = [_negate(scope, ref, p) for p in parts]
        return and_(*negated) if len(negated) > 1 else negated[0]
    return or_(*parts) if len(parts) > 1 else parts[0]


def _not(scope: _Scope, clause: list[Any]) -> Expr:
    inner = clause[1]
    condition = compile_filter(scope, inner)
    if _is_clause(inner, "contains", "starts-with", "ends-with") and len(inner) > 1:
        return _negate(scope, inner[1], condition)
    return not_(condition)


def _is_empty(scope: _Scope, clause: list[Any]) -> Expr:
    """NULL or "" for text; just NULL for other types (comparing a number with "" is an error)."""
    ref = clause[1]
    expr = compile_expression(scope, ref)
    if _base_type_of(scope, ref) == t.TEXT:
        empty = or_(expr.is_(None), expr == literal(""))
    else:
        empty = expr.is_(None)
    return empty if clause[0] == "is-empty" else not_(empty)


def _time_interval(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, amount, unit, *rest = clause
    options = rest[0] if rest and isinstance(rest[0], dict) else {}
    if unit not in TRUNCATION_UNITS:
        raise InvalidQuery(f"Invalid time-interval unit: {unit!r}")
    try:
        start, end = temporal.interval_bounds(
            _now(scope),
            amount,
            unit,
            include_current=bool(options.get("include-current")),
            start_of_week=scope.ctx.start_of_week,
        )
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from exc
    return _within(scope, ref, start, end)


def _relative_time_interval(scope: _Scope, clause: list[Any]) -> Expr:
    """The last/next `amount` units, moved by the offset (Metabase adds the offset after truncating)."""
    _, ref, amount, unit, offset, offset_unit = clause[:6]
    if unit not in TRUNCATION_UNITS or offset_unit not in TRUNCATION_UNITS or not isinstance(offset, int):
        raise InvalidQuery(f"Invalid relative-time-interval: {clause!r}")
    start, end = temporal.interval_bounds(
        _now(scope), amount, unit, include_current=False, start_of_week=scope.ctx.start_of_week
    )
    shift = lambda instant: temporal.add(instant, offset, offset_unit)  # noqa: E731
    return _within(scope, ref, shift(start), shift(end))


def _during(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, value, unit = clause[:4]
    start = _instant(scope, value)
    if start is None or unit not in TRUNCATION_UNITS:
        raise InvalidQuery(f"Invalid during filter: {clause!r}")
    return _within(scope, ref, start, temporal.add(start, 1, unit))


def _inside(scope: _Scope, clause: list[Any]) -> Expr:
    _, lat, lon, north, east, south, west = clause[:7]
    lat_expr, lon_expr = compile_expression(scope, lat), compile_expression(scope, lon)
    return and_(
        lat_expr.between(literal(south), literal(north)), lon_expr.between(literal(west), literal(east))
    )


def _segment(scope: _Scope, clause: list[Any]) -> Expr:
    raise UnsupportedFeature("Segments are not supported yet.")


FILTERS: dict[str, Any] = {
    "and": lambda scope, c: and_(*[compile_filter(scope, f) for f in c[1:]]),
    "or": lambda scope, c: or_(*[compile_filter(scope, f) for f in c[1:]]),
    "not": _not,
    "=": _equality,
    "!=": _equality,
    "in": _equality,
    "not-in": _equality,
    "<": _compare,
    ">": _compare,
    "<=": _compare,
    ">=": _compare,
    "between": _between,
    "is-null": lambda scope, c: compile_expression(scope, c[1]).is_(None),
    "not-null": lambda scope, c: compile_expression(scope, c[1]).is_not(None),
    "is-empty": _is_empty,
    "not-empty": _is_empty,
    "contains": _string_filter,
    "does-not-contain": _string_filter,
    "starts-with": _string_filter,
    "ends-with": _string_filter,
    "time-interval": _time_interval,
    "relative-time-interval": _relative_time_interval,
    "during": _during,
    "inside": _inside,
    "segment": _segment,
}


def compile_filter(scope: _Scope, clause: Any) -> Expr:
    if _is_clause(clause) and clause[0] in FILTERS:
        if len(clause) < 2:
            raise InvalidQuery(f"Invalid filter: {clause!r}")
        return FILTERS[clause[0]](scope, clause)
    return compile_expression(scope, clause)


# ---------------------------------------------------------------------------------------------------
# Metabase's auto-bucketing of dates


def _with_day(ref: list[Any]) -> list[Any]:
    return ["field", ref[1], {**_opts(ref), "temporal-unit": "day"}]


def _needs_day(scope: _Scope, ref: Any) -> bool:
    """An unbucketed, unbinned date or datetime field (not one the source query already bucketed)."""
    if not _is_clause(ref, "field") or len(ref) < 2:
        return False
    opts = _opts(ref)
    if opts.get("temporal-unit") or opts.get("binning"):
        return False
    inner = _inner_column(scope, ref)
    if inner is not None and inner.temporal_unit is not None:
        return False
    return _plain_type(scope, ref) in DATE_TYPES


def _date_only(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_DATE_ONLY.match(value))
    return _is_clause(value, "relative-datetime")


def _auto_bucket_filter(scope: _Scope, clause: Any) -> Any:
    if _is_clause(clause, "and", "or", "not"):
        return [clause[0], *[_auto_bucket_filter(scope, c) for c in clause[1:]]]
    if (
        _is_clause(clause, "=", "!=", "<", ">", "<=", ">=", "between")
        and len(clause) > 2
        and _needs_day(scope, clause[1])
        and all(_date_only(v) for v in clause[2:])
    ):
        return [clause[0], _with_day(clause[1]), *clause[2:]]
    return clause


def _auto_bucket(scope: _Scope, query: dict[str, Any]) -> dict[str, Any]:
    """Breakouts on a bare date column group by day, and so do filters comparing one with `yyyy-MM-dd`
    strings (Metabase's auto-bucket-datetimes); an order-by on such a breakout follows it."""
    result = dict(query)
    breakouts = query.get("breakout") or []
    bucketed = [_with_day(ref) if _needs_day(scope, ref) else ref for ref in breakouts]
    if bucketed != breakouts:
        result["breakout"] = bucketed
        result["order-by"] = [
            [direction, bucketed[breakouts.index(ref)] if ref in breakouts else ref]
            for direction, ref in query.get("order-by") or []
        ]
    if query.get("filter"):
        result["filter"] = _auto_bucket_filter(scope, query["filter"])
    return result


# ---------------------------------------------------------------------------------------------------
# Aggregations


def _count_where(scope: _Scope, pred: Any) -> Expr:
    return func.sum(case((compile_filter(scope, pred), literal_column("1")), else_=literal_column("0")))


def _aggregation_name(clause: list[Any]) -> str:
    return clause[1][0] if clause[0] == "aggregation-options" and _is_clause(clause[1]) else clause[0]


def compile_aggregation(scope: _Scope, clause: list[Any]) -> Expr:
    name, args = clause[0], clause[1:]
    if name == "aggregation-options":
        return compile_aggregation(scope, args[0])
    driver = scope.ctx.driver
    arg = lambda i=0: compile_expression(scope, args[i])  # noqa: E731 - compiled only when the clause has it
    if name in ("count", "cum-count"):
        return func.count(arg()) if args else func.count()
    if name in ("sum", "cum-sum"):
        return func.sum(arg())
    if name == "avg":
        return func.avg(arg())
    if name == "min":
        return func.min(arg())
    if name == "max":
        return func.max(arg())
    if name == "distinct":
        return func.count(arg().distinct())
    if name in ("stddev", "var"):
        _require(scope, Feature.STANDARD_DEVIATION)
        return driver.stddev(arg()) if name == "stddev" else driver.variance(arg())
    if name in ("median", "percentile"):
        _require(scope, Feature.PERCENTILE)
        if name == "median":
            return driver.median(arg())
        p = args[1] if len(args) > 1 else None
        if not isinstance(p, int | float) or isinstance(p, bool) or not 0 <= p <= 1:
            raise InvalidQuery(f"Invalid percentile: {p!r} (it must be a number between 0 and 1).")
        return driver.percentile(arg(), float(p))
    if name == "count-where":
        return _count_where(scope, args[0])
    if name == "sum-where":
        return func.sum(case((compile_filter(scope, args[1]), arg()), else_=literal_column("0")))
    if name == "distinct-where":
        return func.count(case((compile_filter(scope, args[1]), arg()), else_=null()).distinct())
    if name == "share":
        return driver.to_float(_count_where(scope, args[0])) / func.count()
    if name == "metric":
        raise UnsupportedFeature("Metrics are not supported yet.")
    if name in ("+", "-", "*", "/"):
        # Arithmetic over aggregations, such as ["/", ["sum", x], ["count"]].
        parts = [compile_aggregation(scope, a) if isinstance(a, list) else literal(a) for a in args]
        result = driver.to_float(parts[0]) if name == "/" else parts[0]
        for other in parts[1:]:
            if name == "/":
                result = result / func.nullif(other, literal_column("0"))
            else:
                result = result + other if name == "+" else result - other if name == "-" else result * other
        return result
    raise UnsupportedFeature(f"Unsupported aggregation: {name}")


AGGREGATION_NAMES = {
    "count": "count",
    "cum-count": "count",
    "distinct": "count",
    "sum": "sum",
    "cum-sum": "sum",
    "avg": "avg",
    "min": "min",
    "max": "max",
    "stddev": "stddev",
    "var": "var",
    "median": "median",
    "percentile": "percentile",
    "count-where": "count_where",
    "sum-where": "sum_where",
    "distinct-where": "distinct_where",
    "share": "share",
}
AGGREGATION_DISPLAY = {
    "sum": "Sum of {}",
    "cum-sum": "Cumulative sum of {}",
    "avg": "Average of {}",
    "min": "Min of {}",
    "max": "Max of {}",
    "distinct": "Distinct values of {}",
    "stddev": "Standard deviation of {}",
    "var": "Variance of {}",
    "median": "Median of {}",
    "sum-where": "Sum of {} matching condition",
    "distinct-where": "Distinct values of {} matching condition",
}
COUNT_LIKE = frozenset({"count", "cum-count", "distinct", "count-where", "distinct-where"})
CUMULATIVE = frozenset({"cum-sum", "cum-count"})


# ---------------------------------------------------------------------------------------------------
# Column metadata of refs and aggregations


def _with_default_unit(ref: list[Any]) -> list[Any]:
    """A temporal field's ref as Metabase reports an unbucketed one: with `temporal-unit: default`."""
    return ["field", ref[1], {**_opts(ref), "temporal-unit": "default"}]


def _ref_column(scope: _Scope, ref: list[Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metabase's metadata for a ref, and what identifies it for an outer stage."""
    opts = _opts(ref) if _is_clause(ref, "field") else {}
    unit = opts.get("temporal-unit")
    identity: dict[str, Any] = {
        "join_alias": opts.get("join-alias"),
        "source_field": opts.get("source-field"),
        "temporal_unit": unit if unit and unit != "default" else None,
    }
    if ref[0] == "expression":
        name = ref[1]
        base = scope.expression_types.get(name, t.FLOAT)
        meta = columns.computed_column(name, name, base, ["expression", name], source)
        if name in scope.expression_zones:
            meta["converted_timezone"] = scope.expression_zones[name]
        return columns.with_unit(meta, None), identity
    if ref[0] != "field":
        raise InvalidQuery(f"Invalid column reference: {ref!r}")
    inner = _inner_column(scope, ref)
    if isinstance(ref[1], int):
        row = _field_row(scope, ref[1])
        meta = columns.field_column(row, ref, source)
        if opts.get("join-alias"):
            meta["display_name"] = f"{opts['join-alias']} → {meta['display_name']}"
        elif opts.get("source-field"):
            fk = _field_row(scope, opts["source-field"])
            fk_name = re.sub(r"(?i)\s+id$", "", fk.display_name or fk.name)
            meta["display_name"] = f"{fk_name} → {meta['display_name']}"
        identity["field_id"] = row.id
    elif inner is not None:
        # A column of the source query keeps its metadata (and bucket); the ref names it.
        meta = {**inner.meta, "field_ref": ref, "source": source}
        identity["field_id"] = inner.field_id
        identity["temporal_unit"] = identity["temporal_unit"] or inner.temporal_unit
        if not unit:
            return meta, identity
    else:
        meta, identity["field_id"] = _named_meta(scope, ref, source)
    if opts.get("binning"):
        binning = _binning(scope, ref)
        if binning.strategy == "num-bins":
            label = f"{binning.num_bins} bin{'s' if binning.num_bins != 1 else ''}"
        else:
            coordinate = meta.get("semantic_type") in (t.LATITUDE, t.LONGITUDE)
            label = f"{binning.bin_width:g}" + ("°" if coordinate else "")
        meta.update(
            display_name=f"{meta['display_name']}: {label}",
            binning_info=binning.info(),
            field_ref=["field", ref[1], {**opts, "binning": binning.ref_options()}],
        )
    if not unit and meta.get("base_type") in t.TEMPORAL_TYPES and not opts.get("binning"):
        meta["field_ref"] = _with_default_unit(meta["field_ref"])
    return columns.with_unit(meta, unit), identity


def _named_meta(scope: _Scope, ref: list[Any], source: str) -> tuple[dict[str, Any], int | None]:
    """Metadata of a ref by name to a table's field or a joined query's column, and its field id."""
    name, alias = ref[1], _opts(ref).get("join-alias")
    table, stage = scope.table, None
    if alias is not None:
        join = _join(scope, alias)
        table, stage = join.table, join.stage
    column = next((c for c in stage.columns if name in (c.alias, c.meta["name"])), None) if stage else None
    row = scope.ctx.metadata.table_field_by_name(table.id, name) if table is not None else None
    if column is not None:
        meta, field_id = {**column.meta, "field_ref": ref, "source": source}, column.field_id
    elif row is not None:
        meta, field_id = columns.field_column(row, ref, source), row.id
    else:
        meta, field_id = columns.computed_column(name, name, _plain_type(scope, ref), ref, source), None
    if alias is not None:
        meta["display_name"] = f"{alias} → {meta['display_name']}"
    return meta, field_id


TEXT_FUNCTIONS = frozenset(
    {"concat", "substring", "lower", "upper", "trim", "ltrim", "rtrim", "replace", "regex-match-first"}
)


def _base_type_of(scope: _Scope, clause: Any) -> str:
    if isinstance(clause, bool):
        return t.BOOLEAN
    if isinstance(clause, int):
        return t.INTEGER
    if isinstance(clause, float):
        return t.FLOAT
    if isinstance(clause, str):
        return t.TEXT
    if not _is_clause(clause):
        return t.UNKNOWN
    name = clause[0]
    if name == "field":
        unit = _opts(clause).get("temporal-unit")
        return t.INTEGER if unit in EXTRACTION_UNITS else _plain_type(scope, clause)
    if name == "expression":
        return scope.expression_types.get(clause[1], t.UNKNOWN)
    if name in FILTERS:
        return t.BOOLEAN
    if name in ("+", "-", "*"):
        types = {_base_type_of(scope, a) for a in clause[1:]}
        return t.INTEGER if types <= t.INTEGER_TYPES else t.FLOAT
    if name in ("/", "sqrt", "exp", "log", "power"):
        return t.FLOAT
    if name in TEXT_FUNCTIONS:
        return t.TEXT
    if name in ("datetime-add", "datetime-subtract"):
        base = _base_type_of(scope, clause[1])
        return base if base in t.TEMPORAL_TYPES else t.DATETIME
    if name == "convert-timezone":
        return t.DATETIME
    if name in ("length", "temporal-extract", "datetime-diff") or name.startswith("get-"):
        return t.INTEGER
    if name == "now":
        return t.DATETIME
    if name in ("coalesce", "abs", "ceil", "floor", "round", "case", "if"):
        args = [value for _, value in clause[1]] if name in ("case", "if") else clause[1:]
        return next((b for b in (_base_type_of(scope, a) for a in args) if b != t.UNKNOWN), t.UNKNOWN)
    return t.UNKNOWN


def _arg_display(scope: _Scope, clause: Any) -> str:
    if _is_clause(clause, "field", "expression"):
        meta, _ = _ref_column(scope, clause, "fields")
        return str(meta["display_name"])
    return "custom expression"


def _aggregation_column(scope: _Scope, clause: list[Any], index: int) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if clause[0] == "aggregation-options":
        clause, options = clause[1], clause[2] or {}
    name, args = clause[0], clause[1:]
    if name in ("count", "cum-count") and not args:
        display = "Count" if name == "count" else "Cumulative count"
    elif name == "count":
        display = f"Count of {_arg_display(scope, args[0])}"
    elif name == "cum-count":
        display = f"Cumulative count of {_arg_display(scope, args[0])}"
    elif name == "count-where":
        display = "Count of rows matching condition"
    elif name == "share":
        display = "Share of rows matching condition"
    elif name == "percentile":
        display = f"Percentile of {_arg_display(scope, args[0])}"
    elif name in AGGREGATION_DISPLAY:
        display = AGGREGATION_DISPLAY[name].format(_arg_display(scope, args[0]))
    else:
        display = "Custom expression"
    semantic = None
    if name in COUNT_LIKE:
        base, semantic = t.BIG_INTEGER, t.QUANTITY
    elif name in ("sum", "cum-sum", "min", "max", "sum-where"):
        base = _base_type_of(scope, args[0]) if args else t.FLOAT
        if name in ("min", "max") and _is_clause(args[0], "field") and isinstance(args[0][1], int):
            semantic = _field_row(scope, args[0][1]).semantic_type
    else:
        base = t.FLOAT
    meta = columns.computed_column(
        options.get("name") or AGGREGATION_NAMES.get(name, "expression"),
        options.get("display-name") or display,
        base,
        ["aggregation", index],
        "aggregation",
        semantic,
    )
    meta["aggregation_index"] = index
    return meta


# ---------------------------------------------------------------------------------------------------
# Stages


def _fields(scope: _Scope, query: dict[str, Any]) -> list[list[Any]]:
    """The columns of a query without breakouts or aggregations: its `fields`, or else the source's
    columns (a source query's by name, as Metabase refers to them); then the fields of joins with
    `"fields": "all"` or a list; then, without explicit `fields`, the expressions."""
    refs: list[list[Any]] = list(query.get("fields") or [])
    if not refs and scope.table is not None:
        refs = [["field", f.id, None] for f in scope.ctx.metadata.table_fields(scope.table.id)]
    elif not refs and scope.inner is not None:
        refs = [
            ["field", col.alias, {"base-type": col.meta.get("base_type") or t.UNKNOWN}]
            for col in scope.inner.columns
        ]
    for join in query.get("joins") or []:
        alias, fields = join.get("alias"), join.get("fields", "none")
        join_state = scope.joins[alias]
        if fields == "all":
            if join_state.table is not None:
                refs += [
                    ["field", f.id, {"join-alias": alias}]
                    for f in scope.ctx.metadata.table_fields(join_state.table.id)
                ]
            elif join_state.stage is not None:
                refs += [
                    ["field", c.alias, {"join-alias": alias, "base-type": c.meta.get("base_type")}]
                    for c in join_state.stage.columns
                ]
        elif isinstance(fields, list):
            refs += [ref for ref in fields if ref not in refs]
    if not query.get("fields"):
        refs += [["expression", name] for name in (query.get("expressions") or {})]
    return refs


def _compile_join(ctx: QueryContext, scope: _Scope, join: dict[str, Any]) -> None:
    alias = join.get("alias") or "source"
    strategy = join.get("strategy") or "left-join"
    if strategy not in JOIN_FEATURES:
        raise InvalidQuery(f"Invalid join strategy: {strategy!r}")
    _require(scope, JOIN_FEATURES[strategy])
    if alias in scope.joins:
        raise InvalidQuery(f"Duplicate join alias: {alias!r}")
    if "source-query" in join:
        stage = _source_stage(ctx, join)
        state = _Join(alias, stage.select.subquery(alias), None, strategy, stage=stage)
    else:
        table = ctx.metadata.table(join.get("source-table"))  # type: ignore[arg-type]
        if table is None or table.db_id != ctx.database.id:
            raise InvalidQuery(f"Join {alias!r}: unknown source table {join.get('source-table')!r}.")
        state = _Join(alias, _sa_source(table, alias), None, strategy, table=table)
    scope.joins[alias] = state
    if join.get("condition") is None:
        raise InvalidQuery(f"Join {alias!r} has no condition.")
    state.condition = compile_filter(scope, join["condition"])


def _from_clause(scope: _Scope) -> FromClause:
    current: FromClause = scope.source
    for join in [*scope.joins.values(), *scope.implicit.values()]:
        if join.strategy == "right-join":
            current = join.source.join(current, join.condition, isouter=True)
        else:
            current = current.join(
                join.source,
                join.condition,
                isouter=join.strategy == "left-join",
                full=join.strategy == "full-join",
            )
    return current


def _source(
    ctx: QueryContext, query: dict[str, Any]
) -> tuple[FromClause, Table | None, CompiledStage | None]:
    if "source-query" in query:
        inner = _source_stage(ctx, query)
        return inner.select.subquery("source"), None, inner
    table_id = query.get("source-table")
    if not isinstance(table_id, int) or isinstance(table_id, bool):
        raise InvalidQuery(f"Invalid source-table: {table_id!r}.")
    table = ctx.metadata.table(table_id)
    if table is None or table.db_id != ctx.database.id:
        raise InvalidQuery(f"Table {table_id} does not exist in database {ctx.database.id}.")
    return _sa_source(table), table, None


def _source_stage(ctx: QueryContext, query: dict[str, Any]) -> CompiledStage:
    """The `source-query` of a stage or join (MBQL or native), with a saved question's metadata applied."""
    metadata = query.get("source-metadata") or []
    if "native" in query["source-query"]:
        inner = _native_source(ctx, query["source-query"], metadata)
    else:
        inner = compile_stage(ctx, query["source-query"])
    if query.get("source-card-metadata"):
        _apply_card_metadata(inner, metadata)
    return inner


def _native_source(ctx: QueryContext, source: dict[str, Any], metadata: list[Any]) -> CompiledStage:
    """A native query as a source (a saved native question's): compiled as a native query of its own, its
    template tags taking their defaults (a required one without fails, as in Metabase), its columns those
    of the card's saved result metadata."""
    # Imported here: native compilation reaches saved cards, which reach this module.
    from querybase.query_processor.compile.native import compile_native

    sql = source.get("native")
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidQuery("Native queries must have a non-blank query.")
    saved = [c for c in metadata if isinstance(c, dict) and isinstance(c.get("name"), str)]
    if not saved:
        raise InvalidQuery("A native source query needs its result metadata (run and save the question).")
    native = {"query": sql.strip().rstrip(";"), "template-tags": source.get("template-tags") or {}}
    compiled = compile_native(ctx, {"type": "native", "native": native, "parameters": []})
    statement = TextualSelect(compiled.statement, [sa_column(col["name"]) for col in saved], positional=True)
    outputs = []
    for col in saved:
        base = col.get("base_type") or t.UNKNOWN
        ref = ["field", col["name"], {"base-type": base}]
        display = col.get("display_name") or col["name"]
        meta = columns.computed_column(col["name"], display, base, ref, "fields")
        outputs.append(OutputColumn(col["name"], sa_column(col["name"]), meta))
    return CompiledStage(statement, outputs)  # type: ignore[arg-type]


def _apply_card_metadata(stage: CompiledStage, metadata: list[Any]) -> None:
    """A saved question's result metadata (a model's edited display names, semantic types...) replaces what
    its query reports for each column, matched by name."""
    by_name = {c["name"]: c for c in metadata if isinstance(c, dict) and isinstance(c.get("name"), str)}
    for col in stage.columns:
        saved = by_name.get(col.meta["name"])
        if saved is not None:
            overrides = {k: saved[k] for k in CARD_METADATA_OVERRIDES if k in saved}
            col.meta = {**col.meta, **overrides}


# What a saved question's result metadata may override in its columns.
CARD_METADATA_OVERRIDES = (
    "display_name",
    "description",
    "semantic_type",
    "settings",
    "visibility_type",
    "fk_target_field_id",
)


def compile_stage(ctx: QueryContext, query: dict[str, Any]) -> CompiledStage:
    """One inner MBQL query as a SELECT, with the metadata of each column it returns."""
    source, table, inner = _source(ctx, query)
    scope = _Scope(ctx, source, table, inner)
    for join in query.get("joins") or []:
        _compile_join(ctx, scope, join)
    for name, clause in (query.get("expressions") or {}).items():
        scope.expression_types[name] = _base_type_of(scope, clause)
        scope.expressions[name] = compile_expression(scope, clause)
        zone = _converted_timezone(scope, clause)
        if zone is not None:
            scope.expression_zones[name] = zone
    query = _auto_bucket(scope, query)
    where = compile_filter(scope, query["filter"]) if query.get("filter") else None
    breakouts, aggregations = query.get("breakout") or [], query.get("aggregation") or []
    outputs: list[OutputColumn] = []
    cumulative: set[int] = set()
    if breakouts or aggregations:
        for ref in breakouts:
            meta, identity = _ref_column(scope, ref, "breakout")
            outputs.append(OutputColumn("", compile_expression(scope, ref), meta, **identity))
        for index, clause in enumerate(aggregations):
            if not _is_clause(clause):
                raise InvalidQuery(f"Invalid aggregation: {clause!r}")
            expr = compile_aggregation(scope, clause)
            if _aggregation_name(clause) in CUMULATIVE:
                cumulative.add(len(outputs))
            scope.aggregations.append(expr)
            outputs.append(OutputColumn("", expr, _aggregation_column(scope, clause, index)))
    else:
        for ref in _fields(scope, query):
            if not _is_clause(ref, "field", "expression"):
                raise InvalidQuery(f"Invalid field in fields: {ref!r}")
            meta, identity = _ref_column(scope, ref, "fields")
            outputs.append(OutputColumn("", compile_expression(scope, ref), meta, **identity))
    for col, meta in zip(outputs, columns.dedupe_names([c.meta for c in outputs]), strict=True):
        col.meta, col.alias = meta, meta["name"]

    labels = [c.expr.label(c.alias) for c in outputs]
    statement = select(*labels).select_from(_from_clause(scope))
    if where is not None:
        statement = statement.where(where)
    if breakouts:
        # By position: PostgreSQL does not match a SELECT expression with a GROUP BY one when each has
        # its own bound parameters.
        statement = statement.group_by(*[literal_column(str(i + 1)) for i in range(len(breakouts))])
    if cumulative:
        statement, labels = _cumulative(scope, statement, outputs, len(breakouts), cumulative)
    statement = statement.order_by(*_order_by(scope, query, outputs, labels, breakouts))
    page = query.get("page")
    if page:
        items = int(page.get("items", 0))
        statement = statement.limit(items).offset((max(int(page.get("page", 1)), 1) - 1) * items)
    elif query.get("limit") is not None:
        statement = statement.limit(int(query["limit"]))
    return CompiledStage(statement, outputs)


def _cumulative(
    scope: _Scope, grouped: Select[Any], outputs: list[OutputColumn], breakouts: int, cumulative: set[int]
) -> tuple[Select[Any], list[Expr]]:
    """Cumulative sums and counts: the grouped rows as a subquery, each running total a window over the
    breakouts in their result order."""
    rows = grouped.subquery("grouped")
    order = [scope.ctx.driver.order(rows.c[c.alias], descending=False) for c in outputs[:breakouts]]
    labels = [
        (func.sum(rows.c[c.alias]).over(order_by=order or None) if i in cumulative else rows.c[c.alias])
        for i, c in enumerate(outputs)
    ]
    labels = [expr.label(c.alias) for expr, c in zip(labels, outputs, strict=True)]
    return select(*labels).select_from(rows), labels


def _order_by(
    scope: _Scope,
    query: dict[str, Any],
    outputs: list[OutputColumn],
    labels: list[Expr],
    breakouts: list[Any],
) -> list[Expr]:
    """The query's `order-by`, then the breakouts it does not mention, ascending (as Metabase adds them).
    Output columns are ordered by their label, which every engine matches with the grouped column."""
    driver = scope.ctx.driver
    clauses: list[Expr] = []
    mentioned: list[Any] = []
    for item in query.get("order-by") or []:
        if not isinstance(item, list) or len(item) != 2 or item[0] not in ("asc", "desc"):
            raise InvalidQuery(f"Invalid order-by: {item!r}")
        direction, ref = item
        mentioned.append(ref)
        expr = _ordered(scope, ref, outputs, labels, breakouts)
        clauses.append(driver.order(expr, descending=direction == "desc"))
    for ref in breakouts:
        if ref not in mentioned:
            clauses.append(driver.order(_ordered(scope, ref, outputs, labels, breakouts), descending=False))
    return clauses


def _ordered(
    scope: _Scope, ref: Any, outputs: list[OutputColumn], labels: list[Expr], breakouts: list[Any]
) -> Expr:
    if _is_clause(ref, "aggregation"):
        index = ref[1] if len(ref) > 1 else None
        aggregated = [i for i, c in enumerate(outputs) if c.meta.get("source") == "aggregation"]
        if not isinstance(index, int) or not 0 <= index < len(aggregated):
            raise InvalidQuery(f"No aggregation at index {index!r}.")
        return labels[aggregated[index]]
    if ref in breakouts:
        return labels[breakouts.index(ref)]
    return compile_expression(scope, ref)


def compile_query(ctx: QueryContext, query: dict[str, Any]) -> CompiledStage:
    """A normalized MBQL query (`type: query`) as a SELECT and its columns' metadata.

    A paged query is wrapped, so that the row limit the caller adds afterwards (which replaces a
    statement's LIMIT) caps the page instead of replacing its size. The statement carries the session time
    zone it runs in (the report timezone, where the engine can set it)."""
    stage = compile_stage(ctx, query["query"])
    if query["query"].get("page"):
        paged = stage.select.subquery("paged")
        stage = CompiledStage(select(*[paged.c[c.alias] for c in stage.columns]), stage.columns)
    if ctx.session_timezone is not None:
        stage.select = stage.select.execution_options(**{SESSION_TIMEZONE: ctx.session_timezone})
    return stage
