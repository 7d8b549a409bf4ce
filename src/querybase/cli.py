"""The `querybase` command: `serve`, `migrate`, `version`, `reset-password EMAIL`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from querybase import METABASE_API_VERSION, __version__
from querybase.config import Config, ConfigError

log = logging.getLogger("querybase")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="querybase", description="A BI server that speaks Metabase's API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default: MB_JETTY_HOST, else localhost)")
    serve.add_argument("--port", type=int, help="port to listen on (default: MB_JETTY_PORT, else 3000)")
    commands.add_parser("migrate", help="bring the application database's schema up to date")
    commands.add_parser("version", help="print the version")
    reset = commands.add_parser("reset-password", help="print a password-reset token for a user")
    reset.add_argument("email")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "version":
        print(f"querybase {__version__} (Metabase API {METABASE_API_VERSION})")
        return 0
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"querybase: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(config, args.host, args.port)
    if args.command == "migrate":
        return _migrate(config)
    return _reset_password(config, args.email)


def _serve(config: Config, host: str | None, port: int | None) -> int:
    import dataclasses

    import uvicorn

    from querybase.app import create_app

    config = dataclasses.replace(config, host=host or config.host, port=port or config.port)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
            await super().startup(sockets)
            if self.started:
                log.info("querybase %s is ready at http://%s:%d", __version__, config.host, config.port)

    server = Server(
        uvicorn.Config(
            create_app(config), host=config.host, port=config.port, log_level="info", access_log=False
        )
    )
    server.run()
    return 0 if server.started else 1


def _migrate(config: Config) -> int:
    from querybase.db.engine import AppDB
    from querybase.db.migrate import current_revision, upgrade

    appdb = AppDB.from_config(config)
    upgrade(appdb.engine)
    log.info("application database is at revision %s", current_revision(appdb.engine))
    appdb.dispose()
    return 0


def _reset_password(config: Config, email: str) -> int:
    """Metabase's `reset-password`: store a fresh reset token for the user and print it."""
    from querybase.auth.passwords import hash_token, new_reset_token
    from querybase.db.engine import AppDB
    from querybase.db.migrate import upgrade
    from querybase.models.base import utcnow
    from querybase.models.user import find_by_email

    appdb = AppDB.from_config(config)
    upgrade(appdb.engine)
    print(f"Resetting password for {email}...\n")
    with appdb.transaction() as db:
        user = find_by_email(db, email)
        if user is None:
            reason = f"No user found with email address '{email}'. Please check the spelling and try again."
            print(f"FAIL [[[{reason}]]]")
            return 1
        token = new_reset_token(user.id)
        user.reset_token = hash_token(token)
        user.reset_triggered = int(utcnow().timestamp() * 1000)
    appdb.dispose()
    print(f"OK [[[{token}]]]")
    return 0
