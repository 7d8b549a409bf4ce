"""`/api/setup`: first-run setup (creates the first admin) and the admin checklist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import AfterValidator, BaseModel
from sqlalchemy import exists, func, or_, select

from querybase import sync
from querybase.api import shapes
from querybase.api.database import (
    CreateDatabaseBody,
    ValidateDetails,
    add_database,
    engine_driver,
    test_connection,
)
from querybase.api.deps import DbSession, SettingsDep, UnwrappedSuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import (
    NON_BLANK,
    Email,
    Locale,
    MbType,
    NonBlankString,
    Password,
    non_blank,
    received,
)
from querybase.api.session import start_session
from querybase.auth.passwords import hash_password
from querybase.errors import BadRequest, Forbidden
from querybase.models.collection import Collection
from querybase.models.database import Database, Table
from querybase.models.setting import Setting
from querybase.models.user import ADMIN_GROUP_ID, User, create_user
from querybase.permissions.groups import add_membership
from querybase.settings import definitions
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["setup"])

TOKEN_MISMATCH = "Token does not match the setup token."
ALREADY_SET_UP = (
    "The /api/setup route can only be used to create the first user, however a user currently exists."
)


def _explain_token(value: Any) -> list[str]:
    return [*NON_BLANK.explain(value), received("setup token", value)]


# Metabase's SetupToken: a non-blank string that matches the stored token, described by one message
# whether it is missing, blank or wrong. The match itself needs the app DB, so the endpoint checks it.
SetupToken = Annotated[str, AfterValidator(non_blank), MbType(TOKEN_MISMATCH, _explain_token)]


class SetupUser(BaseModel):
    email: Email
    password: Password
    first_name: NonBlankString | None = None
    last_name: NonBlankString | None = None
    site_name: str | None = None
    password_confirm: str | None = None


class SetupPrefs(BaseModel):
    site_name: NonBlankString
    site_locale: Locale | None = None
    allow_tracking: bool | str | None = None


class SetupBody(BaseModel):
    token: SetupToken
    user: SetupUser
    prefs: SetupPrefs
    # Metabase <= 0.49 took the first database here too (the body of POST /api/database).
    database: CreateDatabaseBody | None = None
    invite: dict[str, Any] | None = None


class ValidateBody(BaseModel):
    token: NonBlankString
    details: ValidateDetails


@router.post("", responses={**shapes.ok(shapes.SessionId), 403: {"description": "Not the setup token."}})
def create_first_user(
    body: SetupBody,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    db: DbSession,
    settings: SettingsDep,
) -> dict[str, str]:
    """Create the first user as an admin and log them in: `{"id": <session id>}`."""
    # Lock the setup token's row so two concurrent setups cannot both create a first user.
    stored = db.scalar(
        select(Setting.value).where(Setting.key == definitions.setup_token.key).with_for_update()
    )
    if body.token != stored:
        raise BadRequest(
            {
                "errors": {"token": TOKEN_MISMATCH},
                "specific-errors": {"token": [received("setup token", body.token)]},
            }
        )
    if settings.get(definitions.has_user_setup.key):
        raise Forbidden(ALREADY_SET_UP)
    user = create_user(
        db,
        email=body.user.email,
        password_hash=hash_password(body.user.password),
        first_name=body.user.first_name,
        last_name=body.user.last_name,
    )
    add_membership(db, user, ADMIN_GROUP_ID)
    settings.write(definitions.site_name.key, body.prefs.site_name)
    settings.write(definitions.admin_email.key, user.email)
    if body.prefs.site_locale:
        settings.write(definitions.site_locale.key, body.prefs.site_locale)
    settings.write(definitions.anon_tracking_enabled.key, True)
    settings.write(definitions.instance_creation.key, user.date_joined.isoformat())
    if body.database is not None:
        database = add_database(db, body.database, creator=user)
        background.add_task(sync.start_sync, request.app.state.appdb, database.id)
    token = start_session(db, user, request, response, settings, remember=False)
    return {"id": token}


@router.post(
    "/validate", responses={**shapes.ok(shapes.Validity), 403: {"description": "Not the setup token."}}
)
def validate_setup_database(body: ValidateBody, db: DbSession) -> dict[str, bool]:
    """Test a database's connection details during setup (Metabase <= 0.49, as its API tutorial shows):
    `{"valid": true}`, or Metabase's 400 with the message. Refused once the instance is set up."""
    stored = db.scalar(select(Setting.value).where(Setting.key == definitions.setup_token.key))
    if body.token != stored:
        raise Forbidden("Invalid SetupToken")
    if Settings(db).get(definitions.has_user_setup.key):
        raise BadRequest("Instance already initialized")
    test_connection(engine_driver(body.details.engine), body.details.details)
    return {"valid": True}


