"""The scheduler: schedules as Quartz cron strings and APScheduler triggers, runs claimed once in the app
database and retried when they fail, a database synced on its schedule, and two real server processes on
one PostgreSQL app database delivering a subscription once between them."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx2
import pytest
from sqlalchemy import create_engine, func, select, text

from querybase.config import Config, ConfigError
from querybase.models.job_run import DONE, FAILED, ScheduledJobRun
from querybase.scheduler import execute
from querybase.scheduler.cron import cron_trigger, is_valid_cron, latest_due, schedule_to_cron
from querybase.scheduler.runs import MAX_ATTEMPTS, STALE_AFTER, claim, claim_retries, finish
from tests.support.appdb import PG_HOST, PG_PORT, PG_USER, fresh_app_db, pg_url
from tests.support.notifications import CATEGORY_SQL, run_jobs, unique
from tests.support.processes import running_server
from tests.support.smtp import smtp_server
from tests.support.warehouses import fresh_warehouse

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- Schedules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "cron"),
    [
        ({"schedule_type": "hourly", "schedule_hour": 5}, "0 0 * * * ? *"),
        ({"schedule_type": "daily", "schedule_hour": 8}, "0 0 8 * * ? *"),
        ({"schedule_type": "weekly", "schedule_hour": 9, "schedule_day": "mon"}, "0 0 9 ? * 2 *"),
        ({"schedule_type": "monthly", "schedule_hour": 7, "schedule_frame": "first"}, "0 0 7 1 * ? *"),
        ({"schedule_type": "monthly", "schedule_hour": 7, "schedule_frame": "mid"}, "0 0 7 15 * ? *"),
        ({"schedule_type": "monthly", "schedule_hour": 7, "schedule_frame": "last"}, "0 0 7 L * ? *"),
        (
            {
                "schedule_type": "monthly",
                "schedule_hour": 7,
                "schedule_frame": "first",
                "schedule_day": "fri",
            },
            "0 0 7 ? * 6#1 *",
        ),
        (
            {"schedule_type": "monthly", "schedule_hour": 7, "schedule_frame": "last", "schedule_day": "sun"},
            "0 0 7 ? * 1L *",
        ),
    ],
)
def test_schedule_maps_become_metabase_cron_strings(schedule, cron):
    assert schedule_to_cron(schedule) == cron


@pytest.mark.parametrize(
    ("cron", "now", "due"),
    [
        ("0 0 * * * ? *", at(2026, 3, 10, 12, 30), at(2026, 3, 10, 12, 0)),
        ("0 0 8 * * ? *", at(2026, 3, 10, 7, 59), at(2026, 3, 9, 8, 0)),
        ("0 0 9 ? * 2 *", at(2026, 3, 12, 0, 0), at(2026, 3, 9, 9, 0)),  # Mondays
        ("0 0 7 ? * 6#1 *", at(2026, 3, 31, 0, 0), at(2026, 3, 6, 7, 0)),  # first Friday
        ("0 0 7 ? * 1L *", at(2026, 3, 31, 0, 0), at(2026, 3, 29, 7, 0)),  # last Sunday
        ("0 0 7 L * ? *", at(2026, 3, 1, 0, 0), at(2026, 2, 28, 7, 0)),  # last day of the month
        ("0 50 * * * ? *", at(2026, 3, 10, 12, 49, 59), at(2026, 3, 10, 11, 50)),
        ("0 0/15 9-17 ? * MON-FRI", at(2026, 3, 14, 12, 0), at(2026, 3, 13, 17, 45)),  # a Saturday
    ],
)
def test_the_last_time_a_cron_string_fired(cron, now, due):
    assert latest_due(cron_trigger(cron), now - dt.timedelta(days=40), now) == due


def test_nothing_is_due_before_the_first_time_after_since():
    trigger = cron_trigger("0 0 8 * * ? *")
    assert latest_due(trigger, at(2026, 3, 10, 8, 0, 1), at(2026, 3, 11, 7, 59)) is None
    assert latest_due(trigger, at(2026, 3, 10, 8, 0, 1), at(2026, 3, 11, 8, 0)) == at(2026, 3, 11, 8, 0)


def test_schedules_follow_the_timezone():
    trigger = cron_trigger("0 0 8 * * ? *", "America/New_York")
    assert latest_due(trigger, at(2026, 1, 1), at(2026, 1, 10, 14, 0)) == at(2026, 1, 10, 13, 0)


@pytest.mark.parametrize("cron", ["0 0 9 * * 1", "every day", "0 0 25 * * ?", "0 0 9 15W * ?", "0 0 9 * *"])
def test_cron_strings_that_cannot_run_are_refused(cron):
    assert is_valid_cron(cron) is False


def test_the_environment_turns_the_scheduler_on_and_sets_its_tick():
    assert (Config.from_env({}).scheduler, Config.from_env({}).scheduler_tick_seconds) == (True, 60.0)
    assert Config.from_env({"MB_DISABLE_SCHEDULER": "true"}).scheduler is False
    assert Config.from_env({"QB_SCHEDULER_TICK_SECONDS": "0.5"}).scheduler_tick_seconds == 0.5
    with pytest.raises(ConfigError, match="QB_SCHEDULER_TICK_SECONDS must be a positive number"):
        Config.from_env({"QB_SCHEDULER_TICK_SECONDS": "0"})
    # An app built in code (as the tests build theirs) runs no background jobs unless it asks.
    assert Config(app_db_url=Config.from_env({}).app_db_url).scheduler is False


# --- Claims and retries -------------------------------------------------------------------------------------


def test_a_run_is_claimed_once_and_retried_after_failing(server):
    appdb = server.client.app.state.appdb
    job = f"test-job:{uuid.uuid4().hex}"
    slot = at(2030, 1, 1, 9, 0)
    now = slot + dt.timedelta(seconds=5)
    first = claim(appdb, job, slot, now)
    assert first is not None and first.attempts == 1
    assert claim(appdb, job, slot, now) is None
    later = claim(appdb, job, slot + dt.timedelta(hours=1), now)
    assert later is not None
    finish(appdb, later, now)

    mine = lambda key: key == job  # noqa: E731
    current = first
    for attempt in range(1, MAX_ATTEMPTS):
        finish(appdb, current, now, "boom")
        assert claim_retries(appdb, now, mine) == []
        now += dt.timedelta(hours=2)
        [current] = claim_retries(appdb, now, mine)
        assert (current.id, current.attempts) == (first.id, attempt + 1)
        # Another process looking at the same moment finds it taken.
        assert claim_retries(appdb, now, mine) == []
    finish(appdb, current, now, "boom")
    assert claim_retries(appdb, now + dt.timedelta(days=1), mine) == []
    with appdb.transaction() as db:
        run = db.get(ScheduledJobRun, first.id)
        assert (run.status, run.attempts, run.error, run.next_attempt_at) == (
            FAILED,
            MAX_ATTEMPTS,
            "boom",
            None,
        )


def test_a_run_left_running_by_a_dead_process_is_taken_over(server):
    appdb = server.client.app.state.appdb
    job = f"test-job:{uuid.uuid4().hex}"
    slot = at(2030, 1, 1, 9, 0)
    abandoned = claim(appdb, job, slot, slot)
    assert abandoned is not None
    mine = lambda key: key == job  # noqa: E731
    assert claim_retries(appdb, slot + STALE_AFTER - dt.timedelta(seconds=1), mine) == []
    [taken] = claim_retries(appdb, slot + STALE_AFTER + dt.timedelta(seconds=1), mine)
    assert (taken.id, taken.attempts) == (abandoned.id, 2)


def test_a_failing_job_is_recorded_not_raised(server, api, user_ids):
    """No mail server is set up: delivering the subscription fails, and the run says why."""
    admin = api.as_("crowberto")
    query = {"database": _sample_id(admin), "type": "native", "native": {"query": CATEGORY_SQL}}
    card = admin.post(
        "/api/card",
        {"name": unique("Card"), "display": "table", "visualization_settings": {}, "dataset_query": query},
    )
    dashboard = admin.post("/api/dashboard", {"name": unique("Dash")})
    dashboard = admin.put(
        f"/api/dashboard/{dashboard['id']}",
        {"dashcards": [{"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}]},
    )
    pulse = admin.post(
        "/api/pulse",
        {
            "name": "x",
            "dashboard_id": dashboard["id"],
            "cards": [{"id": card["id"], "include_csv": False, "include_xls": False}],
            "channels": [
                {
                    "channel_type": "email",
                    "enabled": True,
                    "schedule_type": "hourly",
                    "recipients": [{"id": user_ids["rasta"]}],
                }
            ],
        },
    )
    appdb = server.client.app.state.appdb
    key = f"pulse-channel:{pulse['channels'][0]['id']}"
    slot = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    claimed = claim(appdb, key, slot, slot)
    assert claimed is not None
    execute(appdb, server.config, claimed, lambda: slot)
    with appdb.transaction() as db:
        run = db.get(ScheduledJobRun, claimed.id)
        assert (run.status, run.error) == (FAILED, "EmailNotConfigured: SMTP host is not set.")
        assert run.next_attempt_at == slot + dt.timedelta(minutes=1)


def _sample_id(api) -> int:
    return next(d["id"] for d in api.get("/api/database")["data"] if d["is_sample"])


def test_a_database_is_synced_on_its_schedule(server, api):
    admin = api.as_("crowberto")
    with fresh_warehouse("sqlite", dataset=False) as details:
        database = admin.post("/api/database", {"engine": "sqlite", "name": unique("wh"), "details": details})
        for _ in range(300):
            if admin.get(f"/api/database/{database['id']}")["initial_sync_status"] == "complete":
                break
            time.sleep(0.1)
        engine = create_engine(f"sqlite:///{details['db']}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE arrivals (id INTEGER PRIMARY KEY, name TEXT)"))
        engine.dispose()
        tables = lambda: [t["name"] for t in admin.get(f"/api/database/{database['id']}/metadata")["tables"]]  # noqa: E731
        assert tables() == []
        key = f"sync-database:{database['id']}"
        # Metabase's default: metadata is synced hourly at minute 50.
        slot = dt.datetime.now(UTC).replace(minute=50, second=0, microsecond=0)
        if slot <= dt.datetime.now(UTC):
            slot += dt.timedelta(hours=1)
        assert run_jobs(server, slot - dt.timedelta(minutes=1), key) == []
        assert run_jobs(server, slot + dt.timedelta(minutes=1), key) == [key]
        assert tables() == ["arrivals"]
        with server.client.app.state.appdb.transaction() as db:
            status = db.scalar(select(ScheduledJobRun.status).where(ScheduledJobRun.job == key))
        assert status == DONE
        admin.delete(f"/api/database/{database['id']}", expect=204)


# --- Several server processes -------------------------------------------------------------------------------

ADMIN = {"email": "ada@example.com", "password": "s3cret-pw", "first_name": "Ada", "last_name": "Admin"}


@pytest.mark.multiprocess
def test_two_processes_deliver_a_subscription_once(tmp_path):
    with fresh_app_db("postgres") as url, smtp_server() as smtp:
        env = {
            "MB_DB_TYPE": "postgres",
            "MB_DB_HOST": PG_HOST,
            "MB_DB_PORT": str(PG_PORT),
            "MB_DB_DBNAME": url.database,
            "MB_DB_USER": PG_USER,
            "QB_SCHEDULER_TICK_SECONDS": "1",
        }
        with running_server(env, tmp_path / "a.log") as a, running_server(env, tmp_path / "b.log") as b:
            token = httpx2.get(f"{a}/api/session/properties").json()["setup-token"]
            setup = httpx2.post(
                f"{a}/api/setup", json={"token": token, "user": ADMIN, "prefs": {"site_name": "Two"}}
            )
            assert setup.status_code == 200, setup.text
            headers = {"X-Metabase-Session": setup.json()["id"]}

            def call(method: str, base: str, path: str, body: object = None) -> dict:
                response = httpx2.request(method, f"{base}{path}", json=body, headers=headers, timeout=30)
                assert response.status_code == 200, response.text
                return response.json()

            call("PUT", a, "/api/email", {"email-smtp-host": smtp.host, "email-smtp-port": smtp.port})
            database_id = next(d["id"] for d in call("GET", b, "/api/database")["data"] if d["is_sample"])
            query = {"database": database_id, "type": "native", "native": {"query": CATEGORY_SQL}}
            card = call(
                "POST",
                a,
                "/api/card",
                {
                    "name": "Categories",
                    "display": "table",
                    "visualization_settings": {},
                    "dataset_query": query,
                },
            )
            dashboard = call("POST", b, "/api/dashboard", {"name": "Shared"})
            dashcard = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
            call("PUT", b, f"/api/dashboard/{dashboard['id']}", {"dashcards": [dashcard]})
            channel = {
                "channel_type": "email",
                "enabled": True,
                "schedule_type": "hourly",
                "recipients": [{"email": "one@example.com"}],
            }
            body = {
                "name": "Shared",
                "dashboard_id": dashboard["id"],
                "cards": [{"id": card["id"], "include_csv": True, "include_xls": False}],
                "channels": [channel],
            }
            pulse = call("POST", a, "/api/pulse", body)
            channel_id = pulse["channels"][0]["id"]
            # Made two hours ago: this hour's delivery is due, for both processes at once.
            engine = create_engine(pg_url(url.database))
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE pulse_channel SET updated_at = updated_at - interval '2 hours' WHERE id = :id"
                    ),
                    {"id": channel_id},
                )
            deadline = time.monotonic() + 30
            while not smtp.messages and time.monotonic() < deadline:
                time.sleep(0.2)
            assert smtp.messages, "no delivery within 30 seconds"
            time.sleep(4)  # several more ticks of both processes
            assert len(smtp.messages) == 1
            [message] = smtp.messages
            assert (message.recipients, message.subject) == (["one@example.com"], "Shared")
            assert [name.endswith(".csv") for name, _, _ in message.attachments()] == [True]
            with engine.connect() as conn:
                runs = conn.scalar(
                    select(func.count())
                    .select_from(ScheduledJobRun)
                    .where(ScheduledJobRun.job == f"pulse-channel:{channel_id}")
                )
            engine.dispose()
            assert runs == 1
