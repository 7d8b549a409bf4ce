"""Revisions of the permission graphs: the graph's `revision` number is the id of its latest revision row.

A client sends back the revision it read; a write based on an older one is refused with Metabase's 409,
so two admins cannot overwrite each other's changes without knowing. The new row's id is the revision
read plus one, so two writers that both read the same revision collide on the primary key and the second
one is refused the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from querybase.errors import Conflict
from querybase.models.permissions import CollectionPermissionGraphRevision, PermissionsRevision

STALE_REVISION = (
    "Looks like someone else edited the permissions and your data is out of date. "
    "Please fetch new data and try again."
)

RevisionModel = type[PermissionsRevision] | type[CollectionPermissionGraphRevision]


def latest_id(db: Session, model: RevisionModel) -> int:
    return db.scalar(select(func.max(model.id))) or 0


def check_revision(current: int, sent: Any) -> None:
    """Refuse a graph based on a revision other than the current one (a missing revision too)."""
    if sent != current or isinstance(sent, bool):
        raise Conflict(STALE_REVISION)


def json_keys(value: Any) -> Any:
    """A graph with its integer keys as strings, as JSON has them (and as the revision rows keep them)."""
    if isinstance(value, dict):
        return {str(k): json_keys(v) for k, v in value.items()}
    return value


def save(db: Session, model: RevisionModel, current: int, user: Any, before: Any, after: Any) -> None:
    """Record a change made on top of revision `current`: who, when, and the graph parts it changed."""
    db.add(model(id=current + 1, user_id=user.id, before=json_keys(before), after=json_keys(after)))
    try:
        db.flush()
    except IntegrityError:
        raise Conflict(STALE_REVISION) from None
