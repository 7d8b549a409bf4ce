"""The background jobs: what is scheduled (read from the app DB on every look) and what running each does.

A job is named by a key: `pulse-channel:<id>` (a dashboard subscription's email channel),
`notification-subscription:<id>` (an alert's schedule), `sync-database:<id>` and `field-values:<id>` (a
database's metadata sync and field-value scan on its `schedules`), and `session-cleanup` (hourly
housekeeping: expired sessions, old job runs).

`querybase.delivery` (which runs questions, so it brings in the query processor and the card and
dashboard API modules) is imported by the delivering jobs when they first run, not with the scheduler
at server start.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from querybase import sync
from querybase.auth.sessions import delete_expired_sessions
from querybase.config import Config
from querybase.db.engine import AppDB
from querybase.models.dashboard import Dashboard
from querybase.models.database import Database
from querybase.models.notification import CRON, Notification, NotificationSubscription
from querybase.models.pulse import Pulse, PulseChannel
from querybase.scheduler.cron import schedule_to_cron
from querybase.scheduler.runs import forget_old_runs
from querybase.settings.registry import Settings

log = logging.getLogger("querybase.scheduler")

SESSION_CLEANUP = "session-cleanup"
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Job:
    """A scheduled job: its key, its Quartz cron schedule, and since when (times before are never due)."""

    key: str
    cron: str
    since: dt.datetime


def scheduled_jobs(db: Session) -> list[Job]:
    """Every job with a schedule right now."""
    jobs = [Job(SESSION_CLEANUP, "0 0 * * * ? *", _EPOCH)]
    channels = db.execute(
        select(PulseChannel)
        .join(Pulse, Pulse.id == PulseChannel.pulse_id)
        .outerjoin(Dashboard, Dashboard.id == Pulse.dashboard_id)
        .where(
            PulseChannel.enabled.is_(True),
            PulseChannel.channel_type == "email",
            Pulse.archived.is_(False),
            Pulse.alert_condition.is_(None),
            or_(Pulse.dashboard_id.is_(None), Dashboard.archived.is_(False)),
        )
    ).scalars()
    for channel in channels:
        schedule = {
            "schedule_type": channel.schedule_type,
            "schedule_hour": channel.schedule_hour,
            "schedule_day": channel.schedule_day,
            "schedule_frame": channel.schedule_frame,
        }
        try:
            cron = schedule_to_cron(schedule)
        except (KeyError, TypeError):
            log.warning("pulse channel %d has an invalid schedule %r", channel.id, schedule)
            continue
        jobs.append(Job(f"pulse-channel:{channel.id}", cron, channel.updated_at))
    subscriptions = db.execute(
        select(NotificationSubscription, Notification.updated_at)
        .join(Notification, Notification.id == NotificationSubscription.notification_id)
        .where(
            Notification.active.is_(True),
            NotificationSubscription.type == CRON,
            NotificationSubscription.cron_schedule.is_not(None),
        )
    ).all()
    for subscription, changed in subscriptions:
        since = max(subscription.created_at, changed)
        jobs.append(Job(f"notification-subscription:{subscription.id}", subscription.cron_schedule, since))
    for database in db.execute(select(Database)).scalars():
        jobs.append(Job(f"sync-database:{database.id}", database.metadata_sync_schedule, database.created_at))
        if database.is_full_sync and not database.is_on_demand and database.cache_field_values_schedule:
            jobs.append(
                Job(f"field-values:{database.id}", database.cache_field_values_schedule, database.created_at)
            )
    return jobs


def run_job(appdb: AppDB, config: Config, key: str) -> None:
    """Do what job `key` does; an exception fails the run (it is logged and tried again later)."""
    kind, _, ident = key.partition(":")
    if kind == "pulse-channel":
        deliver_subscription(appdb, int(ident))
    elif kind == "notification-subscription":
        deliver_alert(appdb, int(ident))
    elif kind == "sync-database":
        sync.run_steps(appdb, int(ident), sync.METADATA_STEPS + sync.ANALYZE_STEPS)
    elif kind == "field-values":
        sync.run_steps(appdb, int(ident), sync.FIELD_VALUES_STEPS)
    elif kind == SESSION_CLEANUP:
        with appdb.transaction() as db:
            sessions = delete_expired_sessions(db, config.session_age_minutes)
        runs = forget_old_runs(appdb, dt.datetime.now(dt.UTC))
        log.info("housekeeping: %d expired sessions and %d old job runs removed", sessions, runs)
    else:
        log.warning("unknown job %r", key)


def deliver_subscription(appdb: AppDB, channel_id: int) -> None:
    """Send a dashboard subscription's email channel now (nothing when it is gone, disabled or archived)."""
    from querybase.delivery import send

    with appdb.read_sessions() as db:
        channel = db.get(PulseChannel, channel_id)
        pulse = db.get(Pulse, channel.pulse_id) if channel is not None else None
        if channel is None or pulse is None or not channel.enabled or pulse.archived:
            return
        pulse_id = pulse.id
        subscription = send.saved_subscription(db, pulse)
        recipients = send.channel_recipients(db, channel)
        if subscription is None or not (recipients.users or recipients.others):
            return
        messages = send.subscription_messages(db, Settings(db), subscription, [recipients])
    send.send_all(messages)
    log.info("subscription %d: %d emails sent", pulse_id, len(messages))


def deliver_alert(appdb: AppDB, subscription_id: int) -> None:
    """Send an alert whose schedule came round, if its condition is met; a `send_once` alert is then
    turned off."""
    from querybase.delivery import send

    with appdb.read_sessions() as db:
        subscription = db.get(NotificationSubscription, subscription_id)
        notification = db.get(Notification, subscription.notification_id) if subscription else None
        if notification is None or not notification.active:
            return
        notification_id = notification.id
        alert = send.saved_alert(db, notification)
        if alert is None:
            return
        messages = send.alert_messages(db, Settings(db), alert)
    if not messages:
        return
    send.send_all(messages)
    log.info("alert %d: %d emails sent", notification_id, len(messages))
    if alert.send_once:
        with appdb.transaction() as db:
            sent = db.get(Notification, notification_id)
            if sent is not None:
                sent.active = False
