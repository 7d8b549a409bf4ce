"""`/api/native-query-snippet`: named SQL fragments for `{{snippet: name}}`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import Boolean, BooleanValue, MbType, PositiveInt, String, received
from querybase.errors import BadRequest, check_404
from querybase.models.card import creator_map
from querybase.models.collection import Collection
from querybase.models.snippet import NativeQuerySnippet, snippet_json
from querybase.models.user import User
from querybase.permissions import checks

router = APIRouter(route_class=MetabaseRoute, tags=["native-query-snippet"])

NAME_MESSAGE = "snippet names cannot include '}' or start with spaces"
NAME_TAKEN = "A snippet with that name already exists. Please pick a different name."


def _snippet_name(value: str) -> str:
    """A name must fit in `{{snippet: name}}`: no `}`, no leading whitespace."""
    if "}" in value or re.match(r"\s", value):
        raise ValueError(NAME_MESSAGE)
    return value


SnippetName = Annotated[
    str,
    AfterValidator(_snippet_name),
    MbType(NAME_MESSAGE, lambda value: [received(NAME_MESSAGE, value)]),
]


class CreateSnippetBody(BaseModel):
    content: String
    name: SnippetName
    description: String | None = None
    collection_id: PositiveInt | None = None


class UpdateSnippetBody(BaseModel):
    archived: Boolean | None = None
    content: String | None = None
    description: String | None = None
    name: SnippetName | None = None
    collection_id: PositiveInt | None = None


def hydrated(db: Session, snippet: NativeQuerySnippet) -> dict[str, Any]:
    creator = db.get(User, snippet.creator_id)
    return {
        **snippet_json(snippet),
        "creator": creator_map(creator) if creator is not None else None,
        "is_remote_synced": False,
    }


def check_name_free(db: Session, name: str) -> None:
    if db.scalar(select(NativeQuerySnippet.id).where(NativeQuerySnippet.name == name)) is not None:
        raise BadRequest(NAME_TAKEN)


def check_collection(db: Session, collection_id: int | None) -> None:
    if collection_id is not None:
        check_404(db.get(Collection, collection_id))


@router.get("", responses=shapes.ok(list[shapes.Snippet]))
def list_snippets(user: CurrentUser, db: DbSession, archived: BooleanValue = False) -> list[dict[str, Any]]:
    """The snippets that are (or, with `archived=true`, are not) in use, by name; none for a user who may not
    write native queries anywhere."""
    if not checks.can_use_snippets(db, user):
        return []
    snippets = db.scalars(
        select(NativeQuerySnippet)
        .where(NativeQuerySnippet.archived.is_(archived))
        .order_by(func.lower(NativeQuerySnippet.name), NativeQuerySnippet.id)
    )
    return [hydrated(db, s) for s in snippets]


@router.get("/{snippet_id}", responses=shapes.ok(shapes.Snippet))
def get_snippet(snippet_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    snippet = check_404(db.get(NativeQuerySnippet, snippet_id))
    checks.check_snippets(db, user)
    return hydrated(db, snippet)


@router.post("", responses=shapes.ok(shapes.Snippet))
def create_snippet(body: CreateSnippetBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Create a snippet (users who may write native queries somewhere); names are unique."""
    check_name_free(db, body.name)
    checks.check_snippets(db, user)
    check_collection(db, body.collection_id)
    snippet = NativeQuerySnippet(
        name=body.name,
        content=body.content,
        description=body.description,
        collection_id=body.collection_id,
        creator_id=user.id,
        template_tags={},
    )
    db.add(snippet)
    db.flush()
    return snippet_json(snippet)


@router.put("/{snippet_id}", responses=shapes.ok(shapes.Snippet))
def update_snippet(
    snippet_id: int, body: UpdateSnippetBody, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """Change a snippet (`archived: true` retires it). `description` and `collection_id` may be cleared;
    the others are kept when sent as null."""
    snippet = check_404(db.get(NativeQuerySnippet, snippet_id))
    checks.check_snippets(db, user)
    sent = body.model_fields_set
    if body.name is not None and body.name != snippet.name:
        check_name_free(db, body.name)
    if "collection_id" in sent:
        check_collection(db, body.collection_id)
    for key in ("description", "collection_id"):
        if key in sent:
            setattr(snippet, key, getattr(body, key))
    for key in ("archived", "content", "name"):
        value = getattr(body, key)
        if value is not None:
            setattr(snippet, key, value)
    db.flush()
    return hydrated(db, snippet)
