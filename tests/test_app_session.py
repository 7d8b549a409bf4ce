"""`AppSession.get` on every kind of app database, without HTTP: it answers as `Session.get` does, and reads
a row with one statement built once per entity (SQLAlchemy then keys it once, not on every call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import ORMExecuteState, Session, selectinload

from querybase.db.engine import AppDB
from querybase.models.user import PermissionsGroup
from tests.support.appdb import migrated_app_db


@pytest.fixture
def appdb(app_db_kind: str) -> Iterator[AppDB]:
    with migrated_app_db(app_db_kind) as db:
        yield db


@pytest.fixture
def group_id(appdb: AppDB) -> int:
    with appdb.transaction() as db:
        group = PermissionsGroup(name="Analysts")
        db.add(group)
        db.flush()
        return group.id


def statements_of(db: Session) -> list[Any]:
    """The ORM statements `db` runs from now on."""
    seen: list[Any] = []

    @event.listens_for(db, "do_orm_execute")
    def record(state: ORMExecuteState) -> None:
        seen.append(state.statement)

    return seen


def test_a_row_is_read_once_then_found_in_the_session(appdb: AppDB, group_id: int) -> None:
    with appdb.read_sessions() as db:
        seen = statements_of(db)
        group = db.get(PermissionsGroup, group_id)
        assert (group.id, group.name) == (group_id, "Analysts")
        assert db.get(PermissionsGroup, group_id) is group
        assert len(seen) == 1


def test_every_session_reads_with_the_same_statement(appdb: AppDB, group_id: int) -> None:
    statements = []
    for _ in range(2):
        with appdb.read_sessions() as db:
            seen = statements_of(db)
            assert db.get(PermissionsGroup, group_id).name == "Analysts"
            statements += seen
    assert len(statements) == 2
    assert statements[0] is statements[1]


def test_unknown_and_impossible_ids_are_none(appdb: AppDB, group_id: int) -> None:
    with appdb.read_sessions() as db:
        seen = statements_of(db)
        assert db.get(PermissionsGroup, group_id + 1000) is None
        assert len(seen) == 1
        # Past the 32-bit id column: None without asking the database (PostgreSQL would refuse it).
        assert db.get(PermissionsGroup, 2**31) is None
        assert db.get(PermissionsGroup, 2**70) is None
        assert len(seen) == 1


def test_the_transaction_s_own_changes_are_seen(appdb: AppDB, group_id: int) -> None:
    with appdb.transaction() as db:
        db.execute(update(PermissionsGroup).where(PermissionsGroup.id == group_id).values(name="Renamed"))
        assert db.get(PermissionsGroup, group_id).name == "Renamed"
        added = PermissionsGroup(name="Added")
        db.add(added)
        db.flush()
        db.expunge(added)
        assert db.get(PermissionsGroup, added.id).name == "Added"
        db.delete(db.get(PermissionsGroup, added.id))
        db.flush()
        assert db.get(PermissionsGroup, added.id) is None


def test_an_expired_row_is_read_again(appdb: AppDB, group_id: int) -> None:
    with appdb.transaction() as db:
        group = db.get(PermissionsGroup, group_id)
        db.execute(
            update(PermissionsGroup)
            .where(PermissionsGroup.id == group_id)
            .values(name="Changed")
            .execution_options(synchronize_session=False)
        )
        assert group.name == "Analysts"
        db.expire(group)
        assert db.get(PermissionsGroup, group_id) is group
        assert group.name == "Changed"


def test_options_and_identities_as_dicts_go_to_session_get(appdb: AppDB, group_id: int) -> None:
    with appdb.read_sessions() as db:
        group = db.get(PermissionsGroup, group_id, options=[selectinload(PermissionsGroup.memberships)])
        assert group.name == "Analysts"
        assert group.memberships == []
        assert db.get(PermissionsGroup, {"id": group_id}) is group
