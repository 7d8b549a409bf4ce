"""The shapes of the API's answers, for its documentation only.

Endpoints declare them with `responses=ok(Card)`: FastAPI puts them in the OpenAPI document, and the
fuzzing tests check every answer against them. They are never used to validate or build an answer at run
time (see `MetabaseRoute`). Each lists the keys Metabase's clients rely on, which are always present;
answers carry more keys than these (`additionalProperties`), as Metabase's do.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


def ok(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a decorator: the success answer has this shape."""
    return {status: {"model": model}}


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class SessionId(Shape):
    """A new session: send `id` as `X-Metabase-Session`."""

    id: str


class Success(Shape):
    success: bool


class PasswordChanged(Success):
    """A password its owner changed: their other sessions are over, this is their new one."""

    session_id: str


class SessionProperties(Shape):
    """The public settings by key (`GET /api/session/properties`); a session adds those its user may
    read. These few are always there."""

    has_user_setup: bool = Field(alias="has-user-setup")
    setup_token: str = Field(alias="setup-token")
    version: dict[str, Any]
    engines: dict[str, Any]
    token_features: dict[str, Any] = Field(alias="token-features")
    available_locales: list[list[str]] = Field(alias="available-locales")
    password_complexity: dict[str, Any] = Field(alias="password-complexity")
    site_locale: str = Field(alias="site-locale")
    site_url: str | None = Field(alias="site-url")
    application_name: str = Field(alias="application-name")


class RandomToken(Shape):
    """64 random hex characters (256 bits)."""

    token: str


class Ok(Shape):
    """`{"ok": true}`: the mail was sent."""

    ok: bool


class Status(Shape):
    """`{"status": "ok"}`-like acknowledgements."""

    status: str


class Validity(Shape):
    """Whether something was accepted: a password, a reset token, connection details."""

    valid: bool


class Unsubscribed(Status):
    """An email unsubscribe link's answer: what the address was taken off (or put back on), null when
    that is gone."""

    title: str | None


class UserSummary(Shape):
    """A user as other objects embed them (`creator`, `updated_by`, revision authors)."""

    id: int
    common_name: str | None


class Recipient(Shape):
    """A user as others see them (`/api/user/recipients`)."""

    id: int
    email: str
    first_name: str | None
    last_name: str | None
    common_name: str | None


class User(Recipient):
    is_superuser: bool
    is_active: bool
    is_qbnewb: bool
    locale: str | None
    date_joined: str
    last_login: str | None
    login_attributes: dict[str, Any] | None


class CurrentUser(User):
    group_ids: list[int]
    personal_collection_id: int | None
    is_installer: bool
    has_invited_second_user: bool
    has_question_and_dashboard: bool
    has_model: bool
    first_login: str | None


class UserPage(Shape):
    data: list[User]
    total: int
    limit: int | None
    offset: int | None


class RecipientPage(Shape):
    data: list[Recipient]
    total: int
    limit: int | None
    offset: int | None


class Card(Shape):
    """A question, model or metric."""

    id: int
    entity_id: str
    name: str
    description: str | None
    type: str
    display: str
    dataset_query: dict[str, Any]
    visualization_settings: dict[str, Any]
    parameters: list[dict[str, Any]]
    query_type: str | None
    database_id: int | None
    table_id: int | None
    collection_id: int | None
    creator_id: int
    archived: bool
    enable_embedding: bool
    public_uuid: str | None
    created_at: str
    updated_at: str


class Dashboard(Shape):
    id: int
    entity_id: str
    name: str
    description: str | None
    collection_id: int | None
    creator_id: int
    parameters: list[dict[str, Any]]
    archived: bool
    enable_embedding: bool
    public_uuid: str | None
    created_at: str
    updated_at: str


class DashboardCard(Shape):
    """A card's place on a dashboard, with the card (null for a text or heading card) and its extra series."""

    id: int
    entity_id: str
    dashboard_id: int
    dashboard_tab_id: int | None
    card_id: int | None
    card: Card | None
    action_id: int | None
    row: int
    col: int
    size_x: int
    size_y: int
    series: list[Card]
    parameter_mappings: list[dict[str, Any]]
    visualization_settings: dict[str, Any]
    inline_parameters: list[dict[str, Any]]
    created_at: str
    updated_at: str


