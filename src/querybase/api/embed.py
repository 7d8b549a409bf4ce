"""`/api/embed`: questions and dashboards embedded in another application with a signed token (static
embedding).

The embedding app signs `{"resource": {"question": id} | {"dashboard": id}, "params": {...}, "exp": ...}`
with the `embedding-secret-key` and puts the token in the URL; viewers may add values for the parameters the
card or dashboard leaves `enabled` (`?slug=value`, or `?parameters=` a JSON object). `querybase/embedding.py`
checks the token and the parameters before anything runs. Every failure is a 400 whose plain-text body is the
error's message only (Metabase's `+message-only-exceptions`), "Not found." included.

`api/preview_embed.py` serves the same answers to admins previewing an embed, with the embedding parameters
taken from the token; the functions here take `preview` for that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.card import export_card
from querybase.api.dashboard import (
    dashboard_param_values,
    dashcard_and_card,
    export_dashboard_card,
)
from querybase.api.deps import DbSession, SettingsDep
from querybase.api.public import (
    card_param_values,
    card_parameters,
    download_answer,
    live_card,
    public_card_json,
    public_dashboard_json,
    public_result,
)
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue
from querybase.embedding import (
    EmbedError,
    card_parameter_values,
    check_embedding,
    claim,
    dashboard_parameter_values,
    merge_params,
    pr_str,
    query_string_params,
    resource_id,
    token_params,
    unsign,
    visible_parameters,
)
from querybase.errors import NO_SUCH_ENDPOINT, ApiError, BadRequest, NotFound, check_404
from querybase.jsonutil import JSONResponse
from querybase.models.card import Card
from querybase.models.dashboard import Dashboard
from querybase.query_processor import streaming
from querybase.query_processor.answers import run_card, run_dashboard_card
from querybase.settings.registry import Settings

log = logging.getLogger(__name__)

# Query-string options of downloads, not parameter values.
DOWNLOAD_OPTIONS = ("format_rows", "pivot_results")
# Metabase limits embed previews of questions (not of dashboard cards) to this many rows.
PREVIEW_MAX_RESULTS = 2000


class EmbedRoute(MetabaseRoute):
    """Metabase's `+message-only-exceptions`: any failure is a 400 whose body is its message alone."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def embed_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                if error.status == 404 and error.body == NO_SUCH_ENDPOINT:
                    raise
                raise BadRequest(_message(error.body)) from None
            except Exception:
                log.exception("embed endpoint %s failed", request.url.path)
                raise BadRequest("An error occurred.") from None

        return embed_handler


