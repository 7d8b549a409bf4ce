"""MBQL (normalized, see `mbql/normalize.py`) → a SQLAlchemy Core `Select`, and the metadata of each
output column.

One stage (an inner query) compiles at a time: its source (a table, or the previous stage as a
subquery), joins, expressions, filter, breakouts and aggregations, ordering and paging. Every value the
user gave becomes a bound parameter; identifiers are quoted by the dialect. Engine differences (date
bucketing, percentiles, ...) come only from the driver's hooks (`drivers/sql.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Float,
    FromClause,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy import table as sa_table
from sqlalchemy.sql.elements import ColumnElement

from querybase.drivers import types as t
from querybase.models.database import Field, Table
from querybase.query_processor import columns
from querybase.query_processor.context import QueryContext
from querybase.query_processor.errors import InvalidQuery, UnsupportedFeature
from querybase.query_processor.mbql import temporal

Expr = ColumnElement[Any]

TRUNCATION_UNITS = frozenset(
    {"millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year"}
)
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
UNIT_DISPLAY = {
    "minute": "Minute",
    "hour": "Hour",
    "day": "Day",
    "week": "Week",
    "month": "Month",
    "quarter": "Quarter",
    "year": "Year",
    "second": "Second",
    "millisecond": "Millisecond",
    "second-of-minute": "Second of minute",
    "minute-of-hour": "Minute of hour",
    "hour-of-day": "Hour of day",
    "day-of-week": "Day of week",
    "day-of-month": "Day of month",
    "day-of-year": "Day of year",
    "week-of-year": "Week of year",
    "month-of-year": "Month of year",
    "quarter-of-year": "Quarter of year",
    "year-of-era": "Year",
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
    aggregations: list[Expr] = field(default_factory=list)


def _sa_source(table: Table, alias: str | None = None) -> FromClause:
    source = sa_table(table.name, schema=table.schema or None)
    return source.alias(alias) if alias else source


def _column(source: FromClause, name: str) -> Expr:
    return source.c[name] if name in source.c else _lazy_column(source, name)


def _lazy_column(source: FromClause, name: str) -> Expr:
    from sqlalchemy import column

    col = column(name)
    col.table = source  # type: ignore[assignment]
    return col


def _opts(ref: list[Any]) -> dict[str, Any]:
    return ref[2] if len(ref) > 2 and isinstance(ref[2], dict) else {}


# ---------------------------------------------------------------------------------------------------
# References


def _field_row(scope: _Scope, field_id: int) -> Field:
    row = scope.ctx.metadata.field(field_id)
    if row is None:
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


def _resolve_field(scope: _Scope, ref: list[Any], *, bucket: bool = True) -> Expr:
    """The SQL for a `["field", id-or-name, opts]` ref, with its temporal bucket or binning applied."""
    target, opts = ref[1], _opts(ref)
    join_alias, source_field = opts.get("join-alias"), opts.get("source-field")
    if isinstance(target, int):
        row = _field_row(scope, target)
        if join_alias is not None:
            join = scope.joins.get(join_alias)
            if join is None:
                raise InvalidQuery(f"No join named {join_alias!r}.")
            expr = _column_of(join.source, join.stage, row, join_alias=None)
        elif source_field is not None:
            join = _implicit_join(scope, source_field, row.table_id)
            expr = _column(join.source, row.name)
        elif scope.table is not None and row.table_id == scope.table.id:
            expr = _column(scope.source, row.name)
        elif scope.inner is not None:
            expr = _column_of(scope.source, scope.inner, row, join_alias=None)
        else:
            raise InvalidQuery(f"Field {row.name} ({target}) is not in the query's source table.")
        base_type = row.effective_type or row.base_type
    else:
        base_type = opts.get("effective-type") or opts.get("base-type") or t.UNKNOWN
        if join_alias is not None:
            join = scope.joins.get(join_alias)
            if join is None:
                raise InvalidQuery(f"No join named {join_alias!r}.")
            expr = _column_by_name(join.source, join.stage, target)
        else:
            expr = _column_by_name(scope.source, scope.inner, target)
    if not bucket:
        return expr
    unit = opts.get("temporal-unit")
    if unit and unit != "default":
        return _bucket(scope, expr, base_type, unit)
    if opts.get("binning"):
        return _bin(scope, expr, ref, opts["binning"])
    return expr


def _column_of(
    source: FromClause, stage: CompiledStage | None, row: Field, *, join_alias: str | None
) -> Expr:
    if stage is None:
        return _column(source, row.name)
    for col in stage.columns:
        if col.field_id == row.id and col.join_alias == join_alias and col.temporal_unit is None:
            return _column(source, col.alias)
    for col in stage.columns:
        if col.field_id == row.id:
            return _column(source, col.alias)
    return _column_by_name(source, stage, row.name)


def _column_by_name(source: FromClause, stage: CompiledStage | None, name: str) -> Expr:
    if stage is None:
        return _column(source, name)
    for col in stage.columns:
        if name in (col.alias, col.meta["name"]):
            return _column(source, col.alias)
    raise InvalidQuery(f"Column {name!r} is not returned by the source query.")


def _bucket(scope: _Scope, expr: Expr, base_type: str, unit: str) -> Expr:
    driver = scope.ctx.driver
    value = driver.temporal(expr, base_type)
    if unit in EXTRACTION_UNITS:
        return driver.extract(unit, value, scope.ctx.start_of_week)
    if unit in TRUNCATION_UNITS:
        if unit == "millisecond":
            return value
        return driver.truncate(unit, value, scope.ctx.start_of_week)
    raise InvalidQuery(f"Invalid temporal unit: {unit}")


def _bin(scope: _Scope, expr: Expr, ref: list[Any], binning: dict[str, Any]) -> Expr:
    width, minimum = bin_width(scope, ref, binning)
    return func.floor((expr - minimum) / width) * width + minimum


def bin_width(scope: _Scope, ref: list[Any], binning: dict[str, Any]) -> tuple[float, float]:
    """Metabase's binning: a "nice" width covering the field's fingerprinted range."""
    row = _field_row(scope, ref[1]) if isinstance(ref[1], int) else None
    number = ((row.fingerprint or {}).get("type") or {}).get("type/Number") if row else None
    if not number or number.get("min") is None:
        raise InvalidQuery("Binning needs the field's range: sync the database first.")
    low, high = float(number["min"]), float(number["max"])
    strategy = binning.get("strategy", "default")
    if strategy == "bin-width":
        width = float(binning["bin-width"])
    else:
        bins = int(binning.get("num-bins") or 8) if strategy == "num-bins" else 8
        width = nice_width((high - low) / bins if high > low else 1.0)
    return width, (low // width) * width


def nice_width(raw: float) -> float:
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 10 ** -len(str(raw).split(".")[1].lstrip("0"))
    for step in (1, 1.25, 2, 2.5, 3, 5, 7.5, 10):
        if raw <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


# ---------------------------------------------------------------------------------------------------
# Values, expressions, filters


def _is_clause(value: Any, *names: str) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], str)
        and (not names or value[0] in names)
    )


def _temporal_base(scope: _Scope, ref: Any) -> str | None:
    """The temporal base type of a ref, if it is one (for comparing it with date strings)."""
    if not _is_clause(ref, "field"):
        return None
    opts = _opts(ref)
    unit = opts.get("temporal-unit")
    if unit in EXTRACTION_UNITS:
        return None
    if isinstance(ref[1], int):
        row = _field_row(scope, ref[1])
        base = row.effective_type or row.base_type
    else:
        base = opts.get("effective-type") or opts.get("base-type")
    return base if base in t.TEMPORAL_TYPES else None


def _value(scope: _Scope, value: Any, like: Any = None) -> Any:
    """A literal as a bound parameter (or a temporal literal when compared with a temporal column)."""
    if _is_clause(value):
        return compile_expression(scope, value)
    base = _temporal_base(scope, like) if like is not None else None
    if base is not None and isinstance(value, str):
        parsed = temporal.parse_datetime(value)
        if parsed is not None:
            return literal(scope.ctx.driver.temporal_literal(parsed, base))
    if isinstance(value, bool):
        return true() if value else false()
    return literal(value)


def _compare_operand(scope: _Scope, ref: Any) -> Expr:
    expr = compile_expression(scope, ref)
    base = _temporal_base(scope, ref)
    if base is not None and not _opts(ref).get("temporal-unit"):
        return scope.ctx.driver.temporal(expr, base)
    return expr


ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


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
        if args[0] not in scope.expressions:
            raise InvalidQuery(f"No expression named {args[0]!r}.")
        return scope.expressions[args[0]]
    if name == "aggregation":
        index = args[0]
        if not isinstance(index, int) or not 0 <= index < len(scope.aggregations):
            raise InvalidQuery(f"No aggregation at index {index!r}.")
        return scope.aggregations[index]
    if name == "value":
        return _value(scope, args[0])
    if name in FILTERS:
        return compile_filter(scope, clause)
    if name in ARITHMETIC:
        exprs = [compile_expression(scope, a) for a in args]
        result = exprs[0]
        for other in exprs[1:]:
            result = ARITHMETIC[name](result, other)
        return result
    if name == "/":
        exprs = [compile_expression(scope, a) for a in args]
        result = cast(exprs[0], Float)
        for other in exprs[1:]:
            result = result / func.nullif(other, 0)
        return result
    if name in ("case", "if"):
        branches = [(compile_filter(scope, pred), compile_expression(scope, val)) for pred, val in args[0]]
        default = (args[1] or {}).get("default") if len(args) > 1 and isinstance(args[1], dict) else None
        return case(*branches, else_=compile_expression(scope, default) if default is not None else null())
    function = FUNCTIONS.get(name)
    if function is None:
        raise UnsupportedFeature(f"Unsupported expression: {name}")
    return function(scope, args)


def _fn(sql_name: str) -> Any:
    return lambda scope, args: getattr(func, sql_name)(*[compile_expression(scope, a) for a in args])


def _substring(scope: _Scope, args: list[Any]) -> Expr:
    exprs = [compile_expression(scope, a) for a in args]
    return func.substr(*exprs)


def _concat(scope: _Scope, args: list[Any]) -> Expr:
    exprs = [compile_expression(scope, a) for a in args]
    result = exprs[0]
    for other in exprs[1:]:
        result = result.concat(other)
    return result


def _datetime_add(scope: _Scope, args: list[Any]) -> Expr:
    raise UnsupportedFeature("datetime-add is not supported yet.")


FUNCTIONS: dict[str, Any] = {
    "coalesce": _fn("coalesce"),
    "abs": _fn("abs"),
    "ceil": _fn("ceil"),
    "floor": _fn("floor"),
    "round": _fn("round"),
    "power": _fn("power"),
    "sqrt": _fn("sqrt"),
    "exp": _fn("exp"),
    "log": lambda scope, args: func.ln(compile_expression(scope, args[0])),
    "lower": _fn("lower"),
    "upper": _fn("upper"),
    "trim": _fn("trim"),
    "ltrim": _fn("ltrim"),
    "rtrim": _fn("rtrim"),
    "length": _fn("length"),
    "replace": _fn("replace"),
    "substring": _substring,
    "concat": _concat,
    "regex-match-first": lambda scope, args: scope.ctx.driver.regex_match_first(
        compile_expression(scope, args[0]), literal(args[1])
    ),
    "datetime-add": _datetime_add,
}

for _unit_name, _extract_unit in {
    "get-year": "year-of-era",
    "get-quarter": "quarter-of-year",
    "get-month": "month-of-year",
    "get-week": "week-of-year",
    "get-day": "day-of-month",
    "get-day-of-week": "day-of-week",
    "get-hour": "hour-of-day",
    "get-minute": "minute-of-hour",
    "get-second": "second-of-minute",
}.items():
    FUNCTIONS[_unit_name] = (lambda unit: lambda scope, args: _extract_from(scope, args[0], unit))(
        _extract_unit
    )


def _extract_from(scope: _Scope, arg: Any, unit: str) -> Expr:
    base = _temporal_base(scope, arg) or t.DATETIME
    value = scope.ctx.driver.temporal(compile_expression(scope, arg), base)
    return scope.ctx.driver.extract(unit, value, scope.ctx.start_of_week)


def _string_filter(scope: _Scope, clause: list[Any]) -> Expr:
    name, ref, *rest = clause
    options = rest[-1] if rest and isinstance(rest[-1], dict) else {}
    values = [v for v in rest if not isinstance(v, dict)]
    case_sensitive = options.get("case-sensitive", True)
    expr = compile_expression(scope, ref)
    kind = "contains" if name == "does-not-contain" else name
    parts = []
    for value in values:
        column, needle = (expr, str(value)) if case_sensitive else (func.lower(expr), str(value).lower())
        parts.append(scope.ctx.driver.string_match(kind, column, needle, case_sensitive=case_sensitive))
    combined = or_(*parts) if len(parts) > 1 else parts[0]
    if name == "does-not-contain":
        return or_(not_(combined), expr.is_(None)) if len(parts) == 1 else and_(*[not_(p) for p in parts])
    return combined


def _equality(scope: _Scope, clause: list[Any]) -> Expr:
    name, ref, *values = clause
    expr = _compare_operand(scope, ref)
    unit = _opts(ref).get("temporal-unit") if _is_clause(ref, "field") else None
    parts = []
    for value in values:
        if value is None:
            parts.append(expr.is_(None))
        elif unit in TRUNCATION_UNITS and isinstance(value, str) and _temporal_base(scope, ref):
            parts.append(_in_bucket(scope, ref, value, unit))
        else:
            parts.append(expr == _value(scope, value, ref))
    combined = or_(*parts) if len(parts) > 1 else parts[0]
    if name in ("!=", "not-in"):
        return and_(*[not_(p) for p in parts]) if len(parts) > 1 else not_(combined)
    return combined


def _in_bucket(scope: _Scope, ref: list[Any], value: str, unit: str) -> Expr:
    """`=` on a bucketed temporal ref: the value's whole bucket (Metabase's rule)."""
    start = temporal.parse_datetime(value)
    if start is None:
        raise InvalidQuery(f"Invalid date: {value!r}")
    start = temporal.truncate(start, unit, scope.ctx.start_of_week)
    return _between_datetimes(scope, ref, start, temporal.add(start, 1, unit))


def _between_datetimes(
    scope: _Scope, ref: list[Any], start: dt.datetime | None, end: dt.datetime | None
) -> Expr:
    base = _temporal_base(scope, ref) or t.DATETIME
    plain = [ref[0], ref[1], {k: v for k, v in _opts(ref).items() if k != "temporal-unit"} or None]
    expr = scope.ctx.driver.temporal(compile_expression(scope, plain), base)
    driver = scope.ctx.driver
    parts = []
    if start is not None:
        parts.append(expr >= literal(driver.temporal_literal(start, base)))
    if end is not None:
        parts.append(expr < literal(driver.temporal_literal(end, base)))
    return and_(*parts)


def _time_interval(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, amount, unit, *rest = clause
    options = rest[0] if rest and isinstance(rest[0], dict) else {}
    start, end = temporal.interval_bounds(
        scope.ctx.now,
        amount,
        unit,
        include_current=bool(options.get("include-current")),
        start_of_week=scope.ctx.start_of_week,
    )
    return _between_datetimes(scope, ref, start, end)


def _relative_time_interval(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, amount, unit, offset, offset_unit = clause[:6]
    shifted = temporal.add(scope.ctx.now, offset, offset_unit)
    start, end = temporal.interval_bounds(
        shifted, amount, unit, include_current=False, start_of_week=scope.ctx.start_of_week
    )
    return _between_datetimes(scope, ref, start, end)


def _during(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, value, unit = clause[:4]
    return _in_bucket(scope, ref, value, unit)


def _compare(scope: _Scope, clause: list[Any]) -> Expr:
    name, left, right = clause[0], clause[1], clause[2]
    a = _compare_operand(scope, left)
    b = _value(scope, right, left) if not _is_clause(right) else _compare_operand(scope, right)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[name]


def _between(scope: _Scope, clause: list[Any]) -> Expr:
    _, ref, low, high = clause[:4]
    expr = _compare_operand(scope, ref)
    return and_(expr >= _value(scope, low, ref), expr <= _value(scope, high, ref))


def _inside(scope: _Scope, clause: list[Any]) -> Expr:
    _, lat, lon, north, east, south, west = clause[:7]
    lat_expr, lon_expr = compile_expression(scope, lat), compile_expression(scope, lon)
    return and_(
        lat_expr.between(literal(south), literal(north)), lon_expr.between(literal(west), literal(east))
    )


def _is_empty(scope: _Scope, clause: list[Any]) -> Expr:
    expr = compile_expression(scope, clause[1])
    empty = or_(expr.is_(None), expr == literal(""))
    return empty if clause[0] == "is-empty" else not_(empty)


def _segment(scope: _Scope, clause: list[Any]) -> Expr:
    raise UnsupportedFeature("Segments are not supported yet.")


FILTERS: dict[str, Any] = {
    "and": lambda scope, c: and_(*[compile_filter(scope, f) for f in c[1:]]),
    "or": lambda scope, c: or_(*[compile_filter(scope, f) for f in c[1:]]),
    "not": lambda scope, c: not_(compile_filter(scope, c[1])),
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
        return FILTERS[clause[0]](scope, clause)
    return compile_expression(scope, clause)


# ---------------------------------------------------------------------------------------------------
# Aggregations


def _count_where(scope: _Scope, pred: Any) -> Expr:
    return func.sum(case((compile_filter(scope, pred), 1), else_=0))


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
    if name == "stddev":
        return driver.stddev(arg())
    if name == "var":
        return driver.variance(arg())
    if name == "median":
        return driver.median(arg())
    if name == "percentile":
        return driver.percentile(arg(), float(args[1]))
    if name == "count-where":
        return _count_where(scope, args[0])
    if name == "sum-where":
        return func.sum(case((compile_filter(scope, args[1]), arg()), else_=0))
    if name == "distinct-where":
        return func.count(case((compile_filter(scope, args[1]), arg()), else_=null()).distinct())
    if name == "share":
        return cast(_count_where(scope, args[0]), Float) / func.count()
    if name == "metric":
        raise UnsupportedFeature("Metrics are not supported yet.")
    if name in ARITHMETIC or name == "/":
        # Arithmetic over aggregations, such as ["/", ["sum", x], ["count"]].
        parts = [compile_aggregation(scope, a) if isinstance(a, list) else literal(a) for a in args]
        result = cast(parts[0], Float) if name == "/" else parts[0]
        for other in parts[1:]:
            result = result / func.nullif(other, 0) if name == "/" else ARITHMETIC[name](result, other)
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


# ---------------------------------------------------------------------------------------------------
# Column metadata of refs and aggregations


def _ref_column(scope: _Scope, ref: list[Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metabase's metadata for a ref, and what identifies it for an outer stage."""
    opts = _opts(ref)
    unit = opts.get("temporal-unit")
    identity: dict[str, Any] = {
        "join_alias": opts.get("join-alias"),
        "source_field": opts.get("source-field"),
    }
    if ref[0] == "expression":
        name = ref[1]
        base = scope.expression_types.get(name, t.FLOAT)
        meta = columns.computed_column(name, name, base, ["expression", name], "fields")
        return columns.with_unit(meta, unit), identity
    if isinstance(ref[1], int):
        row = _field_row(scope, ref[1])
        meta = columns.field_column(row, ref, source)
        if opts.get("join-alias"):
            meta["display_name"] = f"{opts['join-alias']} → {meta['display_name']}"
        elif opts.get("source-field"):
            fk = _field_row(scope, opts["source-field"])
            fk_name = re.sub(r"\s+ID$", "", fk.display_name or fk.name)
            meta["display_name"] = f"{fk_name} → {meta['display_name']}"
        identity["field_id"] = row.id
    else:
        base = opts.get("base-type") or t.UNKNOWN
        inner = _inner_column(scope, ref[1])
        meta = (
            dict(inner.meta)
            if inner is not None
            else columns.computed_column(ref[1], ref[1], base, ref, source)
        )
        meta.update(field_ref=ref, source=source)
        if inner is not None:
            identity["field_id"] = inner.field_id
    if opts.get("binning"):
        width, _ = bin_width(scope, ref, opts["binning"])
        meta["binning_info"] = {"binning_strategy": opts["binning"].get("strategy"), "bin_width": width}
    identity["temporal_unit"] = unit if unit and unit != "default" else None
    return columns.with_unit(meta, unit), identity


