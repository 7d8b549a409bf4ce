"""Metabase's environment variables choose the app database and where to listen."""

from __future__ import annotations

import pytest

from querybase.config import Config, ConfigError


def url_of(env: dict[str, str]) -> str:
    return Config.from_env(env).app_db_url.render_as_string(hide_password=False)


def test_defaults_are_sqlite_file_and_localhost_3000():
    config = Config.from_env({})
    assert (url_of({}), config.host, config.port, config.app_db_type) == (
        "sqlite:///querybase.db",
        "localhost",
        3000,
        "sqlite",
    )
    assert config.session_age_minutes == 20160


@pytest.mark.parametrize("db_type", ["h2", "sqlite", "H2"])
def test_h2_and_sqlite_mean_an_sqlite_file(db_type):
    assert url_of({"MB_DB_TYPE": db_type, "MB_DB_FILE": "/tmp/x.db"}) == "sqlite:////tmp/x.db"


def test_postgres_from_separate_variables():
    env = {
        "MB_DB_TYPE": "postgres",
        "MB_DB_HOST": "db.internal",
        "MB_DB_PORT": "5433",
        "MB_DB_DBNAME": "mb",
        "MB_DB_USER": "metabase",
        "MB_DB_PASS": "p@ss:word",
    }
    assert url_of(env) == "postgresql+psycopg://metabase:p%40ss%3Aword@db.internal:5433/mb"


def test_mysql_defaults_port_and_database():
    assert (
        url_of({"MB_DB_TYPE": "mysql", "MB_DB_USER": "root"})
        == "mysql+pymysql://root@localhost:3306/metabase"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgres://u:pw@h:5432/mb", "postgresql+psycopg://u:pw@h:5432/mb"),
        ("jdbc:postgresql://h:5432/mb?user=u&password=pw", "postgresql+psycopg://u:pw@h:5432/mb"),
        ("postgresql://h/mb?sslmode=require", "postgresql+psycopg://env_user:env_pass@h/mb?sslmode=require"),
        ("mysql://u:pw@h:3306/mb", "mysql+pymysql://u:pw@h:3306/mb"),
        ("jdbc:mysql://h/mb?user=u", "mysql+pymysql://u:env_pass@h/mb"),
    ],
)
def test_connection_uri_in_metabase_forms(uri, expected):
    env = {"MB_DB_CONNECTION_URI": uri, "MB_DB_USER": "env_user", "MB_DB_PASS": "env_pass"}
    assert url_of(env) == expected


def test_jetty_host_and_port():
    config = Config.from_env({"MB_JETTY_HOST": "0.0.0.0", "MB_JETTY_PORT": "8080"})
    assert (config.host, config.port) == ("0.0.0.0", 8080)


def test_session_age_from_max_session_age_or_mb_session_age():
    assert Config.from_env({"MB_SESSION_AGE": "60"}).session_age_minutes == 60
    assert Config.from_env({"MAX_SESSION_AGE": "30", "MB_SESSION_AGE": "60"}).session_age_minutes == 30


def test_throttle_switch():
    assert Config.from_env({"MB_DISABLE_SESSION_THROTTLE": "true"}).disable_session_throttle is True
    assert Config.from_env({}).disable_session_throttle is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MB_DB_TYPE": "oracle"}, "MB_DB_TYPE must be h2, sqlite, postgres or mysql, not 'oracle'"),
        ({"MB_JETTY_PORT": "eighty"}, "MB_JETTY_PORT must be a whole number, not 'eighty'"),
        (
            {"MB_DB_CONNECTION_URI": "oracle://h/x"},
            "MB_DB_CONNECTION_URI has an unsupported scheme: 'oracle'",
        ),
        ({"QB_WORKERS": "0"}, "QB_WORKERS must be a whole number from 1 to 64, not '0'"),
        ({"QB_WORKERS": "two"}, "QB_WORKERS must be a whole number from 1 to 64, not 'two'"),
    ],
)
def test_bad_configuration_is_a_clear_error(env, message):
    with pytest.raises(ConfigError) as error:
        Config.from_env(env)
    assert str(error.value) == message
