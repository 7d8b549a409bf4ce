"""One request is one transaction: a request that fails part-way leaves nothing behind."""

from __future__ import annotations

import uuid


def test_failed_user_creation_leaves_no_user(api):
    admin = api.as_("crowberto")
    email = f"half-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "first_name": "Half", "user_group_memberships": [{"id": 1}, {"id": 987654}]}
    # The user row is written before the unknown group is noticed; the error must roll it back.
    admin.post("/api/user", body, expect=400)
    listed = admin.get("/api/user", params={"query": email, "status": "all"})
    assert (listed["total"], listed["data"]) == (0, [])
    created = admin.post("/api/user", {"email": email, "first_name": "Whole"})
    assert created["email"] == email
