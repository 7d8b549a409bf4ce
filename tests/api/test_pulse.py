"""`/api/pulse`: dashboard subscriptions. Creating, reading, listing, changing and archiving them with
Metabase's shapes and permissions, and their deliveries by the scheduler to a real SMTP server: tables
in the HTML, CSV/XLSX attachments, recipients, the unsubscribe link, archived cards, deactivated users,
empty results and a mail server that is down."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import openpyxl
import pytest

from querybase.delivery.send import unsubscribe_hash
from tests.support.http import Api
from tests.support.notifications import (
    CATEGORY_SQL,
    EMPTY_SQL,
    dashboard_of,
    link_query,
    mail,
    native_card,
    next_hour,
    rows_of,
    run_jobs,
    sample_db_id,
)

PULSE_KEYS = {
    "id", "entity_id", "name", "creator_id", "creator", "collection_id", "collection_position", "archived",
    "skip_if_empty", "dashboard_id", "parameters", "cards", "channels", "created_at", "updated_at",
}  # fmt: skip
CHANNEL_KEYS = {
    "id", "entity_id", "pulse_id", "channel_type", "channel_id", "schedule_type", "schedule_hour",
    "schedule_day", "schedule_frame", "enabled", "recipients", "created_at", "updated_at",
}  # fmt: skip
CARD_REF_KEYS = {
    "id", "name", "description", "collection_id", "display", "include_csv", "include_xls", "format_rows",
    "pivot_results", "dashboard_card_id", "dashboard_id", "parameter_mappings",
}  # fmt: skip
CARD_REFS_ERROR = (
    "one or more value must be a map with the following keys `(collection_id, description, display, id, "
    "include_csv, include_xls, name, dashboard_id, parameter_mappings)`, or value must be a map with the "
    "keys `id`, `include_csv`, `include_xls`, and `dashboard_card_id`., or value must be a map with the "
    "keys `include_csv`, `include_xls`, and `dashboard_card_id`."
)


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def card_ref(card: dict[str, Any], dashcard: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "id": card["id"],
        "include_csv": False,
        "include_xls": False,
        "dashboard_card_id": dashcard["id"] if dashcard else None,
        **options,
    }


def email_channel(*recipients: dict[str, Any], **schedule: Any) -> dict[str, Any]:
    return {
        "channel_type": "email",
        "enabled": True,
        "schedule_type": "hourly",
        "schedule_hour": None,
        "schedule_day": None,
        "schedule_frame": None,
        "recipients": list(recipients),
        **schedule,
    }


def subscription(api: Api, dashboard: dict[str, Any], *recipients: dict[str, Any], **extra: Any) -> dict:
    refs = [card_ref({"id": dc["card_id"]}, dc) for dc in dashboard["dashcards"] if dc["card_id"]]
    body = {
        "name": dashboard["name"],
        "dashboard_id": dashboard["id"],
        "cards": extra.pop("cards", refs),
        "channels": [email_channel(*recipients, **extra.pop("schedule", {}))],
        "skip_if_empty": False,
        **extra,
    }
    return api.post("/api/pulse", body)


def channel_key(pulse: dict[str, Any]) -> str:
    return f"pulse-channel:{pulse['channels'][0]['id']}"


# --- Creating and reading -----------------------------------------------------------------------------------


def test_create_answers_the_subscription_with_cards_channels_and_recipients(admin, user_ids):
    card = native_card(admin, CATEGORY_SQL)
    dashboard = dashboard_of(admin, [card])
    dashcard = dashboard["dashcards"][0]
    body = {
        "name": "Daily KPIs",
        "dashboard_id": dashboard["id"],
        "cards": [card_ref(card, dashcard, include_csv=True)],
        "channels": [
            email_channel(
                {"id": user_ids["rasta"]},
                {"email": "outside@example.com"},
                schedule_type="daily",
                schedule_hour=8,
                schedule_day="mon",
            )
        ],
        "skip_if_empty": True,
        "parameters": [],
    }
    pulse = admin.post("/api/pulse", body)
    assert set(pulse) == PULSE_KEYS
    assert pulse["name"] == "Daily KPIs"
    assert pulse["creator_id"] == user_ids["crowberto"]
    assert pulse["creator"]["email"] == "crowberto@metabase.com"
    assert (pulse["dashboard_id"], pulse["collection_id"]) == (dashboard["id"], dashboard["collection_id"])
    assert (pulse["archived"], pulse["skip_if_empty"], pulse["parameters"]) == (False, True, [])
    assert pulse["cards"] == [
        {
            "id": card["id"],
            "name": card["name"],
            "description": None,
            "collection_id": card["collection_id"],
            "display": "table",
            "include_csv": True,
            "include_xls": False,
            "format_rows": True,
            "pivot_results": False,
            "dashboard_card_id": dashcard["id"],
            "dashboard_id": dashboard["id"],
            "parameter_mappings": None,
        }
    ]
    [channel] = pulse["channels"]
    assert set(channel) == CHANNEL_KEYS
    # A daily schedule keeps its hour and drops the day it does not use.
    assert (channel["schedule_type"], channel["schedule_hour"], channel["schedule_day"]) == ("daily", 8, None)
    assert (channel["channel_type"], channel["enabled"], channel["pulse_id"]) == ("email", True, pulse["id"])
    assert channel["recipients"] == [
        {"email": "outside@example.com"},
        {
            "id": user_ids["rasta"],
            "email": "rasta@metabase.com",
            "first_name": "Rasta",
            "last_name": "Toucan",
            "common_name": "Rasta Toucan",
        },
    ]
    fetched = admin.get(f"/api/pulse/{pulse['id']}")
    assert fetched == {**pulse, "can_write": True}


def test_create_validates_like_metabase(api):
    rasta = api.as_("rasta")
    empty = rasta.post("/api/pulse", {}, expect=400)
    assert empty["errors"]["name"] == "value must be a non-blank string."
    assert empty["specific-errors"]["name"] == ["missing required key, received: nil"]
    assert rasta.post("/api/pulse", {"name": "abc"}, expect=400)["errors"]["cards"] == CARD_REFS_ERROR
    for cards in ("foobar", ["abc"], []):
        errors = rasta.post("/api/pulse", {"name": "abc", "cards": cards}, expect=400)["errors"]
        assert errors["cards"] == CARD_REFS_ERROR
    refs = [{"id": 100, "include_csv": False, "include_xls": False, "dashboard_card_id": None}]
    for channels in (None, "foobar", ["abc"]):
        body = {"name": "abc", "cards": refs, **({} if channels is None else {"channels": channels})}
        assert rasta.post("/api/pulse", body, expect=400)["errors"] == {"channels": "one or more map"}
    assert rasta.put("/api/pulse/1", {"name": 123}, expect=400)["errors"] == {
        "name": "nullable value must be a non-blank string."
    }
    assert rasta.put("/api/pulse/1", {"channels": "x"}, expect=400)["errors"] == {
        "channels": "nullable one or more map"
    }
    card = card_ref(native_card(rasta, CATEGORY_SQL))
    bad_schedule = {"name": "abc", "cards": [card], "channels": [email_channel(schedule_type="daily")]}
    assert rasta.post("/api/pulse", bad_schedule, expect=400) == {
        "errors": {"channels": "a daily schedule needs a schedule_hour from 0 to 23"}
    }


def test_cards_and_recipients_must_exist_and_be_readable(api, user_ids):
    rasta = api.as_("rasta")
    card = native_card(rasta, CATEGORY_SQL)
    dashboard = dashboard_of(rasta, [card])
    refs = [card_ref(card)]
    unknown_card = {"name": "x", "dashboard_id": dashboard["id"], "cards": [card_ref({"id": 99999999})]}
    assert (
        rasta.post("/api/pulse", {**unknown_card, "channels": [email_channel()]}, expect=404) == "Not found."
    )
    unknown_user = email_channel({"id": 99999999})
    body = {"name": "x", "dashboard_id": dashboard["id"], "cards": refs, "channels": [unknown_user]}
    assert rasta.post("/api/pulse", body, expect=404) == "User 99999999 does not exist."
    wrong_email = email_channel({"id": user_ids["lucky"], "email": "someone@else.com"})
    body = {**body, "channels": [wrong_email]}
    assert rasta.post("/api/pulse", body, expect=403) == f"Wrong email address for User {user_ids['lucky']}."
    # A card in crowberto's personal collection is not rasta's to subscribe to.
    admin = api.as_("crowberto")
    personal = admin.get("/api/user/current")["personal_collection_id"]
    private = native_card(admin, CATEGORY_SQL, collection_id=personal)
    body = {
        "name": "x",
        "dashboard_id": dashboard["id"],
        "cards": [card_ref(private)],
        "channels": [email_channel()],
    }
    assert rasta.post("/api/pulse", body, expect=403) == "You don't have permissions to do that."


def test_who_sees_and_who_changes_a_subscription(api, user_ids):
    rasta, lucky, admin = api.as_("rasta"), api.as_("lucky"), api.as_("crowberto")
    dashboard = dashboard_of(rasta, [native_card(rasta, CATEGORY_SQL)])
    pulse = subscription(rasta, dashboard, {"id": user_ids["lucky"]})
    path = f"/api/pulse/{pulse['id']}"
    assert rasta.get(path)["can_write"] is True
    # lucky receives it: he may read it but not change it.
    assert lucky.get(path)["can_write"] is False
    assert lucky.put(path, {"name": "mine now"}, expect=403) == "You don't have permissions to do that."
    assert admin.get(path)["can_write"] is True
    # Listing: by default what the caller may change; `creator_or_recipient` what they created or receive.
    assert pulse["id"] in [p["id"] for p in rasta.get(f"/api/pulse?dashboard_id={dashboard['id']}")]
    assert lucky.get(f"/api/pulse?dashboard_id={dashboard['id']}") == []
    mine = lucky.get("/api/pulse?creator_or_recipient=true")
    assert pulse["id"] in [p["id"] for p in mine]
    lucky.delete(f"{path}/subscription", expect=204)
    assert lucky.get(path, expect=403) == "You don't have permissions to do that."
    assert lucky.delete(f"{path}/subscription", expect=404) == "Not found."
    assert rasta.get(path)["channels"][0]["recipients"] == []
    assert rasta.get("/api/pulse/99999999", expect=404) == "Not found."


def test_update_changes_schedule_and_recipients_and_archives(api, user_ids):
    rasta = api.as_("rasta")
    dashboard = dashboard_of(rasta, [native_card(rasta, CATEGORY_SQL)])
    pulse = subscription(rasta, dashboard, {"id": user_ids["rasta"]})
    [channel] = pulse["channels"]
    path = f"/api/pulse/{pulse['id']}"
    changed = {
        **channel,
        "schedule_type": "monthly",
        "schedule_hour": 9,
        "schedule_day": "fri",
        "schedule_frame": "last",
        "recipients": [{"email": "boss@example.com"}],
    }
    updated = rasta.put(path, {"name": "Renamed", "channels": [changed], "skip_if_empty": True})
    assert updated["name"] == "Renamed"
    assert updated["skip_if_empty"] is True
    [after] = updated["channels"]
    assert after["id"] == channel["id"]
    assert (
        after["schedule_type"],
        after["schedule_hour"],
        after["schedule_day"],
        after["schedule_frame"],
    ) == (
        "monthly",
        9,
        "fri",
        "last",
    )
    assert after["recipients"] == [{"email": "boss@example.com"}]
    archived = rasta.put(path, {"archived": True})
    assert archived["archived"] is True
    assert archived["channels"][0]["enabled"] is False
    listed = rasta.get(f"/api/pulse?dashboard_id={dashboard['id']}")
    assert listed == []
    assert [p["id"] for p in rasta.get(f"/api/pulse?dashboard_id={dashboard['id']}&archived=true")] == [
        pulse["id"]
    ]
    restored = rasta.put(path, {"archived": False})
    assert (restored["archived"], restored["channels"][0]["enabled"]) == (False, True)


def test_form_input_lists_the_channel_types(api):
    channels = api.as_("rasta").get("/api/pulse/form_input")["channels"]
    assert set(channels) == {"email", "slack", "http"}
    assert channels["email"] == {
        "type": "email",
        "name": "Email",
        "allows_recipients": True,
        "recipients": ["user", "email"],
        "schedules": ["hourly", "daily", "weekly", "monthly"],
        "configured": False,
    }
    assert channels["slack"]["configured"] is False


def test_requires_a_session(api):
    assert api.get("/api/pulse", expect=401) == "Unauthenticated"
    assert api.put("/api/pulse/13", {}, expect=401) == "Unauthenticated"


# --- Deliveries ---------------------------------------------------------------------------------------------


def test_scheduled_delivery_sends_tables_and_attachments_once(api, server, user_ids):
    admin = api.as_("crowberto")
    card = native_card(admin, CATEGORY_SQL)
    expected = rows_of(admin, card)
    dashboard = dashboard_of(admin, [card])
    dashcard = dashboard["dashcards"][0]
    refs = [card_ref(card, dashcard, include_csv=True, include_xls=True)]
    pulse = subscription(
        admin,
        dashboard,
        {"id": user_ids["rasta"]},
        {"id": user_ids["lucky"]},
        {"email": "x@example.com"},
        cards=refs,
    )
    due = next_hour()
    with mail(admin) as smtp:
        assert run_jobs(server, due.replace(minute=1), channel_key(pulse)) == [channel_key(pulse)]
        # The users get one message together (hidden from each other), the outside address its own.
        assert len(smtp.messages) == 2
        users, outside = sorted(smtp.messages, key=lambda m: len(m.recipients), reverse=True)
        assert sorted(users.recipients) == ["lucky@metabase.com", "rasta@metabase.com"]
        assert users.header("To") is None
        assert outside.recipients == ["x@example.com"]
        for message in (users, outside):
            assert message.subject == dashboard["name"]
            assert card["name"] in message.html
            for category, count in expected:
                assert f">{category}</td>" in message.html
                assert f">{count}</td>" in message.html
        assert "Manage your subscriptions" in users.html and "Unsubscribe" not in users.html
        assert "Unsubscribe" in outside.html
        [(csv_name, csv_bytes, csv_type), (xlsx_name, xlsx_bytes, xlsx_type)] = users.attachments()
        assert csv_name.startswith(card["name"] + "_") and csv_name.endswith(".csv")
        assert csv_type == "text/csv"
        text = csv_bytes if isinstance(csv_bytes, str) else csv_bytes.decode()
        table = list(csv.reader(io.StringIO(text)))
        assert table == [["CATEGORY", "N"]] + [[c, str(n)] for c, n in expected]
        assert xlsx_name.endswith(".xlsx")
        assert xlsx_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes)).active
        assert [c.value for c in sheet[1]] == ["CATEGORY", "N"]
        assert sheet.max_row == len(expected) + 1
        # The same time again, or a minute later: already delivered, nothing more is sent.
        assert run_jobs(server, due.replace(minute=1), channel_key(pulse)) == []
        assert run_jobs(server, due.replace(minute=2), channel_key(pulse)) == []
        assert len(smtp.messages) == 2


def test_unsubscribe_hash_is_metabases():
    """Metabase's own test vector (`unsubscribe-hash-test`): links it made keep working."""
    salt = "08534993-94c6-4bac-a1ad-86c9668ee8f5"
    assert unsubscribe_hash(salt, "pulse-id", 12345678, "rasta@pasta.com") == (
        "37bc76b4a24279eb90a71c129a629fb8626ad0089f119d6d095bc5135377f2e2"
        "884ad80b037495f1962a283cf57cdbad031fd1f06a21d86a40bba7fe674802dd"
    )


