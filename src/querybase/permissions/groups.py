"""Group memberships and the rules Metabase keeps around them.

All Users (id 1) holds every user and cannot be joined or left by hand. Administrators (id 2) *is*
`is_superuser`: joining it makes a user an admin, leaving it (or losing `is_superuser`) removes
them, and the last active member cannot go.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from querybase.errors import BadRequest
from querybase.models.user import (
    ADMIN_GROUP_ID,
    ALL_USERS_GROUP_ID,
    PermissionsGroup,
    PermissionsGroupMembership,
    User,
)

ALL_USERS_LOCKED = "You cannot add or remove users to/from the 'All Users' group."
LAST_ADMIN = "You cannot remove the last member of the 'Admin' group!"


def magic_group_message(group: PermissionsGroup) -> str:
    return f"You cannot edit or delete the '{group.name}' permissions group!"


def is_magic(group: PermissionsGroup) -> bool:
    return group.id in (ALL_USERS_GROUP_ID, ADMIN_GROUP_ID)


def in_admin_group(user: User) -> bool:
    return any(m.group_id == ADMIN_GROUP_ID for m in user.memberships)


def check_not_last_admin(db: Session, user: User) -> None:
    """Refuse to take `user` out of Administrators (or deactivate them) when no other active member is
    left. As in Metabase, any active member counts, API keys' users included."""
    others = db.scalar(
        select(func.count())
        .select_from(PermissionsGroupMembership)
        .join(User, User.id == PermissionsGroupMembership.user_id)
        .where(
            PermissionsGroupMembership.group_id == ADMIN_GROUP_ID,
            User.is_active.is_(True),
            User.id != user.id,
        )
    )
    if not others:
        raise BadRequest(LAST_ADMIN)


def add_membership(db: Session, user: User, group_id: int, *, is_group_manager: bool = False) -> None:
    """Put `user` in a group (idempotent); joining Administrators makes them a superuser."""
    if not any(m.group_id == group_id for m in user.memberships):
        user.memberships.append(
            PermissionsGroupMembership(group_id=group_id, is_group_manager=is_group_manager)
        )
    if group_id == ADMIN_GROUP_ID:
        user.is_superuser = True
    db.flush()


def remove_membership(db: Session, membership: PermissionsGroupMembership) -> None:
    """Take a user out of a group; leaving Administrators takes away `is_superuser`."""
    if membership.group_id == ALL_USERS_GROUP_ID:
        raise BadRequest(ALL_USERS_LOCKED)
    user = membership.user
    if membership.group_id == ADMIN_GROUP_ID:
        check_not_last_admin(db, user)
        user.is_superuser = False
    user.memberships.remove(membership)
    db.flush()


def set_superuser(db: Session, user: User, is_superuser: bool) -> None:
    """Keep `is_superuser` and the Administrators membership the same thing."""
    if is_superuser:
        add_membership(db, user, ADMIN_GROUP_ID)
        return
    membership = next((m for m in user.memberships if m.group_id == ADMIN_GROUP_ID), None)
    if membership is not None:
        remove_membership(db, membership)
    user.is_superuser = False


def set_groups(db: Session, user: User, group_ids: set[int], managers: set[int] | None = None) -> None:
    """Make `user`'s groups exactly `group_ids`, which must include All Users (Metabase refuses to
    take anyone out of it)."""
    if ALL_USERS_GROUP_ID not in group_ids:
        raise BadRequest(ALL_USERS_LOCKED)
    known = set(db.scalars(select(PermissionsGroup.id).where(PermissionsGroup.id.in_(group_ids))))
    if known != group_ids:
        raise BadRequest({"errors": {"user_group_memberships": "Invalid group id."}})
    set_superuser(db, user, ADMIN_GROUP_ID in group_ids)
    for membership in list(user.memberships):
        if membership.group_id not in group_ids:
            user.memberships.remove(membership)
    for group_id in sorted(group_ids):
        add_membership(db, user, group_id)
    if managers is not None:
        for membership in user.memberships:
            membership.is_group_manager = membership.group_id in managers
    db.flush()
