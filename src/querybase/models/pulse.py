"""Dashboard subscriptions (Metabase's legacy "pulses"): `pulse`, its cards (`pulse_card`), its delivery
channels with their schedule (`pulse_channel`) and the users each channel mails (`pulse_channel_recipient`).

Raw email recipients live in the channel's `details.emails`, as in Metabase; the JSON shown to clients
lists them in `recipients` instead (`{"email": ...}` before the users).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, SmallInteger, String, false, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase.db.encryption import EncryptedJSON
from querybase.models.base import Base, JSONText, Timestamps, new_entity_id
from querybase.models.card import Card, creator_map
from querybase.models.dashboard import DashboardCard
from querybase.models.user import User

SCHEDULE_TYPES = ("hourly", "daily", "weekly", "monthly")
SCHEDULE_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_FRAMES = ("first", "mid", "last")
CHANNEL_TYPES = ("email", "slack", "http")


class Pulse(Timestamps, Base):
    __tablename__ = "pulse"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(254))
    skip_if_empty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Alerts were pulses until Metabase 0.54 moved them to `notification`; the columns stay, unused.
    alert_condition: Mapped[str | None] = mapped_column(String(254))
    alert_first_only: Mapped[bool | None] = mapped_column(Boolean)
    alert_above_goal: Mapped[bool | None] = mapped_column(Boolean)
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="SET NULL"), index=True
    )
    collection_position: Mapped[int | None] = mapped_column(SmallInteger)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dashboard_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    parameters: Mapped[Any] = mapped_column(JSONText(), default=list)


class PulseCard(Base):
    __tablename__ = "pulse_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulse.id", ondelete="CASCADE"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    include_csv: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    include_xls: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dashboard_card_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_dashboardcard.id", ondelete="CASCADE"), index=True
    )
    format_rows: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    pivot_results: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PulseChannel(Timestamps, Base):
    __tablename__ = "pulse_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    pulse_id: Mapped[int] = mapped_column(ForeignKey("pulse.id", ondelete="CASCADE"), index=True)
    channel_type: Mapped[str] = mapped_column(String(32))
    # A configured webhook channel (Metabase's `channel` table); querybase sends email only.
    channel_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[Any] = mapped_column(EncryptedJSON(), default=dict)
    schedule_type: Mapped[str] = mapped_column(String(32))
    schedule_hour: Mapped[int | None] = mapped_column(Integer)
    schedule_day: Mapped[str | None] = mapped_column(String(64))
    schedule_frame: Mapped[str | None] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class PulseChannelRecipient(Base):
    __tablename__ = "pulse_channel_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    pulse_channel_id: Mapped[int] = mapped_column(
        ForeignKey("pulse_channel.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)


# --- Reading ------------------------------------------------------------------------------------------------


def pulse_cards(
    db: Session, pulse_id: int, *, include_archived: bool = False
) -> list[tuple[PulseCard, Card]]:
    """The pulse's cards in position order; archived cards only when asked (deliveries skip them)."""
    statement = (
        select(PulseCard, Card)
        .join(Card, Card.id == PulseCard.card_id)
        .where(PulseCard.pulse_id == pulse_id)
        .order_by(PulseCard.position, PulseCard.id)
    )
    if not include_archived:
        statement = statement.where(Card.archived.is_(False))
    return [(pc, card) for pc, card in db.execute(statement)]


def pulse_channels(db: Session, pulse_id: int) -> list[PulseChannel]:
    return list(
        db.scalars(select(PulseChannel).where(PulseChannel.pulse_id == pulse_id).order_by(PulseChannel.id))
    )


def active_recipient_users(db: Session, channel_id: int) -> list[User]:
    """The channel's user recipients that are still active (a deactivated user gets nothing), by id."""
    statement = (
        select(User)
        .join(PulseChannelRecipient, PulseChannelRecipient.user_id == User.id)
        .where(PulseChannelRecipient.pulse_channel_id == channel_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return list(db.scalars(statement))


def raw_emails(channel: PulseChannel) -> list[str]:
    return list((channel.details or {}).get("emails") or [])


def is_recipient(db: Session, pulse_id: int, user_id: int) -> bool:
    statement = (
        select(PulseChannelRecipient.id)
        .join(PulseChannel, PulseChannel.id == PulseChannelRecipient.pulse_channel_id)
        .where(PulseChannel.pulse_id == pulse_id, PulseChannelRecipient.user_id == user_id)
        .limit(1)
    )
    return db.scalar(statement) is not None


# --- JSON ---------------------------------------------------------------------------------------------------


def card_ref_json(db: Session, pulse_card: PulseCard, card: Card) -> dict[str, Any]:
    """A pulse's card as Metabase lists it: the card's name and display with the pulse's options."""
    dashcard = db.get(DashboardCard, pulse_card.dashboard_card_id) if pulse_card.dashboard_card_id else None
    return {
        "id": card.id,
        "name": card.name,
        "description": card.description,
        "collection_id": card.collection_id,
        "display": card.display,
        "include_csv": pulse_card.include_csv,
        "include_xls": pulse_card.include_xls,
        "format_rows": pulse_card.format_rows,
        "pivot_results": pulse_card.pivot_results,
        "dashboard_card_id": pulse_card.dashboard_card_id,
        "dashboard_id": dashcard.dashboard_id if dashcard is not None else None,
        "parameter_mappings": None,
    }


def channel_json(db: Session, channel: PulseChannel) -> dict[str, Any]:
    """A channel with its `recipients` (raw emails first, then active users); `details.emails` is internal."""
    details = {k: v for k, v in (channel.details or {}).items() if k != "emails"}
    users = [
        {
            "id": u.id,
            "email": u.email,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "common_name": u.common_name,
        }
        for u in active_recipient_users(db, channel.id)
    ]
    data: dict[str, Any] = {
        "id": channel.id,
        "entity_id": channel.entity_id,
        "pulse_id": channel.pulse_id,
        "channel_type": channel.channel_type,
        "channel_id": channel.channel_id,
        "schedule_type": channel.schedule_type,
        "schedule_hour": channel.schedule_hour,
        "schedule_day": channel.schedule_day,
        "schedule_frame": channel.schedule_frame,
        "enabled": channel.enabled,
        "recipients": [{"email": email} for email in raw_emails(channel)] + users,
        "created_at": channel.created_at,
        "updated_at": channel.updated_at,
    }
    # Metabase drops `details` when nothing but the internal email list was in it.
    if details:
        data["details"] = details
    return data


def pulse_json(db: Session, pulse: Pulse) -> dict[str, Any]:
    """`GET /api/pulse/:id`'s pulse (without the caller-dependent `can_write`)."""
    creator = db.get(User, pulse.creator_id)
    return {
        "id": pulse.id,
        "entity_id": pulse.entity_id,
        "name": pulse.name,
        "creator_id": pulse.creator_id,
        "creator": creator_map(creator) if creator is not None else None,
        "collection_id": pulse.collection_id,
        "collection_position": pulse.collection_position,
        "archived": pulse.archived,
        "skip_if_empty": pulse.skip_if_empty,
        "dashboard_id": pulse.dashboard_id,
        "parameters": pulse.parameters if pulse.parameters is not None else [],
        "cards": [card_ref_json(db, pc, card) for pc, card in pulse_cards(db, pulse.id)],
        "channels": [channel_json(db, channel) for channel in pulse_channels(db, pulse.id)],
        "created_at": pulse.created_at,
        "updated_at": pulse.updated_at,
    }