class DashboardTab(Shape):
    id: int
    entity_id: str
    dashboard_id: int
    name: str
    position: int
    created_at: str
    updated_at: str


class DashboardDetail(Dashboard):
    dashcards: list[DashboardCard]
    tabs: list[DashboardTab]


class DashboardCards(Shape):
    """A dashboard's cards and tabs (`PUT /api/dashboard/:id/cards`)."""

    cards: list[DashboardCard]
    tabs: list[DashboardTab]


class RecentDashboard(Dashboard):
    """The dashboard the user viewed last, with its collection (null: the root)."""

    collection: dict[str, Any] | None


class Collection(Shape):
    """A collection; the root collection's `id` is `"root"`."""

    id: int | str
    name: str
    can_write: bool
    authority_level: str | None


class ItemsPage(Shape):
    """`/api/collection/:id/items`: one page of a collection's contents."""

    data: list[dict[str, Any]]
    total: int
    models: list[str]
    limit: int | None
    offset: int | None


class CollectionNode(Collection):
    """A collection in `/api/collection/tree`, with its children and the kinds of items in and below it."""

    children: list[CollectionNode]
    here: list[str]
    below: list[str]


class ShallowCollectionNode(Collection):
    """A collection in `/api/collection/tree?shallow=true`: `children` says whether it has any."""

    children: bool


class CollectionGraphRevision(Shape):
    """The collection permissions graph's revision (all that `PUT ...?skip-graph=true` answers)."""

    revision: int


class CollectionGraph(CollectionGraphRevision):
    """Who may see or curate each collection: group id → collection id (or `root`) → `read` or `write`;
    what is not listed is no access."""

    groups: dict[str, dict[str, str]]


class Shared(Shape):
    """An object shared by a public link."""

    id: int
    name: str
    public_uuid: str


class PublicLink(Shape):
    """A public link's UUID (`/public/question/:uuid`, `/public/dashboard/:uuid`)."""

    uuid: str


class Named(Shape):
    id: int
    name: str


class Database(Shape):
    id: int
    name: str
    engine: str
    is_sample: bool
    features: list[str]
    initial_sync_status: str
    created_at: str
    updated_at: str


class SavedQuestionsDatabase(Shape):
    """The virtual database of saved questions (`?saved=true`), id -1337."""

    id: int
    name: str
    is_saved_questions: bool
    features: list[str]


class DatabasePage(Shape):
    data: list[Database | SavedQuestionsDatabase]
    total: int


class Table(Shape):
    id: int
    db_id: int
    schema_: str | None = Field(alias="schema")
    name: str
    display_name: str
    description: str | None
    entity_type: str | None
    active: bool
    visibility_type: str | None


class DatabaseMetadata(Database):
    """A database with its tables, their fields and segments."""

    tables: list[dict[str, Any]]


class TableMetadata(Table):
    """A table with what the query builder needs: its fields, segments and (legacy) metrics."""

    fields: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    metrics: list[dict[str, Any]]


class QueryMetadata(Shape):
    """What a client needs to show a query: its database and the tables it reads (querybase leaves the
    other lists empty)."""

    databases: list[Database]
    tables: list[TableMetadata]
    fields: list[dict[str, Any]]
    cards: list[dict[str, Any]]
    dashboards: list[dict[str, Any]]
    snippets: list[dict[str, Any]]


class FieldShape(Shape):
    id: int
    table_id: int
    name: str
    display_name: str
    description: str | None
    base_type: str
    semantic_type: str | None
    database_type: str
    active: bool
    visibility_type: str
    position: int


class FieldValues(Shape):
    """A field's distinct values: each `[value]`, or `[value, display value]` when remapped."""

    field_id: int
    values: list[list[Any]]
    has_more_values: bool


