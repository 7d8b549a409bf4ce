def test_health(api):
    assert api.get("/api/health") == {"status": "ok"}


def test_current_user(api, user_ids):
    body = api.as_("rasta").get("/api/user/current")
    assert body["id"] == user_ids["rasta"]
    assert body["is_superuser"] is False
