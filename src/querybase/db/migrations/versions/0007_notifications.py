"""Dashboard subscriptions (`pulse`, `pulse_card`, `pulse_channel`, `pulse_channel_recipient`), notifications
(alerts: `notification`, `notification_card`, `notification_subscription`, `notification_handler`,
`notification_recipient`) as in Metabase 0.57, and `scheduled_job_run`, the claim each background job run
takes so that it runs once however many server processes share the app database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from querybase.db.encryption import EncryptedJSON
from querybase.models.base import JSONText, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=254), nullable=False),
        sa.Column("scheduled_for", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_job_run")),
        sa.UniqueConstraint("job", "scheduled_for", name=op.f("uq_scheduled_job_run_job_scheduled_for")),
    )
    with op.batch_alter_table("scheduled_job_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduled_job_run_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payload_type", sa.String(length=64), nullable=False),
        sa.Column("payload_id", sa.Integer(), nullable=True),
        sa.Column("internal_id", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["core_user.id"],
            name=op.f("fk_notification_creator_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("internal_id", name=op.f("uq_notification_internal_id")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_creator_id"), ["creator_id"], unique=False)

    op.create_table(
        "notification_handler",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel_type", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_handler_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_handler")),
    )
    with op.batch_alter_table("notification_handler", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_handler_notification_id"), ["notification_id"], unique=False
        )

    op.create_table(
        "notification_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("event_name", sa.String(length=64), nullable=True),
        sa.Column("cron_schedule", sa.String(length=128), nullable=True),
        sa.Column("ui_display_type", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_subscription_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_subscription")),
    )
    with op.batch_alter_table("notification_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_subscription_notification_id"), ["notification_id"], unique=False
        )

    op.create_table(
        "notification_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_handler_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("permissions_group_id", sa.Integer(), nullable=True),
        sa.Column("details", EncryptedJSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_handler_id"],
            ["notification_handler.id"],
            name=op.f("fk_notification_recipient_notification_handler_id_notification_handler"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permissions_group_id"],
            ["permissions_group.id"],
            name=op.f("fk_notification_recipient_permissions_group_id_permissions_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_notification_recipient_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_recipient")),
    )
    with op.batch_alter_table("notification_recipient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_recipient_notification_handler_id"),
            ["notification_handler_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_notification_recipient_permissions_group_id"),
            ["permissions_group_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_notification_recipient_user_id"), ["user_id"], unique=False)

    op.create_table(
        "pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=254), nullable=True),
        sa.Column("skip_if_empty", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("alert_condition", sa.String(length=254), nullable=True),
        sa.Column("alert_first_only", sa.Boolean(), nullable=True),
        sa.Column("alert_above_goal", sa.Boolean(), nullable=True),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("collection_position", sa.SmallInteger(), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=True),
        sa.Column("parameters", JSONText(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_pulse_collection_id_collection"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_pulse_creator_id_core_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["report_dashboard.id"],
            name=op.f("fk_pulse_dashboard_id_report_dashboard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_pulse_entity_id")),
    )
    with op.batch_alter_table("pulse", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_collection_id"), ["collection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pulse_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pulse_dashboard_id"), ["dashboard_id"], unique=False)

    op.create_table(
        "notification_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("send_condition", sa.String(length=32), server_default="has_result", nullable=False),
        sa.Column("send_once", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["report_card.id"],
            name=op.f("fk_notification_card_card_id_report_card"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_card")),
    )
    with op.batch_alter_table("notification_card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_card_card_id"), ["card_id"], unique=False)

    op.create_table(
        "pulse_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("channel_type", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("details", EncryptedJSON(), nullable=False),
        sa.Column("schedule_type", sa.String(length=32), nullable=False),
        sa.Column("schedule_hour", sa.Integer(), nullable=True),
        sa.Column("schedule_day", sa.String(length=64), nullable=True),
        sa.Column("schedule_frame", sa.String(length=32), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_pulse_channel_pulse_id_pulse"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_channel")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_pulse_channel_entity_id")),
    )
    with op.batch_alter_table("pulse_channel", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_channel_pulse_id"), ["pulse_id"], unique=False)

    op.create_table(
        "pulse_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("include_csv", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("include_xls", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dashboard_card_id", sa.Integer(), nullable=True),
        sa.Column("format_rows", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("pivot_results", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["report_card.id"],
            name=op.f("fk_pulse_card_card_id_report_card"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_card_id"],
            ["report_dashboardcard.id"],
            name=op.f("fk_pulse_card_dashboard_card_id_report_dashboardcard"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_pulse_card_pulse_id_pulse"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_card")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_pulse_card_entity_id")),
    )
    with op.batch_alter_table("pulse_card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_card_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pulse_card_dashboard_card_id"), ["dashboard_card_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pulse_card_pulse_id"), ["pulse_id"], unique=False)

    op.create_table(
        "pulse_channel_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulse_channel_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_channel_id"],
            ["pulse_channel.id"],
            name=op.f("fk_pulse_channel_recipient_pulse_channel_id_pulse_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_pulse_channel_recipient_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse_channel_recipient")),
    )
    with op.batch_alter_table("pulse_channel_recipient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pulse_channel_recipient_pulse_channel_id"), ["pulse_channel_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pulse_channel_recipient_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key still needs).
    op.drop_table("pulse_channel_recipient")
    op.drop_table("pulse_card")
    op.drop_table("pulse_channel")
    op.drop_table("notification_card")
    op.drop_table("pulse")
    op.drop_table("notification_recipient")
    op.drop_table("notification_subscription")
    op.drop_table("notification_handler")
    op.drop_table("notification")
    op.drop_table("scheduled_job_run")
