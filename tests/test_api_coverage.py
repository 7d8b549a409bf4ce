"""Coverage of Metabase's open-source API: `querybase api-coverage` compares the routes querybase serves
with Metabase's endpoint list (`../shared/reference/api-endpoints.tsv`), and the README shows its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from querybase import api_docs
from querybase.app import create_app
from querybase.cli import main
from querybase.config import Config

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "api-endpoints.tsv"
# Domains whose issues are done: every endpoint of Metabase's list is served, and must stay so.
COMPLETE = [
    "activity",
    "alert",
    "api-key",
    "bookmark",
    "meta",
    "native-query-snippet",
    "permissions",
    "revision",
    "segment",
    "session",
    "setting",
    "setup",
    "timeline",
    "timeline-event",
    "user",
]


@pytest.fixture(scope="module")
def reference() -> list[tuple[str, str, str]]:
    if not REFERENCE.is_file():
        pytest.skip(f"Metabase's endpoint list is not at {REFERENCE} (kept outside the project)")
    return api_docs.read_reference(REFERENCE)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> list[tuple[str, str]]:
    """The routes of an app that is never started (no database needed to list them)."""
    folder = tmp_path_factory.mktemp("coverage")
    app = create_app(Config.from_env({"MB_DB_FILE": str(folder / "app.db"), "MB_PLUGINS_DIR": str(folder)}))
    return api_docs.served_routes(app)


def test_paths_match_whatever_their_parameters_are_called(reference):
    served = [
        ("GET", "/api/card/{card_id}"),
        ("GET", "/api/database/{database_id}/schema/"),
        ("POST", "/api/x"),
    ]
    rows = [
        ("GET", "/api/card/:id", "card"),
        ("GET", "/api/database/:id/schema/", "database"),
        ("GET", "/api/table/card__:id/fks", "table"),
    ]
    report = {d.domain: d for d in api_docs.coverage(served, rows)}
    assert report["card"].implemented == ["GET /api/card/:id"]
    assert report["database"].implemented == ["GET /api/database/:id/schema/"]
    assert report["table"].missing == ["GET /api/table/card__:id/fks"]
    assert api_docs.extra_routes(served, rows) == ["POST /api/x"]
    assert not any(domain.startswith("ee:") for _, _, domain in reference)


def test_domains_whose_issues_are_done_are_complete(reference, served):
    report = {d.domain: d for d in api_docs.coverage(served, reference)}
    for domain in COMPLETE:
        assert report[domain].missing == [], domain
        assert report[domain].implemented, domain


def test_the_command_prints_implemented_and_missing_by_domain(reference, capsys):
    assert main(["api-coverage", "--reference", str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("Metabase's open-source API: ") and first.endswith(
        f" of {len(reference)} endpoints implemented"
    )
    assert "\nuser: 10/10\n" in out
    assert "\n  missing GET /api/automagic-dashboards/database/:id/candidates\n" in out


def test_the_readme_shows_the_current_numbers(reference, served, capsys):
    """Update the README's table with `querybase api-coverage --markdown` when endpoints are added."""
    table = api_docs.coverage_markdown(api_docs.coverage(served, reference))
    assert main(["api-coverage", "--reference", str(REFERENCE), "--markdown"]) == 0
    assert capsys.readouterr().out == table
    assert table in (ROOT / "README.md").read_text()


def test_a_missing_reference_is_an_error(tmp_path, capsys):
    assert main(["api-coverage", "--reference", str(tmp_path / "none.tsv")]) == 2
    assert "no endpoint list at" in capsys.readouterr().err
