"""Dashboards (`report_dashboard`), their tabs, their cards (`report_dashboardcard`) and each card's extra
series (`dashboardcard_series`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    event,
    false,
    select,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from querybase.models.base import Base, JSONText, Timestamps, new_entity_id
from querybase.models.collection import Collection, effective_location, root_collection_json, trash_collection
from querybase.models.database import Field, field_json
from querybase.models.revision import last_edits
from querybase.models.search_index import DESCRIPTION, NAME, changed, index_item, unindex_item
from querybase.models.user import User


class Dashboard(Timestamps, Base):
    __tablename__ = "report_dashboard"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    name: Mapped[str] = mapped_column(String(254), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="SET NULL"), index=True
    )
    collection_position: Mapped[int | None] = mapped_column(SmallInteger)
    parameters: Mapped[Any] = mapped_column(JSONText())
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    archived_directly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    public_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    made_public_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    enable_embedding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    embedding_params: Mapped[Any | None] = mapped_column(JSONText())
    embedding_type: Mapped[str | None] = mapped_column(String(64))
    initially_published_at: Mapped[dt.datetime | None] = mapped_column()
    cache_ttl: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[str] = mapped_column(String(16), default="fixed", server_default="fixed")
    auto_apply_filters: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    show_in_getting_started: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    caveats: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int | None] = mapped_column(Integer)
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_viewed_at: Mapped[dt.datetime | None] = mapped_column()


class DashboardTab(Timestamps, Base):
    __tablename__ = "dashboard_tab"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(254))
    position: Mapped[int] = mapped_column(Integer)


class DashboardCard(Timestamps, Base):
    """A card placed on a dashboard, or a virtual card (text, heading, link: no `card_id`)."""

    __tablename__ = "report_dashboardcard"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    dashboard_tab_id: Mapped[int | None] = mapped_column(
        ForeignKey("dashboard_tab.id", ondelete="CASCADE"), index=True
    )
    card_id: Mapped[int | None] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int | None] = mapped_column(Integer)
    row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    col: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    size_x: Mapped[int] = mapped_column(Integer)
    size_y: Mapped[int] = mapped_column(Integer)
    parameter_mappings: Mapped[Any] = mapped_column(JSONText())
    visualization_settings: Mapped[Any] = mapped_column(JSONText())
    inline_parameters: Mapped[Any | None] = mapped_column(JSONText())


class DashboardCardSeries(Base):
    """Another card drawn on the same chart as a dashboard card, at `position`."""

    __tablename__ = "dashboardcard_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    dashboardcard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboardcard.id", ondelete="CASCADE"), index=True
    )
    card_id: Mapped[int] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)


@event.listens_for(Dashboard, "after_insert")
@event.listens_for(Dashboard, "after_update")
def _index_dashboard(_mapper: Any, connection: Connection, dashboard: Dashboard) -> None:
    """Keep the dashboard's search-index words in step with its name and description."""
    if changed(dashboard, ("id", "name", "description")):
        texts = {NAME: dashboard.name, DESCRIPTION: dashboard.description}
        index_item(connection, "dashboard", dashboard.id, texts)


@event.listens_for(Dashboard, "after_delete")
def _unindex_dashboard(_mapper: Any, connection: Connection, dashboard: Dashboard) -> None:
    unindex_item(connection, "dashboard", dashboard.id)


# ---------------------------------------------------------------------------------------------------
# JSON views. Cards are imported inside functions: `models/card.py` imports this module.

DASHBOARD_COLUMNS = (
    "id",
    "entity_id",
    "name",
    "description",
    "creator_id",
    "collection_id",
    "collection_position",
    "parameters",
    "archived",
    "archived_directly",
    "public_uuid",
    "made_public_by_id",
    "enable_embedding",
    "embedding_params",
    "embedding_type",
    "initially_published_at",
    "cache_ttl",
    "width",
    "auto_apply_filters",
    "show_in_getting_started",
    "caveats",
    "points_of_interest",
    "position",
    "view_count",
    "last_viewed_at",
    "created_at",
    "updated_at",
)


def shown_public_uuid(db: Session | None, public_uuid: str | None) -> str | None:
    """A public link's UUID as cards and dashboards show it: null while public sharing is off, as Metabase
    hides it from every card and dashboard it loads, so that nobody tries a link that cannot work."""
    if public_uuid is None or db is None:
        return public_uuid
    # Imported here: the settings registry imports the models package.
    from querybase.settings.registry import Settings

    return public_uuid if Settings(db).get("enable-public-sharing") else None


