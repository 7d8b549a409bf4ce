"""Dashboard parameters beyond filters: the query behind a chained filter's values (Metabase's
`chain-filter`), and `temporal-unit` parameters, which change a breakout's unit instead of filtering.

A chained filter lists the values of its field that occur where the other filters' values hold: the
field's table is the source, the other filters' fields are reached through foreign keys (joined in either
direction, the shortest path first, as Metabase's `find-joins` does), and each other filter becomes the
filter its type makes of its value on its field.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.models.database import Field, Table
from querybase.query_processor.errors import InvalidQuery
from querybase.query_processor.mbql.normalize import normalize, normalize_ref
from querybase.query_processor.parameters.mbql import apply_parameters

# Metabase's limit on a chained filter's values, and on how many joins reach a constraining field.
MAX_VALUES = 1000
MAX_JOIN_DEPTH = 5
_NUMERIC_TYPES = ("type/Integer", "type/BigInteger", "type/Float", "type/Decimal", "type/Number")


@dataclass(frozen=True)
class Constraint:
    """Another filter's value on one of its fields: `type` is the filter's parameter type."""

    field_id: int
    type: str
    value: Any
    options: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Join:
    lhs_table: int
    lhs_field: int
    rhs_table: int
    rhs_field: int


def _alias(table_id: int) -> str:
    return f"table_{table_id}"


def _relationships(db: Session, database_id: int) -> dict[int, dict[int, list[_Join]]]:
    """The database's foreign keys as a graph of tables, each way round."""
    graph: dict[int, dict[int, list[_Join]]] = {}
    fk, pk = Field.__table__.alias("fk"), Field.__table__.alias("pk")
    fk_table = Table.__table__.alias("fk_table")
    rows = db.execute(
        select(fk.c.id, fk.c.table_id, pk.c.id, pk.c.table_id)
        .join(fk_table, fk_table.c.id == fk.c.table_id)
        .join(pk, pk.c.id == fk.c.fk_target_field_id)
        .where(fk_table.c.db_id == database_id, fk_table.c.active, fk.c.active, pk.c.active)
        .order_by(fk.c.id.desc(), pk.c.id.desc())
    )
    for fk_id, fk_table_id, pk_id, pk_table_id in rows:
        graph.setdefault(fk_table_id, {}).setdefault(pk_table_id, []).append(
            _Join(fk_table_id, fk_id, pk_table_id, pk_id)
        )
        graph.setdefault(pk_table_id, {}).setdefault(fk_table_id, []).append(
            _Join(pk_table_id, pk_id, fk_table_id, fk_id)
        )
    return graph


def _path(graph: dict[int, dict[int, list[_Join]]], start: int, end: int) -> list[_Join]:
    """The joins of the shortest path from `start` to `end` (breadth first, at most 5 tables long)."""
    paths: deque[list[int]] = deque([[start]])
    seen = {start}
    while paths:
        path = paths.popleft()
        node = path[-1]
        if node == end:
            return [join for a, b in itertools.pairwise(path) for join in graph[a][b][:1]]
        if len(path) == MAX_JOIN_DEPTH:
            continue
        for neighbour in graph.get(node, {}):
            if neighbour not in seen:
                seen.add(neighbour)
                paths.append([*path, neighbour])
    return []


def _joins(db: Session, database_id: int, source: int, others: set[int]) -> list[_Join]:
    """The joins that make the tables `others` reachable from `source`, each table joined once."""
    if not others:
        return []
    graph = _relationships(db, database_id)
    joins: list[_Join] = []
    joined = {source}
    for table_id in sorted(others):
        for join in _path(graph, source, table_id):
            if join.rhs_table not in joined:
                joined.add(join.rhs_table)
                joins.append(join)
    return joins


