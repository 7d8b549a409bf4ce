"""`/api/revision`: the history of cards, dashboards, segments and legacy metrics, and reverting.

Each revision stores a snapshot of the object (`models/revision.py`); the list describes each one by
comparing it with the revision before it, in Metabase's words ("renamed this Card from "A" to "B".").
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import PositiveInt
from querybase.api.table import enum_type
from querybase.errors import check_403, check_404
from querybase.models.base import Base
from querybase.models.card import NOT_IN_REVISIONS as CARD_NOT_IN_REVISIONS
from querybase.models.card import Card
from querybase.models.collection import Collection
from querybase.models.dashboard import NOT_IN_REVISIONS as DASHBOARD_NOT_IN_REVISIONS
from querybase.models.dashboard import Dashboard, DashboardCard, DashboardCardSeries, DashboardTab
from querybase.models.revision import Revision, record_revision

# Segments and legacy metrics record their revisions through this module.
from querybase.models.revision import push_revision as push_revision
from querybase.models.segment import LegacyMetric, Segment
from querybase.models.user import User
from querybase.permissions import checks
from querybase.permissions import collection as collection_permissions

router = APIRouter(route_class=MetabaseRoute, tags=["revision"])

# Metabase's entity names (its `document` has no counterpart here) and the revisioned models.
ENTITY_VALUES = ("card", "dashboard", "document", "segment", "legacy-metric")
Entity = Annotated[Literal[ENTITY_VALUES], enum_type(*ENTITY_VALUES)]  # type: ignore[valid-type]
MODELS: dict[str, type[Base]] = {
    "card": Card,
    "dashboard": Dashboard,
    "segment": Segment,
    "legacy-metric": LegacyMetric,
}
# The model name a revision row carries, and the name its descriptions call it by.
MODEL_NAMES = {Card: "Card", Dashboard: "Dashboard", Segment: "Segment", LegacyMetric: "LegacyMetric"}
DISPLAY_NAMES = {"Card": "Card", "Dashboard": "Dashboard", "Segment": "Segment", "LegacyMetric": "Metric"}
# Never restored from a snapshot: identity and bookkeeping (and, for cards and dashboards, whatever their
# revisions leave out, in case an older snapshot holds it).
NOT_REVERTED = frozenset({"id", "entity_id", "created_at", "updated_at", "creator_id"})
MODEL_NOT_REVERTED = {"Card": NOT_REVERTED | CARD_NOT_IN_REVISIONS, "Dashboard": DASHBOARD_NOT_IN_REVISIONS}
DASHCARD_NOT_REVERTED = frozenset({"id", "entity_id", "created_at", "updated_at", "dashboard_id"})


class RevertBody(BaseModel):
    entity: Entity
    id: PositiveInt
    revision_id: PositiveInt


# ---------------------------------------------------------------------------------------------------
# Describing revisions.


def diff(before: Any, after: Any) -> tuple[Any, Any]:
    """What only `before` has and what only `after` has, as `clojure.data/diff` (Metabase's revision
    diff) reports them: maps key by key, lists index by index, other values whole; None for an empty side."""
    only_before, only_after, _ = _diff3(before, after)
    return only_before, only_after


def _diff3(before: Any, after: Any) -> tuple[Any, Any, Any]:
    """`clojure.data/diff`'s three parts: only in `before`, only in `after`, and in both."""
    if before == after:
        return None, None, before
    if isinstance(before, dict) and isinstance(after, dict):
        b, a, shared = _diff_keys(before, after, list({**before, **after}))
        return b or None, a or None, shared or None
    if isinstance(before, list) and isinstance(after, list):
        indices = range(max(len(before), len(after)))
        b, a, shared = _diff_keys(dict(enumerate(before)), dict(enumerate(after)), indices)
        return _vectorize(b), _vectorize(a), _vectorize(shared)
    return before, after, None


