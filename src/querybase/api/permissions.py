"""`/api/permissions`: the data permissions graph, permission groups and group memberships (admin only).

The graph's rules and shape live in `permissions/data_graph.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue, NonBlankString, PageValue, PositiveInt
from querybase.errors import BadRequest, PaymentRequired, check_404
from querybase.models.user import (
    ADMIN_GROUP_ID,
    ALL_USERS_GROUP_ID,
    PermissionsGroup,
    PermissionsGroupMembership,
    User,
    member_json,
)
from querybase.permissions.data import set_new_group_permissions
from querybase.permissions.data_graph import api_graph, json_graph, update_graph
from querybase.permissions.groups import (
    ALL_USERS_LOCKED,
    add_membership,
    is_magic,
    magic_group_message,
    remove_membership,
)

router = APIRouter(route_class=MetabaseRoute, tags=["permissions"])

GROUP_MANAGERS_NEED_EE = (
    "The group manager permissions functionality is only enabled if you have a premium token with the "
    "advanced-permissions feature."
)
DUPLICATE_GROUP = "A group with that name already exists."
TENANTS_NEED_EE = (
    "Tenants is a paid feature not currently available to your instance. Please upgrade to use it. "
    "Learn more at metabase.com/upgrade/"
)


class GroupBody(BaseModel):
    name: NonBlankString


class NewGroupBody(GroupBody):
    is_tenant_group: bool | None = None


class MembershipBody(BaseModel):
    group_id: PositiveInt
    user_id: PositiveInt
    is_group_manager: bool | None = None


class MembershipUpdateBody(BaseModel):
    is_group_manager: bool


def _group_json(group: PermissionsGroup, member_count: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "entity_id": group.entity_id,
        "magic_group_type": group.magic_group_type,
        "is_tenant_group": group.is_tenant_group,
    }
    if member_count is not None:
        data["member_count"] = member_count
    return data


def _active_members(db: DbSession, group_id: int) -> list[PermissionsGroupMembership]:
    """A group's memberships of active users, API keys' users included (Metabase lists them too)."""
    return list(
        db.scalars(
            select(PermissionsGroupMembership)
            .join(User)
            .where(
                PermissionsGroupMembership.group_id == group_id,
                User.is_active.is_(True),
            )
            .order_by(func.lower(User.first_name), func.lower(User.last_name), User.id)
        )
    )


def _check_name_free(db: DbSession, name: str) -> None:
    """Group names are unique whatever their case (a rename that only changes the case is refused too,
    as in Metabase)."""
    clash = db.scalar(select(PermissionsGroup.id).where(func.lower(PermissionsGroup.name) == name.lower()))
    if clash is not None:
        raise BadRequest(DUPLICATE_GROUP)


@router.get("/graph", responses=shapes.ok(shapes.PermissionsGraph))
def get_graph(admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """The data permissions graph of every group and database."""
    return json_graph(api_graph(db))


@router.get("/graph/db/{db_id}", responses=shapes.ok(shapes.PermissionsGraph))
def get_database_graph(db_id: int, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """The data permissions graph of one database."""
    return json_graph(api_graph(db, database_id=db_id))


@router.get("/graph/group/{group_id}", responses=shapes.ok(shapes.PermissionsGraph))
def get_group_graph(group_id: int, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """The data permissions graph of one group."""
    return json_graph(api_graph(db, group_id=group_id))


@router.put(
    "/graph",
    responses={
        **shapes.ok(shapes.PermissionsGraphUpdate),
        402: {"description": "Sandboxes and connection impersonations are paid features."},
        409: {"description": "The graph changed since it was read."},
    },
)
def put_graph(
    admin: SuperUser,
    db: DbSession,
    body: dict[str, Any] = Body(...),
    skip_graph: BooleanValue | None = Query(False, alias="skip-graph"),
    force: BooleanValue | None = Query(False),
) -> dict[str, Any]:
    """Apply (part of) a graph read earlier. A graph based on an older revision is refused (409) unless
    `force`; the answer is the new revision and, unless `skip-graph`, the graph of the groups sent."""
    result = update_graph(db, admin, body, force=bool(force), skip_graph=bool(skip_graph))
    return json_graph(result)


@router.get("/group", responses=shapes.ok(list[shapes.Group]))
def list_groups(
    admin: SuperUser,
    db: DbSession,
    limit: PageValue = None,
    offset: PageValue = None,
) -> list[dict[str, Any]]:
    """Every group with its number of active members (API keys' users included), ordered by name."""
    # A Result has `.keys()` (its column names), so `dict(result)` would treat it as a mapping: unpack rows.
    counts: dict[int, int] = {
        group_id: count
        for group_id, count in db.execute(
            select(PermissionsGroupMembership.group_id, func.count())
            .join(User)
            .where(User.is_active.is_(True))
            .group_by(PermissionsGroupMembership.group_id)
        )
    }
    statement = select(PermissionsGroup).order_by(func.lower(PermissionsGroup.name), PermissionsGroup.id)
    if limit is not None or offset is not None:
        statement = statement.limit(50 if limit is None else limit).offset(offset or 0)
    return [_group_json(g, counts.get(g.id, 0)) for g in db.scalars(statement)]


@router.get("/group/{group_id}", responses=shapes.ok(shapes.GroupDetail))
def get_group(group_id: int, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """A group and its active members."""
    group = check_404(db.get(PermissionsGroup, group_id))
    return {**_group_json(group), "members": [member_json(m) for m in _active_members(db, group_id)]}


@router.post(
    "/group", responses={**shapes.ok(shapes.Group), 402: {"description": "Tenant groups are a paid feature."}}
)
def create_group(body: NewGroupBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Create a group. Tenant groups are an Enterprise feature (402)."""
    if body.is_tenant_group:
        raise PaymentRequired({"message": TENANTS_NEED_EE})
    _check_name_free(db, body.name)
    group = PermissionsGroup(name=body.name)
    db.add(group)
    db.flush()
    set_new_group_permissions(db, group)
    return _group_json(group)


@router.put("/group/{group_id}", responses=shapes.ok(shapes.Group))
def update_group(group_id: int, body: GroupBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Rename a group. All Users and Administrators cannot be renamed; sending the current name is a
    no-op, as in Metabase, which checks only real changes."""
    group = check_404(db.get(PermissionsGroup, group_id))
    if body.name != group.name:
        if is_magic(group):
            raise BadRequest(magic_group_message(group))
        _check_name_free(db, body.name)
        group.name = body.name
        db.flush()
    return _group_json(group)


@router.delete("/group/{group_id}", status_code=204)
def delete_group(group_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Delete a group. All Users and Administrators cannot be deleted; an unknown id is a no-op (as in
    Metabase)."""
    group = db.get(PermissionsGroup, group_id)
    if group is not None:
        if is_magic(group):
            raise BadRequest(magic_group_message(group))
        db.delete(group)
    return Response(status_code=204)


@router.get("/membership", responses=shapes.ok(dict[str, list[shapes.Membership]]))
def list_memberships(admin: SuperUser, db: DbSession) -> dict[str, list[dict[str, Any]]]:
    """Every membership, grouped by user id."""
    result: dict[str, list[dict[str, Any]]] = {}
    for m in db.scalars(select(PermissionsGroupMembership).order_by(PermissionsGroupMembership.id)):
        result.setdefault(str(m.user_id), []).append(
            {
                "membership_id": m.id,
                "group_id": m.group_id,
                "user_id": m.user_id,
                "is_group_manager": m.is_group_manager,
            }
        )
    return result


@router.post(
    "/membership",
    responses={
        **shapes.ok(list[shapes.GroupMember]),
        402: {"description": "Group managers are a paid feature."},
    },
)
def create_membership(body: MembershipBody, admin: SuperUser, db: DbSession) -> list[dict[str, Any]]:
    """Add a user to a group; answers with the group's members. Joining Administrators makes an admin."""
    if body.is_group_manager:
        raise PaymentRequired(GROUP_MANAGERS_NEED_EE)
    # Ids are 32-bit columns: a larger one names nothing (and SQLite cannot even compare it).
    group = check_404(db.get(PermissionsGroup, body.group_id))
    user = check_404(db.get(User, body.user_id))
    if group.id == ALL_USERS_GROUP_ID:
        raise BadRequest(ALL_USERS_LOCKED)
    add_membership(db, user, group.id)
    return [member_json(m) for m in _active_members(db, group.id)]


@router.put(
    "/membership/{membership_id}",
    responses={
        **shapes.ok(shapes.MembershipRecord),
        402: {"description": "Group managers are a paid feature."},
    },
)
def update_membership(membership_id: int, body: MembershipUpdateBody, user: CurrentUser) -> dict[str, Any]:
    """Group managers are an Enterprise feature: Metabase's open-source edition answers 402, to anyone
    logged in, before it looks at who is asking or whether the membership exists."""
    raise PaymentRequired(GROUP_MANAGERS_NEED_EE)


@router.put("/membership/{group_id}/clear", status_code=204)
def clear_group(group_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Remove every member of a group (not Administrators, not All Users)."""
    group = check_404(db.get(PermissionsGroup, group_id))
    if group.id == ADMIN_GROUP_ID:
        raise BadRequest("Invalid Request.")
    if group.id == ALL_USERS_GROUP_ID:
        raise BadRequest(ALL_USERS_LOCKED)
    for membership in list(group.memberships):
        db.delete(membership)
    return Response(status_code=204)


@router.delete("/membership/{membership_id}", status_code=204)
def delete_membership(membership_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Remove a user from a group. Leaving Administrators takes away admin rights; the last admin stays."""
    membership = check_404(db.get(PermissionsGroupMembership, membership_id))
    remove_membership(db, membership)
    return Response(status_code=204)
