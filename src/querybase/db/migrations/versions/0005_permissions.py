"""Permissions: data permissions per group x database/table, collection permissions, and the revisions
of both permission graphs.

Existing instances keep the access they had (everyone could query everything and curate every shared
collection), seeded the way Metabase's own defaults look: every group but Administrators gets full
query access to every database; All Users curates the root and every collection outside personal
collections; Administrators hold the root path `/`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from querybase.models.base import JSONText, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# A database's full access, as Metabase gives it to a group that has no restrictions anywhere.
FULL_DATABASE_ACCESS = (
    ("perms/view-data", "unrestricted"),
    ("perms/create-queries", "query-builder-and-native"),
    ("perms/download-results", "one-million-rows"),
    ("perms/manage-table-metadata", "no"),
    ("perms/manage-database", "no"),
)


def _revision_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("before", JSONText(), nullable=False),
        sa.Column("after", JSONText(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f(f"fk_{name}_user_id_core_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_user_id"), ["user_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "data_permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("perm_type", sa.String(length=64), nullable=False),
        sa.Column("db_id", sa.Integer(), nullable=False),
        sa.Column("schema_name", sa.String(length=254), nullable=True),
        sa.Column("table_id", sa.Integer(), nullable=True),
        sa.Column("perm_value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["db_id"],
            ["metabase_database.id"],
            name=op.f("fk_data_permissions_db_id_metabase_database"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["permissions_group.id"],
            name=op.f("fk_data_permissions_group_id_permissions_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["metabase_table.id"],
            name=op.f("fk_data_permissions_table_id_metabase_table"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_permissions")),
    )
    with op.batch_alter_table("data_permissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_data_permissions_group_id_db_id_perm_type", ["group_id", "db_id", "perm_type"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_data_permissions_db_id"), ["db_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_permissions_table_id"), ["table_id"], unique=False)

    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object", sa.String(length=254), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("perm_type", sa.String(length=64), nullable=True),
        sa.Column("perm_value", sa.String(length=64), nullable=True),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_permissions_collection_id_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["permissions_group.id"],
            name=op.f("fk_permissions_group_id_permissions_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions")),
        sa.UniqueConstraint("group_id", "object", name=op.f("uq_permissions_group_id_object")),
    )
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permissions_collection_id"), ["collection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_permissions_group_id"), ["group_id"], unique=False)

    _revision_table("permissions_revision")
    _revision_table("collection_permission_graph_revision")
    _seed()


def _seed() -> None:
    conn = op.get_bind()
    admin_id = conn.scalar(sa.text("SELECT id FROM permissions_group WHERE magic_group_type = 'admin'"))
    all_users_id = conn.scalar(
        sa.text("SELECT id FROM permissions_group WHERE magic_group_type = 'all-internal-users'")
    )
    group_ids = [g for (g,) in conn.execute(sa.text("SELECT id FROM permissions_group ORDER BY id"))]
    database_ids = [d for (d,) in conn.execute(sa.text("SELECT id FROM metabase_database ORDER BY id"))]
    data_permissions = sa.table(
        "data_permissions",
        sa.column("group_id", sa.Integer),
        sa.column("perm_type", sa.String),
        sa.column("db_id", sa.Integer),
        sa.column("perm_value", sa.String),
    )
    rows = [
        {"group_id": group_id, "perm_type": perm_type, "db_id": database_id, "perm_value": value}
        for group_id in group_ids
        if group_id != admin_id
        for database_id in database_ids
        for perm_type, value in FULL_DATABASE_ACCESS
    ]
    if rows:
        op.bulk_insert(data_permissions, rows)

    permissions = sa.table(
        "permissions",
        sa.column("object", sa.String),
        sa.column("group_id", sa.Integer),
        sa.column("perm_type", sa.String),
        sa.column("perm_value", sa.String),
        sa.column("collection_id", sa.Integer),
    )
    paths: list[dict[str, object]] = []
    if admin_id is not None:
        paths.append(
            {
                "object": "/",
                "group_id": admin_id,
                "perm_type": None,
                "perm_value": None,
                "collection_id": None,
            }
        )
    if all_users_id is not None:
        # Every collection outside personal collections (and their children) and the Trash.
        shared = conn.execute(
            sa.text(
                "SELECT c.id FROM collection c WHERE c.personal_owner_id IS NULL "
                "AND (c.type IS NULL OR c.type <> 'trash') AND NOT EXISTS ("
                "SELECT 1 FROM collection p WHERE p.personal_owner_id IS NOT NULL "
                "AND c.location LIKE " + _concat(conn.dialect.name) + ") ORDER BY c.id"
            )
        )
        paths.append(_write_path(all_users_id, None))
        paths.extend(_write_path(all_users_id, collection_id) for (collection_id,) in shared)
    if paths:
        op.bulk_insert(permissions, paths)


def _concat(dialect: str) -> str:
    """SQL for the pattern "/<personal collection id>/%" on each app database."""
    if dialect == "mysql":
        return "CONCAT('/', p.id, '/%')"
    return "'/' || CAST(p.id AS VARCHAR(20)) || '/%'" if dialect == "postgresql" else "'/' || p.id || '/%'"


def _write_path(group_id: int, collection_id: int | None) -> dict[str, object]:
    where = "root" if collection_id is None else str(collection_id)
    return {
        "object": f"/collection/{where}/",
        "group_id": group_id,
        "perm_type": "perms/collection-access",
        "perm_value": "read-and-write",
        "collection_id": collection_id,
    }


def downgrade() -> None:
    for name in ("collection_permission_graph_revision", "permissions_revision"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_user_id"))
        op.drop_table(name)
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permissions_group_id"))
        batch_op.drop_index(batch_op.f("ix_permissions_collection_id"))
    op.drop_table("permissions")
    with op.batch_alter_table("data_permissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_permissions_table_id"))
        batch_op.drop_index(batch_op.f("ix_data_permissions_db_id"))
        batch_op.drop_index("ix_data_permissions_group_id_db_id_perm_type")
    op.drop_table("data_permissions")