def _diff_keys(
    before: dict[Any, Any], after: dict[Any, Any], keys: Any
) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any]]:
    """The three parts key by key (list indices are keys too)."""
    only_before: dict[Any, Any] = {}
    only_after: dict[Any, Any] = {}
    both: dict[Any, Any] = {}
    for key in keys:
        in_before, in_after = key in before, key in after
        old, new = before.get(key), after.get(key)
        b, a, shared = _diff3(old, new)
        # A key whose values share nothing is reported on both sides, even as null.
        same = in_before and in_after and (shared is not None or (old is None and new is None))
        if in_before and (b is not None or not same):
            only_before[key] = b
        if in_after and (a is not None or not same):
            only_after[key] = a
        if same:
            both[key] = shared
    return only_before, only_after, both


def _vectorize(by_index: dict[int, Any]) -> list[Any] | None:
    """Clojure's list form of a diff part: values at their indices, nulls between, None when empty."""
    if not by_index:
        return None
    values: list[Any] = [None] * (max(by_index) + 1)
    for index, value in by_index.items():
        values[index] = value
    return values


def _collection_name(db: Session, collection_id: Any) -> str:
    if collection_id is None:
        return "Our analytics"
    collection = db.get(Collection, collection_id) if isinstance(collection_id, int) else None
    return collection.name if collection is not None else str(collection_id)


def _dashboard_name(db: Session, dashboard_id: Any) -> str | None:
    dashboard = db.get(Dashboard, dashboard_id) if isinstance(dashboard_id, int) else None
    return dashboard.name if dashboard is not None else None


def _change(db: Session, key: str, old: Any, new: Any, identifier: str) -> str | None:
    """Metabase's phrase for one changed key (None for keys it does not mention)."""
    simple = {
        "document": "edited the content",
        "embedding_type": "changed the embedding type",
        "parameters": "changed the filters",
        "embedding_params": "changed the embedding parameters",
        "collection_position": "changed pin position",
        "visualization_settings": "changed the visualization settings",
        "parameter_mappings": "changed the filter mapping",
        "dataset_query": "modified the query",
        "result_metadata": "edited the metadata",
        "source": "changed the source",
    }
    if key == "name":
        return f'renamed {identifier} from "{old}" to "{new}"'
    if key == "description":
        return "added a description" if old is None else "changed the description"
    if key == "private" and isinstance(old, bool) and isinstance(new, bool):
        return f"made {identifier} {'private' if new else 'public'}"
    if key == "public_uuid" and (old is None or new is None):
        return f"made {identifier} {'private' if new is None else 'public'}"
    if key == "enable_embedding" and isinstance(old, bool) and isinstance(new, bool):
        return "enabled embedding" if new else "disabled embedding"
    if key in simple:
        return simple[key]
    if key == "archived":
        return f"trashed {identifier}" if new else f"untrashed {identifier}"
    if key == "collection_id":
        if old is None:
            return f"moved {identifier} to {_collection_name(db, new)}"
        return f"moved {identifier} from {_collection_name(db, old)} to {_collection_name(db, new)}"
    if key == "collection_preview":
        return "enabled collection review" if new else "disabled collection preview"
    if key == "type":
        if old == "question" and new == "model":
            return "turned this to a model"
        return f"type changed from {old} to {new}"
    if key == "display":
        return f"changed the display from {old} to {new}"
    if key == "dashboard_id":
        if old is not None and new is not None:
            return f"moved from dashboard {_dashboard_name(db, old)} to {_dashboard_name(db, new)}"
        if old is None:
            return f"moved this question into {_dashboard_name(db, new)}"
        return f"moved this question from {_dashboard_name(db, old)}"
    if key == "width":
        return (
            f"changed the width setting from {old} to {new}" if old and new else "changed the width setting"
        )
    return None


