"""The `querybase` command: `serve`, `migrate`, `version`, `reset-password EMAIL`, `load-sample-database`,
`api-documentation`, `api-coverage`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from querybase import METABASE_API_VERSION, __version__
from querybase.config import Config, ConfigError, parse_workers

# Metabase's endpoint list (method, path, domain, auth, purpose), kept beside the project. (`api_docs`, which
# reads it, is imported only by the commands that use it: `serve` starts faster without it.)
REFERENCE_ENDPOINTS = Path("../shared/reference/api-endpoints.tsv")

log = logging.getLogger("querybase")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="querybase", description="A BI server that speaks Metabase's API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default: MB_JETTY_HOST, else localhost)")
    serve.add_argument("--port", type=int, help="port to listen on (default: MB_JETTY_PORT, else 3000)")
    serve.add_argument(
        "--workers",
        type=_workers,
        help="server processes; one per core serves the most requests (default: QB_WORKERS, else 1)",
    )
    commands.add_parser("migrate", help="bring the application database's schema up to date")
    commands.add_parser("version", help="print the version")
    reset = commands.add_parser("reset-password", help="print a password-reset token for a user")
    reset.add_argument("email")
    sample = commands.add_parser(
        "load-sample-database",
        help="(re)build the Sample Database file, add it if the instance has none, and sync it",
    )
    sample.add_argument(
        "--csv-dir",
        type=Path,
        help="build it from this folder of CSV files (default: MB_SAMPLE_DATABASE_CSV_DIR)",
    )
    docs = commands.add_parser(
        "api-documentation", help="write the Markdown API reference (one page per domain)"
    )
    docs.add_argument("--output", type=Path, default=Path("docs/api"), help="folder (default: docs/api)")
    api_coverage = commands.add_parser(
        "api-coverage", help="compare the implemented endpoints with Metabase's endpoint list"
    )
    api_coverage.add_argument(
        "--reference",
        type=Path,
        default=REFERENCE_ENDPOINTS,
        help=f"Metabase's endpoint list, a TSV file (default: {REFERENCE_ENDPOINTS})",
    )
    api_coverage.add_argument("--markdown", action="store_true", help="print the README's table instead")
    args = parser.parse_args(argv)

    quiet = args.command in ("api-documentation", "api-coverage")  # their output is the report alone
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "version":
        print(f"querybase {__version__} (Metabase API {METABASE_API_VERSION})")
        return 0
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"querybase: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from querybase.server import serve

        return serve(config, args.host, args.port, args.workers)
    if args.command == "migrate":
        return _migrate(config)
    if args.command == "load-sample-database":
        return _load_sample_database(config, args.csv_dir)
    if args.command == "api-documentation":
        return _api_documentation(config, args.output)
    if args.command == "api-coverage":
        return _api_coverage(config, args.reference, markdown=args.markdown)
    return _reset_password(config, args.email)


def _workers(raw: str) -> int:
    try:
        return parse_workers(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def _load_sample_database(config: Config, csv_dir: Path | None) -> int:
    """Rebuild the Sample Database's file from `csv_dir` (or querybase's generated data), make sure the
    instance has the Sample Database, and sync it before returning."""
    import dataclasses

    from sqlalchemy import select

    from querybase import sample_database, sync
    from querybase.db.engine import AppDB
    from querybase.db.migrate import upgrade
    from querybase.models.database import Database

    config = dataclasses.replace(config, sample_csv_dir=csv_dir or config.sample_csv_dir)
    target = sample_database.sample_file(config)
    target.unlink(missing_ok=True)
    appdb = AppDB.from_config(config)
    upgrade(appdb.engine)
    with appdb.transaction() as db:
        database = db.scalar(select(Database).where(Database.is_sample.is_(True)))
        if database is None:
            database = sample_database.register(db, config)
        else:
            sample_database.ensure_sample_file(target, config.sample_csv_dir)
        database_id = database.id
    sync.sync_database(appdb, database_id)
    with appdb.transaction() as db:
        status = db.get(Database, database_id).initial_sync_status
    appdb.dispose()
    source = config.sample_csv_dir or "querybase's generated data"
    print(f"Sample Database (id {database_id}) built from {source} at {target}: sync {status}")
    return 0 if status == "complete" else 1


def _api_documentation(config: Config, output: Path) -> int:
    """Write the Markdown reference from the same declarations as the served OpenAPI document."""
    from querybase import api_docs
    from querybase.app import create_app

    written = api_docs.write_markdown(create_app(config).openapi(), output)
    print(f"wrote {len(written)} pages to {output}")
    return 0


def _api_coverage(config: Config, reference: Path, *, markdown: bool) -> int:
    """Print which of Metabase's open-source endpoints querybase implements, domain by domain."""
    from querybase import api_docs
    from querybase.app import create_app

    if not reference.is_file():
        print(f"querybase: no endpoint list at {reference} (give one with --reference)", file=sys.stderr)
        return 2
    endpoints = api_docs.read_reference(reference)
    served = api_docs.served_routes(create_app(config))
    report = api_docs.coverage(served, endpoints)
    if markdown:
        print(api_docs.coverage_markdown(report), end="")
    else:
        print(api_docs.coverage_text(report, api_docs.extra_routes(served, endpoints)), end="")
    return 0
