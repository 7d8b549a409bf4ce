"""`/api/segment`: named filters on a table, usable in MBQL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.revision import push_revision
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import Map, NonBlankString, PositiveInt
from querybase.errors import check_404
from querybase.models.card import creator_map
from querybase.models.database import Table, table_json
from querybase.models.segment import LegacyMetric, Segment, segment_json, segment_snapshot
from querybase.models.user import User
from querybase.permissions import checks

router = APIRouter(route_class=MetabaseRoute, tags=["segment"])


class CreateSegmentBody(BaseModel):
    name: NonBlankString
    table_id: PositiveInt
    definition: Map
    description: str | None = None


class UpdateSegmentBody(BaseModel):
    revision_message: NonBlankString
    name: NonBlankString | None = None
    definition: Map | None = None
    archived: bool | None = None
    caveats: str | None = None
    description: str | None = None
    points_of_interest: str | None = None
    show_in_getting_started: bool | None = None


# Metabase's update rule: these are set whenever sent (null clears them), the others only when not null.
NULLABLE_KEYS = ("description", "caveats", "points_of_interest")
NON_NIL_KEYS = ("archived", "definition", "name", "show_in_getting_started")


def hydrated(db: Session, item: Segment | LegacyMetric) -> dict[str, Any]:
    creator = db.get(User, item.creator_id)
    return segment_json(item, creator_map(creator) if creator is not None else None)


def apply_update(item: Segment | LegacyMetric, body: BaseModel, nullable_keys: tuple[str, ...]) -> None:
    """Copy the sent fields of `body` onto `item` by Metabase's present/non-nil rule."""
    sent = body.model_fields_set
    for key in nullable_keys:
        if key in sent:
            setattr(item, key, getattr(body, key))
    for key in NON_NIL_KEYS:
        value = getattr(body, key)
        if value is not None:
            setattr(item, key, value)


def related(db: Session, item: Segment | LegacyMetric) -> dict[str, Any]:
    """The table of a segment or legacy metric, and the other segments and metrics on it."""
    table = check_404(db.get(Table, item.table_id))

    def others(model: type[Segment] | type[LegacyMetric]) -> list[dict[str, Any]]:
        rows = db.scalars(
            select(model)
            .where(model.table_id == table.id, model.archived.is_(False))
            .order_by(func.lower(model.name), model.id)
        )
        return [hydrated(db, row) for row in rows if row is not item]

    return {"table": table_json(table), "segments": others(Segment), "metrics": others(LegacyMetric)}


@router.get("", responses=shapes.ok(list[shapes.Segment]))
def list_segments(user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """Every segment that is not archived and that the user may see (with its table), by name."""
    segments = db.scalars(
        select(Segment).where(Segment.archived.is_(False)).order_by(func.lower(Segment.name), Segment.id)
    )
    return [hydrated(db, s) for s in segments if checks.can_read_table_item(db, user, s)]


@router.post("", responses=shapes.ok(shapes.Segment))
def create_segment(body: CreateSegmentBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Create a segment on an existing table (admins, who manage the data model)."""
    check_404(db.get(Table, body.table_id))
    segment = Segment(
        table_id=body.table_id,
        creator_id=admin.id,
        name=body.name,
        description=body.description,
        definition=body.definition,
    )
    db.add(segment)
    db.flush()
    push_revision(db, "Segment", segment.id, admin.id, segment_snapshot(segment), is_creation=True)
    return hydrated(db, segment)


@router.get("/{segment_id}", responses=shapes.ok(shapes.Segment))
def get_segment(segment_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    return hydrated(db, checks.readable_table_item(db, user, db.get(Segment, segment_id)))


def update_segment(db: Session, segment_id: int, body: UpdateSegmentBody, user: User) -> Segment:
    segment = check_404(db.get(Segment, segment_id))
    apply_update(segment, body, NULLABLE_KEYS)
    db.flush()
    push_revision(
        db, "Segment", segment.id, user.id, segment_snapshot(segment), message=body.revision_message
    )
    return segment


@router.put("/{segment_id}", responses=shapes.ok(shapes.Segment))
def update_segment_endpoint(
    segment_id: int, body: UpdateSegmentBody, admin: SuperUser, db: DbSession
) -> dict[str, Any]:
    """Update a segment; `revision_message` says why, in its history."""
    return hydrated(db, update_segment(db, segment_id, body, admin))


@router.delete("/{segment_id}", status_code=204)
def archive_segment(
    segment_id: int, revision_message: NonBlankString, admin: SuperUser, db: DbSession
) -> Response:
    """Archive a segment (Metabase's deprecated form of `PUT {"archived": true}`)."""
    update_segment(db, segment_id, UpdateSegmentBody(revision_message=revision_message, archived=True), admin)
    return Response(status_code=204)


@router.get("/{segment_id}/related", responses=shapes.ok(shapes.Related))
def segment_related(segment_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    return related(db, checks.readable_table_item(db, user, db.get(Segment, segment_id)))
