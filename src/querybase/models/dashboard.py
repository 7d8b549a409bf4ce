"""Dashboards (`report_dashboard`), their tabs, their cards (`report_dashboardcard`) and each card's extra
series (`dashboardcard_series`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, SmallInteger, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, JSONText, Timestamps, new_entity_id


class Dashboard(Timestamps, Base):
    __tablename__ = "report_dashboard"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    name: Mapped[str] = mapped_column(String(254), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="SET NULL"), index=True
    )
    collection_position: Mapped[int | None] = mapped_column(SmallInteger)
    parameters: Mapped[Any] = mapped_column(JSONText())
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    archived_directly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    public_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    made_public_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    enable_embedding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    embedding_params: Mapped[Any | None] = mapped_column(JSONText())
    embedding_type: Mapped[str | None] = mapped_column(String(64))
    initially_published_at: Mapped[dt.datetime | None] = mapped_column()
    cache_ttl: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[str] = mapped_column(String(16), default="fixed", server_default="fixed")
    auto_apply_filters: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    show_in_getting_started: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    caveats: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int | None] = mapped_column(Integer)
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_viewed_at: Mapped[dt.datetime | None] = mapped_column()


class DashboardTab(Timestamps, Base):
    __tablename__ = "dashboard_tab"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(254))
    position: Mapped[int] = mapped_column(Integer)


class DashboardCard(Timestamps, Base):
    """A card placed on a dashboard, or a virtual card (text, heading, link: no `card_id`)."""

    __tablename__ = "report_dashboardcard"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    dashboard_tab_id: Mapped[int | None] = mapped_column(
        ForeignKey("dashboard_tab.id", ondelete="CASCADE"), index=True
    )
    card_id: Mapped[int | None] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int | None] = mapped_column(Integer)
    row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    col: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    size_x: Mapped[int] = mapped_column(Integer)
    size_y: Mapped[int] = mapped_column(Integer)
    parameter_mappings: Mapped[Any] = mapped_column(JSONText())
    visualization_settings: Mapped[Any] = mapped_column(JSONText())
    inline_parameters: Mapped[Any | None] = mapped_column(JSONText())


class DashboardCardSeries(Base):
    """Another card drawn on the same chart as a dashboard card, at `position`."""

    __tablename__ = "dashboardcard_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    dashboardcard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboardcard.id", ondelete="CASCADE"), index=True
    )
    card_id: Mapped[int] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
