"""`scheduled_job_run`: one row per run of a background job at a scheduled time, which is also the lock
that makes the run happen once when several server processes share the app database.

The row is claimed with a plain INSERT: the unique key (`job`, `scheduled_for`) lets exactly one process
win. A failed run is claimed again for its retry with an UPDATE conditioned on the state it was read in,
which likewise only one process can win.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base

RUNNING = "running"
DONE = "done"
FAILED = "failed"


class ScheduledJobRun(Base):
    __tablename__ = "scheduled_job_run"
    __table_args__ = (
        UniqueConstraint("job", "scheduled_for"),
        Index("ix_scheduled_job_run_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What runs: "pulse-channel:12", "notification-subscription:3", "sync-database:1", "session-cleanup".
    job: Mapped[str] = mapped_column(String(254))
    scheduled_for: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    claimed_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    # When a failed run may be tried again (null once done, or when it has failed for good).
    next_attempt_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
