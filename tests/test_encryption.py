"""Connection details are encrypted at rest when MB_ENCRYPTION_SECRET_KEY is set, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from querybase.db.encryption import EncryptionKeyError
from querybase.db.engine import AppDB
from querybase.models.database import Database
from tests.support.appdb import migrated_app_db

DETAILS = {"host": "h", "user": "u", "password": "secret"}


@pytest.fixture
def appdb():
    with migrated_app_db("sqlite") as appdb:
        yield appdb


def stored_details(appdb: AppDB, database_id: int) -> str:
    with appdb.engine.connect() as conn:
        return conn.execute(
            text("SELECT details FROM metabase_database WHERE id = :id"), {"id": database_id}
        ).scalar()


def add(appdb: AppDB) -> int:
    with appdb.transaction() as db:
        database = Database(name="X", engine="postgres", details=DETAILS)
        db.add(database)
        db.flush()
        return database.id


def test_plain_json_without_a_key(appdb, monkeypatch):
    monkeypatch.delenv("MB_ENCRYPTION_SECRET_KEY", raising=False)
    database_id = add(appdb)
    assert stored_details(appdb, database_id) == '{"host":"h","user":"u","password":"secret"}'


def test_encrypted_with_a_key_and_readable_only_with_it(appdb, monkeypatch):
    monkeypatch.setenv("MB_ENCRYPTION_SECRET_KEY", "correct horse battery staple")
    database_id = add(appdb)
    raw = stored_details(appdb, database_id)
    assert raw.startswith("qbenc1:") and "secret" not in raw
    with appdb.transaction() as db:
        assert db.get(Database, database_id).details == DETAILS
    monkeypatch.setenv("MB_ENCRYPTION_SECRET_KEY", "another key")
    with pytest.raises(EncryptionKeyError, match="does not decrypt"), appdb.transaction() as db:
        db.get(Database, database_id)
    monkeypatch.delenv("MB_ENCRYPTION_SECRET_KEY")
    with pytest.raises(EncryptionKeyError, match="is needed"), appdb.transaction() as db:
        db.get(Database, database_id)


def test_plain_values_stay_readable_after_a_key_is_introduced(appdb, monkeypatch):
    monkeypatch.delenv("MB_ENCRYPTION_SECRET_KEY", raising=False)
    database_id = add(appdb)
    monkeypatch.setenv("MB_ENCRYPTION_SECRET_KEY", "k")
    with appdb.transaction() as db:
        database = db.get(Database, database_id)
        assert database.details == DETAILS
        database.details = {**DETAILS, "host": "h2"}
    assert stored_details(appdb, database_id).startswith("qbenc1:")
