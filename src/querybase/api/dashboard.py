"""`/api/dashboard`: dashboards, their tabs and cards, and running a dashboard's cards."""

from __future__ import annotations

import copy
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from querybase.api import shapes
from querybase.api.dataset import ParameterValuesBody, _parameter_values
from querybase.api.deps import CurrentUser, DbSession, SettingsDep, SuperUser
from querybase.api.routing import MetabaseRoute, download_fields, quick
from querybase.api.schema import (
    INT32_MAX,
    Int,
    Integer,
    MbType,
    NonBlankString,
    NonNegativeInt32,
    PositiveInt,
    PositiveInt16,
    PositiveInt32,
    parse_integer,
    pr_str,
    received,
)
from querybase.api.table import enum_type
from querybase.embedding import check_embedding, check_public_sharing, share_publicly
from querybase.errors import NO_SUCH_ENDPOINT, BadRequest, NotFound, check_403, check_404
from querybase.jsonutil import JSONResponse
from querybase.models.activity import record_view_after_read
from querybase.models.base import utcnow
from querybase.models.card import Card, creator_map
from querybase.models.collection import can_read_content, check_destination
from querybase.models.dashboard import (
    Dashboard,
    DashboardCard,
    DashboardCardSeries,
    DashboardTab,
    dashboard_cards,
    dashboard_json,
    dashboard_row,
    dashboard_snapshot,
    dashboard_tabs,
    dashcard_json,
    last_edit_info,
    mapped_field_ids,
    series_card_ids,
    tab_json,
)
from querybase.models.revision import forget_revisions, push_revision
from querybase.models.user import User
from querybase.permissions import checks
from querybase.query_processor import permissions, process, streaming
from querybase.query_processor.answers import dashcard_query, failed_body, query_context, run_dashboard_card
from querybase.query_processor.errors import QueryError
from querybase.query_processor.parameters.dashboard import (
    MAX_VALUES,
    Constraint,
    chain_filter_query,
)
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["dashboard"])

# --- Request bodies.

PARAMETERS_DESCRIPTION = "sequence of parameter must be a map with :id and :type keys"


def _parameter_problem(parameter: Any) -> Any:
    """What is wrong with one dashboard parameter (None when nothing), as malli explains it."""
    if not isinstance(parameter, dict):
        return [received("invalid type", parameter)]
    problems: dict[str, Any] = {}
    for key in ("id", "type"):
        if key not in parameter:
            problems[key] = [received("missing required key", None)]
    if "id" in parameter and (not isinstance(parameter["id"], str) or not parameter["id"].strip()):
        problems["id"] = [received("non-blank string", parameter["id"])]
    if "type" in parameter and (not isinstance(parameter["type"], str) or not parameter["type"]):
        problems["type"] = [received("should be a keyword or string", parameter["type"])]
    return problems or None


