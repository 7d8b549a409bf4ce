"""The application database's ORM classes. Importing this package registers every table."""

from querybase.models.activity import CardBookmark, CollectionBookmark, DashboardBookmark, RecentView
from querybase.models.api_key import ApiKey
from querybase.models.base import Base
from querybase.models.card import Card
from querybase.models.collection import Collection
from querybase.models.dashboard import Dashboard, DashboardCard, DashboardCardSeries, DashboardTab
from querybase.models.database import Database, Field, FieldValues, Table
from querybase.models.job_run import ScheduledJobRun
from querybase.models.notification import (
    Notification,
    NotificationCard,
    NotificationHandler,
    NotificationRecipient,
    NotificationSubscription,
)
from querybase.models.permissions import (
    CollectionPermissionGraphRevision,
    DataPermission,
    Permission,
    PermissionsRevision,
)
from querybase.models.pulse import Pulse, PulseCard, PulseChannel, PulseChannelRecipient
from querybase.models.revision import Revision
from querybase.models.segment import LegacyMetric, Segment
from querybase.models.session import LoginAttempt, LoginHistory, UserSession
from querybase.models.setting import Setting
from querybase.models.snippet import NativeQuerySnippet
from querybase.models.timeline import Timeline, TimelineEvent
from querybase.models.user import PermissionsGroup, PermissionsGroupMembership, User

__all__ = [
    "ApiKey",
    "Base",
    "Card",
    "CardBookmark",
    "Collection",
    "CollectionBookmark",
    "CollectionPermissionGraphRevision",
    "Dashboard",
    "DashboardBookmark",
    "DashboardCard",
    "DashboardCardSeries",
    "DashboardTab",
    "DataPermission",
    "Database",
    "Field",
    "FieldValues",
    "LegacyMetric",
    "LoginAttempt",
    "LoginHistory",
    "NativeQuerySnippet",
    "Notification",
    "NotificationCard",
    "NotificationHandler",
    "NotificationRecipient",
    "NotificationSubscription",
    "Permission",
    "PermissionsGroup",
    "PermissionsGroupMembership",
    "PermissionsRevision",
    "Pulse",
    "PulseCard",
    "PulseChannel",
    "PulseChannelRecipient",
    "RecentView",
    "Revision",
    "ScheduledJobRun",
    "Segment",
    "Setting",
    "Table",
    "Timeline",
    "TimelineEvent",
    "User",
    "UserSession",
]
