"""Put tag values into parsed native SQL, as Metabase's `sql/parameters/substitute.clj` and
`substitution.clj` do: the result is a list of pieces, text and SQLAlchemy expressions, compiled by
`compile/native.py` into one statement.

* A raw value becomes a bound parameter (several values: `?, ?`), never SQL text.
* A field filter becomes a condition on its column (`"public"."venues"."price" IN (?, ?)`), or `1 = 1`
  without a value; date strings become ranges, and engines compare temporal columns through the driver's
  `temporal` / `temporal_literal` hooks so every engine filters the same instants.
* A card reference becomes its compiled query in parentheses, values still bound; a snippet its content,
  whose own placeholders take the query's values.
* An optional clause is dropped when a placeholder inside it has no value; a placeholder without a value
  outside one fails the query.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Boolean, and_, column, func, literal, literal_column, not_, or_
from sqlalchemy import table as sa_table
from sqlalchemy.sql import quoted_name
from sqlalchemy.sql.elements import BooleanClauseList, ColumnElement

from querybase.drivers import types as t
from querybase.query_processor.context import QueryContext
from querybase.query_processor.errors import MissingRequiredParameter
from querybase.query_processor.parameters import InvalidParameter, dates
from querybase.query_processor.parameters.parse import OptionalClause, Param, Part
from querybase.query_processor.parameters.values import (
    DATE_TYPES,
    NO_VALUE,
    CardQuery,
    FieldFilter,
    SnippetContent,
)

Expr = ColumnElement[Any]
Piece = str | Expr

# Metabase's `:type/DateTime` and its descendants: compared as half-open datetime ranges.
DATETIME_TYPES = frozenset(
    {
        t.DATETIME,
        t.DATETIME_TZ,
        "type/DateTimeWithTZ",
        "type/DateTimeWithZoneOffset",
        "type/DateTimeWithZoneID",
        "type/Instant",
    }
)
# Parameter types that are operators, and the MBQL filter each one stands for.
OPERATORS = {
    "number/=": "=",
    "number/!=": "!=",
    "number/>=": ">=",
    "number/<=": "<=",
    "number/between": "between",
    "string/=": "=",
    "string/!=": "!=",
    "string/contains": "contains",
    "string/does-not-contain": "does-not-contain",
    "string/starts-with": "starts-with",
    "string/ends-with": "ends-with",
    "boolean/=": "=",
}
_ARITY = {">=": 1, "<=": 1, "between": 2}


def substitute(ctx: QueryContext, parsed: list[Part], values: Mapping[str, Any]) -> list[Piece]:
    """The SQL pieces for `parsed` with `values` (from `values.resolve`), outer whitespace trimmed.

    Raises MissingRequiredParameter, with Metabase's message, for placeholders outside optional clauses that
    have no value (or no template tag).
    """
    pieces, missing = _walk(ctx, parsed, values, in_optional=False)
    if missing:
        names = " ".join(json.dumps(name, ensure_ascii=False) for name in dict.fromkeys(missing))
        raise MissingRequiredParameter(f"Cannot run the query: missing required parameters: #{{{names}}}")
    if pieces and isinstance(pieces[0], str):
        pieces[0] = pieces[0].lstrip()
    if pieces and isinstance(pieces[-1], str):
        pieces[-1] = pieces[-1].rstrip()
    return [p for p in pieces if not isinstance(p, str) or p]


def _walk(
    ctx: QueryContext,
    parts: list[Part] | tuple[Part, ...],
    values: Mapping[str, Any],
    *,
    in_optional: bool,
    snippets: frozenset[str] = frozenset(),
) -> tuple[list[Piece], list[str]]:
    """`snippets`: the snippet tags being expanded, so that a snippet that includes itself fails."""
    pieces: list[Piece] = []
    missing: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, OptionalClause):
            inner, inner_missing = _walk(ctx, part.parts, values, in_optional=True, snippets=snippets)
            if not inner_missing:
                pieces += inner
        elif isinstance(part, Param):
            value = values.get(part.name, NO_VALUE)
            if isinstance(value, FieldFilter) and not (value.values is NO_VALUE and in_optional):
                pieces.append(field_filter_condition(ctx, value))
            elif isinstance(value, FieldFilter) or value is NO_VALUE:
                missing.append(part.name)
            elif isinstance(value, CardQuery):
                pieces += ["(", *value.pieces, ")"]
            elif isinstance(value, SnippetContent):
                if part.name in snippets:
                    raise InvalidParameter(f"Snippet {part.name!r} includes itself.")
                inner, inner_missing = _walk(
                    ctx, value.parts, values, in_optional=in_optional, snippets=snippets | {part.name}
                )
                pieces += inner
                missing += inner_missing
            else:
                pieces += _raw_pieces(ctx, value)
    return pieces, missing


def _raw_pieces(ctx: QueryContext, value: Any) -> list[Piece]:
    """One bound parameter per value, comma-separated for several (`IN ({{ids}})`)."""
    pieces: list[Piece] = []
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        if index:
            pieces.append(", ")
        if isinstance(item, dt.date):
            base = t.DATETIME if isinstance(item, dt.datetime) else t.DATE
            item = ctx.driver.temporal_literal(item, base)
        pieces.append(_bind(item))
    return pieces


def _bind(value: Any) -> Expr:
    """A bound parameter; integers are BIGINT so large ids are not cut to 32 bits."""
    if isinstance(value, bool):
        return literal(value, Boolean())
    if isinstance(value, int):
        return literal(value, BigInteger())
    return literal(value)


# --- field filters ------------------------------------------------------------------------------------------


def field_filter_condition(ctx: QueryContext, field_filter: FieldFilter) -> Expr:
    """The boolean SQL a `{{field_filter}}` stands for; several parameters on one filter are ANDed."""
    if not isinstance(field_filter.values, list):
        return literal_column("1 = 1")
    conditions = [_condition(ctx, field_filter, param) for param in field_filter.values]
    return _grouped(and_(*conditions) if len(conditions) > 1 else conditions[0])


def _grouped(expr: Expr) -> Expr:
    """Parentheses around AND/OR, so the condition stays whole wherever the SQL puts it."""
    return expr.self_group() if isinstance(expr, BooleanClauseList) else expr


def _column(field_filter: FieldFilter) -> Expr:
    """The field's column, table-qualified and always quoted (as Metabase writes it), or the tag's alias."""
    if field_filter.alias is not None:
        return literal_column(field_filter.alias)
    table = field_filter.table
    name = quoted_name(field_filter.field.name, True)
    source = sa_table(
        quoted_name(table.name, True),
        column(name),
        schema=quoted_name(table.schema, True) if table.schema else None,
    )
    return source.c[name]


def _condition(ctx: QueryContext, field_filter: FieldFilter, param: Mapping[str, Any]) -> Expr:
    param_type, value = param.get("type"), param.get("value")
    expr = _column(field_filter)
    if param_type in OPERATORS:
        return _operator(ctx, str(param_type), expr, value, param.get("options") or {})
    if param_type in DATE_TYPES:
        if not isinstance(value, str):
            raise InvalidParameter(f"Don't know how to parse date param {value!r} — invalid format")
        return _date_condition(ctx, field_filter, str(param_type), value, expr)
    if isinstance(value, list):
        return expr.in_([_bind(v) for v in value])
    return expr == _bind(value)


def _operator(ctx: QueryContext, param_type: str, expr: Expr, value: Any, options: Mapping[str, Any]) -> Expr:
    """Operator parameters (`string/contains`, `number/between`, …) as Metabase's MBQL filters compile."""
    values = value if isinstance(value, list) else [value]
    operator = OPERATORS[param_type]
    if operator == "between" and len(values) == 2 and None in values:
        # A half-open `between` is a single comparison.
        operator, values = (">=", values[:1]) if values[1] is None else ("<=", values[1:])
    expected = _ARITY.get(operator)
    if expected is not None and len(values) != expected:
        raise InvalidParameter(f"Operations Invalid arity: expected {expected} but received {len(values)}")
    if operator == "between":
        return expr.between(_bind(values[0]), _bind(values[1]))
    if operator == ">=":
        return expr >= _bind(values[0])
    if operator == "<=":
        return expr <= _bind(values[0])
    if operator == "=":
        return _grouped(or_(*[expr == _bind(v) for v in values]))
    if operator == "!=":
        return _grouped(and_(*[or_(expr != _bind(v), expr.is_(None)).self_group() for v in values]))
    case_sensitive = options.get("case-sensitive", True) is not False
    target = expr if case_sensitive else func.lower(expr)
    kind = "contains" if operator == "does-not-contain" else operator
    matches = [
        ctx.driver.string_match(
            kind, target, str(v) if case_sensitive else str(v).lower(), case_sensitive=case_sensitive
        )
        for v in values
    ]
    if operator == "does-not-contain":
        return _grouped(and_(*[or_(not_(m), expr.is_(None)).self_group() for m in matches]))
    return _grouped(or_(*matches))