def _explain_parameters(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return [received("invalid type", value)]
    return [_parameter_problem(p) for p in value]


def _check_parameters(value: Any) -> Any:
    if not isinstance(value, list) or any(_parameter_problem(p) is not None for p in value):
        raise ValueError(PARAMETERS_DESCRIPTION)
    return value


Parameters = Annotated[
    list[dict[str, Any]],
    BeforeValidator(_check_parameters),
    MbType(PARAMETERS_DESCRIPTION, _explain_parameters),
]


Width = Annotated[Literal["fixed", "full"], enum_type("fixed", "full")]


class CreateDashboardBody(BaseModel):
    # Validated even when missing: Metabase explains a missing name as a nil one.
    name: NonBlankString = Field(None, validate_default=True)
    description: str | None = None
    parameters: Parameters | None = None
    cache_ttl: PositiveInt32 | None = None
    collection_id: PositiveInt | None = None
    collection_position: PositiveInt16 | None = None


class DashcardBody(BaseModel):
    """A dashboard card in an update: negative ids are new cards."""

    model_config = ConfigDict(extra="allow")

    id: Integer
    size_x: PositiveInt32
    size_y: PositiveInt32
    row: NonNegativeInt32
    col: NonNegativeInt32
    card_id: int | None = None
    dashboard_tab_id: int | None = None
    action_id: int | None = None
    parameter_mappings: list[dict[str, Any]] | None = None
    inline_parameters: list[str] | None = None
    series: list[dict[str, Any]] | None = None
    visualization_settings: dict[str, Any] | None = None


class TabBody(BaseModel):
    id: Int
    name: NonBlankString


UNIQUE_MAPS = "value must be seq of maps in which ids are unique"


def _element_problems(model: type[BaseModel], item: Any) -> Any:
    """What is wrong with one element of a list of `model` maps (None when nothing), per key."""
    if not isinstance(item, dict):
        return [received("invalid type", item)]
    try:
        model.model_validate(item)
    except ValidationError as error:
        problems: dict[str, Any] = {}
        for err in error.errors():
            key = str(err["loc"][0])
            if err["type"] == "missing":
                problems[key] = [received("missing required key", None)]
                continue
            field = model.model_fields.get(key)
            mb_type = next((m for m in field.metadata if isinstance(m, MbType)), None) if field else None
            problems[key] = (
                mb_type.explain(err.get("input")) if mb_type else [received(err["msg"], err.get("input"))]
            )
        return problems
    return None


def _unique_maps(model: type[BaseModel]) -> Any:
    """Metabase's `maps-with-unique-key … :id`: a list of `model` maps whose ids are all different."""

    def explain(value: Any) -> list[Any]:
        if not isinstance(value, list):
            return [received("invalid type", value)]
        problems = [_element_problems(model, item) for item in value]
        return problems if any(problems) else [received(UNIQUE_MAPS, value)]

    def check(value: Any) -> Any:
        if not isinstance(value, list) or any(_element_problems(model, item) for item in value):
            raise ValueError(UNIQUE_MAPS)
        ids = [item.get("id") for item in value]
        if len(set(map(repr, ids))) != len(ids):
            raise ValueError(UNIQUE_MAPS)
        return value

    return Annotated[list[model], BeforeValidator(check), MbType(UNIQUE_MAPS, explain)]  # type: ignore[valid-type]


Dashcards = _unique_maps(DashcardBody)
Tabs = _unique_maps(TabBody)


class UpdateDashboardBody(BaseModel):
    name: NonBlankString | None = None
    description: str | None = None
    caveats: str | None = None
    points_of_interest: str | None = None
    show_in_getting_started: bool | None = None
    enable_embedding: bool | None = None
    embedding_type: str | None = None
    embedding_params: dict[str, Any] | None = None
    parameters: Parameters | None = None
    position: PositiveInt32 | None = None
    width: Width | None = None
    archived: bool | None = None
    collection_id: PositiveInt | None = None
    collection_position: PositiveInt16 | None = None
    cache_ttl: PositiveInt32 | None = None
    auto_apply_filters: bool | None = None
    dashcards: Dashcards | None = None
    tabs: Tabs | None = None


class UpdateCardsBody(BaseModel):
    cards: Dashcards
    tabs: Tabs | None = None
    ordered_tabs: Tabs | None = None


class AddCardBody(BaseModel):
    """The pre-0.47 way to add one card; camelCase names of still older releases are accepted."""

    model_config = ConfigDict(populate_by_name=True)

    card_id: int | None = None
    cardId: int | None = None
    row: NonNegativeInt32 = 0
    col: NonNegativeInt32 = 0
    size_x: PositiveInt32 | None = None
    size_y: PositiveInt32 | None = None
    sizeX: PositiveInt32 | None = None
    sizeY: PositiveInt32 | None = None
    dashboard_tab_id: int | None = None
    parameter_mappings: list[dict[str, Any]] | None = None
    series: list[dict[str, Any]] | None = None
    visualization_settings: dict[str, Any] | None = None


class CopyBody(BaseModel):
    name: NonBlankString | None = None
    description: str | None = None
    collection_id: PositiveInt | None = None
    collection_position: PositiveInt16 | None = None
    is_deep_copy: bool | None = False


class RunBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    parameters: list[dict[str, Any]] | None = None
    dashboard_load_id: str | None = None
    ignore_cache: bool | None = None


def _archived() -> NotFound:
    """Metabase's `check-not-archived` error: changing an archived dashboard's cards, or adding an archived
    card."""
    return NotFound({"message": "The object has been archived.", "error_code": "archived"})


# Columns PUT sets when present, and those it sets only when not null (as Metabase's update does).
_PRESENT_KEYS = (
    "description",
    "position",
    "width",
    "collection_id",
    "collection_position",
    "cache_ttl",
    "embedding_type",
)
_NON_NIL_KEYS = (
    "name",
    "parameters",
    "caveats",
    "points_of_interest",
    "show_in_getting_started",
    "enable_embedding",
    "embedding_params",
    "auto_apply_filters",
)


# --- Lookups and checks.


def _dashboard(db: Session, dashboard_id: int | str) -> Dashboard:
    """A dashboard by id or by its 21-character entity id (404 otherwise)."""
    if isinstance(dashboard_id, int):
        found = db.get(Dashboard, dashboard_id)
    elif (number := parse_integer(dashboard_id)) is not None and dashboard_id.isdigit():
        found = db.get(Dashboard, number)
    else:
        found = db.scalar(select(Dashboard).where(Dashboard.entity_id == dashboard_id))
    return check_404(found)


def _readable(db: Session, dashboard: Dashboard, user: User) -> bool:
    """Personal collections are private to their owner (admins see everything)."""
    return can_read_content(db, user, dashboard.collection_id)


def _check_readable(db: Session, dashboard: Dashboard, user: User) -> None:
    check_403(_readable(db, dashboard, user))


def _check_writable(db: Session, dashboard: Dashboard, user: User) -> None:
    """Changing a dashboard (or its cards) needs curate access to its collection."""
    checks.check_write_content(db, user, dashboard.collection_id)


def _record(db: Session, dashboard: Dashboard, user: User, *, is_creation: bool = False) -> None:
    db.flush()
    push_revision(
        db, "Dashboard", dashboard.id, user.id, dashboard_snapshot(db, dashboard), is_creation=is_creation
    )


def _full(db: Session, dashboard: Dashboard, user: User, *, with_root: bool = True) -> dict[str, Any]:
    db.flush()
    db.refresh(dashboard)
    return dashboard_json(db, dashboard, user, with_root=with_root)


def _normalized_parameters(parameters: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [dict(p) for p in parameters or []]


# --- Dashboard CRUD.


@router.post("", responses=shapes.ok(shapes.Dashboard))
def create_dashboard(body: CreateDashboardBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Create a dashboard (in `collection_id`, or the root collection)."""
    check_destination(db, user, body.collection_id)
    dashboard = Dashboard(
        name=body.name,
        description=body.description,
        parameters=_normalized_parameters(body.parameters),
        creator_id=user.id,
        cache_ttl=body.cache_ttl,
        collection_id=body.collection_id,
        collection_position=body.collection_position,
    )
    db.add(dashboard)
    _record(db, dashboard, user, is_creation=True)
    return _full(db, dashboard, user)


@router.get("", responses=shapes.ok(list[shapes.Dashboard]))
def list_dashboards(
    user: CurrentUser,
    db: DbSession,
    f: Annotated[
        Literal["all", "mine", "archived"] | None, enum_type("all", "mine", "archived"), Query()
    ] = None,
) -> list[dict[str, Any]]:
    """Dashboards ordered by name: `all` (default) and `mine` leave out archived ones; `archived` lists only
    those."""
    statement = select(Dashboard).where(Dashboard.archived.is_(f == "archived"))
    if f == "mine":
        statement = statement.where(Dashboard.creator_id == user.id)
    statement = statement.order_by(func.lower(Dashboard.name), Dashboard.id)
    answer = []
    for dashboard in db.scalars(statement):
        if not _readable(db, dashboard, user):
            continue
        data = dashboard_row(dashboard)
        creator = db.get(User, dashboard.creator_id)
        data["creator"] = creator_map(creator) if creator is not None else None
        info = last_edit_info(db, dashboard)
        if info is not None:
            data["last-edit-info"] = info
        answer.append(data)
    return answer


@router.get("/{dashboard_id}", responses=shapes.ok(shapes.DashboardDetail))
@quick
def get_dashboard(
    dashboard_id: str, request: Request, background: BackgroundTasks, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """A dashboard (by id or entity id) with its cards, tabs and parameter fields; a recent view of it."""
    if not ((dashboard_id.isascii() and dashboard_id.isdigit()) or len(dashboard_id) == 21):
        raise NotFound(NO_SUCH_ENDPOINT)
    dashboard = _dashboard(db, dashboard_id)
    _check_readable(db, dashboard, user)
    answer = dashboard_json(db, dashboard, user)
    background.add_task(record_view_after_read, request.app.state.appdb, user.id, "dashboard", dashboard.id)
    return answer


@router.put("/{dashboard_id}", responses=shapes.ok(shapes.Dashboard))
def update_dashboard(
    dashboard_id: int, body: UpdateDashboardBody, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """Update a dashboard; `dashcards` (with `tabs`) replace all its cards and tabs when present."""
    dashboard = _dashboard(db, dashboard_id)
    _check_writable(db, dashboard, user)
    sent = body.model_fields_set
    embedding = {"enable_embedding", "embedding_params", "embedding_type"} & sent
    if any(getattr(body, key) != getattr(dashboard, key) for key in embedding):
        check_embedding(settings)
        check_403(user.is_superuser)
    if "dashcards" in sent and dashboard.archived:
        raise _archived()
    if "collection_id" in sent and body.collection_id != dashboard.collection_id:
        check_destination(db, user, body.collection_id)
    if body.archived is not None and body.archived != dashboard.archived:
        # Archiving moves a dashboard to the Trash; its collection is kept for restoring.
        dashboard.archived = body.archived
        dashboard.archived_directly = body.archived
        _archive_dashboard_questions(db, dashboard)
        sent = sent - {"collection_id"} if body.archived else sent
    for key in _PRESENT_KEYS:
        if key in sent:
            setattr(dashboard, key, getattr(body, key))
    for key in _NON_NIL_KEYS:
        if key in sent and getattr(body, key) is not None:
            value = getattr(body, key)
            setattr(dashboard, key, _normalized_parameters(value) if key == "parameters" else value)
    if "dashcards" in sent:
        _replace_cards(db, dashboard, body.dashcards or [], body.tabs if "tabs" in sent else None)
    dashboard.updated_at = utcnow()
    _record(db, dashboard, user)
    return _full(db, dashboard, user, with_root=False)


def _archive_dashboard_questions(db: Session, dashboard: Dashboard) -> None:
    """Questions saved in the dashboard follow it into and out of the Trash."""
    for card in db.scalars(select(Card).where(Card.dashboard_id == dashboard.id)):
        if dashboard.archived and not card.archived:
            card.archived, card.archived_directly = True, False
        elif not dashboard.archived and card.archived and not card.archived_directly:
            card.archived = False


@router.delete("/{dashboard_id}", status_code=204)
def delete_dashboard(dashboard_id: int, user: CurrentUser, db: DbSession) -> Response:
    """Delete a dashboard for good (archiving is `PUT {"archived": true}`)."""
    dashboard = _dashboard(db, dashboard_id)
    _check_writable(db, dashboard, user)
    _delete_dashcards(db, [dc.id for dc in dashboard_cards(db, dashboard.id)])
    db.execute(delete(DashboardTab).where(DashboardTab.dashboard_id == dashboard.id))
    forget_revisions(db, "Card", select(Card.id).where(Card.dashboard_id == dashboard.id))
    forget_revisions(db, "Dashboard", [dashboard.id])
    db.execute(delete(Card).where(Card.dashboard_id == dashboard.id))
    db.delete(dashboard)
    return Response(status_code=204)


@router.post("/{dashboard_id}/copy", responses=shapes.ok(shapes.Dashboard))
def copy_dashboard(
    dashboard_id: int, user: CurrentUser, db: DbSession, body: CopyBody | None = None
) -> dict[str, Any]:
    """Copy a dashboard with its tabs and cards. A deep copy also copies the questions; dashboard questions
    are always copied."""
    body = body or CopyBody()
    original = _dashboard(db, dashboard_id)
    _check_readable(db, original, user)
    check_destination(db, user, body.collection_id)
    deep = bool(body.is_deep_copy)
    if body.is_deep_copy is False and db.scalar(
        select(func.count()).where(Card.dashboard_id == original.id, Card.archived.is_(False))
    ):
        raise BadRequest(
            "You cannot do a shallow copy of this dashboard because it contains Dashboard Questions."
        )
    new = Dashboard(
        name=body.name or original.name,
        description=body.description if body.description is not None else original.description,
        parameters=copy.deepcopy(original.parameters or []),
        creator_id=user.id,
        collection_id=body.collection_id,
        collection_position=body.collection_position,
        width=original.width,
    )
    db.add(new)
    db.flush()
    tab_ids: dict[int, int] = {}
    for tab in dashboard_tabs(db, original.id):
        new_tab = DashboardTab(dashboard_id=new.id, name=tab.name, position=tab.position)
        db.add(new_tab)
        db.flush()
        tab_ids[tab.id] = new_tab.id
    copied: dict[int, int] = {}

    def card_for(card_id: int) -> int | None:
        card = db.get(Card, card_id)
        if card is None or card.archived:
            return None
        if not (card.dashboard_id is not None or (deep and card.type != "model")):
            return card.id
        if card_id not in copied:
            copied[card_id] = _duplicate_card(db, card, new, body.collection_id, original, user).id
        return copied[card_id]

    for dashcard in dashboard_cards(db, original.id):
        if dashcard.action_id is not None:
            continue
        card_id = card_for(dashcard.card_id) if dashcard.card_id is not None else None
        if dashcard.card_id is not None and card_id is None:
            continue
        series = [new_id for old in series_card_ids(db, dashcard.id) if (new_id := card_for(old)) is not None]
        mappings = [
            {**m, "card_id": copied.get(m["card_id"], m["card_id"])}
            if isinstance(m.get("card_id"), int)
            else m
            for m in dashcard.parameter_mappings or []
        ]
        _add_dashcard(
            db,
            new,
            card_id=card_id,
            tab_id=tab_ids.get(dashcard.dashboard_tab_id) if dashcard.dashboard_tab_id else None,
            row=dashcard.row,
            col=dashcard.col,
            size_x=dashcard.size_x,
            size_y=dashcard.size_y,
            parameter_mappings=mappings,
            visualization_settings=copy.deepcopy(dashcard.visualization_settings or {}),
            inline_parameters=dashcard.inline_parameters,
            series=series,
        )
    _record(db, new, user, is_creation=True)
    db.refresh(new)
    return dashboard_row(new)


def _duplicate_card(
    db: Session, card: Card, dashboard: Dashboard, collection_id: int | None, original: Dashboard, user: User
) -> Card:
    """A copy of `card` for a copied dashboard ("- Duplicate" added when it stays in the same collection)."""
    columns = {c.key: getattr(card, c.key) for c in Card.__table__.columns}
    for key in (
        "id",
        "entity_id",
        "created_at",
        "updated_at",
        "public_uuid",
        "made_public_by_id",
        "view_count",
    ):
        columns.pop(key, None)
    columns.update(creator_id=user.id, collection_id=collection_id, last_used_at=None)
    if original.collection_id == collection_id:
        columns["name"] = f"{card.name} - Duplicate"
    if card.dashboard_id is not None:
        columns["dashboard_id"] = dashboard.id
    duplicate = Card(**copy.deepcopy(columns))
    db.add(duplicate)
    db.flush()
    return duplicate


# --- Dashboard cards and tabs.


def _add_dashcard(
    db: Session,
    dashboard: Dashboard,
    *,
    card_id: int | None,
    tab_id: int | None,
    row: int,
    col: int,
    size_x: int,
    size_y: int,
    parameter_mappings: list[dict[str, Any]] | None,
    visualization_settings: dict[str, Any] | None,
    inline_parameters: list[str] | None = None,
    series: list[int] | None = None,
    action_id: int | None = None,
) -> DashboardCard:
    dashcard = DashboardCard(
        dashboard_id=dashboard.id,
        dashboard_tab_id=tab_id,
        card_id=card_id,
        action_id=action_id,
        row=row,
        col=col,
        size_x=size_x,
        size_y=size_y,
        parameter_mappings=parameter_mappings or [],
        visualization_settings=visualization_settings or {},
        inline_parameters=inline_parameters or [],
    )
    db.add(dashcard)
    db.flush()
    _set_series(db, dashcard, series or [])
    return dashcard


def _set_series(db: Session, dashcard: DashboardCard, card_ids: list[int]) -> None:
    db.execute(delete(DashboardCardSeries).where(DashboardCardSeries.dashboardcard_id == dashcard.id))
    for position, card_id in enumerate(card_ids):
        db.add(DashboardCardSeries(dashboardcard_id=dashcard.id, card_id=card_id, position=position))


def _delete_dashcards(db: Session, ids: list[int]) -> None:
    if ids:
        db.execute(delete(DashboardCardSeries).where(DashboardCardSeries.dashboardcard_id.in_(ids)))
        db.execute(delete(DashboardCard).where(DashboardCard.id.in_(ids)))


def _usable_card(db: Session, card_id: int, dashboard: Dashboard) -> Card:
    """A card that may go on `dashboard`: it exists, is not archived and is not another dashboard's
    question."""
    card = check_404(db.get(Card, card_id))
    if card.archived:
        raise _archived()
    if card.dashboard_id is not None and card.dashboard_id != dashboard.id:
        raise BadRequest("Invalid Request.")
    return card


def _series_ids(db: Session, series: list[dict[str, Any]] | None, dashboard: Dashboard) -> list[int]:
    ids = []
    for item in series or []:
        card_id = item.get("id")
        if not isinstance(card_id, int) or isinstance(card_id, bool):
            raise BadRequest({"errors": {"series": "value must be a sequence of maps with a card id."}})
        ids.append(_usable_card(db, card_id, dashboard).id)
    return ids


def _replace_cards(
    db: Session, dashboard: Dashboard, cards: list[DashcardBody], tabs: list[TabBody] | None
) -> None:
    """Make the dashboard's cards (and tabs, when sent) exactly the ones given: negative ids are new,
    omitted ones are deleted."""
    tab_ids: dict[int, int] = {}
    if tabs is not None:
        tab_ids = _replace_tabs(db, dashboard, tabs)
        if len(tabs) == 1:
            for card in cards:
                if card.dashboard_tab_id is None:
                    card.dashboard_tab_id = tabs[0].id
        if tabs and any(card.dashboard_tab_id is None for card in cards):
            raise BadRequest("This dashboard has tab, makes sure every card has a tab")
    current = {dc.id: dc for dc in dashboard_cards(db, dashboard.id)}
    existing_tabs = {tab.id for tab in dashboard_tabs(db, dashboard.id)}
    keep = {c.id for c in cards if c.id in current}
    _delete_dashcards(db, [dc_id for dc_id in current if dc_id not in keep])
    for card in cards:
        tab_id = tab_ids.get(card.dashboard_tab_id, card.dashboard_tab_id) if card.dashboard_tab_id else None
        if tab_id is not None and tab_id not in existing_tabs:
            raise BadRequest("Invalid Request.")
        if card.id in current:
            dashcard = current[card.id]
            _update_dashcard(db, dashboard, dashcard, card, tab_id)
            continue
        if card.id >= 0:
            raise NotFound()
        card_id = _usable_card(db, card.card_id, dashboard).id if card.card_id is not None else None
        _add_dashcard(
            db,
            dashboard,
            card_id=card_id,
            tab_id=tab_id,
            row=card.row,
            col=card.col,
            size_x=card.size_x,
            size_y=card.size_y,
            parameter_mappings=card.parameter_mappings,
            visualization_settings=card.visualization_settings,
            inline_parameters=card.inline_parameters,
            series=_series_ids(db, card.series, dashboard),
            action_id=_action_id(card.action_id),
        )


def _action_id(action_id: int | None) -> int | None:
    """The action a dashboard card runs, unchecked as Metabase's schema has it; but one past the 32 bits of
    the column (and of every id) names no action: not found, rather than the app database's refusal."""
    if action_id is not None and not -INT32_MAX - 1 <= action_id <= INT32_MAX:
        raise NotFound()
    return action_id


def _update_dashcard(
    db: Session, dashboard: Dashboard, dashcard: DashboardCard, card: DashcardBody, tab_id: int | None
) -> None:
    sent = card.model_fields_set
    dashcard.row, dashcard.col, dashcard.size_x, dashcard.size_y = (
        card.row,
        card.col,
        card.size_x,
        card.size_y,
    )
    dashcard.dashboard_tab_id = tab_id
    if "card_id" in sent and card.card_id != dashcard.card_id:
        dashcard.card_id = _usable_card(db, card.card_id, dashboard).id if card.card_id is not None else None
    if "parameter_mappings" in sent:
        dashcard.parameter_mappings = card.parameter_mappings or []
    if "visualization_settings" in sent:
        dashcard.visualization_settings = card.visualization_settings or {}
    if "inline_parameters" in sent:
        dashcard.inline_parameters = card.inline_parameters or []
    if "action_id" in sent:
        dashcard.action_id = _action_id(card.action_id)
    if "series" in sent:
        _set_series(db, dashcard, _series_ids(db, card.series, dashboard))
    dashcard.updated_at = utcnow()


def _replace_tabs(db: Session, dashboard: Dashboard, tabs: list[TabBody]) -> dict[int, int]:
    """Make the dashboard's tabs the given ones, in order; returns the new ids of negative-id tabs (the
    cards of deleted tabs go with them)."""
    current = {tab.id: tab for tab in dashboard_tabs(db, dashboard.id)}
    kept = {tab.id for tab in tabs if tab.id in current}
    gone = [tab_id for tab_id in current if tab_id not in kept]
    if gone:
        doomed = select(DashboardCard.id).where(DashboardCard.dashboard_tab_id.in_(gone))
        _delete_dashcards(db, list(db.scalars(doomed)))
        db.execute(delete(DashboardTab).where(DashboardTab.id.in_(gone)))
    new_ids: dict[int, int] = {}
    for position, tab in enumerate(tabs):
        if tab.id in current:
            current[tab.id].name, current[tab.id].position = tab.name, position
        elif tab.id < 0:
            created = DashboardTab(dashboard_id=dashboard.id, name=tab.name, position=position)
            db.add(created)
            db.flush()
            new_ids[tab.id] = created.id
        else:
            raise NotFound()
    return new_ids


@router.post("/{dashboard_id}/cards", responses=shapes.ok(shapes.DashboardCard))
def add_card(dashboard_id: int, body: AddCardBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Add one card (or a virtual card) to a dashboard: the API of Metabase 0.46 and older."""
    dashboard = _dashboard(db, dashboard_id)
    _check_writable(db, dashboard, user)
    if dashboard.archived:
        raise _archived()
    card_id = body.card_id if body.card_id is not None else body.cardId
    if card_id is not None:
        _usable_card(db, card_id, dashboard)
    tab_id = body.dashboard_tab_id
    if tab_id is not None:
        tab = db.get(DashboardTab, tab_id)
        if tab is None or tab.dashboard_id != dashboard.id:
            raise BadRequest("Invalid Request.")
    dashcard = _add_dashcard(
        db,
        dashboard,
        card_id=card_id,
        tab_id=tab_id,
        row=body.row,
        col=body.col,
        size_x=body.size_x or body.sizeX or 4,
        size_y=body.size_y or body.sizeY or 4,
        parameter_mappings=body.parameter_mappings,
        visualization_settings=body.visualization_settings,
        series=_series_ids(db, body.series, dashboard),
    )
    dashboard.updated_at = utcnow()
    _record(db, dashboard, user)
    db.refresh(dashcard)
    return dashcard_json(db, dashcard, user)


@router.put("/{dashboard_id}/cards", responses=shapes.ok(shapes.DashboardCards))
def update_cards(
    dashboard_id: int, body: UpdateCardsBody, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """(Deprecated in Metabase) replace a dashboard's cards and tabs: `{"cards": [...], "tabs": [...]}`."""
    dashboard = _dashboard(db, dashboard_id)
    _check_writable(db, dashboard, user)
    if dashboard.archived:
        raise _archived()
    sent = body.model_fields_set
    tabs = body.tabs if "tabs" in sent else (body.ordered_tabs if "ordered_tabs" in sent else None)
    _replace_cards(db, dashboard, body.cards, tabs)
    dashboard.updated_at = utcnow()
    _record(db, dashboard, user)
    db.flush()
    return {
        "cards": [dashcard_json(db, dc, user) for dc in dashboard_cards(db, dashboard.id)],
        "tabs": [tab_json(tab) for tab in dashboard_tabs(db, dashboard.id)],
    }


@router.delete("/{dashboard_id}/cards", status_code=204)
def remove_card(
    dashboard_id: int,
    user: CurrentUser,
    db: DbSession,
    dashcardId: Annotated[PositiveInt, Query()],
) -> Response:
    """Remove one card from a dashboard: the API of Metabase 0.46 and older."""
    dashboard = _dashboard(db, dashboard_id)
    _check_writable(db, dashboard, user)
    dashcard = db.get(DashboardCard, dashcardId)
    if dashcard is None or dashcard.dashboard_id != dashboard.id:
        raise NotFound()
    _delete_dashcards(db, [dashcard.id])
    dashboard.updated_at = utcnow()
    _record(db, dashboard, user)
    return Response(status_code=204)


# --- Parameter values.


def _dashboard_parameter(dashboard: Dashboard, parameter_id: str) -> dict[str, Any]:
    for parameter in dashboard.parameters or []:
        if isinstance(parameter, dict) and parameter.get("id") == parameter_id:
            return parameter
    raise BadRequest(f"Dashboard does not have a parameter with ID {pr_str(parameter_id)}.")


def dashboard_param_values(
    db: Session,
    dashboard_id: int,
    param_key: str,
    needle: str | None,
    constraints: dict[str, Any] | None = None,
    settings: Settings | None = None,
    user: User | None = None,
) -> dict[str, Any]:
    """A filter's choices (`needle` narrows them). No permission check: public links and embeds use it too.

    With `constraints` (other filters' values by parameter id) a filter whose values come from its fields
    is chained: its values are those occurring where the other filters hold (queried, with `settings`)."""
    dashboard = _dashboard(db, dashboard_id)
    parameter = _dashboard_parameter(dashboard, param_key)
    dashcards = dashboard_cards(db, dashboard.id)
    field_ids = mapped_field_ids(db, param_key, dashcards)
    chained = _constraints(db, dashboard, dashcards, constraints or {})
    custom = parameter.get("values_source_type") in ("static-list", "card")
    if chained and field_ids and settings is not None and not custom:
        return _chained_values(db, user, settings, field_ids, chained, needle)
    return _parameter_values(db, ParameterValuesBody(parameter=parameter, field_ids=field_ids), needle)


# Parameter types whose filters ignore case unless a parameter says otherwise (Metabase's default options).
_CASE_INSENSITIVE_TYPES = (
    "string/contains",
    "string/does-not-contain",
    "string/starts-with",
    "string/ends-with",
)


def _constraints(
    db: Session, dashboard: Dashboard, dashcards: list[DashboardCard], values: dict[str, Any]
) -> list[Constraint]:
    """Each other filter's value on each field it is mapped to (query parameters that name no filter of the
    dashboard are ignored)."""
    by_id = {p["id"]: p for p in dashboard.parameters or [] if isinstance(p, dict) and "id" in p}
    constraints = []
    for key, value in values.items():
        parameter = by_id.get(key)
        if parameter is None:
            continue
        kind = str(parameter.get("type") or "category")
        options = parameter.get("options") or (
            {"case-sensitive": False} if kind in _CASE_INSENSITIVE_TYPES else None
        )
        for field_id in mapped_field_ids(db, key, dashcards):
            constraints.append(Constraint(field_id, kind, value, options))
    return constraints


def _chained_values(
    db: Session,
    user: User | None,
    settings: Settings,
    field_ids: list[int],
    constraints: list[Constraint],
    needle: str | None,
) -> dict[str, Any]:
    """The values of the filter's fields where `constraints` hold, each field queried, merged and sorted."""
    values: dict[Any, list[Any]] = {}
    more = False
    for field_id in field_ids:
        try:
            query = chain_filter_query(db, field_id, constraints, needle)
            ctx = query_context(db, user, settings, query, "dashboard")
            # The dashboard's collection decides who sees its filters' values; blocked tables stay blocked.
            ctx.info[permissions.FILTER_VALUES] = True
            prepared = process.prepare(ctx, query)
            rows = [list(row) for row in process.run(prepared).rows()]
        except QueryError as error:
            raise BadRequest(error.message) from None
        more = more or len(rows) == MAX_VALUES
        for row in rows:
            values.setdefault(row[0], row)
    ordered = sorted(values.values(), key=lambda row: (row[0] is not None, row[0]))
    return {"values": ordered, "has_more_values": more}


@router.get("/{dashboard_id}/params/{param_key}/values", responses=shapes.ok(shapes.ParameterValues))
def get_param_values(
    dashboard_id: int,
    param_key: str,
    request: Request,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The choices of a dashboard filter: its static list, or the values of its mapped fields; narrowed by the
    other filters' values given as query parameters (`?<parameter id>=<value>`, a chained filter)."""
    dashboard = _dashboard(db, dashboard_id)
    _check_readable(db, dashboard, user)
    constraints = _query_values(request)
    return dashboard_param_values(db, dashboard_id, param_key, None, constraints, settings, user)


@router.get("/{dashboard_id}/params/{param_key}/search/{query}", responses=shapes.ok(shapes.ParameterValues))
def search_param_values(
    dashboard_id: int,
    param_key: str,
    query: str,
    request: Request,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The choices of a dashboard filter that contain `query`, chained as the values are."""
    dashboard = _dashboard(db, dashboard_id)
    _check_readable(db, dashboard, user)
    constraints = _query_values(request)
    return dashboard_param_values(db, dashboard_id, param_key, query, constraints, settings, user)


def _query_values(request: Request) -> dict[str, Any]:
    """The query parameters, a repeated one as a list of its values."""
    values: dict[str, Any] = {}
    for key in request.query_params:
        given = request.query_params.getlist(key)
        values[key] = given[0] if len(given) == 1 else given
    return values


# --- Running a dashboard card.


def _dashcard_card(
    db: Session, dashboard_id: int, dashcard_id: int, card_id: int, user: User
) -> tuple[Dashboard, DashboardCard, Card]:
    """The dashboard, its dashcard and the card (the dashcard's own or one of its series), or 404."""
    dashboard = _dashboard(db, dashboard_id)
    _check_readable(db, dashboard, user)
    return dashboard, *dashcard_and_card(db, dashboard, dashcard_id, card_id)


def dashcard_and_card(
    db: Session, dashboard: Dashboard, dashcard_id: int, card_id: int
) -> tuple[DashboardCard, Card]:
    """The dashboard's dashcard and the card it shows (its own or one of its series), or 404; no permission
    check, so public links and embeds use it too."""
    dashcard = db.get(DashboardCard, dashcard_id)
    if dashcard is None or dashcard.dashboard_id != dashboard.id:
        raise NotFound()
    if card_id != dashcard.card_id and card_id not in series_card_ids(db, dashcard.id):
        raise NotFound()
    return dashcard, check_404(db.get(Card, card_id))


@router.post(
    "/{dashboard_id}/dashcard/{dashcard_id}/card/{card_id}/query",
    status_code=202,
    responses=shapes.ok(shapes.QueryResult, 202),
)
def run_dashcard(
    dashboard_id: int,
    dashcard_id: int,
    card_id: int,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
    body: RunBody | None = None,
) -> JSONResponse:
    """Run a dashboard card's question with the dashboard's filter values (202 whether it succeeds or not)."""
    dashboard, dashcard, card = _dashcard_card(db, dashboard_id, dashcard_id, card_id, user)
    sent = (body.parameters if body is not None else None) or []
    answer = run_dashboard_card(db, user, settings, (dashboard, dashcard, card), sent, "dashboard")
    return JSONResponse(answer, status_code=202)


async def _export_parameters(request: Request) -> tuple[list[dict[str, Any]], bool]:
    """The `parameters` (none: an empty list) and `format_rows` of a download, as a form or JSON."""
    parameters, format_rows = await download_fields(request, lambda _parameters: _INVALID_DOWNLOAD_PARAMETERS)
    return parameters or [], format_rows


_INVALID_DOWNLOAD_PARAMETERS = {
    "errors": {"parameters": "nullable sequence of value must be a parameter map with an 'id' key"}
}


@router.post(
    "/{dashboard_id}/dashcard/{dashcard_id}/card/{card_id}/query/{export_format}",
    responses=shapes.download(),
    openapi_extra=shapes.CARD_DOWNLOAD_BODY,
)
async def download_dashcard(
    dashboard_id: int,
    dashcard_id: int,
    card_id: int,
    export_format: str,
    request: Request,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    """Download a dashboard card's results as `csv`, `json` or `xlsx`, with the dashboard's filter values."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    parameters, format_rows = await _export_parameters(request)
    return await run_in_threadpool(
        _download,
        db,
        user,
        settings,
        (dashboard_id, dashcard_id, card_id),
        parameters,
        export_format,
        format_rows,
    )


def _download(
    db: Session,
    user: User,
    settings: Settings,
    ids: tuple[int, int, int],
    parameters: list[dict[str, Any]],
    export_format: str,
    format_rows: bool,
) -> Response:
    found = _dashcard_card(db, *ids, user)
    download = export_dashboard_card(db, user, settings, found, parameters, export_format, format_rows)
    return JSONResponse(download, status_code=400) if isinstance(download, dict) else download


def export_dashboard_card(
    db: Session,
    user: User | None,
    settings: Settings,
    found: tuple[Dashboard, DashboardCard, Card],
    parameters: list[dict[str, Any]],
    export_format: str,
    format_rows: bool,
    context: str | None = None,
) -> StreamingResponse | dict[str, Any]:
    """A dashboard card's results as a download, or Metabase's failed body when the query cannot run. Public
    links and embeds download dashboard cards this way too, without a user."""
    dashboard, dashcard, card = found
    ctx = query_context(db, user, settings, card.dataset_query, context or f"{export_format}-download")
    ctx.info[permissions.CARD_ID] = card.id
    started, started_at = time.monotonic(), utcnow()
    try:
        query = dashcard_query(db, dashboard, dashcard, card, parameters)
        prepared = process.prepare(ctx, query, download=True)
        db.commit()
        result = process.run(prepared)
    except QueryError as error:
        return failed_body(card.dataset_query, error, started, started_at)
    body = streaming.stream(
        export_format,
        result.cols,
        result.batches,
        format_rows=format_rows,
        visualization_settings=card.visualization_settings,
    )
    headers = streaming.download_headers(export_format, streaming.card_filename_prefix(card.name))
    return StreamingResponse(body, headers=headers)


# --- Sharing: public links and the lists of shared dashboards (admins only) ---------------------------------
# The anonymous side is `api/public.py`, `api/embed.py` and `api/preview_embed.py`.


@router.get("/public", responses=shapes.ok(list[shapes.Shared]))
def list_public_dashboards(admin: SuperUser, db: DbSession, settings: SettingsDep) -> list[dict[str, Any]]:
    """`{name, id, public_uuid}` of each dashboard with a public link (400 while public sharing is off)."""
    check_public_sharing(settings)
    shared = (
        select(Dashboard)
        .where(Dashboard.public_uuid.is_not(None), Dashboard.archived.is_(False))
        .order_by(Dashboard.id)
    )
    return [{"name": d.name, "id": d.id, "public_uuid": d.public_uuid} for d in db.scalars(shared)]


@router.get("/embeddable", responses=shapes.ok(list[shapes.Named]))
def list_embeddable_dashboards(
    admin: SuperUser, db: DbSession, settings: SettingsDep
) -> list[dict[str, Any]]:
    """`{name, id}` of each dashboard with `enable_embedding` (400 while embedding is off)."""
    check_embedding(settings)
    embeddable = (
        select(Dashboard)
        .where(Dashboard.enable_embedding.is_(True), Dashboard.archived.is_(False))
        .order_by(Dashboard.id)
    )
    return [{"name": d.name, "id": d.id} for d in db.scalars(embeddable)]


@router.post("/{dashboard_id}/public_link", responses=shapes.ok(shapes.PublicLink))
def create_public_link(
    dashboard_id: int, admin: SuperUser, db: DbSession, settings: SettingsDep
) -> dict[str, str]:
    """The dashboard's public UUID, made on the first request; sharing again answers the same one."""
    check_public_sharing(settings)
    dashboard = check_404(db.get(Dashboard, dashboard_id))
    if dashboard.archived:
        raise _archived()
    return {"uuid": share_publicly(db, dashboard, admin.id)}


@router.delete("/{dashboard_id}/public_link", status_code=204)
def delete_public_link(dashboard_id: int, admin: SuperUser, db: DbSession, settings: SettingsDep) -> Response:
    """Revoke the dashboard's public link: its UUID stops working at once."""
    check_public_sharing(settings)
    dashboard = db.get(Dashboard, dashboard_id)
    if dashboard is None or dashboard.public_uuid is None or dashboard.archived:
        raise NotFound()
    dashboard.public_uuid = dashboard.made_public_by_id = None
    return Response(status_code=204)


# `GET /public` and `/embeddable` come after `GET /{dashboard_id}`, which would take them for ids: match
# them first.
router.routes.sort(key=lambda route: getattr(route, "path", None) not in ("/public", "/embeddable"))
