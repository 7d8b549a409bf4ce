"""`/api/setting`: the admin's list, single reads and writes, bulk writes, and what
`/api/session/properties` shows afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from querybase.settings.registry import REGISTRY, Visibility
from tests.support.http import Api

FORBIDDEN = "You don't have permissions to do that."
ITEM_KEYS = {"key", "value", "is_env_setting", "env_name", "description", "default"}
BAD_BOOLEAN = 'Invalid value for string: must be either "true" or "false" (case-insensitive).'


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def keep(admin: Api) -> Iterator[Callable[..., None]]:
    """`keep("site-name", ...)` before changing settings: their values are put back after the test (the
    server is shared by every test)."""
    saved: dict[str, Any] = {}

    def remember(*keys: str) -> None:
        for key in keys:
            saved.setdefault(key, admin.raw("GET", f"/api/setting/{key}"))

    yield remember
    for key, response in saved.items():
        value = response.json() if response.status_code == 200 else None
        admin.put(f"/api/setting/{key}", {"value": value}, expect=204)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def listed(admin: Api) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in admin.get("/api/setting")}


def value_of(admin: Api, key: str) -> Any:
    """The bare value of GET /api/setting/:key; None for the empty 204 of a setting at its default."""
    response = admin.raw("GET", f"/api/setting/{key}")
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None


# ---------------------------------------------------------------------------------------------------
# GET /api/setting


def test_list_is_sorted_with_exactly_metabases_item_keys(admin: Api) -> None:
    body = admin.get("/api/setting")
    keys = [item["key"] for item in body]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))
    for item in body:
        assert set(item) == ITEM_KEYS, item["key"]
        assert item["env_name"] == "MB_" + item["key"].replace("-", "_").replace("?", "").upper()
    expected = sorted(k for k, d in REGISTRY.items() if d.visibility is not Visibility.INTERNAL)
    assert keys == expected


def test_list_items(admin: Api) -> None:
    items = listed(admin)
    assert items["check-for-updates"] == {
        "key": "check-for-updates",
        "value": None,
        "is_env_setting": False,
        "env_name": "MB_CHECK_FOR_UPDATES",
        "description": "Identify when new versions of Metabase are available.",
        "default": True,
    }
    # Set by POST /api/setup's prefs in the test fixtures.
    assert items["site-name"] == {
        "key": "site-name",
        "value": "Test",
        "is_env_setting": False,
        "env_name": "MB_SITE_NAME",
        "description": "The name used for this instance of Metabase.",
        "default": "Metabase",
    }
    assert items["email-configured?"]["env_name"] == "MB_EMAIL_CONFIGURED"
    assert items["custom-formatting"]["default"] == {}
    assert items["start-of-week"]["default"] == "sunday"
    assert items["site-uuid"]["description"] == (
        "Unique identifier used for this instance of {0}. This is set once and only once the first time "
        "it is fetched via\n  its magic getter. Nice!"
    )


def test_internal_settings_are_not_listed(admin: Api) -> None:
    assert "reset-token-ttl-hours" not in listed(admin)


def test_enable_public_sharing_defaults_to_true(api: Api, admin: Api) -> None:
    assert listed(admin)["enable-public-sharing"] == {
        "key": "enable-public-sharing",
        "value": None,
        "is_env_setting": False,
        "env_name": "MB_ENABLE_PUBLIC_SHARING",
        "description": "Enable admins to create publicly viewable links (and embeddable iframes) for "
        "Questions and Dashboards?",
        "default": True,
    }
    assert api.as_("rasta").get("/api/session/properties")["enable-public-sharing"] is True


def test_an_env_set_setting(api: Api, admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MB_SITE_URL", "https://env.example.com")
    assert listed(admin)["site-url"] == {
        "key": "site-url",
        "value": None,
        "is_env_setting": True,
        "env_name": "MB_SITE_URL",
        "description": "This URL is used for things like creating links in emails, auth redirects, and in "
        "some embedding scenarios, so changing it could break functionality or get you locked out of this "
        "instance.",
        "default": "Using value of env var $MB_SITE_URL",
    }
    response = admin.raw("GET", "/api/setting/site-url")
    assert (response.status_code, response.content) == (204, b"")
    # session/properties shows what the server uses: the environment's value.
    assert api.get("/api/session/properties")["site-url"] == "https://env.example.com"


def test_an_env_set_setting_cannot_be_put(
    admin: Api, keep: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    keep("site-name")
    monkeypatch.setenv("MB_SITE_NAME", "From the environment")
    message = "You cannot set site-name; its value is set by the environment variable MB_SITE_NAME."
    assert admin.put("/api/setting/site-name", {"value": "From the API"}, expect=400) == message
    assert admin.put("/api/setting", {"site-name": "From the API"}, expect=400) == message
    assert admin.get("/api/session/properties")["site-name"] == "From the environment"
    monkeypatch.delenv("MB_SITE_NAME")
    assert value_of(admin, "site-name") == "Test"


def test_list_needs_an_admin(api: Api) -> None:
    assert api.as_("rasta").get("/api/setting", expect=403) == FORBIDDEN
    assert api.get("/api/setting", expect=401) == "Unauthenticated"


# ---------------------------------------------------------------------------------------------------
# GET /api/setting/:key


def test_get_one_setting(admin: Api, keep: Callable[..., None]) -> None:
    keep("site-name", "email-smtp-port", "enable-xrays", "custom-formatting")
    name = unique("Acme")
    admin.put("/api/setting", {"site-name": name, "email-smtp-port": 2525, "enable-xrays": False}, expect=204)
    formatting = {"type/Number": {"number_separators": ".,"}}
    admin.put("/api/setting/custom-formatting", {"value": formatting}, expect=204)
    assert admin.get("/api/setting/site-name") == name
    assert admin.get("/api/setting/site_name") == name
    assert admin.get("/api/setting/email-smtp-port") == 2525
    assert admin.get("/api/setting/enable-xrays") is False
    assert admin.get("/api/setting/custom-formatting") == formatting


def test_a_key_with_a_question_mark(admin: Api, keep: Callable[..., None]) -> None:
    keep("email-smtp-host")
    admin.put("/api/setting/email-smtp-host", {"value": None}, expect=204)
    assert admin.get("/api/setting/email-configured%3F") is False
    admin.put("/api/setting/email-smtp-host", {"value": "smtp.example.com"}, expect=204)
    assert admin.get("/api/setting/email-configured%3F") is True


def test_a_setting_at_its_default_is_an_empty_204(admin: Api) -> None:
    response = admin.raw("GET", "/api/setting/check-for-updates")
    assert (response.status_code, response.content) == (204, b"")


def test_computed_settings_show_their_value(admin: Api) -> None:
    assert admin.get("/api/setting/has-user-setup") is True
    assert set(admin.get("/api/setting/version")) == {"tag", "hash", "branch", "date"}
    items = listed(admin)
    assert (items["has-user-setup"]["value"], items["has-user-setup"]["default"]) == (True, None)
    # A computed value equal to the default is null, like any other.
    assert (items["application-name"]["value"], items["application-name"]["default"]) == (None, "Metabase")
    assert (items["enable-nested-queries"]["value"], items["enable-nested-queries"]["default"]) == (
        None,
        True,
    )


def test_get_one_unknown_or_internal_setting(api: Api, admin: Api) -> None:
    assert admin.get("/api/setting/no-such-setting", expect=400) == "Unknown setting: :no-such-setting"
    assert admin.get("/api/setting/no_such_setting", expect=400) == "Unknown setting: :no-such-setting"
    assert admin.get("/api/setting/reset-token-ttl-hours", expect=403) == FORBIDDEN


def test_get_one_needs_an_admin(api: Api) -> None:
    rasta = api.as_("rasta")
    for key in ("site-name", "enable-xrays", "no-such-setting"):
        assert rasta.get(f"/api/setting/{key}", expect=403) == FORBIDDEN
    assert api.get("/api/setting/site-name", expect=401) == "Unauthenticated"


# ---------------------------------------------------------------------------------------------------
# PUT /api/setting/:key


def test_put_a_setting(api: Api, admin: Api, keep: Callable[..., None]) -> None:
    keep("site-name", "enable-xrays")
    name = unique("Renamed")
    response = admin.raw("PUT", "/api/setting/site-name", json={"value": name})
    assert (response.status_code, response.content) == (204, b"")
    assert admin.get("/api/setting/site-name") == name
    assert listed(admin)["site-name"]["value"] == name
    assert admin.get("/api/session/properties")["site-name"] == name

    admin.put("/api/setting/enable_xrays", {"value": False}, expect=204)
    assert admin.get("/api/setting/enable-xrays") is False
    assert api.as_("rasta").get("/api/session/properties")["enable-xrays"] is False
    assert "enable-xrays" not in api.get("/api/session/properties")


def test_put_null_or_the_default_resets(admin: Api, keep: Callable[..., None]) -> None:
    keep("site-name", "enable-xrays", "report-timezone")
    admin.put("/api/setting/site-name", {"value": unique("Temporary")}, expect=204)
    admin.put("/api/setting/site-name", {"value": None}, expect=204)
    assert value_of(admin, "site-name") is None
    assert admin.get("/api/session/properties")["site-name"] == "Metabase"
    assert listed(admin)["site-name"]["value"] is None

    admin.put("/api/setting/report-timezone", {"value": "Europe/Paris"}, expect=204)
    admin.put("/api/setting/report-timezone", {"value": ""}, expect=204)
    assert value_of(admin, "report-timezone") is None

    # A stored value equal to the default shows as null, as in Metabase.
    admin.put("/api/setting/enable-xrays", {"value": True}, expect=204)
    assert value_of(admin, "enable-xrays") is None
    assert admin.get("/api/session/properties")["enable-xrays"] is True


def test_put_coerces_strings(admin: Api, keep: Callable[..., None]) -> None:
    keep("enable-xrays", "email-smtp-port", "start-of-week")
    admin.put("/api/setting/enable-xrays", {"value": "FALSE"}, expect=204)
    admin.put("/api/setting/email-smtp-port", {"value": "465"}, expect=204)
    admin.put("/api/setting/start-of-week", {"value": "Monday"}, expect=204)
    assert [admin.get(f"/api/setting/{k}") for k in ("enable-xrays", "email-smtp-port", "start-of-week")] == [
        False,
        465,
        "monday",
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("enable-xrays", "maybe", BAD_BOOLEAN),
        ("enable-xrays", 1, "Invalid value for boolean: 1"),
        ("email-smtp-port", "12a", 'Invalid value for integer: "12a"'),
        ("email-smtp-port", [25], "Invalid value for integer: [25]"),
        ("site-name", {"a": 1}, 'Invalid value for string: {"a":1}'),
        ("site-locale", "xx", 'Invalid locale "xx"'),
        ("email-from-name", "Ops <ops>", "Invalid special character included."),
    ],
)
def test_put_a_bad_value(admin: Api, key: str, value: Any, message: str) -> None:
    before = value_of(admin, key)
    assert admin.put(f"/api/setting/{key}", {"value": value}, expect=400) == message
    assert value_of(admin, key) == before


@pytest.mark.parametrize(
    "key", ["version", "has-user-setup", "setup-token", "site-uuid", "enable-nested-queries"]
)
def test_put_a_read_only_setting(admin: Api, key: str) -> None:
    before = admin.raw("GET", f"/api/setting/{key}").content
    message = f"You cannot set {key}; it is a read-only setting."
    assert admin.put(f"/api/setting/{key}", {"value": "x"}, expect=400) == message
    assert admin.raw("GET", f"/api/setting/{key}").content == before


def test_put_an_unknown_or_internal_setting(admin: Api) -> None:
    assert (
        admin.put("/api/setting/no-such-setting", {"value": 1}, expect=400)
        == "Unknown setting: :no-such-setting"
    )
    assert admin.put("/api/setting/reset-token-ttl-hours", {"value": 1}, expect=403) == FORBIDDEN


def test_put_without_a_value_key(admin: Api) -> None:
    """Metabase's body schema is `[:map [:value :any]]`: null resets, but the key must be there."""
    assert admin.put("/api/setting/site-name", {}, expect=400) == {
        "errors": {"value": "anything"},
        "specific-errors": {"value": ["missing required key, received: nil"]},
    }
    assert admin.get("/api/setting/site-name") == "Test"