def _inner_column(scope: _Scope, name: str) -> OutputColumn | None:
    if scope.inner is None:
        return None
    return next((c for c in scope.inner.columns if name in (c.alias, c.meta["name"])), None)


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
        if isinstance(clause[1], int):
            row = _field_row(scope, clause[1])
            return row.effective_type or row.base_type
        return _opts(clause).get("base-type") or t.UNKNOWN
    if name == "expression":
        return scope.expression_types.get(clause[1], t.UNKNOWN)
    if name in FILTERS:
        return t.BOOLEAN
    if name in ("+", "-", "*"):
        types = {_base_type_of(scope, a) for a in clause[1:]}
        return t.INTEGER if types <= t.INTEGER_TYPES else t.FLOAT
    if name in ("/", "sqrt", "exp", "log", "power"):
        return t.FLOAT
    if name in (
        "concat",
        "substring",
        "lower",
        "upper",
        "trim",
        "ltrim",
        "rtrim",
        "replace",
        "regex-match-first",
    ):
        return t.TEXT
    if name in ("length",) or name.startswith("get-"):
        return t.INTEGER
    if name in ("coalesce", "abs", "ceil", "floor", "round", "case", "if"):
        args = clause[1] if name in ("case", "if") else clause[1:]
        if name in ("case", "if"):
            args = [value for _, value in args]
        return next((b for b in (_base_type_of(scope, a) for a in args) if b != t.UNKNOWN), t.UNKNOWN)
    return t.UNKNOWN


