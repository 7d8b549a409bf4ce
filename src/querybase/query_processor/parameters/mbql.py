"""Parameters of an MBQL query (a card's or a dashboard's filter values aimed at a column) as filter clauses,
Metabase's `params->mbql`. Native queries take their parameters through template tags instead
(`values.py`, `substitute.py`)."""

from __future__ import annotations

from typing import Any

from querybase.query_processor.mbql.normalize import normalize_ref
from querybase.query_processor.parameters import InvalidParameter
from querybase.query_processor.parameters.dates import datetime_range, relative_interval
from querybase.query_processor.parameters.values import value_to_number


def apply_parameters(query: dict[str, Any], parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """`query` (normalized MBQL, changed in place) with a filter for each parameter that targets a field and
    has a value, added to the stage its target names."""
    for param in parameters:
        if param.get("value") is None or param.get("value") == []:
            continue
        condition = _filter(param)
        if condition is None:
            continue
        stage = _stage(query["query"], param.get("target"))
        current = stage.get("filter")
        stage["filter"] = ["and", current, condition] if current else condition
    return query


def _stage(inner: dict[str, Any], target: Any) -> dict[str, Any]:
    """The stage a target's `stage-number` names (negative counts from the last), else the last one."""
    stages = [inner]
    while isinstance(stages[0].get("source-query"), dict):
        stages.insert(0, stages[0]["source-query"])
    options = (
        target[2] if isinstance(target, list) and len(target) > 2 and isinstance(target[2], dict) else {}
    )
    number = options.get("stage-number")
    if isinstance(number, int) and -len(stages) <= number < len(stages):
        return stages[number]
    return stages[-1]


def _field_ref(target: Any) -> list[Any] | None:
    """The column a `["dimension", ref]` target names, in any spelling a client may send; None for
    template-tag targets."""
    if not isinstance(target, list) or len(target) < 2 or target[0] != "dimension":
        return None
    if isinstance(target[1], list) and target[1][:1] == ["template-tag"]:
        return None
    try:
        ref = normalize_ref(target[1])
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from exc
    return ref if isinstance(ref, list) and ref[:1] in (["field"], ["expression"]) else None


def _filter(param: dict[str, Any]) -> list[Any] | None:
    """An MBQL filter for a dashboard parameter value aimed at a field (Metabase's `params->mbql`)."""
    ref = _field_ref(param.get("target"))
    if ref is None:
        return None
    kind = str(param.get("type") or "category")
    section, _, op = kind.partition("/")
    values = param["value"] if isinstance(param["value"], list) else [param["value"]]
    if section == "number":
        values = [value_to_number(v) if isinstance(v, str) else v for v in values]
        flat: list[Any] = []
        for v in values:
            flat.extend(v if isinstance(v, list) else [v])
        values = flat
    if section == "date":
        return _date_filter(ref, str(values[0]))
    if section == "temporal-unit":
        return None
    options = param.get("options") if isinstance(param.get("options"), dict) else None
    if op in ("contains", "does-not-contain", "starts-with", "ends-with"):
        clauses = [[op, ref, v, options] if options else [op, ref, v] for v in values]
        if len(clauses) == 1:
            return clauses[0]
        return ["and" if op == "does-not-contain" else "or", *clauses]
    if op == "between":
        low, high = [*values, None, None][:2]
        if low is None:
            return ["<=", ref, high]
        if high is None:
            return [">=", ref, low]
        return ["between", ref, low, high]
    if op in (">=", "<="):
        return [op, ref, values[0]]
    if op == "!=":
        return ["!=", ref, *values]
    return ["=", ref, *values]


def _date_filter(ref: list[Any], value: str) -> list[Any]:
    """A date parameter's filter: a relative string becomes `time-interval` (or `relative-time-interval`),
    so it is anchored at the query's `now` in the results timezone when it compiles, as Metabase's
    `date-string->filter` does; an absolute one becomes its half-open range."""
    relative = relative_interval(value)
    if relative is not None:
        if relative.offset is not None:
            return ["relative-time-interval", ref, relative.amount, relative.unit, *relative.offset]
        options = [{"include-current": True}] if relative.include_current else []
        return ["time-interval", ref, relative.amount, relative.unit, *options]
    start, end = datetime_range(value, None)
    clauses = []
    if start is not None:
        clauses.append([">=", ref, start.isoformat()])
    if end is not None:
        clauses.append(["<", ref, end.isoformat()])
    if not clauses:
        raise InvalidParameter(f"Don't know how to parse date param '{value}' — invalid format")
    return clauses[0] if len(clauses) == 1 else ["and", *clauses]
