"""Running a query: `prepare` (preprocess and compile; reads the app DB) then `run` (execute and
post-process; talks to the warehouse, lazily).

The split lets the API end its app-DB transaction before the warehouse is queried, so a slow query never
holds app-DB locks, and lets downloads stream rows straight from the cursor.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.sql import ClauseElement

from querybase.query_processor import columns as cols_meta
from querybase.query_processor import permissions, saved
from querybase.query_processor.compile.mbql import compile_query
from querybase.query_processor.compile.native import compile_native
from querybase.query_processor.context import (
    MAX_DOWNLOAD_ROWS,
    MAX_RESULTS,
    MAX_RESULTS_BARE_ROWS,
    QueryContext,
)
from querybase.query_processor.errors import InvalidQuery
from querybase.query_processor.execute import Batch, Execution
from querybase.query_processor.mbql.normalize import normalize
from querybase.query_processor.postprocess.format_rows import format_batches


@dataclass
class Prepared:
    """A query ready to run: its normalized form, the statement, and (for MBQL) its columns."""

    query: dict[str, Any]
    statement: ClauseElement
    cols: list[dict[str, Any]] | None
    native: dict[str, Any]
    row_limit: int | None
    ctx: QueryContext
    started: float = field(default_factory=time.monotonic)


@dataclass
class Result:
    cols: list[dict[str, Any]]
    batches: Iterator[Batch]
    native: dict[str, Any]
    execution: Execution

    def rows(self) -> Iterator[Sequence[Any]]:
        return itertools.chain.from_iterable(self.batches)


def normalize_query(query: dict[str, Any]) -> dict[str, Any]:
    try:
        return normalize(query)
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from exc


def row_limit(query: dict[str, Any], *, download: bool) -> int | None:
    """Metabase's default constraints: 2,000 rows of raw data and 10,000 aggregated rows for ad-hoc
    results, unless the query's `constraints` say otherwise; downloads get up to 1,048,575 rows."""
    if download:
        return MAX_DOWNLOAD_ROWS
    constraints = query.get("constraints") or {}
    inner = query.get("query") or {}
    aggregated = bool(inner.get("aggregation") or inner.get("breakout"))
    if aggregated:
        return int(constraints.get("max-results", MAX_RESULTS))
    return int(
        constraints.get("max-results-bare-rows", constraints.get("max-results", MAX_RESULTS_BARE_ROWS))
    )


def _native_form(ctx: QueryContext, statement: ClauseElement) -> dict[str, Any]:
    """The SQL as Metabase shows it, values written in (the statement itself runs with bound values).
    That takes a second compilation, so the text is remembered for the statement's shape and values:
    a dashboard or a script asks the same questions again and again."""
    key = _literal_sql_key(ctx.driver.sqlalchemy_driver, statement)
    with _LITERAL_SQL_LOCK:
        sql = _LITERAL_SQL.get(key) if key is not None else None
    if sql is not None:
        return {"query": sql, "params": None}
    dialect = ctx.driver.dialect()
    try:
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:
        compiled = statement.compile(dialect=dialect)
        return {"query": str(compiled), "params": list(compiled.params.values())}
    if key is not None:
        with _LITERAL_SQL_LOCK:
            _LITERAL_SQL[key] = sql
            if len(_LITERAL_SQL) > _LITERAL_SQL_SIZE:
                del _LITERAL_SQL[next(iter(_LITERAL_SQL))]
    return {"query": sql, "params": None}


# Literal SQL by (dialect, statement shape, values); the oldest entry goes first when it is full.
_LITERAL_SQL: dict[tuple[Any, ...], str] = {}
_LITERAL_SQL_SIZE = 512
_LITERAL_SQL_LOCK = threading.Lock()


def _literal_sql_key(dialect: str, statement: ClauseElement) -> tuple[Any, ...] | None:
    """SQLAlchemy's cache key of the statement (its shape; computed once per statement, and reused by
    SQLAlchemy's compiled cache when it runs) with the values bound into it, or None when a value cannot
    be part of a key."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return None
    values = tuple(_hashable(param.effective_value) for param in cache_key.bindparams)
    if _UNHASHABLE in values:
        return None
    return (dialect, cache_key.key, values)


_UNHASHABLE = object()


def _hashable(value: Any) -> Any:
    """The value as part of a key, with its type (1, 1.0 and True are equal keys but not equal SQL)."""
    if isinstance(value, (list, tuple)):
        items = tuple(_hashable(item) for item in value)
        return _UNHASHABLE if _UNHASHABLE in items else (type(value), items)
    try:
        hash(value)
    except TypeError:
        return _UNHASHABLE
    return (type(value), value)


def prepare(ctx: QueryContext, query: dict[str, Any], *, download: bool = False) -> Prepared:
    """Normalize, validate and compile `query` (still inside the request's app-DB transaction)."""
    normalized = normalize_query(query)
    permissions.check(ctx, normalized)
    limit = row_limit(normalized, download=download)
    if normalized["type"] == "native":
        native = normalized.get("native") or {}
        sql = native.get("query")
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidQuery("Native queries must have a non-blank query.")
        compiled = compile_native(ctx, normalized)
        return Prepared(normalized, compiled.statement, None, compiled.native, limit, ctx)
    expanded = saved.expand(ctx, normalized)
    ctx.metadata.preload(expanded)
    stage = compile_query(ctx, expanded)
    statement = stage.select
    if limit is not None:
        current = normalized["query"].get("limit")
        statement = stage.select.limit(min(limit, current) if current is not None else limit)
    cols = [c.meta for c in stage.columns]
    return Prepared(normalized, statement, cols, _native_form(ctx, statement), limit, ctx)


def run(prepared: Prepared) -> Result:
    """Execute on the warehouse; rows come lazily, in batches, formatted as Metabase serializes them."""
    ctx = prepared.ctx
    execution = Execution(ctx.driver, ctx.database.id, dict(ctx.database.details or {}), prepared.statement)
    batches = execution.batches()
    cols = prepared.cols
    if cols is None:
        # Native: the cursor names the columns; the first batch gives their types.
        head = next(batches, [])
        cols = cols_meta.native_columns(execution.names, head[:NATIVE_TYPE_SAMPLE])
        batches = itertools.chain([head] if head else [], batches)
        if prepared.row_limit is not None:
            batches = _limit(batches, prepared.row_limit)
    return Result(cols, format_batches(cols, batches, ctx.results_timezone), prepared.native, execution)


# How many first rows of a native query decide its columns' types.
NATIVE_TYPE_SAMPLE = 100


def _limit(batches: Iterator[Batch], limit: int) -> Iterator[Batch]:
    left = limit
    for batch in batches:
        if left <= 0:
            break
        yield batch if len(batch) <= left else batch[:left]
        left -= len(batch)
