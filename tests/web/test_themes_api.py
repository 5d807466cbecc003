"""GET /api/v1/themes: the team's themes as JSON, by board or across boards, checked against the
OpenAPI document."""

from __future__ import annotations

from starlette.testclient import TestClient

from ideas import accounts, boards, embeddings, themes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import User
from ml.embedders import HashingEmbedder
from tests.conftest import csrf_of, sign_in
from tests.web.test_openapi import bearer, conforms

URL = "/api/v1/themes"
TITLES = [
    "Dark mode for the dashboard",
    "A dark theme for the dashboard please",
    "Dark mode on the mobile dashboard",
    "Night mode dark colours for the dashboard",
    "Dashboard dark mode toggle",
    "Support a dark colour scheme in the dashboard",
    "Export the roadmap to CSV",
    "CSV export of the roadmap",
    "Export roadmap items as a CSV file",
    "Roadmap CSV export for spreadsheets",
    "Download the roadmap as CSV",
    "Export to CSV from the roadmap page",
]


def build(db: Database) -> str:
    """A board with two clear themes, rebuilt; returns the board's slug."""
    with db.transaction() as session:
        author = accounts.create_user(session, "author@example.com", "Author", None)
        board = boards.create_board(session, None, "Web", "", None)
        ideas = [idea_rules.submit(session, author, board, title, "") for title in TITLES]
        embeddings.store(session, HashingEmbedder(), ideas)
        slug = board.slug
    themes.rebuild(db, HashingEmbedder().name)
    return slug


def test_staff_read_a_boards_themes_and_the_cross_board_ones(
    client: TestClient, db: Database, make_user
) -> None:  # type: ignore[no-untyped-def]
    slug = build(db)
    team = bearer(db, make_user("staff"))

    found = conforms(client.get(URL, params={"board": slug}, headers=team)).json()

    with db.reading() as session:
        board_id = boards.get_by_slug(session, slug).id
        expected = themes.listing(session, board_id)
        assert [theme["id"] for theme in found] == [theme.id for theme in expected]
        for theme in found:
            assert theme["idea_ids"] == themes.idea_ids(session, theme["id"])
            assert theme["size"] == len(theme["idea_ids"]) and theme["voters"] >= 1
            assert theme["weighted_voters"] == theme["voters"]  # everyone weighs 1
    assert any("dark" in theme["keywords"] for theme in found)
    across = conforms(client.get(URL, headers=team)).json()
    with db.reading() as session:
        assert {theme["id"] for theme in across} == {t.id for t in themes.listing(session, None)}


def test_hidden_themes_are_left_out(client: TestClient, db: Database, make_user) -> None:  # type: ignore[no-untyped-def]
    slug = build(db)
    staff = make_user("staff")
    with db.transaction() as session:
        board_id = boards.get_by_slug(session, slug).id
        hidden = themes.listing(session, board_id)[0]
        themes.set_hidden(session, session.get_one(User, staff.id), hidden, True)
        hidden_id = hidden.id
    found = conforms(client.get(URL, params={"board": slug}, headers=bearer(db, staff))).json()
    assert hidden_id not in [theme["id"] for theme in found]


def test_refusals(client: TestClient, db: Database, make_user) -> None:  # type: ignore[no-untyped-def]
    build(db)
    assert conforms(client.get(URL)).status_code == 401
    assert conforms(client.get(URL, headers=bearer(db, make_user()))).status_code == 403
    bad_token = client.get(URL, headers={"Authorization": "Bearer ip_wrong"})
    assert conforms(bad_token).status_code == 401
    team = bearer(db, make_user("staff"))
    missing = conforms(client.get(URL, params={"board": "nope"}, headers=team))
    assert missing.status_code == 404 and missing.json()["error"] == "There is no such board."


def test_a_staff_browser_session_reads_without_a_csrf_token(
    client: TestClient, db: Database, make_user
) -> None:  # type: ignore[no-untyped-def]
    build(db)
    staff = make_user("staff")
    sign_in(client, staff.email)
    csrf_of(client, "/")
    response = conforms(client.get(URL))
    assert response.status_code == 200
    with db.reading() as session:
        assert len(response.json()) == len(themes.listing(session, None))
