"""The shapes of the API's answers, for its documentation only.

Endpoints declare them with `responses=ok(Card)`: FastAPI puts them in the OpenAPI document, and the
fuzzing tests check every answer against them. They are never used to validate or build an answer at run
time (see `MetabaseRoute`). Each lists the keys Metabase's clients rely on, which are always present;
answers carry more keys than these (`additionalProperties`), as Metabase's do.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def ok(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a decorator: the success answer has this shape."""
    return {status: {"model": model}}


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Health(Shape):
    status: str


class SessionId(Shape):
    """A new session: send `id` as `X-Metabase-Session`."""

    id: str


class Success(Shape):
    success: bool


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


class DashboardDetail(Dashboard):
    dashcards: list[dict[str, Any]]
    tabs: list[dict[str, Any]]


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


class Shared(Shape):
    """An object shared by a public link."""

    id: int
    name: str
    public_uuid: str


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


class Group(Shape):
    id: int
    name: str


class ApiKey(Shape):
    id: int
    name: str
    group: Group
    masked_key: str
    created_at: str
    updated_at: str


class SettingEntry(Shape):
    """One setting as `GET /api/setting` lists it."""

    key: str
    value: Any
    is_env_setting: bool
    env_name: str
    description: str | None
    default: Any


class Revision(Shape):
    id: int
    timestamp: str
    is_creation: bool
    is_reversion: bool
    description: str | None
    user: UserSummary


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


# What a download answers: the rows in the format its path names (`csv`, `json` or `xlsx`), or, when
# the query fails, its error as JSON.
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows as a file in the format the path names; a failed query's error as JSON.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
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
