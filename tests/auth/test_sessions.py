"""Session age configuration, and sessions against a real (SQLite) app database: lookup, age limit,
hashing at rest, deletion."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.auth.sessions import create_session, delete_expired_sessions, delete_session, find_session_user
from querybase.config import DEFAULT_SESSION_AGE_MINUTES, Config, ConfigError
from querybase.db.engine import AppDB
from querybase.models.session import LoginHistory, UserSession
from querybase.models.user import User, create_user
from tests.support.appdb import migrated_app_db

AGE = 60


# ---------------------------------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize(
    ("env", "minutes"),
    [
        ({}, 20160),
        ({"MAX_SESSION_AGE": "60"}, 60),
        ({"MB_SESSION_AGE": "30"}, 30),
        # MAX_SESSION_AGE is the variable Metabase itself reads, so it wins
        ({"MAX_SESSION_AGE": "60", "MB_SESSION_AGE": "30"}, 60),
        ({"MAX_SESSION_AGE": "", "MB_SESSION_AGE": "30"}, 30),
    ],
)
def test_session_age_from_the_environment(env: dict[str, str], minutes: int) -> None:
    assert Config.from_env(env).session_age_minutes == minutes


def test_default_session_age_is_fourteen_days() -> None:
    assert DEFAULT_SESSION_AGE_MINUTES == 14 * 24 * 60


def test_a_session_age_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="MAX_SESSION_AGE must be a whole number"):
        Config.from_env({"MAX_SESSION_AGE": "two weeks"})


# ---------------------------------------------------------------------------------------------------
# Sessions in the app DB


@pytest.fixture(scope="module")
def appdb() -> Iterator[AppDB]:
    with migrated_app_db("sqlite") as appdb:
        yield appdb


@pytest.fixture
def db(appdb: AppDB) -> Iterator[Session]:
    with appdb.sessions() as session:
        yield session
        session.rollback()


@pytest.fixture
def user(db: Session) -> User:
    return create_user(db, email=f"s-{uuid.uuid4().hex[:8]}@example.com", password_hash=None)


def test_a_new_session_is_found_by_its_id(db: Session, user: User) -> None:
    token, row = create_session(db, user, ip_address="192.0.2.7", device="agent")
    assert str(uuid.UUID(token)) == token
    found = find_session_user(db, token, AGE)
    assert found is user
    assert user.last_login is not None
    history = db.scalars(select(LoginHistory).where(LoginHistory.session_id == row.id)).one()
    seen = (history.user_id, history.ip_address, history.device_description)
    assert seen == (user.id, "192.0.2.7", "agent")


def test_only_the_sha256_of_the_id_is_stored(db: Session, user: User) -> None:
    token, row = create_session(db, user)
    assert row.key_hashed == hashlib.sha256(token.encode()).hexdigest()
    assert db.scalars(select(UserSession).where(UserSession.key_hashed == token)).all() == []


@pytest.mark.parametrize("token", ["not-a-uuid", "", "5e1ec7ed-0000-4000-8000-000000000000"])
def test_unknown_and_malformed_ids_find_nothing(db: Session, token: str) -> None:
    assert find_session_user(db, token, AGE) is None
    assert delete_session(db, token) is False


def test_a_session_older_than_the_age_is_not_found(db: Session, user: User) -> None:
    token, row = create_session(db, user)
    row.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=AGE - 1)
    db.flush()
    assert find_session_user(db, token, AGE) is not None
    row.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=AGE + 1)
    db.flush()
    assert find_session_user(db, token, AGE) is None


def test_a_deactivated_users_session_is_not_found(db: Session, user: User) -> None:
    token, _ = create_session(db, user)
    user.is_active = False
    db.flush()
    assert find_session_user(db, token, AGE) is None


def test_delete_session(db: Session, user: User) -> None:
    token, _ = create_session(db, user)
    other, _ = create_session(db, user)
    assert delete_session(db, token) is True
    assert find_session_user(db, token, AGE) is None
    assert find_session_user(db, other, AGE) is not None
    assert delete_session(db, token) is False


def test_delete_expired_sessions_keeps_young_ones(db: Session, user: User) -> None:
    _, old_row = create_session(db, user)
    young, _ = create_session(db, user)
    old_row.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=AGE + 1)
    db.flush()
    assert delete_expired_sessions(db, AGE) >= 1
    assert db.get(UserSession, old_row.id) is None
    assert find_session_user(db, young, AGE) is not None


def test_long_address_and_device_are_cut_to_their_columns(db: Session, user: User) -> None:
    """Both come from headers the client controls; PostgreSQL and MySQL would refuse longer values."""
    _, row = create_session(db, user, ip_address="1" * 100, device="d" * 2000)
    history = db.scalars(select(LoginHistory).where(LoginHistory.session_id == row.id)).one()
    assert (history.ip_address, history.device_description) == ("1" * 64, "d" * 1024)
