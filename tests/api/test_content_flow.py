"""Issue 5's closing script, call by call as `curl` would make it: a question from the tutorial's query,
put on a dashboard with a category filter, the dashcard run with the filter, both found by search, the
question renamed and reverted, archived (the dashboard keeps working) and restored."""

from __future__ import annotations

import uuid

from tests.query_processor.test_dataset_api import PUBLISHED, sample, tutorial_query
from tests.support.http import Api

__all__ = ["sample"]


def rounded(rows: list[list]) -> list[list]:
    return [[category, round(average, 6)] for category, average in rows]


def test_question_dashboard_filter_search_revert_archive(
    api: Api, sample: dict, metabase_sample_data
) -> None:
    rasta = api.as_("rasta")
    word = uuid.uuid4().hex[:10]
    card = rasta.post(
        "/api/card",
        {
            "name": f"Average order {word}",
            "display": "table",
            "visualization_settings": {},
            "dataset_query": tutorial_query(sample),
        },
    )
    filter_param = {"id": "cat", "name": "Category", "slug": "category", "type": "string/="}
    dashboard = rasta.post("/api/dashboard", {"name": f"Orders board {word}", "parameters": [filter_param]})
    target = [
        "dimension",
        ["field", sample["PRODUCTS.CATEGORY"], {"source-field": sample["ORDERS.PRODUCT_ID"]}],
    ]
    mapping = {"parameter_id": "cat", "card_id": card["id"], "target": target}
    dashcard = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 8, "size_y": 6}
    saved = rasta.put(
        f"/api/dashboard/{dashboard['id']}", {"dashcards": [{**dashcard, "parameter_mappings": [mapping]}]}
    )
    [dashcard_id] = [dc["id"] for dc in saved["dashcards"]]
    run = f"/api/dashboard/{dashboard['id']}/dashcard/{dashcard_id}/card/{card['id']}/query"

    def rows(*values: str) -> list[list]:
        parameters = (
            [{"id": "cat", "type": "string/=", "value": list(values), "target": target}] if values else []
        )
        body = rasta.post(run, {"parameters": parameters}, expect=202)
        assert body["status"] == "completed"
        return rounded(body["data"]["rows"])

    assert rows() == PUBLISHED
    assert rows("Gizmo", "Widget") == PUBLISHED[2:]

    found = rasta.get("/api/search", params={"q": word})["data"]
    assert sorted((item["model"], item["id"]) for item in found) == sorted(
        [("card", card["id"]), ("dashboard", dashboard["id"])]
    )

    rasta.put(f"/api/card/{card['id']}", {"name": f"Renamed {word}"})
    history = rasta.get("/api/revision", params={"entity": "card", "id": card["id"]})
    renamed = f'renamed this Card from "Average order {word}" to "Renamed {word}".'
    assert history[0]["description"] == renamed
    rasta.post("/api/revision/revert", {"entity": "card", "id": card["id"], "revision_id": history[1]["id"]})
    assert rasta.get(f"/api/card/{card['id']}")["name"] == f"Average order {word}"

    rasta.put(f"/api/card/{card['id']}", {"archived": True})
    assert rasta.get(f"/api/card/{card['id']}")["archived"] is True
    assert rows("Gizmo") == PUBLISHED[2:3]
    assert [
        item["id"] for item in rasta.get("/api/search", params={"q": word, "models": "card"})["data"]
    ] == []
    rasta.put(f"/api/card/{card['id']}", {"archived": False})
    assert [
        item["id"] for item in rasta.get("/api/search", params={"q": word, "models": "card"})["data"]
    ] == [card["id"]]