class ParameterValues(Shape):
    """A filter's choices: each `[value]`, or `[value, display value]`."""

    values: list[list[Any]]
    has_more_values: bool


class FieldSummary(RootModel[list[tuple[str, int]]]):
    """`[["count", rows], ["distincts", distinct values]]` of a field's table."""


Scalar = str | int | float | bool | None


class FieldSearchValues(RootModel[list[list[Scalar]]]):
    """`[[value, search value], ...]`, or `[[value], ...]` when the two fields are one."""


class DatabaseField(Shape):
    """A field as `GET /api/database/:id/fields` lists it, with its table's name and schema."""

    id: int
    name: str
    display_name: str
    base_type: str
    semantic_type: str | None
    table_id: int
    table_name: str
    schema_: str | None = Field(alias="schema")


class IdField(FieldShape):
    """A primary-key field with its table."""

    table: Table


class ForeignKey(Shape):
    """A foreign key that points at one of a table's fields: the FK field (`origin`, with its table and
    database) and the field it points at (`destination`)."""

    relationship: str
    origin_id: int
    origin: FieldShape
    destination_id: int
    destination: FieldShape


class VirtualTable(Shape):
    """A saved question or model as a table (`card__<id>`) of the Saved Questions database, in a schema
    named after its collection."""

    id: str
    db_id: int | None
    display_name: str
    schema_: str = Field(alias="schema")
    description: str | None
    entity_id: str
    type: str


class VirtualField(Shape):
    """A column of a saved question as a field: the field's id when it comes from one, else a reference
    by name (`["field", "TOTAL", {"base-type": "type/Float"}]`)."""

    id: int | list[Any]
    table_id: str
    semantic_type: str | None


class VirtualTableFields(VirtualTable):
    fields: list[VirtualField]


class CardTableMetadata(VirtualTableFields):
    """A saved question or model as a table for the query builder, with its database (null when that is
    gone)."""

    db: Database | None


class SavedQuestionsMetadata(SavedQuestionsDatabase):
    """The Saved Questions database with its saved questions as tables (models are under `/datasets`)."""

    tables: list[VirtualTableFields]


class PublicQuestion(Shape):
    """A question as the viewers of a public link or an embed see it: how it is drawn and its parameters;
    of its query only the kind and a native query's template tags."""

    id: int
    name: str
    description: str | None
    display: str
    visualization_settings: dict[str, Any]
    dataset_query: dict[str, Any]
    parameters: list[dict[str, Any]]


class PublicCard(PublicQuestion):
    """A shared or embedded question, with the fields behind its parameters (by parameter id; null when
    none is a field filter)."""

    param_fields: dict[str, list[FieldShape]] | None


class PublicDashboardCard(Shape):
    """A card of a shared or embedded dashboard (`card` is null for a text or heading card)."""

    id: int
    card_id: int | None
    dashboard_id: int
    dashboard_tab_id: int | None
    card: PublicQuestion | None
    series: list[PublicQuestion]
    row: int
    col: int
    size_x: int
    size_y: int
    parameter_mappings: list[dict[str, Any]]
    visualization_settings: dict[str, Any]


class PublicDashboard(Shape):
    """A shared or embedded dashboard: its layout, filters and cards, with the fields behind its filters
    (by parameter id; null when none is mapped to a field)."""

    id: int
    name: str
    description: str | None
    parameters: list[dict[str, Any]]
    auto_apply_filters: bool
    width: str
    dashcards: list[PublicDashboardCard]
    tabs: list[DashboardTab]
    param_fields: dict[str, list[FieldShape]] | None


class OEmbed(Shape):
    """An oEmbed answer (oembed.com): an `<iframe>` of a public link."""

    version: str
    type: str
    width: int
    height: int
    html: str


class Segment(Shape):
    """A segment, or one of the legacy metrics of `/api/metric`."""

    id: int
    name: str
    description: str | None
    table_id: int
    definition: dict[str, Any]
    archived: bool
    creator_id: int
    creator: UserSummary | None
    created_at: str
    updated_at: str


