"""Saved questions, models and metrics (`report_card`): a query plus how to show it."""

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
    func,
    select,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase import __version__
from querybase.models.base import Base, JSONText, Timestamps, new_entity_id
from querybase.models.collection import COLUMNS as COLLECTION_COLUMNS
from querybase.models.collection import Collection, personal_tree_owner
from querybase.models.dashboard import Dashboard, DashboardCard, shown_public_uuid
from querybase.models.revision import last_edits
from querybase.models.search_index import CARD_MODELS, card_texts, changed, index_item, unindex_item
from querybase.models.user import DEFAULT_COLUMNS, User, user_json


class Card(Timestamps, Base):
    __tablename__ = "report_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    name: Mapped[str] = mapped_column(String(254), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    # "question", "model" or "metric".
    type: Mapped[str] = mapped_column(String(16), default="question", server_default="question")
    display: Mapped[str] = mapped_column(String(254))
    dataset_query: Mapped[Any] = mapped_column(JSONText())
    visualization_settings: Mapped[Any] = mapped_column(JSONText())
    result_metadata: Mapped[Any | None] = mapped_column(JSONText())
    parameters: Mapped[Any | None] = mapped_column(JSONText())
    parameter_mappings: Mapped[Any | None] = mapped_column(JSONText())
    # "query" or "native"; the database and (for MBQL) the source table the query reads.
    query_type: Mapped[str | None] = mapped_column(String(16))
    database_id: Mapped[int] = mapped_column(
        ForeignKey("metabase_database.id", ondelete="CASCADE"), index=True
    )
    table_id: Mapped[int | None] = mapped_column(
        ForeignKey("metabase_table.id", ondelete="SET NULL"), index=True
    )
    source_card_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_card.id", ondelete="SET NULL"), index=True
    )
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="SET NULL"), index=True
    )
    collection_position: Mapped[int | None] = mapped_column(SmallInteger)
    collection_preview: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    dashboard_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    archived_directly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    public_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    made_public_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    enable_embedding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    embedding_params: Mapped[Any | None] = mapped_column(JSONText())
    embedding_type: Mapped[str | None] = mapped_column(String(64))
    initially_published_at: Mapped[dt.datetime | None] = mapped_column()
    cache_ttl: Mapped[int | None] = mapped_column(Integer)
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    card_schema: Mapped[int] = mapped_column(Integer, default=22, server_default="22")


@event.listens_for(Card, "after_insert")
@event.listens_for(Card, "after_update")
def _index_card(_mapper: Any, connection: Connection, card: Card) -> None:
    """Keep the card's search-index words in step with its name, description and query."""
    if changed(card, ("id", "type", "name", "description", "dataset_query")):
        texts = card_texts(card.name, card.description, card.dataset_query)
        index_item(connection, CARD_MODELS.get(card.type, "card"), card.id, texts)


@event.listens_for(Card, "after_delete")
def _unindex_card(_mapper: Any, connection: Connection, card: Card) -> None:
    unindex_item(connection, "card", card.id)


# ---------------------------------------------------------------------------------------------------
# JSON views.

# Columns a card's revision leaves out (Metabase's `excluded-columns-for-card-revision`): identity,
# bookkeeping and sharing, none of which a revert may change.
NOT_IN_REVISIONS = frozenset(
    {
        "id",
        "entity_id",
        "created_at",
        "updated_at",
        "last_used_at",
        "creator_id",
        "public_uuid",
        "made_public_by_id",
        "initially_published_at",
        "view_count",
    }
)


def card_revision_object(card: Card) -> dict[str, Any]:
    """The card as a revision stores it (Metabase's serialized instance): its columns without identity and
    bookkeeping; `result_metadata` only for models, whose metadata edits a revert must bring back."""
    data = {
        column.key: getattr(card, column.key)
        for column in Card.__table__.columns
        if column.key not in NOT_IN_REVISIONS
    }
    if card.type != "model":
        data.pop("result_metadata")
    return data