def change_strings(db: Session, model: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One phrase per described change; the first names the object ("this Card"), later ones say "it"."""
    only_before, only_after = diff(before, after)
    if only_before is None and only_after is None:
        return []
    keys = list((only_after or only_before or {}).keys())
    if model == "Card" and (only_before or {}).get("dashboard_id") != (only_after or {}).get("dashboard_id"):
        keys = [k for k in keys if k != "collection_id"]
    strings: list[str] = []
    for key in keys:
        identifier = f"this {DISPLAY_NAMES[model]}" if not strings else "it"
        phrase = _change(db, key, (only_before or {}).get(key), (only_after or {}).get(key), identifier)
        if phrase is not None:
            strings.append(phrase)
    return strings


def _counted(count: int, one: str, many: str) -> str:
    return one if count == 1 else many.format(_message_arg(count))


def _message_arg(value: Any) -> str:
    """A value as Metabase's translated messages (Java's MessageFormat) show it: numbers grouped by
    thousands."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _cards_phrase(before: dict[str, Any], after: dict[str, Any], removed: Any, changed: Any) -> str:
    """How the dashboard's cards changed: added, removed, moved about, or otherwise modified."""
    old_ids = {card.get("id") for card in before.get("cards") or []}
    new_ids = {card.get("id") for card in after.get("cards") or []}
    # Like Metabase, every position the index-wise diff holds counts, the unchanged ones as a null key.
    changed_keys: set[Any] = set()
    for entry in [*(changed or []), *(removed or [])]:
        changed_keys |= set(entry) if isinstance(entry, dict) else {None}
    if old_ids <= new_ids and len(old_ids) < len(new_ids):
        return _counted(len(new_ids) - len(old_ids), "added a card", "added {} cards")
    if new_ids <= old_ids and len(old_ids) > len(new_ids):
        return _counted(len(old_ids) - len(new_ids), "removed a card", "removed {} cards")
    if changed_keys <= {"row", "col", "size_x", "size_y"}:
        return "rearranged the cards"
    return "modified the cards"


def _tabs_phrase(before: dict[str, Any], after: dict[str, Any]) -> str:
    old_tabs, new_tabs = before.get("tabs") or [], after.get("tabs") or []
    old_ids, new_ids = {tab.get("id") for tab in old_tabs}, {tab.get("id") for tab in new_tabs}
    if old_ids <= new_ids and len(old_ids) < len(new_ids):
        return _counted(len(new_ids) - len(old_ids), "added a tab", "added {} tabs")
    if new_ids <= old_ids and len(old_ids) > len(new_ids):
        return _counted(len(old_ids) - len(new_ids), "removed a tab", "removed {} tabs")

    def unpositioned(tabs: list[dict[str, Any]]) -> set[str]:
        return {repr(sorted((k, v) for k, v in tab.items() if k != "position")) for tab in tabs}

    if unpositioned(old_tabs) == unpositioned(new_tabs):
        return "rearranged the tabs"
    return "modified the tabs"


def _series_phrase(before: dict[str, Any], after: dict[str, Any], index: int, changes: Any) -> str | None:
    old_cards, new_cards = before.get("cards") or [], after.get("cards") or []
    old_card = old_cards[index] if index < len(old_cards) else {}
    if not (isinstance(changes, dict) and changes.get("series") and old_card.get("card_id")):
        return None
    old_count = len(old_card.get("series") or [])
    new_count = len((new_cards[index] if index < len(new_cards) else {}).get("series") or [])
    card_id = old_card["card_id"]
    if old_count < new_count:
        return f"added some series to card {card_id}"
    if old_count > new_count:
        return f"removed some series from card {card_id}"
    return f"modified the series on card {card_id}"