class Related(Shape):
    """The table of a segment or legacy metric, and the other segments and metrics on it."""

    table: dict[str, Any]
    segments: list[Segment]
    metrics: list[Segment]


class Timeline(Shape):
    id: int
    name: str
    description: str | None
    icon: str
    collection_id: int | None
    archived: bool
    default: bool
    creator_id: int


class TimelineEvent(Shape):
    id: int
    timeline_id: int
    name: str
    description: str | None
    timestamp: str
    timezone: str
    time_matters: bool
    icon: str
    archived: bool
    creator_id: int


class Snippet(Shape):
    id: int
    name: str
    description: str | None
    content: str
    collection_id: int | None
    archived: bool
    creator_id: int


class NotificationRecipient(Shape):
    """A user (`user_id`), a group, or a raw address (`details.value`) a handler sends to."""

    id: int
    notification_handler_id: int
    type: str
    user_id: int | None
    permissions_group_id: int | None
    details: dict[str, Any] | None
    created_at: str
    updated_at: str


class NotificationHandler(Shape):
    """Where a notification goes (`channel/email`, ...) and to whom."""

    id: int
    notification_id: int
    channel_type: str
    channel_id: int | None
    template_id: int | None
    active: bool
    recipients: list[NotificationRecipient]
    created_at: str
    updated_at: str


class NotificationSubscription(Shape):
    """When a notification is sent: a Quartz `cron_schedule`, or an event."""

    id: int
    notification_id: int
    type: str
    event_name: str | None
    cron_schedule: str | None
    ui_display_type: str | None
    created_at: str


class NotificationPayload(Shape):
    """What an alert watches: its card (its columns), and when to send."""

    id: int
    card_id: int
    send_condition: str
    send_once: bool
    card: dict[str, Any] | None
    created_at: str
    updated_at: str


class Notification(Shape):
    """A notification (alerts are `notification/card` ones); `payload` is null for other kinds."""

    id: int
    payload_type: str
    payload_id: int | None
    active: bool
    creator_id: int | None
    creator: UserSummary | None
    payload: NotificationPayload | None
    subscriptions: list[NotificationSubscription]
    handlers: list[NotificationHandler]
    created_at: str
    updated_at: str


class AlertChannel(Shape):
    id: int
    channel_type: str
    channel_id: int | None
    enabled: bool
    recipients: list[dict[str, Any]]
    details: dict[str, Any]


class Alert(Shape):
    """A card alert in the legacy pulse shape of `/api/alert` (alerts are notifications since 0.54)."""

    id: int
    name: None
    creator_id: int | None
    creator: UserSummary | None
    alert_condition: str
    alert_above_goal: bool | None
    alert_first_only: bool
    archived: bool
    card: dict[str, Any]
    channels: list[AlertChannel]
    created_at: str
    updated_at: str


class PulseCard(Shape):
    """A card of a subscription, with the subscription's options for it."""

    id: int
    name: str
    description: str | None
    collection_id: int | None
    display: str
    include_csv: bool
    include_xls: bool
    format_rows: bool
    pivot_results: bool
    dashboard_card_id: int | None
    dashboard_id: int | None


class PulseChannel(Shape):
    """A subscription's delivery channel and its schedule."""

    id: int
    entity_id: str
    pulse_id: int
    channel_type: str
    channel_id: int | None
    schedule_type: str
    schedule_hour: int | None
    schedule_day: str | None
    schedule_frame: str | None
    enabled: bool
    created_at: str
    updated_at: str


class PulseChannelRecipients(PulseChannel):
    """A channel with its `recipients`: raw addresses (`{email}`) first, then users."""

    recipients: list[dict[str, Any]]


class Pulse(Shape):
    """A dashboard subscription (Metabase's legacy "pulse")."""

    id: int
    entity_id: str
    name: str
    creator_id: int
    creator: UserSummary | None
    collection_id: int | None
    collection_position: int | None
    archived: bool
    skip_if_empty: bool
    dashboard_id: int | None
    parameters: list[dict[str, Any]]
    channels: list[PulseChannel]
    created_at: str
    updated_at: str


