"""The JSON API under /api/v1 (web/api.py): every endpoint, its errors and who may call it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update
from starlette.testclient import TestClient

from ideas import accounts, comments, jobs, trending, votes, worker
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Comment, Idea, User, Vote, utcnow
from ideas.settings import Settings
from tests.conftest import csrf_of, sign_in
from web.app import create_app

API = "/api/v1"


def bearer(db: Database, user: User) -> dict[str, str]:
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
    return {"Authorization": f"Bearer {token}"}


def set_status(db: Database, idea: Idea, status: str) -> None:
    with db.transaction() as session:
        actor = accounts.create_user(session, f"team-{status}@example.com", "Team", None, "staff")
        idea_rules.set_status(session, actor, session.get_one(Idea, idea.id), status)


def hide(db: Database, idea: Idea, staff: User) -> None:
    with db.transaction() as session:
        idea_rules.set_hidden(
            session, session.get_one(User, staff.id), session.get_one(Idea, idea.id), True
        )


def cast_votes(db: Database, idea: Idea, voters: list[User]) -> None:
    with db.transaction() as session:
        for voter in voters:
            votes.vote(session, session.get_one(User, voter.id), session.get_one(Idea, idea.id))


def titles(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


# Boards ---------------------------------------------------------------------------------------


def test_boards_are_listed_oldest_first_with_their_budget(client: TestClient, make_board) -> None:
    make_board("Mobile app", vote_budget=5)
    make_board("Billing")
    response = client.get(f"{API}/boards")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [
        {"slug": "mobile-app", "name": "Mobile app", "description": "", "vote_budget": 5},
        {"slug": "billing", "name": "Billing", "description": "", "vote_budget": None},
    ]


def test_no_boards_is_an_empty_list(client: TestClient) -> None:
    assert client.get(f"{API}/boards").json() == []


# Listing ideas --------------------------------------------------------------------------------


def test_ideas_list_gives_a_page_with_totals(
    client: TestClient, make_idea, make_user, make_board
) -> None:
    idea = make_idea(author=make_user(name="Ada"), board=make_board("Mobile"))
    body = client.get(f"{API}/ideas").json()
    assert body["total"] == 1 and body["page"] == 1 and body["pages"] == 1
    [item] = body["items"]
    assert item == {
        "id": idea.id,
        "title": "Export the roadmap as CSV",
        "description": "So we can share it in our weekly meeting.",
        "status": "open",
        "votes": 1,
        "comments": 0,
        "board": "mobile",
        "author": "Ada",
        "created_at": item["created_at"],
        "url": f"http://testserver/ideas/{idea.id}",
        "merged_into": None,
    }
    assert item["created_at"].startswith(str(idea.created_at.year))


def test_ideas_filter_by_board(client: TestClient, make_idea, make_board) -> None:
    mobile, web = make_board("Mobile"), make_board("Web")
    make_idea("Dark mode for the app", board=mobile)
    make_idea("Keyboard shortcuts", board=web)
    assert titles(client.get(f"{API}/ideas", params={"board": "mobile"})) == [
        "Dark mode for the app"
    ]
    assert titles(client.get(f"{API}/ideas", params={"board": "web"})) == ["Keyboard shortcuts"]
    assert len(titles(client.get(f"{API}/ideas", params={"board": ""}))) == 2


def test_ideas_filter_by_unknown_board_is_404(client: TestClient) -> None:
    response = client.get(f"{API}/ideas", params={"board": "nope"})
    assert response.status_code == 404
    assert response.json() == {"error": "There is no such board."}


def test_ideas_filter_by_status(client: TestClient, db: Database, make_idea) -> None:
    planned = make_idea("Planned idea number one")
    make_idea("Still an open idea")
    set_status(db, planned, "planned")
    assert titles(client.get(f"{API}/ideas", params={"status": "planned"})) == [
        "Planned idea number one"
    ]
    assert titles(client.get(f"{API}/ideas", params={"status": "open"})) == ["Still an open idea"]
    assert titles(client.get(f"{API}/ideas", params={"status": "shipped"})) == []


def test_ideas_sort_top_and_new(
    client: TestClient, db: Database, make_idea, make_user, make_board
) -> None:
    board, author = make_board(), make_user()
    popular = make_idea("Popular but older idea", author=author, board=board)
    make_idea("Newest idea of them all", author=author, board=board)
    cast_votes(db, popular, [make_user(), make_user()])
    assert titles(client.get(f"{API}/ideas", params={"sort": "top"})) == [
        "Popular but older idea",
        "Newest idea of them all",
    ]
    assert titles(client.get(f"{API}/ideas", params={"sort": "new"})) == [
        "Newest idea of them all",
        "Popular but older idea",
    ]
    # trending, the default: most votes in the last two weeks first
    assert titles(client.get(f"{API}/ideas"))[0] == "Popular but older idea"


def test_ideas_trending_lets_old_votes_go_at_the_workers_decay(
    client: TestClient, db: Database, settings: Settings, make_idea, make_user, make_board
) -> None:
    board, author = make_board(), make_user()
    popular = make_idea("Popular three weeks ago", author=author, board=board)
    make_idea("Newer, with its author's vote", author=author, board=board)
    cast_votes(db, popular, [make_user()])
    with db.transaction() as session:
        session.execute(
            update(Vote)
            .where(Vote.idea_id == popular.id)
            .values(created_at=utcnow() - timedelta(days=21))
        )
    # Until the worker's next decay run (every 10 minutes), the old votes still count.
    assert titles(client.get(f"{API}/ideas"))[0] == "Popular three weeks ago"
    trending.schedule(db, now=utcnow() - trending.DECAY_EVERY)  # queued a while ago: due
    jobs.run_due(db, worker.handlers(db, settings))
    assert titles(client.get(f"{API}/ideas")) == [
        "Newer, with its author's vote",
        "Popular three weeks ago",
    ]
    assert titles(client.get(f"{API}/ideas", params={"sort": "top"}))[0] == (
        "Popular three weeks ago"
    )
    trending.schedule(db)  # the next run, at the next multiple of 10 minutes
    trending.schedule(db)  # another worker: no second job
    with db.reading() as session:
        (job,) = [job for job in jobs.pending(session) if job.kind == trending.DECAY_JOB]
    assert utcnow() < job.run_at <= utcnow() + trending.DECAY_EVERY


def test_ideas_search_with_q(client: TestClient, make_idea, make_user, make_board) -> None:
    board, author = make_board(), make_user()
    make_idea("Export to CSV", "For spreadsheets.", author=author, board=board)
    make_idea("Dark mode", "Easier on the eyes at night.", author=author, board=board)
    assert titles(client.get(f"{API}/ideas", params={"q": "csv"})) == ["Export to CSV"]
    assert titles(client.get(f"{API}/ideas", params={"q": "EYES night"})) == ["Dark mode"]
    assert titles(client.get(f"{API}/ideas", params={"q": "eyes csv"})) == []
    assert titles(client.get(f"{API}/ideas", params={"q": "100%_"})) == []


def test_ideas_come_a_page_at_a_time(client: TestClient, make_idea, make_user, make_board) -> None:
    board, author = make_board(), make_user()
    for number in range(21):
        make_idea(f"Idea number {number:02d}", author=author, board=board)
    first = client.get(f"{API}/ideas", params={"sort": "new"}).json()
    second = client.get(f"{API}/ideas", params={"sort": "new", "page": 2}).json()
    assert (first["total"], first["page"], first["pages"], len(first["items"])) == (21, 1, 2, 20)
    assert (second["page"], [item["title"] for item in second["items"]]) == (2, ["Idea number 00"])
    beyond = client.get(f"{API}/ideas", params={"page": 9}).json()
    assert (beyond["page"], beyond["items"], beyond["total"]) == (9, [], 21)
    # not a page number: the first page, as documented
    assert client.get(f"{API}/ideas", params={"page": "x"}).json()["page"] == 1


def test_ideas_list_refuses_unknown_sort_and_status(client: TestClient) -> None:
    response = client.get(f"{API}/ideas", params={"sort": "best", "status": "done"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Please correct the highlighted fields."
    assert body["fields"] == {
        "sort": "One of: trending, top, new.",
        "status": "One of: open, under_review, planned, in_progress, shipped, declined.",
    }


def test_hidden_ideas_are_listed_for_staff_only(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    staff = make_user("staff")
    hide(db, make_idea("A hidden idea here"), staff)
    assert titles(client.get(f"{API}/ideas")) == []
    assert titles(client.get(f"{API}/ideas", headers=bearer(db, make_user()))) == []
    listed = client.get(f"{API}/ideas", headers=bearer(db, staff))
    assert titles(listed) == ["A hidden idea here"]


# Creating ideas -------------------------------------------------------------------------------


def test_create_idea_is_201_with_location_and_the_authors_vote(
    client: TestClient, db: Database, make_user, make_board
) -> None:
    user, board = make_user(name="Ada"), make_board("Mobile", vote_budget=3)
    response = client.post(
        f"{API}/ideas",
        json={
            "title": "  Offline   mode ",
            "description": " Read ideas on the train. ",
            "board": board.slug,
        },
        headers=bearer(db, user),
    )
    assert response.status_code == 201, response.text
    idea = response.json()
    assert response.headers["location"] == idea["url"] == f"http://testserver/ideas/{idea['id']}"
    assert idea["title"] == "Offline mode" and idea["description"] == "Read ideas on the train."
    assert (idea["board"], idea["author"], idea["status"], idea["votes"]) == (
        "mobile",
        "Ada",
        "open",
        1,
    )
    assert client.get(f"{API}/ideas/{idea['id']}").json() == idea
    state = client.post(f"{API}/ideas/{idea['id']}/vote", headers=bearer(db, user)).json()
    assert state == {"votes": 1, "voted": True, "remaining": 2}


def test_create_idea_without_description(
    client: TestClient, db: Database, make_user, make_board
) -> None:
    board = make_board()
    response = client.post(
        f"{API}/ideas",
        json={"title": "Just a title here", "board": board.slug},
        headers=bearer(db, make_user()),
    )
    assert response.status_code == 201 and response.json()["description"] == ""


def test_create_idea_bad_input_gives_a_message_per_field(
    client: TestClient, db: Database, make_user, make_board
) -> None:
    board = make_board()
    response = client.post(
        f"{API}/ideas",
        json={"title": "Short", "description": "x" * 5001, "board": board.slug},
        headers=bearer(db, make_user()),
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "Please correct the highlighted fields.",
        "fields": {"title": "At least 8 characters.", "description": "At most 5000 characters."},
    }
    assert client.get(f"{API}/ideas").json()["total"] == 0


def test_create_idea_missing_or_wrongly_typed_fields(
    client: TestClient, db: Database, make_user
) -> None:
    headers = bearer(db, make_user())
    response = client.post(f"{API}/ideas", json={"title": 12345678}, headers=headers)
    assert response.status_code == 400
    assert response.json()["fields"] == {"board": "This field is required."}
    response = client.post(f"{API}/ideas", json={}, headers=headers)
    assert response.status_code == 400
    assert response.json()["fields"] == {"board": "This field is required."}


def test_create_idea_on_unknown_board(client: TestClient, db: Database, make_user) -> None:
    response = client.post(
        f"{API}/ideas",
        json={"title": "A perfectly fine title", "board": "nope"},
        headers=bearer(db, make_user()),
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"board": "There is no such board."}


def test_create_idea_title_errors_are_given_with_a_valid_board(
    client: TestClient, db: Database, make_user, make_board
) -> None:
    board = make_board()
    response = client.post(
        f"{API}/ideas", json={"board": board.slug}, headers=bearer(db, make_user())
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"title": "This field is required."}


def test_create_idea_without_votes_left_posts_it_without_the_authors_vote(
    client: TestClient, db: Database, make_user, make_board
) -> None:
    board, headers = make_board("Small", vote_budget=1), bearer(db, make_user())
    first = {"title": "The first idea here", "board": "small"}
    assert client.post(f"{API}/ideas", json=first, headers=headers).json()["votes"] == 1
    second = {"title": "The second idea here", "board": board.slug}
    posted = client.post(f"{API}/ideas", json=second, headers=headers)
    assert posted.status_code == 201
    assert posted.json()["votes"] == 0
    assert client.get(f"{API}/ideas").json()["total"] == 2


def test_create_idea_body_must_be_a_json_object(
    client: TestClient, db: Database, make_user
) -> None:
    headers = {**bearer(db, make_user()), "Content-Type": "application/json"}
    not_json = client.post(f"{API}/ideas", content=b"title=Hello", headers=headers)
    assert not_json.status_code == 400
    assert not_json.json() == {"error": "The body is not valid JSON."}
    not_utf8 = client.post(f"{API}/ideas", content=b'{"title": "\xff"}', headers=headers)
    assert not_utf8.status_code == 400
    array = client.post(f"{API}/ideas", json=[{"title": "An idea in a list"}], headers=headers)
    assert array.status_code == 400
    assert array.json() == {"error": "The body must be a JSON object."}


def test_create_idea_anonymous_is_401(client: TestClient, make_board) -> None:
    board = make_board()
    response = client.post(
        f"{API}/ideas", json={"title": "A perfectly fine title", "board": board.slug}
    )
    assert response.status_code == 401
    assert response.json() == {"error": "Sign in first."}


# One idea -------------------------------------------------------------------------------------


def test_get_idea_and_404(client: TestClient, make_idea) -> None:
    idea = make_idea()
    response = client.get(f"{API}/ideas/{idea.id}")
    assert response.status_code == 200 and response.json()["id"] == idea.id
    missing = client.get(f"{API}/ideas/{idea.id + 1000}")
    assert missing.status_code == 404
    assert missing.json() == {"error": "This idea does not exist or was removed."}
    assert client.get(f"{API}/ideas/not-a-number").status_code == 404


def test_hidden_idea_is_404_for_members_and_found_by_staff(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    author, staff = make_user(), make_user("staff")
    idea = make_idea(author=author)
    hide(db, idea, staff)
    member = bearer(db, author)
    for path in (f"{API}/ideas/{idea.id}", f"{API}/ideas/{idea.id}/comments"):
        assert client.get(path).status_code == 404
        assert client.get(path, headers=member).status_code == 404
        assert client.get(path, headers=bearer(db, staff)).status_code == 200
    assert client.post(f"{API}/ideas/{idea.id}/vote", headers=member).status_code == 404
    comment = client.post(f"{API}/ideas/{idea.id}/comments", json={"body": "Hi"}, headers=member)
    assert comment.status_code == 404


# Votes ----------------------------------------------------------------------------------------


def test_vote_twice_counts_once_and_unvote(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    headers = bearer(db, make_user())
    url = f"{API}/ideas/{idea.id}/vote"
    assert client.post(url, headers=headers).json() == {
        "votes": 2,
        "voted": True,
        "remaining": None,
    }
    assert client.post(url, headers=headers).json() == {
        "votes": 2,
        "voted": True,
        "remaining": None,
    }
    assert client.get(f"{API}/ideas/{idea.id}").json()["votes"] == 2
    assert client.delete(url, headers=headers).json() == {
        "votes": 1,
        "voted": False,
        "remaining": None,
    }
    assert client.delete(url, headers=headers).json() == {
        "votes": 1,
        "voted": False,
        "remaining": None,
    }
    assert client.get(f"{API}/ideas/{idea.id}").json()["votes"] == 1


def test_vote_accepts_an_empty_json_object(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    response = client.post(f"{API}/ideas/{idea.id}/vote", json={}, headers=bearer(db, make_user()))
    assert response.status_code == 200 and response.json()["voted"] is True


def test_vote_budget_exhausted_is_409_until_a_vote_is_taken_back(
    client: TestClient, db: Database, make_idea, make_user, make_board
) -> None:
    board = make_board("Budgeted", vote_budget=2)
    first, second, third = (make_idea(f"Budgeted idea number {n}", board=board) for n in range(3))
    headers = bearer(db, make_user())
    assert client.post(f"{API}/ideas/{first.id}/vote", headers=headers).json()["remaining"] == 1
    assert client.post(f"{API}/ideas/{second.id}/vote", headers=headers).json()["remaining"] == 0
    refused = client.post(f"{API}/ideas/{third.id}/vote", headers=headers)
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "No votes left on this board (2 per person). Take one back to vote here."
    }
    assert client.get(f"{API}/ideas/{third.id}").json()["votes"] == 1
    # voting again for an idea already voted for is still fine
    assert client.post(f"{API}/ideas/{first.id}/vote", headers=headers).status_code == 200
    assert client.delete(f"{API}/ideas/{first.id}/vote", headers=headers).json()["remaining"] == 1
    again = client.post(f"{API}/ideas/{third.id}/vote", headers=headers)
    assert again.json() == {"votes": 2, "voted": True, "remaining": 0}


def test_vote_anonymous_is_401_and_unknown_idea_404(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    assert client.post(f"{API}/ideas/{idea.id}/vote").status_code == 401
    assert client.delete(f"{API}/ideas/{idea.id}/vote").status_code == 401
    missing = client.post(f"{API}/ideas/{idea.id + 1000}/vote", headers=bearer(db, make_user()))
    assert missing.status_code == 404


# Comments -------------------------------------------------------------------------------------


def test_comments_with_replies(client: TestClient, db: Database, make_idea, make_user) -> None:
    idea = make_idea()
    ada, bob = make_user(name="Ada"), make_user(name="Bob")
    url = f"{API}/ideas/{idea.id}/comments"
    assert client.get(url).json() == []
    created = client.post(url, json={"body": "  Yes, please!  "}, headers=bearer(db, ada))
    assert created.status_code == 201, created.text
    top = created.json()
    assert (top["body"], top["author"], top["parent_id"]) == ("Yes, please!", "Ada", None)
    reply = client.post(
        url, json={"body": "Agreed.", "parent_id": top["id"]}, headers=bearer(db, bob)
    )
    assert reply.status_code == 201 and reply.json()["parent_id"] == top["id"]
    # a reply to a reply joins the same thread
    nested = client.post(
        url, json={"body": "Me too.", "parent_id": reply.json()["id"]}, headers=bearer(db, ada)
    )
    assert nested.status_code == 201 and nested.json()["parent_id"] == top["id"]
    second = client.post(
        url, json={"body": "Another thought.", "parent_id": None}, headers=bearer(db, bob)
    )
    assert second.status_code == 201

    threads = client.get(url).json()
    assert [(thread["body"], [r["body"] for r in thread["replies"]]) for thread in threads] == [
        ("Yes, please!", ["Agreed.", "Me too."]),
        ("Another thought.", []),
    ]
    assert threads[0]["replies"][0] == reply.json()
    assert {key for key in threads[0]} == {
        "id",
        "body",
        "author",
        "parent_id",
        "created_at",
        "replies",
    }
    assert client.get(f"{API}/ideas/{idea.id}").json()["comments"] == 4
    assert client.get(f"{API}/ideas/{idea.id + 1000}/comments").status_code == 404


def test_hidden_comments_are_listed_for_staff_only(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea, staff = make_idea(), make_user("staff")
    with db.transaction() as session:
        comment = comments.add(
            session, session.get_one(User, idea.author_id), session.get_one(Idea, idea.id), "Spam"
        )
        comments.set_hidden(
            session, session.get_one(User, staff.id), session.get_one(Comment, comment.id), True
        )
    url = f"{API}/ideas/{idea.id}/comments"
    assert client.get(url).json() == []
    assert [c["body"] for c in client.get(url, headers=bearer(db, staff)).json()] == ["Spam"]


def test_comment_bad_input(client: TestClient, db: Database, make_idea, make_user) -> None:
    idea, other = make_idea(), make_idea("Another idea entirely")
    headers = bearer(db, make_user())
    url = f"{API}/ideas/{idea.id}/comments"
    empty = client.post(url, json={"body": "   "}, headers=headers)
    assert empty.status_code == 400
    assert empty.json()["fields"] == {"body": "This field is required."}
    too_long = client.post(url, json={"body": "x" * 5001}, headers=headers)
    assert too_long.json()["fields"] == {"body": "At most 5000 characters."}
    elsewhere = client.post(
        f"{API}/ideas/{other.id}/comments", json={"body": "There"}, headers=headers
    )
    for parent_id in ("1", True, 1.5, elsewhere.json()["id"], 999_999):
        response = client.post(url, json={"body": "Hi", "parent_id": parent_id}, headers=headers)
        assert response.status_code == 400, parent_id
        assert response.json()["fields"] == {
            "parent_id": "The comment you reply to does not exist."
        }
    assert client.post(url, content=b"[]", headers=headers).status_code == 400
    assert client.get(url).json() == []


def test_comment_anonymous_is_401_and_locked_is_403(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea, staff = make_idea(), make_user("staff")
    url = f"{API}/ideas/{idea.id}/comments"
    assert client.post(url, json={"body": "Hello"}).status_code == 401
    with db.transaction() as session:
        idea_rules.set_comments_locked(
            session, session.get_one(User, staff.id), session.get_one(Idea, idea.id), True
        )
    locked = client.post(url, json={"body": "Hello"}, headers=bearer(db, make_user()))
    assert locked.status_code == 403
    assert locked.json() == {"error": "Comments on this idea are locked."}
    assert (
        client.post(url, json={"body": "Team note"}, headers=bearer(db, staff)).status_code == 201
    )


# Status ---------------------------------------------------------------------------------------


def test_status_change_by_staff(client: TestClient, db: Database, make_idea, make_user) -> None:
    idea = make_idea()
    response = client.post(
        f"{API}/ideas/{idea.id}/status",
        json={"status": "planned", "note": "Coming in Q3."},
        headers=bearer(db, make_user("staff")),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "planned" and response.json()["id"] == idea.id
    assert client.get(f"{API}/ideas/{idea.id}").json()["status"] == "planned"
    admin = client.post(
        f"{API}/ideas/{idea.id}/status",
        json={"status": "shipped"},
        headers=bearer(db, make_user("admin")),
    )
    assert admin.status_code == 200 and admin.json()["status"] == "shipped"


def test_status_change_bad_input(client: TestClient, db: Database, make_idea, make_user) -> None:
    idea, headers = make_idea(), bearer(db, make_user("staff"))
    url = f"{API}/ideas/{idea.id}/status"
    response = client.post(url, json={"status": "done", "note": "x" * 2001}, headers=headers)
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "status": "Unknown status.",
        "note": "At most 2000 characters.",
    }
    assert client.post(url, json={}, headers=headers).json()["fields"] == {
        "status": "Unknown status."
    }
    assert (
        client.post(
            f"{API}/ideas/{idea.id + 1000}/status", json={"status": "planned"}, headers=headers
        ).status_code
        == 404
    )
    assert client.get(f"{API}/ideas/{idea.id}").json()["status"] == "open"


def test_status_change_by_member_is_403_and_anonymous_401(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    author = make_user()
    idea = make_idea(author=author)
    url = f"{API}/ideas/{idea.id}/status"
    member = client.post(url, json={"status": "planned"}, headers=bearer(db, author))
    assert member.status_code == 403
    assert member.json() == {"error": "You are not allowed to do that."}
    anonymous = client.post(url, json={"status": "planned"})
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "Sign in first."}
    assert client.get(f"{API}/ideas/{idea.id}").json()["status"] == "open"


# Authentication -------------------------------------------------------------------------------


def test_a_wrong_bearer_token_is_401_on_write_routes(
    client: TestClient, make_idea, make_board
) -> None:
    idea, board = make_idea(), make_board()
    wrong = {"Authorization": "Bearer ip_not-a-real-token"}
    calls = [
        ("POST", f"{API}/ideas", {"title": "A perfectly fine title", "board": board.slug}),
        ("POST", f"{API}/ideas/{idea.id}/vote", None),
        ("DELETE", f"{API}/ideas/{idea.id}/vote", None),
        ("POST", f"{API}/ideas/{idea.id}/comments", {"body": "Hello"}),
        ("POST", f"{API}/ideas/{idea.id}/status", {"status": "planned"}),
    ]
    for method, url, body in calls:
        response = client.request(method, url, json=body, headers=wrong)
        assert response.status_code == 401, (method, url)
        assert response.json() == {"error": "Sign in first."}
    # reading needs no credentials: a wrong token reads as anonymous
    assert client.get(f"{API}/ideas/{idea.id}", headers=wrong).status_code == 200


def test_a_blocked_users_token_stops_working(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea, user, admin = make_idea(), make_user(), make_user("admin")
    headers = bearer(db, user)
    assert client.post(f"{API}/ideas/{idea.id}/vote", headers=headers).status_code == 200
    with db.transaction() as session:
        accounts.set_blocked(
            session, session.get_one(User, admin.id), session.get_one(User, user.id), True
        )
    assert client.delete(f"{API}/ideas/{idea.id}/vote", headers=headers).status_code == 401


def test_bearer_token_needs_no_csrf_token_even_beside_a_session(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea, user = make_idea(), make_user()
    sign_in(client, user.email)
    response = client.post(f"{API}/ideas/{idea.id}/vote", headers=bearer(db, user))
    assert response.status_code == 200 and response.json()["voted"] is True


def test_cookie_session_needs_the_csrf_header(client: TestClient, make_idea, make_user) -> None:
    idea, user = make_idea(), make_user()
    sign_in(client, user.email)
    url = f"{API}/ideas/{idea.id}/vote"
    # reading with the session needs no CSRF token
    assert client.get(f"{API}/ideas/{idea.id}").status_code == 200
    for method in ("POST", "DELETE"):
        refused = client.request(method, url)
        assert refused.status_code == 403
        assert refused.json() == {"error": "The form has expired. Reload the page and try again."}
        wrong = client.request(method, url, headers={"X-CSRF-Token": "not-the-token"})
        assert wrong.status_code == 403
    assert client.get(f"{API}/ideas/{idea.id}").json()["votes"] == 1
    token = csrf_of(client, "/")
    voted = client.post(url, headers={"X-CSRF-Token": token})
    assert voted.status_code == 200 and voted.json()["voted"] is True
    comment = client.post(
        f"{API}/ideas/{idea.id}/comments", json={"body": "Hello"}, headers={"X-CSRF-Token": token}
    )
    assert comment.status_code == 201 and comment.json()["author"] == user.name
    unvoted = client.delete(url, headers={"X-CSRF-Token": token})
    assert unvoted.status_code == 200 and unvoted.json()["voted"] is False


# Guards ---------------------------------------------------------------------------------------


def test_a_body_too_large_is_413(settings: Settings, db: Database, make_user, make_board) -> None:
    app = create_app(replace(settings, max_body_bytes=200), db)
    board = make_board()
    with TestClient(app) as client:
        headers = bearer(db, make_user())
        body = {"title": "A perfectly fine title", "description": "x" * 300, "board": board.slug}
        response = client.post(f"{API}/ideas", json=body, headers=headers)
        assert response.status_code == 413
        assert response.json() == {"error": "The request is too large."}
        small = {"title": "A perfectly fine title", "board": board.slug}
        assert client.post(f"{API}/ideas", json=small, headers=headers).status_code == 201


def test_rate_limited_calls_are_429(settings: Settings, db: Database, make_idea, make_user) -> None:
    app = create_app(replace(settings, rate_limits={"vote": (2, 3600)}), db)
    idea = make_idea()
    with TestClient(app) as client:
        headers = bearer(db, make_user())
        url = f"{API}/ideas/{idea.id}/vote"
        assert client.post(url, headers=headers).status_code == 200
        assert client.delete(url, headers=headers).status_code == 200
        limited = client.post(url, headers=headers)
        assert limited.status_code == 429
        assert limited.json() == {"error": "Too many requests. Please wait a moment and try again."}
        # another person has their own allowance
        assert client.post(url, headers=bearer(db, make_user())).status_code == 200


def test_unknown_api_route_and_wrong_method_are_json(client: TestClient) -> None:
    missing = client.get(f"{API}/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found."}
    wrong = client.put(f"{API}/ideas")
    assert wrong.status_code == 405 and wrong.json() == {"error": "Method not allowed."}
