"""`/api/setup`: first-run setup on a brand-new instance, its validation bodies, and the admin checklist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.http import Api
from tests.support.warehouses import fresh_warehouse

ALREADY_SET_UP = (
    "The /api/setup route can only be used to create the first user, however a user currently exists."
)
TOKEN_MISMATCH = "Token does not match the setup token."
BAD_CREDENTIALS = {"errors": {"password": "did not match stored password"}}
PASSWORD = "S3cure!pass"
LOCALE = "String must be a valid two-letter ISO language or language-country code e.g. 'en' or 'en_US'."


def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (TypeError, ValueError):
        return False


@pytest.fixture
def token(fresh_api: Api) -> str:
    return fresh_api.get("/api/session/properties")["setup-token"]


def setup_body(token: str, **changes: Any) -> dict[str, Any]:
    """A valid setup request; `user=`/`prefs=` replace those maps, `token=` the token."""
    body: dict[str, Any] = {
        "token": token,
        "user": {"email": "ada@example.com", "password": PASSWORD, "first_name": "Ada", "last_name": "Admin"},
        "prefs": {"site_name": "Acme"},
    }
    return {**body, **changes}


def assert_nothing_set_up(api: Api, email: str = "ada@example.com") -> None:
    """A refused setup leaves no user and no session behind."""
    assert api.get("/api/session/properties")["has-user-setup"] is False
    assert api.login(email, PASSWORD, expect=401) == BAD_CREDENTIALS


# ---------------------------------------------------------------------------------------------------
# Before setup


def test_new_instance_offers_a_setup_token_and_has_no_user(fresh_api: Api) -> None:
    props = fresh_api.get("/api/session/properties")
    assert is_uuid(props["setup-token"])
    assert props["has-user-setup"] is False


def test_setup_token_is_the_same_on_every_read(fresh_api: Api, token: str) -> None:
    assert fresh_api.get("/api/session/properties")["setup-token"] == token


# ---------------------------------------------------------------------------------------------------
# Refused setups: exact 400 bodies, nothing written


def test_wrong_token(fresh_api: Api, token: str) -> None:
    body = fresh_api.post("/api/setup", setup_body("foobar"), expect=400)
    assert body == {
        "errors": {"token": TOKEN_MISMATCH},
        "specific-errors": {"token": ['setup token, received: "foobar"']},
    }
    assert_nothing_set_up(fresh_api)


def test_missing_token(fresh_api: Api, token: str) -> None:
    request = setup_body(token)
    del request["token"]
    body = fresh_api.post("/api/setup", request, expect=400)
    assert body == {
        "errors": {"token": TOKEN_MISMATCH},
        "specific-errors": {"token": ["missing required key, received: nil"]},
    }
    assert_nothing_set_up(fresh_api)


def test_missing_email(fresh_api: Api, token: str) -> None:
    body = fresh_api.post("/api/setup", setup_body(token, user={"password": PASSWORD}), expect=400)
    assert body == {
        "errors": {"user": {"email": "value must be a valid email address."}},
        "specific-errors": {"user": {"email": ["missing required key, received: nil"]}},
    }
    assert_nothing_set_up(fresh_api)


def test_invalid_email(fresh_api: Api, token: str) -> None:
    user = {"email": "anything", "password": PASSWORD}
    body = fresh_api.post("/api/setup", setup_body(token, user=user), expect=400)
    assert body == {
        "errors": {"user": {"email": "value must be a valid email address."}},
        "specific-errors": {"user": {"email": ['valid email address, received: "anything"']}},
    }
    assert_nothing_set_up(fresh_api)


def test_weak_password(fresh_api: Api, token: str) -> None:
    user = {"email": "ada@example.com", "password": "anything"}
    body = fresh_api.post("/api/setup", setup_body(token, user=user), expect=400)
    assert body == {
        "errors": {"user": {"password": "password is too common."}},
        "specific-errors": {
            "user": {"password": ['valid password that is not too common, received: "anything"']}
        },
    }
    assert_nothing_set_up(fresh_api, "ada@example.com")


def test_missing_password(fresh_api: Api, token: str) -> None:
    body = fresh_api.post("/api/setup", setup_body(token, user={"email": "ada@example.com"}), expect=400)
    assert body == {
        "errors": {"user": {"password": "password is too common."}},
        "specific-errors": {"user": {"password": ["missing required key, received: nil"]}},
    }
    assert_nothing_set_up(fresh_api)


def test_blank_first_name(fresh_api: Api, token: str) -> None:
    user = {"email": "ada@example.com", "password": PASSWORD, "first_name": ""}
    body = fresh_api.post("/api/setup", setup_body(token, user=user), expect=400)
    assert body == {
        "errors": {"user": {"first_name": "nullable value must be a non-blank string."}},
        "specific-errors": {
            "user": {
                "first_name": [
                    'should be at least 1 character, received: ""',
                    'non-blank string, received: ""',
                ]
            }
        },
    }
    assert_nothing_set_up(fresh_api)


def test_missing_site_name(fresh_api: Api, token: str) -> None:
    body = fresh_api.post("/api/setup", setup_body(token, prefs={}), expect=400)
    assert body == {
        "errors": {"prefs": {"site_name": "value must be a non-blank string."}},
        "specific-errors": {"prefs": {"site_name": ["missing required key, received: nil"]}},
    }
    assert_nothing_set_up(fresh_api)


def test_missing_prefs_is_described_as_the_whole_map(fresh_api: Api, token: str) -> None:
    request = setup_body(token)
    del request["prefs"]
    body = fresh_api.post("/api/setup", request, expect=400)
    assert body == {
        "errors": {
            "prefs": "map where {:site_name -> <value must be a non-blank string.>, "
            f":site_locale (optional) -> <nullable {LOCALE}>, "
            ":allow_tracking (optional) -> <nullable boolean, or string>}"
        },
        "specific-errors": {"prefs": ["missing required key, received: nil"]},
    }
    assert_nothing_set_up(fresh_api)


def test_invalid_locale(fresh_api: Api, token: str) -> None:
    prefs = {"site_name": "Acme", "site_locale": "eng-USA"}
    body = fresh_api.post("/api/setup", setup_body(token, prefs=prefs), expect=400)
    assert body == {
        "errors": {"prefs": {"site_locale": f"nullable {LOCALE}"}},
        "specific-errors": {"prefs": {"site_locale": ['valid locale, received: "eng-USA"']}},
    }
    assert_nothing_set_up(fresh_api)


@pytest.mark.parametrize(
    ("env", "complexity"),
    [
        ({}, {"total": 6, "digit": 1}),
        ({"MB_PASSWORD_COMPLEXITY": "STRONG"}, dict(total=8, lower=2, upper=2, digit=1, special=1)),
        ({"MB_PASSWORD_COMPLEXITY": "weak", "MB_PASSWORD_LENGTH": "8"}, {"total": 8}),
    ],
)
def test_password_complexity_follows_the_environment(
    fresh_api: Api, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], complexity: dict[str, int]
) -> None:
    monkeypatch.delenv("MB_PASSWORD_COMPLEXITY", raising=False)
    monkeypatch.delenv("MB_PASSWORD_LENGTH", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert fresh_api.get("/api/session/properties")["password-complexity"] == complexity


def test_a_common_password_is_refused_unless_the_level_is_weak(
    fresh_api: Api, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`passw0rd` is on the common-passwords list; the weak level skips that check even with a longer
    MB_PASSWORD_LENGTH."""
    monkeypatch.delenv("MB_PASSWORD_COMPLEXITY", raising=False)
    monkeypatch.delenv("MB_PASSWORD_LENGTH", raising=False)
    user = {"email": "ada@example.com", "password": "passw0rd"}
    body = fresh_api.post("/api/setup", setup_body(token, user=user), expect=400)
    assert body["errors"] == {"user": {"password": "password is too common."}}
    monkeypatch.setenv("MB_PASSWORD_COMPLEXITY", "weak")
    monkeypatch.setenv("MB_PASSWORD_LENGTH", "8")
    assert is_uuid(fresh_api.post("/api/setup", setup_body(token, user=user))["id"])