class PulseDetail(Pulse):
    """A subscription as created or changed: with its cards and its channels' recipients."""

    cards: list[PulseCard]
    channels: list[PulseChannelRecipients]


class ShownPulse(Pulse):
    """A subscription as `GET` shows it: with `can_write`; its cards and recipients only for those who may
    see its collection."""

    can_write: bool


class ChannelSpec(Shape):
    """A kind of channel a subscription can use, and whether it is set up."""

    type: str
    name: str
    allows_recipients: bool
    schedules: list[str]
    configured: bool


class PulseFormInput(Shape):
    channels: dict[str, ChannelSpec]


class PulseCardPreview(Shape):
    """A card as a subscription email shows it, and what it is made of."""

    id: int
    pulse_card_type: str
    pulse_card_html: str
    pulse_card_name: str
    pulse_card_url: str
    row_count: int
    col_count: int


class Group(Shape):
    id: int
    name: str


class GroupMember(Shape):
    """A member of a group: the user, and their membership."""

    id: int
    user_id: int
    first_name: str | None
    last_name: str | None
    email: str
    is_superuser: bool
    group_id: int
    membership_id: int


class GroupDetail(Group):
    members: list[GroupMember]


class Membership(Shape):
    """A user's membership of a group, as `GET /api/permissions/membership` lists them by user id."""

    membership_id: int
    group_id: int
    user_id: int
    is_group_manager: bool


class MembershipRecord(Shape):
    """A membership as Metabase's paid editions answer its change with (querybase answers 402)."""

    id: int
    group_id: int
    user_id: int
    is_group_manager: bool


# One data permission of a group on a database: a value for all of it (`"unrestricted"`), or by schema,
# and within a schema by table id (`{"PUBLIC": {"5": "query-builder"}}`).
PermissionValue = str | dict[str, str | dict[str, str]]


class SchemasPermission(Shape):
    """A permission kept under `schemas`, as graphs had every permission before Metabase 0.50."""

    schemas: PermissionValue


class DatabasePermissions(Shape):
    """What a group may do with a database; a permission at its least (no access) is left out."""

    view_data: PermissionValue = Field(None, alias="view-data")
    create_queries: PermissionValue = Field(None, alias="create-queries")
    download: SchemasPermission = Field(None)
    data_model: SchemasPermission = Field(None, alias="data-model")
    details: str = Field(None)


class PermissionsGraph(Shape):
    """The data permissions graph: group id → database id → what the group may do with it. A change sends
    (part of) it back with the `revision` it was read at."""

    revision: int
    groups: dict[str, dict[str, DatabasePermissions]]


class PermissionsGraphUpdate(Shape):
    """A saved change: the new revision and, unless `skip-graph`, the graph of the groups sent."""

    revision: int
    groups: dict[str, dict[str, DatabasePermissions]] = {}


class ApiKey(Shape):
    id: int
    name: str
    group: Group
    masked_key: str
    created_at: str
    updated_at: str


class ApiKeySecret(Shape):
    """A regenerated key: `unmasked_key` is shown this once."""

    id: int
    unmasked_key: str
    masked_key: str
    prefix: str


class SettingEntry(Shape):
    """One setting as `GET /api/setting` lists it."""

    key: str
    value: Any
    is_env_setting: bool
    env_name: str
    description: str | None
    default: Any


class SettingValue(RootModel[str | int | float | bool | list[Any] | dict[str, Any]]):
    """A setting's value, as JSON: a string, number, boolean, list or map."""


class ChecklistTask(Shape):
    title: str
    description: str
    link: str
    group: str
    completed: bool
    triggered: bool
    is_next_step: bool


class ChecklistGroup(Shape):
    """A group of the admin panel's setup checklist; one task of all is the next step."""

    name: str
    tasks: list[ChecklistTask]


