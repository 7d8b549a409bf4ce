"""`/api/email`: the SMTP settings, saved only once a connection with them works, and a test mail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from querybase.api import shapes
from querybase.api.deps import DbSession, SettingsDep, UnwrappedSuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import Int, String
from querybase.email.smtp import (
    CONNECTION_ERROR,
    SECURITY_MODES,
    WRONG_HOST,
    MailError,
    SmtpConfig,
    prepare,
    transmit,
    try_connection,
)
from querybase.errors import BadRequest
from querybase.settings.registry import obfuscate

router = APIRouter(route_class=MetabaseRoute, tags=["email"])

HOST, PORT, SECURITY = "email-smtp-host", "email-smtp-port", "email-smtp-security"
USERNAME, PASSWORD = "email-smtp-username", "email-smtp-password"
# The settings this endpoint owns, as Metabase's PUT reads them (the sender's address and name and the
# reply-to address are ordinary settings: PUT /api/setting).
SMTP_KEYS = (HOST, USERNAME, PASSWORD, PORT, SECURITY)

TEST_SUBJECT = "Metabase Test Email"
TEST_BODY = "Your Metabase emails are working — hooray!"


class EmailSettingsBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    host: Annotated[String | None, Field(alias=HOST)] = None
    password: Annotated[String | None, Field(alias=PASSWORD)] = None
    port: Annotated[Int | None, Field(alias=PORT)] = None
    security: Annotated[String | None, Field(alias=SECURITY)] = None
    username: Annotated[String | None, Field(alias=USERNAME)] = None


@router.put("", responses=shapes.ok(shapes.EmailSettings))
def update_email_settings(
    body: EmailSettingsBody, admin: UnwrappedSuperUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """Save the SMTP settings once a connection with them works (trying the other security modes when
    the one given fails, as Metabase does); 400 with per-field errors and nothing saved otherwise. A key
    left out is cleared; one the environment sets is used for the test and left alone. The obfuscated
    password the client was shown means "keep the stored one"."""
    values: dict[str, Any] = body.model_dump(by_alias=True)
    from_env = {key: settings.get(key) for key in SMTP_KEYS if settings.is_env_setting(key)}
    values.update(from_env)
    stored_password = settings.get(PASSWORD)
    kept_password = bool(stored_password) and values[PASSWORD] == obfuscate(stored_password)
    if kept_password:
        values[PASSWORD] = stored_password
    security = values[SECURITY].lower() if values[SECURITY] else None
    if security is not None and security not in SECURITY_MODES:
        raise BadRequest(f"Invalid value: {values[SECURITY]!r}; must be one of {', '.join(SECURITY_MODES)}.")
    if not values[HOST] or not values[PORT] or values[PORT] < 1:
        raise BadRequest(CONNECTION_ERROR)
    config = SmtpConfig(
        host=values[HOST],
        port=values[PORT],
        security=security or "none",
        username=values[USERNAME],
        password=values[PASSWORD],
    )
    # Testing can take seconds: do not hold the app DB (on SQLite, its write lock) meanwhile.
    db.rollback()
    try:
        working = try_connection(config)
    except MailError as exc:
        raise BadRequest(exc.body) from exc
    corrected = working.security != config.security
    values[SECURITY] = working.security if corrected else security
    for key in SMTP_KEYS:
        if key not in from_env:
            settings.write(key, values[key])
    if kept_password or PASSWORD in from_env:
        values[PASSWORD] = obfuscate(values[PASSWORD])
    corrections = {SECURITY: f"security was autocorrected to {working.security.upper()}"} if corrected else {}
    return {**values, "with-corrections": corrections}


@router.delete("", status_code=204)
def clear_email_settings(admin: UnwrappedSuperUser, db: DbSession, settings: SettingsDep) -> Response:
    """Forget the SMTP settings (those the environment sets stay)."""
    for key in SMTP_KEYS:
        if not settings.is_env_setting(key):
            settings.write(key, None)
    return Response(status_code=204)


@router.post("/test", responses=shapes.ok(shapes.Ok))
def send_test_email(admin: UnwrappedSuperUser, db: DbSession, settings: SettingsDep) -> dict[str, bool]:
    """Send a plain-text test mail to the calling admin: `{"ok": true}`, or the 400 `PUT` would give."""
    if not (settings.get(HOST) and settings.get(PORT)):
        raise BadRequest(WRONG_HOST)
    outgoing = prepare(settings, to=[admin.email], subject=TEST_SUBJECT, body=TEST_BODY, subtype="plain")
    # The request only read: end its transaction before talking to the mail server.
    db.rollback()
    try:
        transmit(outgoing)
    except MailError as exc:
        raise BadRequest(exc.body) from exc
    return {"ok": True}
