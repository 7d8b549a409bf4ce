"""`/api/dataset`: run ad-hoc queries (MBQL or native) and download their results."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from querybase import jsonutil
from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SettingsDep
from querybase.api.field import field_values_json
from querybase.api.routing import MetabaseRoute, form_or_json, reads_only
from querybase.api.schema import PositiveInt
from querybase.api.table import query_metadata as table_query_metadata
from querybase.errors import NO_SUCH_ENDPOINT, BadRequest, NotFound, check_403
from querybase.jsonutil import JSONResponse
from querybase.models.base import utcnow
from querybase.models.database import Field, Table, database_json
from querybase.models.user import User
from querybase.permissions import checks
from querybase.permissions.data import can_read_database
from querybase.query_processor import process, streaming
from querybase.query_processor.answers import failed_body, query_context, run_to_json
from querybase.query_processor.errors import QueryError
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["dataset"])


@router.post("", status_code=202, responses=shapes.ok(shapes.QueryResult, 202))
@reads_only
def run_query(
    user: CurrentUser, db: DbSession, settings: SettingsDep, query: dict[str, Any] = Body(...)
) -> JSONResponse:
    """Run an ad-hoc query. Answers 202 whether the query succeeds or fails, as Metabase does, once the
    database and the question the query is built on are known to be visible to the user."""
    ctx = query_context(db, user, settings, query, "ad-hoc")
    checks.check_adhoc_query(db, user, query)
    return JSONResponse(run_to_json(db, ctx, query, "ad-hoc"), status_code=202)


@router.post("/native", responses=shapes.ok(shapes.NativeForm))
@reads_only
def compile_native(
    user: CurrentUser, db: DbSession, settings: SettingsDep, query: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """The SQL an MBQL query compiles to: `{"query": ..., "params": ...}`, for users with native access to its
    database who may run it."""
    ctx = query_context(db, user, settings, query, "ad-hoc")
    try:
        checks.check_native_compile(db, user, process.normalize_query(query), ctx.database.id)
        prepared = process.prepare(ctx, query)
    except QueryError as error:
        raise BadRequest({"message": error.message, "error_type": error.error_type}) from None
    return prepared.native


def _table_ids(inner: Any) -> set[int]:
    """The tables an MBQL query reads: its source tables and joined tables, at every stage."""
    ids: set[int] = set()
    if not isinstance(inner, dict):
        return ids
    if isinstance(inner.get("source-table"), int):
        ids.add(inner["source-table"])
    ids |= _table_ids(inner.get("source-query"))
    for join in inner.get("joins") or []:
        ids |= _table_ids(join)
    return ids


@router.post("/query_metadata", responses=shapes.ok(shapes.QueryMetadata))
@reads_only
def get_query_metadata(
    user: CurrentUser, db: DbSession, settings: SettingsDep, query: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """What a client needs to show a query: its database and the metadata of the tables it reads."""
    ctx = query_context(db, user, settings, query, "ad-hoc")
    try:
        normalized = process.normalize_query(query)
    except QueryError as error:
        raise BadRequest({"message": error.message, "error_type": error.error_type}) from None
    tables = [
        table_query_metadata(db, table, user)
        for table_id in sorted(_table_ids(normalized.get("query")))
        if (table := db.get(Table, table_id)) is not None
        and table.db_id == ctx.database.id
        and checks.can_read_table(db, user, table)
    ]
    readable = can_read_database(db, user, ctx.database.id)
    return {
        "databases": [database_json(ctx.database, user)] if readable else [],
        "tables": tables,
        "fields": [],
        "cards": [],
        "dashboards": [],
        "snippets": [],
    }


async def _export_request(request: Request) -> tuple[Any, bool, dict[str, Any] | None]:
    """The query, `format_rows` and `visualization_settings` of a download: a form (`query` as a JSON
    string, as Metabase's own frontend sends it) or a JSON body."""
    fields = await form_or_json(request)

    def as_json(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return jsonutil.loads(value)
            except ValueError:
                raise BadRequest({"errors": {"query": "value must be a valid JSON string."}}) from None
        return value

    settings = as_json(fields.get("visualization_settings"))
    format_rows = str(fields.get("format_rows", "false")).lower() == "true"
    return as_json(fields.get("query")), format_rows, settings if isinstance(settings, dict) else None


class ParameterValuesBody(BaseModel):
    parameter: dict[str, Any]
    field_ids: list[PositiveInt] | None = None


def _parameter_values(
    db: Session, body: ParameterValuesBody, needle: str | None, user: User | None = None
) -> dict[str, Any]:
    """A filter widget's choices: a static list from the parameter, or the cached values of its fields,
    merged; with `needle`, only those containing it (case-insensitively). With a `user`, fields they may
    not see are refused (403); public links and embeds pass none."""
    parameter = body.parameter
    if parameter.get("values_source_type") == "static-list":
        config = parameter.get("values_source_config") or {}
        values = [v if isinstance(v, list) else [v] for v in config.get("values") or []]
        more = False
    else:
        values, seen, more = [], set(), False
        for field_id in body.field_ids or []:
            field = db.get(Field, field_id)
            if field is None:
                continue
            if user is not None:
                check_403(checks.can_read_field(db, user, field))
            cached = field_values_json(db, field)
            more = more or cached["has_more_values"]
            for pair in cached["values"]:
                if repr(pair[0]) not in seen:
                    seen.add(repr(pair[0]))
                    values.append(pair)
    if needle is not None:
        lowered = needle.lower()
        values = [pair for pair in values if any(lowered in str(v).lower() for v in pair if v is not None)]
    return {"values": values, "has_more_values": more}


@router.post("/parameter/values", responses=shapes.ok(shapes.ParameterValues))
def get_parameter_values(body: ParameterValuesBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The choices of a parameter's widget: `{"values": [[value], ...], "has_more_values": bool}`."""
    return _parameter_values(db, body, None, user)


@router.post("/parameter/search/{query}", responses=shapes.ok(shapes.ParameterValues))
def search_parameter_values(
    query: str, body: ParameterValuesBody, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """The choices of a parameter's widget that contain `query`."""
    return _parameter_values(db, body, query, user)


@router.post("/{export_format}", responses=shapes.download(), openapi_extra=shapes.QUERY_DOWNLOAD_BODY)
@reads_only
async def download_query(
    export_format: str, request: Request, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> Response:
    """Run a query and stream its results as `csv`, `json` or `xlsx` (up to 1,048,575 rows)."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    query, format_rows, visualization_settings = await _export_request(request)
    return await run_in_threadpool(
        _start_download, db, user, settings, query, export_format, format_rows, visualization_settings
    )


def _start_download(
    db: Session,
    user: User,
    settings: Settings,
    query: Any,
    export_format: str,
    format_rows: bool,
    visualization_settings: dict[str, Any] | None,
) -> Response:
    ctx = query_context(db, user, settings, query, f"{export_format}-download")
    checks.check_adhoc_query(db, user, query)
    started, started_at = time.monotonic(), utcnow()
    try:
        prepared = process.prepare(ctx, query, download=True)
        db.commit()
        result = process.run(prepared)
    except QueryError as error:
        return JSONResponse(failed_body(query, error, started, started_at), status_code=400)
    body = streaming.stream(
        export_format,
        result.cols,
        result.batches,
        format_rows=format_rows,
        visualization_settings=visualization_settings,
    )
    return StreamingResponse(body, headers=streaming.download_headers(export_format))
