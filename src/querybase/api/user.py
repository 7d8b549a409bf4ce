"""`/api/user`: the current user, and user management (list, create, update, deactivate, passwords)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, String, and_, bindparam, cast, exists, func, or_, select, true

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SettingsDep, SuperUser
from querybase.api.routing import MetabaseRoute, quick
from querybase.api.schema import (
    BooleanValue,
    Email,
    Locale,
    NonBlankString,
    PageValue,
    Password,
    PositiveInt,
    received,
)
from querybase.api.session import start_session
from querybase.auth.passwords import hash_password, new_reset_token, verify_password
from querybase.auth.sessions import delete_user_sessions
from querybase.email import messages
from querybase.errors import BadRequest, NotFound, check_403, check_404, field_errors
from querybase.models.base import utcnow
from querybase.models.card import Card
from querybase.models.collection import Collection, personal_collection_id, rename_personal_collection
from querybase.models.dashboard import Dashboard
from querybase.models.session import LoginHistory
from querybase.models.user import (
    ADMIN_GROUP_ID,
    LIST_COLUMNS,
    PermissionsGroupMembership,
    User,
    create_user,
    email_in_use,
    user_json,
)
from querybase.permissions.collection import in_readable_collection
from querybase.permissions.groups import check_not_last_admin, in_admin_group, set_groups, set_superuser

router = APIRouter(route_class=MetabaseRoute, tags=["user"])

SUPERUSER_MISMATCH = "Value of is_superuser must correspond to presence of Admin group ID in group_ids."
# Metabase's description of its LoginAttributes schema, reported for each `@` key it refuses.
LOGIN_ATTRIBUTES_DESCRIPTION = (
    "nullable map from <login attribute keys must be a keyword or string, and login attribute keys must "
    "not start with `@`> to <anything>"
)
NO_AT_KEYS = "login attribute keys must not start with `@`"


class GroupMembership(BaseModel):
    id: PositiveInt
    is_group_manager: bool | None = None


class CreateUserBody(BaseModel):
    email: Email
    first_name: NonBlankString | None = None
    last_name: NonBlankString | None = None
    password: Password | None = None
    user_group_memberships: list[GroupMembership] | None = None
    login_attributes: dict[str, Any] | None = None
    source: str | None = None


class UpdateUserBody(BaseModel):
    email: Email | None = None
    first_name: NonBlankString | None = None
    last_name: NonBlankString | None = None
    locale: Locale | None = None
    is_superuser: bool | None = None
    is_group_manager: bool | None = None
    login_attributes: dict[str, Any] | None = None
    user_group_memberships: list[GroupMembership] | None = None


class PasswordBody(BaseModel):
    password: Password
    old_password: str | None = None


def _attribute_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bool, dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _login_attributes(attributes: dict[str, Any] | None) -> dict[str, str] | None:
    """Validate login attributes as Metabase's schema does (no key may start with `@`, a 400 in the
    validation shape) and keep the values as strings (`42` → `"42"`, `true` → `"true"`)."""
    if attributes is None:
        return None
    bad = [key for key in attributes if key.startswith("@")]
    if bad:
        raise BadRequest(
            {
                "errors": {"login_attributes": {key: LOGIN_ATTRIBUTES_DESCRIPTION for key in bad}},
                "specific-errors": {"login_attributes": {key: [received(NO_AT_KEYS, key)] for key in bad}},
            }
        )
    return {key: _attribute_value(value) for key, value in attributes.items()}


def _with_memberships(user: User) -> dict[str, Any]:
    return {**user_json(user), "user_group_memberships": [{"id": gid} for gid in user.group_ids]}


def _current_facts(visible: Callable[[Any], ColumnElement[bool]]) -> Select[Any]:
    """One round trip for everything `/api/user/current` adds to the user's columns."""
    people = select(User.id).where(User.type == "personal")
    user_id = bindparam("user_id")

    def exists_visible(model: Any, *conditions: Any) -> Any:
        return exists().where(model.archived.is_(False), visible(model.collection_id), *conditions)

    return select(
        people.with_only_columns(func.min(User.id)).scalar_subquery(),
        people.with_only_columns(func.count()).scalar_subquery(),
        select(Collection.id).where(Collection.personal_owner_id == user_id).scalar_subquery(),
        select(func.min(LoginHistory.timestamp)).where(LoginHistory.user_id == user_id).scalar_subquery(),
        and_(exists_visible(Card), exists_visible(Dashboard)),
        exists_visible(Card, Card.type == "model"),
        # The group ids as one text ("1,2"): a list in a column, so no second statement is needed.
        select(func.aggregate_strings(cast(PermissionsGroupMembership.group_id, String), ","))
        .where(PermissionsGroupMembership.user_id == user_id)
        .scalar_subquery(),
    )


# Built once for admins (who see everything): the statement's cache key is then computed only once.
_ADMIN_FACTS = _current_facts(lambda _collection_id: true())


