"""`/api/timeline`: timelines of events shown on time-series charts.

A timeline belongs to a collection (or the root) and is read and written with that collection's
permissions; `include=events` adds its events.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import MbType, NonBlankString, PositiveInt, received
from querybase.api.table import enum_type
from querybase.errors import BadRequest, check_404
from querybase.models.card import creator_map
from querybase.models.collection import Collection, collection_json, root_ancestor
from querybase.models.timeline import Timeline, TimelineEvent, event_row_json, timeline_row_json
from querybase.models.user import User
from querybase.permissions import checks
from querybase.permissions.collection import can_read_content, can_write_content

router = APIRouter(route_class=MetabaseRoute, tags=["timeline"])

ICON_VALUES = ("star", "cake", "mail", "warning", "bell", "cloud")
Icon = Annotated[Literal[ICON_VALUES], enum_type(*ICON_VALUES)]  # type: ignore[valid-type]
Include = Annotated[Literal["events"], enum_type("events")]
TEMPORAL = MbType("value must be a valid date string", lambda value: [received("valid date string", value)])


def parse_temporal(value: str) -> dt.datetime:
    """An ISO-8601 date or date-time (a date means its midnight, UTC unless an offset is given)."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("valid date string") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def temporal_param(name: str, value: str | None) -> dt.datetime | None:
    """A date query parameter, or Metabase's 400 for one that is not a date."""
    if value is None:
        return None
    try:
        return parse_temporal(value)
    except ValueError:
        raise BadRequest(
            {
                "errors": {name: "value must be a valid date string"},
                "specific-errors": {name: [received("valid date string", value)]},
            }
        ) from None


class CreateTimelineBody(BaseModel):
    name: NonBlankString
    default: bool | None = None
    description: str | None = None
    icon: Icon | None = None
    collection_id: PositiveInt | None = None
    archived: bool | None = None


class UpdateTimelineBody(BaseModel):
    name: NonBlankString | None = None
    default: bool | None = None
    description: str | None = None
    icon: Icon | None = None
    collection_id: PositiveInt | None = None
    archived: bool | None = None


def collection_of(db: Session, collection_id: int | None) -> Collection | None:
    return check_404(db.get(Collection, collection_id)) if collection_id is not None else None


def check_collection(db: Session, user: User, collection_id: int | None, *, write: bool) -> None:
    """Timelines follow their collection's permissions (the root's when they have none): 404 for a
    collection that does not exist, 403 without access."""
    collection_of(db, collection_id)
    (checks.check_write_content if write else checks.check_read_content)(db, user, collection_id)


def get_timeline(db: Session, user: User, timeline_id: int, *, write: bool) -> Timeline:
    timeline = check_404(db.get(Timeline, timeline_id))
    check_collection(db, user, timeline.collection_id, write=write)
    return timeline


def creator_json(db: Session, creator_id: int) -> dict[str, Any] | None:
    creator = db.get(User, creator_id)
    return creator_map(creator) if creator is not None else None


def event_json(db: Session, event: TimelineEvent) -> dict[str, Any]:
    return {**event_row_json(event), "creator": creator_json(db, event.creator_id)}


