"""Alembic environment: migrations run on the connection `db/migrate.py` hands over."""

from __future__ import annotations

from alembic import context

from querybase.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `querybase migrate`, which supplies the app DB connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