def dashboard_row(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard's own columns, as Metabase answers a copy or lists dashboards."""
    data = {column: getattr(dashboard, column) for column in DASHBOARD_COLUMNS}
    data["parameters"] = dashboard.parameters or []
    data["public_uuid"] = shown_public_uuid(object_session(dashboard), dashboard.public_uuid)
    return data


def tab_json(tab: DashboardTab) -> dict[str, Any]:
    return {
        "id": tab.id,
        "dashboard_id": tab.dashboard_id,
        "name": tab.name,
        "position": tab.position,
        "entity_id": tab.entity_id,
        "created_at": tab.created_at,
        "updated_at": tab.updated_at,
    }


def dashboard_tabs(db: Session, dashboard_id: int) -> list[DashboardTab]:
    statement = (
        select(DashboardTab)
        .where(DashboardTab.dashboard_id == dashboard_id)
        .order_by(DashboardTab.position, DashboardTab.id)
    )
    return list(db.scalars(statement))


def dashboard_cards(db: Session, dashboard_id: int) -> list[DashboardCard]:
    """The dashboard's cards in layout order (top to bottom, left to right)."""
    statement = (
        select(DashboardCard)
        .where(DashboardCard.dashboard_id == dashboard_id)
        .order_by(DashboardCard.row, DashboardCard.col, DashboardCard.id)
    )
    return list(db.scalars(statement))


def series_card_ids(db: Session, dashcard_id: int) -> list[int]:
    statement = (
        select(DashboardCardSeries.card_id)
        .where(DashboardCardSeries.dashboardcard_id == dashcard_id)
        .order_by(DashboardCardSeries.position, DashboardCardSeries.id)
    )
    return list(db.scalars(statement))


def dashcard_json(db: Session, dashcard: DashboardCard, user: User) -> dict[str, Any]:
    """A dashboard card with its `card` and extra `series` cards hydrated (null `card` when virtual)."""
    from querybase.models.card import Card, card_json

    card = db.get(Card, dashcard.card_id) if dashcard.card_id is not None else None
    series = [c for card_id in series_card_ids(db, dashcard.id) if (c := db.get(Card, card_id)) is not None]
    return {
        "id": dashcard.id,
        "entity_id": dashcard.entity_id,
        "dashboard_id": dashcard.dashboard_id,
        "dashboard_tab_id": dashcard.dashboard_tab_id,
        "card_id": dashcard.card_id,
        "card": card_json(db, card, user) if card is not None else None,
        "action_id": dashcard.action_id,
        "row": dashcard.row,
        "col": dashcard.col,
        "size_x": dashcard.size_x,
        "size_y": dashcard.size_y,
        "series": [card_json(db, c, user) for c in series],
        "parameter_mappings": dashcard.parameter_mappings or [],
        "visualization_settings": dashcard.visualization_settings or {},
        "inline_parameters": dashcard.inline_parameters or [],
        "created_at": dashcard.created_at,
        "updated_at": dashcard.updated_at,
    }


def last_edit_info(db: Session, dashboard: Dashboard) -> dict[str, Any] | None:
    """Who last edited the dashboard and when, from its newest revision (none without revisions)."""
    return last_edits(db, "Dashboard", [dashboard.id]).get(dashboard.id)


def mapped_field_ids(db: Session, parameter_id: str, dashcards: list[DashboardCard]) -> list[int]:
    """The fields a dashboard parameter filters on: MBQL field targets, and the fields of the native
    field-filter tags it is mapped to."""
    from querybase.models.card import Card

    ids: list[int] = []
    for dashcard in dashcards:
        for mapping in dashcard.parameter_mappings or []:
            if not isinstance(mapping, dict) or mapping.get("parameter_id") != parameter_id:
                continue
            card_id = mapping.get("card_id", dashcard.card_id)
            card = db.get(Card, card_id) if isinstance(card_id, int) else None
            field_id = target_field_id(mapping.get("target"), card.dataset_query if card else None)
            if field_id is not None and field_id not in ids:
                ids.append(field_id)
    return ids


def target_field_id(target: Any, dataset_query: Any) -> int | None:
    """The field a mapping target points at: `["dimension", ["field", id, …]]`, or a field-filter
    template tag whose `dimension` is such a field."""
    if not isinstance(target, list) or len(target) < 2 or target[0] != "dimension":
        return None
    ref = target[1]
    if isinstance(ref, list) and len(ref) >= 2 and ref[0] == "template-tag":
        tag = template_tags(dataset_query).get(ref[1]) if isinstance(ref[1], str) else None
        ref = tag.get("dimension") if isinstance(tag, dict) else None
    if isinstance(ref, list) and len(ref) >= 2 and ref[0] == "field":
        # Legacy refs put the id second; MBQL 5 refs put the options map second.
        field_id = ref[2] if isinstance(ref[1], dict) and len(ref) > 2 else ref[1]
        if isinstance(field_id, int) and not isinstance(field_id, bool):
            return field_id
    return None


def template_tags(dataset_query: Any) -> dict[str, Any]:
    """A native query's template tags, in the legacy (`native`) or MBQL 5 (`stages`) form."""
    if not isinstance(dataset_query, dict):
        return {}
    native = dataset_query.get("native")
    if isinstance(native, dict):
        return native.get("template-tags") or {}
    stages = dataset_query.get("stages")
    if isinstance(stages, list) and stages and isinstance(stages[0], dict):
        return stages[0].get("template-tags") or {}
    return {}


def param_fields(db: Session, dashboard: Dashboard, dashcards: list[DashboardCard]) -> dict[str, Any]:
    """Each parameter's mapped fields (only parameters mapped to fields appear)."""
    fields: dict[str, Any] = {}
    for parameter in dashboard.parameters or []:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("id"), str):
            continue
        found = [
            field_json(field)
            for field_id in mapped_field_ids(db, parameter["id"], dashcards)
            if (field := db.get(Field, field_id)) is not None
        ]
        if found:
            fields[parameter["id"]] = found
    return fields