# ---------------------------------------------------------------------------------------------------
# Successful setup


def test_setup_creates_a_logged_in_superuser(fresh_api: Api, token: str) -> None:
    response = fresh_api.raw("POST", "/api/setup", json=setup_body(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["id"] and is_uuid(body["id"])
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("metabase.SESSION="))
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0] == f"metabase.session={body['id']}"
    assert "httponly" in attributes and "path=/" in attributes

    admin = fresh_api.with_headers({"X-Metabase-Session": body["id"]})
    me = admin.get("/api/user/current")
    assert {
        k: me[k] for k in ("email", "first_name", "last_name", "is_superuser", "is_active", "group_ids")
    } == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Admin",
        "is_superuser": True,
        "is_active": True,
        "group_ids": [1, 2],
    }
    props = admin.get("/api/session/properties")
    assert (props["has-user-setup"], props["site-name"], props["admin-email"]) == (
        True,
        "Acme",
        "ada@example.com",
    )
    assert fresh_api.get("/api/session/properties")["has-user-setup"] is True


def test_setup_stores_the_locale_and_accepts_missing_names(fresh_api: Api, token: str) -> None:
    request = setup_body(
        token,
        user={"email": "ada@example.com", "password": PASSWORD},
        prefs={"site_name": "A", "site_locale": "en"},
    )
    session = fresh_api.post("/api/setup", request)["id"]
    admin = fresh_api.with_headers({"X-Metabase-Session": session})
    me = admin.get("/api/user/current")
    assert (me["first_name"], me["last_name"], me["common_name"]) == (None, None, "ada@example.com")
    assert admin.get("/api/session/properties")["site-locale"] == "en"