def test_unsubscribe_link_takes_the_address_off(api, server):
    admin = api.as_("crowberto")
    dashboard = dashboard_of(admin, [native_card(admin, CATEGORY_SQL)])
    pulse = subscription(admin, dashboard, {"email": "leaving@example.com"}, {"email": "staying@example.com"})
    with mail(admin) as smtp:
        run_jobs(server, next_hour().replace(minute=1), channel_key(pulse))
        [leaving] = smtp.to("leaving@example.com")
    query = link_query(leaving.html)
    assert set(query) == {"hash", "email", "pulse-id"}
    body = {"pulse-id": int(query["pulse-id"]), "email": query["email"], "hash": query["hash"]}
    assert body == {"pulse-id": pulse["id"], "email": "leaving@example.com", "hash": query["hash"]}
    assert api.post("/api/pulse/unsubscribe", {**body, "hash": "0" * 128}, expect=400) == "Invalid hash."
    other = {**body, "email": "staying@example.com"}
    assert api.post("/api/pulse/unsubscribe", other, expect=400) == "Invalid hash."
    assert api.post("/api/pulse/unsubscribe", body) == {"status": "success", "title": dashboard["name"]}
    recipients = admin.get(f"/api/pulse/{pulse['id']}")["channels"][0]["recipients"]
    assert recipients == [{"email": "staying@example.com"}]
    assert api.post("/api/pulse/unsubscribe", body, expect=400) == "Email for pulse-id doesn't exist."
    assert api.post("/api/pulse/unsubscribe/undo", body) == {"status": "success", "title": dashboard["name"]}
    assert api.post("/api/pulse/unsubscribe/undo", body, expect=400) == "Email for pulse-id already exists."
    recipients = admin.get(f"/api/pulse/{pulse['id']}")["channels"][0]["recipients"]
    assert recipients == [{"email": "staying@example.com"}, {"email": "leaving@example.com"}]


