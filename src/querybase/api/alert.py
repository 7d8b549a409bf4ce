"""`/api/alert`: what Metabase 0.57 keeps of its legacy alert API (alerts moved to `/api/notification` in
0.54): listing and reading alerts in the old pulse shape, and unsubscribing from one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.notification import can_read, get_notification, list_notifications, unsubscribe_user
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue, PositiveInt
from querybase.errors import check_403
from querybase.models.card import Card, creator_map
from querybase.models.database import schedule_map
from querybase.models.notification import (
    CARD,
    CRON,
    EMAIL,
    RAW_VALUE,
    USER,
    Notification,
    handlers,
    payload_card,
    recipients,
    subscriptions,
)
from querybase.models.user import User

router = APIRouter(route_class=MetabaseRoute, tags=["alert"])

_SCHEDULE_KEYS = ("schedule_type", "schedule_hour", "schedule_day", "schedule_frame")


def _channel(db: Session, handler: Any, schedule: dict[str, Any]) -> dict[str, Any]:
    rows = recipients(db, handler.id)
    raw = [r.details or {} for r in rows if r.type == RAW_VALUE]
    users = []
    for row in rows:
        user = db.get(User, row.user_id) if row.type == USER and row.user_id is not None else None
        if user is not None and user.is_active:
            users.append(
                {
                    "email": user.email,
                    "last_name": user.last_name,
                    "first_name": user.first_name,
                    "id": user.id,
                    "common_name": user.common_name,
                }
            )
    kind = handler.channel_type
    if kind == EMAIL:
        details: dict[str, Any] = {"emails": [r.get("value") for r in raw]}
    elif kind == "channel/slack":
        details = {"channel": raw[0].get("value") if raw else None}
    else:
        details = {}
    return {
        **schedule,
        "id": handler.id,
        "recipients": [{"email": r.get("value")} for r in raw] + users if kind == EMAIL else [],
        "channel_type": kind.split("/", 1)[-1],
        "channel_id": handler.channel_id,
        "enabled": handler.active,
        "details": details,
    }


def alert_json(db: Session, notification: Notification) -> dict[str, Any]:
    """A card notification in the pulse shape `GET /api/alert` answered before 0.54 (Metabase's
    `notification->pulse`)."""
    payload = payload_card(db, notification)
    card = db.get(Card, payload.card_id) if payload is not None else None
    creator = db.get(User, notification.creator_id) if notification.creator_id is not None else None
    first = next((s for s in subscriptions(db, notification.id) if s.type == CRON and s.cron_schedule), None)
    schedule = {k: schedule_map(first.cron_schedule)[k] for k in _SCHEDULE_KEYS} if first else {}
    condition = payload.send_condition if payload is not None else "has_result"
    card_keys = ("name", "description", "collection_id", "display")
    return {
        "id": notification.id,
        "creator_id": notification.creator_id,
        "creator": creator_map(creator) if creator is not None else None,
        "created_at": notification.created_at,
        "updated_at": notification.updated_at,
        "name": None,
        "alert_condition": "rows" if condition == "has_result" else "goal",
        "alert_above_goal": True if condition == "goal_above" else None,
        "alert_first_only": payload.send_once if payload is not None else False,
        "archived": not notification.active,
        "collection_position": None,
        "collection_id": None,
        "skip_if_empty": True,
        "parameters": [],
        "dashboard_id": None,
        "card": {
            **({k: getattr(card, k) for k in card_keys} if card is not None else {}),
            "format_rows": True,
            "include_xls": False,
            "include_csv": True,
            "pivot_results": False,
            "dashboard_id": None,
            "dashboard_card_id": None,
            "parameter_mappings": None,
        },
        "channels": [_channel(db, handler, schedule) for handler in handlers(db, notification.id)],
    }


@router.get("", responses=shapes.ok(list[shapes.Alert]))
def list_alerts(
    user: CurrentUser,
    db: DbSession,
    archived: Annotated[BooleanValue | None, Query()] = False,
    user_id: Annotated[PositiveInt | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Alerts the user created or receives (admins: all, or those of `user_id`); archived ones are the
    inactive notifications."""
    who = user_id if user.is_superuser else user.id
    found = list_notifications(
        db,
        user,
        creator_or_recipient_id=who,
        payload_type=CARD,
        active=not archived,
    )
    return [alert_json(db, n) for n in found]


@router.get("/{alert_id}", responses=shapes.ok(shapes.Alert))
def get_alert(alert_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    notification = get_notification(db, alert_id)
    check_403(can_read(db, user, notification))
    return alert_json(db, notification)


@router.delete("/{alert_id}/subscription", status_code=204)
def unsubscribe(alert_id: int, user: CurrentUser, db: DbSession) -> Response:
    """Take the user off the alert's recipients (403 unless they receive it)."""
    unsubscribe_user(db, user, alert_id)
    return Response(status_code=204)
