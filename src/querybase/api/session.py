"""`/api/session`: log in and out, and the public instance properties the login page reads."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import BaseModel

from querybase.api import shapes
from querybase.api.deps import AppConfig, DbSession, OptionalUser, SettingsDep, session_token
from querybase.api.routing import MetabaseRoute, quick
from querybase.api.schema import Email, NonBlankString, Password
from querybase.auth import reset_tokens, throttle
from querybase.auth.passwords import burn_time, hash_password, verify_password
from querybase.auth.sessions import (
    SESSION_COOKIE,
    TIMEOUT_COOKIE,
    create_session,
    delete_session,
    delete_user_sessions,
)
from querybase.db.engine import AppDB
from querybase.email import messages
from querybase.errors import BadRequest, NotFound, Unauthenticated, field_errors
from querybase.models.user import User, find_by_email
from querybase.settings.registry import REGISTRY, Settings, Visibility

router = APIRouter(route_class=MetabaseRoute, tags=["session"])

BAD_CREDENTIALS = {"errors": {"password": "did not match stored password"}}
DISABLED = {"errors": {"_error": "Your account is disabled."}}


class LoginBody(BaseModel):
    username: NonBlankString
    password: NonBlankString
    remember: bool | None = None


def client_ip(request: Request) -> str:
    """The caller's address: the first `X-Forwarded-For` hop when a proxy sent one (Metabase's default
    `source-address-header`), else the socket's peer."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def start_session(
    db: DbSession, user: User, request: Request, response: Response, settings: Settings, *, remember: bool
) -> str:
    """Create a session for `user` and set Metabase's session cookies on `response`; returns the id."""
    token, _ = create_session(
        db, user, ip_address=client_ip(request), device=request.headers.get("user-agent")
    )
    max_age = None
    if remember and not settings.get("session-cookies"):
        max_age = request.app.state.config.session_age_minutes * 60
    same_site = settings.get("session-cookie-samesite") or "lax"
    secure = request.url.scheme == "https" or same_site == "none"
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite=same_site, secure=secure
    )
    response.set_cookie(TIMEOUT_COOKIE, "alive", path="/", samesite=same_site, secure=secure)
    return token


@router.post(
    "",
    responses={
        **shapes.ok(shapes.SessionId),
        401: {"description": "Wrong email or password, or a disabled account."},
    },
)
def create_session_endpoint(
    body: LoginBody,
    request: Request,
    response: Response,
    db: DbSession,
    settings: SettingsDep,
    config: AppConfig,
) -> dict[str, str]:
    """Log in with email and password: `{"id": <session id>}` and the `metabase.SESSION` cookie.

    Failed attempts are throttled per username and per client IP, across every server process."""
    appdb: AppDB = request.app.state.appdb
    keys = [(throttle.IP_ADDRESS, client_ip(request)), (throttle.USERNAME, body.username.lower())]
    try:
        if not config.disable_session_throttle:
            for throttler, key in keys:
                throttle.check(db, throttler, key)
        user = find_by_email(db, body.username)
        if user is None:
            burn_time(body.password)
            raise Unauthenticated(BAD_CREDENTIALS)
        if not verify_password(body.password, user.password):
            raise Unauthenticated(BAD_CREDENTIALS)
        if not user.is_active:
            raise Unauthenticated(DISABLED)
    except Unauthenticated:
        if not config.disable_session_throttle:
            # Its own transaction: the request's is rolled back by the error, the attempt must stay counted.
            # End the request's first: on SQLite it holds the write lock the new one needs.
            db.rollback()
            with appdb.transaction() as attempts:
                for throttler, key in keys:
                    throttle.record_failure(attempts, throttler, key)
        raise
    token = start_session(db, user, request, response, settings, remember=bool(body.remember))
    return {"id": token}


@router.delete("", status_code=204, responses={404: {"description": "No session to end."}})
def delete_session_endpoint(request: Request, db: DbSession) -> Response:
    """Log out: forget the session and clear the cookies."""
    token = session_token(request)
    if not token or not delete_session(db, token):
        raise NotFound()
    response = Response(status_code=204)
    for cookie in (SESSION_COOKIE, TIMEOUT_COOKIE, "metabase.EMBEDDED_SESSION"):
        response.delete_cookie(cookie, path="/")
    return response


# Metabase's throttles for password resets count every attempt, per client address: 50 requests for a
# reset mail, 10 resets (its per-address limit on guessing tokens).
FORGOT_PASSWORD = throttle.Throttler("forgot-password", 50)
RESET_PASSWORD = throttle.Throttler("reset-password", 10)


