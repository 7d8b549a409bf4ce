"""Foundation: users, groups, memberships, sessions, login throttle, settings, API keys, collections.

Also creates Metabase's two magic groups, All Users (id 1) and Administrators (id 2).

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:20:00.362238
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from querybase.models.base import JSONText, UTCDateTime, new_entity_id

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=254), nullable=True),
        sa.Column("last_name", sa.String(length=254), nullable=True),
        sa.Column("password", sa.String(length=254), nullable=True),
        sa.Column("date_joined", UTCDateTime(), nullable=False),
        sa.Column("last_login", UTCDateTime(), nullable=True),
        sa.Column("is_superuser", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_qbnewb", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_datasetnewb", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deactivated_at", UTCDateTime(), nullable=True),
        sa.Column("reset_token", sa.String(length=254), nullable=True),
        sa.Column("reset_triggered", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=5), nullable=True),
        sa.Column("sso_source", sa.String(length=254), nullable=True),
        sa.Column("login_attributes", JSONText(), nullable=True),
        sa.Column("jwt_attributes", JSONText(), nullable=True),
        sa.Column("settings", JSONText(), nullable=True),
        sa.Column("type", sa.String(length=64), server_default="personal", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_user")),
        sa.UniqueConstraint("email", name=op.f("uq_core_user_email")),
    )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("throttler", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_attempt_throttler_key", ["throttler", "key", "attempted_at"], unique=False
        )

    op.create_table(
        "permissions_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("magic_group_type", sa.String(length=64), nullable=True),
        sa.Column("is_tenant_group", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions_group")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_permissions_group_entity_id")),
        sa.UniqueConstraint("magic_group_type", name=op.f("uq_permissions_group_magic_group_type")),
        sa.UniqueConstraint("name", name=op.f("uq_permissions_group_name")),
    )
    groups = sa.table(
        "permissions_group",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("magic_group_type", sa.String),
    )
    op.bulk_insert(
        groups,
        [
            {
                "id": 1,
                "name": "All Users",
                "entity_id": new_entity_id(),
                "magic_group_type": "all-internal-users",
            },
            {
                "id": 2,
                "name": "Administrators",
                "entity_id": new_entity_id(),
                "magic_group_type": "admin",
            },
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('permissions_group', 'id'), 2)")
    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("key_prefix", sa.String(length=7), nullable=False),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["core_user.id"], name=op.f("fk_api_key_creator_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["core_user.id"], name=op.f("fk_api_key_updated_by_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_api_key_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_key_key_prefix")),
        sa.UniqueConstraint("name", name=op.f("uq_api_key_name")),
        sa.UniqueConstraint("user_id", name=op.f("uq_api_key_user_id")),
    )
    op.create_table(
        "collection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=254), nullable=False),
        sa.Column("slug", sa.String(length=510), nullable=False),
        sa.Column("description", sa.String(length=4096), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("location", sa.String(length=254), server_default="/", nullable=False),
        sa.Column("personal_owner_id", sa.Integer(), nullable=True),
        sa.Column("namespace", sa.String(length=254), nullable=True),
        sa.Column("authority_level", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=256), nullable=True),
        sa.Column("entity_id", sa.String(length=21), nullable=True),
        sa.Column("is_sample", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["personal_owner_id"],
            ["core_user.id"],
            name=op.f("fk_collection_personal_owner_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_collection_entity_id")),
        sa.UniqueConstraint("personal_owner_id", name=op.f("uq_collection_personal_owner_id")),
    )
    op.create_table(
        "core_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hashed", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("anti_csrf_token", sa.String(length=65), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_core_session_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_session")),
        sa.UniqueConstraint("key_hashed", name=op.f("uq_core_session_key_hashed")),
    )
    with op.batch_alter_table("core_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_core_session_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_core_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "permissions_group_membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("is_group_manager", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["permissions_group.id"],
            name=op.f("fk_permissions_group_membership_group_id_permissions_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_permissions_group_membership_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions_group_membership")),
        sa.UniqueConstraint(
            "user_id", "group_id", name=op.f("uq_permissions_group_membership_user_id_group_id")
        ),
    )
    with op.batch_alter_table("permissions_group_membership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_permissions_group_membership_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_permissions_group_membership_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "login_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("device_description", sa.String(length=1024), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["core_session.id"],
            name=op.f("fk_login_history_session_id_core_session"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_login_history_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_history")),
    )
    with op.batch_alter_table("login_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_history_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_history_user_id"))

    op.drop_table("login_history")
    with op.batch_alter_table("permissions_group_membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permissions_group_membership_user_id"))
        batch_op.drop_index(batch_op.f("ix_permissions_group_membership_group_id"))

    op.drop_table("permissions_group_membership")
    with op.batch_alter_table("core_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_session_user_id"))
        batch_op.drop_index(batch_op.f("ix_core_session_created_at"))

    op.drop_table("core_session")
    op.drop_table("collection")
    op.drop_table("api_key")
    op.drop_table("setting")
    op.drop_table("permissions_group")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_throttler_key")

    op.drop_table("login_attempt")
    op.drop_table("core_user")
