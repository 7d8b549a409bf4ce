"""`/api/public`: questions and dashboards behind a public link, for anyone who has the link.

The link's UUID is the only credential. Answers carry the public-safe part of a card or dashboard (no creator,
collection, database details or other cards) and query results trimmed to rows and columns. Every failure is
Metabase's generic public error: 404 `Not found.` for an unknown or revoked link, 400 `An error occurred.` for
anything else, public sharing switched off included.

Queries run through the code of `POST /api/card/:id/query` and the dashboard card endpoints (`run_card`,
`export_card`, `run_dashboard_card`, `export_dashboard_card` in `api/card.py` and `api/dashboard.py`),
without a user. The helpers
that shape public answers are shared with `api/embed.py` and `api/preview_embed.py`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.card import export_card
from querybase.api.dashboard import (
    _export_parameters,
    dashboard_param_values,
    dashcard_and_card,
    export_dashboard_card,
)
from querybase.api.dataset import ParameterValuesBody, _parameter_values
from querybase.api.deps import DbSession, SettingsDep
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue, NonBlankString
from querybase.embedding import GENERIC_QUERY_ERROR, SHOWN_IN_EMBEDS, check_public_sharing
from querybase.errors import NO_SUCH_ENDPOINT, ApiError, BadRequest, NotFound, check_404
from querybase.jsonutil import JSONResponse
from querybase.models.card import Card
from querybase.models.dashboard import (
    Dashboard,
    DashboardCard,
    dashboard_cards,
    dashboard_tabs,
    param_fields,
    series_card_ids,
    tab_json,
    target_field_id,
    template_tags,
)
from querybase.models.database import Field, field_json
from querybase.query_processor import streaming
from querybase.query_processor.answers import run_card, run_dashboard_card
from querybase.settings.registry import Settings

log = logging.getLogger(__name__)

GENERIC_ERROR = "An error occurred."
# Metabase's UUID route pattern: a malformed UUID matches no endpoint at all.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OEMBED_MAX_WIDTH, _OEMBED_MAX_HEIGHT = 1024, 800


class PublicRoute(MetabaseRoute):
    """Metabase's `+public-exceptions`: whatever goes wrong, an anonymous caller learns only "not found"
    (404) or "an error occurred" (400), never a message, a stack or a query."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def public_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                if error.status == 404:
                    raise (error if error.body == NO_SUCH_ENDPOINT else NotFound()) from None
                raise BadRequest(GENERIC_ERROR) from None
            except Exception:
                log.exception("public endpoint %s failed", request.url.path)
                raise BadRequest(GENERIC_ERROR) from None

        return public_handler


router = APIRouter(route_class=PublicRoute, tags=["public"])


# --- What the public sees -----------------------------------------------------------------------------------


def _public_query(card: Card) -> dict[str, Any]:
    """Only the kind of query, and a native query's template tags: never its SQL, tables or database."""
    if card.query_type != "native":
        return {"type": "query"}
    tags = template_tags(card.dataset_query)
    return {"type": "native", "native": {"template-tags": tags} if tags else {}}


def _tag_parameter(tag: dict[str, Any]) -> dict[str, Any] | None:
    """A native query's template tag as the parameter Metabase derives from it (none for card and snippet
    tags, or field filters without a widget)."""
    tag_type, widget = tag.get("type"), tag.get("widget-type")
    if tag_type not in ("text", "number", "date", "boolean") and not (
        tag_type == "dimension" and widget and widget != "none"
    ):
        return None
    default_type = {"date": "date/single", "number": "number/="}.get(tag_type, "category")
    kind = "dimension" if tag_type == "dimension" else "variable"
    return {
        "id": tag.get("id"),
        "type": widget or default_type,
        "target": [kind, ["template-tag", tag.get("name")]],
        "name": tag.get("display-name") or tag.get("display_name") or tag.get("name"),
        "slug": tag.get("name"),
        "default": tag.get("default"),
        "required": bool(tag.get("required")),
    }


def card_parameters(card: Card) -> list[dict[str, Any]]:
    """The card's parameters merged with those its template tags imply (the tag's details win), in the
    card's order, then the tags the card's parameters lack."""
    merged: dict[Any, dict[str, Any]] = {}
    for parameter in card.parameters or []:
        if isinstance(parameter, dict):
            merged[parameter.get("id")] = dict(parameter)
    for tag in template_tags(card.dataset_query).values():
        derived = _tag_parameter(tag) if isinstance(tag, dict) else None
        if derived is not None:
            merged[derived["id"]] = {**merged.get(derived["id"], {}), **derived}
    return list(merged.values())


