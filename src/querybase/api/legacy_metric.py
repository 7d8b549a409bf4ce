"""`/api/metric`: legacy (v1) metrics, as Metabase's API tutorial lists them.

A v1 metric is a named aggregation on a table (`definition` with `source-table` and `aggregation`);
Metabase 0.49 served these endpoints, which it renamed in 0.50 and removed in 0.51 (metrics are now
cards of type "metric"). Shapes follow 0.49: a segment-like object plus `how_is_this_calculated`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.revision import push_revision, revert, revisions_json
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import Map, NonBlankString, PositiveInt
from querybase.api.segment import NULLABLE_KEYS, apply_update, hydrated, related
from querybase.errors import BadRequest, check_404
from querybase.models.database import Table
from querybase.models.segment import LegacyMetric, segment_snapshot
from querybase.models.user import User
from querybase.permissions import checks

router = APIRouter(route_class=MetabaseRoute, tags=["legacy-metric"])

MODEL = "LegacyMetric"
METRIC_NULLABLE_KEYS = (*NULLABLE_KEYS, "how_is_this_calculated")


class CreateMetricBody(BaseModel):
    name: NonBlankString
    table_id: PositiveInt
    definition: Map
    description: str | None = None


class UpdateMetricBody(BaseModel):
    revision_message: NonBlankString
    name: NonBlankString | None = None
    definition: Map | None = None
    archived: bool | None = None
    caveats: str | None = None
    description: str | None = None
    how_is_this_calculated: str | None = None
    points_of_interest: str | None = None
    show_in_getting_started: bool | None = None


class ImportantFieldsBody(BaseModel):
    important_field_ids: list[PositiveInt]


class RevertMetricBody(BaseModel):
    revision_id: PositiveInt


def get_metric(db: Session, metric_id: int) -> LegacyMetric:
    return check_404(db.get(LegacyMetric, metric_id))


@router.get("", responses=shapes.ok(list[shapes.Segment]))
def list_metrics(user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """Every metric that is not archived and that the user may see (with its table), by name, each with the
    database of its table."""
    metrics = [
        m
        for m in db.scalars(
            select(LegacyMetric)
            .where(LegacyMetric.archived.is_(False))
            .order_by(func.lower(LegacyMetric.name), LegacyMetric.id)
        )
        if checks.can_read_table_item(db, user, m)
    ]
    table_ids = {m.table_id for m in metrics}
    db_ids = dict(db.execute(select(Table.id, Table.db_id).where(Table.id.in_(table_ids))).tuples().all())
    return [{**hydrated(db, m), "database_id": db_ids.get(m.table_id)} for m in metrics]


@router.post("", responses=shapes.ok(shapes.Segment))
def create_metric(body: CreateMetricBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Create a metric on an existing table (admins, who manage the data model)."""
    check_404(db.get(Table, body.table_id))
    metric = LegacyMetric(
        table_id=body.table_id,
        creator_id=admin.id,
        name=body.name,
        description=body.description,
        definition=body.definition,
    )
    db.add(metric)
    db.flush()
    push_revision(db, MODEL, metric.id, admin.id, segment_snapshot(metric), is_creation=True)
    return hydrated(db, metric)


def readable_metric(db: Session, user: User, metric_id: int) -> LegacyMetric:
    return checks.readable_table_item(db, user, db.get(LegacyMetric, metric_id))


@router.get("/{metric_id}", responses=shapes.ok(shapes.Segment))
def get_metric_endpoint(metric_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    return hydrated(db, readable_metric(db, user, metric_id))


def update_metric(db: Session, metric_id: int, body: UpdateMetricBody, user: User) -> LegacyMetric:
    metric = get_metric(db, metric_id)
    apply_update(metric, body, METRIC_NULLABLE_KEYS)
    db.flush()
    push_revision(db, MODEL, metric.id, user.id, segment_snapshot(metric), message=body.revision_message)
    return metric


@router.put("/{metric_id}", responses=shapes.ok(shapes.Segment))
def update_metric_endpoint(
    metric_id: int, body: UpdateMetricBody, admin: SuperUser, db: DbSession
) -> dict[str, Any]:
    """Update a metric; `revision_message` says why, in its history."""
    return hydrated(db, update_metric(db, metric_id, body, admin))


@router.put("/{metric_id}/important_fields", responses=shapes.ok(shapes.Success))
def set_important_fields(
    metric_id: int, body: ImportantFieldsBody, admin: SuperUser, db: DbSession
) -> dict[str, bool]:
    """The fields the old Getting Started guide showed with a metric (at most 3). querybase has no
    table for them, so the ids are checked and acknowledged but not kept."""
    get_metric(db, metric_id)
    if len(body.important_field_ids) > 3:
        raise BadRequest("A Metric can have a maximum of 3 important fields.")
    return {"success": True}


@router.delete("/{metric_id}", status_code=204)
def archive_metric(
    metric_id: int, revision_message: NonBlankString, admin: SuperUser, db: DbSession
) -> Response:
    """Archive a metric (Metabase's deprecated form of `PUT {"archived": true}`)."""
    update_metric(db, metric_id, UpdateMetricBody(revision_message=revision_message, archived=True), admin)
    return Response(status_code=204)


@router.get("/{metric_id}/revisions", responses=shapes.ok(list[shapes.Revision]))
def metric_revisions(metric_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    readable_metric(db, user, metric_id)
    return revisions_json(db, MODEL, metric_id)


@router.post("/{metric_id}/revert", responses=shapes.ok(shapes.Revision))
def revert_metric(metric_id: int, body: RevertMetricBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Restore a metric to one of its revisions."""
    return revert(db, admin, "legacy-metric", metric_id, body.revision_id)


@router.get("/{metric_id}/related", responses=shapes.ok(shapes.Related))
def metric_related(metric_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    return related(db, readable_metric(db, user, metric_id))
