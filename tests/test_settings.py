"""The settings registry on a real SQLite app database, without HTTP: declarations, the environment,
typed storage, obfuscation, and that two processes sharing an app database never read stale values."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from querybase.db.engine import AppDB
from querybase.errors import BadRequest
from querybase.models.setting import Setting
from querybase.settings import definitions  # noqa: F401  (declares every setting)
from querybase.settings.registry import (
    REGISTRY,
    Kind,
    Settings,
    defsetting,
    obfuscate,
    parse,
    serialize,
)
from tests.support.appdb import migrated_app_db


@pytest.fixture
def appdb() -> Iterator[AppDB]:
    with migrated_app_db("sqlite") as db:
        yield db


def stored_rows(appdb: AppDB) -> dict[str, str]:
    """The `setting` table as committed, read on a session of its own."""
    with appdb.transaction() as db:
        return dict(db.execute(select(Setting.key, Setting.value)).tuples().all())


def bad_request(excinfo: pytest.ExceptionInfo[BadRequest]) -> tuple[int, Any]:
    return excinfo.value.status, excinfo.value.body


# ---------------------------------------------------------------------------------------------------
# Declarations


def metabase_env_name(key: str) -> str:
    """Metabase's rule, written out independently: drop chars outside [a-zA-Z0-9_-], "-" → "_"."""
    return "MB_" + re.sub(r"[^a-zA-Z0-9_-]", "", key).replace("-", "_").upper()


def test_every_setting_has_a_kind_a_description_and_a_derived_env_name() -> None:
    assert len(REGISTRY) > 40
    for key, definition in REGISTRY.items():
        assert definition.key == key
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\??", key), key
        assert isinstance(definition.kind, Kind), key
        assert isinstance(definition.description, str) and definition.description.strip(), key
        assert definition.env_name == metabase_env_name(key), key
    env_names = [d.env_name for d in REGISTRY.values()]
    assert len(env_names) == len(set(env_names))


@pytest.mark.parametrize(
    ("key", "env_name"),
    [
        ("site-name", "MB_SITE_NAME"),
        ("email-configured?", "MB_EMAIL_CONFIGURED"),
        ("is-hosted?", "MB_IS_HOSTED"),
        ("has-sample-database?", "MB_HAS_SAMPLE_DATABASE"),
        ("embedding-app-origins-sdk", "MB_EMBEDDING_APP_ORIGINS_SDK"),
    ],
)
def test_env_name_examples(key: str, env_name: str) -> None:
    assert REGISTRY[key].env_name == env_name


def test_metabase_defaults_that_clients_rely_on() -> None:
    assert REGISTRY["enable-public-sharing"].default is True
    assert REGISTRY["site-name"].default == "Metabase"
    assert REGISTRY["start-of-week"].default == "sunday"
    assert REGISTRY["email-smtp-password"].sensitive is True
    assert REGISTRY["embedding-secret-key"].sensitive is False


# ---------------------------------------------------------------------------------------------------
# The environment


def test_env_var_wins_over_the_stored_value_and_blocks_writes(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        Settings(db, environ={}).set("site-name", "Stored name")
    with appdb.transaction() as db:
        settings = Settings(db, environ={"MB_SITE_NAME": "Env name"})
        assert settings.get("site-name") == "Env name"
        assert settings.is_env_setting("site-name") is True
        with pytest.raises(BadRequest) as excinfo:
            settings.set("site-name", "Another name")
    assert bad_request(excinfo) == (
        400,
        "You cannot set site-name; its value is set by the environment variable MB_SITE_NAME.",
    )
    assert stored_rows(appdb)["site-name"] == "Stored name"


def test_env_var_blocks_resetting_too(appdb: AppDB) -> None:
    with appdb.transaction() as db, pytest.raises(BadRequest):
        Settings(db, environ={"MB_SITE_NAME": "Env name"}).set("site-name", None)


def test_empty_env_var_counts_as_unset(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={"MB_SITE_NAME": ""})
        assert settings.is_env_setting("site-name") is False
        assert settings.get("site-name") == "Metabase"
        settings.set("site-name", "Writable")
        assert settings.get("site-name") == "Writable"


def test_the_setup_token_is_never_read_from_the_environment(appdb: AppDB) -> None:
    """Metabase's `can-read-from-env? false`: the token is the server's own, not configuration."""
    with appdb.transaction() as db:
        settings = Settings(db, environ={"MB_SETUP_TOKEN": "chosen-by-env"})
        settings.write("setup-token", "generated")
        assert settings.is_env_setting("setup-token") is False
        assert settings.get("setup-token") == "generated"


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, True), ("FALSE", False), ("false", False), ("no", True)]
)
def test_nested_queries_are_switched_off_only_by_the_environment(
    appdb: AppDB, raw: str | None, expected: bool
) -> None:
    """Metabase 0.55+: anything but "false" in MB_ENABLE_NESTED_QUERIES leaves them on; the API cannot."""
    environ = {} if raw is None else {"MB_ENABLE_NESTED_QUERIES": raw}
    with appdb.transaction() as db:
        settings = Settings(db, environ=environ)
        assert settings.get("enable-nested-queries") is expected
        with pytest.raises(BadRequest):
            settings.set("enable-nested-queries", False)