def dashboard_change_strings(db: Session, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Metabase's description parts for a dashboard: its columns' changes as one sentence (without the
    period), then its cache, cards, tabs, auto-apply and series changes."""
    removals, changes = diff(before, after)
    removals, changes = removals or {}, changes or {}
    parts: list[str] = []
    columns = change_strings(db, "Dashboard", before, after)
    if columns:
        parts.append(build_sentence(columns).removesuffix("."))
    # Metabase looks at the new value only, so removing the cache TTL goes undescribed.
    if changes.get("cache_ttl") is not None:
        if before.get("cache_ttl") is None:
            parts.append("added a cache ttl")
        else:
            old, new = _message_arg(before["cache_ttl"]), _message_arg(after.get("cache_ttl"))
            parts.append(f'changed the cache ttl from "{old}" to "{new}"')
    if changes.get("cards") or removals.get("cards"):
        parts.append(_cards_phrase(before, after, removals.get("cards"), changes.get("cards")))
    if changes.get("tabs") or removals.get("tabs"):
        parts.append(_tabs_phrase(before, after))
    if bool(before.get("auto_apply_filters")) != bool(after.get("auto_apply_filters")):
        parts.append(f"set auto apply filters to {str(bool(after.get('auto_apply_filters'))).lower()}")
    for index, card_changes in enumerate(changes.get("cards") or []):
        phrase = _series_phrase(before, after, index, card_changes)
        if phrase is not None:
            parts.append(phrase)
    return parts


def build_sentence(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0] + "."
    if len(parts) == 2:
        return f"{parts[0]} and {parts[1]}."
    return f"{parts[0]}, {build_sentence(parts[1:])}"


def revision_json(db: Session, revision: Revision, previous: Revision | None) -> dict[str, Any]:
    """A revision as `/api/revision` lists it: its diff with the revision before, described."""
    if revision.is_creation:
        changes = ["created this"]
    elif revision.is_reversion:
        changes = ["reverted to an earlier version"]
    elif previous is None:
        changes = ["modified this"]
    elif revision.model == "Dashboard":
        changes = dashboard_change_strings(db, previous.object or {}, revision.object or {})
    else:
        changes = change_strings(db, revision.model, previous.object or {}, revision.object or {})
    user = db.get(User, revision.user_id)
    before, after = diff(previous.object, revision.object) if previous is not None else (None, None)
    return {
        "id": revision.id,
        "timestamp": revision.timestamp,
        "is_creation": revision.is_creation,
        "is_reversion": revision.is_reversion,
        "most_recent": revision.most_recent,
        "message": revision.message,
        "metabase_version": revision.metabase_version,
        "diff": {"before": before, "after": after} if previous is not None else None,
        "description": build_sentence(changes) if changes else "created a revision with no change.",
        "has_multiple_changes": len(changes) > 1,
        "user": (
            {
                "id": user.id,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "common_name": user.common_name,
            }
            if user is not None
            else None
        ),
    }


def revisions_json(db: Session, model: str, model_id: int) -> list[dict[str, Any]]:
    """Every revision of an object, newest first, each described against the one before it."""
    revisions = list(
        db.scalars(
            select(Revision)
            .where(Revision.model == model, Revision.model_id == model_id)
            .order_by(Revision.id.desc())
        )
    )
    return [
        revision_json(db, revision, revisions[i + 1] if i + 1 < len(revisions) else None)
        for i, revision in enumerate(revisions)
    ]


# ---------------------------------------------------------------------------------------------------
# Permissions and reverting.


def _collection_allows(db: Session, user: User, instance: Any, *, write: bool) -> bool:
    """Cards and dashboards follow their collection (the root's when they have none)."""
    collection_id = getattr(instance, "collection_id", None)
    allowed = collection_permissions.can_write_content if write else collection_permissions.can_read_content
    return allowed(db, user, collection_id)


def find_instance(db: Session, user: User, entity: str, object_id: int, *, write: bool) -> Any:
    """The object behind `entity`/`object_id`, checked for the user (segments and legacy metrics are
    written by admins only)."""
    model = MODELS.get(entity)
    instance = check_404(db.get(model, object_id) if model is not None else None)
    if isinstance(instance, (Segment, LegacyMetric)):
        check_403(user.is_superuser if write else checks.can_read_table_item(db, user, instance))
    else:
        check_403(_collection_allows(db, user, instance, write=write))
    return instance


def _column_value(column: Any, value: Any) -> Any:
    """A snapshot value for `column`: JSON keeps datetimes as ISO strings."""
    if isinstance(value, str) and column.type.python_type is dt.datetime:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def restore_columns(instance: Any, snapshot: dict[str, Any], skip: frozenset[str]) -> None:
    """Set every column of `instance` that the snapshot holds (columns dropped since are ignored)."""
    for column in inspect(type(instance)).columns:
        if column.key in snapshot and column.key not in skip:
            setattr(instance, column.key, _column_value(column, snapshot[column.key]))


def restore_dashcards(
    db: Session, dashboard: Dashboard, dashcards: list[dict[str, Any]], tab_ids: dict[Any, int]
) -> None:
    """Make the dashboard's cards those of the snapshot: update those still there, re-create removed ones,
    delete the ones added since; each card's `series` (card ids) is restored too."""
    existing = {
        dc.id: dc
        for dc in db.scalars(select(DashboardCard).where(DashboardCard.dashboard_id == dashboard.id))
    }
    kept: set[int] = set()
    for data in dashcards:
        dashcard = existing.get(data.get("id")) if isinstance(data.get("id"), int) else None
        if dashcard is None:
            dashcard = DashboardCard(dashboard_id=dashboard.id)
            db.add(dashcard)
        restore_columns(dashcard, data, DASHCARD_NOT_REVERTED)
        if dashcard.dashboard_tab_id is not None:
            dashcard.dashboard_tab_id = tab_ids.get(dashcard.dashboard_tab_id, dashcard.dashboard_tab_id)
        db.flush()
        kept.add(dashcard.id)
        if "series" in data:
            db.execute(delete(DashboardCardSeries).where(DashboardCardSeries.dashboardcard_id == dashcard.id))
            series_ids = [s.get("id") if isinstance(s, dict) else s for s in data["series"] or []]
            existing_cards = (
                set(db.scalars(select(Card.id).where(Card.id.in_(series_ids)))) if series_ids else set()
            )
            for position, card_id in enumerate(c for c in series_ids if c in existing_cards):
                db.add(DashboardCardSeries(dashboardcard_id=dashcard.id, card_id=card_id, position=position))
    for dashcard_id, dashcard in existing.items():
        if dashcard_id not in kept:
            db.delete(dashcard)
    db.flush()


def restore_tabs(
    db: Session, dashboard: Dashboard, tabs: list[dict[str, Any]]
) -> tuple[dict[Any, int], list[DashboardTab]]:
    """Restore the snapshot's tabs (before its cards, which point at them). Returns each snapshot tab id's
    current id (re-created tabs get new ones) and the tabs the snapshot lacks, to delete once the cards
    have moved off them."""
    existing = {
        t.id: t for t in db.scalars(select(DashboardTab).where(DashboardTab.dashboard_id == dashboard.id))
    }
    kept: set[int] = set()
    ids: dict[Any, int] = {}
    for data in tabs:
        tab = existing.get(data.get("id")) if isinstance(data.get("id"), int) else None
        if tab is None:
            tab = DashboardTab(dashboard_id=dashboard.id)
            db.add(tab)
        restore_columns(tab, data, DASHCARD_NOT_REVERTED)
        db.flush()
        kept.add(tab.id)
        ids[data.get("id")] = tab.id
    stale = [tab for tab_id, tab in existing.items() if tab_id not in kept]
    return ids, stale


def usable_dashcards(db: Session, dashboard_id: int, dashcards: list[Any]) -> list[dict[str, Any]]:
    """The snapshot's dashcards without those whose card is gone, archived, or now in another dashboard
    (Metabase's `remove-invalid-dashcards`)."""
    cards = [d for d in dashcards if isinstance(d, dict)]
    card_ids = {d["card_id"] for d in cards if isinstance(d.get("card_id"), int)}
    usable = (
        set(
            db.scalars(
                select(Card.id).where(
                    Card.id.in_(card_ids),
                    Card.archived.is_(False),
                    (Card.dashboard_id == dashboard_id) | Card.dashboard_id.is_(None),
                )
            )
        )
        if card_ids
        else set()
    )
    return [d for d in cards if d.get("card_id") is None or d.get("card_id") in usable]


def usable_parameters(db: Session, parameters: Any) -> Any:
    """The snapshot's parameters, those whose values came from a card that is gone or archived reset to
    their connected fields (Metabase's `clean-invalid-parameter-card-references`)."""
    if not isinstance(parameters, list):
        return parameters
    sources = {
        p["values_source_config"].get("card_id")
        for p in parameters
        if isinstance(p, dict) and isinstance(p.get("values_source_config"), dict)
    } - {None}
    usable = (
        set(db.scalars(select(Card.id).where(Card.id.in_(sources), Card.archived.is_(False))))
        if sources
        else set()
    )
    cleaned = []
    for parameter in parameters:
        config = parameter.get("values_source_config") if isinstance(parameter, dict) else None
        if isinstance(config, dict) and config.get("card_id") is not None and config["card_id"] not in usable:
            parameter = {
                k: v for k, v in parameter.items() if k not in ("values_source_type", "values_source_config")
            }
        cleaned.append(parameter)
    return cleaned


def revert(db: Session, user: User, entity: str, object_id: int, revision_id: int) -> dict[str, Any]:
    instance = find_instance(db, user, entity, object_id, write=True)
    model = MODEL_NAMES[type(instance)]
    revision = check_404(
        db.scalar(
            select(Revision).where(
                Revision.id == revision_id, Revision.model == model, Revision.model_id == object_id
            )
        )
    )
    snapshot: dict[str, Any] = revision.object or {}
    values = dict(snapshot)
    if isinstance(instance, Card) and "dataset" in values:
        # Cards saved before Metabase 0.50 were models by a `dataset` flag.
        values["type"] = "model" if values.pop("dataset") else "question"
    if isinstance(instance, Dashboard) and "parameters" in values:
        values["parameters"] = usable_parameters(db, values["parameters"])
    restore_columns(instance, values, MODEL_NOT_REVERTED.get(model, NOT_REVERTED))
    if isinstance(instance, Dashboard):
        tabs = snapshot.get("tabs")
        tab_ids, stale_tabs = restore_tabs(db, instance, tabs) if isinstance(tabs, list) else ({}, [])
        dashcards = snapshot.get("cards")
        if isinstance(dashcards, list):
            restore_dashcards(db, instance, usable_dashcards(db, instance.id, dashcards), tab_ids)
        for tab in stale_tabs:
            db.delete(tab)
    db.flush()
    previous = db.scalar(
        select(Revision)
        .where(Revision.model == model, Revision.model_id == object_id)
        .order_by(Revision.id.desc())
        .limit(1)
    )
    reversion = record_revision(
        db, model=model, model_id=object_id, user_id=user.id, snapshot=snapshot, is_reversion=True
    )
    return revision_json(db, reversion, previous)


@router.get("", responses=shapes.ok(list[shapes.Revision]))
def list_revisions(entity: Entity, id: PositiveInt, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The revisions of a card, dashboard, segment or legacy metric, newest first."""
    instance = find_instance(db, user, entity, id, write=False)
    return revisions_json(db, MODEL_NAMES[type(instance)], id)


@router.post("/revert", responses=shapes.ok(shapes.Revision))
def revert_endpoint(body: RevertBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Restore an object to one of its revisions; the reversion becomes its newest revision."""
    return revert(db, user, body.entity, body.id, body.revision_id)


@router.get("/{entity}/{object_id}", responses=shapes.ok(list[shapes.Revision]))
def revisions_of(entity: Entity, object_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    instance = find_instance(db, user, entity, object_id, write=False)
    return revisions_json(db, MODEL_NAMES[type(instance)], object_id)
