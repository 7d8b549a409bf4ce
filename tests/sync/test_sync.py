"""Sync against every engine: tables, fields, keys, semantic types, fingerprints and field values land
in the app DB; re-sync is incremental and keeps an admin's edits; a vanished server aborts cleanly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from querybase import sync
from querybase.db.engine import AppDB
from querybase.db.migrate import upgrade
from querybase.drivers.sql import POOLS
from querybase.models.database import Database, Field, FieldValues, Table, has_field_values
from tests.support.appdb import fresh_app_db, mysql_url, pg_url
from tests.support.warehouses import fresh_warehouse


@pytest.fixture
def appdb() -> Iterator[AppDB]:
    with fresh_app_db("sqlite") as url:
        appdb = AppDB(url)
        upgrade(appdb.engine)
        yield appdb
        appdb.dispose()


def add_database(appdb: AppDB, engine: str, details: dict) -> int:
    with appdb.transaction() as db:
        database = Database(name="Test", engine=engine, details=details)
        db.add(database)
        db.flush()
        return database.id


def fields_of(appdb: AppDB, database_id: int, table_name: str) -> dict[str, Field]:
    with appdb.transaction() as db:
        tbl = db.scalar(select(Table).where(Table.db_id == database_id, Table.name == table_name))
        return {f.name: f for f in db.scalars(select(Field).where(Field.table_id == tbl.id))}


def warehouse_engine(engine: str, details: dict):
    if engine == "postgres":
        return create_engine(pg_url(details["dbname"]), poolclass=NullPool)
    if engine == "mysql":
        return create_engine(mysql_url(details["dbname"]), poolclass=NullPool)
    path = details.get("db") or details.get("database_file")
    return create_engine(f"{engine}:///{path}", poolclass=NullPool)


def test_sync_learns_the_dataset(engine, appdb):
    with fresh_warehouse(engine) as details:
        database_id = add_database(appdb, engine, details)
        sync.sync_database(appdb, database_id)
        POOLS.close(database_id)
    with appdb.transaction() as db:
        database = db.get(Database, database_id)
        assert database.initial_sync_status == "complete"
        assert database.dbms_version["version"]
        tables = {t.name: t for t in db.scalars(select(Table).where(Table.db_id == database_id))}
    assert sorted(tables) == ["Odd Table ü", "categories", "checkins", "users", "venues"]
    assert tables["checkins"].display_name == "Checkins"
    assert tables["Odd Table ü"].display_name == "Odd Table Ü"
    assert all(t.initial_sync_status == "complete" and t.active for t in tables.values())
    assert tables["users"].entity_type == "entity/UserTable"
    assert tables["checkins"].entity_type == "entity/EventTable"

    users = fields_of(appdb, database_id, "users")
    venues = fields_of(appdb, database_id, "venues")
    checkins = fields_of(appdb, database_id, "checkins")
    assert {n: (f.display_name, f.semantic_type) for n, f in users.items()} == {
        "id": ("ID", "type/PK"),
        "name": ("Name", "type/Name"),
        # Five distinct values: Metabase's category classifier runs before the email one.
        "email": ("Email", "type/Category"),
        "last_login": ("Last Login", None),
        "birth_date": ("Birth Date", None),
        "is_active": ("Is Active", "type/Category"),
    }
    assert checkins["user_id"].semantic_type == "type/FK"
    assert checkins["user_id"].fk_target_field_id == users["id"].id
    assert checkins["venue_id"].fk_target_field_id == venues["id"].id
    assert checkins["user_id"].display_name == "User ID"
    assert (venues["latitude"].semantic_type, venues["longitude"].semantic_type) == (
        "type/Latitude",
        "type/Longitude",
    )
    assert (venues["price"].semantic_type, venues["price"].has_field_values) == ("type/Category", "auto-list")
    assert has_field_values(users["is_active"]) == "list"
    assert (users["id"].fingerprint, users["id"].has_field_values, has_field_values(users["id"])) == (
        None,
        None,
        "none",
    )
    assert has_field_values(users["email"]) == "list"
    assert users["last_login"].fingerprint["type"]["type/DateTime"]["earliest"].startswith("2014-01-01")
    price = venues["price"].fingerprint
    assert price["global"] == {"distinct-count": 3, "nil%": 0.0}
    assert price["type"]["type/Number"]["min"] == 1.0 and price["type"]["type/Number"]["max"] == 3.0
    assert users["email"].fingerprint["type"]["type/Text"]["percent-email"] == 1.0
    assert [f.database_position for f in sorted(users.values(), key=lambda f: f.position)] == list(range(6))
    with appdb.transaction() as db:
        values = db.scalar(select(FieldValues).where(FieldValues.field_id == venues["price"].id))
        assert (values.values, values.has_more_values) == ([1, 2, 3], False)


def test_resync_is_incremental_and_keeps_edits(engine, appdb):
    with fresh_warehouse(engine) as details:
        database_id = add_database(appdb, engine, details)
        sync.sync_database(appdb, database_id)
        POOLS.close(database_id)  # DuckDB: one process cannot hold read-only and writing connections at once
        with appdb.transaction() as db:
            name = db.scalar(select(Field).join(Table).where(Table.name == "users", Field.name == "name"))
            name.display_name, name.description, name.semantic_type = "Full name", "Who", "type/Title"
            checkins_id = db.scalar(select(Table.id).where(Table.name == "checkins"))
        warehouse = warehouse_engine(engine, details)
        quote = warehouse.dialect.identifier_preparer.quote
        with warehouse.begin() as conn:
            conn.execute(text(f"DROP TABLE {quote('checkins')}"))
            conn.execute(text(f"ALTER TABLE {quote('users')} ADD COLUMN {quote('nickname')} VARCHAR(20)"))
        warehouse.dispose()
        sync.sync_database(appdb, database_id)
        POOLS.close(database_id)
    with appdb.transaction() as db:
        checkins = db.get(Table, checkins_id)
        assert checkins is not None and checkins.active is False
    users = fields_of(appdb, database_id, "users")
    assert "nickname" in users and users["nickname"].active
    assert (users["name"].display_name, users["name"].description, users["name"].semantic_type) == (
        "Full name",
        "Who",
        "type/Title",
    )


def test_server_gone_aborts_the_sync(appdb):
    with fresh_warehouse("postgres", dataset=False) as details:
        database_id = add_database(appdb, "postgres", details)
    # The database was dropped when the block ended: the sync cannot connect.
    sync.sync_database(appdb, database_id)
    POOLS.close(database_id)
    with appdb.transaction() as db:
        assert db.get(Database, database_id).initial_sync_status == "aborted"


def test_server_going_away_mid_sync_aborts_and_keeps_what_was_learnt(appdb, monkeypatch):
    """The database is dropped between two steps (after the tables were synced, before the fields)."""
    with fresh_warehouse("postgres") as details:
        database_id = add_database(appdb, "postgres", details)

        def drop_the_database(ctx):
            POOLS.close(database_id)
            admin = create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{details["dbname"]}" WITH (FORCE)'))
            admin.dispose()
            return "dropped"

        steps = list(sync.METADATA_STEPS)
        steps.insert(steps.index(sync.metadata.sync_fields), drop_the_database)
        monkeypatch.setattr(sync, "METADATA_STEPS", tuple(steps))
        sync.sync_database(appdb, database_id)
        POOLS.close(database_id)
    with appdb.transaction() as db:
        assert db.get(Database, database_id).initial_sync_status == "aborted"
        names = sorted(t.name for t in db.scalars(select(Table).where(Table.db_id == database_id)))
    assert names == ["Odd Table ü", "categories", "checkins", "users", "venues"]
