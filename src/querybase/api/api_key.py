"""`/api/api-key`: API keys (admin only). Each key acts as a hidden user in the key's group; the full
key is shown once, when created or regenerated."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from querybase.api import shapes
from querybase.api.deps import DbSession, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import MbType, NonBlankString, PositiveInt, received
from querybase.auth.api_keys import generate_key, key_prefix, mask
from querybase.auth.passwords import hash_password, hash_token
from querybase.errors import BadRequest, check_404, field_errors
from querybase.models.api_key import ApiKey
from querybase.models.base import utcnow
from querybase.models.user import ALL_USERS_GROUP_ID, PermissionsGroup, User, create_user
from querybase.permissions.groups import set_groups

router = APIRouter(route_class=MetabaseRoute, tags=["api-key"])

DUPLICATE_NAME = "An API key with this name already exists."
# The `api_key.name` column, and the hidden user's `first_name`, hold 254 characters.
MAX_NAME_LENGTH = 254


def _explain_name(value: Any) -> list[str]:
    if not isinstance(value, str):
        return [received("should be a string", value)]
    return [received(f"should be between 1 and {MAX_NAME_LENGTH} characters", value)]


# Metabase's `[:string {:min 1, :max 254}]`, the name schema of PUT /api/api-key/:id.
KEY_NAME = MbType(f"string with length between 1 and {MAX_NAME_LENGTH} inclusive", _explain_name)


def _name_length(value: str) -> str:
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise ValueError("length")
    return value


KeyName = Annotated[str, AfterValidator(_name_length), KEY_NAME]


class CreateApiKeyBody(BaseModel):
    group_id: PositiveInt
    name: NonBlankString


class UpdateApiKeyBody(BaseModel):
    group_id: PositiveInt | None = None
    name: KeyName | None = None


def _check_name_length(name: str) -> None:
    """POST takes any non-blank name in Metabase and fails in the database when it is too long; answer
    the 400 that PUT gives for the same name instead."""
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(
            {"errors": {"name": KEY_NAME.description}, "specific-errors": {"name": _explain_name(name)}}
        )


def _group(user: User) -> dict[str, Any]:
    """The key's group: the one it was given, or All Users."""
    membership = next(
        (m for m in user.memberships if m.group_id != ALL_USERS_GROUP_ID),
        next(m for m in user.memberships if m.group_id == ALL_USERS_GROUP_ID),
    )
    return {"id": membership.group_id, "name": membership.group.name}


def _key_json(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": api_key.id,
        "name": api_key.name,
        "group": _group(api_key.user),
        "masked_key": mask(api_key.key_prefix),
        "created_at": api_key.created_at,
        "updated_at": api_key.updated_at,
        "updated_by": {"id": api_key.updated_by.id, "common_name": api_key.updated_by.common_name},
    }


def _check_name_free(db: DbSession, name: str, except_id: int | None = None) -> None:
    clash = db.scalar(select(ApiKey.id).where(ApiKey.name == name))
    if clash is not None and clash != except_id:
        raise field_errors({"name": DUPLICATE_NAME})


def _get_key(db: DbSession, key_id: int) -> ApiKey:
    return check_404(db.get(ApiKey, key_id))


def _check_group(db: DbSession, group_id: int) -> None:
    if db.get(PermissionsGroup, group_id) is None:
        raise field_errors({"group_id": "value must be the id of an existing group."})


def _save(db: DbSession, api_key: ApiKey) -> None:
    """Write the key. When a concurrent request took the same name after `_check_name_free` looked, the
    unique index on `api_key.name` refuses it: answer Metabase's duplicate-name 400, not a 500."""
    try:
        with db.begin_nested():
            db.add(api_key)
            db.flush()
    except IntegrityError as exc:
        # Every app database names the column or its constraint (`uq_api_key_name`) in the message.
        if "name" in str(exc.orig):
            raise field_errors({"name": DUPLICATE_NAME}) from None
        raise


def _new_secret(db: DbSession) -> str:
    """A fresh key whose 7-character prefix no other key has."""
    while True:
        key = generate_key()
        if db.scalar(select(ApiKey.id).where(ApiKey.key_prefix == key_prefix(key))) is None:
            return key


@router.post("", responses=shapes.ok(shapes.ApiKey))
def create_api_key(body: CreateApiKeyBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Create a key acting in `group_id`; the answer carries the only copy of `unmasked_key`."""
    _check_name_length(body.name)
    _check_name_free(db, body.name)
    _check_group(db, body.group_id)
    user = create_user(
        db,
        email=f"api-key-user-{uuid.uuid4()}@api-key.invalid",
        password_hash=hash_password(str(uuid.uuid4())),
        first_name=body.name,
        last_name="",
        user_type="api-key",
    )
    set_groups(db, user, {ALL_USERS_GROUP_ID, body.group_id})
    key = _new_secret(db)
    api_key = ApiKey(
        user=user,
        user_id=user.id,
        key=hash_token(key),
        key_prefix=key_prefix(key),
        name=body.name,
        creator_id=admin.id,
        updated_by_id=admin.id,
        updated_by=admin,
    )
    _save(db, api_key)
    return {**_key_json(api_key), "unmasked_key": key}


@router.get("", responses=shapes.ok(list[shapes.ApiKey]))
def list_api_keys(admin: SuperUser, db: DbSession) -> list[dict[str, Any]]:
    """Every API key, masked."""
    return [
        _key_json(k) for k in db.scalars(select(ApiKey).where(ApiKey.scope.is_(None)).order_by(ApiKey.id))
    ]


@router.get("/count")
def count_api_keys(admin: SuperUser, db: DbSession) -> int:
    """How many API keys exist."""
    return db.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.scope.is_(None))) or 0


@router.put("/{key_id}", responses=shapes.ok(shapes.ApiKey))
def update_api_key(key_id: int, body: UpdateApiKeyBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Rename a key or move it to another group."""
    api_key = _get_key(db, key_id)
    # The group first: set_groups flushes, and the new name must reach the database only in `_save`.
    if body.group_id is not None:
        _check_group(db, body.group_id)
        set_groups(db, api_key.user, {ALL_USERS_GROUP_ID, body.group_id})
    if body.name is not None:
        _check_name_free(db, body.name, except_id=api_key.id)
        api_key.name = body.name
        api_key.user.first_name = body.name
    api_key.updated_by_id, api_key.updated_by = admin.id, admin
    api_key.updated_at = utcnow()
    _save(db, api_key)
    return _key_json(api_key)


@router.put("/{key_id}/regenerate", responses=shapes.ok(shapes.ApiKeySecret))
def regenerate_api_key(key_id: int, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Replace a key's secret; the old one stops working at once."""
    api_key = _get_key(db, key_id)
    key = _new_secret(db)
    api_key.key, api_key.key_prefix = hash_token(key), key_prefix(key)
    api_key.updated_by_id, api_key.updated_by = admin.id, admin
    api_key.updated_at = utcnow()
    db.flush()
    return {"id": api_key.id, "unmasked_key": key, "masked_key": mask(key), "prefix": key_prefix(key)}


@router.delete("/{key_id}", status_code=204)
def delete_api_key(key_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Delete a key; its hidden user is deactivated."""
    api_key = _get_key(db, key_id)
    api_key.user.is_active = False
    db.delete(api_key)
    return Response(status_code=204)
