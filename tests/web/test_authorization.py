"""The authorization matrix: every route of the route table (so a new route is in it at once)
against five people - nobody, a member (the author of the idea the paths name), another member,
staff and an admin.

- Whoever a route is not for is refused (a redirect to sign in or 401 for nobody, 403 for
  people signed in) and nothing in the database changes; the pages it is for open.
- Another member can edit neither the author's idea nor reach the team's pages and calls.
- A hidden idea is for the team only: every route naming it answers members and nobody with
  "not found" (or a refusal), changes nothing, and no page, list or API answer shows its title.

The routes' classification (who may use them) and the world they run against come from
test_routes.py; which positive control each state-changing route passes is checked there.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from ideas import ideas as idea_rules
from ideas.models import Idea, User
from tests.conftest import sign_in
from tests.web.test_routes import (  # noqa: F401 - `world` is a fixture
    ACTIONS,
    HARMLESS_FOR_ANONYMOUS,
    PAGES,
    UNSAFE,
    World,
    app_routes,
    csrf_for,
    method_of,
    path_of,
    send,
    snapshot,
    world,
)

PERSONAS = ["anonymous", "member", "another member", "staff", "admin"]
RANK = {"anonymous": 0, "member": 1, "staff": 2, "admin": 3}
# Routes for the idea's author (and the team) only, not for any member.
OWNER_ONLY = {"edit_idea", "update_idea"}
HIDDEN_TITLE = "Zebra crossings in the office plan"  # the world's first idea's, hidden


def least_role(name: str) -> str:
    return ACTIONS.get(name) or PAGES[name]


def may_use(name: str, persona: str) -> bool:
    if name in OWNER_ONLY and persona == "another member":
        return False
    rank = RANK["member" if persona == "another member" else persona]
    return rank >= RANK[least_role(name)]


def client_for(w: World, persona: str) -> TestClient:
    if persona != "another member":
        return w.client_as(persona)
    client = w.clients()
    sign_in(client, w.user("member").email)
    return client


def request(client: TestClient, route: Any, w: World, csrf: str) -> Any:
    if method_of(route) in UNSAFE:
        return send(client, route, w, csrf=csrf)
    return client.get(path_of(route, w), follow_redirects=False)


def refusal(response: Any, persona: str, name: str, route: Any) -> str | None:
    """What is wrong with the answer to someone the route is not for; None when it refused."""
    status, location = response.status_code, response.headers.get("location", "")
    if persona == "anonymous":
        if name in HARMLESS_FOR_ANONYMOUS and status == 303:
            return None
        if status == 303 and location.startswith("/signin"):
            return None
        if status in (401, 403) and (route.path.startswith("/api/") or method_of(route) in UNSAFE):
            return None
        return f"{status} {location}"
    return None if status == 403 else f"{status} {location}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_route_refuses_whom_it_is_not_for(world: World, persona: str) -> None:  # noqa: F811
    assert all(least_role(name) == "member" for name in OWNER_ONLY)
    client = client_for(world, persona)
    csrf = csrf_for(client)
    wrong: dict[str, str] = {}
    for route in app_routes():
        name = route.name
        if may_use(name, persona):
            if method_of(route) not in UNSAFE:  # the pages open (changes: see test_routes)
                response = client.get(path_of(route, world), follow_redirects=False)
                if response.status_code != 200 and not (
                    least_role(name) == "anonymous" and response.status_code in (303, 307)
                ):
                    wrong[name] = f"{response.status_code} for whom it is for"
            continue
        before = snapshot(world.db)
        problem = refusal(request(client, route, world, csrf), persona, name, route)
        if problem:
            wrong[name] = problem
        if snapshot(world.db) != before:
            wrong[name] = "changed the database"
    assert wrong == {}, f"{persona}: {wrong}"


def idea_routes() -> list[Any]:
    """The routes whose path names the world's first idea (see path_of in test_routes)."""
    return [
        route
        for route in app_routes()
        if route.path.startswith(("/ideas/{id", "/api/v1/ideas/{id"))
        and route.name not in ("unmerge_idea", "api_unmerge")  # these name a merged idea
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_hidden_idea_is_for_the_team_only(world: World, persona: str) -> None:  # noqa: F811
    with world.db.transaction() as session:
        team = session.get_one(User, world.user("staff").id)
        idea = session.get_one(Idea, world.idea_id)
        # A title found nowhere else (the new-idea form's placeholder quotes the world's own).
        idea_rules.edit(session, team, idea, HIDDEN_TITLE, idea.description)
        idea_rules.set_hidden(session, team, idea, True)
    client = client_for(world, persona)
    csrf = csrf_for(client)
    team_member = persona in ("staff", "admin")
    named = idea_routes()
    assert {"idea", "api_idea", "vote", "api_add_comment", "set_status"} <= {
        route.name for route in named
    }
    wrong: dict[str, str] = {}
    for route in named:
        name = route.name
        if team_member:
            if method_of(route) not in UNSAFE:
                response = client.get(path_of(route, world), follow_redirects=False)
                if response.status_code != 200 or (
                    name in ("idea", "api_idea") and HIDDEN_TITLE not in response.text
                ):
                    wrong[name] = f"{response.status_code} for the team"
            continue
        before = snapshot(world.db)
        response = request(client, route, world, csrf)
        status = response.status_code
        if may_use(name, persona) and status != 404:
            wrong[name] = f"{status}, not 404"  # the route is theirs, the idea is not there
        elif status not in (303, 401, 403, 404) or (
            status == 303 and not response.headers["location"].startswith("/signin")
        ):
            wrong[name] = f"{status} {response.headers.get('location', '')}"
        if HIDDEN_TITLE in response.text:
            wrong[name] = "shows the hidden title"
        if snapshot(world.db) != before:
            wrong[name] = "changed the database"
    if not team_member:  # nor in any page, list or API answer they may open
        for route in app_routes():
            if method_of(route) in UNSAFE or not may_use(route.name, persona):
                continue
            response = client.get(path_of(route, world), follow_redirects=False)
            if HIDDEN_TITLE in response.text:
                wrong[route.name] = "shows the hidden title"
    assert wrong == {}, f"{persona}: {wrong}"