def test_the_admin_can_log_in_with_the_setup_password(fresh_api: Api, token: str) -> None:
    fresh_api.post("/api/setup", setup_body(token))
    session = fresh_api.login("ada@example.com", PASSWORD)["id"]
    me = fresh_api.with_headers({"X-Metabase-Session": session}).get("/api/user/current")
    assert (me["email"], me["is_superuser"]) == ("ada@example.com", True)


def test_second_setup_is_forbidden(fresh_api: Api, token: str) -> None:
    fresh_api.post("/api/setup", setup_body(token))
    other = {"email": "eve@example.com", "password": PASSWORD}
    assert fresh_api.post("/api/setup", setup_body(token, user=other), expect=403) == ALREADY_SET_UP
    assert fresh_api.login("eve@example.com", PASSWORD, expect=401) == BAD_CREDENTIALS


def test_second_setup_with_a_wrong_token_is_still_a_token_error(fresh_api: Api, token: str) -> None:
    """Validation runs before the already-set-up check, as in Metabase."""
    fresh_api.post("/api/setup", setup_body(token))
    body = fresh_api.post("/api/setup", setup_body("foobar"), expect=400)
    assert body["errors"] == {"token": TOKEN_MISMATCH}


# ---------------------------------------------------------------------------------------------------
# GET /api/setup/admin_checklist

CHECKLIST_TITLES = [
    ("Get connected", ["Add a database", "Set up email", "Set Slack credentials", "Invite team members"]),
    ("Productionize", ["Switch to a production-ready app database"]),
    ("Curate your data", ["Hide irrelevant tables", "Organize questions", "Create a model"]),
]


def task(
    group: str,
    title: str,
    description: str,
    link: str,
    *,
    completed: bool,
    triggered: bool,
    next_step: bool = False,
) -> dict[str, Any]:
    return {
        "title": title,
        "group": group,
        "description": description,
        "link": link,
        "completed": completed,
        "triggered": triggered,
        "is_next_step": next_step,
    }


def fresh_checklist(app_db_kind: str, *, invited: bool) -> list[dict[str, Any]]:
    """The whole checklist of an instance that has just been set up (and maybe has a second user)."""
    on_sqlite = app_db_kind == "sqlite"
    connected, production, curate = "Get connected", "Productionize", "Curate your data"
    return [
        {
            "name": connected,
            "tasks": [
                task(
                    connected,
                    "Add a database",
                    "Connect to your data so your whole team can start to explore.",
                    "/admin/databases/create",
                    completed=False,
                    triggered=True,
                    next_step=True,
                ),
                task(
                    connected,
                    "Set up email",
                    "Add email credentials so you can more easily invite team members and get updates via "
                    "Pulses.",
                    "/admin/settings/email",
                    completed=False,
                    triggered=True,
                ),
                task(
                    connected,
                    "Set Slack credentials",
                    "Does your team use Slack? If so, you can send automated updates via dashboard "
                    "subscriptions.",
                    "/admin/settings/slack",
                    completed=False,
                    triggered=True,
                ),
                task(
                    connected,
                    "Invite team members",
                    "Share answers and data with the rest of your team.",
                    "/admin/people/",
                    completed=invited,
                    triggered=False,
                ),
            ],
        },
        {
            "name": production,
            "tasks": [
                task(
                    production,
                    "Switch to a production-ready app database",
                    "Migrate off of the default H2 application database to PostgreSQL or MySQL",
                    "https://www.metabase.com/docs/latest/installation-and-operation/migrating-from-h2",
                    completed=not on_sqlite,
                    triggered=on_sqlite,
                )
            ],
        },
        {
            "name": curate,
            "tasks": [
                task(
                    curate,
                    "Hide irrelevant tables",
                    "If your data contains technical or irrelevant info you can hide it.",
                    "/admin/datamodel/database",
                    completed=False,
                    triggered=False,
                ),
                task(
                    curate,
                    "Organize questions",
                    "Have a lot of saved questions in Metabase? Create collections to help manage them and "
                    "add context.",
                    "/collection/root",
                    completed=False,
                    triggered=False,
                ),
                task(
                    curate,
                    "Create a model",
                    "Set up friendly starting points for your team to explore data",
                    "/model/new",
                    completed=False,
                    triggered=True,
                ),
            ],
        },
    ]


