"""Deliveries: a dashboard subscription or an alert, run as its creator and turned into emails.

Each builder reads what it needs through the caller's app-DB session, runs the cards as the API does
(`query_processor.answers`: `run_dashboard_card`, `run_card`; the creator's permissions apply, as in
Metabase, so every recipient sees what the creator may see) and returns prepared messages. The caller
sends them once its transaction is over (`transmit`), so no app-DB lock is held while talking to the
mail server.

Users get one message together (hidden from each other when `bcc-enabled?`); each raw email address gets
its own, whose footer links to the unsubscribe page with Metabase's hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.api.schema import EMAIL_RE
from querybase.delivery.render import (
    CardPart,
    Page,
    Part,
    TextPart,
    attachments,
    card_url,
    dashboard_url,
    page_html,
    site_root,
)
from querybase.email.smtp import Outgoing, prepare, transmit
from querybase.errors import ApiError
from querybase.models.card import Card
from querybase.models.dashboard import Dashboard, DashboardCard, dashboard_cards, dashboard_tabs
from querybase.models.notification import (
    EMAIL,
    GROUP,
    RAW_VALUE,
    USER,
    Notification,
    NotificationHandler,
    payload_card,
)
from querybase.models.notification import handlers as notification_handlers
from querybase.models.notification import recipients as notification_recipients
from querybase.models.pulse import Pulse, PulseChannel, active_recipient_users, pulse_cards, raw_emails
from querybase.models.user import PermissionsGroupMembership, User
from querybase.query_processor.answers import run_card, run_dashboard_card
from querybase.settings.registry import Settings

log = logging.getLogger("querybase.delivery")

MANAGE = "Manage your subscriptions"
UNSUBSCRIBE = "Unsubscribe"
_GOAL_DISPLAYS = ("area", "bar", "line")


class DeliveryError(Exception):
    """The delivery cannot be made now (a query failed): the job fails and is tried again later."""


@dataclass
class Recipients:
    """Who one channel mails: active users together, each raw address on its own."""

    users: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    # The notification handler the addresses belong to (its id is in alert unsubscribe links).
    handler_id: int | None = None


@dataclass
class CardOptions:
    """A subscription's attachment choices for one of its cards."""

    card_id: int
    dashboard_card_id: int | None = None
    include_csv: bool = False
    include_xls: bool = False
    format_rows: bool = True


@dataclass
class Subscription:
    """A dashboard subscription (or a legacy pulse of cards), saved (`pulse_id`) or being tested."""

    pulse_id: int | None
    name: str | None
    creator: User
    dashboard_id: int | None
    skip_if_empty: bool
    parameters: list[dict[str, Any]]
    cards: list[CardOptions]


@dataclass
class Alert:
    """An alert on a card (a `notification/card` notification), saved or being tested."""

    notification_id: int | None
    creator: User
    card: Card
    send_condition: str
    send_once: bool
    handlers: list[Recipients]


# --- Unsubscribe links ------------------------------------------------------------------------------------


