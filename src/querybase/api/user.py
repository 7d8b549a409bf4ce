"""`/api/user`: the current user, and user management (list, create, update, deactivate, passwords)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, or_, select

from querybase.api.deps import CurrentUser, DbSession, SettingsDep, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue, Email, Locale, NonBlankString, Password
from querybase.api.session import start_session
from querybase.auth.passwords import hash_password, new_reset_token, verify_password
from querybase.auth.sessions import delete_user_sessions
from querybase.errors import BadRequest, NotFound, check_403, check_404, field_errors
from querybase.models.base import utcnow
from querybase.models.collection import personal_collection_id
from querybase.models.session import LoginHistory
from querybase.models.user import (
    ADMIN_GROUP_ID,
    ALL_USERS_GROUP_ID,
    LIST_COLUMNS,
    User,
    create_user,
    find_by_email,
    user_json,
)
from querybase.permissions.groups import check_not_last_admin, set_groups, set_superuser

router = APIRouter(route_class=MetabaseRoute, tags=["user"])


class GroupMembership(BaseModel):
    id: int
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


def _login_attributes(attributes: dict[str, Any] | None) -> dict[str, str] | None:
    """Metabase keeps login attribute values as strings (`42` → `"42"`, `true` → `"true"`)."""
    if attributes is None:
        return None
    bad = [key for key in attributes if key.startswith("@")]
    if bad:
        raise BadRequest(
            {
                "errors": {
                    "login_attributes": {key: "login attribute keys must not start with `@`" for key in bad}
                }
            }
        )
    return {
        k: v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in attributes.items()
    }


def _with_memberships(user: User) -> dict[str, Any]:
    return {**user_json(user), "user_group_memberships": [{"id": gid} for gid in user.group_ids]}


def _first_login(db: DbSession, user: User) -> Any:
    first = db.scalar(select(func.min(LoginHistory.timestamp)).where(LoginHistory.user_id == user.id))
    return first or utcnow()


def _is_installer(db: DbSession, user: User) -> bool:
    first = db.scalar(select(func.min(User.id)).where(User.type == "personal"))
    return first == user.id


@router.get("/current")
def get_current_user(user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The logged-in user, with their groups, personal collection and onboarding flags."""
    installer = _is_installer(db, user)
    others = db.scalar(select(func.count()).select_from(User).where(User.type == "personal")) or 0
    return {
        **user_json(user),
        "group_ids": user.group_ids,
        "personal_collection_id": personal_collection_id(db, user),
        "first_login": _first_login(db, user),
        "is_installer": installer,
        "has_invited_second_user": installer and others > 1,
        "has_question_and_dashboard": False,
        "has_model": False,
        "custom_homepage": None,
        # Keys of older Metabase versions that the API tutorial shows; querybase has no Google or LDAP auth.
        "google_auth": False,
        "ldap_auth": False,
    }


@router.get("")
def list_users(
    request: Request,
    admin: SuperUser,
    db: DbSession,
    status: str | None = None,
    include_deactivated: BooleanValue = False,
    query: str | None = None,
    group_id: int | None = None,
    limit: int | None = Query(None, ge=0),
    offset: int | None = Query(None, ge=0),
) -> dict[str, Any]:
    """Users, paged, ordered by first and last name; `status` active (default), deactivated or all."""
    conditions: list[Any] = [User.type == "personal"]
    status = status or ("all" if include_deactivated else "active")
    if status == "active":
        conditions.append(User.is_active.is_(True))
    elif status == "deactivated":
        conditions.append(User.is_active.is_(False))
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


