"""What a server process does when it starts: bring the app DB's schema up to date and make sure the
instance has its setup token. Safe to run in several processes at once."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError

from querybase.db.engine import AppDB
from querybase.db.migrate import upgrade
from querybase.settings import definitions
from querybase.settings.registry import Settings

log = logging.getLogger("querybase")


def start(appdb: AppDB) -> None:
    upgrade(appdb.engine)
    ensure_setup_token(appdb)


def ensure_setup_token(appdb: AppDB) -> str:
    """The setup token, created by the first process to start; a racing process reads the winner's."""
    for _ in range(2):
        with appdb.transaction() as db:
            settings = Settings(db)
            token = settings.stored(definitions.setup_token.key)
            if token is not None:
                return token
            try:
                token = str(uuid.uuid4())
                settings.write(definitions.setup_token.key, token)
                return token
            except IntegrityError:
                db.rollback()
    raise RuntimeError("could not create the setup token")
