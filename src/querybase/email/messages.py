"""The mails people get from the server itself: the invitation, the password reset, and the note to
admins that an invited user joined. Subjects and wording follow Metabase's.

Endpoints build a `Mail` while their transaction is open and hand it to `send_later` (a FastAPI
background task), so the answer does not wait for the mail server and a mail that fails (or email
that is not set up) never fails the request, as in Metabase.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from querybase.auth.reset_tokens import issue, reset_url
from querybase.db.engine import AppDB
from querybase.email.smtp import EmailNotConfigured, MailError, prepare, transmit
from querybase.models.user import User, find_by_email
from querybase.settings.registry import Settings

log = logging.getLogger(__name__)

APPLICATION_NAME = "Metabase"
# Metabase's setup invitation sends the new admin on to adding a database.
SETUP_REDIRECT = "?redirect=/admin/databases/create"


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    html: str


def site_url(settings: Settings, request: Request) -> str:
    """The address links in mails point to: the `site-url` setting, else the one this request came to."""
    return settings.get("site-url") or str(request.base_url).rstrip("/")


def _page(*paragraphs: str) -> str:
    body = "\n".join(f"  {p}" for p in paragraphs)
    style = "font-family: Lato, Helvetica, Arial, sans-serif; color: #4C5773;"
    return f'<html>\n<body style="{style}">\n{body}\n</body>\n</html>\n'


def _button(url: str, label: str) -> str:
    return (
        '<p style="text-align: center"><a style="display: inline-block; padding: 0.8rem 2.25rem; '
        "border-radius: 6px; background-color: #509EE3; color: #fff; font-weight: bold; "
        f'text-decoration: none;" href="{escape(url)}">{escape(label)}</a></p>'
    )


def invitation(settings: Settings, site: str, invited: User, invitor: User, *, from_setup: bool) -> Mail:
    """The invitation a new user gets, with a new reset token for them: a link to choose their password
    (`<site>/auth/reset_password/<token>#new`)."""
    company = settings.get("site-name") or "Unknown"
    join_url = reset_url(site, issue(invited)) + (SETUP_REDIRECT if from_setup else "") + "#new"
    name = escape(invitor.first_name) if invitor.first_name else None
    if from_setup:
        heading = f"{name} could use your help setting up" if name else "You are invited to help setting up"
        who = f"{name} needs you" if name else "your help is needed"
        lines = [
            f"<h2>{heading} {APPLICATION_NAME}</h2>",
            f"<p>Your {APPLICATION_NAME} is up and running, but {who} to connect your data.</p>",
        ]
    else:
        heading = f"{name} wants you to join them on" if name else "You are invited to join"
        lines = [
            f"<h2>{heading} {APPLICATION_NAME}</h2>",
            f"<p>{APPLICATION_NAME} is a simple and powerful analytics tool that lets you easily ask "
            "questions and get answers about your company's data.</p>",
        ]
    return Mail(
        to=[invited.email],
        subject=f"You're invited to join {company}'s {APPLICATION_NAME}",
        html=_page(*lines, _button(join_url, "Join now")),
    )


def password_reset(settings: Settings, site: str, user: User, *, url: str | None) -> Mail:
    """The answer to "forgot password": a reset link, or, for a deactivated account, who to ask."""
    home = escape(site)
    if url is not None:
        lines = [
            f"<p>Click the button below to reset the password for your {APPLICATION_NAME} account at "
            f"{home}.</p>",
            _button(url, "Reset password"),
            "<p>Didn't request this password reset? It's safe to ignore it.</p>",
        ]
    else:
        lines = [
            f"<p>Someone requested a password reset for your {APPLICATION_NAME} account at {home}, but your "
            "account has been deactivated. Contact an administrator for further assistance.</p>"
        ]
        admin_email = settings.get("admin-email")
        if admin_email:
            lines.append(f'<p><a href="mailto:{escape(admin_email)}">Contact your administrator</a></p>')
    return Mail(to=[user.email], subject=f"[{APPLICATION_NAME}] Password Reset Request", html=_page(*lines))


def admin_recipients(db: Session, settings: Settings) -> list[str]:
    """Metabase's admins to notify: `admin-email` first, then every active admin who has logged in."""
    admins = db.scalars(
        select(User.email)
        .where(
            User.is_superuser.is_(True),
            User.is_active.is_(True),
            User.last_login.is_not(None),
            User.type == "personal",
        )
        .order_by(User.id)
    ).all()
    first = settings.get("admin-email")
    return list(dict.fromkeys([first, *admins] if first else admins))


def user_joined(db: Session, settings: Settings, site: str, user: User) -> Mail:
    """The note to admins when an invited user sets their password for the first time (built before
    they log in, so that they are not among the admins told)."""
    name = escape(user.first_name or user.email)
    people = f"{site}/admin/people"
    return Mail(
        to=admin_recipients(db, settings),
        subject=f"{user.common_name} accepted their {APPLICATION_NAME} invite",
        html=_page(
            f"<h2>{name} has joined {APPLICATION_NAME}</h2>",
            f"<p>{name} ({escape(user.email)}) accepted their invitation.</p>",
            _button(people, "View in admin"),
        ),
    )


def send_password_reset(appdb: AppDB, email: str, site: str) -> None:
    """Forgotten password (a background task, so that the answer is the same, and as fast, whether the
    address is known or not): a new reset token and its link for an active user, a note for a
    deactivated one, nothing for an unknown address."""
    with appdb.transaction() as db:
        user = find_by_email(db, email)
        if user is None:
            return
        url = reset_url(site, issue(user)) if user.is_active else None
        mail = password_reset(Settings(db), site, user, url=url)
    send_later(appdb, mail)


def send_later(appdb: AppDB, mail: Mail) -> None:
    """Send `mail` after the response (a background task): the settings read in a read-only transaction
    of its own, the mail server reached after it ended. Failures are logged, as Metabase does."""
    try:
        with appdb.read_sessions() as db, db.begin():
            outgoing = prepare(Settings(db), to=mail.to, subject=mail.subject, body=mail.html)
        transmit(outgoing)
    except EmailNotConfigured:
        log.info("not sending %r: email is not configured", mail.subject)
    except MailError as exc:
        log.warning("could not send %r: %s", mail.subject, exc)
