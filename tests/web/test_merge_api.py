"""POST /api/v1/ideas/{id}/merge and /unmerge: staff only, the surviving and restored idea.
Every answer is checked against the OpenAPI document (`conforms`)."""

from __future__ import annotations

from starlette.testclient import TestClient

from ideas import accounts
from ideas.db import Database
from ideas.models import User
from tests.web.test_openapi import conforms

API = "/api/v1"


def bearer(db: Database, user: User) -> dict[str, str]:
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
    return {"Authorization": f"Bearer {token}"}


def test_merge_answers_with_the_surviving_idea_and_unmerge_restores(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    a, b = make_idea(), make_idea()
    staff = bearer(db, make_user("staff"))
    response = conforms(
        client.post(f"{API}/ideas/{a.id}/merge", json={"into": b.id}, headers=staff)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["votes"], body["merged_into"]) == (b.id, 2, None)
    assert client.get(f"{API}/ideas/{a.id}").json()["merged_into"] == b.id
    assert [item["id"] for item in client.get(f"{API}/ideas").json()["items"]] == [b.id]

    response = conforms(client.post(f"{API}/ideas/{a.id}/unmerge", headers=staff))
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["merged_into"]) == (a.id, None)
    assert client.get(f"{API}/ideas/{b.id}").json()["votes"] == 1


def test_merge_refusals(client: TestClient, db: Database, make_idea, make_user) -> None:
    a, b = make_idea(), make_idea()
    staff = bearer(db, make_user("staff"))
    member = bearer(db, make_user())
    path = f"{API}/ideas/{a.id}/merge"
    assert conforms(client.post(path, json={"into": b.id}, headers=member)).status_code == 403
    assert conforms(client.post(path, json={"into": b.id})).status_code == 401
    bad = conforms(client.post(path, json={"into": "b"}, headers=staff))
    assert bad.status_code == 400 and "into" in bad.json()["fields"]
    itself = conforms(client.post(path, json={"into": a.id}, headers=staff))
    assert itself.status_code == 400 and "itself" in itself.json()["fields"]["into"]
    assert conforms(client.post(path, json={"into": 999999}, headers=staff)).status_code == 404
    assert conforms(client.post(path, json={"into": b.id}, headers=staff)).status_code == 200
    again = conforms(client.post(path, json={"into": b.id}, headers=staff))
    assert again.status_code == 409 and f"#{b.id}" in again.json()["error"]
    cycle = conforms(client.post(f"{API}/ideas/{b.id}/merge", json={"into": a.id}, headers=staff))
    assert cycle.status_code == 400 and "cycle" in cycle.json()["fields"]["into"]
    assert conforms(client.post(f"{API}/ideas/{b.id}/unmerge", headers=staff)).status_code == 409
    assert conforms(client.post(f"{API}/ideas/{a.id}/unmerge", headers=member)).status_code == 403
