"""`querybase serve`: one server process, or a supervisor and `workers` server processes sharing one
listening socket.

A Python process runs one thread of Python at a time, so one process serves from about one core however
many requests it holds; under load its worker threads also spend a good part of their time handing that
lock to each other. `QB_WORKERS` (`--workers`) forks that many processes, as gunicorn's pre-fork model does:
the supervisor migrates the app DB once (`lifecycle.prepare`), imports the application, binds the socket
and forks, so the workers start at once and share the imported code's memory until they write to it. Each
worker is a whole server (its own pools, its own scheduler, whose claims already keep a job to one process,
as across machines); the supervisor serves nothing, starts a new worker when one dies, and on SIGTERM or
SIGINT stops them all. It forks before any thread starts: it runs none itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import signal
import socket
from types import FrameType

import uvicorn

from querybase import __version__, lifecycle
from querybase.config import Config

log = logging.getLogger("querybase")

# A worker's exit status when its start-up failed: starting another would fail the same way.
_START_FAILED = 3


def serve(config: Config, host: str | None, port: int | None, workers: int | None) -> int:
    config = dataclasses.replace(
        config, host=host or config.host, port=port or config.port, workers=workers or config.workers
    )
    if config.workers == 1:
        from querybase.app import create_app

        server = _Server(_uvicorn_config(create_app(config), config), config, "")
        server.run()
        return 0 if server.started else 1
    return _Supervisor(config).run()


class _Server(uvicorn.Server):
    def __init__(self, uvicorn_config: uvicorn.Config, config: Config, which: str) -> None:
        super().__init__(uvicorn_config)
        self.config_, self.which = config, which

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # What start-up made (modules, routes, mappers) lives as long as the process: out of the
            # collector's sight, a full collection walks only what requests made since (54 ms -> ms).
            gc.freeze()
            url = f"http://{self.config_.host}:{self.config_.port}"
            log.info("querybase %s is ready at %s%s", __version__, url, self.which)


def _uvicorn_config(app: object, config: Config) -> uvicorn.Config:
    return uvicorn.Config(app, host=config.host, port=config.port, log_level="info", access_log=False)  # type: ignore[arg-type]


class _Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.children: dict[int, int] = {}  # pid -> worker number
        self.stopping = False

    def run(self) -> int:
        from querybase.app import create_app  # imported here, once, for every worker to share
        from querybase.db.engine import AppDB

        appdb = AppDB.from_config(self.config)
        try:
            sync_database_id = lifecycle.prepare(appdb, self.config)
        finally:
            appdb.dispose()  # no pooled connection may cross the fork
        sock = _uvicorn_config(create_app, self.config).bind_socket()  # binding loads no app
        gc.collect()
        gc.freeze()  # the collector would otherwise write to every shared object's page in each worker
        log.info(
            "querybase %s is starting %d workers (pid %d)", __version__, self.config.workers, os.getpid()
        )
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for number in range(1, self.config.workers + 1):
            self._start(number, sock, lifecycle.Prepared(sync_database_id if number == 1 else None))
        failed = False
        while self.children:
            pid, status = os.wait()
            number = self.children.pop(pid, None)
            if number is None or self.stopping:
                continue
            if os.waitstatus_to_exitcode(status) == _START_FAILED:
                log.error("worker %d could not start; stopping", number)
                failed = True
                self._stop()
                continue
            log.warning("worker %d (pid %d) ended (status %d); starting another", number, pid, status)
            self._start(number, sock, lifecycle.Prepared())
        sock.close()
        return 1 if failed else 0

    def _start(self, number: int, sock: socket.socket, prepared: lifecycle.Prepared) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = number
            return
        server, code = None, 1
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            from querybase.app import create_app

            which = f" (worker {number} of {self.config.workers}, pid {os.getpid()})"
            server = _Server(
                _uvicorn_config(create_app(self.config, prepared=prepared), self.config), self.config, which
            )
            server.run(sockets=[sock])
            code = 0
        except BaseException:
            log.exception("worker %d failed", number)
        finally:
            logging.shutdown()
            os._exit(
                code if server is not None and server.started else _START_FAILED
            )  # never return into the supervisor

    def _stop(self, _signum: int | None = None, _frame: FrameType | None = None) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
