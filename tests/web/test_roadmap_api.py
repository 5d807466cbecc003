"""The roadmap in the JSON API: GET /api/v1/roadmap for everyone, POST and PATCH for staff, and
POST /api/v1/themes/{id}/promote. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import accounts, follows, votes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Idea, Notification, Theme, ThemeIdea, User
from tests.conftest import csrf_of, sign_in
from tests.web.test_openapi import conforms

API = "/api/v1"


def bearer(db: Database, user: User) -> dict[str, str]:
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
    return {"Authorization": f"Bearer {token}"}


def _status(db: Database, idea: Idea) -> str:
    with db.reading() as session:
        return session.get_one(Idea, idea.id).status


def test_staff_create_read_and_move_items(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    first, second = make_idea(), make_idea()
    fan, follower = make_user(), make_user()
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, fan.id), session.get_one(Idea, first.id))
        votes.vote(session, session.get_one(User, fan.id), session.get_one(Idea, second.id))
        follows.follow(session, session.get_one(User, follower.id), first.id)
    staff = bearer(db, make_user("staff"))

    created = conforms(
        client.post(
            f"{API}/roadmap",
            json={
                "title": "Offline mode",
                "description": "For the **train**.",
                "target": "2027-Q2",
                "impact": 2,
                "confidence": 0.5,
                "effort": 3,
                "idea_ids": [second.id, first.id],
            },
            headers=staff,
        )
    )

    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["location"] == item["url"]
    assert {key: item[key] for key in ("title", "status", "target", "idea_ids")} == {
        "title": "Offline mode",
        "status": "planned",
        "target": "2027-Q2",
        "idea_ids": sorted([first.id, second.id]),
    }
    # the two authors and the fan, who voted for both ideas and counts once
    assert (item["voters"], item["reach"], item["score"]) == (3, 3, 1.0)
    assert (_status(db, first), _status(db, second)) == ("planned", "planned")

    listed = conforms(client.get(f"{API}/roadmap")).json()
    assert [entry["id"] for entry in listed] == [item["id"]]
    assert conforms(client.get(f"{API}/roadmap", params={"status": "shipped"})).json() == []
    assert conforms(client.get(f"{API}/roadmap/{item['id']}")).json() == item

    moved = conforms(
        client.patch(
            f"{API}/roadmap/{item['id']}",
            json={"status": "shipped", "note": "Out now.", "weighted_reach": True},
            headers=staff,
        )
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["status"], body["note"], body["weighted_reach"]) == ("shipped", "Out now.", True)
    assert body["shipped_at"] is not None
    assert (_status(db, first), _status(db, second)) == ("shipped", "shipped")
    with db.reading() as session:
        notes = [
            notice.data.get("note")
            for notice in session.scalars(
                select(Notification).where(Notification.user_id == follower.id)
            )
        ]
    assert "Out now." in notes


def test_patch_replaces_the_linked_ideas_and_changes_only_what_it_names(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    first, second = make_idea(), make_idea()
    staff = bearer(db, make_user("staff"))
    item = client.post(
        f"{API}/roadmap", json={"title": "Exports", "idea_ids": [first.id]}, headers=staff
    ).json()

    changed = conforms(
        client.patch(
            f"{API}/roadmap/{item['id']}",
            json={"idea_ids": [second.id], "target": None, "effort": 0.5},
            headers=staff,
        )
    ).json()

    assert changed["idea_ids"] == [second.id]
    assert (changed["title"], changed["effort"], changed["target"]) == ("Exports", 0.5, None)
    assert (_status(db, first), _status(db, second)) == ("planned", "planned")
    assert (
        conforms(client.patch(f"{API}/roadmap/{item['id']}", json={}, headers=staff)).json()[
            "updated_at"
        ]
        == changed["updated_at"]
    )


def test_promote_links_every_idea_of_the_theme(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    ideas = [make_idea(), make_idea(), make_idea()]
    with db.transaction() as session:
        theme = Theme(auto_name="offline · sync", custom_name="Offline sync")
        session.add(theme)
        session.flush()
        session.add_all(ThemeIdea(theme_id=theme.id, idea_id=idea.id) for idea in ideas)
        theme_id = theme.id
    staff = bearer(db, make_user("staff"))

    response = conforms(client.post(f"{API}/themes/{theme_id}/promote", headers=staff))

    assert response.status_code == 201, response.text
    item = response.json()
    assert (item["title"], item["theme_id"], item["status"]) == (
        "Offline sync",
        theme_id,
        "planned",
    )
    assert item["idea_ids"] == sorted(idea.id for idea in ideas)
    assert {_status(db, idea) for idea in ideas} == {"planned"}
    again = conforms(client.post(f"{API}/themes/{theme_id}/promote", headers=staff))
    assert again.status_code == 409 and f"#{item['id']}" in again.json()["error"]
    missing = conforms(client.post(f"{API}/themes/999999/promote", headers=staff))
    assert missing.status_code == 404


def test_errors(client: TestClient, db: Database, make_user, make_idea) -> None:
    staff, member = bearer(db, make_user("staff")), bearer(db, make_user())
    idea = make_idea()
    path = f"{API}/roadmap"

    assert conforms(client.post(path, json={"title": "Mine"}, headers=member)).status_code == 403
    assert conforms(client.post(path, json={"title": "Mine"})).status_code == 401
    bad = conforms(
        client.post(
            path,
            json={
                "title": "",
                "target": "2027-13",
                "impact": 7,
                "confidence": "high",
                "effort": -1,
                "weighted_reach": "yes",
                "status": "done",
            },
            headers=staff,
        )
    )
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {
        "title",
        "target",
        "impact",
        "confidence",
        "effort",
        "weighted_reach",
    }
    assert bad.json()["fields"]["target"] == "A month like 2027-03 or a quarter like 2027-Q1."
    for idea_ids in ("1", [True], [0], ["1"]):
        wrong = conforms(
            client.post(path, json={"title": "Ok title", "idea_ids": idea_ids}, headers=staff)
        )
        assert wrong.status_code == 400 and "idea_ids" in wrong.json()["fields"], idea_ids
    unknown = conforms(
        client.post(path, json={"title": "Ok title", "idea_ids": [999999]}, headers=staff)
    )
    assert unknown.json()["fields"] == {"idea_ids": "There is no idea #999999."}
    conforms(client.post(path, content=b"[1]", headers=staff))
    assert conforms(client.get(path, params={"status": "done"})).status_code == 400

    item = client.post(path, json={"title": "Ok title", "idea_ids": [idea.id]}, headers=staff)
    item_path = f"{path}/{item.json()['id']}"
    assert conforms(client.patch(item_path, json={"status": "done"}, headers=staff)).json()[
        "fields"
    ] == {"status": "Unknown status."}
    assert (
        conforms(client.patch(item_path, json={"position": -1}, headers=staff)).status_code == 400
    )
    assert (
        conforms(client.patch(item_path, json={"status": "shipped"}, headers=member)).status_code
        == 403
    )
    assert conforms(client.patch(item_path, json={"status": "shipped"})).status_code == 401
    assert conforms(client.patch(f"{path}/999999", json={}, headers=staff)).status_code == 404
    assert conforms(client.get(f"{path}/999999")).status_code == 404
    assert _status(db, idea) == "planned"


def test_hidden_ideas_are_listed_for_staff_only(
    client: TestClient, db: Database, make_user, make_idea
) -> None:
    team = make_user("staff")
    shown, hidden = make_idea(), make_idea()
    staff = bearer(db, team)
    item = client.post(
        f"{API}/roadmap",
        json={"title": "Exports", "idea_ids": [shown.id, hidden.id]},
        headers=staff,
    ).json()
    with db.transaction() as session:
        idea_rules.set_hidden(
            session, session.get_one(User, team.id), session.get_one(Idea, hidden.id), True
        )
    assert conforms(client.get(f"{API}/roadmap/{item['id']}")).json()["idea_ids"] == [shown.id]
    as_staff = conforms(client.get(f"{API}/roadmap/{item['id']}", headers=staff)).json()
    assert as_staff["idea_ids"] == sorted([shown.id, hidden.id])


def test_a_browser_session_needs_its_csrf_token(
    client: TestClient, db: Database, make_user
) -> None:
    team = make_user("staff")
    sign_in(client, team.email)
    refused = conforms(client.post(f"{API}/roadmap", json={"title": "Exports"}))
    assert refused.status_code == 403
    token = csrf_of(client, "/")
    created = conforms(
        client.post(f"{API}/roadmap", json={"title": "Exports"}, headers={"X-CSRF-Token": token})
    )
    assert created.status_code == 201
    moved = conforms(
        client.patch(
            f"{API}/roadmap/{created.json()['id']}",
            json={"status": "in_progress", "position": 0},
            headers={"X-CSRF-Token": token},
        )
    )
    assert (moved.json()["status"], moved.json()["position"]) == ("in_progress", 0)
