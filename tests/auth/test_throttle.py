"""The login throttle against a real (SQLite) app database: the threshold, the delay and its message,
the hour-long window, and what happens once the delay has passed (Metabase keeps refusing)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.auth import throttle
from querybase.db.engine import AppDB
from querybase.errors import Unauthenticated
from querybase.models.session import LoginAttempt
from tests.support.appdb import migrated_app_db


@pytest.fixture(scope="module")
def appdb() -> Iterator[AppDB]:
    with migrated_app_db("sqlite") as appdb:
        yield appdb


@pytest.fixture
def db(appdb: AppDB) -> Iterator[Session]:
    """A session whose attempts are rolled back after the test."""
    with appdb.sessions() as session:
        yield session
        session.rollback()


def fail(db: Session, key: str, times: int, *, ago: dt.timedelta = dt.timedelta(0)) -> None:
    when = dt.datetime.now(dt.UTC) - ago
    for _ in range(times):
        db.add(LoginAttempt(throttler=throttle.USERNAME.name, key=key, attempted_at=when))
    db.flush()


def refusal(db: Session, key: str, throttler: throttle.Throttler = throttle.USERNAME) -> object:
    with pytest.raises(Unauthenticated) as caught:
        throttle.check(db, throttler, key)
    assert caught.value.status == 401
    return caught.value.body


def test_under_the_threshold_nothing_is_refused(db: Session) -> None:
    fail(db, "nine@example.com", 9)
    throttle.check(db, throttle.USERNAME, "nine@example.com")


def test_at_the_threshold_the_wait_is_fifteen_seconds(db: Session) -> None:
    fail(db, "ten@example.com", 10)
    assert refusal(db, "ten@example.com") == {
        "errors": {"username": "Too many attempts! You must wait 15 seconds before trying again."}
    }


def test_the_wait_grows_with_each_attempt_over(db: Session) -> None:
    fail(db, "eleven@example.com", 11)
    # 15 s * 2^1.5 = 42.4 s
    assert refusal(db, "eleven@example.com") == {
        "errors": {"username": "Too many attempts! You must wait 42 seconds before trying again."}
    }


def test_the_wait_counts_from_the_last_attempt(db: Session) -> None:
    fail(db, "earlier@example.com", 10, ago=dt.timedelta(seconds=5))
    assert refusal(db, "earlier@example.com") == {
        "errors": {"username": "Too many attempts! You must wait 10 seconds before trying again."}
    }


def test_after_the_wait_the_key_is_still_refused(db: Session) -> None:
    """Metabase's `with-throttling` refuses while the failures are in the window; only the message changes."""
    fail(db, "patient@example.com", 10, ago=dt.timedelta(seconds=20))
    assert refusal(db, "patient@example.com") == {
        "errors": {"username": "Too many attempts! Please try again later."}
    }


def test_failures_older_than_an_hour_are_forgotten(db: Session) -> None:
    fail(db, "old@example.com", 30, ago=dt.timedelta(minutes=61))
    fail(db, "old@example.com", 9)
    throttle.check(db, throttle.USERNAME, "old@example.com")


def test_keys_and_throttlers_are_counted_apart(db: Session) -> None:
    fail(db, "shared-key", 10)
    throttle.check(db, throttle.USERNAME, "other-key")
    throttle.check(db, throttle.IP_ADDRESS, "shared-key")


def test_the_ip_threshold_is_fifty(db: Session) -> None:
    for _ in range(49):
        throttle.record_failure(db, throttle.IP_ADDRESS, "192.0.2.1")
    db.flush()
    throttle.check(db, throttle.IP_ADDRESS, "192.0.2.1")
    throttle.record_failure(db, throttle.IP_ADDRESS, "192.0.2.1")
    db.flush()
    assert refusal(db, "192.0.2.1", throttle.IP_ADDRESS) == {
        "errors": {"username": "Too many attempts! You must wait 15 seconds before trying again."}
    }


def test_long_keys_are_stored_and_matched_by_their_first_254_characters(db: Session) -> None:
    key = "k" * 300
    for _ in range(10):
        throttle.record_failure(db, throttle.USERNAME, key)
    db.flush()
    stored = db.scalars(select(LoginAttempt.key).where(LoginAttempt.key.startswith("kkk"))).all()
    assert {len(k) for k in stored} == {254}
    refusal(db, key)
    refusal(db, "k" * 254 + "different tail")
