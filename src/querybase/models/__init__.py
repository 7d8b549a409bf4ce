"""The application database's ORM classes. Importing this package registers every table."""

from querybase.models.api_key import ApiKey
from querybase.models.base import Base
from querybase.models.collection import Collection
from querybase.models.database import Database, Field, FieldValues, Table
from querybase.models.session import LoginAttempt, LoginHistory, UserSession
from querybase.models.setting import Setting
from querybase.models.user import PermissionsGroup, PermissionsGroupMembership, User

__all__ = [
    "ApiKey",
    "Base",
    "Collection",
    "Database",
    "Field",
    "FieldValues",
    "LoginAttempt",
    "LoginHistory",
    "PermissionsGroup",
    "PermissionsGroupMembership",
    "Setting",
    "Table",
    "User",
    "UserSession",
]
