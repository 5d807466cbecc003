"""The staff duplicate queue, merging and undoing from pages, merged idea pages, and the author's
"mine is the same as this one"."""

from __future__ import annotations

from html import unescape

from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import comments, duplicates, votes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import DuplicateCandidate, Idea, User
from tests.conftest import csrf_of, sign_in


def _suggest(db: Database, first: Idea, second: Idea, score: float = 0.83) -> int:
    with db.transaction() as session:
        found = duplicates.suggest(session, first.id, second.id, score)
        assert found is not None
        session.flush()
        return found.id


def _post(client: TestClient, path: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(client, "/")
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def _idea(db: Database, idea: Idea) -> Idea:
    with db.reading() as session:
        found = session.get_one(Idea, idea.id)
        assert found is not None
        return found


def test_the_queue_shows_pairs_side_by_side_and_merges_the_chosen_one(
    client: TestClient, db: Database, make_idea, make_user, make_board
) -> None:
    board = make_board("Mobile")
    a = make_idea("Dark mode for the dashboard", "Easier at night.", board=board)
    b = make_idea("A dark theme please", author=make_user(name="Grace"), board=board)
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, make_user().id), session.get_one(Idea, b.id))
    candidate_id = _suggest(db, a, b)
    team = make_user("staff")
    sign_in(client, team.email)
    html = unescape(client.get("/staff/duplicates").text)
    for text in ("Dark mode for the dashboard", "A dark theme please", "Easier at night.", "Grace"):
        assert text in html
    assert "Mobile" in html and "0.83" in html and "2 votes" in html
    assert f'value="{b.id}" checked' in html  # the one with more votes is kept by default
    assert 'href="/staff/duplicates"' in client.get("/").text

    response = _post(client, f"/staff/duplicates/{candidate_id}/merge", {"keep": str(b.id)})
    assert response.status_code == 303 and response.headers["location"] == "/staff/duplicates"
    assert _idea(db, a).merged_into_id == b.id
    assert _idea(db, b).vote_count == 3
    html = unescape(client.get("/staff/duplicates").text)
    assert "No pairs to review." in html and "Recent merges" in html

    response = _post(client, f"/ideas/{a.id}/unmerge", {"next": "queue"})
    assert response.status_code == 303
    assert _idea(db, a).merged_into_id is None and _idea(db, b).vote_count == 2
    assert "A dark theme please" in client.get("/staff/duplicates").text  # the pair is back


def test_not_a_duplicate_is_remembered(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    a, b = make_idea(), make_idea()
    candidate_id = _suggest(db, a, b)
    sign_in(client, make_user("staff").email)
    assert _post(client, f"/staff/duplicates/{candidate_id}/dismiss").status_code == 303
    with db.reading() as session:
        assert session.get_one(DuplicateCandidate, candidate_id).status == "dismissed"


def test_members_are_refused(member_client: TestClient, db: Database, make_idea) -> None:
    a, b = make_idea(), make_idea()
    candidate_id = _suggest(db, a, b)
    assert member_client.get("/staff/duplicates").status_code == 403
    assert _post(member_client, f"/staff/duplicates/{candidate_id}/merge").status_code == 403
    assert _post(member_client, f"/ideas/{a.id}/merge", {"into": str(b.id)}).status_code == 403
    assert _idea(db, a).merged_into_id is None
    assert 'action="/ideas/' + str(a.id) + '/merge"' not in member_client.get(f"/ideas/{a.id}").text


def test_merged_idea_page_points_to_the_surviving_idea(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    a = make_idea("Dark mode for the dashboard")
    b = make_idea("A dark theme please")
    with db.transaction() as session:
        comments.add(
            session,
            session.get_one(User, make_user(name="Linus").id),
            session.get_one(Idea, a.id),
            "Yes, at night!",
        )
    sign_in(client, make_user("staff").email)
    response = _post(client, f"/ideas/{a.id}/merge", {"into": f"http://testserver/ideas/{b.id}"})
    assert response.status_code == 303
    page = unescape(client.get(f"/ideas/{a.id}").text)
    assert "This idea was merged into" in page and f'href="/ideas/{b.id}"' in page
    assert "Undo merge" in page and f'action="/ideas/{a.id}/vote"' not in page
    surviving = unescape(client.get(f"/ideas/{b.id}").text)
    assert "Yes, at night!" in surviving and "from “Dark mode for the dashboard”" in surviving
    assert "Dark mode for the dashboard" not in unescape(client.get("/").text.split("<main", 1)[1])
    # merging again, or into itself, says why
    response = _post(client, f"/ideas/{b.id}/merge", {"into": str(b.id)})
    assert response.status_code == 303
    assert "cannot be merged into itself" in client.get(f"/ideas/{b.id}").text
    _post(client, f"/ideas/{b.id}/merge", {"into": "not an idea"})
    assert "number or its address" in client.get(f"/ideas/{b.id}").text


def test_voting_on_a_merged_idea_is_refused_with_a_pointer(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    a, b = make_idea(), make_idea()
    sign_in(client, make_user("staff").email)
    _post(client, f"/ideas/{a.id}/merge", {"into": str(b.id)})
    response = _post(client, f"/ideas/{a.id}/vote")
    assert response.status_code == 409
    assert f"merged into #{b.id}" in response.text


def test_the_author_says_mine_is_the_same(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    author = make_user()
    a = make_idea("Dark mode for the dashboard")
    b = make_idea("A dark theme please", author=author)
    sign_in(client, author.email)
    assert "Is this the same as an existing idea?" in client.get(f"/ideas/{b.id}").text
    assert _post(client, f"/ideas/{b.id}/same", {"other": f"/ideas/{a.id}"}).status_code == 303
    assert "The team will look" in client.get(f"/ideas/{b.id}").text
    with db.reading() as session:
        candidate = session.scalars(select(DuplicateCandidate)).one()
        assert (candidate.idea_id, candidate.other_id, candidate.source) == (a.id, b.id, "author")
    assert "Is this the same" not in client.get(f"/ideas/{a.id}").text  # not their idea
    assert _post(client, f"/ideas/{a.id}/same", {"other": str(b.id)}).status_code == 403
    sign_in(client, make_user("staff").email)
    assert "Reported by the author" in client.get("/staff/duplicates").text


def test_voters_of_the_merged_idea_are_told_in_their_language(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    voter = make_user()
    a = make_idea("Dark mode for the dashboard", author=voter)
    b = make_idea("A dark theme please")
    tess = make_user("staff", name="Tess")
    with db.transaction() as session:
        team = session.get_one(User, tess.id)
        idea_rules.set_status(session, team, session.get_one(Idea, b.id), "shipped")
    sign_in(client, make_user("staff").email)
    _post(client, f"/ideas/{a.id}/merge", {"into": str(b.id)})
    sign_in(client, voter.email)
    html = unescape(client.get("/notifications").text)
    assert (
        "merged “Dark mode for the dashboard” into <a" in html and "“A dark theme please”" in html
    )
    assert "your vote and follow count there" in html and "Shipped" in html
    _post(client, "/language", {"locale": "it", "next": "/"})
    html = unescape(client.get("/notifications").text)
    assert "ha unito “Dark mode for the dashboard” a <a" in html and "il tuo voto" in html


def test_the_team_menu_counts_pending_pairs(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    a, b, c = make_idea(), make_idea(), make_idea()
    _suggest(db, a, b)
    _suggest(db, a, c)
    sign_in(client, make_user("staff").email)
    html = client.get("/").text
    assert 'href="/staff/duplicates">Duplicates <span class="count-pill">2</span>' in html