def test_archived_card_and_deactivated_recipient_are_left_out(api, server, user_ids):
    admin = api.as_("crowberto")
    kept, archived = native_card(admin, CATEGORY_SQL), native_card(admin, CATEGORY_SQL)
    dashboard = dashboard_of(admin, [kept, archived])
    # trashbird was deactivated after being set up: he is not mailed (nor listed), rasta is.
    pulse = subscription(admin, dashboard, {"id": user_ids["rasta"]}, {"id": user_ids["trashbird"]})
    assert [r["id"] for r in pulse["channels"][0]["recipients"]] == [user_ids["rasta"]]
    admin.put(f"/api/card/{archived['id']}", {"archived": True})
    with mail(admin) as smtp:
        run_jobs(server, next_hour().replace(minute=1), channel_key(pulse))
        [message] = smtp.messages
    assert message.recipients == ["rasta@metabase.com"]
    assert kept["name"] in message.html
    assert archived["name"] not in message.html


def test_skip_if_empty_sends_nothing_when_every_card_is_empty(api, server, user_ids):
    admin = api.as_("crowberto")
    empty = dashboard_of(admin, [native_card(admin, EMPTY_SQL)])
    skipping = subscription(admin, empty, {"id": user_ids["rasta"]}, skip_if_empty=True)
    sending = subscription(admin, empty, {"id": user_ids["rasta"]}, skip_if_empty=False)
    with mail(admin) as smtp:
        run_jobs(server, next_hour().replace(minute=1), channel_key(skipping), channel_key(sending))
        [message] = smtp.messages
    assert "No results" in message.html