def _arg_display(scope: _Scope, clause: Any) -> str:
    if _is_clause(clause, "field", "expression"):
        meta, _ = _ref_column(scope, clause, "fields")
        return meta["display_name"]
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
    if name in COUNT_LIKE:
        base, semantic = t.BIG_INTEGER, t.QUANTITY
    elif name in ("avg", "share", "stddev", "var", "median", "percentile"):
        base, semantic = t.FLOAT, None
    elif name in ("sum", "cum-sum", "min", "max", "sum-where"):
        base = _base_type_of(scope, args[0]) if args else t.FLOAT
        semantic = None
        if name in ("min", "max") and _is_clause(args[0], "field") and isinstance(args[0][1], int):
            semantic = _field_row(scope, args[0][1]).semantic_type
    else:
        base, semantic = t.FLOAT, None
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


def _default_fields(scope: _Scope, query: dict[str, Any]) -> list[list[Any]]:
    """What a query without `fields`, breakouts or aggregations returns: the source's columns, then the
    fields of joins with `"fields": "all"`, then the expressions."""
    refs: list[list[Any]] = []
    if scope.table is not None:
        refs += [["field", f.id, None] for f in scope.ctx.metadata.table_fields(scope.table.id)]
    elif scope.inner is not None:
        for col in scope.inner.columns:
            if (
                col.field_id is not None
                and col.temporal_unit is None
                and col.join_alias is None
                and not col.source_field
            ):
                refs.append(["field", col.field_id, None])
            else:
                refs.append(["field", col.alias, {"base-type": col.meta.get("base_type") or t.UNKNOWN}])
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
            refs += fields
    refs += [["expression", name] for name in (query.get("expressions") or {})]
    return refs


