"""Encryption at rest for secrets in the app DB (database connection details), keyed by
`MB_ENCRYPTION_SECRET_KEY` as in Metabase.

Without the variable values are stored as plain JSON, as Metabase does. With it they are Fernet
tokens (AES-128-CBC + HMAC-SHA256) under a key stretched from the secret with PBKDF2, marked with a
prefix, so a database that held plain values keeps working after the key is introduced and values
are encrypted as they are next written. The format is querybase's own: Metabase's encrypted values
are not meant to be read by another program.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import TypeDecorator
from sqlalchemy.engine import Dialect

from querybase import jsonutil
from querybase.models.base import LongText

PREFIX = "qbenc1:"
_SALT = b"querybase.encryption"


class EncryptionKeyError(RuntimeError):
    """Encrypted values cannot be read: the key is missing or is not the one they were written with."""


@functools.lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = hashlib.pbkdf2_hmac("sha256", secret.encode(), _SALT, 100_000)
    return Fernet(base64.urlsafe_b64encode(key))


def _secret() -> str | None:
    return os.environ.get("MB_ENCRYPTION_SECRET_KEY") or None


def encrypt(text: str) -> str:
    secret = _secret()
    if secret is None:
        return text
    return PREFIX + _fernet(secret).encrypt(text.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    secret = _secret()
    if secret is None:
        raise EncryptionKeyError("MB_ENCRYPTION_SECRET_KEY is needed to read encrypted values")
    try:
        return _fernet(secret).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise EncryptionKeyError("MB_ENCRYPTION_SECRET_KEY does not decrypt the stored values") from exc


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as text, encrypted when `MB_ENCRYPTION_SECRET_KEY` is set."""

    impl = LongText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(jsonutil.encode(value).decode())

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else jsonutil.decode(decrypt(value))