def test_mail_server_down_fails_the_run_which_is_retried(api, server, user_ids):
    admin = api.as_("crowberto")
    dashboard = dashboard_of(admin, [native_card(admin, CATEGORY_SQL)])
    pulse = subscription(admin, dashboard, {"id": user_ids["rasta"]})
    key = channel_key(pulse)
    due = next_hour()
    with mail(admin) as smtp:
        down_host, down_port = smtp.host, smtp.port
    # The settings still point at the server, which has stopped: the run fails without raising.
    admin.put("/api/setting/email-smtp-host", {"value": down_host}, expect=204)
    admin.put("/api/setting/email-smtp-port", {"value": down_port}, expect=204)
    try:
        assert run_jobs(server, due.replace(minute=1), key) == [key]
        # Not yet time to try again; a minute later it is.
        assert run_jobs(server, due.replace(minute=1, second=30), key) == []
        with mail(admin) as smtp:
            assert run_jobs(server, due.replace(minute=2, second=30), key) == [key]
            [message] = smtp.messages
            assert message.recipients == ["rasta@metabase.com"]
            assert run_jobs(server, due.replace(minute=10), key) == []
    finally:
        admin.delete("/api/email", expect=204)


def test_test_send_mails_now_without_saving(api, user_ids):
    admin = api.as_("crowberto")
    card = native_card(admin, CATEGORY_SQL)
    dashboard = dashboard_of(admin, [card])
    body = {
        "name": "Try it",
        "dashboard_id": dashboard["id"],
        "cards": [card_ref(card, dashboard["dashcards"][0], include_csv=True)],
        "channels": [email_channel({"id": user_ids["lucky"]}, {"email": "try@example.com"})],
    }
    with mail(admin) as smtp:
        assert admin.post("/api/pulse/test", body) == {"ok": True}
        assert len(smtp.messages) == 2
        [outside] = smtp.to("try@example.com")
    # An unsaved subscription has nothing to unsubscribe from.
    assert "/unsubscribe?" not in outside.html
    assert [name.endswith(".csv") for name, _, _ in outside.attachments()] == [True]
    assert admin.get(f"/api/pulse?dashboard_id={dashboard['id']}") == []


