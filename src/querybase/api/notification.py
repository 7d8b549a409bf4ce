"""`/api/notification`: notifications, where alerts live since Metabase 0.54 (a card, a send condition, cron
schedules, and email handlers with their recipients), sending them now, and the anonymous
`/api/notification/unsubscribe` links of their emails.

Who may see a notification: admins, its creator and its recipients; who may change it: admins, and its
creator while they may read its card. querybase creates `notification/card` notifications (alerts) and
sends their `channel/email` handlers; other handlers are kept but not sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.card import may_read
from querybase.api.deps import CurrentUser, DbSession, SettingsDep
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import EMAIL_RE, INT32_MAX, BooleanValue, PositiveInt
from querybase.api.table import enum_type
from querybase.delivery import send
from querybase.email import MailError
from querybase.errors import BadRequest, NotFound, check_403, check_404
from querybase.models.card import Card
from querybase.models.notification import (
    CARD,
    CRON,
    EMAIL,
    GROUP,
    PAYLOAD_TYPES,
    RAW_VALUE,
    RECIPIENT_TYPES,
    SEND_CONDITIONS,
    SUBSCRIPTION_TYPES,
    USER,
    Notification,
    NotificationCard,
    NotificationHandler,
    NotificationRecipient,
    NotificationSubscription,
    handlers,
    notification_json,
    payload_card,
    recipient_user_ids,
    recipients,
    subscriptions,
)
from querybase.models.user import PermissionsGroup, User
from querybase.scheduler.cron import is_valid_cron
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["notification"])

PayloadType = Annotated[Literal[PAYLOAD_TYPES], enum_type(*PAYLOAD_TYPES)]  # type: ignore[valid-type]
SendCondition = Annotated[Literal[SEND_CONDITIONS], enum_type(*SEND_CONDITIONS)]  # type: ignore[valid-type]
SubscriptionType = Annotated[Literal[SUBSCRIPTION_TYPES], enum_type(*SUBSCRIPTION_TYPES)]  # type: ignore[valid-type]
RecipientType = Annotated[Literal[RECIPIENT_TYPES], enum_type(*RECIPIENT_TYPES)]  # type: ignore[valid-type]
UiDisplayType = Annotated[Literal["cron/raw", "cron/builder"], enum_type("cron/raw", "cron/builder")]


class _Open(BaseModel):
    # Clients send back what they were given (ids, timestamps, the hydrated card and users): ignored.
    model_config = ConfigDict(extra="ignore")


class PayloadBody(_Open):
    card_id: PositiveInt
    send_condition: SendCondition | None = None
    send_once: bool | None = None


class SubscriptionBody(_Open):
    id: int | None = None
    type: SubscriptionType
    cron_schedule: str | None = None
    event_name: str | None = None
    ui_display_type: UiDisplayType | None = None


class RecipientBody(_Open):
    id: int | None = None
    type: RecipientType
    user_id: PositiveInt | None = None
    permissions_group_id: PositiveInt | None = None
    details: dict[str, Any] | None = None


class HandlerBody(_Open):
    id: int | None = None
    channel_type: str
    channel_id: PositiveInt | None = None
    template_id: PositiveInt | None = None
    active: bool | None = None
    recipients: list[RecipientBody] | None = None


class NotificationBody(_Open):
    payload_type: PayloadType
    payload: PayloadBody | None = None
    active: bool | None = None
    creator_id: int | None = None
    subscriptions: list[SubscriptionBody] | None = None
    handlers: list[HandlerBody] | None = None


class SendBody(BaseModel):
    handler_ids: list[PositiveInt] | None = None


class UnsubscribeBody(BaseModel):
    handler_id: PositiveInt = Field(alias="notification-handler-id")
    email: str
    hash: str


# --- Permissions ------------------------------------------------------------------------------------------


def _payload_readable(db: Session, user: User, card_id: int | None) -> bool:
    card = db.get(Card, card_id) if card_id is not None else None
    return card is not None and may_read(db, user, card)


def can_read(db: Session, user: User, notification: Notification) -> bool:
    return (
        user.is_superuser
        or notification.creator_id == user.id
        or user.id in recipient_user_ids(db, notification.id)
    )


def _card_id(db: Session, notification: Notification) -> int | None:
    payload = payload_card(db, notification)
    return payload.card_id if payload is not None else None


def can_write(db: Session, user: User, notification: Notification) -> bool:
    return user.is_superuser or (
        notification.creator_id == user.id and _payload_readable(db, user, _card_id(db, notification))
    )


def get_notification(db: Session, notification_id: int) -> Notification:
    return check_404(db.get(Notification, notification_id))


def _received_by(user_id: int) -> Select[tuple[int]]:
    """The ids of the notifications `user_id` is a recipient of."""
    return (
        select(NotificationHandler.notification_id)
        .join(NotificationRecipient, NotificationRecipient.notification_handler_id == NotificationHandler.id)
        .where(NotificationRecipient.user_id == user_id)
    )


def list_notifications(
    db: Session,
    user: User,
    *,
    creator_id: int | None = None,
    recipient_id: int | None = None,
    creator_or_recipient_id: int | None = None,
    card_id: int | None = None,
    payload_type: str | None = None,
    active: bool | None = True,
) -> list[Notification]:
    """Notifications matching every filter given (`active` None: active or not), that `user` may read."""
    statement = select(Notification).order_by(Notification.id)
    if creator_id is not None:
        statement = statement.where(Notification.creator_id == creator_id)
    if recipient_id is not None:
        statement = statement.where(Notification.id.in_(_received_by(recipient_id)))
    if creator_or_recipient_id is not None:
        statement = statement.where(
            or_(
                Notification.creator_id == creator_or_recipient_id,
                Notification.id.in_(_received_by(creator_or_recipient_id)),
            )
        )
    if card_id is not None:
        cards = select(NotificationCard.id).where(NotificationCard.card_id == card_id)
        statement = statement.where(Notification.payload_type == CARD, Notification.payload_id.in_(cards))
    if payload_type is not None:
        statement = statement.where(Notification.payload_type == payload_type)
    if active is not None:
        statement = statement.where(Notification.active.is_(active))
    return [n for n in db.scalars(statement) if can_read(db, user, n)]


# --- Writing ----------------------------------------------------------------------------------------------


def _check_subscription(body: SubscriptionBody) -> None:
    if body.type == CRON and not is_valid_cron(body.cron_schedule):
        raise BadRequest({"errors": {"subscriptions": "value must be a valid Quartz cron schedule string."}})


def _check_recipient(db: Session, body: RecipientBody) -> None:
    if body.type == USER:
        if body.user_id is None:
            raise BadRequest({"errors": {"handlers": {"recipients": {"user_id": "missing required key"}}}})
        if db.get(User, body.user_id) is None:
            raise NotFound(f"User {body.user_id} does not exist.")
    elif body.type == GROUP:
        if body.permissions_group_id is None or db.get(PermissionsGroup, body.permissions_group_id) is None:
            raise BadRequest({"errors": {"handlers": {"recipients": {"permissions_group_id": "invalid"}}}})
    elif body.type == RAW_VALUE and not (isinstance(body.details, dict) and "value" in body.details):
        raise BadRequest({"errors": {"handlers": {"recipients": {"details": "missing required key :value"}}}})


def _check_handlers(db: Session, bodies: list[HandlerBody]) -> None:
    for handler in bodies:
        if not handler.channel_type.startswith("channel/"):
            raise BadRequest({"errors": {"handlers": {"channel_type": "should be a channel/... keyword"}}})
        for recipient in handler.recipients or []:
            _check_recipient(db, recipient)


def _check_body(db: Session, body: NotificationBody) -> None:
    if body.payload_type != CARD:
        raise BadRequest({"message": "querybase only supports notification/card notifications (alerts)."})
    if body.payload is None:
        raise BadRequest(
            {
                "errors": {"payload": "map"},
                "specific-errors": {"payload": {"card_id": ["missing required key, received: nil"]}},
            }
        )
    for subscription in body.subscriptions or []:
        _check_subscription(subscription)
    _check_handlers(db, body.handlers or [])


def _recipient_values(body: RecipientBody) -> dict[str, Any]:
    return {
        "type": body.type,
        "user_id": body.user_id if body.type == USER else None,
        "permissions_group_id": body.permissions_group_id if body.type == GROUP else None,
        "details": body.details if body.type not in (USER, GROUP) else None,
    }


def _subscription_values(body: SubscriptionBody) -> dict[str, Any]:
    return {
        "type": body.type,
        "cron_schedule": body.cron_schedule if body.type == CRON else None,
        "event_name": body.event_name if body.type != CRON else None,
        "ui_display_type": body.ui_display_type,
    }


def _handler_values(body: HandlerBody) -> dict[str, Any]:
    # Channels and templates are not checked (querybase has none); one past the 32 bits of every id names
    # none: not found, rather than the app database's refusal.
    if any(i is not None and i > INT32_MAX for i in (body.channel_id, body.template_id)):
        raise NotFound()
    return {
        "channel_type": body.channel_type,
        "channel_id": body.channel_id,
        "template_id": body.template_id,
        "active": True if body.active is None else body.active,
    }


def _sync_rows(
    db: Session, existing: list[Any], bodies: list[Any], make: Any, values: Any
) -> list[tuple[Any, Any]]:
    """Make the rows `existing` match `bodies`: a body with the id of a row updates it, any other is a new
    row (`make`), rows no body names are deleted. Returns (row, body) pairs."""
    by_id = {row.id: row for row in existing}
    pairs = []
    for body in bodies:
        row = by_id.pop(body.id, None) if body.id is not None else None
        if row is None:
            row = make()
            db.add(row)
        for key, value in values(body).items():
            if getattr(row, key, None) != value:
                setattr(row, key, value)
        pairs.append((row, body))
    for row in by_id.values():
        db.delete(row)
    db.flush()
    return pairs


def _save_subscriptions(db: Session, notification: Notification, bodies: list[SubscriptionBody]) -> None:
    _sync_rows(
        db,
        subscriptions(db, notification.id),
        bodies,
        lambda: NotificationSubscription(notification_id=notification.id),
        _subscription_values,
    )


def _save_handlers(db: Session, notification: Notification, bodies: list[HandlerBody]) -> None:
    pairs = _sync_rows(
        db,
        handlers(db, notification.id),
        bodies,
        lambda: NotificationHandler(notification_id=notification.id),
        _handler_values,
    )
    for handler, body in pairs:
        _sync_rows(
            db,
            recipients(db, handler.id),
            body.recipients or [],
            lambda handler=handler: NotificationRecipient(notification_handler_id=handler.id),
            _recipient_values,
        )


# --- Sending ----------------------------------------------------------------------------------------------


def _send(
    db: Session, alert: send.Alert | None, notification: Notification | None, settings: Settings
) -> None:
    """Send an alert now (if its condition is met); a `send_once` notification is then turned off."""
    if alert is None:
        return
    try:
        messages = send.alert_messages(db, settings, alert)
        db.commit()
        send.send_all(messages)
    except (MailError, send.DeliveryError) as error:
        raise BadRequest({"message": str(error)}) from None
    if messages and notification is not None and alert.send_once:
        notification.active = False


def unsaved_alert(db: Session, user: User, body: NotificationBody) -> send.Alert:
    assert body.payload is not None
    card = check_404(db.get(Card, body.payload.card_id))
    handler_recipients = []
    for handler in body.handlers or []:
        if handler.channel_type != EMAIL:
            continue
        users: list[str] = []
        others: list[str] = []
        for recipient in handler.recipients or []:
            if recipient.type == USER and recipient.user_id is not None:
                users += send.active_emails(db, [recipient.user_id])
            elif recipient.type == GROUP and recipient.permissions_group_id is not None:
                users += send.group_emails(db, recipient.permissions_group_id)
            elif recipient.type == RAW_VALUE:
                value = (recipient.details or {}).get("value")
                if isinstance(value, str) and EMAIL_RE.match(value):
                    others.append(value)
        handler_recipients.append(send.Recipients(list(dict.fromkeys(users)), others))
    condition = body.payload.send_condition or "has_result"
    return send.Alert(None, user, card, condition, bool(body.payload.send_once), handler_recipients)


def unsubscribe_user(db: Session, user: User, notification_id: int) -> None:
    """Take the user off every handler of the notification (403 unless they are a recipient)."""
    notification = get_notification(db, notification_id)
    check_403(user.id in recipient_user_ids(db, notification.id))
    for handler in handlers(db, notification.id):
        for recipient in recipients(db, handler.id):
            if recipient.user_id == user.id:
                db.delete(recipient)


# --- Endpoints --------------------------------------------------------------------------------------------


@router.get("", responses=shapes.ok(list[shapes.Notification]))
def list_all(
    user: CurrentUser,
    db: DbSession,
    creator_id: Annotated[PositiveInt | None, Query()] = None,
    recipient_id: Annotated[PositiveInt | None, Query()] = None,
    creator_or_recipient_id: Annotated[PositiveInt | None, Query()] = None,
    card_id: Annotated[PositiveInt | None, Query()] = None,
    include_inactive: Annotated[BooleanValue | None, Query()] = None,
    payload_type: Annotated[PayloadType | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Notifications the user may see, narrowed by the filters; active ones unless `include_inactive`."""
    found = list_notifications(
        db,
        user,
        creator_id=creator_id,
        recipient_id=recipient_id,
        creator_or_recipient_id=creator_or_recipient_id,
        card_id=card_id,
        payload_type=payload_type,
        active=None if include_inactive else True,
    )
    return [notification_json(db, n) for n in found]