def dashboard_json(
    db: Session, dashboard: Dashboard, user: User, *, with_root: bool = True
) -> dict[str, Any]:
    """The fully hydrated dashboard of `GET /api/dashboard/:id` (also answered by POST and PUT). Its
    `collection` has the user's `effective_location`; a dashboard outside any collection gets the root's map,
    except from PUT (`with_root` false), which Metabase answers with a null `collection` then."""
    from querybase.models.card import collection_map, creator_map
    from querybase.permissions.collection import can_write_content

    collection = db.get(Collection, dashboard.collection_id) if dashboard.collection_id is not None else None
    if collection is not None:
        collection_data: dict[str, Any] | None = {
            **(collection_map(db, collection) or {}),
            "effective_location": effective_location(db, user, collection),
        }
    else:
        collection_data = root_collection_json(db, user) if with_root else None
    creator = db.get(User, dashboard.creator_id)
    dashcards = dashboard_cards(db, dashboard.id)
    data = dashboard_row(dashboard)
    if dashboard.archived_directly:
        data["collection_id"] = trash_collection(db).id
    data.update(
        {
            "collection": collection_data,
            "collection_authority_level": collection.authority_level if collection is not None else None,
            "creator": creator_map(creator) if creator is not None else None,
            "dashcards": [dashcard_json(db, dashcard, user) for dashcard in dashcards],
            "tabs": [tab_json(tab) for tab in dashboard_tabs(db, dashboard.id)],
            "param_fields": param_fields(db, dashboard, dashcards),
            "last_used_param_values": {},
            "moderation_reviews": [],
            "can_write": can_write_content(db, user, dashboard.collection_id),
            "can_restore": dashboard.archived and dashboard.archived_directly,
            "can_delete": dashboard.archived,
            "is_remote_synced": False,
        }
    )
    info = last_edit_info(db, dashboard)
    if info is not None:
        data["last-edit-info"] = info
    return data


# Dashboard columns a revision leaves out (Metabase's `excluded-columns-for-dashboard-revision`).
NOT_IN_REVISIONS = frozenset(
    {
        "id",
        "entity_id",
        "created_at",
        "updated_at",
        "creator_id",
        "points_of_interest",
        "caveats",
        "show_in_getting_started",
        "public_uuid",
        "made_public_by_id",
        "position",
        "initially_published_at",
        "view_count",
        "last_viewed_at",
    }
)


def dashboard_snapshot(db: Session, dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as a revision stores it (Metabase's serialized instance): its columns without identity
    and bookkeeping, its `cards` (each dashcard's columns but `entity_id` and timestamps, `series` as card
    ids) and its `tabs` (likewise)."""
    data = {
        column: getattr(dashboard, column) for column in DASHBOARD_COLUMNS if column not in NOT_IN_REVISIONS
    }
    data["parameters"] = dashboard.parameters or []
    data["cards"] = [
        {
            "id": dashcard.id,
            "dashboard_id": dashcard.dashboard_id,
            "dashboard_tab_id": dashcard.dashboard_tab_id,
            "card_id": dashcard.card_id,
            "action_id": dashcard.action_id,
            "row": dashcard.row,
            "col": dashcard.col,
            "size_x": dashcard.size_x,
            "size_y": dashcard.size_y,
            "parameter_mappings": dashcard.parameter_mappings or [],
            "visualization_settings": dashcard.visualization_settings or {},
            "inline_parameters": dashcard.inline_parameters or [],
            "series": series_card_ids(db, dashcard.id),
        }
        # In the order Metabase hydrates them: as they were added.
        for dashcard in sorted(dashboard_cards(db, dashboard.id), key=lambda dashcard: dashcard.id)
    ]
    data["tabs"] = [
        {"id": tab.id, "dashboard_id": tab.dashboard_id, "name": tab.name, "position": tab.position}
        for tab in dashboard_tabs(db, dashboard.id)
    ]
    return data
