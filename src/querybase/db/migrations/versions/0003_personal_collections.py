"""Every person has a personal collection from the start (made with the user since this revision).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from querybase.models.base import UTCDateTime, new_entity_id, utcnow
from querybase.models.collection import personal_collection_name, slugify

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


class _Person:
    """Just enough of a user for `personal_collection_name`."""

    def __init__(self, first_name: str | None, last_name: str | None, email: str) -> None:
        names = [n for n in (first_name, last_name) if n]
        self.common_name = " ".join(names) if names else email


def upgrade() -> None:
    conn = op.get_bind()
    people = conn.execute(
        sa.text(
            "SELECT id, first_name, last_name, email FROM core_user WHERE type = 'personal' AND id NOT IN "
            "(SELECT personal_owner_id FROM collection WHERE personal_owner_id IS NOT NULL)"
        )
    ).all()
    collection = sa.table(
        "collection",
        sa.column("name"),
        sa.column("slug"),
        sa.column("personal_owner_id"),
        sa.column("entity_id"),
        sa.column("created_at", UTCDateTime()),
        sa.column("location"),
        sa.column("archived"),
        sa.column("is_sample"),
    )
    for user_id, first_name, last_name, email in people:
        name = personal_collection_name(_Person(first_name, last_name, email))
        conn.execute(
            collection.insert().values(
                name=name,
                slug=slugify(name),
                personal_owner_id=user_id,
                entity_id=new_entity_id(),
                created_at=utcnow(),
                location="/",
                archived=False,
                is_sample=False,
            )
        )


def downgrade() -> None:
    """Personal collections made by this revision are indistinguishable from later ones; keep them."""
