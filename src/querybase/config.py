"""Process configuration read from the environment, once, at start.

Only what must be known before the application database is open lives here: where the app DB is
(Metabase's `MB_DB_*` variables), where to listen (`MB_JETTY_HOST`/`MB_JETTY_PORT`), session age, the
login throttle switch, where the Sample Database comes from (`MB_PLUGINS_DIR`,
`MB_SAMPLE_DATABASE_CSV_DIR`), and whether this process runs background jobs (`MB_DISABLE_SCHEDULER`).
Everything an admin can change at run time is a setting (`settings/`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from sqlalchemy.engine import URL, make_url

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 3000
MAX_WORKERS = 64
DEFAULT_DB_FILE = "querybase.db"
# Metabase's default session age: 14 days, in minutes.
DEFAULT_SESSION_AGE_MINUTES = 20160

_SQLALCHEMY_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}


class ConfigError(ValueError):
    """The environment describes an application database we cannot use."""


@dataclass(frozen=True)
class Config:
    app_db_url: URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    session_age_minutes: int = DEFAULT_SESSION_AGE_MINUTES
    disable_session_throttle: bool = False
    # Where files querybase makes for itself live (the Sample Database), like Metabase's plugins dir.
    plugins_dir: Path = Path("plugins")
    # Build the Sample Database from this folder of CSV files instead of querybase's generated data.
    sample_csv_dir: Path | None = None
    # Run background jobs (subscriptions, alerts, scheduled syncs) in this process. A server started from
    # the environment does unless MB_DISABLE_SCHEDULER is true; an app built in code (tests) runs them itself.
    scheduler: bool = False
    # How often the scheduler looks for due jobs (QB_SCHEDULER_TICK_SECONDS; tests make it short).
    scheduler_tick_seconds: float = 60.0
    # Server processes answering requests (QB_WORKERS; see `querybase.server`). One by default: the
    # least memory; one per core serves the most requests.
    workers: int = 1

    @property
    def app_db_type(self) -> str:
        """`sqlite`, `postgres` or `mysql`."""
        name = self.app_db_url.get_backend_name()
        return "postgres" if name == "postgresql" else name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        return cls(
            app_db_url=app_db_url_from_env(env),
            host=env.get("MB_JETTY_HOST") or DEFAULT_HOST,
            port=_int(env, "MB_JETTY_PORT", DEFAULT_PORT),
            # MAX_SESSION_AGE is the name Metabase reads; MB_SESSION_AGE is the one its tutorial documents.
            session_age_minutes=_int(
                env, "MAX_SESSION_AGE", _int(env, "MB_SESSION_AGE", DEFAULT_SESSION_AGE_MINUTES)
            ),
            disable_session_throttle=env.get("MB_DISABLE_SESSION_THROTTLE", "").lower() == "true",
            plugins_dir=Path(env.get("MB_PLUGINS_DIR") or "plugins"),
            sample_csv_dir=Path(env["MB_SAMPLE_DATABASE_CSV_DIR"])
            if env.get("MB_SAMPLE_DATABASE_CSV_DIR")
            else None,
            scheduler=env.get("MB_DISABLE_SCHEDULER", "").lower() != "true",
            scheduler_tick_seconds=_float(env, "QB_SCHEDULER_TICK_SECONDS", 60.0),
            workers=_workers(env.get("QB_WORKERS")),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def _workers(raw: str | None) -> int:
    if raw in (None, ""):
        return 1
    try:
        return parse_workers(raw)
    except ValueError as exc:
        raise ConfigError(f"QB_WORKERS must be {exc}") from None


def parse_workers(raw: str) -> int:
    """A number of server processes (`QB_WORKERS`, `serve --workers`); ValueError says what is allowed."""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise ValueError(f"a whole number from 1 to {MAX_WORKERS}, not {raw!r}")
    return int(raw)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def app_db_url_from_env(env: Mapping[str, str]) -> URL:
    """The SQLAlchemy URL of the application database, from Metabase's variables.

    `MB_DB_CONNECTION_URI` wins (with `MB_DB_USER`/`MB_DB_PASS` filling in what it lacks); otherwise
    `MB_DB_TYPE` picks SQLite (`h2`, `sqlite`, the default; file `MB_DB_FILE`), `postgres` or `mysql`
    with `MB_DB_HOST`, `MB_DB_PORT`, `MB_DB_DBNAME`, `MB_DB_USER`, `MB_DB_PASS`.
    """
    user, password = env.get("MB_DB_USER") or None, env.get("MB_DB_PASS") or None
    uri = env.get("MB_DB_CONNECTION_URI")
    if uri:
        return _url_from_connection_uri(uri, user, password)
    db_type = (env.get("MB_DB_TYPE") or "h2").lower()
    if db_type in ("h2", "sqlite"):
        return URL.create("sqlite", database=_sqlite_path(env.get("MB_DB_FILE") or DEFAULT_DB_FILE))
    if db_type not in ("postgres", "postgresql", "mysql", "mariadb"):
        raise ConfigError(f"MB_DB_TYPE must be h2, sqlite, postgres or mysql, not {db_type!r}")
    kind = "postgres" if db_type.startswith("postgres") else "mysql"
    return URL.create(
        _SQLALCHEMY_DRIVERS[kind],
        username=user,
        password=password,
        host=env.get("MB_DB_HOST") or "localhost",
        port=_int(env, "MB_DB_PORT", _DEFAULT_PORTS[kind]),
        database=env.get("MB_DB_DBNAME") or "metabase",
    )


def _sqlite_path(db_file: str) -> str:
    # Metabase's MB_DB_FILE may carry H2's `file:` prefix; it names a path either way.
    return db_file.removeprefix("file:")


def _url_from_connection_uri(uri: str, user: str | None, password: str | None) -> URL:
    """Metabase accepts `postgres://u:p@h/db`, `jdbc:postgresql://h/db?user=u&password=p` and the like."""
    raw = uri.removeprefix("jdbc:")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme in ("sqlite", "h2"):
        return URL.create("sqlite", database=_sqlite_path(unquote(parts.path.removeprefix("/"))))
    if scheme not in _SQLALCHEMY_DRIVERS:
        raise ConfigError(f"MB_DB_CONNECTION_URI has an unsupported scheme: {parts.scheme!r}")
    query = dict(parse_qsl(parts.query))
    user = query.pop("user", None) or (parts.username and unquote(parts.username)) or user
    password = query.pop("password", None) or (parts.password and unquote(parts.password)) or password
    url = make_url(
        f"{_SQLALCHEMY_DRIVERS[scheme]}://{parts.hostname or 'localhost'}"
        f"{':' + str(parts.port) if parts.port else ''}{parts.path}"
        f"{'?' + urlencode(query) if query else ''}"
    )
    return url.set(username=user, password=password)
