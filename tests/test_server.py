"""The uvicorn server `querybase serve` runs (`querybase.server`), run in a thread of the test process."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

from sqlalchemy import URL

from querybase import server as server_module
from querybase.app import create_app
from querybase.config import Config
from tests.support.processes import free_port


def test_a_started_server_keeps_what_start_up_made_out_of_the_collectors_sight(
    tmp_path: Path, plugins_dir: Path
):
    """Start-up's objects live as long as the process; frozen, they are not walked by every full
    collection (a 54 ms pause every few hundred requests before)."""
    app_db = URL.create("sqlite", database=str(tmp_path / "app.db"))
    config = Config(app_db_url=app_db, host="127.0.0.1", port=free_port(), plugins_dir=plugins_dir)
    server = server_module._Server(server_module._uvicorn_config(create_app(config), config), config, "")
    gc.unfreeze()
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        assert gc.get_freeze_count() > 0
    finally:
        server.should_exit = True
        thread.join(30)
        gc.unfreeze()
