"""Password hashing (bcrypt), Metabase's password-complexity rules, and password-reset tokens."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import uuid
from importlib import resources

import bcrypt

# Metabase's default complexity ("normal"): at least six characters, one of them a digit.
COMPLEXITY: dict[str, dict[str, int]] = {
    "weak": {"total": 6},
    "normal": {"total": 6, "digit": 1},
    "strong": {"total": 8, "lower": 2, "upper": 2, "digit": 1, "special": 1},
}
TOO_COMMON = "password is too common."


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: a bcrypt hash costs a tenth of a second of start-up."""
    return hash_password(secrets.token_hex(8))


def burn_time(password: str) -> None:
    """Used when the user is unknown, so that a wrong email costs as much time as a wrong password."""
    verify_password(password, _dummy_hash())


def _counts(password: str) -> dict[str, int]:
    return {
        "total": len(password),
        "lower": sum(c.islower() for c in password),
        "upper": sum(c.isupper() for c in password),
        "digit": sum(c.isdigit() for c in password),
        "special": sum(not (c.islower() or c.isupper() or c.isdigit()) for c in password),
    }


def meets_complexity(password: str, requirements: dict[str, int]) -> bool:
    counts = _counts(password)
    return all(counts.get(kind, 0) >= needed for kind, needed in requirements.items())


def _common_passwords() -> frozenset[str]:
    text = resources.files("querybase.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


COMMON_PASSWORDS = _common_passwords()


def _complexity_level() -> str:
    """`MB_PASSWORD_COMPLEXITY` (weak, normal, strong); anything else means the default, normal."""
    level = os.environ.get("MB_PASSWORD_COMPLEXITY", "normal").strip().lower()
    return level if level in COMPLEXITY else "normal"


def current_requirements() -> dict[str, int]:
    """The complexity in force: the level's rules, with `MB_PASSWORD_LENGTH` replacing the length, read
    from the environment as Metabase reads them."""
    requirements = dict(COMPLEXITY[_complexity_level()])
    length = os.environ.get("MB_PASSWORD_LENGTH", "").strip()
    if length.isdigit():
        requirements["total"] = int(length)
    return requirements


def is_valid_password(password: str) -> bool:
    """Metabase's rule: complex enough and, unless the level is "weak", not a common password. (The
    level decides, not the rules: a weak level with a longer `MB_PASSWORD_LENGTH` still allows them.)"""
    if not meets_complexity(password, current_requirements()):
        return False
    return _complexity_level() == "weak" or password.lower() not in COMMON_PASSWORDS


def new_reset_token(user_id: int) -> str:
    """Metabase's reset-token shape: `<user id>_<random uuid>`."""
    return f"{user_id}_{uuid.uuid4()}"


def hash_token(token: str) -> str:
    """SHA-256, for random high-entropy tokens (session ids, reset tokens, API keys)."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(token: str, hashed: str | None) -> bool:
    return hashed is not None and hmac.compare_digest(hash_token(token), hashed)