def _compile_join(ctx: QueryContext, scope: _Scope, join: dict[str, Any]) -> None:
    alias = join.get("alias") or "source"
    strategy = join.get("strategy") or "left-join"
    if "source-query" in join:
        stage = compile_stage(ctx, join["source-query"])
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


def compile_stage(ctx: QueryContext, query: dict[str, Any]) -> CompiledStage:
    """One inner MBQL query as a SELECT, with the metadata of each column it returns."""
    inner: CompiledStage | None = None
    table: Table | None = None
    if "source-query" in query:
        if "native" in query["source-query"]:
            raise UnsupportedFeature("Native source queries are not supported yet.")
        inner = compile_stage(ctx, query["source-query"])
        source: FromClause = inner.select.subquery("source")
    else:
        table_id = query.get("source-table")
        if not isinstance(table_id, int):
            raise InvalidQuery(f"Invalid source-table: {table_id!r}.")
        table = ctx.metadata.table(table_id)
        if table is None or table.db_id != ctx.database.id:
            raise InvalidQuery(f"Table {table_id} does not exist in database {ctx.database.id}.")
        source = _sa_source(table)
    scope = _Scope(ctx, source, table, inner)
    for join in query.get("joins") or []:
        _compile_join(ctx, scope, join)
    for name, clause in (query.get("expressions") or {}).items():
        scope.expression_types[name] = _base_type_of(scope, clause)
        scope.expressions[name] = compile_expression(scope, clause)

    where = compile_filter(scope, query["filter"]) if query.get("filter") else None
    outputs: list[OutputColumn] = []
    group_by: list[Expr] = []
    breakouts, aggregations = query.get("breakout") or [], query.get("aggregation") or []
    if breakouts or aggregations:
        for ref in breakouts:
            expr = compile_expression(scope, ref)
            meta, identity = _ref_column(scope, ref, "breakout")
            outputs.append(OutputColumn(f"c{len(outputs)}", expr, meta, **identity))
            group_by.append(expr)
        for index, clause in enumerate(aggregations):
            expr = compile_aggregation(scope, clause)
            inner_name = clause[1][0] if clause[0] == "aggregation-options" else clause[0]
            if inner_name in ("cum-sum", "cum-count"):
                expr = func.sum(expr).over(order_by=group_by or None)
            scope.aggregations.append(expr)
            outputs.append(OutputColumn(f"c{len(outputs)}", expr, _aggregation_column(scope, clause, index)))
    else:
        for ref in query.get("fields") or _default_fields(scope, query):
            meta, identity = _ref_column(scope, ref, "fields")
            outputs.append(OutputColumn(f"c{len(outputs)}", compile_expression(scope, ref), meta, **identity))

    metas = columns.dedupe_names([c.meta for c in outputs])
    for col, meta in zip(outputs, metas, strict=True):
        col.meta = meta
        col.alias = meta["name"]
    statement = select(*[c.expr.label(c.alias) for c in outputs]).select_from(_from_clause(scope))
    if where is not None:
        statement = statement.where(where)
    if group_by:
        statement = statement.group_by(*group_by)
    statement = statement.order_by(*_order_by(scope, query, outputs, breakouts))
    page = query.get("page")
    if page:
        items = int(page.get("items", 0))
        statement = statement.limit(items).offset((max(int(page.get("page", 1)), 1) - 1) * items)
    elif query.get("limit") is not None:
        statement = statement.limit(int(query["limit"]))
    return CompiledStage(statement, outputs)