def check_attempt(db: DbSession, throttler: throttle.Throttler, key: str, field: str) -> None:
    """Metabase's `throttle/check`: once over the threshold, a 400 naming `field` while the delay since
    the last attempt runs."""
    wait = throttle.seconds_to_wait(db, throttler, key)
    if wait is not None and wait > 0:
        message = f"Too many attempts! You must wait {math.floor(wait + 0.5)} seconds before trying again."
        raise field_errors({field: message})


class ForgotPasswordBody(BaseModel):
    email: Email


@router.post("/forgot_password", status_code=204)
def forgot_password(
    body: ForgotPasswordBody,
    request: Request,
    background: BackgroundTasks,
    db: DbSession,
    settings: SettingsDep,
    config: AppConfig,
) -> Response:
    """Mail a password-reset link to `email`. The answer is 204 whether or not anyone has that address:
    the lookup and the mail happen after it (a background task)."""
    if not config.disable_session_throttle:
        key = client_ip(request)
        check_attempt(db, FORGOT_PASSWORD, key, "email")
        throttle.record_failure(db, FORGOT_PASSWORD, key)
    site = messages.site_url(settings, request)
    background.add_task(messages.send_password_reset, request.app.state.appdb, body.email, site)
    return Response(status_code=204)


class ResetPasswordBody(BaseModel):
    token: NonBlankString
    password: Password


@router.post("/reset_password", responses=shapes.ok(shapes.PasswordChanged))
def reset_password(
    body: ResetPasswordBody,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    db: DbSession,
    settings: SettingsDep,
    config: AppConfig,
) -> dict[str, Any]:
    """Set a new password with an emailed token (once; `reset-token-ttl-hours` after it was made): the
    user's other sessions end and a new one starts, `{"success": true, "session_id": ...}` with the
    session cookies. A first password (an accepted invitation) is announced to the admins."""
    key = client_ip(request)
    if not config.disable_session_throttle:
        check_attempt(db, RESET_PASSWORD, key, "password")
    user = reset_tokens.user_for(db, body.token, settings.get("reset-token-ttl-hours"))
    if user is None:
        if not config.disable_session_throttle:
            # Counted in a transaction of its own: the request's is rolled back by the error.
            db.rollback()
            appdb: AppDB = request.app.state.appdb
            with appdb.transaction() as attempts:
                throttle.record_failure(attempts, RESET_PASSWORD, key)
        raise field_errors({"password": "Invalid reset token"})
    if not config.disable_session_throttle:
        throttle.record_failure(db, RESET_PASSWORD, key)
    if user.last_login is None:
        joined = messages.user_joined(db, settings, messages.site_url(settings, request), user)
        background.add_task(messages.send_later, request.app.state.appdb, joined)
    user.password = hash_password(body.password)
    user.reset_token = None
    user.reset_triggered = None
    delete_user_sessions(db, user.id)
    token = start_session(db, user, request, response, settings, remember=False)
    return {"success": True, "session_id": token}


@router.get("/password_reset_token_valid", responses=shapes.ok(shapes.Validity))
def password_reset_token_valid(
    token: NonBlankString, db: DbSession, settings: SettingsDep
) -> dict[str, bool]:
    """Whether a reset token would be accepted now."""
    return {"valid": reset_tokens.user_for(db, token, settings.get("reset-token-ttl-hours")) is not None}


class PasswordCheckBody(BaseModel):
    password: Password


@router.post("/password-check", responses=shapes.ok(shapes.Validity))
def check_password(body: PasswordCheckBody) -> dict[str, bool]:
    """Whether a password meets the complexity rules in force: `{"valid": true}`, else the 400 that
    any endpoint taking a new password gives."""
    return {"valid": True}


class GoogleAuthBody(BaseModel):
    token: NonBlankString


@router.post("/google_auth", responses=shapes.ok(shapes.SessionId))
def google_auth(body: GoogleAuthBody) -> None:
    """Google Sign-In. querybase has no Google client id setting, so it answers as Metabase does when
    none is configured."""
    raise BadRequest("Google Auth is disabled.")


def readable_visibilities(user: User | None) -> set[Visibility]:
    if user is None:
        return {Visibility.PUBLIC}
    if user.is_superuser:
        return {Visibility.PUBLIC, Visibility.AUTHENTICATED, Visibility.SETTINGS_MANAGER, Visibility.ADMIN}
    return {Visibility.PUBLIC, Visibility.AUTHENTICATED}


@router.get("/properties", responses=shapes.ok(shapes.SessionProperties))
@quick
def get_properties(user: OptionalUser, settings: SettingsDep) -> dict[str, Any]:
    """Every non-sensitive setting the caller may read, by key: the setup token and `has-user-setup`
    for anyone, more once logged in."""
    visible = readable_visibilities(user)
    return {
        key: settings.get(key)
        for key, definition in sorted(REGISTRY.items())
        if definition.visibility in visible and not definition.sensitive
    }