def _date_condition(
    ctx: QueryContext, field_filter: FieldFilter, param_type: str, value: str, expr: Expr
) -> Expr:
    """Exclusions compare an extracted part; DateTime columns a half-open range; other columns the
    inclusive range (`=`, `<`, `>` or `BETWEEN`), as Metabase does."""
    driver, start_of_week = ctx.driver, ctx.start_of_week
    field = field_filter.field
    base = field.effective_type or field.base_type
    temporal = base in DATETIME_TYPES or base == t.DATE
    if temporal:
        expr = driver.temporal(expr, base)

    def at(point: dt.date) -> Expr:
        return literal(driver.temporal_literal(point, base)) if temporal else literal(point)

    excluded = dates.exclusion(value, start_of_week)
    if excluded is not None:
        unit, numbers = excluded
        part = driver.extract(unit, expr if temporal else driver.temporal(expr, t.DATETIME), start_of_week)
        return _grouped(and_(*[or_(part != _bind(n), part.is_(None)).self_group() for n in numbers]))
    now = ctx.local_now()
    if base in DATETIME_TYPES:
        start, end = dates.datetime_range(value, now, start_of_week)
        bounds = ([expr >= at(start)] if start else []) + ([expr < at(end)] if end else [])
        return _grouped(and_(*bounds))
    if param_type in ("date", "date/single"):
        return expr == at(dates.parse_temporal(value))
    found = dates.date_range(value, now, start_of_week)
    start, end = found.start, found.end
    if start is not None and end is not None:
        return expr == at(start) if start == end else expr.between(at(start), at(end))
    if start is not None:
        return expr > at(start)
    return expr < at(end)