def test_two_settings_cannot_share_an_env_name() -> None:
    with pytest.raises(ValueError, match="same environment variable"):
        defsetting("site_name", Kind.STRING, description="Clashes with site-name.")
    assert "site_name" not in REGISTRY


def test_env_var_with_a_question_mark_key(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={"MB_BCC_ENABLED": "false"})
        assert settings.is_env_setting("bcc-enabled?") is True
        assert settings.get("bcc-enabled?") is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("TRUE", True), ("true", True), ("False", False), ("yes", False), ("1", False), ("on", False)],
)
def test_boolean_env_parsing(appdb: AppDB, raw: str, expected: bool) -> None:
    """Only true/false in any case parse; anything else reads as the default (false here)."""
    with appdb.transaction() as db:
        settings = Settings(db, environ={"MB_REDIRECT_ALL_REQUESTS_TO_HTTPS": raw})
        assert settings.get("redirect-all-requests-to-https") is expected


def test_unparseable_boolean_env_falls_back_to_a_true_default(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        assert Settings(db, environ={"MB_CHECK_FOR_UPDATES": "no"}).get("check-for-updates") is True
        assert Settings(db, environ={"MB_CHECK_FOR_UPDATES": "FALSE"}).get("check-for-updates") is False


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("email-smtp-port", "2525", 2525),
        ("email-smtp-port", "25 ", None),
        ("email-smtp-port", "1_000", None),
        ("start-of-week", "monday", "monday"),
        (
            "custom-formatting",
            '{"type/Number":{"number_style":"decimal"}}',
            {"type/Number": {"number_style": "decimal"}},
        ),
        ("startup-time-millis", "12.5", 12.5),
    ],
)
def test_typed_env_values(appdb: AppDB, key: str, raw: str, expected: Any) -> None:
    """Integers parse like Java's Long.parseLong: no spaces, no underscores (else the default)."""
    with appdb.transaction() as db:
        assert Settings(db, environ={REGISTRY[key].env_name: raw}).get(key) == expected


# ---------------------------------------------------------------------------------------------------
# Storage


# One setting per kind, with a value, its stored text, and how it reads back.
ROUND_TRIPS: list[tuple[Kind, str, Any, str]] = [
    (Kind.STRING, "site-name", "Ünïcode — name", "Ünïcode — name"),
    (Kind.BOOLEAN, "enable-xrays", False, "false"),
    (Kind.INTEGER, "email-smtp-port", 587, "587"),
    (Kind.DOUBLE, "startup-time-millis", 1234.5, "1234.5"),
    (Kind.JSON, "custom-formatting", {"type/Number": {"number_separators": ".,"}, "list": [1, None]}, None),
    (Kind.KEYWORD, "start-of-week", "monday", "monday"),
    (Kind.TIMESTAMP, "instance-creation", "2025-01-02T03:04:05.678Z", "2025-01-02T03:04:05.678Z"),
]


@pytest.mark.parametrize(("kind", "key", "value", "text"), ROUND_TRIPS, ids=[c[0].value for c in ROUND_TRIPS])
def test_stored_values_round_trip(appdb: AppDB, kind: Kind, key: str, value: Any, text: str | None) -> None:
    assert REGISTRY[key].kind is kind
    with appdb.transaction() as db:
        Settings(db, environ={}).write(key, value)
    if text is not None:
        assert stored_rows(appdb)[key] == text
    with appdb.transaction() as db:
        assert Settings(db, environ={}).get(key) == value


