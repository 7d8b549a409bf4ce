"""`/api/preview_embed`: what an embed will show, for the admin setting it up.

The same answers as `/api/embed` (`api/embed.py`), but only for admins, for objects not yet published for
embedding, and with the enabled/locked/disabled choices taken from the token's `_embedding_params` (what the
admin is about to publish) instead of the object's. Errors are the API's usual ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from querybase.api import embed, shapes
from querybase.api.deps import DbSession, SettingsDep, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.embedding import check_embedding, query_string_params, unsign
from querybase.jsonutil import JSONResponse
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["preview_embed"])


def _claims(token: str, settings: Settings) -> dict[str, Any]:
    check_embedding(settings)
    return unsign(token, settings)


@router.get("/card/{token}", responses=shapes.ok(shapes.PublicCard))
def preview_card(token: str, admin: SuperUser, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """The embedded question as viewers would see it."""
    return embed.card_view(db, settings, _claims(token, settings), preview=True)


@router.get("/card/{token}/query", status_code=202, responses=shapes.ok(shapes.QueryResult, 202))
def preview_card_query(
    token: str, request: Request, admin: SuperUser, db: DbSession, settings: SettingsDep
) -> JSONResponse:
    """The embedded question's results as viewers would get them."""
    claims = _claims(token, settings)
    viewer = query_string_params(request.query_params.multi_items())
    return embed.card_answer(db, settings, claims, viewer, preview=True)


@router.get("/dashboard/{token}", responses=shapes.ok(shapes.PublicDashboard))
def preview_dashboard(token: str, admin: SuperUser, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """The embedded dashboard as viewers would see it."""
    return embed.dashboard_view(db, settings, _claims(token, settings), preview=True)


@router.get(
    "/dashboard/{token}/dashcard/{dashcard_id}/card/{card_id}",
    status_code=202,
    responses=shapes.ok(shapes.QueryResult, 202),
)
def preview_dashcard(
    token: str,
    dashcard_id: int,
    card_id: int,
    request: Request,
    admin: SuperUser,
    db: DbSession,
    settings: SettingsDep,
) -> JSONResponse:
    """One card of the embedded dashboard, as viewers would get it."""
    claims = _claims(token, settings)
    viewer = query_string_params(request.query_params.multi_items())
    return embed.dashcard_answer(db, settings, claims, viewer, (dashcard_id, card_id), preview=True)


@router.get("/dashboard/{token}/params/{param_key}/values", responses=shapes.ok(shapes.ParameterValues))
def preview_param_values(
    token: str, param_key: str, request: Request, admin: SuperUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The choices of the embedded dashboard's filter."""
    claims = _claims(token, settings)
    return embed.param_values(db, settings, claims, request, param_key, None, preview=True)


@router.get(
    "/dashboard/{token}/params/{param_key}/search/{prefix}", responses=shapes.ok(shapes.ParameterValues)
)
def preview_search_param_values(
    token: str,
    param_key: str,
    prefix: str,
    request: Request,
    admin: SuperUser,
    db: DbSession,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The choices of the embedded dashboard's filter that contain `prefix`."""
    claims = _claims(token, settings)
    return embed.param_values(db, settings, claims, request, param_key, prefix, preview=True)