def _card_param_fields(db: Session, card: Card, parameters: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fields behind the card's field parameters, by parameter id (null when there are none)."""
    fields: dict[str, Any] = {}
    for parameter in parameters:
        field_id = target_field_id(parameter.get("target"), card.dataset_query)
        field = db.get(Field, field_id) if field_id is not None else None
        if field is not None and isinstance(parameter.get("id"), str):
            fields[parameter["id"]] = [field_json(field)]
    return fields or None


def public_card_json(
    db: Session, card: Card, parameters: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The public face of a card: what it is called and how it is drawn, and its parameters."""
    parameters = card_parameters(card) if parameters is None else parameters
    return {
        "id": card.id,
        "name": card.name,
        "description": card.description,
        "display": card.display,
        "visualization_settings": card.visualization_settings or {},
        "dataset_query": _public_query(card),
        "parameters": parameters,
        "param_fields": _card_param_fields(db, card, parameters),
    }


def _dashcard_card_json(card: Card) -> dict[str, Any]:
    return {
        "id": card.id,
        "name": card.name,
        "description": card.description,
        "display": card.display,
        "visualization_settings": card.visualization_settings or {},
        "parameters": card.parameters or [],
        "entity_id": card.entity_id,
        "dataset_query": _public_query(card),
    }


def _live_card(db: Session, card_id: int | None) -> Card | None:
    card = db.get(Card, card_id) if card_id is not None else None
    return card if card is not None and not card.archived else None


def live_card(db: Session, card_id: int) -> Card:
    """A card that is not archived, or 404: a dashboard shows no archived question."""
    return check_404(_live_card(db, card_id))


def _public_dashcard(db: Session, dashcard: DashboardCard) -> dict[str, Any] | None:
    """A dashboard card as the public sees it; none when its question was archived."""
    card = _live_card(db, dashcard.card_id)
    if dashcard.card_id is not None and card is None:
        return None
    series = [c for card_id in series_card_ids(db, dashcard.id) if (c := _live_card(db, card_id))]
    return {
        "id": dashcard.id,
        "card_id": dashcard.card_id,
        "dashboard_id": dashcard.dashboard_id,
        "dashboard_tab_id": dashcard.dashboard_tab_id,
        "card": _dashcard_card_json(card) if card is not None else None,
        "series": [_dashcard_card_json(c) for c in series],
        "row": dashcard.row,
        "col": dashcard.col,
        "size_x": dashcard.size_x,
        "size_y": dashcard.size_y,
        "parameter_mappings": dashcard.parameter_mappings or [],
        "visualization_settings": dashcard.visualization_settings or {},
    }


def public_dashboard_json(db: Session, dashboard: Dashboard) -> dict[str, Any]:
    """The public face of a dashboard: its layout, parameters and cards (each card's public face)."""
    dashcards = dashboard_cards(db, dashboard.id)
    shown = [data for dashcard in dashcards if (data := _public_dashcard(db, dashcard)) is not None]
    return {
        "id": dashboard.id,
        "name": dashboard.name,
        "description": dashboard.description,
        "parameters": dashboard.parameters or [],
        "auto_apply_filters": dashboard.auto_apply_filters,
        "width": dashboard.width,
        "dashcards": shown,
        "tabs": [tab_json(tab) for tab in dashboard_tabs(db, dashboard.id)],
        "param_fields": param_fields(db, dashboard, dashcards) or None,
    }


def public_result(answer: dict[str, Any], parameters: Any, settings: Settings) -> dict[str, Any]:
    """A query answer trimmed for anonymous viewers (Metabase's `transform-qp-result`): rows and columns,
    the parameters applied, and the status; a failure keeps its message only for the error types Metabase
    shows in embeds."""
    if answer.get("status") != "completed":
        error_type = answer.get("error_type")
        error = answer.get("error") if error_type in SHOWN_IN_EMBEDS else GENERIC_QUERY_ERROR
        return {"status": "failed", "error": error, "error_type": error_type}
    data = answer["data"]
    kept = ["cols", "rows", "rows_truncated", "insights", "results_timezone"]
    if settings.get("report-timezone"):
        kept.append("requested_timezone")
    return {
        "data": {key: data[key] for key in kept if key in data},
        "json_query": {"parameters": parameters or []},
        "status": "completed",
    }


def download_answer(download: Response | dict[str, Any], parameters: Any, settings: Settings) -> Response:
    """A download, or its failure trimmed like a query answer (Metabase answers a failed download 200)."""
    if isinstance(download, dict):
        return JSONResponse(public_result(download, parameters, settings))
    return download


def _target_key(target: Any) -> str:
    """A parameter target without its options, comparable however a client spelled it."""
    return json.dumps(target[:2] if isinstance(target, list) else target, sort_keys=True)


def checked_card_parameters(card: Card, sent: list[Any]) -> list[dict[str, Any]]:
    """The viewer's values for the card's own parameters (matched by id, or by target), aimed where the
    card aims them: a viewer sets values, never new filters."""
    declared = card_parameters(card)
    checked = []
    for parameter in sent:
        if not isinstance(parameter, dict):
            raise BadRequest("Invalid parameter.")
        given_id = parameter.get("id")
        match = next((d for d in declared if given_id is not None and d.get("id") == given_id), None)
        if match is None and parameter.get("target") is not None:
            wanted = _target_key(parameter["target"])
            match = next((d for d in declared if _target_key(d.get("target")) == wanted), None)
        if match is None:
            raise BadRequest("Invalid parameter: the card has no such parameter.")
        checked.append(
            {**parameter, "type": parameter.get("type") or match.get("type"), "target": match.get("target")}
        )
    return checked


def card_param_values(db: Session, card: Card, param_key: str, needle: str | None) -> dict[str, Any]:
    """The choices of one of the card's parameters: its static list, or the cached values of its field."""
    parameter = next((p for p in card_parameters(card) if p.get("id") == param_key), None)
    if parameter is None:
        raise BadRequest(f"Card does not have a parameter with ID {json.dumps(param_key)}.")
    field_id = target_field_id(parameter.get("target"), card.dataset_query)
    body = ParameterValuesBody(parameter=parameter, field_ids=[field_id] if field_id is not None else [])
    return _parameter_values(db, body, needle)


# --- Lookups ------------------------------------------------------------------------------------------------


def _check_uuid(uuid: str) -> None:
    if not _UUID.fullmatch(uuid):
        raise NotFound(NO_SUCH_ENDPOINT)


def _json_parameters(parameters: str | None) -> list[Any]:
    """`?parameters=` as sent by Metabase's clients: a JSON list of `{id, value, ...}`."""
    if parameters is None or not parameters.strip():
        return []
    try:
        decoded = json.loads(parameters)
    except ValueError:
        raise BadRequest("parameters: value must be a valid JSON string.") from None
    if decoded is None:
        return []
    if not isinstance(decoded, list):
        raise BadRequest("parameters: value must be a sequence.")
    return decoded


def _shared_card(db: Session, settings: Settings, uuid: str) -> Card:
    _check_uuid(uuid)
    check_public_sharing(settings)
    return check_404(db.scalar(select(Card).where(Card.public_uuid == uuid, Card.archived.is_(False))))


def _shared_dashboard(db: Session, settings: Settings, uuid: str) -> Dashboard:
    _check_uuid(uuid)
    check_public_sharing(settings)
    found = db.scalar(select(Dashboard).where(Dashboard.public_uuid == uuid, Dashboard.archived.is_(False)))
    return check_404(found)


# --- Cards --------------------------------------------------------------------------------------------------


@router.get("/card/{uuid}", responses=shapes.ok(shapes.PublicCard))
def get_public_card(uuid: str, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """A publicly shared question: its name, description, display and parameters."""
    return public_card_json(db, _shared_card(db, settings, uuid))


@router.get("/card/{uuid}/query", status_code=202, responses=shapes.ok(shapes.QueryResult, 202))
def run_public_card(
    uuid: str, db: DbSession, settings: SettingsDep, parameters: Annotated[str | None, Query()] = None
) -> JSONResponse:
    """A shared question's results (`?parameters=` a JSON list of values for its parameters); 202."""
    sent = _json_parameters(parameters)
    card = _shared_card(db, settings, uuid)
    applied = checked_card_parameters(card, sent)
    answer = run_card(db, None, settings, card, applied, "public-question")
    return JSONResponse(public_result(answer, applied, settings), status_code=202)


@router.get("/card/{uuid}/query/{export_format}", responses=shapes.download(failure_status=200))
def download_public_card(
    uuid: str,
    export_format: str,
    db: DbSession,
    settings: SettingsDep,
    parameters: Annotated[str | None, Query()] = None,
    format_rows: Annotated[BooleanValue, Query()] = False,
    pivot_results: Annotated[BooleanValue, Query()] = False,
) -> Response:
    """A shared question's results as a `csv`, `json` or `xlsx` file."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    sent = _json_parameters(parameters)
    card = _shared_card(db, settings, uuid)
    applied = checked_card_parameters(card, sent)
    context = f"public-{export_format}-download"
    download = export_card(db, None, settings, card, export_format, applied, format_rows, context)
    return download_answer(download, applied, settings)


@router.get("/card/{uuid}/params/{param_key}/values", responses=shapes.ok(shapes.ParameterValues))
def public_card_param_values(
    uuid: str, param_key: str, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of a shared question's parameter."""
    return card_param_values(db, _shared_card(db, settings, uuid), param_key, None)


@router.get("/card/{uuid}/params/{param_key}/search/{query}", responses=shapes.ok(shapes.ParameterValues))
def search_public_card_param_values(
    uuid: str, param_key: str, query: str, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of a shared question's parameter that contain `query`."""
    return card_param_values(db, _shared_card(db, settings, uuid), param_key, query)


# --- Dashboards ---------------------------------------------------------------------------------------------


@router.get("/dashboard/{uuid}", responses=shapes.ok(shapes.PublicDashboard))
def get_public_dashboard(uuid: str, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """A publicly shared dashboard: its layout, parameters and cards."""
    return public_dashboard_json(db, _shared_dashboard(db, settings, uuid))


@router.get(
    "/dashboard/{uuid}/dashcard/{dashcard_id}/card/{card_id}",
    status_code=202,
    responses=shapes.ok(shapes.QueryResult, 202),
)
def run_public_dashcard(
    uuid: str,
    dashcard_id: int,
    card_id: int,
    db: DbSession,
    settings: SettingsDep,
    parameters: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    """The results of one card of a shared dashboard, with the dashboard's filter values (`?parameters=`
    a JSON list of `{id, value}`); 202."""
    sent = _json_parameters(parameters)
    if not all(isinstance(p, dict) for p in sent):
        raise BadRequest("Invalid parameter.")
    dashboard = _shared_dashboard(db, settings, uuid)
    found = (dashboard, *dashcard_and_card(db, dashboard, dashcard_id, live_card(db, card_id).id))
    answer = run_dashboard_card(db, None, settings, found, sent, "public-dashboard")
    return JSONResponse(public_result(answer, sent, settings), status_code=202)


@router.post(
    "/dashboard/{uuid}/dashcard/{dashcard_id}/card/{card_id}/{export_format}",
    responses=shapes.download(failure_status=200),
    openapi_extra=shapes.CARD_DOWNLOAD_BODY,
)
async def download_public_dashcard(
    uuid: str,
    dashcard_id: int,
    card_id: int,
    export_format: str,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    """One card of a shared dashboard as a `csv`, `json` or `xlsx` file, with the dashboard's filter values
    (`parameters`, a list of `{id, value}` or its JSON text, and `format_rows`, sent as a form or as JSON)."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    parameters, format_rows = await _export_parameters(request)
    ids = (dashcard_id, card_id)
    return await run_in_threadpool(
        _download_dashcard, db, settings, uuid, ids, parameters, export_format, format_rows
    )


def _download_dashcard(
    db: Session,
    settings: Settings,
    uuid: str,
    ids: tuple[int, int],
    parameters: list[dict[str, Any]],
    export_format: str,
    format_rows: bool,
) -> Response:
    dashcard_id, card_id = ids
    dashboard = _shared_dashboard(db, settings, uuid)
    found = (dashboard, *dashcard_and_card(db, dashboard, dashcard_id, live_card(db, card_id).id))
    download = export_dashboard_card(
        db, None, settings, found, parameters, export_format, format_rows, "public-dashboard"
    )
    return download_answer(download, parameters, settings)


@router.get("/dashboard/{uuid}/params/{param_key}/values", responses=shapes.ok(shapes.ParameterValues))
def public_dashboard_param_values(
    uuid: str, param_key: str, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of a shared dashboard's filter."""
    dashboard = _shared_dashboard(db, settings, uuid)
    return dashboard_param_values(db, dashboard.id, param_key, None)


@router.get(
    "/dashboard/{uuid}/params/{param_key}/search/{query}", responses=shapes.ok(shapes.ParameterValues)
)
def search_public_dashboard_param_values(
    uuid: str, param_key: str, query: str, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of a shared dashboard's filter that contain `query`."""
    dashboard = _shared_dashboard(db, settings, uuid)
    return dashboard_param_values(db, dashboard.id, param_key, query)


# --- oEmbed -------------------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@router.get("/oembed", responses=shapes.ok(shapes.OEmbed))
def oembed(
    settings: SettingsDep,
    url: Annotated[NonBlankString, Query()],
    output_format: Annotated[str | None, Query(alias="format")] = None,
    maxheight: Annotated[int, Query()] = _OEMBED_MAX_HEIGHT,
    maxwidth: Annotated[int, Query()] = _OEMBED_MAX_WIDTH,
) -> dict[str, Any]:
    """oEmbed (oembed.com) for a public link: an `<iframe>` of it at most `maxwidth` by `maxheight`."""
    check_public_sharing(settings)
    if output_format not in (None, "json") or maxheight < 1 or maxwidth < 1:
        raise BadRequest(GENERIC_ERROR)
    # As Metabase's HTML library writes it: attributes sorted, values escaped.
    attributes = {"frameborder": 0, "height": maxheight, "src": url, "width": maxwidth}
    rendered = "".join(f' {name}="{_escape(str(value))}"' for name, value in attributes.items())
    return {
        "version": "1.0",
        "type": "rich",
        "width": maxwidth,
        "height": maxheight,
        "html": f"<iframe{rendered}></iframe>",
    }