def test_subscription_runs_as_its_creator(api, server, user_ids):
    """Recipients see what the creator may see: once the card moves into crowberto's personal collection,
    rasta's subscription shows it as a problem, even though crowberto (the recipient) could read it."""
    rasta, admin = api.as_("rasta"), api.as_("crowberto")
    card = native_card(admin, CATEGORY_SQL)
    [(category, count), *_] = rows_of(admin, card)
    dashboard = dashboard_of(rasta, [card])
    pulse = subscription(rasta, dashboard, {"id": user_ids["crowberto"]})
    due = next_hour()
    with mail(admin) as smtp:
        run_jobs(server, due.replace(minute=1), channel_key(pulse))
        [readable] = smtp.messages
        personal = admin.get("/api/user/current")["personal_collection_id"]
        admin.put(f"/api/card/{card['id']}", {"collection_id": personal})
        run_jobs(server, due.replace(hour=due.hour, minute=1) + dt.timedelta(hours=1), channel_key(pulse))
        [_, forbidden] = smtp.messages
    assert f">{category}</td>" in readable.html
    assert "There was a problem with this question." in forbidden.html
    assert f">{category}</td>" not in forbidden.html and f">{count}</td>" not in forbidden.html


def test_previews_render_cards_and_dashboards_as_emails_show_them(api):
    rasta, admin = api.as_("rasta"), api.as_("crowberto")
    card = native_card(rasta, CATEGORY_SQL)
    [(category, count), *_] = rows_of(rasta, card)
    preview = rasta.raw("GET", f"/api/pulse/preview_card/{card['id']}")
    assert preview.status_code == 200
    assert preview.headers["content-type"].startswith("text/html")
    assert card["name"] in preview.text and f">{category}</td>" in preview.text
    info = rasta.get(f"/api/pulse/preview_card_info/{card['id']}")
    assert set(info) == {
        "id", "pulse_card_type", "pulse_card_html", "pulse_card_name", "pulse_card_url", "row_count",
        "col_count",
    }  # fmt: skip
    assert (info["id"], info["pulse_card_type"], info["pulse_card_name"]) == (
        card["id"],
        "table",
        card["name"],
    )
    assert (info["row_count"], info["col_count"]) == (len(rows_of(rasta, card)), 2)
    assert info["pulse_card_url"].endswith(f"/question/{card['id']}")
    assert f">{count}</td>" in info["pulse_card_html"]
    dashboard = dashboard_of(rasta, [card])
    page = rasta.raw("GET", f"/api/pulse/preview_dashboard/{dashboard['id']}")
    assert page.status_code == 200
    assert f"Backend Artifacts Preview for Dashboard {dashboard['id']}" in page.text
    assert card["name"] in page.text
    personal = admin.get("/api/user/current")["personal_collection_id"]
    private = native_card(admin, CATEGORY_SQL, collection_id=personal)
    assert (
        rasta.get(f"/api/pulse/preview_card/{private['id']}", expect=403)
        == "You don't have permissions to do that."
    )
    assert rasta.get("/api/pulse/preview_card_info/99999999", expect=404) == "Not found."
    assert rasta.get("/api/pulse/preview_dashboard/99999999", expect=404) == "Not found."


