"""Answers to questions, as the API and subscriptions give them: the query's context (its database and
driver), Metabase's completed or failed body, and the runs of a saved question and of a dashboard card
with their parameters. No HTTP here: the `/api/dataset`, `/api/card`, `/api/dashboard`, public and
embedding endpoints and the delivery of subscriptions and alerts all come through these functions."""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Any

from sqlalchemy.orm import Session

from querybase import jsonutil
from querybase.api.schema import pr_str
from querybase.drivers import get_driver
from querybase.errors import BadRequest, NotFound
from querybase.models.base import utcnow
from querybase.models.card import Card
from querybase.models.dashboard import Dashboard, DashboardCard, template_tags
from querybase.models.database import Database
from querybase.models.user import User
from querybase.query_processor import permissions, process, saved
from querybase.query_processor.context import Metadata, QueryContext
from querybase.query_processor.errors import InvalidQuery, QueryError
from querybase.query_processor.mbql.normalize import normalize
from querybase.query_processor.parameters.dashboard import apply_temporal_units
from querybase.query_processor.parameters.mbql import apply_parameters
from querybase.settings.registry import Settings


def query_context(
    db: Session, user: User | None, settings: Settings, query: Any, context: str
) -> QueryContext:
    """The context for running `query`: its database (404 when unknown) and driver."""
    if not isinstance(query, dict):
        raise BadRequest({"errors": {"query": "value must be a map."}})
    database_id = query.get("database")
    if not isinstance(database_id, int) or isinstance(database_id, bool):
        raise BadRequest(
            {
                "errors": {"database": "value must be an integer greater than zero."},
                "specific-errors": {"database": ["value must be an integer greater than zero."]},
            }
        )
    if database_id == saved.SAVED_QUESTIONS_DB_ID:
        # A query of the "Saved Questions" virtual database runs on its source card's database.
        database_id = saved.saved_questions_database_id(db, query)
    database = db.get(Database, database_id) if database_id is not None else None
    driver = get_driver(database.engine) if database is not None else None
    if database is None or driver is None:
        raise NotFound()
    return QueryContext(
        db=db,
        database=database,
        driver=driver,
        user=user,
        metadata=Metadata(db, database.id),
        context=context,
        start_of_week=str(settings.get("start-of-week") or "sunday"),
        timezone=str(settings.get("report-timezone") or "UTC"),
    )


def failed_body(query: Any, error: QueryError, started: float, started_at: dt.datetime) -> dict[str, Any]:
    """Metabase's body for a query that failed (sent with the same status as a success)."""
    return {
        "status": "failed",
        "class": type(error).__name__,
        "error": error.message,
        "error_type": error.error_type,
        "stacktrace": [],
        "json_query": query,
        "database_id": query.get("database") if isinstance(query, dict) else None,
        "started_at": started_at,
        "running_time": int((time.monotonic() - started) * 1000),
        "row_count": 0,
        "via": [{"status": "failed", "error": error.message, "error_type": error.error_type}],
        "data": {"rows": [], "cols": []},
    }


def completed_body(
    query: dict[str, Any],
    result: process.Result,
    rows: list[list[Any]],
    started: float,
    started_at: dt.datetime,
    context: str,
    ctx: QueryContext,
) -> dict[str, Any]:
    return {
        "data": {
            "rows": rows,
            "cols": result.cols,
            "native_form": result.native,
            "results_timezone": ctx.results_timezone,
            "results_metadata": {"columns": result.cols},
            "insights": None,
            "requested_timezone": ctx.timezone,
            "format-rows?": True,
            "is_sandboxed": False,
        },
        "database_id": ctx.database.id,
        "started_at": started_at,
        "json_query": query,
        "average_execution_time": None,
        "status": "completed",
        "context": context,
        "row_count": len(rows),
        "running_time": int((time.monotonic() - started) * 1000),
    }


def run_to_json(db: Session, ctx: QueryContext, query: Any, context: str) -> dict[str, Any]:
    """Run a query for a JSON answer; failures become Metabase's failed body, never an exception."""
    started, started_at = time.monotonic(), utcnow()
    try:
        prepared = process.prepare(ctx, query)
        # The app-DB transaction ends before the warehouse is queried.
        db.commit()
        result = process.run(prepared)
        rows = list(result.rows())
    except QueryError as error:
        return failed_body(query, error, started, started_at)
    return completed_body(query, result, rows, started, started_at, context, ctx)


