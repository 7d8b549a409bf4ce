"""Saved content a query may refer to, expanded before compiling (Metabase's fetch-source-query and
expand-macros middleware): `card__N` sources, `segment` filters and `metric` aggregations of MBQL queries,
and the `card` and `snippet` template tags of native ones.

Everything is read from the app DB while the request's transaction is still open (`process.prepare`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.longs import parse_integer
from querybase.models.card import Card
from querybase.models.segment import LegacyMetric, Segment
from querybase.models.snippet import NativeQuerySnippet
from querybase.query_processor.compile.mbql import AGGREGATION_NAMES
from querybase.query_processor.context import QueryContext
from querybase.query_processor.errors import InvalidQuery
from querybase.query_processor.mbql.normalize import normalize
from querybase.query_processor.parameters import InvalidParameter

# The id of Metabase's "Saved Questions" virtual database.
SAVED_QUESTIONS_DB_ID = -1337
CARD_PREFIX = "card__"
# Nested cards, segments inside segments...: deeper than this is a cycle.
MAX_DEPTH = 20


def card_id_of(source_table: Any) -> int | None:
    """The card id of a `"card__N"` source table (ASCII digits, as Metabase's pattern has them), else
    None. Digits past any long stand for a card that does not exist (see `parse_integer`)."""
    if isinstance(source_table, str) and source_table.startswith(CARD_PREFIX):
        rest = source_table.removeprefix(CARD_PREFIX)
        if rest.isascii() and rest.isdigit():
            return parse_integer(rest)
    return None


def source_card_id(query: Any) -> int | None:
    """The first `card__N` an MBQL query reads (its innermost source), for queries sent to the Saved
    Questions database."""
    if not isinstance(query, dict):
        return None
    inner = query.get("query")
    if not isinstance(inner, dict):
        try:
            inner = normalize(query).get("query")
        except ValueError:
            return None
    while isinstance(inner, dict):
        card_id = card_id_of(inner.get("source-table"))
        if card_id is not None:
            return card_id
        inner = inner.get("source-query")
    return None


def saved_questions_database_id(db: Session, query: Any) -> int | None:
    """The real database of a query sent with `database: -1337`: its source card's."""
    card_id = source_card_id(query)
    card = db.get(Card, card_id) if card_id is not None else None
    return card.database_id if card is not None else None


def load_card(ctx: QueryContext, card_id: Any) -> Card:
    """A card of the query's database (archived cards still run, as in Metabase)."""
    card = ctx.db.get(Card, card_id) if isinstance(card_id, int) and not isinstance(card_id, bool) else None
    if card is None:
        raise InvalidQuery(f"Card {card_id} does not exist.")
    if card.database_id != ctx.database.id:
        raise InvalidQuery(f"Card {card_id} does not exist, or is from a different Database.")
    return card


def card_query(card: Card) -> dict[str, Any]:
    """The card's `dataset_query` (legacy or MBQL 5, as saved) in normalized legacy form."""
    try:
        return normalize(card.dataset_query)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidQuery(f"Card {card.id} does not have a valid query: {exc}") from exc


# ---------------------------------------------------------------------------------------------------
# MBQL


def expand(ctx: QueryContext, query: dict[str, Any]) -> dict[str, Any]:
    """A normalized MBQL query with its saved sources, segments and metrics inlined."""
    return {**query, "query": _expand_stage(ctx, query["query"], 0)}


def _expand_stage(ctx: QueryContext, inner: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise InvalidQuery("Circular reference: a saved question, segment or metric refers to itself.")
    out = dict(inner)
    card_id = card_id_of(out.get("source-table"))
    if card_id is not None:
        del out["source-table"]
        out["source-query"], metadata = _card_source(ctx, card_id, depth)
        if metadata:
            out["source-metadata"] = metadata
            out["source-card-metadata"] = True
    elif isinstance(out.get("source-query"), dict) and "native" not in out["source-query"]:
        out["source-query"] = _expand_stage(ctx, out["source-query"], depth + 1)
    if out.get("joins"):
        out["joins"] = [_expand_stage(ctx, join, depth + 1) for join in out["joins"]]
    if out.get("aggregation"):
        expanded = [_expand_metric(ctx, out, clause, depth) for clause in out["aggregation"]]
        out["aggregation"] = [_expand_segments(ctx, clause, depth) for clause in expanded]
    if out.get("filter"):
        out["filter"] = _expand_segments(ctx, out["filter"], depth)
    return out


def _card_source(ctx: QueryContext, card_id: int, depth: int) -> tuple[dict[str, Any], list[Any] | None]:
    """The card's query as a source query, and its saved result metadata."""
    card = load_card(ctx, card_id)
    query = card_query(card)
    metadata = card.result_metadata if isinstance(card.result_metadata, list) else None
    if query["type"] == "native":
        native = query.get("native") or {}
        return {"native": native.get("query"), "template-tags": native.get("template-tags") or {}}, metadata
    return _expand_stage(ctx, query["query"], depth + 1), metadata


def _definition(ctx: QueryContext, definition: Any) -> dict[str, Any]:
    """A segment's or legacy metric's definition (an inner MBQL query) in normalized form."""
    if not isinstance(definition, dict):
        return {}
    wrapped = definition if "stages" in definition or "query" in definition else None
    try:
        if wrapped is not None:
            return normalize({"database": ctx.database.id, **wrapped}).get("query") or {}
        return normalize({"database": ctx.database.id, "type": "query", "query": definition})["query"]
    except ValueError:
        return {}


def _expand_segments(ctx: QueryContext, clause: Any, depth: int) -> Any:
    if not isinstance(clause, list) or not clause or not isinstance(clause[0], str):
        return clause
    if clause[0] == "segment" and len(clause) > 1:
        segment_id = clause[1]
        segment = ctx.db.get(Segment, segment_id) if isinstance(segment_id, int) else None
        table = ctx.metadata.table(segment.table_id) if segment is not None else None
        inner = _definition(ctx, segment.definition) if segment is not None else {}
        if table is None or table.db_id != ctx.database.id or not inner.get("filter"):
            raise InvalidQuery(f"Segment {segment_id} does not exist, or is invalid.")
        if depth > MAX_DEPTH:
            raise InvalidQuery("Circular reference: a segment refers to itself.")
        return _expand_segments(ctx, inner["filter"], depth + 1)
    return [clause[0], *[_expand_segments(ctx, arg, depth) for arg in clause[1:]]]


def _expand_metric(ctx: QueryContext, stage: dict[str, Any], clause: Any, depth: int) -> Any:
    """`["metric", id]` (possibly inside `aggregation-options`): the metric's aggregation, named after the
    metric, made conditional on the metric's filter (which narrows that aggregation only, never the
    query's other ones)."""
    if not isinstance(clause, list) or not clause:
        return clause
    if clause[0] == "aggregation-options" and len(clause) > 1:
        inner = _expand_metric(ctx, stage, clause[1], depth)
        if inner is not clause[1] and inner[0] == "aggregation-options":
            inner = inner[1]
        return ["aggregation-options", inner, *clause[2:]]
    if clause[0] != "metric" or len(clause) < 2:
        return clause
    metric_id = clause[1]
    if not isinstance(metric_id, int) or isinstance(metric_id, bool):
        raise InvalidQuery(f"Metric {metric_id!r} does not exist.")
    candidates = _metric_definitions(ctx, metric_id)
    if not candidates:
        raise InvalidQuery(f"Metric {metric_id} does not exist.")
    fitting = [c for c in candidates if c[2] == stage.get("source-table")]
    if not fitting:
        raise InvalidQuery(f"Metric {metric_id} is not based on the query's source table.")
    name, definition, _ = fitting[0]
    aggregations = definition.get("aggregation") or []
    if len(aggregations) != 1:
        raise InvalidQuery(f"Metric {metric_id} does not have exactly one aggregation.")
    aggregation, options = aggregations[0], {}
    if aggregation[0] == "aggregation-options":
        aggregation, options = aggregation[1], aggregation[2] or {}
    column_name = options.get("name") or AGGREGATION_NAMES.get(aggregation[0])
    if definition.get("filter"):
        condition = _expand_segments(ctx, definition["filter"], depth + 1)
        aggregation = _conditional(aggregation, condition)
    named = {"name": column_name} if column_name else {}
    return ["aggregation-options", aggregation, {**named, "display-name": name}]


def _metric_definitions(ctx: QueryContext, metric_id: int) -> list[tuple[str, dict[str, Any], Any]]:
    """(name, definition, source table) of what `["metric", id]` may mean: a legacy (v1) metric from
    `/api/metric`, then a card of type metric of the query's database. Their ids are counted apart, so the
    caller keeps the one based on the query's table (the legacy metric when both are)."""
    found = []
    legacy = ctx.db.get(LegacyMetric, metric_id)
    if legacy is not None:
        definition = _definition(ctx, legacy.definition)
        found.append((legacy.name, definition, definition.get("source-table", legacy.table_id)))
    card = ctx.db.get(Card, metric_id)
    if card is not None and card.type == "metric" and card.database_id == ctx.database.id:
        definition = card_query(card).get("query") or {}
        found.append((card.name, definition, definition.get("source-table")))
    return found


def _conditional(clause: Any, condition: Any) -> Any:
    """An aggregation that only counts the rows matching `condition` (Metabase's metric expansion): `count`
    sums 1 for each, `count-where`/`sum-where`/`distinct-where` add it to their own condition, `share` is
    the share among those rows, and the others aggregate their argument only where it holds (a `case`
    without a default); arithmetic over aggregations applies it to each."""
    if not isinstance(clause, list) or not clause or not isinstance(clause[0], str):
        return clause
    name, args = clause[0], clause[1:]
    if name in ("count", "cum-count") and not args:
        return ["sum" if name == "count" else "cum-sum", ["case", [[condition, 1]], {"default": 0}]]
    if name in ("count", "cum-count"):
        return ["count" if name == "count" else "cum-count", ["case", [[condition, args[0]]]]]
    if name in ("count-where", "share") and args:
        both = _and(args[0], condition)
        if name == "count-where":
            return ["count-where", both]
        return ["/", ["count-where", both], ["count-where", condition]]
    if name in ("sum-where", "distinct-where") and len(args) > 1:
        return [name, args[0], _and(args[1], condition)]
    if name in CONDITIONAL_ARGUMENT and args:
        return [name, ["case", [[condition, args[0]]]], *args[1:]]
    if name == "aggregation-options" and args:
        return [name, _conditional(args[0], condition), *args[1:]]
    if name in ("+", "-", "*", "/"):
        return [name, *[_conditional(arg, condition) for arg in args]]
    return clause


def _and(first: Any, second: Any) -> list[Any]:
    """Two conditions joined with `and`, flattening either one that is already an `and`."""
    parts = [*(first[1:] if _is_and(first) else [first]), *(second[1:] if _is_and(second) else [second])]
    return ["and", *parts]


def _is_and(clause: Any) -> bool:
    return isinstance(clause, list) and bool(clause) and clause[0] == "and"


# Aggregations whose first argument is what they aggregate: a metric's filter makes it a `case`.
CONDITIONAL_ARGUMENT = frozenset(
    {"avg", "cum-sum", "distinct", "max", "median", "min", "percentile", "stddev", "sum", "var"}
)


# ---------------------------------------------------------------------------------------------------
# Native template tags


def snippet(ctx: QueryContext, tag: dict[str, Any]) -> NativeQuerySnippet:
    """A `snippet` tag's snippet: by `snippet-id`, or by name when the tag has no id."""
    snippet_id, name = tag.get("snippet-id"), tag.get("snippet-name")
    if snippet_id is None:
        found = ctx.db.scalars(select(NativeQuerySnippet).where(NativeQuerySnippet.name == name)).first()
        if found is None:
            raise InvalidParameter("Unable to resolve Snippet: missing `:snippet-id`")
        return found
    found = ctx.db.get(NativeQuerySnippet, snippet_id) if isinstance(snippet_id, int) else None
    if found is None:
        shown = "nil" if name is None else f'"{name}"'
        raise InvalidParameter(f"Snippet {snippet_id} {shown} not found.")
    return found