class EmailSettings(Shape):
    """The SMTP settings saved (the password obfuscated when it was kept), and the corrections made to
    them (`email-smtp-security` → why)."""

    host: str = Field(alias="email-smtp-host")
    port: int = Field(alias="email-smtp-port")
    security: str | None = Field(alias="email-smtp-security")
    username: str | None = Field(alias="email-smtp-username")
    password: str | None = Field(alias="email-smtp-password")
    with_corrections: dict[str, str] = Field(alias="with-corrections")


class Revision(Shape):
    id: int
    timestamp: str
    is_creation: bool
    is_reversion: bool
    description: str | None
    user: UserSummary


class RecentItem(Shape):
    """A card, dashboard, collection or table the user viewed or picked (`model` says which)."""

    id: int
    model: str
    name: str
    description: str | None
    can_write: bool
    timestamp: str


class RecentViews(Shape):
    recent_views: list[RecentItem]


class Recents(Shape):
    recents: list[RecentItem]


class PopularItems(Shape):
    popular_items: list[RecentItem]


class Bookmark(Shape):
    """A bookmark as listed: `id` is `<type>-<item id>`; keys whose value is null are left out."""

    id: str
    type: str
    item_id: int
    name: str


class NewBookmark(Shape):
    """The bookmark row made; its item's id is under `card_id`, `dashboard_id` or `collection_id`."""

    id: int
    user_id: int
    created_at: str


class SearchPage(Shape):
    data: list[dict[str, Any]]
    total: int
    limit: int | None
    offset: int | None


class QueryResult(Shape):
    """A query's answer (HTTP 202, like Metabase's, even when the query failed: see `status` and
    `error`; public links and embeds leave `data` out of a failure)."""

    status: str
    data: dict[str, Any] = {}
    error: str | None = None


class NativeForm(Shape):
    """The SQL a query compiles to; `params` holds the values of its `?` placeholders (null: none)."""

    query: str
    params: list[Any] | None


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DownloadRows(RootModel[list[dict[str, Any]]]):
    """A `json` download: one object per row, keyed by column title (with `format_rows`, each value is the
    text the question shows)."""


def download(*, failure_status: int = 400) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a download: the rows as a file in the format the path names, `csv` (text/csv),
    `json` (application/json) or `xlsx` (a spreadsheet). A query that fails answers its error as JSON, as in
    Metabase: with 400 from the downloads of logged-in users, with 200 from public links and embeds (a
    `QueryResult` whose `status` is `failed`)."""
    files = {
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    }
    if failure_status < 300:
        description = "The rows as a file in the format the path names; a failed query's error as JSON."
        return {
            failure_status: {
                "model": DownloadRows | QueryResult,
                "description": description,
                "content": files,
            }
        }
    failed = (
        "Invalid parameters (Metabase's validation errors), or the query failed: its error as JSON, "
        '`{"status": "failed", "error": ...}`.'
    )
    return {
        200: {
            "model": DownloadRows,
            "description": "The rows as a file in the format the path names.",
            "content": files,
        },
        failure_status: {"description": failed},
    }


def download_body(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """`openapi_extra=` for a download's body: a form whose JSON values are strings (as Metabase's own
    frontend sends it), or the same fields as a JSON body."""
    form = {name: {"type": "string"} for name in fields}
    return {
        "requestBody": {
            "required": bool(required),
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": fields, "required": required}
                },
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": form, "required": required}
                },
            },
        }
    }


FORMAT_ROWS = {"type": "boolean", "description": "Format values as the question shows them."}
# A saved question's download: the values of its parameters.
CARD_DOWNLOAD_BODY = download_body(
    {"parameters": {"type": "array", "items": {"type": "object"}}, "format_rows": FORMAT_ROWS}, []
)
# An ad-hoc download: the query itself.
QUERY_DOWNLOAD_BODY = download_body(
    {
        "query": {"type": "object", "description": "The query, as `POST /api/dataset` takes it."},
        "visualization_settings": {"type": "object"},
        "format_rows": FORMAT_ROWS,
    },
    ["query"],
)

# An HTML page (the previews of what a subscription email shows).
HTML: dict[int | str, dict[str, Any]] = {
    200: {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
}