def card_query(card: Card, parameters: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The query to run for `card` with `parameters` applied: a native query takes them as they are
    (template tags), an MBQL query gets a filter per parameter that has a value."""
    query = jsonutil.loads(jsonutil.dumps(card.dataset_query))
    if not parameters:
        return query
    if card.query_type == "native":
        return {**query, "parameters": parameters}
    return apply_parameters(normalize(query), parameters)


def run_card(
    db: Session,
    user: User | None,
    settings: Settings,
    card: Card,
    parameters: list[dict[str, Any]] | None,
    context: str,
    constraints: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card's JSON answer with `parameters` applied (Metabase's failed body when it cannot run). Public
    links and embeds run cards this way too, without a user; `constraints` replace the default row limits
    (embed previews show at most 2,000 rows)."""
    ctx = query_context(db, user, settings, card.dataset_query, context)
    # A saved question runs for whoever may read it (its collection decides, not ad-hoc data permissions).
    ctx.info[permissions.CARD_ID] = card.id
    started, started_at = time.monotonic(), utcnow()
    try:
        query = card_query(card, parameters)
    except (QueryError, ValueError) as error:
        failure = error if isinstance(error, QueryError) else InvalidQuery(str(error))
        return failed_body(card.dataset_query, failure, started, started_at)
    if constraints is not None:
        query = {**query, "constraints": constraints}
    return run_to_json(db, ctx, query, context)


def dashboard_parameters(
    dashboard: Dashboard, dashcard: DashboardCard, card: Card, sent: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The card's parameters for this run: each dashboard parameter with a value (sent, else its default)
    aimed at the card's target from the dashcard's mappings."""
    by_id = {p["id"]: p for p in dashboard.parameters or [] if isinstance(p, dict) and "id" in p}
    values: dict[str, dict[str, Any]] = {}
    for param in sent:
        param_id = param.get("id")
        if param_id not in by_id:
            raise BadRequest(f"Dashboard does not have a parameter with ID {pr_str(param_id)}.")
        values[param_id] = param
    resolved = []
    for param_id, declared in by_id.items():
        given = values.get(param_id)
        value = given.get("value") if given is not None else declared.get("default")
        if value is None or value == []:
            continue
        for mapping in dashcard.parameter_mappings or []:
            if mapping.get("parameter_id") != param_id or mapping.get("card_id", card.id) != card.id:
                continue
            resolved.append(
                {
                    "id": param_id,
                    "type": (given or {}).get("type") or declared.get("type"),
                    "value": value,
                    "target": mapping.get("target"),
                    "options": declared.get("options"),
                }
            )
    return resolved


def dashcard_query(
    db: Session, dashboard: Dashboard, dashcard: DashboardCard, card: Card, sent: list[dict[str, Any]]
) -> dict[str, Any]:
    """The card's query with the dashboard's parameter values applied."""
    query = process.normalize_query(copy.deepcopy(card.dataset_query))
    parameters = dashboard_parameters(dashboard, dashcard, card, sent)
    if query.get("type") == "native":
        tags = template_tags(query)
        query["parameters"] = [p for p in parameters if _tag_target(p["target"]) in tags]
        return query
    return apply_temporal_units(db, apply_parameters(query, parameters), parameters)


def _tag_target(target: Any) -> str | None:
    ref = target[1] if isinstance(target, list) and len(target) >= 2 else None
    if isinstance(ref, list) and len(ref) == 2 and ref[0] == "template-tag" and isinstance(ref[1], str):
        return ref[1]
    return None


def run_dashboard_card(
    db: Session,
    user: User | None,
    settings: Settings,
    found: tuple[Dashboard, DashboardCard, Card],
    sent: list[dict[str, Any]],
    context: str,
) -> dict[str, Any]:
    """A dashboard card's JSON answer with the dashboard's filter values `sent` (Metabase's failed body when
    it cannot run). Public links and embeds run dashboard cards this way too, without a user."""
    dashboard, dashcard, card = found
    ctx = query_context(db, user, settings, card.dataset_query, context)
    ctx.info[permissions.CARD_ID] = card.id
    started, started_at = time.monotonic(), utcnow()
    try:
        query = dashcard_query(db, dashboard, dashcard, card, sent)
    except QueryError as error:
        return failed_body(card.dataset_query, error, started, started_at)
    answer = run_to_json(db, ctx, query, context)
    answer["card_id"] = card.id
    answer["dashboard_id"] = dashboard.id
    return answer
