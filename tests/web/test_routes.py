"""Every route in the one route table, classified by who may use it, and checked:

- state-changing routes refuse a cookie session without the session's CSRF token (403, nothing
  changed), refuse anonymous people (except the few routes meant for them), and refuse people
  below the route's role;
- page routes never fail for anonymous people: 200, or a redirect to sign in for private pages.

A route missing from the classification below fails `test_every_route_is_classified`, so a new
route cannot slip in without saying who may use it.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from ideas import accounts, boards, comments, duplicates, merges, roadmap, updates, webhooks, weekly
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Base, Idea, Job, Theme, ThemeIdea, User
from tests.conftest import PASSWORD, csrf_of, mailed_path, sign_in
from web.app import routes

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_REFUSED = "The form has expired"

# State-changing routes, by the least role that may use them. "anonymous" routes are meant for
# people who are not signed in; "signout" does nothing for them (there is nothing to end).
ACTIONS: dict[str, str] = {
    "signup": "anonymous",
    "signup_finish": "anonymous",
    "signin": "anonymous",
    "forgot": "anonymous",
    "reset": "anonymous",
    "language": "anonymous",
    "unsubscribe": "anonymous",
    "signout": "member",
    "update_account": "member",
    "create_idea": "member",
    "update_idea": "member",
    "vote": "member",
    "unvote": "member",
    "follow": "member",
    "unfollow": "member",
    "comment": "member",
    "mark_read": "member",
    "api_create_idea": "member",
    "api_vote": "member",
    "api_unvote": "member",
    "api_add_comment": "member",
    "set_status": "staff",
    "hide_idea": "staff",
    "restore_idea": "staff",
    "lock_comments": "staff",
    "unlock_comments": "staff",
    "hide_comment": "staff",
    "restore_comment": "staff",
    "block_user": "staff",
    "unblock_user": "staff",
    "api_status": "staff",
    "same_as": "member",
    "merge_idea": "staff",
    "unmerge_idea": "staff",
    "merge_candidate": "staff",
    "dismiss_candidate": "staff",
    "api_merge": "staff",
    "api_unmerge": "staff",
    "create_roadmap_item": "staff",
    "update_roadmap_item": "staff",
    "move_roadmap_item": "staff",
    "link_roadmap_ideas": "staff",
    "unlink_roadmap_idea": "staff",
    "roadmap_from_theme": "staff",
    "api_create_roadmap_item": "staff",
    "api_update_roadmap_item": "staff",
    "api_promote_theme": "staff",
    "rebuild_themes": "staff",
    "rename_theme": "staff",
    "merge_theme": "staff",
    "move_theme_idea": "staff",
    "hide_theme": "staff",
    "show_theme": "staff",
    "create_board": "admin",
    "update_board": "admin",
    "set_role": "admin",
    "set_customer": "admin",
    "make_weekly_export": "staff",
    "create_webhook": "admin",
    "update_webhook": "admin",
    "rotate_webhook_secret": "admin",
    "ping_webhook": "admin",
    "delete_webhook": "admin",
}
HARMLESS_FOR_ANONYMOUS = {"signout"}  # answers like a success, changes nothing
# Need no session and so no CSRF token: the signed token in the path is the proof (a mail
# program's one-click unsubscribe comes without cookies). Checked by their own test below.
CSRF_EXEMPT = {"unsubscribe"}

# Pages (GET), by the least role that may see them.
PAGES: dict[str, str] = {
    "home": "anonymous",
    "board": "anonymous",
    "idea": "anonymous",
    "signup_form": "anonymous",
    "signup_finish_form": "anonymous",
    "signin_form": "anonymous",
    "forgot_form": "anonymous",
    "reset_form": "anonymous",
    "unsubscribe_form": "anonymous",
    "api_openapi": "anonymous",
    "api_boards": "anonymous",
    "api_ideas": "anonymous",
    "api_idea": "anonymous",
    "api_comments": "anonymous",
    "api_similar_ideas": "anonymous",
    "similar_ideas": "anonymous",
    "roadmap": "anonymous",
    "changelog": "anonymous",
    "api_roadmap": "anonymous",
    "api_roadmap_item": "anonymous",
    "new_idea": "member",
    "edit_idea": "member",
    "notifications": "member",
    "account": "member",
    "moderation": "staff",
    "audit": "staff",
    "duplicates": "staff",
    "roadmap_board": "staff",
    "new_roadmap_item": "staff",
    "roadmap_item": "staff",
    "staff_dashboard": "staff",
    "themes": "staff",
    "theme": "staff",
    "api_themes": "staff",
    "admin_boards": "admin",
    "edit_board": "admin",
    "admin_users": "admin",
    "weekly_updates": "anonymous",
    "weekly_feed": "anonymous",
    "weekly_update": "anonymous",
    "weekly_download": "anonymous",
    "api_weekly_updates": "anonymous",
    "api_weekly_update": "anonymous",
    "admin_webhooks": "admin",
    "webhook": "admin",
}

LOWER_ROLE = {"staff": "member", "admin": "staff"}

# Routes whose positive control below legitimately changes no row: nothing to undo, the author
# has voted for and follows their idea already, the language of an anonymous visitor lives in
# the session cookie.
CHANGES_NOTHING_HERE = {
    "restore_idea",
    "unlock_comments",
    "restore_comment",
    "unblock_user",
    "vote",
    "api_vote",
    "follow",
    "language",
}


def app_routes() -> list[Route]:
    found = []
    for route in routes:
        if isinstance(route, Mount):
            assert route.path == "/static", f"classify the new mount {route.path}"
            continue
        assert isinstance(route, Route), f"classify {route!r}"
        found.append(route)
    return found


def route_named(name: str) -> Route:
    return next(route for route in app_routes() if route.name == name)


def method_of(route: Route) -> str:
    methods = sorted((route.methods or set()) - {"HEAD"})
    assert len(methods) == 1, f"{route.name}: one method per route, got {methods}"
    return methods[0]


ACTION_NAMES = sorted(route.name for route in app_routes() if method_of(route) in UNSAFE)
PAGE_NAMES = sorted(route.name for route in app_routes() if method_of(route) not in UNSAFE)


def test_every_route_is_classified() -> None:
    names = [route.name for route in app_routes()]
    assert len(names) == len(set(names)), "route names must be unique"
    unclassified = set(names) - set(ACTIONS) - set(PAGES)
    assert not unclassified, (
        f"say who may use these new routes (in ACTIONS or PAGES): {unclassified}"
    )
    stale = (set(ACTIONS) | set(PAGES)) - set(names)
    assert not stale, f"these routes are gone; remove them here: {stale}"
    assert set(ACTION_NAMES) == set(ACTIONS), "ACTIONS must hold exactly the state-changing routes"
    assert set(PAGE_NAMES) == set(PAGES), "PAGES must hold exactly the GET routes"
    for name in ACTIONS:
        assert route_named(name).path.startswith("/api/") or not name.startswith("api_")
    assert set(ACTIONS.values()) | set(PAGES.values()) <= {"anonymous", "member", "staff", "admin"}


# A small world with one of everything a path can name ---------------------------------------


@dataclass
class World:
    db: Database
    author: User  # a member who signs in; wrote the idea
    other: User  # commented; the target of blocking and role changes
    board_slug: str
    idea_id: int
    comment_id: int
    reset_token: str  # the author's
    signup_token: str  # of an address with no account
    unsubscribe_token: str  # the author's
    clients: Callable[[], TestClient]
    _counter: Iterator[int]
    other_idea_id: int = 0  # a second idea, a pending duplicate of the first
    merged_idea_id: int = 0  # a third one, merged into the second
    candidate_id: int = 0  # the pending pair (first, second)
    roadmap_item_id: int = 0  # planned, with the first idea linked
    theme_id: int = 0  # of the first and second ideas, not on the roadmap
    other_theme_id: int = 0  # another theme, empty
    week: str = ""  # a past week with its roadmap update
    webhook_id: int = 0  # active, wants new ideas

    def user(self, role: str) -> User:
        number = next(self._counter)
        with self.db.transaction() as session:
            return with_password(
                accounts.create_user(
                    session, f"{role}{number}@example.com", f"{role.title()} {number}", None, role
                )
            )

    def client_as(self, role: str) -> TestClient:
        """A client signed in as `role` (the author for "member"), or anonymous."""
        client = self.clients()
        if role != "anonymous":
            sign_in(client, self.author.email if role == "member" else self.user(role).email)
        return client


@functools.cache
def password_hash() -> str:
    return accounts.hash_password(PASSWORD)


def with_password(user: User) -> User:
    """Gives the user PASSWORD, hashed once for the whole module (hashing is slow on purpose)."""
    user.password_hash = password_hash()
    return user


@pytest.fixture
def world(app: Starlette, db: Database) -> Iterator[World]:
    with db.transaction() as session:
        author = with_password(accounts.create_user(session, "author@example.com", "Author", None))
        other = accounts.create_user(session, "other@example.com", "Other", None)
        board = boards.create_board(session, None, "Main board", "", None)
        idea = idea_rules.submit(session, author, board, "Export the roadmap as CSV", "Please.")
        comment = comments.add(session, other, idea, "Me too, every week.")
        second = idea_rules.submit(session, other, board, "Roadmap export to CSV", "")
        third = idea_rules.submit(session, other, board, "CSV download of the roadmap", "")
        team = accounts.create_user(session, "team@example.com", "Team", None, "staff")
        merges.merge(session, team, third, second)
        candidate = duplicates.suggest(session, idea.id, second.id, 0.9)
        assert candidate is not None
        session.flush()
        accounts.request_password_reset(
            session, author.email, app.state.secret_key, app.state.settings.base_url, "en"
        )
    with db.reading() as session:
        body = session.scalars(select(Job)).one().payload["body"]
    token = re.search(r"/reset/(\S+)", body)
    assert token
    with db.transaction() as session:  # after the reset mail: moving ideas queues mail too
        linked = session.get_one(Idea, idea.id)
        item = roadmap.create(session, team, roadmap.Fields("CSV exports"), [linked])
        theme = Theme(auto_name="csv · export · roadmap")
        session.add(theme)
        session.flush()
        session.add_all(ThemeIdea(theme_id=theme.id, idea_id=i.id) for i in (idea, second))
        other_theme = Theme(auto_name="dark · mode")
        session.add(other_theme)
        session.flush()
        owner = accounts.create_user(session, "admin@example.com", "Admin", None, "admin")
        webhook = webhooks.create(session, owner, "https://hooks.example.com/in", ["idea.created"])
        accounts.request_sign_up(
            session, "newcomer@example.com", app.state.secret_key, app.state.settings.base_url, "en"
        )
    signup_path = mailed_path(db, "newcomer@example.com", "/signup/")
    week = weekly.make(db, "2025-W10", "UTC").snapshot.week
    with contextlib.ExitStack() as stack:
        yield World(
            db=db,
            author=author,
            other=other,
            board_slug=board.slug,
            idea_id=idea.id,
            comment_id=comment.id,
            reset_token=token.group(1),
            signup_token=signup_path.removeprefix("/signup/"),
            unsubscribe_token=updates.unsubscribe_token(app.state.secret_key, author.id),
            clients=lambda: stack.enter_context(TestClient(app)),
            _counter=iter(range(1, 1000)),
            other_idea_id=second.id,
            merged_idea_id=third.id,
            candidate_id=candidate.id,
            roadmap_item_id=item.id,
            theme_id=theme.id,
            other_theme_id=other_theme.id,
            week=week,
            webhook_id=webhook.id,
        )


def path_of(route: Route, world: World) -> str:
    params: dict[str, Any] = {}
    for param in route.param_convertors:
        if param == "slug":
            params[param] = world.board_slug
        elif param == "token" and route.path.startswith("/unsubscribe/"):
            params[param] = world.unsubscribe_token
        elif param == "token" and route.path.startswith("/signup/"):
            params[param] = world.signup_token
        elif param == "token":
            params[param] = world.reset_token
        elif param == "id" and route.name in ("unmerge_idea", "api_unmerge"):
            params[param] = world.merged_idea_id
        elif param == "id" and route.path.startswith(("/ideas/", "/api/v1/ideas/")):
            params[param] = world.idea_id
        elif param == "id" and route.path.startswith("/staff/duplicates/"):
            params[param] = world.candidate_id
        elif param == "id" and route.path.startswith(
            ("/staff/roadmap/from-theme/", "/api/v1/themes/", "/staff/themes/")
        ):
            params[param] = world.theme_id
        elif param == "id" and route.path.startswith(("/staff/roadmap/", "/api/v1/roadmap/")):
            params[param] = world.roadmap_item_id
        elif param == "id" and route.path.startswith("/comments/"):
            params[param] = world.comment_id
        elif param == "id" and route.path.startswith(("/users/", "/admin/users/")):
            params[param] = world.other.id
        elif param == "id" and route.path.startswith("/admin/webhooks/"):
            params[param] = world.webhook_id
        elif param == "week":
            params[param] = world.week
        elif param == "format":
            params[param] = "csv"
        else:
            pytest.fail(f"{route.name}: say how to build the path parameter {param!r}")
    path = str(route.url_path_for(route.name, **params))
    return path + QUERIES.get(route.name, "")


# A query string that the route needs to answer 200.
QUERIES = {"api_similar_ideas": "?q=roadmap", "similar_ideas": "?q=roadmap"}


# A body that the route accepts, so that the positive control shows the refusals are real.
BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "signup": lambda w: {"email": "new@example.com"},
    "signup_finish": lambda w: {"name": "Newcomer", "password": "a new password"},
    "signin": lambda w: {"email": w.author.email, "password": PASSWORD},
    "forgot": lambda w: {"email": w.author.email},
    "reset": lambda w: {"password": "another good password"},
    "language": lambda w: {"locale": "it", "next": "/"},
    "create_idea": lambda w: {
        "board": w.board_slug,
        "title": "Dark mode for the dashboard",
        "description": "Easier on the eyes.",
    },
    "update_idea": lambda w: {"title": "Export the roadmap as CSV files", "description": "Now."},
    "comment": lambda w: {"body": "A thoughtful comment."},
    "set_status": lambda w: {"status": "planned", "note": "Next quarter."},
    "create_board": lambda w: {"name": "Another board", "description": "", "vote_budget": ""},
    "update_board": lambda w: {"name": "Renamed board", "description": "", "vote_budget": "3"},
    "set_role": lambda w: {"role": "staff"},
    "set_customer": lambda w: {"segment": "Enterprise", "weight": "5"},
    "create_webhook": lambda w: {"url": "https://hooks.example.com/new", "event:idea.created": "1"},
    "update_webhook": lambda w: {"url": "https://hooks.example.com/b", "event:idea.merged": "1"},
    "update_account": lambda w: {"email_updates": "weekly", "locale": "it"},
    "api_create_idea": lambda w: {
        "board": w.board_slug,
        "title": "Dark mode for the dashboard",
        "description": "Easier on the eyes.",
    },
    "api_add_comment": lambda w: {"body": "A thoughtful comment."},
    "api_status": lambda w: {"status": "planned", "note": "Next quarter."},
    "same_as": lambda w: {"other": f"/ideas/{w.other_idea_id}"},
    "merge_idea": lambda w: {"into": str(w.other_idea_id)},
    "api_merge": lambda w: {"into": w.other_idea_id},
    "create_roadmap_item": lambda w: {
        "title": "Dark mode",
        "impact": "1",
        "confidence": "0.8",
        "effort": "2",
        "ideas": str(w.other_idea_id),
    },
    "update_roadmap_item": lambda w: {
        "title": "CSV and Excel exports",
        "impact": "2",
        "confidence": "0.5",
        "effort": "3",
    },
    "move_roadmap_item": lambda w: {"status": "in_progress", "note": "Started."},
    "link_roadmap_ideas": lambda w: {"ideas": f"/ideas/{w.other_idea_id}"},
    "unlink_roadmap_idea": lambda w: {"idea": str(w.idea_id)},
    "api_create_roadmap_item": lambda w: {"title": "Dark mode", "idea_ids": [w.other_idea_id]},
    "api_update_roadmap_item": lambda w: {"status": "shipped", "note": "Out now."},
    "rename_theme": lambda w: {"name": "CSV exports"},
    "merge_theme": lambda w: {"into": str(w.other_theme_id)},
    "move_theme_idea": lambda w: {"idea": str(w.idea_id), "into": str(w.other_theme_id)},
}


def send(client: TestClient, route: Route, world: World, csrf: str | None) -> Any:
    path = path_of(route, world)
    body = BODIES.get(route.name, lambda w: {})(world)
    if route.path.startswith("/api/"):
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        return client.request(
            method_of(route), path, json=body, headers=headers, follow_redirects=False
        )
    data = {**body, **({"csrf_token": csrf} if csrf else {})}
    return client.request(method_of(route), path, data=data, follow_redirects=False)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    state = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(table.select().order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    return state


def csrf_for(client: TestClient) -> str:
    return csrf_of(client, "/")


def assert_refused(response: Any, statuses: tuple[int, ...]) -> None:
    if response.status_code in (302, 303, 307):
        assert response.headers["location"].startswith("/signin"), response.headers["location"]
    else:
        assert response.status_code in statuses, (response.status_code, response.text[:300])


# State-changing routes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name in ACTION_NAMES if name not in CSRF_EXEMPT])
def test_cookie_session_without_csrf_token_is_refused(world: World, name: str) -> None:
    route = route_named(name)
    role = ACTIONS[name] if ACTIONS[name] != "anonymous" else "member"
    client = world.client_as(role)
    before = snapshot(world.db)

    response = send(client, route, world, csrf=None)

    assert response.status_code == 403, response.text[:300]
    assert CSRF_REFUSED in response.text
    assert snapshot(world.db) == before


@pytest.mark.parametrize("name", [name for name in ACTION_NAMES if name not in CSRF_EXEMPT])
def test_csrf_token_of_another_session_is_refused(world: World, name: str) -> None:
    route = route_named(name)
    role = ACTIONS[name] if ACTIONS[name] != "anonymous" else "member"
    client = world.client_as(role)
    foreign = csrf_for(world.client_as("anonymous"))
    csrf_for(client)  # the session has a token of its own, just not this one
    before = snapshot(world.db)

    response = send(client, route, world, csrf=foreign)

    assert response.status_code == 403, response.text[:300]
    assert snapshot(world.db) == before


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_the_right_person_with_the_csrf_token_gets_through(world: World, name: str) -> None:
    # The positive control: the same request as above succeeds with the token.
    role = ACTIONS[name]
    client = world.client_as(role)
    before = snapshot(world.db)

    response = send(client, route_named(name), world, csrf=csrf_for(client))

    assert response.status_code < 400, response.text[:300]
    if name not in CHANGES_NOTHING_HERE:
        assert snapshot(world.db) != before, f"{name} changed nothing"


@pytest.mark.parametrize("name", [name for name in ACTION_NAMES if ACTIONS[name] != "anonymous"])
def test_anonymous_person_with_a_valid_csrf_token_is_refused(world: World, name: str) -> None:
    client = world.client_as("anonymous")
    csrf = csrf_for(client)
    before = snapshot(world.db)

    response = send(client, route_named(name), world, csrf=csrf)

    if name in HARMLESS_FOR_ANONYMOUS:
        assert response.status_code == 303
    else:
        assert_refused(response, (401, 403))
    assert snapshot(world.db) == before


@pytest.mark.parametrize("name", [name for name in ACTION_NAMES if ACTIONS[name] in LOWER_ROLE])
def test_people_below_the_role_are_refused(world: World, name: str) -> None:
    lower = LOWER_ROLE[ACTIONS[name]]
    client = world.client_as(lower)
    csrf = csrf_for(client)
    before = snapshot(world.db)

    response = send(client, route_named(name), world, csrf=csrf)

    assert response.status_code == 403, (lower, response.text[:300])
    assert snapshot(world.db) == before
    if ACTIONS[name] == "admin":  # and members, further below, too
        member = world.client_as("member")
        csrf = csrf_for(member)
        before = snapshot(world.db)
        assert send(member, route_named(name), world, csrf=csrf).status_code == 403
        assert snapshot(world.db) == before


@pytest.mark.parametrize("name", sorted(CSRF_EXEMPT))
def test_csrf_exempt_routes_need_their_signed_token(world: World, name: str) -> None:
    route = route_named(name)
    client = world.client_as("anonymous")  # no session, no CSRF token
    before = snapshot(world.db)
    forged = path_of(route, world).replace(world.unsubscribe_token, world.unsubscribe_token[:-2])
    response = client.request(method_of(route), forged, follow_redirects=False)
    assert response.status_code == 400, response.text[:300]
    assert snapshot(world.db) == before
    response = client.request(method_of(route), path_of(route, world), follow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    assert snapshot(world.db) != before


def test_member_cannot_edit_someone_elses_idea(world: World) -> None:
    client = world.client_as("anonymous")
    sign_in(client, world.user("member").email)
    before = snapshot(world.db)
    response = send(client, route_named("update_idea"), world, csrf=csrf_for(client))
    assert response.status_code == 403
    assert client.get(f"/ideas/{world.idea_id}/edit", follow_redirects=False).status_code == 403
    assert snapshot(world.db) == before


def test_bearer_token_requests_need_no_csrf_token_but_a_valid_token(world: World) -> None:
    with world.db.transaction() as session:
        token = accounts.create_api_token(session, accounts.get_user(session, world.author.id))
    client = world.client_as("anonymous")
    path = f"/api/v1/ideas/{world.idea_id}/comments"
    refused = client.post(path, json={"body": "Hi"}, headers={"Authorization": "Bearer ip_wrong"})
    assert refused.status_code == 401
    response = client.post(path, json={"body": "Hi"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


# Pages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_anonymous_page_views_never_fail(world: World, name: str) -> None:
    route = route_named(name)
    path = path_of(route, world)
    response = world.client_as("anonymous").get(path, follow_redirects=False)
    if PAGES[name] == "anonymous":
        assert response.status_code == 200, response.text[:300]
    elif route.path.startswith("/api/"):
        assert response.status_code == 401, response.text[:300]
    else:
        assert response.status_code == 303, response.text[:300]
        assert response.headers["location"].startswith("/signin?next=")


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_pages_open_for_their_role(world: World, name: str) -> None:
    role = PAGES[name]
    response = world.client_as(role).get(path_of(route_named(name), world), follow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    if response.headers["content-type"].startswith("text/html"):
        # The policy allows scripts and styles from our files only: markup that relies on inline
        # ones would silently break in the browser.
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
        assert not re.search(r"<style\b|\sstyle=", html), "inline style"
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "inline event handler"


@pytest.mark.parametrize("name", [name for name in PAGE_NAMES if PAGES[name] in LOWER_ROLE])
def test_pages_refuse_people_below_their_role(world: World, name: str) -> None:
    client = world.client_as(LOWER_ROLE[PAGES[name]])
    response = client.get(path_of(route_named(name), world), follow_redirects=False)
    assert response.status_code == 403, response.text[:300]
