"""Background jobs in the server process: dashboard subscriptions, alerts, database syncs and field-value
scans on their schedules, and housekeeping.

APScheduler runs one "tick" every `scheduler_tick_seconds` (a minute). A tick reads every schedule from
the app database, works out which jobs have a scheduled time due now (`cron.latest_due`), and claims each
such run with an INSERT into `scheduled_job_run` that only one process can win (`runs.claim`); failed runs
whose retry time has come are claimed again the same way. The runs it won go to a thread pool of their own:
not APScheduler's `add_job`, which a running tick would wait on forever while `shutdown` holds its lock.
So however many server processes share the app database, each scheduled run happens once, and schedules
changed through any process are seen by all on their next tick.

A job that raises is logged, recorded as failed, and tried again later (`runs.RETRY_DELAYS`); it never
stops the scheduler or the server. `run_due_jobs(appdb, config, now)` does a tick's work in the calling
thread at any given time: what tests use instead of waiting for the clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor as RunPool

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from querybase.config import Config
from querybase.db.engine import AppDB
from querybase.email import MailError
from querybase.models.base import utcnow
from querybase.scheduler.cron import cron_trigger, latest_due
from querybase.scheduler.jobs import run_job, scheduled_jobs
from querybase.scheduler.runs import Claim, claim, claim_retries, finish
from querybase.settings.registry import Settings

log = logging.getLogger("querybase.scheduler")

# How late a scheduled run may still start (the server was down, or busy, at its time).
GRACE = dt.timedelta(hours=1)
WORKERS = 4


def due_runs(appdb: AppDB, now: dt.datetime, wanted: Callable[[str], bool] | None = None) -> list[Claim]:
    """Claim every run due at `now` (of the jobs `wanted` picks, or all): scheduled times not yet run,
    and failed runs whose retry time has come."""
    with appdb.read_sessions() as db:
        jobs = [job for job in scheduled_jobs(db) if wanted is None or wanted(job.key)]
        timezone = Settings(db).get("report-timezone") or "UTC"
    claims = []
    for job in jobs:
        try:
            trigger = cron_trigger(job.cron, timezone)
        except ValueError:
            log.warning("job %s has a schedule querybase cannot run: %r", job.key, job.cron)
            continue
        scheduled_for = latest_due(trigger, max(job.since, now - GRACE), now)
        if scheduled_for is not None:
            claimed = claim(appdb, job.key, scheduled_for, now)
            if claimed is not None:
                claims.append(claimed)
    return claims + claim_retries(appdb, now, wanted)


def execute(appdb: AppDB, config: Config, claimed: Claim, clock: Callable[[], dt.datetime] = utcnow) -> None:
    """Run a claimed job and record how it went; never raises."""
    try:
        run_job(appdb, config, claimed.job)
    except MailError as error:
        # The mail server's trouble, not ours: one line, no traceback.
        log.warning("job %s (attempt %d) could not send mail: %s", claimed.job, claimed.attempts, error)
        outcome: str | None = f"{type(error).__name__}: {error}"
    except Exception as error:
        log.exception(
            "job %s (due %s, attempt %d) failed", claimed.job, claimed.scheduled_for, claimed.attempts
        )
        outcome = f"{type(error).__name__}: {error}"
    else:
        outcome = None
    try:
        finish(appdb, claimed, clock(), outcome)
    except Exception:
        log.exception("could not record the end of job %s", claimed.job)


def run_due_jobs(
    appdb: AppDB, config: Config, now: dt.datetime | None = None, wanted: Callable[[str], bool] | None = None
) -> list[Claim]:
    """Claim and run, in this thread, what is due at `now` (default: the current time); the runs done."""
    now = now or utcnow()
    claims = due_runs(appdb, now, wanted)
    for claimed in claims:
        execute(appdb, config, claimed, lambda: now)
    return claims


class Scheduler:
    """The process's background scheduler (started only when `config.scheduler` is on)."""

    def __init__(self, appdb: AppDB, config: Config) -> None:
        self.appdb = appdb
        self.config = config
        self._scheduler: BackgroundScheduler | None = None
        self._runs: RunPool | None = None

    def start(self) -> None:
        if not self.config.scheduler:
            return
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._runs = RunPool(WORKERS, thread_name_prefix="scheduled-run")
        scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self.config.scheduler_tick_seconds),
            id="tick",
            next_run_time=utcnow(),
        )
        scheduler.start()
        self._scheduler = scheduler

    def _tick(self) -> None:
        runs = self._runs
        try:
            for claimed in due_runs(self.appdb, utcnow()):
                assert runs is not None
                runs.submit(execute, self.appdb, self.config, claimed)
        except Exception:
            log.exception("looking for due jobs failed; trying again at the next tick")

    def stop(self) -> None:
        """Stop ticking and wait for the jobs already running."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._runs is not None:
            self._runs.shutdown(wait=True)
            self._runs = None


def start(appdb: AppDB, config: Config) -> Scheduler:
    scheduler = Scheduler(appdb, config)
    scheduler.start()
    return scheduler