def test_put_needs_an_admin(api: Api, admin: Api) -> None:
    rasta = api.as_("rasta")
    for key in ("site-name", "enable-xrays", "no-such-setting"):
        assert rasta.put(f"/api/setting/{key}", {"value": "Rasta's"}, expect=403) == FORBIDDEN
    assert rasta.put("/api/setting", {"site-name": "Rasta's"}, expect=403) == FORBIDDEN
    assert api.put("/api/setting/site-name", {"value": "Anonymous"}, expect=401) == "Unauthenticated"
    assert admin.get("/api/setting/site-name") == "Test"


# ---------------------------------------------------------------------------------------------------
# PUT /api/setting (bulk)


def test_bulk_put(admin: Api, keep: Callable[..., None]) -> None:
    keep("site-name", "enable-xrays", "email-smtp-port")
    name = unique("Bulk")
    response = admin.raw(
        "PUT", "/api/setting", json={"site_name": name, "enable-xrays": False, "email-smtp-port": 25}
    )
    assert (response.status_code, response.content) == (204, b"")
    assert [admin.get(f"/api/setting/{k}") for k in ("site-name", "enable-xrays", "email-smtp-port")] == [
        name,
        False,
        25,
    ]


@pytest.mark.parametrize(
    ("bad", "status", "message"),
    [
        ({"enable-xrays": "bogus"}, 400, BAD_BOOLEAN),
        ({"no-such-setting": 1}, 400, "Unknown setting: :no-such-setting"),
        ({"version": "x"}, 400, "You cannot set version; it is a read-only setting."),
        ({"reset-token-ttl-hours": 1}, 403, FORBIDDEN),
    ],
)
def test_bulk_put_is_all_or_nothing(
    admin: Api, keep: Callable[..., None], bad: dict[str, Any], status: int, message: str
) -> None:
    keep("site-name", "email-smtp-port")
    body = {"site-name": unique("Never"), "email-smtp-port": 2525, **bad}
    assert admin.put("/api/setting", body, expect=status) == message
    assert admin.get("/api/setting/site-name") == "Test"
    assert value_of(admin, "email-smtp-port") is None


