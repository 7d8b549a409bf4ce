"""The `querybase` command, run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx2

from tests.support.processes import running_server


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "querybase", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version():
    result = run("version", env={})
    assert result.returncode == 0
    assert result.stdout == "querybase 0.1.0 (Metabase API v0.57.0)\n"


def test_migrate_creates_the_schema(tmp_path: Path):
    result = run("migrate", env={"MB_DB_FILE": str(tmp_path / "app.db")})
    assert result.returncode == 0, result.stderr
    assert "application database is at revision" in result.stderr
    assert (tmp_path / "app.db").exists()


def test_the_start_up_shortcut_knows_alembics_head_and_a_current_schema(tmp_path: Path):
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from querybase.db.migrate import alembic_config, head_revision, upgrade

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        assert upgrade(engine) is True
        assert upgrade(engine) is False
    finally:
        engine.dispose()


def test_bad_configuration_exits_2(tmp_path: Path):
    result = run("migrate", env={"MB_DB_TYPE": "oracle"})
    assert (result.returncode, result.stderr) == (
        2,
        "querybase: MB_DB_TYPE must be h2, sqlite, postgres or mysql, not 'oracle'\n",
    )


def test_serve_logs_ready_line_and_reset_password_prints_a_token(tmp_path: Path):
    env = {"MB_DB_FILE": str(tmp_path / "app.db")}
    with running_server(env, tmp_path / "server.log") as base:
        token = httpx2.get(f"{base}/api/session/properties").json()["setup-token"]
        user = {"email": "Ada@Example.com", "password": "s3cret-pw"}
        setup = httpx2.post(
            f"{base}/api/setup", json={"token": token, "user": user, "prefs": {"site_name": "X"}}
        )
        assert setup.status_code == 200
    log = (tmp_path / "server.log").read_text()
    assert re.search(r"querybase 0\.1\.0 is ready at http://127\.0\.0\.1:\d+", log), log

    result = run("reset-password", "ada@example.com", env=env)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"Resetting password for ada@example\.com\.\.\.\n\nOK \[\[\[1_[0-9a-f-]{36}\]\]\]\n", result.stdout
    )

    missing = run("reset-password", "nobody@example.com", env=env)
    assert missing.returncode == 1
    assert "No user found with email address 'nobody@example.com'" in missing.stdout


def test_load_sample_database_builds_registers_and_syncs(tmp_path: Path):
    env = {"MB_DB_FILE": str(tmp_path / "app.db"), "MB_PLUGINS_DIR": str(tmp_path / "plugins")}
    result = run("load-sample-database", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Sample Database (id 1) built from querybase's generated data at "
        f"{tmp_path}/plugins/sample-database.db: sync complete\n"
    )
    assert (tmp_path / "plugins" / "sample-database.db").is_file()