def _task(title: str, description: str, link: str, *, completed: bool, triggered: bool) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "link": link,
        "completed": completed,
        "triggered": triggered,
        "is_next_step": False,
    }


@router.get("/admin_checklist", responses=shapes.ok(list[shapes.ChecklistGroup]))
def get_admin_checklist(
    request: Request, _admin: UnwrappedSuperUser, db: DbSession, settings: SettingsDep
) -> list[dict[str, Any]]:
    """The setup checklist of Metabase's admin panel (0.46-0.54 shape), computed from this instance."""
    users = db.scalar(select(func.count()).select_from(User).where(User.type == "personal")) or 0
    has_collection = bool(
        db.scalar(
            select(
                exists().where(
                    Collection.personal_owner_id.is_(None),
                    or_(Collection.type.is_(None), Collection.type != "trash"),
                )
            )
        )
    )
    has_database = bool(db.scalar(select(exists().where(Database.is_sample.is_(False)))))
    has_hidden_table = bool(db.scalar(select(exists().where(Table.visibility_type.is_not(None)))))
    tables = (
        db.scalar(
            select(func.count())
            .select_from(Table)
            .join(Database, Database.id == Table.db_id)
            .where(Database.is_sample.is_(False))
        )
        or 0
    )
    on_sqlite = request.app.state.config.app_db_type == "sqlite"
    groups = [
        (
            "Get connected",
            [
                _task(
                    "Add a database",
                    "Connect to your data so your whole team can start to explore.",
                    "/admin/databases/create",
                    completed=has_database,
                    triggered=True,
                ),
                _task(
                    "Set up email",
                    "Add email credentials so you can more easily invite team members and get updates via "
                    "Pulses.",
                    "/admin/settings/email",
                    completed=bool(settings.get(definitions.email_configured.key)),
                    triggered=True,
                ),
                _task(
                    "Set Slack credentials",
                    "Does your team use Slack? If so, you can send automated updates via dashboard "
                    "subscriptions.",
                    "/admin/settings/slack",
                    completed=False,
                    triggered=True,
                ),
                _task(
                    "Invite team members",
                    "Share answers and data with the rest of your team.",
                    "/admin/people/",
                    completed=users > 1,
                    triggered=False,
                ),
            ],
        ),
        (
            "Productionize",
            [
                _task(
                    "Switch to a production-ready app database",
                    "Migrate off of the default H2 application database to PostgreSQL or MySQL",
                    "https://www.metabase.com/docs/latest/installation-and-operation/migrating-from-h2",
                    completed=not on_sqlite,
                    triggered=on_sqlite,
                ),
            ],
        ),
        (
            "Curate your data",
            [
                _task(
                    "Hide irrelevant tables",
                    "If your data contains technical or irrelevant info you can hide it.",
                    "/admin/datamodel/database",
                    completed=has_hidden_table,
                    triggered=tables >= 20,
                ),
                _task(
                    "Organize questions",
                    "Have a lot of saved questions in Metabase? Create collections to help manage them and "
                    "add context.",
                    "/collection/root",
                    completed=has_collection,
                    triggered=False,
                ),
                _task(
                    "Create a model",
                    "Set up friendly starting points for your team to explore data",
                    "/model/new",
                    completed=False,
                    triggered=True,
                ),
            ],
        ),
    ]
    result = []
    next_step_given = False
    for name, tasks in groups:
        for task in tasks:
            task["group"] = name
            if not next_step_given and task["triggered"] and not task["completed"]:
                task["is_next_step"] = next_step_given = True
        result.append({"name": name, "tasks": tasks})
    return result