@router.get("/recipients")
def list_recipients(user: CurrentUser, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """Users one may send a subscription to (all active users: `user-visibility` is "all" on OSS)."""
    users = db.scalars(
        select(User)
        .where(User.type == "personal", User.is_active.is_(True))
        .order_by(func.lower(User.last_name), func.lower(User.first_name), User.id)
    ).all()
    data = [user_json(u, LIST_COLUMNS) for u in users]
    return {"data": data, "total": len(data), "limit": None, "offset": None}


def _get_user(db: DbSession, user_id: int) -> User:
    user = check_404(db.get(User, user_id))
    if user.type != "personal":
        raise NotFound()
    return user


@router.get("/{user_id}")
def get_user(user_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A user, for themselves or an admin."""
    check_403(user.is_superuser or user.id == user_id)
    return _with_memberships(_get_user(db, user_id))


@router.post("")
def create_user_endpoint(body: CreateUserBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Create a user (admin). Without a password a random one is set."""
    if find_by_email(db, body.email) is not None:
        raise field_errors({"email": "Email address already in use."})
    user = create_user(
        db,
        email=body.email,
        password_hash=hash_password(body.password or new_reset_token(0)),
        first_name=body.first_name,
        last_name=body.last_name,
        login_attributes=_login_attributes(body.login_attributes),
    )
    if body.user_group_memberships is not None:
        groups = {m.id for m in body.user_group_memberships} | {ALL_USERS_GROUP_ID}
        managers = {m.id for m in body.user_group_memberships if m.is_group_manager}
        set_groups(db, user, groups, managers)
    personal_collection_id(db, user)
    return _with_memberships(user)


@router.put("/{user_id}")
def update_user(user_id: int, body: UpdateUserBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Update a user: themselves, or anyone for an admin. Only admins change groups and superuser status."""
    target = _get_user(db, user_id)
    if not target.is_active:
        raise NotFound()
    check_403(user.is_superuser or user.id == user_id)
    sent = body.model_fields_set
    if "email" in sent and body.email and body.email.lower() != target.email:
        if find_by_email(db, body.email) is not None:
            raise field_errors({"email": "Email address already associated to another user."})
        target.email = body.email.lower()
    for field in ("first_name", "last_name", "locale"):
        if field in sent:
            setattr(target, field, getattr(body, field))
    if "login_attributes" in sent:
        check_403(user.is_superuser)
        target.login_attributes = _login_attributes(body.login_attributes)
    if user.is_superuser:
        if body.user_group_memberships is not None:
            groups = {m.id for m in body.user_group_memberships}
            if body.is_superuser is not None and body.is_superuser != (ADMIN_GROUP_ID in groups):
                raise BadRequest("Invalid Request.")
            if ADMIN_GROUP_ID not in groups:
                check_not_last_admin(db, target)
            managers = {m.id for m in body.user_group_memberships if m.is_group_manager}
            set_groups(db, target, groups, managers)
        elif body.is_superuser is not None and body.is_superuser != target.is_superuser:
            set_superuser(db, target, body.is_superuser)
    elif body.user_group_memberships is not None:
        check_403({m.id for m in body.user_group_memberships} == set(target.group_ids))
    target.updated_at = utcnow()
    db.flush()
    return _with_memberships(target)


@router.put("/{user_id}/password")
def update_password(
    user_id: int,
    body: PasswordBody,
    request: Request,
    response: Response,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
) -> Any:
    """Change a password. Users changing their own must give the old one; they get a new session."""
    target = _get_user(db, user_id)
    check_403(user.is_superuser or user.id == user_id)
    if not user.is_superuser and not verify_password(body.old_password or "", target.password):
        raise field_errors({"old_password": "Invalid password"})
    target.password = hash_password(body.password)
    target.reset_token = None
    delete_user_sessions(db, target.id)
    if user.id != target.id:
        return Response(status_code=204)
    token = start_session(db, target, request, response, settings, remember=False)
    return {"success": True, "session_id": token}


@router.delete("/{user_id}")
def deactivate_user(user_id: int, admin: SuperUser, db: DbSession) -> dict[str, bool]:
    """Deactivate a user (the row stays); their sessions stop working."""
    target = _get_user(db, user_id)
    if target.is_active:
        check_not_last_admin(db, target)
        target.is_active = False
        target.deactivated_at = utcnow()
        delete_user_sessions(db, target.id)
    return {"success": True}


@router.put("/{user_id}/reactivate")
def reactivate_user(user_id: int, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Reactivate a deactivated user."""
    target = _get_user(db, user_id)
    if target.is_active:
        raise BadRequest({"message": "Not able to reactivate an active user"})
    target.is_active = True
    target.deactivated_at = None
    set_superuser(db, target, False)
    return _with_memberships(target)


@router.put("/{user_id}/modal/{modal}")
def dismiss_modal(user_id: int, modal: str, user: CurrentUser, db: DbSession) -> dict[str, bool]:
    """Record that a user has seen the query-builder (`qbnewb`) or model (`datasetnewb`) introduction."""
    check_403(user.id == user_id)
    if modal == "qbnewb":
        user.is_qbnewb = False
    elif modal == "datasetnewb":
        user.is_datasetnewb = False
    else:
        raise NotFound()
    return {"success": True}
