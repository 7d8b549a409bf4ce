"""What every sync step works with: the app-DB session, the database being synced, its driver and an
open connection to it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from querybase.drivers.sql import SQLDriver


@dataclass
class SyncContext:
    database_id: int
    driver: SQLDriver
    conn: Connection
    db: Session
