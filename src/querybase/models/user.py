"""Users, permission groups and group memberships (`core_user`, `permissions_group`,
`permissions_group_membership`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint, false, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from querybase.models.base import Base, new_entity_id, utcnow
from querybase.models.collection import create_personal_collection

ALL_USERS_GROUP_ID = 1
ADMIN_GROUP_ID = 2
# Metabase finds its magic groups by this column since 0.55; the ids 1 and 2 are stable on fresh installs.
MAGIC_GROUP_TYPES = {ALL_USERS_GROUP_ID: "all-internal-users", ADMIN_GROUP_ID: "admin"}


class User(Base):
    __tablename__ = "core_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, as Metabase does, so matching is case-insensitive on every app database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(254))
    last_name: Mapped[str | None] = mapped_column(String(254))
    password: Mapped[str | None] = mapped_column(String(254))
    date_joined: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login: Mapped[dt.datetime | None]
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_qbnewb: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_datasetnewb: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deactivated_at: Mapped[dt.datetime | None]
    reset_token: Mapped[str | None] = mapped_column(String(254))
    # Epoch milliseconds, as in Metabase (`auth/reset_tokens.py`).
    reset_triggered: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str | None] = mapped_column(String(5))
    sso_source: Mapped[str | None] = mapped_column(String(254))
    login_attributes: Mapped[dict[str, Any] | None]
    jwt_attributes: Mapped[dict[str, Any] | None]
    # User-local setting values (Metabase's :user-local settings), keyed by setting name.
    settings: Mapped[dict[str, Any] | None]
    # "personal" for people; "api-key" for the hidden user an API key acts as; "internal" for our own.
    type: Mapped[str] = mapped_column(String(64), default="personal", server_default="personal")

    # Loaded when first used: most requests only need to know who is calling, not their groups.
    memberships: Mapped[list[PermissionsGroupMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def common_name(self) -> str:
        """ "First Last", or the email when the user has no name (Metabase's rule)."""
        names = [n for n in (self.first_name, self.last_name) if n]
        return " ".join(names) if names else self.email

    @property
    def group_ids(self) -> list[int]:
        return sorted(m.group_id for m in self.memberships)


class PermissionsGroup(Base):
    __tablename__ = "permissions_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    magic_group_type: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_tenant_group: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    memberships: Mapped[list[PermissionsGroupMembership]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class PermissionsGroupMembership(Base):
    __tablename__ = "permissions_group_membership"
    __table_args__ = (UniqueConstraint("user_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("permissions_group.id", ondelete="CASCADE"), index=True)
    is_group_manager: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[PermissionsGroup] = relationship(back_populates="memberships")


# ---------------------------------------------------------------------------------------------------
# JSON views. Metabase shows different columns to different readers.

DEFAULT_COLUMNS = (
    "id",
    "email",
    "date_joined",
    "first_name",
    "last_name",
    "last_login",
    "is_superuser",
    "is_qbnewb",
)
ADMIN_OR_SELF_COLUMNS = (
    *DEFAULT_COLUMNS,
    "sso_source",
    "is_active",
    "updated_at",
    "login_attributes",
    "jwt_attributes",
    "locale",
)
LIST_COLUMNS = ("id", "email", "first_name", "last_name")


def user_json(user: User, columns: tuple[str, ...] = ADMIN_OR_SELF_COLUMNS) -> dict[str, Any]:
    data: dict[str, Any] = {column: getattr(user, column) for column in columns}
    if "is_superuser" in columns:
        data["tenant_id"] = None
    data["common_name"] = user.common_name
    return data


def member_json(membership: PermissionsGroupMembership) -> dict[str, Any]:
    """A group member as `/api/permissions/group/:id` and `/api/permissions/membership` list them."""
    user = membership.user
    return {
        "id": user.id,
        "user_id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_superuser": user.is_superuser,
        "group_id": membership.group_id,
        "membership_id": membership.id,
    }


def find_by_email(db: Session, email: str) -> User | None:
    """The person who logs in with `email`, whatever its case."""
    return db.scalar(select(User).where(User.email == email.lower(), User.type == "personal"))


def email_in_use(db: Session, email: str, *, except_id: int | None = None) -> bool:
    """Whether any user (of any type) other than `except_id` has `email`, whatever its case."""
    statement = select(User.id).where(User.email == email.lower())
    if except_id is not None:
        statement = statement.where(User.id != except_id)
    return db.scalar(statement.limit(1)) is not None


def create_user(
    db: Session,
    *,
    email: str,
    password_hash: str | None,
    first_name: str | None = None,
    last_name: str | None = None,
    login_attributes: dict[str, Any] | None = None,
    user_type: str = "personal",
) -> User:
    """A new active user in All Users. Group changes beyond that go through `permissions/groups.py`."""
    user = User(
        email=email.lower(),
        password=password_hash,
        first_name=first_name,
        last_name=last_name,
        login_attributes=login_attributes,
        type=user_type,
    )
    user.memberships.append(PermissionsGroupMembership(group_id=ALL_USERS_GROUP_ID))
    db.add(user)
    db.flush()
    if user_type == "personal":
        create_personal_collection(db, user)
        db.flush()
    return user