def _message(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return "An error occurred."


router = APIRouter(route_class=EmbedRoute, tags=["embed"])


# --- The embedded object ------------------------------------------------------------------------------------


def _check_shown(obj: Card | Dashboard, *, preview: bool) -> None:
    """An embed needs the object live and embedding switched on for it; a preview only needs it live."""
    if obj.archived:
        if preview:
            raise NotFound()
        raise EmbedError("The object has been archived.")
    if not preview and not obj.enable_embedding:
        raise EmbedError("Embedding is not enabled for this object.")


def embedded_card(db: Session, settings: Settings, claims: dict[str, Any], *, preview: bool) -> Card:
    card_id = resource_id(db, claims, "question")
    if not preview:
        check_embedding(settings)
    card = check_404(db.get(Card, card_id))
    _check_shown(card, preview=preview)
    return card


def embedded_dashboard(
    db: Session, settings: Settings, claims: dict[str, Any], *, preview: bool
) -> Dashboard:
    dashboard_id = resource_id(db, claims, "dashboard")
    if not preview:
        check_embedding(settings)
    dashboard = check_404(db.get(Dashboard, dashboard_id))
    _check_shown(dashboard, preview=preview)
    return dashboard


def embedding_params(obj: Card | Dashboard, claims: dict[str, Any], *, preview: bool) -> Any:
    """Which parameters are enabled, locked or disabled: as published, or as the previewing admin is about to
    publish them (the token's `_embedding_params`)."""
    return claim(claims, "_embedding_params") if preview else obj.embedding_params


# --- Cards --------------------------------------------------------------------------------------------------


def card_view(db: Session, settings: Settings, claims: dict[str, Any], *, preview: bool) -> dict[str, Any]:
    """The card's public face, with widgets only for the parameters a viewer may set."""
    card = embedded_card(db, settings, claims, preview=preview)
    from_token = token_params(claims)
    allowed = embedding_params(card, claims, preview=preview)
    return public_card_json(db, card, visible_parameters(card_parameters(card), allowed, from_token))


def _card_values(
    db: Session, settings: Settings, claims: dict[str, Any], viewer: dict[str, Any], *, preview: bool
) -> tuple[Card, list[dict[str, Any]]]:
    """The card and the parameter values to run it with, once the token and the viewer are allowed them."""
    card = embedded_card(db, settings, claims, preview=preview)
    from_token = token_params(claims)
    by_slug = merge_params(embedding_params(card, claims, preview=preview), from_token, viewer)
    return card, card_parameter_values(card_parameters(card), by_slug)


def card_answer(
    db: Session, settings: Settings, claims: dict[str, Any], viewer: dict[str, Any], *, preview: bool
) -> JSONResponse:
    card, applied = _card_values(db, settings, claims, viewer, preview=preview)
    # A preview shows at most 2,000 rows, whatever the query, so that trying an embed stays cheap.
    constraints = {"max-results": PREVIEW_MAX_RESULTS} if preview else None
    answer = run_card(db, None, settings, card, applied, "embedded-question", constraints)
    return JSONResponse(public_result(answer, applied, settings), status_code=202)


@router.get("/card/{token}", responses=shapes.ok(shapes.PublicCard))
def get_embedded_card(token: str, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """An embedded question: its name, display and the parameters a viewer may set."""
    return card_view(db, settings, unsign(token, settings), preview=False)


@router.get("/card/{token}/query", status_code=202, responses=shapes.ok(shapes.QueryResult, 202))
def run_embedded_card(token: str, request: Request, db: DbSession, settings: SettingsDep) -> JSONResponse:
    """An embedded question's results, with the token's parameter values and the viewer's (`?slug=value`)."""
    claims = unsign(token, settings)
    viewer = query_string_params(request.query_params.multi_items())
    return card_answer(db, settings, claims, viewer, preview=False)


@router.get("/card/{token}/query/{export_format}", responses=shapes.download(failure_status=200))
def download_embedded_card(
    token: str,
    export_format: str,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    format_rows: Annotated[BooleanValue, Query()] = False,
    pivot_results: Annotated[BooleanValue, Query()] = False,
) -> Response:
    """An embedded question's results as a `csv`, `json` or `xlsx` file."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    claims = unsign(token, settings)
    viewer = query_string_params(request.query_params.multi_items(), drop=DOWNLOAD_OPTIONS)
    card, applied = _card_values(db, settings, claims, viewer, preview=False)
    context = f"embedded-{export_format}-download"
    download = export_card(db, None, settings, card, export_format, applied, format_rows, context)
    return download_answer(download, applied, settings)


def _check_searchable(allowed: Any, from_token: dict[str, Any], slug: Any) -> None:
    """Only an enabled parameter the token leaves open has choices to show."""
    allowed = allowed if isinstance(allowed, dict) else {}
    if allowed.get(slug) != "enabled":
        raise EmbedError(f"Cannot search for values: {pr_str(slug)} is not an enabled parameter.")
    if from_token.get(slug) not in (None, False):
        raise EmbedError(f"You can't specify a value for {pr_str(slug)} if it's already set in the JWT.")


def card_values(
    db: Session, settings: Settings, claims: dict[str, Any], param_key: str, prefix: str | None
) -> dict[str, Any]:
    """The choices of an embedded question's parameter."""
    card = embedded_card(db, settings, claims, preview=False)
    from_token = token_params(claims)
    slug = next((p.get("slug") for p in card_parameters(card) if p.get("id") == param_key), None)
    _check_searchable(card.embedding_params, from_token, slug)
    return card_param_values(db, card, param_key, prefix)


@router.get("/card/{token}/params/{param_key}/values", responses=shapes.ok(shapes.ParameterValues))
def embedded_card_param_values(
    token: str, param_key: str, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of an embedded question's parameter."""
    return card_values(db, settings, unsign(token, settings), param_key, None)


@router.get("/card/{token}/params/{param_key}/search/{prefix}", responses=shapes.ok(shapes.ParameterValues))
def search_embedded_card_param_values(
    token: str, param_key: str, prefix: str, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of an embedded question's parameter that contain `prefix`."""
    return card_values(db, settings, unsign(token, settings), param_key, prefix)


# --- Dashboards ---------------------------------------------------------------------------------------------


def dashboard_view(
    db: Session, settings: Settings, claims: dict[str, Any], *, preview: bool
) -> dict[str, Any]:
    """The dashboard's public face, with widgets only for the parameters a viewer may set; the cards lose
    their mappings to parameters nobody may set from the page."""
    dashboard = embedded_dashboard(db, settings, claims, preview=preview)
    from_token = token_params(claims)
    allowed = embedding_params(dashboard, claims, preview=preview)
    allowed = allowed if isinstance(allowed, dict) else {}
    data = public_dashboard_json(db, dashboard)
    hidden = {p.get("id") for p in data["parameters"] if allowed.get(p.get("slug")) != "enabled"}
    for dashcard in data["dashcards"]:
        mappings = dashcard["parameter_mappings"]
        dashcard["parameter_mappings"] = [m for m in mappings if m.get("parameter_id") not in hidden]
    if data["param_fields"]:
        shown = {k: v for k, v in data["param_fields"].items() if k not in hidden}
        data["param_fields"] = shown or None
    data["parameters"] = visible_parameters(data["parameters"], allowed, from_token)
    return data


def dashcard_values(
    db: Session,
    settings: Settings,
    claims: dict[str, Any],
    viewer: dict[str, Any],
    ids: tuple[int, int],
    *,
    preview: bool,
) -> tuple[tuple[Dashboard, Any, Card], list[dict[str, Any]]]:
    """The dashboard card to run and the dashboard's filter values, once the token and viewer are allowed
    them."""
    dashboard = embedded_dashboard(db, settings, claims, preview=preview)
    from_token = token_params(claims)
    by_slug = merge_params(embedding_params(dashboard, claims, preview=preview), from_token, viewer)
    sent = dashboard_parameter_values(dashboard, by_slug)
    dashcard_id, card_id = ids
    found = (dashboard, *dashcard_and_card(db, dashboard, dashcard_id, live_card(db, card_id).id))
    return found, sent


def dashcard_answer(
    db: Session,
    settings: Settings,
    claims: dict[str, Any],
    viewer: dict[str, Any],
    ids: tuple[int, int],
    *,
    preview: bool,
) -> JSONResponse:
    found, sent = dashcard_values(db, settings, claims, viewer, ids, preview=preview)
    answer = run_dashboard_card(db, None, settings, found, sent, "embedded-dashboard")
    return JSONResponse(public_result(answer, sent, settings), status_code=202)


def param_values(
    db: Session,
    settings: Settings,
    claims: dict[str, Any],
    request: Request,
    param_key: str,
    prefix: str | None,
    *,
    preview: bool,
) -> dict[str, Any]:
    """The choices of an embedded dashboard's filter: only for an enabled parameter the token leaves open.
    Other filters' values may come as `?<parameter id>=value`, as constraints, and are checked like any."""
    dashboard = embedded_dashboard(db, settings, claims, preview=preview)
    from_token = token_params(claims)
    allowed = dashboard.embedding_params if isinstance(dashboard.embedding_params, dict) else {}
    previewed = claims.get("_embedding_params") if preview else None
    if isinstance(previewed, dict):
        allowed = {**allowed, **previewed}
    id_to_slug = {p.get("id"): p.get("slug") for p in dashboard.parameters or [] if isinstance(p, dict)}
    _check_searchable(allowed, from_token, id_to_slug.get(param_key))
    constraints = {}
    for param_id, value in query_string_params(request.query_params.multi_items()).items():
        if param_id not in id_to_slug:
            raise EmbedError(
                f"Invalid query params: could not determine slug for parameter with ID {pr_str(param_id)}"
            )
        constraints[id_to_slug[param_id]] = value
    merge_params(allowed, from_token, constraints)
    return dashboard_param_values(db, dashboard.id, param_key, prefix)


@router.get("/dashboard/{token}", responses=shapes.ok(shapes.PublicDashboard))
def get_embedded_dashboard(token: str, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """An embedded dashboard: its layout, cards and the parameters a viewer may set."""
    return dashboard_view(db, settings, unsign(token, settings), preview=False)


@router.get(
    "/dashboard/{token}/dashcard/{dashcard_id}/card/{card_id}",
    status_code=202,
    responses=shapes.ok(shapes.QueryResult, 202),
)
def run_embedded_dashcard(
    token: str, dashcard_id: int, card_id: int, request: Request, db: DbSession, settings: SettingsDep
) -> JSONResponse:
    """One card of an embedded dashboard, with the token's filter values and the viewer's."""
    claims = unsign(token, settings)
    viewer = query_string_params(request.query_params.multi_items())
    return dashcard_answer(db, settings, claims, viewer, (dashcard_id, card_id), preview=False)


@router.get(
    "/dashboard/{token}/dashcard/{dashcard_id}/card/{card_id}/{export_format}",
    responses=shapes.download(failure_status=200),
)
def download_embedded_dashcard(
    token: str,
    dashcard_id: int,
    card_id: int,
    export_format: str,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    format_rows: Annotated[BooleanValue, Query()] = False,
    pivot_results: Annotated[BooleanValue, Query()] = False,
) -> Response:
    """One card of an embedded dashboard as a `csv`, `json` or `xlsx` file."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    claims = unsign(token, settings)
    viewer = query_string_params(request.query_params.multi_items(), drop=DOWNLOAD_OPTIONS)
    found, sent = dashcard_values(db, settings, claims, viewer, (dashcard_id, card_id), preview=False)
    context = f"embedded-{export_format}-download"
    download = export_dashboard_card(db, None, settings, found, sent, export_format, format_rows, context)
    return download_answer(download, sent, settings)


@router.get("/dashboard/{token}/params/{param_key}/values", responses=shapes.ok(shapes.ParameterValues))
def embedded_param_values(
    token: str, param_key: str, request: Request, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of an embedded dashboard's filter."""
    claims = unsign(token, settings)
    return param_values(db, settings, claims, request, param_key, None, preview=False)


@router.get(
    "/dashboard/{token}/params/{param_key}/search/{prefix}", responses=shapes.ok(shapes.ParameterValues)
)
def search_embedded_param_values(
    token: str, param_key: str, prefix: str, request: Request, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of an embedded dashboard's filter that contain `prefix`."""
    claims = unsign(token, settings)
    return param_values(db, settings, claims, request, param_key, prefix, preview=False)