def _typed(field: Field, value: Any) -> Any:
    """A value from a query string as the field's type wants it (numbers for numeric fields)."""
    if isinstance(value, list):
        return [_typed(field, v) for v in value]
    if isinstance(value, str) and str(field.effective_type or field.base_type) in _NUMERIC_TYPES:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def chain_filter_query(
    db: Session, field_id: int, constraints: list[Constraint], search: str | None = None
) -> dict[str, Any]:
    """The query listing the distinct values of field `field_id` (at most 1,000, in order) where
    `constraints` hold and, with `search`, that contain it (case-insensitively; text fields only). A
    constraint on a table no foreign key path reaches is left out, as Metabase leaves it."""
    field = db.get(Field, field_id)
    table = db.get(Table, field.table_id) if field is not None else None
    if field is None or table is None:
        raise InvalidQuery(f"Field {field_id} does not exist.")
    if search is not None and not str(field.base_type).startswith("type/Text"):
        raise InvalidQuery(f'Cannot search against non-Text Field {field.id} "{field.name}"')
    fields = {c.field_id: db.get(Field, c.field_id) for c in constraints}
    tables = {f.table_id for f in fields.values() if f is not None}
    joins = _joins(db, table.db_id, table.id, tables - {table.id})
    joined = {join.rhs_table for join in joins} | {table.id}
    inner: dict[str, Any] = {
        "source-table": table.id,
        "breakout": [["field", field.id, None]],
        "limit": MAX_VALUES,
    }
    if joins:
        inner["joins"] = [
            {
                "source-table": join.rhs_table,
                "alias": _alias(join.rhs_table),
                "condition": [
                    "=",
                    [
                        "field",
                        join.lhs_field,
                        None if join.lhs_table == table.id else {"join-alias": _alias(join.lhs_table)},
                    ],
                    ["field", join.rhs_field, {"join-alias": _alias(join.rhs_table)}],
                ],
            }
            for join in joins
        ]
    parameters = []
    for constraint in constraints:
        constrained = fields[constraint.field_id]
        if constrained is None or constrained.table_id not in joined:
            continue
        options = None if constrained.table_id == table.id else {"join-alias": _alias(constrained.table_id)}
        parameters.append(
            {
                "type": constraint.type,
                "value": _typed(constrained, constraint.value),
                "options": constraint.options,
                "target": ["dimension", ["field", constrained.id, options]],
            }
        )
    if search is not None:
        parameters.append(
            {
                "type": "string/contains",
                "value": search,
                "options": {"case-sensitive": False},
                "target": ["dimension", ["field", field.id, None]],
            }
        )
    return apply_parameters(normalize({"database": table.db_id, "type": "query", "query": inner}), parameters)


# ---------------------------------------------------------------------------------------------------
# Temporal-unit parameters.

_DATE_UNITS = frozenset(
    {
        "default",
        "day",
        "week",
        "month",
        "quarter",
        "year",
        "day-of-week",
        "day-of-month",
        "day-of-year",
        "week-of-year",
        "month-of-year",
        "quarter-of-year",
    }
)
_TIME_UNITS = frozenset(
    {"default", "millisecond", "second", "minute", "hour", "minute-of-hour", "hour-of-day"}
)


def _compatible(base_type: str | None, unit: str) -> bool:
    """Whether a column of `base_type` can be bucketed by `unit` (dates by day and coarser, times by hour
    and finer, date-times by any)."""
    if base_type in ("type/Date",):
        return unit in _DATE_UNITS
    if base_type in ("type/Time", "type/TimeWithLocalTZ", "type/TimeWithZoneOffset"):
        return unit in _TIME_UNITS
    return unit in _DATE_UNITS | _TIME_UNITS


def _stage(inner: dict[str, Any], number: Any) -> dict[str, Any]:
    """The stage `number` names (negative counts from the last), else the last one."""
    stages = [inner]
    while isinstance(stages[0].get("source-query"), dict):
        stages.insert(0, stages[0]["source-query"])
    if isinstance(number, int) and -len(stages) <= number < len(stages):
        return stages[number]
    return stages[-1]


def _rebucket(clause: Any, column: Any, unit: Any, new_unit: str) -> Any:
    """`clause` with each reference to `column` at `unit` now at `new_unit`."""
    if isinstance(clause, list):
        if (
            len(clause) == 3
            and clause[0] in ("field", "expression")
            and clause[1] == column
            and isinstance(clause[2], dict)
            and clause[2].get("temporal-unit") == unit
        ):
            return [clause[0], clause[1], {**clause[2], "temporal-unit": new_unit}]
        return [_rebucket(part, column, unit, new_unit) for part in clause]
    return clause


def apply_temporal_units(
    db: Session, query: dict[str, Any], parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    """`query` (normalized MBQL, changed in place) with each `temporal-unit` parameter's unit put on the
    breakouts (and orderings) of the column its target names, at the unit the target names, in the target's
    stage. A unit the column cannot take fails the query as Metabase does."""
    for parameter in parameters:
        value = parameter.get("value")
        if value is None:
            value = parameter.get("default")
        target = parameter.get("target")
        if parameter.get("type") != "temporal-unit" or value is None or not isinstance(target, list):
            continue
        if len(target) < 2 or target[0] != "dimension":
            continue
        ref = normalize_ref(target[1])
        if not (isinstance(ref, list) and len(ref) == 3 and ref[0] in ("field", "expression")):
            continue
        options = ref[2] if isinstance(ref[2], dict) else {}
        base_type = options.get("base-type")
        if base_type is None and isinstance(ref[1], int):
            field = db.get(Field, ref[1])
            base_type = None if field is None else field.effective_type or field.base_type
        new_unit = str(value)
        if not _compatible(base_type, new_unit):
            raise InvalidQuery(f"This chart can not be broken out by the selected unit of time: {value}.")
        dimension_options = target[2] if len(target) > 2 and isinstance(target[2], dict) else {}
        stage = _stage(query["query"], dimension_options.get("stage-number"))
        for key in ("breakout", "order-by"):
            if key in stage:
                stage[key] = _rebucket(stage[key], ref[1], options.get("temporal-unit"), new_unit)
    return query