def collection_map(db: Session, collection: Collection | None) -> dict[str, Any] | None:
    """The `collection` a card is hydrated with: the row plus `is_personal` (null for the root)."""
    if collection is None:
        return None
    return {
        **{column: getattr(collection, column) for column in COLLECTION_COLUMNS},
        "is_personal": personal_tree_owner(db, collection) is not None,
    }


def creator_map(user: User) -> dict[str, Any]:
    """Metabase's user map for a card's `creator`."""
    data = user_json(user, DEFAULT_COLUMNS)
    data["locale"] = user.locale
    data["tenant_id"] = None
    return data


def last_edit_info(db: Session, card: Card) -> dict[str, Any]:
    """Who last edited the card and when: the newest revision, else its creator at `updated_at`."""
    edit = last_edits(db, "Card", [card.id]).get(card.id)
    if edit is not None:
        return edit
    creator = db.get(User, card.creator_id)
    assert creator is not None
    return {
        "id": creator.id,
        "email": creator.email,
        "first_name": creator.first_name,
        "last_name": creator.last_name,
        "timestamp": card.updated_at,
    }


def dashboard_count(db: Session, card: Card) -> int:
    """How many dashboard cards show this card."""
    statement = select(func.count()).select_from(DashboardCard).where(DashboardCard.card_id == card.id)
    return db.scalar(statement) or 0


def card_json(db: Session, card: Card, user: User) -> dict[str, Any]:
    """The fully hydrated card of `GET /api/card/:id` (also answered by POST and PUT)."""
    # What the user may do with it is decided in `permissions/` (imported here: it builds on this module).
    from querybase.permissions import checks
    from querybase.permissions import collection as rules

    collection = db.get(Collection, card.collection_id) if card.collection_id is not None else None
    creator = db.get(User, card.creator_id)
    dashboard = db.get(Dashboard, card.dashboard_id) if card.dashboard_id is not None else None
    data: dict[str, Any] = {
        "id": card.id,
        "entity_id": card.entity_id,
        "name": card.name,
        "description": card.description,
        "type": card.type,
        "display": card.display,
        "visualization_settings": card.visualization_settings,
        "dataset_query": card.dataset_query,
        "query_type": card.query_type,
        "database_id": card.database_id,
        "table_id": card.table_id,
        "source_card_id": card.source_card_id,
        "card_schema": card.card_schema,
        "metabase_version": __version__,
        "collection_id": card.collection_id,
        "collection": collection_map(db, collection),
        "collection_position": card.collection_position,
        "collection_preview": card.collection_preview,
        "dashboard_id": card.dashboard_id,
        "dashboard": (
            {"id": dashboard.id, "name": dashboard.name, "moderation_status": None}
            if dashboard is not None
            else None
        ),
        "document_id": None,
        "creator_id": card.creator_id,
        "creator": creator_map(creator) if creator is not None else None,
        "made_public_by_id": card.made_public_by_id,
        "public_uuid": shown_public_uuid(db, card.public_uuid),
        "enable_embedding": card.enable_embedding,
        "embedding_type": card.embedding_type,
        "embedding_params": card.embedding_params,
        "initially_published_at": card.initially_published_at,
        "parameters": card.parameters if card.parameters is not None else [],
        "parameter_mappings": card.parameter_mappings if card.parameter_mappings is not None else [],
        "result_metadata": card.result_metadata,
        "archived": card.archived,
        "archived_directly": card.archived_directly,
        "cache_ttl": card.cache_ttl,
        "cache_invalidated_at": None,
        "average_query_time": None,
        "last_query_start": None,
        "last_used_at": card.last_used_at,
        "view_count": card.view_count,
        "dashboard_count": dashboard_count(db, card),
        "parameter_usage_count": 0,
        "moderation_reviews": [],
        "can_write": rules.can_write_content(db, user, card.collection_id),
        "can_restore": card.archived and card.archived_directly,
        "can_delete": card.archived,
        "can_manage_db": user.is_superuser,
        "can_run_adhoc_query": checks.can_run_card_query(db, user, card),
        "is_remote_synced": False,
        "based_on_upload": None,
        "last-edit-info": last_edit_info(db, card),
        "created_at": card.created_at,
        "updated_at": card.updated_at,
    }
    if card.type == "model":
        data["persisted"] = False
    return data
