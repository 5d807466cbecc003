"""'Is your idea already here?': the htmx panel, the JSON twin, and submits storing vectors."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import embeddings
from ideas.db import Database
from ideas.models import DuplicateCandidate, IdeaEmbedding
from ideas.settings import Settings
from tests.conftest import csrf_of
from web.app import create_app


@pytest.fixture(autouse=True)
def look_at_every_query(app) -> None:  # type: ignore[no-untyped-def]
    """Vectors stored by the tests below (as another process would) show at the next query."""
    app.state.similar.refresh_seconds = 0


def vectors(db: Database) -> dict[int, str]:
    with db.reading() as session:
        return {row.idea_id: row.model for row in session.scalars(select(IdeaEmbedding))}


def test_submitting_stores_the_vector_and_the_panel_finds_it(
    member_client: TestClient, db: Database, make_board
) -> None:
    board = make_board("Web")
    response = member_client.post(
        "/ideas",
        data={
            "board": board.slug,
            "title": "Export the roadmap as CSV",
            "description": "For the weekly meeting.",
            "csrf_token": csrf_of(member_client, "/ideas/new"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    idea_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert vectors(db) == {idea_id: "hashing-v1"}

    panel = member_client.get(
        "/ideas/similar",
        params={"title": "roadmap csv export", "board": board.slug},
        headers={"HX-Request": "true"},
    )
    assert panel.status_code == 200
    assert "<html" not in panel.text  # a fragment
    assert "Is your idea already here?" in panel.text
    assert f'href="/ideas/{idea_id}"' in panel.text
    assert 'class="vote"' in panel.text and f'hx-post="/ideas/{idea_id}/unvote"' in panel.text


def test_editing_replaces_the_vector(member_client: TestClient, db: Database, make_idea) -> None:
    idea = make_idea(author=member_client.user)  # type: ignore[attr-defined]
    response = member_client.post(
        f"/ideas/{idea.id}/edit",
        data={
            "title": "Dark mode everywhere",
            "description": "",
            "csrf_token": csrf_of(member_client, "/"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    found = member_client.get("/api/v1/ideas/similar", params={"q": "dark mode"}).json()
    assert [item["id"] for item in found] == [idea.id]


def test_the_form_asks_as_the_title_is_typed(member_client: TestClient, make_board) -> None:
    make_board("Web")
    page = member_client.get("/ideas/new").text
    assert 'hx-get="/ideas/similar"' in page
    assert 'hx-trigger="input changed delay:300ms"' in page
    assert 'hx-target="#similar-ideas"' in page
    assert 'hx-include="[name=board], [name=description]"' in page
    assert 'id="similar-ideas"' in page and 'aria-live="polite"' in page
    assert "Type a title and the ideas like it show here." in page  # the empty state
    panel = page.split('id="similar-ideas"', 1)[1]
    assert "</form>" not in panel.split("</section>", 1)[0].replace('<form class="vote"', "")


def test_the_edit_form_does_not_ask(member_client: TestClient, make_idea) -> None:
    idea = make_idea(author=member_client.user)  # type: ignore[attr-defined]
    assert "hx-get" not in member_client.get(f"/ideas/{idea.id}/edit").text


def test_the_panel_empty_states_and_italian(client: TestClient, db: Database, make_idea) -> None:
    idea = make_idea("Export the roadmap as CSV")
    with db.transaction() as session:
        embeddings.store(session, embeddings.make_shared("hashing"), [idea])
    assert "Type a title" in client.get("/ideas/similar", params={"title": "ab"}).text
    nothing = client.get("/ideas/similar", params={"title": "zzzz qqqq", "board": "nope"})
    assert nothing.status_code == 200
    italian = client.get(
        "/ideas/similar", params={"title": "roadmap"}, headers={"Accept-Language": "it"}
    )
    assert "La tua idea è già qui?" in italian.text
    assert "Sign in to vote" in client.get("/ideas/similar", params={"title": "roadmap csv"}).text


def test_api_answers_and_marks_closed_ideas(
    client: TestClient, db: Database, make_idea, make_board, make_user
) -> None:
    from ideas import ideas as idea_rules

    web, other = make_board("Web"), make_board("Other")
    shipped = make_idea("Export the roadmap as CSV", board=web)
    elsewhere = make_idea("Export the roadmap as a CSV file", board=other)
    team = make_user("staff")
    with db.transaction() as session:
        idea_rules.set_status(session, team, session.get(type(shipped), shipped.id), "shipped")
    with db.transaction() as session:
        embeddings.store(session, embeddings.make_shared("hashing"), [shipped, elsewhere])
    found = client.get("/api/v1/ideas/similar", params={"q": "roadmap csv", "limit": "1"})
    assert found.status_code == 200 and len(found.json()) == 1
    on_web = client.get("/api/v1/ideas/similar", params={"q": "roadmap csv", "board": "web"})
    [item] = on_web.json()
    assert set(item) == {"id", "title", "status", "votes", "score", "url"}
    assert (item["id"], item["status"], item["votes"]) == (shipped.id, "shipped", 1)
    assert item["url"].endswith(f"/ideas/{shipped.id}") and 0 <= item["score"] <= 1
    panel = client.get("/ideas/similar", params={"title": "roadmap csv", "board": "web"}).text
    assert "status-shipped" in panel and "Already shipped" in panel


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "  "}, "q"),
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "limit": "21"}, "limit"),
        ({"q": "x", "limit": "two"}, "limit"),
    ],
)
def test_api_refuses_bad_queries(client: TestClient, params: dict, field: str) -> None:  # type: ignore[type-arg]
    response = client.get("/api/v1/ideas/similar", params=params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_api_unknown_board_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/ideas/similar", params={"q": "x", "board": "no"}).status_code == 404


def test_with_the_real_minilm(settings: Settings, db: Database, make_idea) -> None:
    """The one test with the default backend (MiniLM): rebuild, then a query by meaning."""
    pytest.importorskip("sentence_transformers")
    night = make_idea("Dark mode", "A night theme for the portal.")
    make_idea("Export the roadmap as CSV")
    app = create_app(replace(settings, embedding_backend="minilm"), db)
    if app.state.embedder.name != "all-MiniLM-L6-v2":
        pytest.skip("the MiniLM model package is not installed")
    with warnings.catch_warnings():
        # torch/transformers may warn about their own internals while loading
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        assert embeddings.rebuild(db, app.state.embedder) == 2
        with TestClient(app) as client:
            found = client.get("/api/v1/ideas/similar", params={"q": "night theme please"})
    assert vectors(db)[night.id] == "all-MiniLM-L6-v2"
    assert found.json()[0]["id"] == night.id


def _submit(client: TestClient, board_slug: str, title: str, description: str) -> int:
    response = client.post(
        "/ideas",
        data={
            "board": board_slug,
            "title": title,
            "description": description,
            "csrf_token": csrf_of(client, "/ideas/new"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def queue(db: Database) -> list[tuple[int, int, str, str]]:
    with db.reading() as session:
        return [
            (row.idea_id, row.other_id, row.source, row.status)
            for row in session.scalars(select(DuplicateCandidate).order_by(DuplicateCandidate.id))
        ]


def test_a_close_submit_lands_in_the_team_queue_and_a_different_one_does_not(
    member_client: TestClient, db: Database, make_board
) -> None:
    board = make_board("Web")
    first = _submit(member_client, board.slug, "Export the roadmap as CSV", "For our meetings.")
    assert queue(db) == []
    second = _submit(member_client, board.slug, "Export the roadmap as a CSV file", "")
    assert queue(db) == [(first, second, "similarity", "pending")]
    _submit(member_client, board.slug, "Single sign-on with Okta", "Our IT team asks for it.")
    assert len(queue(db)) == 1

    # The API submits the same way; an idea on another board is not its duplicate.
    other_board = make_board("Mobile")
    token = csrf_of(member_client, "/")
    response = member_client.post(
        "/api/v1/ideas",
        json={"title": "Export the roadmap as CSV", "description": "", "board": other_board.slug},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 201, response.text
    assert len(queue(db)) == 1


def test_the_author_is_offered_the_close_ideas_in_one_click(
    member_client: TestClient, db: Database, make_board, make_user
) -> None:
    board = make_board("Web")
    first = _submit(member_client, board.slug, "Dark mode for the dashboard", "Easier at night.")
    mine = _submit(member_client, board.slug, "Night theme for the app", "Dark colours.")
    page = member_client.get(f"/ideas/{mine}").text
    assert "These ideas look close to yours" in page
    assert f'name="other" value="{first}"' in page
    response = member_client.post(
        f"/ideas/{mine}/same",
        data={"other": str(first), "csrf_token": csrf_of(member_client, "/")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert (first, mine, "author", "pending") in queue(db)