def _order_by(
    scope: _Scope, query: dict[str, Any], outputs: list[OutputColumn], breakouts: list[Any]
) -> list[Expr]:
    """The query's `order-by`, then the breakouts it does not mention, ascending (as Metabase adds them)."""
    clauses: list[Expr] = []
    mentioned: list[Any] = []
    for direction, ref in query.get("order-by") or []:
        mentioned.append(ref)
        expr = _output_for(scope, ref, outputs, breakouts)
        clauses.append(expr.desc() if direction == "desc" else expr.asc())
    for ref in breakouts:
        if ref not in mentioned:
            clauses.append(_output_for(scope, ref, outputs, breakouts).asc())
    return clauses


def _output_for(scope: _Scope, ref: Any, outputs: list[OutputColumn], breakouts: list[Any]) -> Expr:
    if _is_clause(ref, "aggregation"):
        index = ref[1]
        aggregated = [c for c in outputs if c.meta.get("source") == "aggregation"]
        if not isinstance(index, int) or not 0 <= index < len(aggregated):
            raise InvalidQuery(f"No aggregation at index {index!r}.")
        return aggregated[index].expr
    if ref in breakouts:
        return outputs[breakouts.index(ref)].expr
    return compile_expression(scope, ref)


def compile_query(ctx: QueryContext, query: dict[str, Any]) -> CompiledStage:
    """A normalized MBQL query (`type: query`) as a SELECT and its columns' metadata."""
    return compile_stage(ctx, query["query"])
