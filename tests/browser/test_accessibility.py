"""axe-core on the main pages, as a visitor, a member and the team see them, in Chromium: no
violation of impact "serious" or "critical" (contrast, names of controls, labels, landmarks...).
The pages hold what makes them full: ideas with votes, comments and a status history, themes,
a duplicate pair, roadmap items planned and shipped, a notification, a weekly update."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from ideas import accounts, boards, comments, duplicates, embeddings, roadmap, themes, votes, weekly
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import User, utcnow
from ideas.settings import Settings
from ml.embedders import HashingEmbedder
from tests.browser.accessibility import serious_violations
from tests.browser.conftest import assert_clean, screenshot
from tests.browser.test_dashboard import TITLES
from tests.browser.test_journeys import sign_in
from tests.conftest import PASSWORD, mailed_path

pytestmark = pytest.mark.browser


def _seed(db: Database, zone: str) -> dict[str, int]:
    """The portal in use; returns the ids the pages need."""
    with db.transaction() as session:
        team = accounts.create_user(session, "team@example.com", "Tess Team", PASSWORD, "staff")
        member = accounts.create_user(session, "mia@example.com", "Mia Member", PASSWORD)
        author = accounts.create_user(session, "author@example.com", "Arlo Author", None)
        board = boards.create_board(session, None, "Web app", "", 10)
        boards.create_board(session, None, "Mobile app", "", None)
        ideas = [idea_rules.submit(session, author, board, title, "") for title in TITLES]
        mine = idea_rules.submit(
            session,
            member,
            board,
            "Keyboard shortcuts for voting",
            "So I **never** reach for the mouse.",
        )
        embeddings.store(session, HashingEmbedder(), [*ideas, mine])
        votes.vote(session, member, ideas[0])
        first = comments.add(session, author, mine, "Yes, and for the comments too.")
        comments.add(session, member, mine, "Good point.", first.id)
        idea_rules.set_status(session, team, mine, "under_review", "We are looking at it.")
        duplicates.suggest(session, ideas[0].id, ideas[1].id, 0.93)
    themes.rebuild(db, HashingEmbedder().name)
    with db.transaction() as session:
        team = session.get_one(User, team.id)
        live = themes.listing(session, board.id)
        planned = roadmap.from_theme(session, team, live[0])
        shipped = roadmap.from_theme(session, team, live[1])
        roadmap.move(session, team, shipped, "shipped", note="Out in every app.")
    week = weekly.week_containing(utcnow(), zone)  # its update, as made once the week is over
    weekly.make(db, week, zone, now=weekly.week_bounds(week, zone)[1])
    return {"idea": mine.id, "theme": live[0].id, "item": planned.id}


def _check(page: Page, path: str, found: list[str]) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    found.extend(serious_violations(page))


def test_main_pages_have_no_serious_accessibility_violations(  # type: ignore[no-untyped-def]
    new_page, db: Database, settings: Settings
) -> None:
    ids = _seed(db, settings.time_zone)
    found: list[str] = []

    visitor = new_page()
    for path in (
        "/",
        f"/ideas/{ids['idea']}",
        "/signin",
        "/signup",
        "/roadmap",
        "/changelog",
        "/updates",
    ):
        _check(visitor, path, found)
    # Signing up: the page once the address is sent, and the page of the link mailed to it.
    visitor.goto("/signup")
    visitor.get_by_label("Email", exact=True).fill("newcomer@example.com")
    visitor.get_by_role("button", name="Sign up", exact=True).click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Check your email")
    found.extend(serious_violations(visitor))
    _check(visitor, mailed_path(db, "newcomer@example.com", "/signup/"), found)
    italian = new_page("it-IT")
    for path in ("/", f"/ideas/{ids['idea']}"):
        _check(italian, path, found)

    member = new_page()
    sign_in(member, "mia@example.com")
    for path in ("/", f"/ideas/{ids['idea']}", "/notifications"):
        _check(member, path, found)
    # The submit form with its "Is your idea already here?" panel filled in.
    member.goto("/ideas/new")
    member.get_by_label("Title", exact=True).press_sequentially("Dark mode dashboard", delay=10)
    expect(member.locator("#similar-ideas .similar-item").first).to_be_visible()
    found.extend(serious_violations(member))
    screenshot(member, "accessibility-submit-form")

    team = new_page()
    sign_in(team, "team@example.com")
    for path in (
        "/staff",
        "/staff/duplicates",
        "/staff/themes",
        f"/staff/themes/{ids['theme']}",
        "/staff/roadmap",
        f"/staff/roadmap/{ids['item']}",
        f"/ideas/{ids['idea']}",
    ):
        _check(team, path, found)

    assert found == [], "serious accessibility violations:\n" + "\n".join(found)
    for page in (visitor, italian, member, team):
        assert_clean(page)
