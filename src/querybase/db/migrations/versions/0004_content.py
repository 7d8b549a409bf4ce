"""Content: cards, dashboards (tabs, cards, series), revisions, segments, legacy metrics, recent views,
bookmarks, timelines, native query snippets; collections learn how they were archived; the Trash.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:15:00.827887
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from querybase.models.base import JSONText, UTCDateTime, new_entity_id, utcnow

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recent_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("context", sa.String(length=64), server_default="view", nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_recent_views_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recent_views")),
    )
    with op.batch_alter_table("recent_views", schema=None) as batch_op:
        batch_op.create_index("ix_recent_views_user_id_timestamp", ["user_id", "timestamp"], unique=False)

    op.create_table(
        "revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("object", JSONText(), nullable=False),
        sa.Column("is_reversion", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_creation", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("most_recent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("metabase_version", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_revision_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision")),
    )
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.create_index("ix_revision_model_model_id", ["model", "model_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_revision_user_id"), ["user_id"], unique=False)

    op.create_table(
        "collection_bookmark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_collection_bookmark_collection_id_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_collection_bookmark_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_bookmark")),
        sa.UniqueConstraint(
            "user_id", "collection_id", name=op.f("uq_collection_bookmark_user_id_collection_id")
        ),
    )
    with op.batch_alter_table("collection_bookmark", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_bookmark_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_collection_bookmark_user_id"), ["user_id"], unique=False)

    op.create_table(
        "native_query_snippet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("template_tags", JSONText(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_native_query_snippet_collection_id_collection"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_native_query_snippet_creator_id_core_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_native_query_snippet")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_native_query_snippet_entity_id")),
        sa.UniqueConstraint("name", name=op.f("uq_native_query_snippet_name")),
    )
    op.create_table(
        "report_dashboard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("collection_position", sa.SmallInteger(), nullable=True),
        sa.Column("parameters", JSONText(), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("archived_directly", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("public_uuid", sa.String(length=36), nullable=True),
        sa.Column("made_public_by_id", sa.Integer(), nullable=True),
        sa.Column("enable_embedding", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("embedding_params", JSONText(), nullable=True),
        sa.Column("embedding_type", sa.String(length=64), nullable=True),
        sa.Column("initially_published_at", UTCDateTime(), nullable=True),
        sa.Column("cache_ttl", sa.Integer(), nullable=True),
        sa.Column("width", sa.String(length=16), server_default="fixed", nullable=False),
        sa.Column("auto_apply_filters", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("show_in_getting_started", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("caveats", sa.Text(), nullable=True),
        sa.Column("points_of_interest", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("view_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_viewed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_report_dashboard_collection_id_collection"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_report_dashboard_creator_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["made_public_by_id"],
            ["core_user.id"],
            name=op.f("fk_report_dashboard_made_public_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_dashboard")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_report_dashboard_entity_id")),
        sa.UniqueConstraint("public_uuid", name=op.f("uq_report_dashboard_public_uuid")),
    )
    with op.batch_alter_table("report_dashboard", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_dashboard_archived"), ["archived"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_dashboard_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_dashboard_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_dashboard_name"), ["name"], unique=False)

    op.create_table(
        "timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("icon", sa.String(length=128), server_default="star", nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_timeline_collection_id_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_timeline_creator_id_core_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_timeline_entity_id")),
    )
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timeline_collection_id"), ["collection_id"], unique=False)

    op.create_table(
        "dashboard_bookmark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["report_dashboard.id"],
            name=op.f("fk_dashboard_bookmark_dashboard_id_report_dashboard"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_dashboard_bookmark_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_bookmark")),
        sa.UniqueConstraint(
            "user_id", "dashboard_id", name=op.f("uq_dashboard_bookmark_user_id_dashboard_id")
        ),
    )
    with op.batch_alter_table("dashboard_bookmark", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_bookmark_dashboard_id"), ["dashboard_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dashboard_bookmark_user_id"), ["user_id"], unique=False)

    op.create_table(
        "dashboard_tab",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["report_dashboard.id"],
            name=op.f("fk_dashboard_tab_dashboard_id_report_dashboard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_tab")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_dashboard_tab_entity_id")),
    )
    with op.batch_alter_table("dashboard_tab", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_tab_dashboard_id"), ["dashboard_id"], unique=False)

    op.create_table(
        "metric",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("definition", JSONText(), nullable=False),
        sa.Column("caveats", sa.Text(), nullable=True),
        sa.Column("how_is_this_calculated", sa.Text(), nullable=True),
        sa.Column("points_of_interest", sa.Text(), nullable=True),
        sa.Column("show_in_getting_started", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_metric_creator_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["metabase_table.id"],
            name=op.f("fk_metric_table_id_metabase_table"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_metric_entity_id")),
    )
    with op.batch_alter_table("metric", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_metric_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_metric_table_id"), ["table_id"], unique=False)

    op.create_table(
        "report_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=16), server_default="question", nullable=False),
        sa.Column("display", sa.String(length=254), nullable=False),
        sa.Column("dataset_query", JSONText(), nullable=False),
        sa.Column("visualization_settings", JSONText(), nullable=False),
        sa.Column("result_metadata", JSONText(), nullable=True),
        sa.Column("parameters", JSONText(), nullable=True),
        sa.Column("parameter_mappings", JSONText(), nullable=True),
        sa.Column("query_type", sa.String(length=16), nullable=True),
        sa.Column("database_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=True),
        sa.Column("source_card_id", sa.Integer(), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("collection_position", sa.SmallInteger(), nullable=True),
        sa.Column("collection_preview", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("archived_directly", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("public_uuid", sa.String(length=36), nullable=True),
        sa.Column("made_public_by_id", sa.Integer(), nullable=True),
        sa.Column("enable_embedding", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("embedding_params", JSONText(), nullable=True),
        sa.Column("embedding_type", sa.String(length=64), nullable=True),
        sa.Column("initially_published_at", UTCDateTime(), nullable=True),
        sa.Column("cache_ttl", sa.Integer(), nullable=True),
        sa.Column("view_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("card_schema", sa.Integer(), server_default="22", nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_report_card_collection_id_collection"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_report_card_creator_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["report_dashboard.id"],
            name=op.f("fk_report_card_dashboard_id_report_dashboard"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["database_id"],
            ["metabase_database.id"],
            name=op.f("fk_report_card_database_id_metabase_database"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["made_public_by_id"],
            ["core_user.id"],
            name=op.f("fk_report_card_made_public_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_card_id"],
            ["report_card.id"],
            name=op.f("fk_report_card_source_card_id_report_card"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["metabase_table.id"],
            name=op.f("fk_report_card_table_id_metabase_table"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_card")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_report_card_entity_id")),
        sa.UniqueConstraint("public_uuid", name=op.f("uq_report_card_public_uuid")),
    )
    with op.batch_alter_table("report_card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_card_archived"), ["archived"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_collection_id"), ["collection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_dashboard_id"), ["dashboard_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_database_id"), ["database_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_source_card_id"), ["source_card_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_card_table_id"), ["table_id"], unique=False)

    op.create_table(
        "segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("definition", JSONText(), nullable=False),
        sa.Column("caveats", sa.Text(), nullable=True),
        sa.Column("points_of_interest", sa.Text(), nullable=True),
        sa.Column("show_in_getting_started", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_segment_creator_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["metabase_table.id"],
            name=op.f("fk_segment_table_id_metabase_table"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_segment_entity_id")),
    )
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segment_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_segment_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_segment_table_id"), ["table_id"], unique=False)

    op.create_table(
        "timeline_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timeline_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("time_matters", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("timezone", sa.String(length=255), server_default="UTC", nullable=False),
        sa.Column("icon", sa.String(length=128), server_default="star", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_timeline_event_creator_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["timeline_id"],
            ["timeline.id"],
            name=op.f("fk_timeline_event_timeline_id_timeline"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_event")),
    )
    with op.batch_alter_table("timeline_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timeline_event_timeline_id"), ["timeline_id"], unique=False)

    op.create_table(
        "card_bookmark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["report_card.id"],
            name=op.f("fk_card_bookmark_card_id_report_card"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_card_bookmark_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_bookmark")),
        sa.UniqueConstraint("user_id", "card_id", name=op.f("uq_card_bookmark_user_id_card_id")),
    )
    with op.batch_alter_table("card_bookmark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_bookmark_card_id"), ["card_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_card_bookmark_user_id"), ["user_id"], unique=False)

    op.create_table(
        "report_dashboardcard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("dashboard_tab_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("row", sa.Integer(), server_default="0", nullable=False),
        sa.Column("col", sa.Integer(), server_default="0", nullable=False),
        sa.Column("size_x", sa.Integer(), nullable=False),
        sa.Column("size_y", sa.Integer(), nullable=False),
        sa.Column("parameter_mappings", JSONText(), nullable=False),
        sa.Column("visualization_settings", JSONText(), nullable=False),
        sa.Column("inline_parameters", JSONText(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["report_card.id"],
            name=op.f("fk_report_dashboardcard_card_id_report_card"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["report_dashboard.id"],
            name=op.f("fk_report_dashboardcard_dashboard_id_report_dashboard"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_tab_id"],
            ["dashboard_tab.id"],
            name=op.f("fk_report_dashboardcard_dashboard_tab_id_dashboard_tab"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_dashboardcard")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_report_dashboardcard_entity_id")),
    )
    with op.batch_alter_table("report_dashboardcard", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_dashboardcard_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_dashboardcard_dashboard_id"), ["dashboard_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_report_dashboardcard_dashboard_tab_id"), ["dashboard_tab_id"], unique=False
        )

    op.create_table(
        "dashboardcard_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dashboardcard_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["report_card.id"],
            name=op.f("fk_dashboardcard_series_card_id_report_card"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dashboardcard_id"],
            ["report_dashboardcard.id"],
            name=op.f("fk_dashboardcard_series_dashboardcard_id_report_dashboardcard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboardcard_series")),
    )
    with op.batch_alter_table("dashboardcard_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboardcard_series_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dashboardcard_series_dashboardcard_id"), ["dashboardcard_id"], unique=False
        )

    with op.batch_alter_table("collection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_directly", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("archive_operation_id", sa.String(length=36), nullable=True))

    # The Trash: where archived items are listed (Metabase 0.50+ keeps it as a collection of type "trash").
    collection = sa.table(
        "collection",
        sa.column("name"),
        sa.column("slug"),
        sa.column("type"),
        sa.column("entity_id"),
        sa.column("created_at", UTCDateTime()),
        sa.column("location"),
        sa.column("archived"),
        sa.column("is_sample"),
    )
    op.execute(
        collection.insert().values(
            name="Trash",
            slug="trash",
            type="trash",
            entity_id=new_entity_id(),
            created_at=utcnow(),
            location="/",
            archived=False,
            is_sample=False,
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("collection", schema=None) as batch_op:
        batch_op.drop_column("archive_operation_id")
        batch_op.drop_column("archived_directly")

    with op.batch_alter_table("dashboardcard_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboardcard_series_dashboardcard_id"))
        batch_op.drop_index(batch_op.f("ix_dashboardcard_series_card_id"))

    op.drop_table("dashboardcard_series")
    with op.batch_alter_table("report_dashboardcard", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_dashboardcard_dashboard_tab_id"))
        batch_op.drop_index(batch_op.f("ix_report_dashboardcard_dashboard_id"))
        batch_op.drop_index(batch_op.f("ix_report_dashboardcard_card_id"))

    op.drop_table("report_dashboardcard")
    with op.batch_alter_table("card_bookmark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_bookmark_user_id"))
        batch_op.drop_index(batch_op.f("ix_card_bookmark_card_id"))

    op.drop_table("card_bookmark")
    with op.batch_alter_table("timeline_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timeline_event_timeline_id"))

    op.drop_table("timeline_event")
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segment_table_id"))
        batch_op.drop_index(batch_op.f("ix_segment_name"))
        batch_op.drop_index(batch_op.f("ix_segment_creator_id"))

    op.drop_table("segment")
    with op.batch_alter_table("report_card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_card_table_id"))
        batch_op.drop_index(batch_op.f("ix_report_card_source_card_id"))
        batch_op.drop_index(batch_op.f("ix_report_card_name"))
        batch_op.drop_index(batch_op.f("ix_report_card_database_id"))
        batch_op.drop_index(batch_op.f("ix_report_card_dashboard_id"))
        batch_op.drop_index(batch_op.f("ix_report_card_creator_id"))
        batch_op.drop_index(batch_op.f("ix_report_card_collection_id"))
        batch_op.drop_index(batch_op.f("ix_report_card_archived"))

    op.drop_table("report_card")
    with op.batch_alter_table("metric", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_table_id"))
        batch_op.drop_index(batch_op.f("ix_metric_name"))
        batch_op.drop_index(batch_op.f("ix_metric_creator_id"))

    op.drop_table("metric")
    with op.batch_alter_table("dashboard_tab", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_tab_dashboard_id"))

    op.drop_table("dashboard_tab")
    with op.batch_alter_table("dashboard_bookmark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_bookmark_user_id"))
        batch_op.drop_index(batch_op.f("ix_dashboard_bookmark_dashboard_id"))

    op.drop_table("dashboard_bookmark")
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timeline_collection_id"))

    op.drop_table("timeline")
    with op.batch_alter_table("report_dashboard", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_dashboard_name"))
        batch_op.drop_index(batch_op.f("ix_report_dashboard_creator_id"))
        batch_op.drop_index(batch_op.f("ix_report_dashboard_collection_id"))
        batch_op.drop_index(batch_op.f("ix_report_dashboard_archived"))

    op.drop_table("report_dashboard")
    op.drop_table("native_query_snippet")
    with op.batch_alter_table("collection_bookmark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_bookmark_user_id"))
        batch_op.drop_index(batch_op.f("ix_collection_bookmark_collection_id"))

    op.drop_table("collection_bookmark")
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revision_user_id"))
        batch_op.drop_index("ix_revision_model_model_id")

    op.drop_table("revision")
    with op.batch_alter_table("recent_views", schema=None) as batch_op:
        batch_op.drop_index("ix_recent_views_user_id_timestamp")

    op.drop_table("recent_views")
