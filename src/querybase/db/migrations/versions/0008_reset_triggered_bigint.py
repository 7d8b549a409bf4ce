"""`core_user.reset_triggered` as a BIGINT: it holds epoch milliseconds, as in Metabase, which a 32-bit
INTEGER cannot (PostgreSQL and MySQL refused every password-reset token). SQLite's INTEGER is already
64-bit, and changing a column there would mean rebuilding `core_user` under its foreign keys: left alone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("core_user", "reset_triggered", type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("core_user", "reset_triggered", type_=sa.Integer(), existing_type=sa.BigInteger())