@router.post("", responses=shapes.ok(shapes.Notification))
def create(body: NotificationBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Create an alert on a card the user may read; it is created by the caller."""
    _check_body(db, body)
    assert body.payload is not None
    check_404(db.get(Card, body.payload.card_id))
    check_403(user.is_superuser or _payload_readable(db, user, body.payload.card_id))
    payload = NotificationCard(
        card_id=body.payload.card_id,
        send_condition=body.payload.send_condition or "has_result",
        send_once=bool(body.payload.send_once),
    )
    db.add(payload)
    db.flush()
    notification = Notification(
        payload_type=body.payload_type,
        payload_id=payload.id,
        active=True if body.active is None else body.active,
        creator_id=user.id,
    )
    db.add(notification)
    db.flush()
    _save_subscriptions(db, notification, body.subscriptions or [])
    _save_handlers(db, notification, body.handlers or [])
    return notification_json(db, notification)


@router.post("/send", status_code=204)
def send_unsaved(body: NotificationBody, user: CurrentUser, db: DbSession, settings: SettingsDep) -> Response:
    """Send an unsaved alert now, as the caller (if its condition is met)."""
    _check_body(db, body)
    assert body.payload is not None
    check_403(user.is_superuser or _payload_readable(db, user, body.payload.card_id))
    _send(db, unsaved_alert(db, user, body), None, settings)
    return Response(status_code=204)


@router.post("/unsubscribe", responses=shapes.ok(shapes.Unsubscribed))
def unsubscribe_link(body: UnsubscribeBody, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """Take a raw email address off a notification's handler, from the link in its email."""
    handler = _checked_handler(db, body, settings)
    matching = _raw_recipient(db, handler.id, body.email)
    if matching is None:
        raise BadRequest("Email doesn't exist.")
    db.delete(matching)
    return {"status": "success", "title": _title(db, handler)}


@router.post("/unsubscribe/undo", responses=shapes.ok(shapes.Unsubscribed))
def undo_unsubscribe_link(body: UnsubscribeBody, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """Put an address back on the handler it was just taken off."""
    handler = _checked_handler(db, body, settings)
    if _raw_recipient(db, handler.id, body.email) is not None:
        raise BadRequest("Email already exist.")
    db.add(
        NotificationRecipient(
            notification_handler_id=handler.id, type=RAW_VALUE, details={"value": body.email}
        )
    )
    return {"status": "success", "title": _title(db, handler)}


@router.get("/{notification_id}", responses=shapes.ok(shapes.Notification))
def get_one(notification_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    notification = get_notification(db, notification_id)
    check_403(can_read(db, user, notification))
    return notification_json(db, notification)


@router.put("/{notification_id}", responses=shapes.ok(shapes.Notification))
def update(notification_id: int, body: NotificationBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Change a notification: `active`, the payload's condition, and (when sent) its subscriptions and
    handlers, matched by `id`. Only admins may give it another creator."""
    notification = get_notification(db, notification_id)
    changes_creator = body.creator_id is not None and body.creator_id != notification.creator_id
    check_403(can_write(db, user, notification) and (not changes_creator or user.is_superuser))
    _check_body(db, body)
    assert body.payload is not None
    if body.payload_type != notification.payload_type:
        raise BadRequest({"message": "Update payload_type is not allowed."})
    if not user.is_superuser:
        check_403(_payload_readable(db, user, body.payload.card_id))
    if body.active is not None:
        notification.active = body.active
    if changes_creator:
        check_404(db.get(User, body.creator_id))
        notification.creator_id = body.creator_id
    payload = payload_card(db, notification)
    if payload is not None:
        if body.payload.send_condition is not None:
            payload.send_condition = body.payload.send_condition
        if body.payload.send_once is not None:
            payload.send_once = body.payload.send_once
    if body.subscriptions is not None:
        _save_subscriptions(db, notification, body.subscriptions)
    if body.handlers is not None:
        _save_handlers(db, notification, body.handlers)
    db.flush()
    db.refresh(notification)
    return notification_json(db, notification)


@router.post("/{notification_id}/send", status_code=204)
def send_saved(
    notification_id: int,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
    body: SendBody | None = None,
) -> Response:
    """Send a notification now (only its handlers `handler_ids`, when given), if its condition is met."""
    notification = get_notification(db, notification_id)
    check_403(can_read(db, user, notification))
    handler_ids = set(body.handler_ids) if body is not None and body.handler_ids else None
    _send(db, send.saved_alert(db, notification, handler_ids), notification, settings)
    return Response(status_code=204)


@router.post("/{notification_id}/unsubscribe", status_code=204)
def unsubscribe_self(notification_id: int, user: CurrentUser, db: DbSession) -> Response:
    """Take the user off the notification's recipients."""
    unsubscribe_user(db, user, notification_id)
    return Response(status_code=204)


def _checked_handler(db: Session, body: UnsubscribeBody, settings: Settings) -> NotificationHandler:
    if body.hash != send.notification_unsubscribe_hash(settings, body.handler_id, body.email):
        raise BadRequest("Invalid hash.")
    return check_404(db.get(NotificationHandler, body.handler_id))


def _raw_recipient(db: Session, handler_id: int, email: str) -> NotificationRecipient | None:
    return next(
        (
            r
            for r in recipients(db, handler_id)
            if r.type == RAW_VALUE and isinstance(r.details, dict) and r.details.get("value") == email
        ),
        None,
    )


def _title(db: Session, handler: NotificationHandler) -> str | None:
    """What the unsubscribe page names: the alert's card, else the kind of notification."""
    notification = db.get(Notification, handler.notification_id)
    if notification is None:
        return None
    card_id = _card_id(db, notification)
    if card_id is not None:
        card = db.get(Card, card_id)
        return card.name if card is not None else None
    return notification.payload_type.split("/", 1)[1]
