"""Endpoint dependencies: the request's app-DB session (one transaction), its settings, and who is calling.

Dependencies that do no I/O are `async def`, so FastAPI runs them on the event loop instead of handing
each one to a worker thread (a thread hop per dependency is most of a small request's cost).

Every endpoint takes `DbSession`, so one request is one transaction: committed when the endpoint
returns, rolled back when anything raises; nothing half-written is left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from querybase.api.routing import on_loop, read_only
from querybase.auth.api_keys import API_KEY_HEADER, find_api_key
from querybase.auth.sessions import SESSION_COOKIE, SESSION_HEADER, find_session_user
from querybase.config import Config
from querybase.db.engine import AppDB
from querybase.errors import Forbidden, Unauthenticated
from querybase.models.user import User
from querybase.settings.registry import Settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session, read-only when `read_only()`. Opening one does no I/O (it connects on first
    use), so this runs on the event loop; synchronous endpoints end their transaction in their own thread
    (`MetabaseRoute`), and only what is left open is committed here, or rolled back when anything raised."""
    appdb: AppDB = request.app.state.appdb
    factory = appdb.read_sessions if read_only() else appdb.sessions
    session = factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, False)
        raise
    if session.in_transaction():
        await run_in_threadpool(_end, session, True)
    else:
        session.close()


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
    finally:
        session.close()


# scope="function": the transaction ends before the response is sent, so a failed commit is an error
# response, and a client that got its answer can read what it wrote from any server process.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


async def get_config(request: Request) -> Config:
    return request.app.state.config


AppConfig = Annotated[Config, Depends(get_config)]


async def get_settings(db: DbSession) -> Settings:
    return Settings(db)


SettingsDep = Annotated[Settings, Depends(get_settings)]


def session_token(request: Request) -> str | None:
    """The session id the client sent: the cookie first, then the header, as Metabase looks them up."""
    return request.cookies.get(SESSION_COOKIE) or request.headers.get(SESSION_HEADER)


async def find_user(request: Request, db: DbSession) -> User | None:
    """The active user behind the request's session cookie, session header or API key, if any: looked up
    on the event loop when `on_loop()` (a read-only transaction on a local SQLite file), in a worker
    thread otherwise.

    The dependencies below call it themselves rather than depending on it: FastAPI's dependency solving
    costs for each level, and a small request spends a good part of its time there."""
    if on_loop():
        return _find_user(request, db)
    return await run_in_threadpool(_find_user, request, db)


def _find_user(request: Request, db: Session) -> User | None:
    config: Config = request.app.state.config
    token = session_token(request)
    if token:
        user = find_session_user(db, token, config.session_age_minutes)
        if user is not None:
            return user
    key = request.headers.get(API_KEY_HEADER)
    if key:
        api_key = find_api_key(db, key)
        if api_key is not None:
            return api_key.user
    return None


OptionalUser = Annotated[User | None, Depends(find_user)]


async def require_user(request: Request, db: DbSession) -> User:
    user = await find_user(request, db)
    if user is None:
        raise Unauthenticated()
    return user


CurrentUser = Annotated[User, Depends(require_user)]


async def require_superuser(request: Request, db: DbSession) -> User:
    user = await require_user(request, db)
    if not user.is_superuser:
        raise Forbidden()
    return user


SuperUser = Annotated[User, Depends(require_superuser)]


async def require_superuser_unwrapped(request: Request, db: DbSession) -> User:
    """Admins, on the routes Metabase serves outside its authentication wrapper (`/api/setup`,
    `/api/email`): anyone else, anonymous callers included, gets its 403 rather than a 401."""
    user = await find_user(request, db)
    if user is None or not user.is_superuser:
        raise Forbidden()
    return user


UnwrappedSuperUser = Annotated[User, Depends(require_superuser_unwrapped)]
