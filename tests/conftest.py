"""Test fixtures: the app on a fresh application database of each kind, and the named users.

`--app-db sqlite,postgres,mysql` (default: all three) chooses the app databases; every API test runs
once per kind against a real server of that kind, in a database created for the run and dropped after.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from starlette.testclient import TestClient

from querybase.app import create_app
from querybase.config import Config
from tests.support.appdb import KINDS, fresh_app_db
from tests.support.http import Api
from tests.support.users import PASSWORD, USERS
from tests.support.warehouses import ENGINES


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--drivers",
        default=",".join(ENGINES),
        help="comma-separated warehouse engines to run the driver tests on (sqlite, duckdb, postgres, mysql)",
    )
    parser.addoption(
        "--app-db",
        default=",".join(KINDS),
        help="comma-separated application databases to run the API tests on (sqlite, postgres, mysql)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "app_db_kind" in metafunc.fixturenames:
        kinds = [k.strip() for k in metafunc.config.getoption("--app-db").split(",") if k.strip()]
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise pytest.UsageError(f"unknown --app-db kinds: {sorted(unknown)}")
        metafunc.parametrize("app_db_kind", kinds, scope="session")
    if "engine" in metafunc.fixturenames:
        engines = [e.strip() for e in metafunc.config.getoption("--drivers").split(",") if e.strip()]
        unknown = set(engines) - set(ENGINES)
        if unknown:
            raise pytest.UsageError(f"unknown --drivers engines: {sorted(unknown)}")
        metafunc.parametrize("engine", engines)


@dataclass
class Server:
    client: TestClient
    config: Config
    user_ids: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def api(self) -> Api:
        return Api(self.client, sessions=self.sessions)


# Metabase's own sample data, outside the project: the Sample Database is built from it in tests so that
# Metabase's published figures can be checked exactly.
SHARED_SAMPLE_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "sample-database"


@pytest.fixture
def metabase_sample_data() -> Path:
    """For tests that check Metabase's own sample values: skipped where its CSV export is absent."""
    if not SHARED_SAMPLE_CSV.is_dir():
        pytest.skip(f"Metabase's sample CSV export is not at {SHARED_SAMPLE_CSV} (kept outside the project)")
    return SHARED_SAMPLE_CSV


@pytest.fixture(scope="session")
def plugins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the Sample Database file, shared by every app the tests start."""
    return tmp_path_factory.mktemp("plugins")


def make_config(url: URL, plugins_dir: Path) -> Config:
    csv_dir = SHARED_SAMPLE_CSV if SHARED_SAMPLE_CSV.is_dir() else None
    return Config(app_db_url=url, plugins_dir=plugins_dir, sample_csv_dir=csv_dir)


def start(config: Config) -> Iterator[Server]:
    with TestClient(create_app(config), base_url="http://testserver") as client:
        yield Server(client, config)


def set_up_users(server: Server) -> None:
    """crowberto runs first-run setup; the others are created through the API, trashbird deactivated."""
    api = server.api()
    token = api.get("/api/session/properties")["setup-token"]
    crowberto = USERS["crowberto"]
    api.post(
        "/api/setup",
        {"token": token, "user": {**crowberto, "password": PASSWORD}, "prefs": {"site_name": "Test"}},
    )
    admin = api.as_("crowberto")
    server.user_ids["crowberto"] = admin.get("/api/user/current")["id"]
    for name in ("rasta", "lucky", "trashbird"):
        server.user_ids[name] = admin.post("/api/user", {**USERS[name], "password": PASSWORD})["id"]
    api.as_("trashbird")  # log in while active, so tests can check that the old session dies
    admin.delete(f"/api/user/{server.user_ids['trashbird']}")


@pytest.fixture(scope="session")
def server(app_db_kind: str, plugins_dir: Path) -> Iterator[Server]:
    """One app per app-DB kind for the whole run, set up with the named users."""
    with fresh_app_db(app_db_kind) as url:
        for running in start(make_config(url, plugins_dir)):
            set_up_users(running)
            yield running


@pytest.fixture
def api(server: Server) -> Api:
    return server.api()


@pytest.fixture
def user_ids(server: Server) -> dict[str, int]:
    return server.user_ids


@pytest.fixture
def fresh_server(app_db_kind: str, plugins_dir: Path) -> Iterator[Server]:
    """A brand-new instance (no users yet) on its own app database, for first-run tests."""
    with fresh_app_db(app_db_kind) as url:
        yield from start(make_config(url, plugins_dir))


@pytest.fixture
def fresh_api(fresh_server: Server) -> Api:
    return fresh_server.api()
