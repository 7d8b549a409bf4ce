"""The named test users, as in Metabase's own tests: crowberto is the admin (he runs setup), rasta and
lucky are normal users, trashbird is deactivated."""

from __future__ import annotations

PASSWORD = "test-pass-42"

USERS: dict[str, dict[str, str]] = {
    "crowberto": {"email": "crowberto@metabase.com", "first_name": "Crowberto", "last_name": "Corv"},
    "rasta": {"email": "rasta@metabase.com", "first_name": "Rasta", "last_name": "Toucan"},
    "lucky": {"email": "lucky@metabase.com", "first_name": "Lucky", "last_name": "Pigeon"},
    "trashbird": {"email": "trashbird@metabase.com", "first_name": "Trash", "last_name": "Bird"},
}