def test_round_trips_cover_every_declared_kind() -> None:
    declared = {d.kind for d in REGISTRY.values()}
    assert declared - {kind for kind, *_ in ROUND_TRIPS} == set()


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Kind.STRING, "a, b"),
        (Kind.BOOLEAN, True),
        (Kind.INTEGER, -42),
        (Kind.DOUBLE, 0.1),
        (Kind.JSON, [{"a": "ü"}, 1.5, None]),
        (Kind.KEYWORD, "saturday"),
        (Kind.TIMESTAMP, "2024-02-29T00:00:00Z"),
        (Kind.CSV, ["a,b", 'say "hi"', "c"]),
    ],
)
def test_every_kind_serializes_and_parses_back(kind: Kind, value: Any) -> None:
    assert parse(kind, serialize(kind, value)) == value


def test_set_coerces_api_values_before_storing(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("email-smtp-port", "2525")
        settings.set("enable-xrays", "FALSE")
        settings.set("start-of-week", "Monday")
    assert {k: stored_rows(appdb)[k] for k in ("email-smtp-port", "enable-xrays", "start-of-week")} == {
        "email-smtp-port": "2525",
        "enable-xrays": "false",
        "start-of-week": "monday",
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "enable-xrays",
            "yes",
            'Invalid value for string: must be either "true" or "false" (case-insensitive).',
        ),
        ("enable-xrays", 1, "Invalid value for boolean: 1"),
        ("email-smtp-port", "12a", 'Invalid value for integer: "12a"'),
        ("email-smtp-port", "--5", 'Invalid value for integer: "--5"'),
        ("email-smtp-port", " 5", 'Invalid value for integer: " 5"'),
        ("email-smtp-port", 2.5, "Invalid value for integer: 2.5"),
        ("email-smtp-port", True, "Invalid value for integer: true"),
        ("site-name", 5, "Invalid value for string: 5"),
    ],
)
def test_set_rejects_values_of_the_wrong_type(appdb: AppDB, key: str, value: Any, message: str) -> None:
    with appdb.transaction() as db, pytest.raises(BadRequest) as excinfo:
        Settings(db, environ={}).set(key, value)
    assert bad_request(excinfo) == (400, message)


