"""Alerts: `/api/notification` (where they live since Metabase 0.54) and the legacy `/api/alert`. Creating,
reading, listing, changing them with Metabase's shapes and permissions, and their deliveries by the
scheduler to a real SMTP server: has-results and goal conditions, send-once, archived cards, the
unsubscribe link, failing queries, and sending now."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.http import Api
from tests.support.notifications import (
    CATEGORY_SQL,
    EMPTY_SQL,
    link_query,
    mail,
    native_card,
    next_hour,
    rows_of,
    run_jobs,
)

NOTIFICATION_KEYS = {
    "id", "payload_type", "payload_id", "active", "creator_id", "creator", "created_at", "updated_at",
    "payload", "subscriptions", "handlers",
}  # fmt: skip
HANDLER_KEYS = {
    "id", "notification_id", "channel_type", "channel_id", "template_id", "active", "created_at",
    "updated_at", "channel", "template", "recipients",
}  # fmt: skip
RECIPIENT_KEYS = {
    "id", "notification_handler_id", "type", "user_id", "permissions_group_id", "details", "created_at",
    "updated_at",
}  # fmt: skip
DAILY_AT_9 = "0 0 9 * * ? *"
FORBIDDEN = "You don't have permissions to do that."


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def user(user_id: int) -> dict[str, Any]:
    return {"type": "notification-recipient/user", "user_id": user_id}


def raw(email: str) -> dict[str, Any]:
    return {"type": "notification-recipient/raw-value", "details": {"value": email}}


def alert_body(card: dict[str, Any], *recipients: dict[str, Any], **payload: Any) -> dict[str, Any]:
    return {
        "payload_type": "notification/card",
        "payload": {"card_id": card["id"], "send_condition": "has_result", "send_once": False, **payload},
        "subscriptions": [
            {
                "type": "notification-subscription/cron",
                "cron_schedule": DAILY_AT_9,
                "ui_display_type": "cron/builder",
            }
        ],
        "handlers": [{"channel_type": "channel/email", "recipients": list(recipients)}],
    }


def next_9am() -> dt.datetime:
    due = next_hour()
    while due.hour != 9:
        due += dt.timedelta(hours=1)
    return due


def schedule_key(notification: dict[str, Any]) -> str:
    return f"notification-subscription:{notification['subscriptions'][0]['id']}"


def goal_card(api: Api, goal: float) -> dict[str, Any]:
    settings = {"graph.goal_value": goal, "graph.dimensions": ["CATEGORY"], "graph.metrics": ["N"]}
    return native_card(api, CATEGORY_SQL, display="line", visualization_settings=settings)


# --- Creating, reading, changing ---------------------------------------------------------------------------


def test_create_answers_the_hydrated_notification(admin, user_ids):
    card = native_card(admin, CATEGORY_SQL)
    created = admin.post("/api/notification", alert_body(card, user(user_ids["rasta"]), raw("x@example.com")))
    assert set(created) == NOTIFICATION_KEYS
    assert (created["payload_type"], created["active"]) == ("notification/card", True)
    assert (created["creator_id"], created["creator"]["email"]) == (
        user_ids["crowberto"],
        "crowberto@metabase.com",
    )
    payload = created["payload"]
    assert (payload["id"], payload["card_id"]) == (created["payload_id"], card["id"])
    assert (payload["send_condition"], payload["send_once"]) == ("has_result", False)
    assert (payload["card"]["id"], payload["card"]["name"]) == (card["id"], card["name"])
    [subscription] = created["subscriptions"]
    assert set(subscription) == {
        "id", "notification_id", "type", "event_name", "cron_schedule", "ui_display_type", "created_at",
    }  # fmt: skip
    assert subscription["notification_id"] == created["id"]
    assert (subscription["cron_schedule"], subscription["ui_display_type"]) == (DAILY_AT_9, "cron/builder")
    [handler] = created["handlers"]
    assert set(handler) == HANDLER_KEYS
    assert (handler["channel_type"], handler["active"], handler["channel"], handler["template"]) == (
        "channel/email",
        True,
        None,
        None,
    )
    rasta, outside = handler["recipients"]
    assert set(rasta) == RECIPIENT_KEYS | {"user"}
    assert (rasta["type"], rasta["user_id"], rasta["details"]) == (
        "notification-recipient/user",
        user_ids["rasta"],
        None,
    )
    assert rasta["user"]["email"] == "rasta@metabase.com"
    assert set(outside) == RECIPIENT_KEYS
    assert outside["details"] == {"value": "x@example.com"}
    assert admin.get(f"/api/notification/{created['id']}") == created


def test_create_validates_like_metabase(admin):
    card = native_card(admin, CATEGORY_SQL)
    missing = admin.post(
        "/api/notification", {"payload": {}, "payload_type": "notification/card"}, expect=400
    )
    assert missing["specific-errors"]["payload"]["card_id"] == ["missing required key, received: nil"]
    bad_type = admin.post("/api/notification", {**alert_body(card), "payload_type": "nope"}, expect=400)
    assert "payload_type" in bad_type["errors"]
    bad_cron = alert_body(card)
    bad_cron["subscriptions"][0]["cron_schedule"] = "every day"
    assert admin.post("/api/notification", bad_cron, expect=400) == {
        "errors": {"subscriptions": "value must be a valid Quartz cron schedule string."}
    }
    assert admin.post("/api/notification", alert_body({"id": 99999999}), expect=404) == "Not found."
    assert admin.get("/api/notification/99999999", expect=404) == "Not found."
    assert admin.post("/api/notification", alert_body(card, user(99999999)), expect=404) == (
        "User 99999999 does not exist."
    )


def test_who_sees_and_who_changes_an_alert(api, user_ids):
    rasta, lucky, admin = api.as_("rasta"), api.as_("lucky"), api.as_("crowberto")
    card = native_card(rasta, CATEGORY_SQL)
    created = rasta.post("/api/notification", alert_body(card, user(user_ids["lucky"])))
    path = f"/api/notification/{created['id']}"
    assert lucky.get(path)["id"] == created["id"]
    assert lucky.put(path, {**created, "active": False}, expect=403) == FORBIDDEN
    mine = rasta.post("/api/notification", alert_body(card))
    assert lucky.get(f"/api/notification/{mine['id']}", expect=403) == FORBIDDEN
    assert admin.get(f"/api/notification/{mine['id']}")["id"] == mine["id"]
    by_card = [n["id"] for n in rasta.get(f"/api/notification?card_id={card['id']}")]
    assert by_card == [created["id"], mine["id"]]
    assert [
        n["id"] for n in rasta.get(f"/api/notification?card_id={card['id']}&recipient_id={user_ids['lucky']}")
    ] == [created["id"]]
    assert [n["id"] for n in lucky.get(f"/api/notification?card_id={card['id']}")] == [created["id"]]
    # A card in crowberto's personal collection is not rasta's to alert on.
    personal = admin.get("/api/user/current")["personal_collection_id"]
    private = native_card(admin, CATEGORY_SQL, collection_id=personal)
    assert rasta.post("/api/notification", alert_body(private), expect=403) == FORBIDDEN
    assert api.get("/api/notification", expect=401) == "Unauthenticated"


def test_update_keeps_rows_by_id_and_deactivates(api, user_ids):
    rasta = api.as_("rasta")
    card = native_card(rasta, CATEGORY_SQL)
    created = rasta.post("/api/notification", alert_body(card, user(user_ids["rasta"])))
    [handler] = created["handlers"]
    changed = {
        **created,
        "payload": {**created["payload"], "send_condition": "goal_above"},
        "handlers": [{**handler, "recipients": [*handler["recipients"], raw("new@example.com")]}],
    }
    path = f"/api/notification/{created['id']}"
    updated = rasta.put(path, changed)
    assert updated["payload"]["send_condition"] == "goal_above"
    assert updated["handlers"][0]["id"] == handler["id"]
    old, new = updated["handlers"][0]["recipients"]
    assert old["id"] == handler["recipients"][0]["id"]
    assert new["details"] == {"value": "new@example.com"}
    assert updated["subscriptions"] == created["subscriptions"]
    inactive = rasta.put(path, {**updated, "active": False})
    assert inactive["active"] is False
    assert created["id"] not in [n["id"] for n in rasta.get(f"/api/notification?card_id={card['id']}")]
    listed = rasta.get(f"/api/notification?card_id={card['id']}&include_inactive=true")
    assert created["id"] in [n["id"] for n in listed]


def test_legacy_alert_api_shows_alerts_as_pulses(api, user_ids):
    rasta, lucky = api.as_("rasta"), api.as_("lucky")
    card = native_card(rasta, CATEGORY_SQL)
    created = rasta.post(
        "/api/notification", alert_body(card, user(user_ids["lucky"]), raw("x@example.com"), send_once=True)
    )
    alert = lucky.get(f"/api/alert/{created['id']}")
    assert alert == {
        "id": created["id"],
        "creator_id": user_ids["rasta"],
        "creator": created["creator"],
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
        "name": None,
        "alert_condition": "rows",
        "alert_above_goal": None,
        "alert_first_only": True,
        "archived": False,
        "collection_position": None,
        "collection_id": None,
        "skip_if_empty": True,
        "parameters": [],
        "dashboard_id": None,
        "card": {
            "name": card["name"],
            "description": None,
            "collection_id": card["collection_id"],
            "display": "table",
            "format_rows": True,
            "include_xls": False,
            "include_csv": True,
            "pivot_results": False,
            "dashboard_id": None,
            "dashboard_card_id": None,
            "parameter_mappings": None,
        },
        "channels": [
            {
                "schedule_type": "daily",
                "schedule_hour": 9,
                "schedule_day": None,
                "schedule_frame": None,
                "id": created["handlers"][0]["id"],
                "recipients": [
                    {"email": "x@example.com"},
                    {
                        "email": "lucky@metabase.com",
                        "last_name": "Pigeon",
                        "first_name": "Lucky",
                        "id": user_ids["lucky"],
                        "common_name": "Lucky Pigeon",
                    },
                ],
                "channel_type": "email",
                "channel_id": None,
                "enabled": True,
                "details": {"emails": ["x@example.com"]},
            }
        ],
    }
    assert created["id"] in [a["id"] for a in lucky.get("/api/alert")]
    assert created["id"] not in [a["id"] for a in lucky.get("/api/alert?archived=true")]
    lucky.delete(f"/api/alert/{created['id']}/subscription", expect=204)
    assert lucky.get(f"/api/alert/{created['id']}", expect=403) == FORBIDDEN
    assert lucky.delete(f"/api/alert/{created['id']}/subscription", expect=403) == FORBIDDEN
    assert created["id"] not in [a["id"] for a in lucky.get("/api/alert")]
    assert rasta.get("/api/alert/99999999", expect=404) == "Not found."


# --- Deliveries ---------------------------------------------------------------------------------------------


def test_alert_with_results_is_mailed_on_schedule_with_its_csv(api, server, user_ids):
    admin = api.as_("crowberto")
    card = native_card(admin, CATEGORY_SQL)
    expected = rows_of(admin, card)
    created = admin.post("/api/notification", alert_body(card, user(user_ids["rasta"]), raw("x@example.com")))
    key = schedule_key(created)
    due = next_9am()
    with mail(admin) as smtp:
        # Not yet nine o'clock: nothing is due.
        assert run_jobs(server, due - dt.timedelta(minutes=1), key) == []
        assert run_jobs(server, due + dt.timedelta(minutes=1), key) == [key]
        assert len(smtp.messages) == 2
        [to_rasta] = smtp.to("rasta@metabase.com")
        [outside] = smtp.to("x@example.com")
        assert run_jobs(server, due + dt.timedelta(minutes=2), key) == []
    for message in (to_rasta, outside):
        assert message.subject == f"Alert: {card['name']} has results"
        for category, count in expected:
            assert f">{category}</td>" in message.html and f">{count}</td>" in message.html
        [(name, content, mime)] = message.attachments()
        assert (name.endswith(".csv"), mime) == (True, "text/csv")
        text = content if isinstance(content, str) else content.decode()
        assert text.splitlines()[0] == "CATEGORY,N"
    query = link_query(outside.html)
    handler_id = created["handlers"][0]["id"]
    assert (query["email"], query["notification-handler-id"]) == ("x@example.com", str(handler_id))
    body = {"notification-handler-id": handler_id, "email": "x@example.com", "hash": query["hash"]}
    assert api.post("/api/notification/unsubscribe", {**body, "hash": "bad"}, expect=400) == "Invalid hash."
    assert api.post("/api/notification/unsubscribe", body) == {"status": "success", "title": card["name"]}
    assert api.post("/api/notification/unsubscribe", body, expect=400) == "Email doesn't exist."
    recipients = admin.get(f"/api/notification/{created['id']}")["handlers"][0]["recipients"]
    assert [r["type"] for r in recipients] == ["notification-recipient/user"]
    assert api.post("/api/notification/unsubscribe/undo", body) == {
        "status": "success",
        "title": card["name"],
    }
    assert api.post("/api/notification/unsubscribe/undo", body, expect=400) == "Email already exist."


def test_goal_conditions_decide_whether_the_alert_is_sent(api, server, user_ids):
    admin = api.as_("crowberto")
    highest = max(count for _, count in rows_of(admin, native_card(admin, CATEGORY_SQL)))
    cases = {
        ("goal_above", highest): True,  # reached (at the goal counts)
        ("goal_above", highest + 1): False,
        ("goal_below", highest + 1): True,
        ("goal_below", 0): False,
    }
    keys = {}
    for (condition, goal), _ in cases.items():
        card = goal_card(admin, goal)
        created = admin.post(
            "/api/notification", alert_body(card, user(user_ids["rasta"]), send_condition=condition)
        )
        keys[schedule_key(created)] = (condition, card["name"])
    with mail(admin) as smtp:
        run_jobs(server, next_9am() + dt.timedelta(minutes=1), *keys)
        subjects = sorted(m.subject for m in smtp.messages)
    expected = sorted(
        f"Alert: {name} has reached its goal"
        if condition == "goal_above"
        else f"Alert: {name} has gone below its goal"
        for (condition, name), sent in zip(keys.values(), cases.values(), strict=True)
        if sent
    )
    assert subjects == expected


def test_send_once_turns_the_alert_off_and_empty_or_archived_cards_send_nothing(api, server, user_ids):
    admin = api.as_("crowberto")
    once = admin.post(
        "/api/notification",
        alert_body(native_card(admin, CATEGORY_SQL), user(user_ids["rasta"]), send_once=True),
    )
    empty = admin.post(
        "/api/notification", alert_body(native_card(admin, EMPTY_SQL), user(user_ids["rasta"]))
    )
    archived_card = native_card(admin, CATEGORY_SQL)
    archived = admin.post("/api/notification", alert_body(archived_card, user(user_ids["rasta"])))
    admin.put(f"/api/card/{archived_card['id']}", {"archived": True})
    keys = [schedule_key(n) for n in (once, empty, archived)]
    due = next_9am()
    with mail(admin) as smtp:
        assert sorted(run_jobs(server, due + dt.timedelta(minutes=1), *keys)) == sorted(keys)
        [message] = smtp.messages
        assert message.recipients == ["rasta@metabase.com"]
        assert admin.get(f"/api/notification/{once['id']}")["active"] is False
        # The next day the send-once alert is off; the others are still checked (and still send nothing).
        tomorrow = due + dt.timedelta(days=1, minutes=1)
        assert sorted(run_jobs(server, tomorrow, *keys)) == sorted(keys[1:])
        assert len(smtp.messages) == 1


def test_a_failing_query_fails_the_run_and_is_retried(api, server, user_ids):
    admin = api.as_("crowberto")
    broken = native_card(admin, "SELECT * FROM NO_SUCH_TABLE")
    created = admin.post("/api/notification", alert_body(broken, user(user_ids["rasta"])))
    key = schedule_key(created)
    due = next_9am()
    with mail(admin) as smtp:
        assert run_jobs(server, due + dt.timedelta(minutes=1), key) == [key]
        assert run_jobs(server, due + dt.timedelta(minutes=1, seconds=30), key) == []
        # Retried a minute later (and failing again, still without mail).
        assert run_jobs(server, due + dt.timedelta(minutes=2, seconds=30), key) == [key]
        assert smtp.messages == []


def test_send_now_saved_and_unsaved(api, user_ids):
    admin = api.as_("crowberto")
    card = native_card(admin, CATEGORY_SQL)
    created = admin.post("/api/notification", alert_body(card, user(user_ids["lucky"])))
    with mail(admin) as smtp:
        admin.post(f"/api/notification/{created['id']}/send", expect=204)
        admin.post("/api/notification/send", alert_body(card, raw("now@example.com")), expect=204)
        assert [m.recipients for m in smtp.messages] == [["lucky@metabase.com"], ["now@example.com"]]
    # An unsaved alert's email has no unsubscribe link (there is nothing to unsubscribe from).
    assert "/unsubscribe?" not in smtp.messages[1].html
    assert api.as_("rasta").post(f"/api/notification/{created['id']}/send", expect=403) == FORBIDDEN
