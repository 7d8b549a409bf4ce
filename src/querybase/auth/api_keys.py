"""API keys: `mb_` + 44 base64 characters (32 random bytes), found by their first 7 characters and
checked against a SHA-256 of the whole key. The full key is shown once, when created or regenerated.

Metabase stores keys bcrypt-hashed; querybase uses SHA-256 on purpose. A slow hash protects guessable
secrets such as passwords, but 256 random bits cannot be guessed however fast the hash, while bcrypt
would cost every API-key request tens of milliseconds. The stored hash never leaves the server, so
clients see no difference."""

from __future__ import annotations

import base64
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.auth.passwords import hash_token
from querybase.models.api_key import ApiKey

PREFIX_LENGTH = 7
API_KEY_HEADER = "X-API-Key"


def generate_key() -> str:
    return "mb_" + base64.b64encode(secrets.token_bytes(32)).decode()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def mask(key_or_prefix: str, length: int = 47) -> str:
    """Metabase's `masked_key`: the prefix, then stars to the key's full length."""
    prefix = key_prefix(key_or_prefix)
    return prefix + "*" * (length - len(prefix))


def find_api_key(db: Session, key: str) -> ApiKey | None:
    """The API key row for `key`, if the key is valid and its user is active."""
    if not key.startswith("mb_") or len(key) < PREFIX_LENGTH + 1:
        return None
    row = db.scalar(select(ApiKey).where(ApiKey.key_prefix == key_prefix(key)))
    if row is None or not hmac.compare_digest(row.key, hash_token(key)) or not row.user.is_active:
        return None
    return row
