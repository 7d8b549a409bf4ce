"""The search index: `search_token`, the words of cards', dashboards' and collections' names,
descriptions and native SQL, filled from the existing content (see `models/search_index.py`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from querybase.models.search_index import Word, rebuild

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=1), nullable=False),
        sa.Column("token", Word(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_token")),
    )
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.create_index("ix_search_token_lookup", ["model", "token", "field", "model_id"], unique=False)
        batch_op.create_index("ix_search_token_item", ["model", "model_id", "token", "field"], unique=False)
    rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("search_token", schema=None) as batch_op:
        batch_op.drop_index("ix_search_token_item")
        batch_op.drop_index("ix_search_token_lookup")
    op.drop_table("search_token")