# ---------------------------------------------------------------------------------------------------
# Sensitive settings


def test_a_sensitive_setting_is_obfuscated(api: Api, admin: Api, keep: Callable[..., None]) -> None:
    keep("email-smtp-password")
    admin.put("/api/setting/email-smtp-password", {"value": "s3cret-pw"}, expect=204)
    assert listed(admin)["email-smtp-password"] == {
        "key": "email-smtp-password",
        "value": "**********pw",
        "is_env_setting": False,
        "env_name": "MB_EMAIL_SMTP_PASSWORD",
        "description": "SMTP password.",
        "default": None,
    }
    assert admin.get("/api/setting/email-smtp-password") == "**********pw"
    assert "email-smtp-password" not in admin.get("/api/session/properties")
    assert "email-smtp-password" not in api.get("/api/session/properties")

    # A client that sends back what it was shown leaves the secret alone.
    admin.put("/api/setting/email-smtp-password", {"value": "**********zz"}, expect=204)
    admin.put("/api/setting", {"email-smtp-password": "**********pw"}, expect=204)
    assert admin.get("/api/setting/email-smtp-password") == "**********pw"

    admin.put("/api/setting/email-smtp-password", {"value": "changed-it"}, expect=204)
    assert admin.get("/api/setting/email-smtp-password") == "**********it"


def test_embedding_secret_key_is_not_sensitive(admin: Api, keep: Callable[..., None]) -> None:
    keep("embedding-secret-key")
    key = "ab" * 32
    admin.put("/api/setting/embedding-secret-key", {"value": key}, expect=204)
    assert admin.get("/api/setting/embedding-secret-key") == key
    assert admin.get("/api/session/properties")["embedding-secret-key"] == key