def unsubscribe_hash(salt: str, key: str, owner_id: int, email: str) -> str:
    """Metabase's hash for unsubscribe links: PBKDF2-SHA512 (100,000 rounds, empty salt) of the JSON
    `{"salt": salt, "email": email, key: owner_id}`, in hex. `salt` is the instance's secret
    `site-uuid-for-unsubscribing-url`."""
    payload = json.dumps(
        {"salt": salt, "email": email, key: owner_id}, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.pbkdf2_hmac("sha512", payload.encode(), b"", 100_000, 64).hex()


def _salt(settings: Settings) -> str:
    return settings.get("site-uuid-for-unsubscribing-url") or ""


def pulse_unsubscribe_hash(settings: Settings, pulse_id: int, email: str) -> str:
    return unsubscribe_hash(_salt(settings), "pulse-id", pulse_id, email)


def notification_unsubscribe_hash(settings: Settings, handler_id: int, email: str) -> str:
    return unsubscribe_hash(_salt(settings), "notification-id", handler_id, email)


def _unsubscribe_url(site: str, query: dict[str, Any]) -> str:
    return f"{site}/unsubscribe?{urlencode(query)}"


# --- Running the cards ------------------------------------------------------------------------------------


def _failed(error: str) -> dict[str, Any]:
    return {"status": "failed", "error": error, "row_count": 0, "data": {"rows": [], "cols": []}}


def _answer(db: Session, card: Card, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The card's answer; a card that cannot run at all (its database is gone, a filter no longer fits)
    shows as failed instead of stopping the whole delivery."""
    try:
        return run()
    except ApiError as error:
        db.rollback()
        log.warning("card %d could not run for a delivery: %s", card.id, error)
        return _failed(str(error))


def _sent_parameters(dashboard: Dashboard, parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subscription's filter values for the dashboard's current filters (a subscription's `default` is
    its value, as in Metabase); filters the dashboard no longer has are dropped."""
    known = {p.get("id") for p in dashboard.parameters or [] if isinstance(p, dict)}
    sent = []
    for parameter in parameters:
        if not isinstance(parameter, dict) or parameter.get("id") not in known:
            continue
        value = parameter.get("value", parameter.get("default"))
        if value is not None:
            sent.append({"id": parameter["id"], "type": parameter.get("type"), "value": value})
    return sent


def _filters(dashboard: Dashboard, sent: list[dict[str, Any]]) -> list[tuple[str, str]]:
    values = {p["id"]: p["value"] for p in sent}
    shown = []
    for parameter in dashboard.parameters or []:
        if not isinstance(parameter, dict):
            continue
        value = values.get(parameter.get("id"), parameter.get("default"))
        if value is None or value == []:
            continue
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        shown.append((str(parameter.get("name") or parameter.get("slug") or parameter["id"]), text))
    return shown


def _options(cards: list[CardOptions], dashcard: DashboardCard) -> CardOptions:
    for options in cards:
        if options.dashboard_card_id == dashcard.id:
            return options
    for options in cards:
        if options.card_id == dashcard.card_id and options.dashboard_card_id is None:
            return options
    return CardOptions(card_id=dashcard.card_id or 0)


def _text_part(dashcard: DashboardCard) -> TextPart | None:
    """A text or heading card; link, action, iframe and placeholder cards are left out of emails."""
    settings = dashcard.visualization_settings if isinstance(dashcard.visualization_settings, dict) else {}
    display = (settings.get("virtual_card") or {}).get("display")
    text = settings.get("text")
    if display not in (None, "text", "heading") or not isinstance(text, str) or not text.strip():
        return None
    return TextPart(text, heading=display == "heading")


def _dashboard_parts(
    db: Session, settings: Settings, subscription: Subscription, dashboard: Dashboard
) -> tuple[list[Part], list[tuple[str, str]]]:
    sent = _sent_parameters(dashboard, subscription.parameters)
    tabs = dashboard_tabs(db, dashboard.id)
    dashcards = dashboard_cards(db, dashboard.id)
    tab_ids = {tab.id for tab in tabs}
    # Tab by tab, each titled when there are several (Metabase leaves a single tab's title out).
    groups = [(None, [d for d in dashcards if d.dashboard_tab_id not in tab_ids])]
    groups += [(tab.name, [d for d in dashcards if d.dashboard_tab_id == tab.id]) for tab in tabs]
    parts: list[Part] = []
    for tab_name, tab_cards in groups:
        if len(tabs) > 1 and tab_name:
            parts.append(TextPart(tab_name, heading=True))
        for dashcard in tab_cards:
            if dashcard.card_id is None:
                text = _text_part(dashcard)
                if text is not None:
                    parts.append(text)
                continue
            card = db.get(Card, dashcard.card_id)
            if card is None or card.archived:
                continue
            found = (dashboard, dashcard, card)
            answer = _answer(
                db,
                card,
                lambda found=found: run_dashboard_card(
                    db, subscription.creator, settings, found, sent, "dashboard-subscription"
                ),
            )
            options = _options(subscription.cards, dashcard)
            parts.append(
                CardPart(card, answer, options.include_csv, options.include_xls, options.format_rows)
            )
    return parts, _filters(dashboard, sent)


def _card_parts(db: Session, settings: Settings, subscription: Subscription) -> list[Part]:
    parts: list[Part] = []
    for options in subscription.cards:
        card = db.get(Card, options.card_id)
        if card is None or card.archived:
            continue
        answer = _answer(
            db, card, lambda card=card: run_card(db, subscription.creator, settings, card, None, "pulse")
        )
        parts.append(CardPart(card, answer, options.include_csv, options.include_xls, options.format_rows))
    return parts


# --- Messages ---------------------------------------------------------------------------------------------


def _messages(
    settings: Settings,
    *,
    subject: str,
    page: Page,
    recipients: Recipients,
    unsubscribe: Callable[[str], str | None],
    files: list[tuple[str, bytes, str]],
) -> list[Outgoing]:
    site = site_root(settings.get("site-url"))
    messages = []
    if recipients.users:
        body = page_html(page, site, (MANAGE, f"{site}/account/notifications"))
        bcc = bool(settings.get("bcc-enabled?"))
        messages.append(
            prepare(settings, to=recipients.users, subject=subject, body=body, attachments=files, bcc=bcc)
        )
    for email in recipients.others:
        body = page_html(page, site, (UNSUBSCRIBE, unsubscribe(email)))
        messages.append(prepare(settings, to=[email], subject=subject, body=body, attachments=files))
    return messages


def subscription_page(db: Session, settings: Settings, subscription: Subscription) -> Page:
    """The subscription's content: its dashboard's cards and texts run as the creator (for a pulse of
    cards, those cards)."""
    site = site_root(settings.get("site-url"))
    dashboard = db.get(Dashboard, subscription.dashboard_id) if subscription.dashboard_id else None
    if dashboard is not None:
        parts, filters = _dashboard_parts(db, settings, subscription, dashboard)
        return Page(dashboard.name, dashboard_url(site, dashboard.id), parts, filters)
    return Page(subscription.name or "", site or "/", _card_parts(db, settings, subscription))


def subscription_messages(
    db: Session, settings: Settings, subscription: Subscription, recipients: list[Recipients]
) -> list[Outgoing]:
    """The subscription's emails, or none when `skip_if_empty` and every card came back empty."""
    site = site_root(settings.get("site-url"))
    page = subscription_page(db, settings, subscription)
    card_parts = [p for p in page.parts if isinstance(p, CardPart)]
    if subscription.skip_if_empty and all(p.empty for p in card_parts):
        log.info("subscription %s skipped: every card is empty", subscription.pulse_id)
        return []
    files = [f for p in card_parts for f in attachments(p)]
    pulse_id = subscription.pulse_id

    def unsubscribe(email: str) -> str | None:
        if pulse_id is None:
            return None
        query = {
            "hash": pulse_unsubscribe_hash(settings, pulse_id, email),
            "email": email,
            "pulse-id": pulse_id,
        }
        return _unsubscribe_url(site, query)

    return [
        message
        for group in recipients
        for message in _messages(
            settings, subject=page.title, page=page, recipients=group, unsubscribe=unsubscribe, files=files
        )
    ]


def _goal_value(card: Card) -> Any:
    settings = card.visualization_settings if isinstance(card.visualization_settings, dict) else {}
    if card.display in _GOAL_DISPLAYS:
        return settings.get("graph.goal_value")
    if card.display == "progress":
        return settings.get("progress.goal")
    return None


def _is_metric(col: dict[str, Any]) -> bool:
    numeric = (
        "type/Number",
        "type/Integer",
        "type/BigInteger",
        "type/Float",
        "type/Decimal",
        "type/Currency",
    )
    return (
        col.get("source") != "breakout"
        and col.get("base_type") in numeric
        and not str(col.get("effective_type") or "").startswith("type/Date")
        and col.get("semantic_type") not in ("type/PK", "type/FK")
    )


def _goal_column(card: Card, cols: list[dict[str, Any]]) -> int | None:
    """Which column is compared to the goal: the first of `graph.metrics`, else Metabase's default for the
    shape of the result (the metric after one or two dimensions)."""
    settings = card.visualization_settings if isinstance(card.visualization_settings, dict) else {}
    metrics = settings.get("graph.metrics") or []
    if metrics:
        names = [str(c.get("name", "")).lower() for c in cols]
        wanted = str(metrics[0]).lower()
        return names.index(wanted) if wanted in names else None
    if card.display == "progress":
        return 0
    dimension = [c.get("source") != "aggregation" for c in cols]
    if len(cols) == 3 and dimension[0] and dimension[1] and _is_metric(cols[2]):
        return 2
    if len(cols) >= 2 and dimension[0] and all(_is_metric(c) for c in cols[1:]):
        return 1
    return None


def goal_met(card: Card, answer: dict[str, Any], above: bool) -> bool:
    """Whether any row reaches the card's goal (at or above it) or, for `goal_below`, is below it."""
    goal = _goal_value(card)
    data = answer.get("data") or {}
    index = _goal_column(card, data.get("cols") or [])
    if not isinstance(goal, int | float) or index is None:
        log.warning("alert on card %d cannot compare its results to a goal", card.id)
        return False
    values = [row[index] for row in data.get("rows") or [] if isinstance(row[index], int | float)]
    return any(v >= goal if above else v < goal for v in values)


ALERT_SUBJECTS = {
    "has_result": "Alert: {} has results",
    "goal_above": "Alert: {} has reached its goal",
    "goal_below": "Alert: {} has gone below its goal",
}


def alert_messages(db: Session, settings: Settings, alert: Alert) -> list[Outgoing]:
    """The alert's emails, or none when its condition is not met (or its card was archived). A query that
    fails raises DeliveryError: the alert is tried again later."""
    card = alert.card
    if card.archived:
        log.info("alert on card %d skipped: the card is archived", card.id)
        return []
    answer = run_card(db, alert.creator, settings, card, None, "notification")
    if answer.get("status") != "completed":
        raise DeliveryError(f"Failed to execute card with error: {answer.get('error')}")
    part = CardPart(card, answer, include_csv=True, format_rows=True)
    if alert.send_condition == "has_result":
        met = not part.empty
    else:
        met = goal_met(card, answer, above=alert.send_condition == "goal_above")
    if not met:
        log.info("alert on card %d not sent: its condition (%s) is not met", card.id, alert.send_condition)
        return []
    site = site_root(settings.get("site-url"))
    subject = ALERT_SUBJECTS.get(alert.send_condition, ALERT_SUBJECTS["has_result"]).format(card.name)
    page = Page(card.name, card_url(site, card.id), [part], intro=subject)
    files = attachments(part)
    messages = []
    for handler in alert.handlers:
        handler_id = handler.handler_id

        def unsubscribe(email: str, handler_id: int | None = handler_id) -> str | None:
            if handler_id is None:
                return None
            query = {
                "hash": notification_unsubscribe_hash(settings, handler_id, email),
                "email": email,
                "notification-handler-id": handler_id,
            }
            return _unsubscribe_url(site, query)

        messages += _messages(
            settings, subject=subject, page=page, recipients=handler, unsubscribe=unsubscribe, files=files
        )
    return messages


def active_emails(db: Session, user_ids: list[int]) -> list[str]:
    """The emails of the active users among `user_ids` (a deactivated user is mailed nothing), by id."""
    if not user_ids:
        return []
    statement = select(User.email).where(User.id.in_(user_ids), User.is_active.is_(True)).order_by(User.id)
    return list(db.scalars(statement))


def group_emails(db: Session, group_id: int) -> list[str]:
    statement = (
        select(User.email)
        .join(PermissionsGroupMembership, PermissionsGroupMembership.user_id == User.id)
        .where(PermissionsGroupMembership.group_id == group_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return list(db.scalars(statement))


def send_all(messages: list[Outgoing]) -> None:
    """Send every message. When none can be sent (the mail server is down) the error is raised and the
    delivery is tried again later; once some went out, a failure for the others is only logged, so that a
    retry never mails the same people twice."""
    sent = 0
    for message in messages:
        try:
            transmit(message)
        except Exception as error:
            if sent == 0:
                raise
            log.warning("sending %r failed: %s", message.message["Subject"], error)
        else:
            sent += 1


# --- Saved subscriptions and alerts -----------------------------------------------------------------------


def saved_subscription(db: Session, pulse: Pulse) -> Subscription | None:
    creator = db.get(User, pulse.creator_id)
    if creator is None:
        return None
    cards = [
        CardOptions(card.id, pc.dashboard_card_id, pc.include_csv, pc.include_xls, pc.format_rows)
        for pc, card in pulse_cards(db, pulse.id)
    ]
    parameters = pulse.parameters if isinstance(pulse.parameters, list) else []
    return Subscription(
        pulse.id, pulse.name, creator, pulse.dashboard_id, pulse.skip_if_empty, parameters, cards
    )


def channel_recipients(db: Session, channel: PulseChannel) -> Recipients:
    return Recipients(
        users=[user.email for user in active_recipient_users(db, channel.id)], others=raw_emails(channel)
    )


def handler_recipients(db: Session, handler: NotificationHandler) -> Recipients:
    users: list[str] = []
    others: list[str] = []
    for recipient in notification_recipients(db, handler.id):
        if recipient.type == USER and recipient.user_id is not None:
            users += active_emails(db, [recipient.user_id])
        elif recipient.type == GROUP and recipient.permissions_group_id is not None:
            users += group_emails(db, recipient.permissions_group_id)
        elif recipient.type == RAW_VALUE:
            value = (recipient.details or {}).get("value")
            if isinstance(value, str) and EMAIL_RE.match(value):
                others.append(value)
    return Recipients(list(dict.fromkeys(users)), others, handler.id)


def saved_alert(db: Session, notification: Notification, handler_ids: set[int] | None = None) -> Alert | None:
    """The notification as an alert to send (its active email handlers, or those of `handler_ids`); None
    when it is not an alert on an existing card by an existing creator."""
    payload = payload_card(db, notification)
    card = db.get(Card, payload.card_id) if payload is not None else None
    creator = db.get(User, notification.creator_id) if notification.creator_id is not None else None
    if payload is None or card is None or creator is None:
        return None
    handlers = [
        handler_recipients(db, handler)
        for handler in notification_handlers(db, notification.id)
        if handler.active
        and handler.channel_type == EMAIL
        and (handler_ids is None or handler.id in handler_ids)
    ]
    return Alert(notification.id, creator, card, payload.send_condition, payload.send_once, handlers)
