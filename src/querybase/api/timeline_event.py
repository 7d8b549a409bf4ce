"""`/api/timeline-event`: the events of a timeline, with their timeline's (collection's) permissions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BaseModel
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import NonBlankString, PositiveInt
from querybase.api.table import enum_type
from querybase.api.timeline import TEMPORAL, Icon, check_collection, parse_temporal
from querybase.errors import NotFound, check_404
from querybase.models.timeline import Timeline, TimelineEvent, event_row_json
from querybase.models.user import User

router = APIRouter(route_class=MetabaseRoute, tags=["timeline-event"])


def _temporal(value: str) -> str:
    parse_temporal(value)
    return value


Temporal = Annotated[str, AfterValidator(_temporal), TEMPORAL]
Source = Annotated[Literal["collections", "question"], enum_type("collections", "question")]


class CreateEventBody(BaseModel):
    name: NonBlankString
    timestamp: Temporal
    timezone: str
    timeline_id: PositiveInt
    description: str | None = None
    time_matters: bool | None = None
    icon: Icon | None = None
    source: Source | None = None
    question_id: PositiveInt | None = None
    archived: bool | None = None


class UpdateEventBody(BaseModel):
    name: NonBlankString | None = None
    description: str | None = None
    timestamp: Temporal | None = None
    time_matters: bool | None = None
    timezone: str | None = None
    icon: Icon | None = None
    timeline_id: PositiveInt | None = None
    archived: bool | None = None


def timeline_for(db: Session, user: User, timeline_id: int, *, write: bool) -> Timeline:
    """The event's timeline; a missing one gets Metabase's own message rather than a bare 404."""
    timeline = db.get(Timeline, timeline_id)
    if timeline is None:
        raise NotFound(f"Timeline with id {timeline_id} not found")
    check_collection(db, user, timeline.collection_id, write=write)
    return timeline


def get_event(db: Session, user: User, event_id: int, *, write: bool) -> TimelineEvent:
    event = check_404(db.get(TimelineEvent, event_id))
    timeline = check_404(db.get(Timeline, event.timeline_id))
    check_collection(db, user, timeline.collection_id, write=write)
    return event


@router.post("", responses=shapes.ok(shapes.TimelineEvent))
def create_event(body: CreateEventBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Add an event to a timeline the user may write; without an icon it takes the timeline's."""
    timeline = timeline_for(db, user, body.timeline_id, write=True)
    event = TimelineEvent(
        timeline_id=timeline.id,
        name=body.name,
        description=body.description,
        timestamp=parse_temporal(body.timestamp),
        timezone=body.timezone,
        time_matters=bool(body.time_matters),
        icon=body.icon or timeline.icon,
        archived=bool(body.archived),
        creator_id=user.id,
    )
    db.add(event)
    db.flush()
    return event_row_json(event)


@router.get("/{event_id}", responses=shapes.ok(shapes.TimelineEvent))
def get_event_endpoint(event_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    return event_row_json(get_event(db, user, event_id, write=False))


@router.put("/{event_id}", responses=shapes.ok(shapes.TimelineEvent))
def update_event(event_id: int, body: UpdateEventBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Change an event; moving it to another timeline needs write access there too."""
    event = get_event(db, user, event_id, write=True)
    sent = body.model_fields_set
    if body.timeline_id is not None and body.timeline_id != event.timeline_id:
        timeline_for(db, user, body.timeline_id, write=True)
    if "description" in sent:
        event.description = body.description
    for key in ("time_matters", "timezone", "icon", "timeline_id", "archived", "name"):
        value = getattr(body, key)
        if value is not None:
            setattr(event, key, value)
    if body.timestamp is not None:
        event.timestamp = parse_temporal(body.timestamp)
    db.flush()
    return event_row_json(event)


@router.delete("/{event_id}", status_code=204)
def delete_event(event_id: int, user: CurrentUser, db: DbSession) -> Response:
    db.delete(get_event(db, user, event_id, write=True))
    return Response(status_code=204)