def test_checklist_of_a_new_instance(fresh_api: Api, token: str, app_db_kind: str) -> None:
    admin = fresh_api.with_headers(
        {"X-Metabase-Session": fresh_api.post("/api/setup", setup_body(token))["id"]}
    )
    assert admin.get("/api/setup/admin_checklist") == fresh_checklist(app_db_kind, invited=False)
    admin.post("/api/user", {"email": "bob@example.com", "first_name": "Bob"})
    assert admin.get("/api/setup/admin_checklist") == fresh_checklist(app_db_kind, invited=True)


def test_checklist_groups_and_titles_for_an_admin(api: Api) -> None:
    groups = api.as_("crowberto").get("/api/setup/admin_checklist")
    assert [(g["name"], [t["title"] for t in g["tasks"]]) for g in groups] == CHECKLIST_TITLES
    next_steps = [t["title"] for g in groups for t in g["tasks"] if t["is_next_step"]]
    assert len(next_steps) <= 1


def test_checklist_is_for_admins_only(api: Api) -> None:
    assert api.as_("rasta").get("/api/setup/admin_checklist", expect=403) == (
        "You don't have permissions to do that."
    )
    # `/api/setup` is outside Metabase's authentication wrapper: anonymous callers get the same 403.
    assert api.get("/api/setup/admin_checklist", expect=403) == "You don't have permissions to do that."


# ---------------------------------------------------------------------------------------------------
# The first database during setup (Metabase <= 0.49, as its API tutorial shows)


def test_validate_checks_connection_details_before_setup(fresh_api: Api, token: str) -> None:
    with fresh_warehouse("sqlite") as details:
        good = {"token": token, "details": {"engine": "sqlite", "details": details}}
        assert fresh_api.post("/api/setup/validate", good) == {"valid": True}
    missing = {"token": token, "details": {"engine": "sqlite", "details": {"db": "/no/such.sqlite"}}}
    assert fresh_api.post("/api/setup/validate", missing, expect=400) == {
        "message": "Database cannot be found.",
        "errors": {"db": "check your connection string"},
    }
    wrong = {"token": "nope", "details": {"engine": "sqlite", "details": {"db": "/x"}}}
    assert fresh_api.post("/api/setup/validate", wrong, expect=403) == "Invalid SetupToken"
    fresh_api.post("/api/setup", setup_body(token))
    assert fresh_api.post("/api/setup/validate", missing, expect=400) == "Instance already initialized"


def test_setup_can_add_the_first_database(fresh_api: Api, token: str) -> None:
    with fresh_warehouse("sqlite") as details:
        database = {"engine": "sqlite", "name": "Birds", "details": details}
        session = fresh_api.post("/api/setup", setup_body(token, database=database))["id"]
        admin = fresh_api.with_headers({"X-Metabase-Session": session})
        names = [d["name"] for d in admin.get("/api/database")["data"]]
        assert names == ["Birds", "Sample Database"]


def test_setup_with_unreachable_database_saves_nothing(fresh_api: Api, token: str) -> None:
    database = {"engine": "sqlite", "name": "Birds", "details": {"db": "/no/such.sqlite"}}
    body = fresh_api.post("/api/setup", setup_body(token, database=database), expect=400)
    assert body == {"message": "Database cannot be found.", "errors": {"db": "check your connection string"}}
    assert_nothing_set_up(fresh_api)
