"""Saved content a query may refer to, expanded before compiling (Metabase's fetch-source-query and
expand-macros middleware): `card__N` sources, `segment` filters and `metric` aggregations of MBQL queries,
and the `card` and `snippet` template tags of native ones.

Everything is read from the app DB while the request's transaction is still open (`process.prepare`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.models.card import Card
from querybase.models.segment import LegacyMetric, Segment
from querybase.models.snippet import NativeQuerySnippet
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
    """The card id of a `"card__N"` source table, else None."""
    if isinstance(source_table, str) and source_table.startswith(CARD_PREFIX):
        rest = source_table.removeprefix(CARD_PREFIX)
        if rest.isdigit():
            return int(rest)
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
    filters = [out["filter"]] if out.get("filter") else []
    if out.get("aggregation"):
        aggregations = []
        for clause in out["aggregation"]:
            aggregation, metric_filter = _expand_metric(ctx, out, clause, depth)
            aggregations.append(aggregation)
            if metric_filter is not None:
                filters.append(metric_filter)
        out["aggregation"] = aggregations
    if filters:
        combined = filters[0] if len(filters) == 1 else ["and", *filters]
        out["filter"] = _expand_segments(ctx, combined, depth)
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


def _expand_metric(
    ctx: QueryContext, stage: dict[str, Any], clause: Any, depth: int
) -> tuple[Any, Any | None]:
    """`["metric", id]` (possibly inside `aggregation-options`): the metric's aggregation, named after the
    metric, and the filter it needs. A legacy (v1) metric is looked up first; then a card of type metric."""
    if not isinstance(clause, list) or not clause:
        return clause, None
    if clause[0] == "aggregation-options" and len(clause) > 1:
        inner, metric_filter = _expand_metric(ctx, stage, clause[1], depth)
        if inner is not clause[1] and inner[0] == "aggregation-options":
            inner = inner[1]
        return ["aggregation-options", inner, *clause[2:]], metric_filter
    if clause[0] != "metric" or len(clause) < 2:
        return clause, None
    metric_id = clause[1]
    if not isinstance(metric_id, int) or isinstance(metric_id, bool):
        raise InvalidQuery(f"Metric {metric_id!r} does not exist.")
    legacy = ctx.db.get(LegacyMetric, metric_id)
    if legacy is not None:
        definition = _definition(ctx, legacy.definition)
        name, source = legacy.name, definition.get("source-table", legacy.table_id)
    else:
        card = ctx.db.get(Card, metric_id)
        if card is None or card.type != "metric" or card.database_id != ctx.database.id:
            raise InvalidQuery(f"Metric {metric_id} does not exist.")
        query = card_query(card)
        definition = query.get("query") or {}
        name, source = card.name, definition.get("source-table")
    aggregations = definition.get("aggregation") or []
    if len(aggregations) != 1:
        raise InvalidQuery(f"Metric {metric_id} does not have exactly one aggregation.")
    if stage.get("source-table") != source:
        raise InvalidQuery(f"Metric {metric_id} is not based on the query's source table.")
    aggregation = aggregations[0]
    if aggregation[0] == "aggregation-options":
        aggregation = aggregation[1]
    metric_filter = definition.get("filter")
    if metric_filter is not None:
        metric_filter = _expand_segments(ctx, metric_filter, depth + 1)
    return ["aggregation-options", aggregation, {"display-name": name}], metric_filter


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
