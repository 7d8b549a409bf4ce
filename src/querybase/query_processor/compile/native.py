"""A native query → one executable statement, and the `native_form` shown with its results.

The user's SQL is passed through as text: never parsed for bind markers (so `'10:30'`, `::int`, `?` and `%`
mean what they say on every engine). With template tags or parameters, `{{tags}}` and `[[optional]]`
clauses are substituted first (`parameters/`), values bound and field filters compiled by the dialect.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.engine.interfaces import BindTyping, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable, Generative
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from querybase.drivers.sql import SESSION_TIMEZONE
from querybase.query_processor.context import QueryContext
from querybase.query_processor.parameters.parse import parse
from querybase.query_processor.parameters.substitute import Piece, substitute
from querybase.query_processor.parameters.values import resolve


class NativeStatement(Generative, Executable, ClauseElement):
    """SQL text and expressions, compiled in order: text verbatim (only `%` doubled where the driver's
    paramstyle needs it), expressions by the dialect with their bound parameters."""

    __visit_name__ = "native_statement"
    # Each statement carries its own values; there is nothing to reuse between compilations.
    inherit_cache = False

    def __init__(self, pieces: list[Piece]) -> None:
        self.pieces = [literal_column(p) if isinstance(p, str) else p for p in pieces]


@compiles(NativeStatement)
def _compile_statement(element: NativeStatement, compiler: SQLCompiler, **kw: Any) -> str:
    return "".join(compiler.process(piece, **kw) for piece in element.pieces)


@dataclass(frozen=True)
class CompiledNative:
    statement: NativeStatement
    native: dict[str, Any]


def compile_native(ctx: QueryContext, query: dict[str, Any]) -> CompiledNative:
    """Compile a normalized native query. Like Metabase, the SQL is only parsed for `{{…}}` when the query has
    template tags or parameters; then its outer whitespace is trimmed."""
    native = query["native"]
    sql: str = native["query"]
    tags = native.get("template-tags") or {}
    parameters = query.get("parameters") or []
    if not tags and not parameters:
        return CompiledNative(_in_session_zone(ctx, NativeStatement([sql])), {"query": sql, "params": None})
    statement = NativeStatement(substitute(ctx, parse(sql), resolve(ctx, tags, parameters)))
    return CompiledNative(_in_session_zone(ctx, statement), native_form(ctx, statement))


def _in_session_zone(ctx: QueryContext, statement: NativeStatement) -> NativeStatement:
    """The statement, to be run with the session in the report timezone where the engine can set it."""
    if ctx.session_timezone is None:
        return statement
    return statement.execution_options(**{SESSION_TIMEZONE: ctx.session_timezone})


def native_form(ctx: QueryContext, statement: NativeStatement) -> dict[str, Any]:
    """The SQL with `?` placeholders and the values in order, as Metabase shows a native query."""
    compiled = statement.compile(dialect=_display_dialect(type(ctx.driver.dialect())))
    return {"query": str(compiled), "params": [compiled.params[name] for name in compiled.positiontup or []]}


@functools.cache
def _display_dialect(dialect_class: type[Dialect]) -> Dialect:
    """The driver's dialect with `?` placeholders and without cast suffixes on them (psycopg adds
    `::VARCHAR`), for showing the SQL rather than running it."""
    plain = type(dialect_class.__name__, (dialect_class,), {"bind_typing": BindTyping.NONE})
    return plain(paramstyle="qmark")