def events_of(
    db: Session,
    timeline: Timeline,
    *,
    archived: bool,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The timeline's events by time: unarchived ones, or all with `archived`; within [start, end]."""
    conditions: list[Any] = [TimelineEvent.timeline_id == timeline.id]
    if not archived:
        conditions.append(TimelineEvent.archived.is_(False))
    if start is not None:
        conditions.append(TimelineEvent.timestamp >= start)
    if end is not None:
        conditions.append(TimelineEvent.timestamp <= end)
    events = db.scalars(
        select(TimelineEvent).where(*conditions).order_by(TimelineEvent.timestamp, TimelineEvent.id)
    )
    return [event_json(db, e) for e in events]


def timeline_json(db: Session, user: User, timeline: Timeline) -> dict[str, Any]:
    """A timeline with its creator and its collection (the root when it has none)."""
    collection = collection_of(db, timeline.collection_id)
    return {
        **timeline_row_json(timeline),
        "creator": creator_json(db, timeline.creator_id),
        "collection": collection_json(db, user, collection)
        if collection is not None
        else {**root_ancestor(), "can_write": can_write_content(db, user, None)},
    }


def timelines_json(
    db: Session, user: User, timelines: list[Timeline], *, events: bool, archived: bool
) -> list[dict[str, Any]]:
    data = []
    for timeline in timelines:
        item = timeline_json(db, user, timeline)
        if events:
            item["events"] = events_of(db, timeline, archived=archived)
        data.append(item)
    return data


@router.get("", responses=shapes.ok(list[shapes.Timeline]))
def list_timelines(
    user: CurrentUser, db: DbSession, include: Include | None = None, archived: bool = False
) -> list[dict[str, Any]]:
    """The timelines (archived ones with `archived=true`) in collections the user may read, by name."""
    timelines = db.scalars(
        select(Timeline)
        .where(Timeline.archived.is_(archived))
        .order_by(func.lower(Timeline.name), Timeline.id)
    ).all()
    readable = [t for t in timelines if can_read_content(db, user, t.collection_id)]
    return timelines_json(db, user, readable, events=include == "events", archived=archived)


@router.post("", responses=shapes.ok(shapes.Timeline))
def create_timeline(body: CreateTimelineBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Create a timeline in a collection the user may write (the root when none is given)."""
    check_collection(db, user, body.collection_id, write=True)
    timeline = Timeline(
        name=body.name,
        description=body.description,
        icon=body.icon or "star",
        collection_id=body.collection_id,
        default=bool(body.default),
        archived=bool(body.archived),
        creator_id=user.id,
    )
    db.add(timeline)
    db.flush()
    return timeline_row_json(timeline)


@router.get("/collection/root", responses=shapes.ok(list[shapes.Timeline]))
def root_timelines(
    user: CurrentUser, db: DbSession, include: Include | None = None, archived: bool = False
) -> list[dict[str, Any]]:
    return collection_timelines(db, user, None, include=include, archived=archived)


@router.get("/collection/{collection_id}", responses=shapes.ok(list[shapes.Timeline]))
def timelines_of_collection(
    collection_id: int,
    user: CurrentUser,
    db: DbSession,
    include: Include | None = None,
    archived: bool = False,
) -> list[dict[str, Any]]:
    return collection_timelines(db, user, collection_id, include=include, archived=archived)


def collection_timelines(
    db: Session, user: User, collection_id: int | None, *, include: str | None, archived: bool
) -> list[dict[str, Any]]:
    """The timelines of one collection (None: the root)."""
    check_collection(db, user, collection_id, write=False)
    timelines = db.scalars(
        select(Timeline)
        .where(
            Timeline.collection_id.is_(None)
            if collection_id is None
            else Timeline.collection_id == collection_id
        )
        .where(Timeline.archived.is_(archived))
        .order_by(Timeline.id)
    ).all()
    return timelines_json(db, user, list(timelines), events=include == "events", archived=archived)


@router.get("/{timeline_id}", responses=shapes.ok(shapes.Timeline))
def get_timeline_endpoint(
    timeline_id: int,
    user: CurrentUser,
    db: DbSession,
    include: Include | None = None,
    archived: bool = False,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """A timeline; `include=events` adds its unarchived events (all of them with `archived=true`), optionally
    only those between `start` and `end`."""
    start_at, end_at = temporal_param("start", start), temporal_param("end", end)
    timeline = get_timeline(db, user, timeline_id, write=False)
    data = timeline_json(db, user, timeline)
    if include == "events":
        data["events"] = events_of(db, timeline, archived=archived, start=start_at, end=end_at)
    return data


@router.put("/{timeline_id}", responses=shapes.ok(shapes.Timeline))
def update_timeline(
    timeline_id: int, body: UpdateTimelineBody, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """Change a timeline; archiving or restoring it does the same to all its events."""
    timeline = get_timeline(db, user, timeline_id, write=True)
    sent = body.model_fields_set
    if "collection_id" in sent and body.collection_id != timeline.collection_id:
        check_collection(db, user, body.collection_id, write=True)
    for key in ("description", "icon", "collection_id", "default", "archived"):
        if key in sent and not (key in ("icon", "default", "archived") and getattr(body, key) is None):
            setattr(timeline, key, getattr(body, key))
    if body.name is not None:
        timeline.name = body.name
    if body.archived is not None:
        db.execute(
            update(TimelineEvent)
            .where(TimelineEvent.timeline_id == timeline.id)
            .values(archived=body.archived)
        )
    db.flush()
    return timeline_json(db, user, timeline)


@router.delete("/{timeline_id}", status_code=204)
def delete_timeline(timeline_id: int, user: CurrentUser, db: DbSession) -> Response:
    """Delete a timeline and its events."""
    timeline = get_timeline(db, user, timeline_id, write=True)
    db.execute(delete(TimelineEvent).where(TimelineEvent.timeline_id == timeline.id))
    db.delete(timeline)
    return Response(status_code=204)