def test_none_and_empty_string_reset_to_the_default(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("site-name", "Named")
        settings.set("site-url", "https://example.com/")
        settings.set("email-smtp-port", 25)
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        assert settings.get("site-url") == "https://example.com"
        settings.set("site-name", None)
        settings.set("site-url", "")
        settings.set("email-smtp-port", None)
        assert (settings.get("site-name"), settings.get("site-url"), settings.get("email-smtp-port")) == (
            "Metabase",
            None,
            None,
        )
    assert {"site-name", "site-url", "email-smtp-port"} & stored_rows(appdb).keys() == set()


def test_writing_a_key_twice_in_one_transaction(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("site-name", "First")
        settings.set("site-name", "Second")
        settings.set("site-name", None)
        settings.set("site-name", "Third")
        assert settings.get("site-name") == "Third"
    assert stored_rows(appdb)["site-name"] == "Third"


def test_an_empty_stored_string_counts_as_unset(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        db.add(Setting(key="site-name", value=""))
    with appdb.transaction() as db:
        assert Settings(db, environ={}).get("site-name") == "Metabase"


def test_read_only_and_unknown_settings_cannot_be_set(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        for key in ("version", "has-user-setup", "setup-token", "site-uuid"):
            with pytest.raises(BadRequest) as excinfo:
                settings.set(key, "x")
            assert bad_request(excinfo) == (400, f"You cannot set {key}; it is a read-only setting.")
        with pytest.raises(BadRequest) as excinfo:
            settings.set("no_such_setting", "x")
        assert bad_request(excinfo) == (400, "Unknown setting: :no-such-setting")


def test_snake_case_keys_resolve(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("site_name", "Snake")
        assert settings.get("site-name") == "Snake"
    assert stored_rows(appdb)["site-name"] == "Snake"


# ---------------------------------------------------------------------------------------------------
# Several processes on one app database


def test_two_processes_see_each_others_commits_at_once(appdb: AppDB) -> None:
    """Each server process has its own sessions; a value committed by one is what the other reads on its
    next transaction, even through a Settings object that already read the old value."""
    with appdb.sessions() as session_a, appdb.sessions() as session_b:
        a, b = Settings(session_a, environ={}), Settings(session_b, environ={})
        assert a.get("site-name") == "Metabase"
        session_a.commit()

        b.set("site-name", "Written by B")
        b.set("email-smtp-host", "smtp.example.com")
        session_b.commit()
        assert a.get("site-name") == "Written by B"
        assert a.get("email-configured?") is True
        session_a.commit()

        a.set("site-name", None)
        session_a.commit()
        assert b.get("site-name") == "Metabase"
        session_b.commit()


def test_a_rolled_back_write_is_not_seen(appdb: AppDB) -> None:
    with appdb.sessions() as session:
        settings = Settings(session, environ={})
        settings.set("site-name", "Never committed")
        assert settings.get("site-name") == "Never committed"
        session.rollback()
        assert settings.get("site-name") == "Metabase"
    assert "site-name" not in stored_rows(appdb)


# ---------------------------------------------------------------------------------------------------
# Sensitive settings


@pytest.mark.parametrize(
    ("value", "shown"),
    [("ABC123", "**********23"), ("x", "**********x"), (12345, "**********45"), (None, None)],
)
def test_obfuscation(value: Any, shown: str | None) -> None:
    assert obfuscate(value) == shown


def test_an_obfuscated_value_written_back_is_ignored(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        Settings(db, environ={}).set("email-smtp-password", "hunter2-XY")
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        assert obfuscate(settings.get("email-smtp-password")) == "**********XY"
        settings.set("email-smtp-password", "**********XY")
        settings.set("email-smtp-password", "**********zz")
    assert stored_rows(appdb)["email-smtp-password"] == "hunter2-XY"


def test_obfuscated_looking_values_are_stored_for_other_settings(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        Settings(db, environ={}).set("email-smtp-username", "**********zz")
    assert stored_rows(appdb)["email-smtp-username"] == "**********zz"


def test_a_sensitive_value_can_still_be_cleared(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("email-smtp-password", "secret")
        settings.set("email-smtp-password", None)
    assert "email-smtp-password" not in stored_rows(appdb)


# ---------------------------------------------------------------------------------------------------
# Concurrent writers, on every kind of app database


@pytest.fixture
def any_appdb(app_db_kind: str) -> Iterator[AppDB]:
    with migrated_app_db(app_db_kind) as db:
        yield db


def test_two_processes_writing_a_new_key_at_once(
    any_appdb: AppDB, app_db_kind: str, request: pytest.FixtureRequest
) -> None:
    """A stores a key that had no row and keeps its transaction open; B's write of the same key waits
    for A, then overwrites A's value instead of failing on the unique key."""
    errors: list[BaseException] = []

    def write_b() -> None:
        try:
            with any_appdb.transaction() as db:
                Settings(db, environ={}).set("site-name", "B")
        except BaseException as exc:
            errors.append(exc)

    with any_appdb.sessions() as session_a:
        Settings(session_a, environ={}).set("site-name", "A")
        writer = threading.Thread(target=write_b)
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()
        session_a.commit()
        writer.join(30)
    assert errors == []
    assert stored_rows(any_appdb)["site-name"] == "B"


# ---------------------------------------------------------------------------------------------------
# Reacting to changes


@pytest.fixture
def recorded_setting() -> Iterator[tuple[str, list[Any]]]:
    """A throwaway setting that records each change it is told about, removed from the registry after."""
    key = "test-on-change-recorder"
    seen: list[Any] = []
    defsetting(
        key, Kind.INTEGER, default=7, description="Records changes.", on_change=lambda _s, v: seen.append(v)
    )
    try:
        yield key, seen
    finally:
        del REGISTRY[key]


def test_on_change_runs_once_per_change_with_the_new_value(
    appdb: AppDB, recorded_setting: tuple[str, list[Any]]
) -> None:
    key, seen = recorded_setting
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set(key, "8")
        settings.set(key, 8)
        settings.set(key, None)
        settings.set(key, 7)
        settings.write(key, 9)
    assert seen == [8, 7]


def test_turning_embedding_on_creates_the_secret_key(appdb: AppDB) -> None:
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("enable-embedding-static", False)
        assert settings.get("embedding-secret-key") is None
        settings.set("enable-embedding-static", True)
        created = settings.get("embedding-secret-key")
    assert re.fullmatch(r"[0-9a-f]{64}", created)
    assert stored_rows(appdb)["embedding-secret-key"] == created
    with appdb.transaction() as db:
        settings = Settings(db, environ={})
        settings.set("enable-embedding-static", False)
        settings.set("enable-embedding-sdk", True)
        assert settings.get("embedding-secret-key") == created


def test_a_secret_key_from_the_environment_is_not_replaced(appdb: AppDB) -> None:
    from_env = "ab" * 32
    with appdb.transaction() as db:
        settings = Settings(db, environ={"MB_EMBEDDING_SECRET_KEY": from_env})
        settings.set("enable-embedding", True)
        assert settings.get("embedding-secret-key") == from_env
    assert "embedding-secret-key" not in stored_rows(appdb)