def test_filters_tabs_and_text_cards_reach_the_email(api, server, user_ids):
    admin = api.as_("crowberto")
    tag = {"id": "c0ffee", "name": "cat", "display-name": "Cat", "type": "text"}
    sql = "SELECT CATEGORY, COUNT(*) AS N FROM PRODUCTS WHERE CATEGORY = {{cat}} GROUP BY CATEGORY"
    query = {
        "database": sample_db_id(admin),
        "type": "native",
        "native": {"query": sql, "template-tags": {"cat": tag}},
    }
    card = admin.post(
        "/api/card",
        {"name": "By category", "display": "table", "visualization_settings": {}, "dataset_query": query},
    )
    parameter = {"id": "p1", "name": "Category", "slug": "category", "type": "category", "default": "Widget"}
    dashboard = admin.post("/api/dashboard", {"name": "Tabbed", "parameters": [parameter]})
    text = {
        "virtual_card": {"name": None, "display": "text", "visualization_settings": {}},
        "text": "Hello team",
    }
    mapping = {"parameter_id": "p1", "card_id": card["id"], "target": ["variable", ["template-tag", "cat"]]}
    dashcards = [
        {
            "id": -1,
            "card_id": card["id"],
            "row": 0,
            "col": 0,
            "size_x": 6,
            "size_y": 4,
            "dashboard_tab_id": -1,
            "parameter_mappings": [mapping],
        },
        {
            "id": -2,
            "card_id": None,
            "row": 0,
            "col": 0,
            "size_x": 6,
            "size_y": 2,
            "dashboard_tab_id": -2,
            "visualization_settings": text,
        },
    ]
    tabs = [{"id": -1, "name": "Numbers"}, {"id": -2, "name": "Notes"}]
    dashboard = admin.put(f"/api/dashboard/{dashboard['id']}", {"dashcards": dashcards, "tabs": tabs})
    chosen = [{**parameter, "value": "Gizmo"}]
    pulse = subscription(admin, dashboard, {"id": user_ids["rasta"]}, parameters=chosen)
    with mail(admin) as smtp:
        run_jobs(server, next_hour().replace(minute=1), channel_key(pulse))
        [message] = smtp.messages
    html = message.html
    assert html.index(">Numbers</h2>") < html.index("By category") < html.index(">Notes</h2>")
    assert html.index(">Notes</h2>") < html.index("Hello team")
    assert "Category: Gizmo" in html
    assert ">Gizmo</td>" in html and ">Widget</td>" not in html
