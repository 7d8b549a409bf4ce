"""What a server process does when it starts: bring the app DB's schema up to date, make sure the
instance has its setup token, and give a new install its Sample Database. Safe to run in several
processes at once (migrations run under a database lock; only the process that created the schema
adds the Sample Database)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from querybase import sync
from querybase.config import Config
from querybase.db.engine import AppDB
from querybase.db.migrate import upgrade
from querybase.models.setting import Setting
from querybase.settings import definitions

log = logging.getLogger("querybase")


@dataclass(frozen=True)
class Prepared:
    """For a worker whose supervisor ran `prepare`: the database it must still sync, if any."""

    sync_database_id: int | None = None


def start(appdb: AppDB, config: Config) -> None:
    """Migrate, make the setup token and the site's UUID, and on a new install add the Sample Database
    and sync it."""
    database_id = prepare(appdb, config)
    if database_id is not None:
        sync.start_sync(appdb, database_id)


def prepare(appdb: AppDB, config: Config) -> int | None:
    """`start` without the sync, which runs in a thread: what a supervisor does before it forks its
    workers (`querybase.server`). Returns the id of the Sample Database a new install added, to sync."""
    fresh = upgrade(appdb.engine)
    ensure_setup_token(appdb)
    ensure_generated(appdb, definitions.site_uuid.key)
    ensure_generated(appdb, definitions.site_uuid_for_unsubscribing_url.key)
    if not fresh:
        return None
    # Imported only for a new install: every other start is faster without it.
    from querybase import sample_database

    with appdb.transaction() as db:
        return sample_database.register(db, config).id


def ensure_setup_token(appdb: AppDB) -> str:
    """The setup token, created by the first process to start; a racing process reads the winner's."""
    return ensure_generated(appdb, definitions.setup_token.key)


def ensure_generated(appdb: AppDB, key: str) -> str:
    """The value of a setting that is a random UUID made once (Metabase makes them on first read;
    querybase at start, so that reading settings, as a GET does, never writes).

    A plain INSERT (not the settings' update-or-insert) so that the primary key decides the winner
    when processes start together."""
    try:
        with appdb.transaction() as db:
            if db.get(Setting, key) is None:
                db.add(Setting(key=key, value=str(uuid.uuid4())))
    except IntegrityError:
        pass
    with appdb.transaction() as db:
        return db.get(Setting, key).value
