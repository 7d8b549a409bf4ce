"""Claiming job runs in the app database, so that each scheduled run happens once across every server
process (see `models/job_run.py`), and failed runs are tried again later.

Every function opens its own short transaction: a claim is committed before the job starts, so another
process sees it at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from querybase.db.engine import AppDB
from querybase.models.job_run import DONE, FAILED, RUNNING, ScheduledJobRun

# After the n-th failed attempt a run is tried again this much later; after the last it is given up.
RETRY_DELAYS = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A run still "running" this long after it was claimed belongs to a process that died: try it again.
STALE_AFTER = dt.timedelta(hours=6)
# Finished runs are forgotten after this long (long after their time can be due again).
KEEP_FOR = dt.timedelta(days=7)


@dataclass(frozen=True)
class Claim:
    """A run this process won: run `job` for its `scheduled_for` time (attempt number `attempts`)."""

    id: int
    job: str
    scheduled_for: dt.datetime
    attempts: int


def claim(appdb: AppDB, job: str, scheduled_for: dt.datetime, now: dt.datetime) -> Claim | None:
    """Insert the run's row; None when another process (or an earlier tick) already has it."""
    try:
        with appdb.transaction() as db:
            run = ScheduledJobRun(
                job=job, scheduled_for=scheduled_for, status=RUNNING, attempts=1, claimed_at=now
            )
            db.add(run)
            db.flush()
            return Claim(run.id, job, scheduled_for, 1)
    except IntegrityError:
        return None


def claim_retries(appdb: AppDB, now: dt.datetime, wanted: Callable[[str], bool] | None = None) -> list[Claim]:
    """Failed runs (of the jobs `wanted` picks, or all) whose retry time has come, and runs abandoned by a
    dead process, each claimed by an UPDATE that only matches the state it was read in (so only one
    process wins it)."""
    stale = now - STALE_AFTER
    with appdb.transaction() as db:
        rows = db.execute(
            select(
                ScheduledJobRun.id,
                ScheduledJobRun.job,
                ScheduledJobRun.scheduled_for,
                ScheduledJobRun.status,
                ScheduledJobRun.attempts,
            ).where(
                or_(
                    and_(ScheduledJobRun.status == FAILED, ScheduledJobRun.next_attempt_at <= now),
                    and_(ScheduledJobRun.status == RUNNING, ScheduledJobRun.claimed_at < stale),
                )
            )
        ).all()
    claims = []
    for run_id, job, scheduled_for, status, attempts in rows:
        if wanted is not None and not wanted(job):
            continue
        with appdb.transaction() as db:
            won = db.execute(
                update(ScheduledJobRun)
                .where(
                    ScheduledJobRun.id == run_id,
                    ScheduledJobRun.status == status,
                    ScheduledJobRun.attempts == attempts,
                )
                .values(status=RUNNING, attempts=attempts + 1, claimed_at=now, next_attempt_at=None)
            ).rowcount
        if won == 1:
            claims.append(Claim(run_id, job, scheduled_for, attempts + 1))
    return claims


def finish(appdb: AppDB, claimed: Claim, now: dt.datetime, error: str | None = None) -> None:
    """Record the run's outcome; a failure is tried again after a growing delay, up to `MAX_ATTEMPTS`."""
    values: dict[str, object] = {"finished_at": now, "error": error}
    if error is None:
        values.update(status=DONE, next_attempt_at=None)
    elif claimed.attempts < MAX_ATTEMPTS:
        values.update(status=FAILED, next_attempt_at=now + RETRY_DELAYS[claimed.attempts - 1])
    else:
        values.update(status=FAILED, next_attempt_at=None)
    with appdb.transaction() as db:
        db.execute(update(ScheduledJobRun).where(ScheduledJobRun.id == claimed.id).values(**values))


def forget_old_runs(appdb: AppDB, now: dt.datetime) -> int:
    with appdb.transaction() as db:
        result = db.execute(
            delete(ScheduledJobRun).where(
                ScheduledJobRun.scheduled_for < now - KEEP_FOR, ScheduledJobRun.status != RUNNING
            )
        )
        return result.rowcount
