"""Metabase's API tutorial, run as its readers run it: the shared acceptance scripts (`run_seed.sh`: setup
through the API, then the tutorial's Python and JavaScript examples) against a fresh server process whose
Sample Database is built from Metabase's own data. Both examples must print what the tutorial prints."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SHARED_SAMPLE_CSV
from tests.support.processes import running_server

ACCEPTANCE = SHARED_SAMPLE_CSV.parent / "acceptance"


def test_the_tutorial_examples_print_the_tutorials_output(tmp_path: Path) -> None:
    if not (ACCEPTANCE / "run_seed.sh").is_file() or not SHARED_SAMPLE_CSV.is_dir():
        pytest.skip(f"the shared acceptance scripts and sample data are not at {ACCEPTANCE.parent}")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the JavaScript example needs node and npm")
    env = {
        "MB_DB_TYPE": "h2",
        "MB_DB_FILE": str(tmp_path / "querybase.db"),
        "MB_SAMPLE_DATABASE_CSV_DIR": str(SHARED_SAMPLE_CSV),
    }
    with running_server(env, tmp_path / "server.log") as url:
        run = subprocess.run(
            ["bash", str(ACCEPTANCE / "run_seed.sh"), url],
            env={**os.environ, "SEED_LOG_DIR": str(tmp_path / "seed-logs")},
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    lines = run.stdout.splitlines()
    assert run.returncode == 0 and lines[-1] == "12 passed, 0 failed", run.stdout + run.stderr
    assert {"PASS seed:python", "PASS seed:javascript"} <= set(lines)
