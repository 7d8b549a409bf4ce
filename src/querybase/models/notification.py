"""Notifications, the model alerts live in since Metabase 0.54: a `notification` with a payload (for an
alert, a `notification_card`: which card, on what condition), when it is sent (`notification_subscription`,
a Quartz cron schedule) and how (`notification_handler`, a channel such as email, with its
`notification_recipient`s: users, or raw email addresses in `details.value`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, false, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase.db.encryption import EncryptedJSON
from querybase.models.base import Base, Timestamps, utcnow
from querybase.models.card import Card, creator_map
from querybase.models.user import User

CARD = "notification/card"
PAYLOAD_TYPES = ("notification/dashboard", "notification/system-event", "notification/testing", CARD)
SEND_CONDITIONS = ("has_result", "goal_above", "goal_below")
CRON = "notification-subscription/cron"
SUBSCRIPTION_TYPES = (CRON, "notification-subscription/system-event")
EMAIL = "channel/email"
USER = "notification-recipient/user"
RAW_VALUE = "notification-recipient/raw-value"
GROUP = "notification-recipient/group"
RECIPIENT_TYPES = (RAW_VALUE, USER, "notification-recipient/template", GROUP)


class Notification(Timestamps, Base):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    payload_type: Mapped[str] = mapped_column(String(64))
    payload_id: Mapped[int | None] = mapped_column(Integer)
    # Set on the notifications Metabase seeds itself; never shown.
    internal_id: Mapped[str | None] = mapped_column(String(254), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    creator_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )


class NotificationCard(Timestamps, Base):
    __tablename__ = "notification_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    send_condition: Mapped[str] = mapped_column(String(32), default="has_result", server_default="has_result")
    send_once: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class NotificationSubscription(Base):
    __tablename__ = "notification_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    event_name: Mapped[str | None] = mapped_column(String(64))
    cron_schedule: Mapped[str | None] = mapped_column(String(128))
    ui_display_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotificationHandler(Timestamps, Base):
    __tablename__ = "notification_handler"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    channel_type: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int | None] = mapped_column(Integer)
    template_id: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class NotificationRecipient(Timestamps, Base):
    __tablename__ = "notification_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_handler_id: Mapped[int] = mapped_column(
        ForeignKey("notification_handler.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    permissions_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("permissions_group.id", ondelete="CASCADE"), index=True
    )
    details: Mapped[Any | None] = mapped_column(EncryptedJSON())


# --- Reading ------------------------------------------------------------------------------------------------


def payload_card(db: Session, notification: Notification) -> NotificationCard | None:
    if notification.payload_type != CARD or notification.payload_id is None:
        return None
    return db.get(NotificationCard, notification.payload_id)


def subscriptions(db: Session, notification_id: int) -> list[NotificationSubscription]:
    statement = (
        select(NotificationSubscription)
        .where(NotificationSubscription.notification_id == notification_id)
        .order_by(NotificationSubscription.id)
    )
    return list(db.scalars(statement))


def handlers(db: Session, notification_id: int) -> list[NotificationHandler]:
    statement = (
        select(NotificationHandler)
        .where(NotificationHandler.notification_id == notification_id)
        .order_by(NotificationHandler.id)
    )
    return list(db.scalars(statement))


def recipients(db: Session, handler_id: int) -> list[NotificationRecipient]:
    statement = (
        select(NotificationRecipient)
        .where(NotificationRecipient.notification_handler_id == handler_id)
        .order_by(NotificationRecipient.id)
    )
    return list(db.scalars(statement))


def recipient_user_ids(db: Session, notification_id: int) -> set[int]:
    statement = (
        select(NotificationRecipient.user_id)
        .join(NotificationHandler, NotificationHandler.id == NotificationRecipient.notification_handler_id)
        .where(NotificationHandler.notification_id == notification_id)
        .where(NotificationRecipient.user_id.is_not(None))
    )
    return {user_id for user_id in db.scalars(statement) if user_id is not None}


def delete_parts(db: Session, notification: Notification) -> None:
    """Remove the notification's subscriptions and handlers (their recipients go with them)."""
    for subscription in subscriptions(db, notification.id):
        db.delete(subscription)
    for handler in handlers(db, notification.id):
        for recipient in recipients(db, handler.id):
            db.delete(recipient)
        db.delete(handler)


# --- JSON ---------------------------------------------------------------------------------------------------


def card_row(card: Card) -> dict[str, Any]:
    """The card's columns, as Metabase hydrates a notification's `payload.card`."""
    return {column.key: getattr(card, column.key) for column in Card.__table__.columns}


def _payload_json(db: Session, notification: Notification) -> dict[str, Any] | None:
    payload = payload_card(db, notification)
    if payload is None:
        return None
    card = db.get(Card, payload.card_id)
    return {
        "id": payload.id,
        "card_id": payload.card_id,
        "send_condition": payload.send_condition,
        "send_once": payload.send_once,
        "created_at": payload.created_at,
        "updated_at": payload.updated_at,
        "card": card_row(card) if card is not None else None,
    }


def subscription_json(subscription: NotificationSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "notification_id": subscription.notification_id,
        "type": subscription.type,
        "event_name": subscription.event_name,
        "cron_schedule": subscription.cron_schedule,
        "ui_display_type": subscription.ui_display_type,
        "created_at": subscription.created_at,
    }


def recipient_json(db: Session, recipient: NotificationRecipient) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": recipient.id,
        "notification_handler_id": recipient.notification_handler_id,
        "type": recipient.type,
        "user_id": recipient.user_id,
        "permissions_group_id": recipient.permissions_group_id,
        "details": recipient.details,
        "created_at": recipient.created_at,
        "updated_at": recipient.updated_at,
    }
    if recipient.type == USER:
        # Only active users are shown (and mailed): a deactivated one is `null`.
        user = db.get(User, recipient.user_id) if recipient.user_id is not None else None
        data["user"] = creator_map(user) if user is not None and user.is_active else None
    return data


def handler_json(db: Session, handler: NotificationHandler) -> dict[str, Any]:
    return {
        "id": handler.id,
        "notification_id": handler.notification_id,
        "channel_type": handler.channel_type,
        "channel_id": handler.channel_id,
        "template_id": handler.template_id,
        "active": handler.active,
        "created_at": handler.created_at,
        "updated_at": handler.updated_at,
        "channel": None,
        "template": None,
        "recipients": [recipient_json(db, r) for r in recipients(db, handler.id)],
    }


def notification_json(db: Session, notification: Notification) -> dict[str, Any]:
    """A notification hydrated as `GET /api/notification/:id` answers it."""
    creator = db.get(User, notification.creator_id) if notification.creator_id is not None else None
    return {
        "id": notification.id,
        "payload_type": notification.payload_type,
        "payload_id": notification.payload_id,
        "active": notification.active,
        "creator_id": notification.creator_id,
        "creator": creator_map(creator) if creator is not None else None,
        "created_at": notification.created_at,
        "updated_at": notification.updated_at,
        "payload": _payload_json(db, notification),
        "subscriptions": [subscription_json(s) for s in subscriptions(db, notification.id)],
        "handlers": [handler_json(db, h) for h in handlers(db, notification.id)],
    }