@router.get("/current", responses=shapes.ok(shapes.CurrentUser))
@quick
def get_current_user(user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The logged-in user, with their groups, personal collection and onboarding flags."""
    if user.is_superuser:
        facts = _ADMIN_FACTS
    else:
        facts = _current_facts(lambda collection_id: in_readable_collection(user, collection_id))
    # Core on the session's connection: these rows are plain values, not ORM objects.
    conn, params = db.connection(), {"user_id": user.id}
    installer_id, people_count, collection_id, first_login, has_content, has_model, group_ids = conn.execute(
        facts, params
    ).one()
    installer = installer_id == user.id
    return {
        **user_json(user),
        "group_ids": sorted(int(group_id) for group_id in group_ids.split(",")) if group_ids else [],
        "personal_collection_id": collection_id if user.type == "personal" else None,
        "first_login": first_login or utcnow(),
        "is_installer": installer,
        "has_invited_second_user": installer and people_count > 1,
        "has_question_and_dashboard": bool(has_content),
        "has_model": bool(has_model),
        "custom_homepage": None,
        # Keys of older Metabase versions that the API tutorial shows; querybase has no Google or LDAP auth.
        "google_auth": False,
        "ldap_auth": False,
    }


def _status_condition(status: str | None, include_deactivated: bool) -> Any:
    """Metabase's rule: `include_deactivated=true` means everyone whatever `status` says; otherwise
    `status` is `all`, `deactivated`, or (anything else) active users only."""
    if include_deactivated or status == "all":
        return None
    return User.is_active.is_(status != "deactivated")


@router.get("", responses=shapes.ok(shapes.UserPage))
def list_users(
    request: Request,
    admin: SuperUser,
    db: DbSession,
    status: str | None = None,
    include_deactivated: BooleanValue = False,
    query: str | None = None,
    group_id: PositiveInt | None = None,
    limit: PageValue = None,
    offset: PageValue = None,
) -> dict[str, Any]:
    """People (not API keys), paged, ordered by first and last name; active ones unless `status` says
    `deactivated` or `all`."""
    conditions: list[Any] = [User.type == "personal"]
    by_status = _status_condition(status, include_deactivated)
    if by_status is not None:
        conditions.append(by_status)
    if query:
        pattern = f"%{query.lower()}%"
        conditions.append(
            or_(
                func.lower(User.first_name).like(pattern),
                func.lower(User.last_name).like(pattern),
                func.lower(User.email).like(pattern),
            )
        )
    if group_id is not None:
        conditions.append(User.memberships.any(group_id=group_id))
    if limit is not None or offset is not None:
        limit, offset = (50 if limit is None else limit), (offset or 0)
    statement = (
        select(User)
        .where(*conditions)
        .order_by(func.lower(User.first_name), func.lower(User.last_name), User.id)
    )
    if limit is not None:
        statement = statement.limit(limit).offset(offset)
    total = db.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    data = [
        {**user_json(u), "group_ids": u.group_ids, "personal_collection_id": personal_collection_id(db, u)}
        for u in db.scalars(statement)
    ]
    return {"data": data, "total": total, "limit": limit, "offset": offset}


@router.get("/recipients", responses=shapes.ok(shapes.RecipientPage))
def list_recipients(user: CurrentUser, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """Users one may send a subscription to (all active users: `user-visibility` is "all" on OSS)."""
    users = db.scalars(
        select(User)
        .where(User.type == "personal", User.is_active.is_(True))
        .order_by(func.lower(User.last_name), func.lower(User.first_name), User.id)
    ).all()
    data = [user_json(u, LIST_COLUMNS) for u in users]
    return {"data": data, "total": len(data), "limit": None, "offset": None}


def _active_person(db: DbSession, user_id: int) -> User:
    """The active person `user_id`, or 404: only they can be edited or given a new password."""
    target = db.get(User, user_id)
    if target is None or target.type != "personal" or not target.is_active:
        raise NotFound()
    return target


@router.get("/{user_id}", responses=shapes.ok(shapes.User))
@quick
def get_user(user_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A user (active or not), for themselves or an admin."""
    check_403(user.is_superuser or user.id == user_id)
    return _with_memberships(check_404(db.get(User, user_id)))


@router.post("", responses=shapes.ok(shapes.User))
def create_user_endpoint(
    body: CreateUserBody,
    admin: SuperUser,
    db: DbSession,
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Create a user (admin) and mail them an invitation with a link to choose their password (after
    the answer; as Metabase, even when a password is given). Without a password a random one is set.
    `source: "setup"` (the setup wizard's invite) makes an admin; `is_superuser` is not read here, use
    the Administrators group."""
    login_attributes = _login_attributes(body.login_attributes)
    if email_in_use(db, body.email):
        raise field_errors({"email": "Email address already in use."})
    user = create_user(
        db,
        email=body.email,
        password_hash=hash_password(body.password or new_reset_token(0)),
        first_name=body.first_name,
        last_name=body.last_name,
        login_attributes=login_attributes,
    )
    if body.user_group_memberships is not None:
        # Without All Users this is refused (400), and the whole request with it: no user is left behind.
        groups = {m.id for m in body.user_group_memberships}
        managers = {m.id for m in body.user_group_memberships if m.is_group_manager}
        set_groups(db, user, groups, managers)
    if body.source == "setup":
        set_superuser(db, user, True)
    site = messages.site_url(settings, request)
    invite = messages.invitation(settings, site, user, admin, from_setup=body.source == "setup")
    background.add_task(messages.send_later, request.app.state.appdb, invite)
    return _with_memberships(user)


@router.put("/{user_id}", responses=shapes.ok(shapes.User))
def update_user(user_id: int, body: UpdateUserBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Update an active user: themselves, or anyone for an admin. Only admins change login attributes,
    superuser status and groups; from anyone else `is_superuser` and `login_attributes` are ignored and
    a change of groups is refused."""
    login_attributes = _login_attributes(body.login_attributes)
    check_403(user.is_superuser or user.id == user_id)
    target = _active_person(db, user_id)
    sent = body.model_fields_set
    if body.email and email_in_use(db, body.email, except_id=target.id):
        raise field_errors({"email": "Email address already associated to another user."})
    if body.is_superuser is not None and body.user_group_memberships is not None:
        wants_admin = any(m.id == ADMIN_GROUP_ID for m in body.user_group_memberships)
        if body.is_superuser != wants_admin:
            raise field_errors({"is_superuser": SUPERUSER_MISMATCH})
    names = (target.first_name, target.last_name)
    if body.email:
        target.email = body.email.lower()
    for field in ("first_name", "last_name", "locale"):
        if field in sent:
            setattr(target, field, getattr(body, field))
    if (target.first_name, target.last_name) != names:
        rename_personal_collection(db, target)
    if user.is_superuser:
        if "login_attributes" in sent:
            target.login_attributes = login_attributes
        if body.is_superuser is not None and body.is_superuser != target.is_superuser:
            set_superuser(db, target, body.is_superuser)
    if body.user_group_memberships is not None:
        groups = {m.id for m in body.user_group_memberships}
        if groups != set(target.group_ids):
            check_403(user.is_superuser)
            managers = {m.id for m in body.user_group_memberships if m.is_group_manager}
            set_groups(db, target, groups, managers)
    target.updated_at = utcnow()
    db.flush()
    return _with_memberships(target)


@router.put(
    "/{user_id}/password",
    responses={
        **shapes.ok(shapes.PasswordChanged),
        204: {"description": "An admin changed someone else's password."},
    },
)
def update_password(
    user_id: int,
    body: PasswordBody,
    request: Request,
    response: Response,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
) -> Any:
    """Change a password. Users changing their own must give the old one and get a new session; every
    other session of the user ends. An admin changing someone else's gets 204."""
    check_403(user.is_superuser or user.id == user_id)
    target = _active_person(db, user_id)
    if not user.is_superuser and not verify_password(body.old_password or "", target.password):
        raise field_errors({"old_password": "Invalid password"})
    target.password = hash_password(body.password)
    target.reset_token = None
    target.reset_triggered = None
    delete_user_sessions(db, target.id)
    if user.id != target.id:
        return Response(status_code=204)
    token = start_session(db, target, request, response, settings, remember=False)
    return {"success": True, "session_id": token}


@router.delete("/{user_id}", responses=shapes.ok(shapes.Success))
def deactivate_user(user_id: int, admin: SuperUser, db: DbSession) -> dict[str, bool]:
    """Deactivate a person (the row stays); their sessions stop working. Deactivating an inactive user
    is a no-op, and the last active admin cannot go."""
    target = check_404(db.get(User, user_id))
    if target.type == "personal" and target.is_active:
        if in_admin_group(target):
            check_not_last_admin(db, target)
        target.is_active = False
        target.deactivated_at = utcnow()
        delete_user_sessions(db, target.id)
    return {"success": True}


@router.put("/{user_id}/reactivate", responses=shapes.ok(shapes.User))
def reactivate_user(user_id: int, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Reactivate a deactivated person, as a normal user (not an admin)."""
    target = db.get(User, user_id)
    if target is None or target.type != "personal":
        raise NotFound()
    if target.is_active:
        # A message map makes Metabase answer with its exception-map body, `message` included.
        raise BadRequest({"message": "Not able to reactivate an active user"})
    target.is_active = True
    target.deactivated_at = None
    set_superuser(db, target, False)
    return user_json(target)


@router.put("/{user_id}/modal/{modal}", responses=shapes.ok(shapes.Success))
def dismiss_modal(user_id: int, modal: str, user: CurrentUser, db: DbSession) -> dict[str, bool]:
    """Record that a user has seen the query-builder (`qbnewb`) or model (`datasetnewb`) introduction."""
    check_403(user.is_superuser or user.id == user_id)
    target = check_404(db.get(User, user_id))
    if modal == "qbnewb":
        target.is_qbnewb = False
    elif modal == "datasetnewb":
        target.is_datasetnewb = False
    else:
        raise NotFound()
    return {"success": True}
