"""The roadmap pages: the team's board, items made, edited, linked and moved from forms, and the
public roadmap and changelog that everyone can read."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import follows, roadmap
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Idea, Notification, RoadmapItem, Theme, ThemeIdea, User
from tests.conftest import csrf_of, sign_in


def _post(client: TestClient, path: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(client, "/")
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _item(db: Database, team: User, title: str, ideas=(), status: str = "planned", note: str = ""):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        actor = session.get_one(User, team.id)
        linked = [session.get_one(Idea, idea.id) for idea in ideas]
        item = roadmap.create(session, actor, roadmap.Fields(title, target="2027-Q1"), linked)
        if status != "planned" or note:
            roadmap.move(session, actor, item, status, note=note)
        return item.id


def _status(db: Database, idea: Idea) -> str:
    with db.reading() as session:
        return session.get_one(Idea, idea.id).status


RICE_FORM = {"impact": "2", "confidence": "0.5", "effort": "4"}


def test_the_team_makes_an_item_from_ideas_and_sees_it_on_the_board(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    first = make_idea("Offline mode for the app")
    second = make_idea("Work without a connection")
    team = make_user("staff")
    sign_in(client, team.email)
    html = client.get(f"/staff/roadmap/new?ideas={first.id}").text
    assert f">{first.id}</textarea>" in html
    assert f"/staff/roadmap/new?ideas={first.id}" in client.get(f"/ideas/{first.id}").text

    response = _post(
        client,
        "/staff/roadmap",
        {
            "title": "Offline mode",
            "description": "Work on the **train**.",
            "target": "2027-q2",
            "ideas": f"{first.id}, http://testserver/ideas/{second.id}",
            **RICE_FORM,
        },
    )

    assert response.status_code == 303
    item_path = response.headers["location"]
    assert re.fullmatch(r"/staff/roadmap/[0-9]+", item_path)
    assert (_status(db, first), _status(db, second)) == ("planned", "planned")
    page = _text(client.get(item_path).text)
    assert "Offline mode" in page and "Target 2027-Q2" in page
    # the formula, with the numbers: the two authors voted
    assert "Reach 2 × Impact 2 × Confidence 0.5 ÷ Effort 4 = 0.5" in page
    assert "Work without a connection" in page

    board = client.get("/staff/roadmap")
    assert board.status_code == 200
    text = _text(board.text)
    assert "Offline mode" in text and "Score 0.5" in text and "2 ideas" in text
    assert 'href="/staff/roadmap"' in board.text  # in the team's menu


def test_the_form_shows_each_error_next_to_its_field(
    client: TestClient, db: Database, make_user
) -> None:
    sign_in(client, make_user("staff").email)
    response = _post(
        client,
        "/staff/roadmap",
        {
            "title": "",
            "target": "March",
            "impact": "9",
            "confidence": "2",
            "effort": "0",
            "ideas": "12x, 999999",
        },
    )
    assert response.status_code == 400
    html = unescape(response.text)
    for field in ("title", "target", "impact", "confidence", "effort", "ideas"):
        assert f'id="{field}-error"' in html, field
    assert "A month like 2027-03 or a quarter like 2027-Q1." in html
    assert "Not an idea's number or address: 12x" in html
    assert 'value="March"' in html  # what was typed stays
    with db.reading() as session:
        assert session.scalars(select(RoadmapItem)).all() == []


def test_editing_an_item_and_its_rice_inputs(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    team = make_user("staff")
    item_id = _item(db, team, "Dark mode", [make_idea()])
    sign_in(client, team.email)
    path = f"/staff/roadmap/{item_id}"

    bad = _post(client, path, {"title": "Dark mode", "target": "2027-Q9", **RICE_FORM})
    assert bad.status_code == 400 and 'id="target-error"' in bad.text

    ok = _post(
        client,
        path,
        {"title": "Dark theme", "target": "2027-11", "weighted_reach": "1", **RICE_FORM},
    )
    assert ok.status_code == 303 and ok.headers["location"] == path
    with db.reading() as session:
        item = session.get_one(RoadmapItem, item_id)
        assert (item.title, item.target, item.impact, item.weighted_reach) == (
            "Dark theme",
            "2027-11",
            2.0,
            True,
        )
    assert "Reach (weighted) 1 ×" in _text(client.get(path).text)


def test_moving_on_the_board_moves_the_ideas_and_tells_their_followers(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    team, follower = make_user("staff"), make_user()
    idea = make_idea()
    with db.transaction() as session:
        follows.follow(session, session.get_one(User, follower.id), idea.id)
    item_id = _item(db, team, "Offline mode", [idea])
    sign_in(client, team.email)

    response = _post(
        client,
        f"/staff/roadmap/{item_id}/move",
        {"status": "in_progress", "note": "We started.", "next": "board"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/roadmap#item-{item_id}"
    assert _status(db, idea) == "in_progress"
    with db.reading() as session:
        notice = session.scalars(
            select(Notification)
            .where(Notification.user_id == follower.id)
            .order_by(Notification.id.desc())
        ).first()
        assert notice is not None and notice.data["note"] == "We started."
    history = _text(client.get(f"/staff/roadmap/{item_id}").text)
    assert f"{team.name} ·" in history and "We started." in history
    board = client.get("/staff/roadmap").text
    column = board.split('id="column-in_progress"', 1)[1].split("</section>", 1)[0]
    assert "Offline mode" in column

    sign_in(client, follower.email)
    inbox = _text(client.get("/notifications").text)
    assert "On the roadmap: “Offline mode”" in inbox and "We started." in inbox
    assert f'href="/roadmap#item-{item_id}"' in client.get("/notifications").text
    sign_in(client, team.email)

    bad = _post(client, f"/staff/roadmap/{item_id}/move", {"status": "done"})
    assert bad.status_code == 303 and bad.headers["location"] == f"/staff/roadmap/{item_id}"
    assert "Unknown status." in client.get(bad.headers["location"]).text


def test_up_and_down_reorder_a_column(client: TestClient, db: Database, make_user) -> None:
    team = make_user("staff")
    first, second = _item(db, team, "First item"), _item(db, team, "Second item")
    sign_in(client, team.email)
    html = client.get("/staff/roadmap").text
    assert html.index("First item") < html.index("Second item")
    _post(
        client,
        f"/staff/roadmap/{second}/move",
        {"status": "planned", "position": "0", "next": "board"},
    )
    html = client.get("/staff/roadmap").text
    assert html.index("Second item") < html.index("First item")
    with db.reading() as session:
        assert [i.id for i in roadmap.by_status(session)["planned"]] == [second, first]


def test_linking_and_unlinking_ideas_from_the_item_page(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    team = make_user("staff")
    first, second = make_idea(), make_idea("Keyboard shortcuts")
    item_id = _item(db, team, "Power users", [first])
    sign_in(client, team.email)

    linked = _post(client, f"/staff/roadmap/{item_id}/link", {"ideas": f"#{second.id}"})
    assert linked.status_code == 303 and linked.headers["location"].endswith("#ideas")
    assert _status(db, second) == "planned"
    assert "Keyboard shortcuts" in client.get(f"/staff/roadmap/{item_id}").text

    _post(client, f"/staff/roadmap/{item_id}/unlink", {"idea": str(first.id)})
    with db.reading() as session:
        assert [i.id for i in roadmap.linked_ideas(session, [item_id])[item_id]] == [second.id]
    assert _status(db, first) == "planned"  # an unlinked idea keeps its status

    _post(client, f"/staff/roadmap/{item_id}/link", {"ideas": "999999"})
    assert "There is no idea #999999." in client.get(f"/staff/roadmap/{item_id}").text
    _post(client, f"/staff/roadmap/{item_id}/link", {"ideas": "<b>12</b>"})
    html = client.get(f"/staff/roadmap/{item_id}").text
    assert "&lt;b&gt;12&lt;/b&gt;" in html and "<b>12" not in html  # what was typed is escaped


def test_a_theme_goes_on_the_roadmap_in_one_click(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    ideas = [make_idea(), make_idea()]
    with db.transaction() as session:
        theme = Theme(auto_name="exports · csv")
        session.add(theme)
        session.flush()
        session.add_all(ThemeIdea(theme_id=theme.id, idea_id=idea.id) for idea in ideas)
        theme_id = theme.id
    sign_in(client, make_user("staff").email)
    response = _post(client, f"/staff/roadmap/from-theme/{theme_id}")
    assert response.status_code == 303
    assert "exports · csv" in unescape(client.get(response.headers["location"]).text)
    assert [_status(db, idea) for idea in ideas] == ["planned", "planned"]
    assert _post(client, f"/staff/roadmap/from-theme/{theme_id}").status_code == 409
    assert _post(client, "/staff/roadmap/from-theme/999999").status_code == 404


def test_everyone_reads_the_public_roadmap(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    team = make_user("staff")
    popular, hidden = make_idea("Offline mode for the app"), make_idea("Secret idea")
    with db.transaction() as session:
        idea_rules.set_hidden(
            session, session.get_one(User, team.id), session.get_one(Idea, hidden.id), True
        )
    _item(db, team, "Offline mode", [popular, hidden])
    _item(db, team, "Faster search", status="in_progress", note="Half way there.")
    _item(db, team, "Dark mode", status="shipped", note="It is out.")
    _item(db, team, "Fax support", status="cancelled")

    response = client.get("/roadmap")

    assert response.status_code == 200
    html = response.text
    text = _text(html)
    for title in ("Offline mode", "Faster search", "Dark mode", "Half way there.", "It is out."):
        assert title in text
    assert "Fax support" not in text and "Secret idea" not in text
    assert "Offline mode for the app" in text and "1 vote" in text
    assert "Target 2027-Q1" in text
    assert 'href="/roadmap"' in client.get("/").text  # in the site's navigation
    assert 'href="/changelog"' in html
    planned = html.split('id="column-planned"', 1)[1].split("</section>", 1)[0]
    assert "Offline mode" in planned and "Faster search" not in planned


def test_the_changelog_lists_shipped_items_newest_first(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    team = make_user("staff")
    _item(db, team, "Dark mode", [make_idea("Dark theme please")], "shipped", "Out **today**.")
    _item(db, team, "CSV export", status="shipped", note="Download it from the list.")
    _item(db, team, "Offline mode")

    response = client.get("/changelog")

    assert response.status_code == 200
    text = _text(response.text)
    assert text.index("CSV export") < text.index("Dark mode")
    assert "Offline mode" not in text
    assert "<strong>today</strong>" in response.text
    assert "Dark theme please" in text
    assert re.search(r'<time datetime="[0-9-]+T', response.text)


def test_the_changelog_when_nothing_shipped(client: TestClient) -> None:
    assert "Nothing shipped yet" in client.get("/changelog").text


def test_members_are_refused_the_team_pages(
    member_client: TestClient, db: Database, make_user
) -> None:
    item_id = _item(db, make_user("staff"), "Dark mode")
    for path in ("/staff/roadmap", "/staff/roadmap/new", f"/staff/roadmap/{item_id}"):
        assert member_client.get(path).status_code == 403, path
    refused = _post(member_client, f"/staff/roadmap/{item_id}/move", {"status": "shipped"})
    assert refused.status_code == 403
    with db.reading() as session:
        assert session.get_one(RoadmapItem, item_id).status == "planned"
    assert member_client.get("/roadmap").status_code == 200
    assert 'href="/staff/roadmap"' not in member_client.get("/roadmap").text


def test_anonymous_people_read_the_public_pages_and_not_the_board(client: TestClient) -> None:
    assert client.get("/roadmap").status_code == 200
    assert client.get("/changelog").status_code == 200
    response = client.get("/staff/roadmap", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_the_pages_speak_italian(client: TestClient, db: Database, make_user) -> None:
    team = make_user("staff")
    _item(db, team, "Dark mode", status="in_progress")
    html = client.get("/roadmap?lang=it").text
    assert "In corso" in html and "Rilasciate di recente" in html and ">Novità<" in html
    sign_in(client, team.email)
    assert "Punteggio" in client.get("/staff/roadmap?lang=it").text
