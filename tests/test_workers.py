"""`querybase serve --workers N`: a supervisor and N server processes on one port and one app database
(here the default SQLite file): the new install is prepared once, a dead worker is replaced, SIGTERM
stops them all."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx2

from querybase.config import Config
from tests.support.processes import server_process

T = TypeVar("T")
ADMIN = {"email": "ada@example.com", "password": "s3cret-pw"}


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def wait_for(predicate: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_workers_serve_one_instance(tmp_path: Path):
    log = tmp_path / "server.log"
    env = {"MB_DB_FILE": str(tmp_path / "app.db"), "MB_SAMPLE_DATABASE_CSV_DIR": ""}
    with server_process(env, log, "--workers", "2", timeout=60) as (process, base):
        workers = wait_for(lambda: children(process.pid) if len(children(process.pid)) == 2 else None)
        port = base.rsplit(":", 1)[1]
        for number in (1, 2):
            wait_for(lambda n=number: f"at http://127.0.0.1:{port} (worker {n} of 2, pid " in log.read_text())

        token = httpx2.get(f"{base}/api/session/properties").json()["setup-token"]
        setup = httpx2.post(
            f"{base}/api/setup", json={"token": token, "user": ADMIN, "prefs": {"site_name": "W"}}
        )
        assert setup.status_code == 200, setup.text
        headers = {"X-Metabase-Session": setup.json()["id"]}

        # The supervisor added the Sample Database once; worker 1 synced it.
        def synced() -> list | None:
            databases = httpx2.get(f"{base}/api/database", headers=headers).json()["data"]
            return databases if databases[0]["initial_sync_status"] == "complete" else None

        databases = wait_for(synced, timeout=60)
        assert [(d["id"], d["name"], d["is_sample"]) for d in databases] == [(1, "Sample Database", True)]
        assert log.read_text().count("sync 'Sample Database': sync_tables: 8 tables") == 1

        # Writes from both processes to the one SQLite file: every login succeeds.
        def login(_: int) -> int:
            return httpx2.post(
                f"{base}/api/session", json={"username": ADMIN["email"], "password": ADMIN["password"]}
            ).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(login, range(24))) == [200] * 24

        # A worker that dies is replaced; the other answers meanwhile, and sessions live in the app DB.
        dead = min(workers)
        os.kill(dead, signal.SIGKILL)
        replaced = wait_for(
            lambda: (children(process.pid) - {dead}) if len(children(process.pid) - {dead}) == 2 else None
        )
        assert dead not in replaced and len(replaced & workers) == 1
        assert re.search(rf"worker \d \(pid {dead}\) ended \(status 9\); starting another", log.read_text())
        wait_for(lambda: log.read_text().count("of 2, pid ") == 3)
        for _ in range(10):
            current = httpx2.get(f"{base}/api/user/current", headers=headers)
            assert (current.status_code, current.json()["email"]) == (200, ADMIN["email"])

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in replaced)
    assert log.read_text().count("Application shutdown complete.") == 2


def test_workers_from_the_environment_or_the_command_line(tmp_path: Path):
    assert Config.from_env({}).workers == 1
    assert Config.from_env({"QB_WORKERS": "4"}).workers == 4
    refused = subprocess.run(
        [sys.executable, "-m", "querybase", "serve", "--workers", "0"],
        env={**os.environ, "MB_DB_FILE": str(tmp_path / "app.db")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert refused.stderr.endswith(
        "querybase serve: error: argument --workers: a whole number from 1 to 64, not '0'\n"
    )
    assert not (tmp_path / "app.db").exists()
