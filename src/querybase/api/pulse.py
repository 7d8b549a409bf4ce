"""`/api/pulse`: dashboard subscriptions (Metabase's legacy "pulses"), their test send, and the anonymous
`/api/pulse/unsubscribe` links of their emails.

Who may see a subscription: admins, its creator and its recipients. Who may change it: admins, and its
creator while they may read the collection it lives in (the dashboard's). Deliveries run as the creator
(`delivery/send.py`), on the schedule of each channel (`scheduler/`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.card import readable_card
from querybase.api.deps import CurrentUser, DbSession, SettingsDep
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import (
    EMAIL_RE,
    BooleanValue,
    MbType,
    NonBlankString,
    PositiveInt,
    PositiveInt16,
    is_long,
    received,
)
from querybase.delivery import send
from querybase.delivery.render import CardPart, card_html, card_url, part_html, site_root
from querybase.email import MailError
from querybase.errors import BadRequest, Forbidden, NotFound, check_403, check_404
from querybase.models.collection import can_read_content, check_destination
from querybase.models.dashboard import Dashboard, DashboardCard
from querybase.models.pulse import (
    CHANNEL_TYPES,
    SCHEDULE_DAYS,
    SCHEDULE_FRAMES,
    SCHEDULE_TYPES,
    Pulse,
    PulseCard,
    PulseChannel,
    PulseChannelRecipient,
    is_recipient,
    pulse_channels,
    pulse_json,
)
from querybase.models.user import User
from querybase.permissions import checks
from querybase.query_processor.answers import run_card
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["pulse"])

_CARD_REFS = (
    "value must be a map with the following keys `(collection_id, description, display, id, include_csv, "
    "include_xls, name, dashboard_id, parameter_mappings)`, or value must be a map with the keys `id`, "
    "`include_csv`, `include_xls`, and `dashboard_card_id`., or value must be a map with the keys "
    "`include_csv`, `include_xls`, and `dashboard_card_id`."
)


def _one_or_more(check: Any) -> Any:
    def validate(items: list[Any]) -> list[Any]:
        if not items or not all(check(item) for item in items):
            raise ValueError("invalid")
        return items

    return AfterValidator(validate)


def _is_card_ref(item: Any) -> bool:
    """Metabase's `CoercibleToCardRef`: `include_csv` and `include_xls` flags, an optional positive `id` and
    `dashboard_card_id` (longs, as its `ms/PositiveInt`)."""
    if not isinstance(item, dict):
        return False
    flags = all(
        isinstance(item.get(k), bool) or item.get(k) in ("true", "false")
        for k in ("include_csv", "include_xls")
    )
    return flags and all(
        item.get(k) is None or (is_long(item[k]) and item[k] > 0) for k in ("id", "dashboard_card_id")
    )


CardRefs = Annotated[
    list[Any],
    _one_or_more(_is_card_ref),
    MbType(f"one or more {_CARD_REFS}", lambda value: [received(_CARD_REFS, value)]),
]
Channels = Annotated[
    list[Any],
    _one_or_more(lambda item: isinstance(item, dict)),
    MbType("one or more map", lambda value: [received("invalid type", value)]),
]
Maps = Annotated[
    list[dict[str, Any]], MbType("sequence of map", lambda value: [received("invalid type", value)])
]


class CreatePulseBody(BaseModel):
    name: NonBlankString
    cards: CardRefs
    channels: Channels
    skip_if_empty: bool | None = False
    collection_id: PositiveInt | None = None
    collection_position: PositiveInt16 | None = None
    dashboard_id: PositiveInt | None = None
    parameters: Maps | None = None


class UpdatePulseBody(BaseModel):
    name: NonBlankString | None = None
    cards: CardRefs | None = None
    channels: Channels | None = None
    skip_if_empty: bool | None = False
    collection_id: PositiveInt | None = None
    archived: bool | None = False
    parameters: Maps | None = None


class UnsubscribeBody(BaseModel):
    pulse_id: PositiveInt = Field(alias="pulse-id")
    email: str
    hash: str


# --- Permissions ------------------------------------------------------------------------------------------


def _can_read(db: Session, user: User, pulse: Pulse) -> bool:
    return user.is_superuser or pulse.creator_id == user.id or is_recipient(db, pulse.id, user.id)


def _can_write(db: Session, user: User, pulse: Pulse) -> bool:
    return user.is_superuser or (
        pulse.creator_id == user.id and can_read_content(db, user, pulse.collection_id)
    )


def _shown(db: Session, user: User, pulse: Pulse) -> dict[str, Any]:
    """The pulse with `can_write`; without its cards and recipients for a creator or recipient who may not
    read its collection (Metabase's `maybe-strip-sensitive-metadata`)."""
    data = pulse_json(db, pulse)
    if not can_read_content(db, user, pulse.collection_id):
        del data["cards"]
        for channel in data["channels"]:
            del channel["recipients"]
    data["can_write"] = _can_write(db, user, pulse)
    return data


def _check_cards(db: Session, user: User, cards: list[dict[str, Any]] | None) -> None:
    """The user must be able to read every card the pulse would show (404 when one is unknown, or when the
    dashboard card it is shown by is)."""
    for card in cards or []:
        if card.get("id") is not None:
            readable_card(db, user, card["id"])
        if card.get("dashboard_card_id") is not None:
            check_404(db.get(DashboardCard, card["dashboard_card_id"]))


# --- Writing ----------------------------------------------------------------------------------------------


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return value is True or value == "true"


def _schedule_problem(channel: dict[str, Any]) -> str | None:
    """What is wrong with the channel's type or schedule (Metabase's `valid-schedule?`), if anything."""
    kind, hour = channel.get("schedule_type"), channel.get("schedule_hour")
    day, frame = channel.get("schedule_day"), channel.get("schedule_frame")
    valid_hour = isinstance(hour, int) and not isinstance(hour, bool) and 0 <= hour <= 23
    if channel.get("channel_type") not in CHANNEL_TYPES:
        return f"channel_type must be one of {', '.join(CHANNEL_TYPES)}"
    if kind not in SCHEDULE_TYPES:
        return f"schedule_type must be one of {', '.join(SCHEDULE_TYPES)}"
    if kind == "daily" and not valid_hour:
        return "a daily schedule needs a schedule_hour from 0 to 23"
    if kind == "weekly" and not (valid_hour and day in SCHEDULE_DAYS):
        return "a weekly schedule needs a schedule_hour from 0 to 23 and a schedule_day"
    if kind == "monthly" and not (
        valid_hour
        and frame in SCHEDULE_FRAMES
        and (day is None if frame == "mid" else day is None or day in SCHEDULE_DAYS)
    ):
        return (
            "a monthly schedule needs a schedule_hour from 0 to 23 and a schedule_frame (first, mid or last)"
        )
    if not isinstance(channel.get("recipients", []), list) or not all(
        isinstance(r, dict) for r in channel.get("recipients") or []
    ):
        return "recipients must be a list of maps"
    return None


def _recipients(db: Session, channel: dict[str, Any]) -> tuple[list[int], list[str]]:
    """The channel's user ids and raw email addresses; a user must exist, and an email sent along with a
    user id must be that user's (so a test send cannot be aimed at any address through a user id)."""
    user_ids: list[int] = []
    emails: list[str] = []
    for recipient in channel.get("recipients") or []:
        user_id = recipient.get("id")
        if user_id is None:
            email = recipient.get("email")
            if isinstance(email, str) and email not in emails:
                emails.append(email)
            continue
        user = db.get(User, user_id) if isinstance(user_id, int) else None
        if user is None:
            raise NotFound(f"User {user_id} does not exist.")
        if recipient.get("email") is not None and recipient["email"] != user.email:
            raise Forbidden(f"Wrong email address for User {user_id}.")
        if user_id not in user_ids:
            user_ids.append(user_id)
    return user_ids, emails


def _checked_channels(db: Session, channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for channel in channels:
        problem = _schedule_problem(channel)
        if problem is not None:
            raise BadRequest({"errors": {"channels": problem}})
        _recipients(db, channel)
    return channels


def _save_channel(db: Session, pulse: Pulse, body: dict[str, Any], channel: PulseChannel | None) -> None:
    """Create or update a channel from its body: the schedule keeps only what its type uses."""
    user_ids, emails = _recipients(db, body)
    kind = body["schedule_type"]
    details = dict(body.get("details") or {})
    if body["channel_type"] == "email":
        details["emails"] = emails
    values = {
        "channel_type": body["channel_type"],
        "channel_id": body.get("channel_id"),
        "details": details,
        "enabled": _flag(body.get("enabled"), True),
        "schedule_type": kind,
        "schedule_hour": body.get("schedule_hour") if kind != "hourly" else None,
        "schedule_day": body.get("schedule_day") if kind in ("weekly", "monthly") else None,
        "schedule_frame": body.get("schedule_frame") if kind == "monthly" else None,
    }
    if channel is None:
        channel = PulseChannel(pulse_id=pulse.id, **values)
        db.add(channel)
        db.flush()
    else:
        for key, value in values.items():
            if getattr(channel, key) != value:
                setattr(channel, key, value)
    if body["channel_type"] != "email":
        user_ids = []
    existing = set(
        db.scalars(
            select(PulseChannelRecipient.user_id).where(PulseChannelRecipient.pulse_channel_id == channel.id)
        )
    )
    for user_id in user_ids:
        if user_id not in existing:
            db.add(PulseChannelRecipient(pulse_channel_id=channel.id, user_id=user_id))
    gone = existing - set(user_ids)
    if gone:
        db.execute(
            delete(PulseChannelRecipient).where(
                PulseChannelRecipient.pulse_channel_id == channel.id, PulseChannelRecipient.user_id.in_(gone)
            )
        )


def _save_channels(db: Session, pulse: Pulse, bodies: list[dict[str, Any]]) -> None:
    """Make the pulse's channels these: update those whose `id` is given, create the others, delete the
    rest."""
    existing = {channel.id: channel for channel in pulse_channels(db, pulse.id)}
    kept = set()
    for body in bodies:
        channel = existing.get(body.get("id")) if isinstance(body.get("id"), int) else None
        if channel is not None:
            kept.add(channel.id)
        _save_channel(db, pulse, body, channel)
    for channel_id, channel in existing.items():
        if channel_id not in kept:
            db.delete(channel)


def _card_refs(cards: list[dict[str, Any]]) -> list[tuple[int, bool, bool, bool, bool, int | None]]:
    return [
        (
            card["id"],
            _flag(card.get("include_csv"), False),
            _flag(card.get("include_xls"), False),
            _flag(card.get("format_rows"), True),
            _flag(card.get("pivot_results"), False),
            card.get("dashboard_card_id"),
        )
        for card in cards
        if card.get("id") is not None
    ]


def _save_cards(db: Session, pulse: Pulse, cards: list[dict[str, Any]]) -> None:
    db.execute(delete(PulseCard).where(PulseCard.pulse_id == pulse.id))
    for position, (card_id, csv, xls, format_rows, pivot, dashcard_id) in enumerate(_card_refs(cards)):
        db.add(
            PulseCard(
                pulse_id=pulse.id,
                card_id=card_id,
                position=position,
                include_csv=csv,
                include_xls=xls,
                format_rows=format_rows,
                pivot_results=pivot,
                dashboard_card_id=dashcard_id,
            )
        )


def _check_parameters(parameters: list[dict[str, Any]] | None) -> None:
    if parameters is not None and not all(isinstance(p.get("id"), str) and p["id"] for p in parameters):
        raise BadRequest({"message": ":parameters must be a sequence of maps with String :id keys"})


# --- Endpoints --------------------------------------------------------------------------------------------


@router.get("", responses=shapes.ok(list[shapes.ShownPulse]))
def list_pulses(
    user: CurrentUser,
    db: DbSession,
    archived: Annotated[BooleanValue | None, Query()] = False,
    dashboard_id: Annotated[PositiveInt | None, Query()] = None,
    creator_or_recipient: Annotated[BooleanValue | None, Query()] = False,
) -> list[dict[str, Any]]:
    """Dashboard subscriptions the user may change (admins: all), or with `creator_or_recipient` those they
    created or receive; those of archived dashboards are left out. Sorted by name."""
    statement = (
        select(Pulse)
        .outerjoin(Dashboard, Dashboard.id == Pulse.dashboard_id)
        .where(
            Pulse.alert_condition.is_(None),
            Pulse.archived.is_(bool(archived)),
            (Pulse.dashboard_id.is_(None)) | (Dashboard.archived.is_(False)),
        )
        .order_by(func.lower(Pulse.name), Pulse.id)
    )
    if dashboard_id is not None:
        statement = statement.where(Pulse.dashboard_id == dashboard_id)
    pulses = list(db.scalars(statement))
    if creator_or_recipient:
        pulses = [
            p
            for p in pulses
            if p.dashboard_id is not None
            and (p.creator_id == user.id or is_recipient(db, p.id, user.id))
            and _can_read(db, user, p)
        ]
    else:
        pulses = [p for p in pulses if _can_write(db, user, p)]
    return [_shown(db, user, pulse) for pulse in pulses]


@router.post("", responses=shapes.ok(shapes.PulseDetail))
def create_pulse(body: CreatePulseBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Create a subscription: the user must read its cards, and its dashboard (or for a pulse of cards,
    curate its collection). Its collection is its dashboard's."""
    _check_cards(db, user, body.cards)
    collection_id = body.collection_id
    if body.dashboard_id is None:
        check_destination(db, user, collection_id)
    else:
        dashboard = check_404(db.get(Dashboard, body.dashboard_id))
        check_403(can_read_content(db, user, dashboard.collection_id))
        collection_id = dashboard.collection_id
    _check_parameters(body.parameters)
    _checked_channels(db, body.channels)
    pulse = Pulse(
        name=body.name,
        creator_id=user.id,
        skip_if_empty=bool(body.skip_if_empty),
        collection_id=collection_id,
        collection_position=body.collection_position,
        dashboard_id=body.dashboard_id,
        parameters=body.parameters or [],
    )
    db.add(pulse)
    db.flush()
    _save_cards(db, pulse, body.cards)
    _save_channels(db, pulse, body.channels)
    db.flush()
    return pulse_json(db, pulse)


@router.get("/form_input", responses=shapes.ok(shapes.PulseFormInput))
def form_input(user: CurrentUser, settings: SettingsDep) -> dict[str, Any]:
    """The channel types a subscription can use, and whether each is set up (querybase sends email only)."""
    schedules = list(SCHEDULE_TYPES)
    return {
        "channels": {
            "email": {
                "type": "email",
                "name": "Email",
                "allows_recipients": True,
                "recipients": ["user", "email"],
                "schedules": schedules,
                "configured": bool(settings.get("email-configured?")),
            },
            "slack": {
                "type": "slack",
                "name": "Slack",
                "allows_recipients": False,
                "schedules": schedules,
                "fields": [
                    {
                        "name": "channel",
                        "type": "select",
                        "displayName": "Post to",
                        "options": [],
                        "required": True,
                    }
                ],
                "configured": False,
            },
            "http": {
                "type": "http",
                "name": "Webhook",
                "allows_recipients": False,
                "schedules": schedules,
                "configured": False,
            },
        }
    }


def _preview_part(db: Session, user: User, settings: Settings, card_id: int) -> CardPart:
    card = readable_card(db, user, card_id)
    return CardPart(card, run_card(db, user, settings, card, None, "pulse"))


def _html_page(body: str) -> HTMLResponse:
    return HTMLResponse(f'<!DOCTYPE html>\n<html><body style="margin: 0;">{body}</body></html>')


@router.get("/preview_card/{card_id}", response_class=HTMLResponse, responses=shapes.HTML)
def preview_card(card_id: int, user: CurrentUser, db: DbSession, settings: SettingsDep) -> Response:
    """The card's results as a subscription email shows them (HTML)."""
    part = _preview_part(db, user, settings, card_id)
    return _html_page(card_html(part, site_root(settings.get("site-url"))))


@router.get("/preview_card_info/{card_id}", responses=shapes.ok(shapes.PulseCardPreview))
def preview_card_info(
    card_id: int, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The card's email rendering with what it is made of."""
    part = _preview_part(db, user, settings, card_id)
    site = site_root(settings.get("site-url"))
    data = part.answer.get("data") or {}
    rows = data.get("rows") or []
    scalar = part.card.display == "scalar" and len(rows) == 1 and len(rows[0]) == 1
    return {
        "id": card_id,
        "pulse_card_type": "scalar" if scalar else "table",
        "pulse_card_html": card_html(part, site),
        "pulse_card_name": part.card.name,
        "pulse_card_url": card_url(site, part.card.id),
        "row_count": part.answer.get("row_count", 0),
        "col_count": len(data.get("cols") or []),
    }


@router.get("/preview_dashboard/{dashboard_id}", response_class=HTMLResponse, responses=shapes.HTML)
def preview_dashboard(dashboard_id: int, user: CurrentUser, db: DbSession, settings: SettingsDep) -> Response:
    """The dashboard as its subscription email shows it (HTML), run as the caller."""
    dashboard = check_404(db.get(Dashboard, dashboard_id))
    check_403(can_read_content(db, user, dashboard.collection_id))
    subscription = send.Subscription(None, dashboard.name, user, dashboard.id, False, [], [])
    page = send.subscription_page(db, settings, subscription)
    site = site_root(settings.get("site-url"))
    parts = "".join(part_html(part, site) for part in page.parts)
    return _html_page(f"<h2>Backend Artifacts Preview for Dashboard {dashboard_id}</h2>{parts}")


@router.post("/test", responses=shapes.ok(shapes.Ok))
def test_pulse(
    body: CreatePulseBody, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """Send an unsaved subscription once, now, to the recipients of its email channels (as the caller)."""
    _check_cards(db, user, body.cards)
    _checked_channels(db, body.channels)
    cards = [send.CardOptions(c[0], c[5], c[1], c[2], c[3]) for c in _card_refs(body.cards)]
    subscription = send.Subscription(
        None, body.name, user, body.dashboard_id, bool(body.skip_if_empty), body.parameters or [], cards
    )
    recipients = []
    for channel in body.channels:
        if channel.get("channel_type") == "email":
            user_ids, emails = _recipients(db, channel)
            valid = [e for e in emails if EMAIL_RE.match(e)]
            recipients.append(send.Recipients(send.active_emails(db, user_ids), valid))
    try:
        messages = send.subscription_messages(db, settings, subscription, recipients)
        db.commit()
        send.send_all(messages)
    except MailError as error:
        raise BadRequest({"message": str(error)}) from None
    return {"ok": True}


@router.get("/{pulse_id}", responses=shapes.ok(shapes.ShownPulse))
def get_pulse(pulse_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A subscription, for admins, its creator and its recipients."""
    pulse = check_404(db.get(Pulse, pulse_id))
    check_403(_can_read(db, user, pulse))
    return _shown(db, user, pulse)


@router.put("/{pulse_id}", responses=shapes.ok(shapes.PulseDetail))
def update_pulse(pulse_id: int, body: UpdatePulseBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Change a subscription (archive it with `archived: true`); channels are matched by `id`."""
    pulse = check_404(db.get(Pulse, pulse_id))
    check_403(_can_write(db, user, pulse))
    _check_cards(db, user, body.cards)
    sent = body.model_fields_set
    if "collection_id" in sent and body.collection_id != pulse.collection_id:
        if pulse.dashboard_id is not None:
            raise BadRequest(
                {"message": "collection ID of a dashboard subscription cannot be directly modified"}
            )
        checks.check_write_content(db, user, pulse.collection_id)
        check_destination(db, user, body.collection_id)
        pulse.collection_id = body.collection_id
    _check_parameters(body.parameters)
    if body.channels is not None:
        _checked_channels(db, body.channels)
    if body.name is not None:
        pulse.name = body.name
    if body.skip_if_empty is not None:
        pulse.skip_if_empty = body.skip_if_empty
    if body.parameters is not None:
        pulse.parameters = body.parameters
    if body.cards is not None:
        _save_cards(db, pulse, body.cards)
    if body.channels is not None:
        _save_channels(db, pulse, body.channels)
    archived = bool(body.archived)
    if archived != pulse.archived:
        pulse.archived = archived
        db.flush()
        for channel in pulse_channels(db, pulse.id):
            channel.enabled = not archived
    db.flush()
    db.refresh(pulse)
    return pulse_json(db, pulse)


@router.delete("/{pulse_id}/subscription", status_code=204)
def unsubscribe_self(pulse_id: int, user: CurrentUser, db: DbSession) -> Response:
    """Take the user off the subscription's email recipients."""
    pulse = check_404(db.get(Pulse, pulse_id))
    channel = check_404(
        db.scalar(
            select(PulseChannel)
            .where(PulseChannel.pulse_id == pulse.id, PulseChannel.channel_type == "email")
            .order_by(PulseChannel.id)
            .limit(1)
        )
    )
    recipient = check_404(
        db.scalar(
            select(PulseChannelRecipient).where(
                PulseChannelRecipient.pulse_channel_id == channel.id, PulseChannelRecipient.user_id == user.id
            )
        )
    )
    db.delete(recipient)
    return Response(status_code=204)


# --- Unsubscribe links (no session: the hash in the link is the proof) -------------------------------------


def _email_channel(db: Session, body: UnsubscribeBody, settings: Settings) -> PulseChannel:
    if body.hash != send.pulse_unsubscribe_hash(settings, body.pulse_id, body.email):
        raise BadRequest("Invalid hash.")
    return check_404(
        db.scalar(
            select(PulseChannel)
            .where(PulseChannel.pulse_id == body.pulse_id, PulseChannel.channel_type == "email")
            .order_by(PulseChannel.id)
            .limit(1)
        )
    )


def _unsubscribe_answer(db: Session, pulse_id: int) -> dict[str, Any]:
    pulse = db.get(Pulse, pulse_id)
    return {"status": "success", "title": pulse.name if pulse is not None and not pulse.archived else None}


@router.post("/unsubscribe", responses=shapes.ok(shapes.Unsubscribed))
def unsubscribe(body: UnsubscribeBody, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """Take a raw email address off a subscription, from the link in its email."""
    channel = _email_channel(db, body, settings)
    emails = list((channel.details or {}).get("emails") or [])
    if body.email not in emails:
        raise BadRequest("Email for pulse-id doesn't exist.")
    channel.details = {**(channel.details or {}), "emails": [e for e in emails if e != body.email]}
    return _unsubscribe_answer(db, body.pulse_id)


@router.post("/unsubscribe/undo", responses=shapes.ok(shapes.Unsubscribed))
def undo_unsubscribe(body: UnsubscribeBody, db: DbSession, settings: SettingsDep) -> dict[str, Any]:
    """Put an address back on a subscription it was just taken off."""
    channel = _email_channel(db, body, settings)
    emails = list((channel.details or {}).get("emails") or [])
    if body.email in emails:
        raise BadRequest("Email for pulse-id already exists.")
    channel.details = {**(channel.details or {}), "emails": [*emails, body.email]}
    return _unsubscribe_answer(db, body.pulse_id)
