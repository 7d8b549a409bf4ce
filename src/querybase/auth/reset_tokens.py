"""Password-reset tokens, as Metabase's: `<user id>_<random uuid>`, sent by mail (invitations and
forgotten passwords), valid once, for `reset-token-ttl-hours` (48) after it was made, for an active user.

Only the token's SHA-256 is stored (`core_user.reset_token`), with the time it was made in epoch
milliseconds (`reset_triggered`); a new password clears both, so a token works once.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from querybase.auth.passwords import hash_token, new_reset_token, tokens_match
from querybase.models.base import utcnow
from querybase.models.user import User

_TOKEN = re.compile(r"(\d+)_.+")


def _now_ms() -> int:
    return int(utcnow().timestamp() * 1000)


def issue(user: User) -> str:
    """A new token for `user` (replacing any earlier one); returns the plaintext to send."""
    token = new_reset_token(user.id)
    user.reset_token = hash_token(token)
    user.reset_triggered = _now_ms()
    return token


def user_for(db: Session, token: str, ttl_hours: int) -> User | None:
    """The active user `token` was made for, if it is theirs and young enough; else None."""
    match = _TOKEN.fullmatch(token)
    if match is None or len(match.group(1)) > 10:
        return None
    user = db.get(User, int(match.group(1)))
    if user is None or not user.is_active or user.type != "personal":
        return None
    if not tokens_match(token, user.reset_token) or user.reset_triggered is None:
        return None
    if _now_ms() - user.reset_triggered >= ttl_hours * 3600 * 1000:
        return None
    return user


def reset_url(site_url: str | None, token: str) -> str:
    """The page of the web app that takes a new password (Metabase's `form-password-reset-url`)."""
    return f"{site_url or ''}/auth/reset_password/{token}"
