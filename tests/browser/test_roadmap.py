"""The roadmap loop in Chromium: the team promotes a theme to a roadmap item and moves it to
shipped on its board; customers read it on the public roadmap and the changelog, and a voter of
two of its ideas finds one notification naming the item."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ideas import accounts, boards, embeddings, themes, votes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import User
from ml.embedders import HashingEmbedder
from tests.browser.conftest import assert_clean, screenshot
from tests.browser.test_dashboard import TITLES
from tests.browser.test_journeys import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_theme_goes_on_the_roadmap_and_ships(new_page, db: Database, make_user) -> None:  # type: ignore[no-untyped-def]
    team = make_user("staff", name="Tess Team")
    with db.transaction() as session:
        author = accounts.create_user(session, "author@example.com", "Author", None)
        voter = accounts.create_user(session, "voter@example.com", "Vera Voter", PASSWORD)
        board = boards.create_board(session, None, "Web app", "", None)
        ideas = [idea_rules.submit(session, author, board, title, "") for title in TITLES]
        embeddings.store(session, HashingEmbedder(), ideas)
        for idea in ideas[:2]:  # two dark-mode ideas
            votes.vote(session, session.get_one(User, voter.id), idea)
    themes.rebuild(db, HashingEmbedder().name)

    staff = new_page()
    sign_in(staff, team.email)
    staff.goto("/staff/themes")
    staff.get_by_label("Board").select_option(label="Web app")
    staff.get_by_role("button", name="Show").click()
    staff.locator(".themes-table tbody a", has_text="dark").first.click()
    staff.get_by_label("Name", exact=True).fill("Dark mode")
    staff.get_by_role("button", name="Rename").click()
    staff.get_by_role("button", name="Promote to a roadmap item").click()
    expect(staff.get_by_role("heading", name="Dark mode", level=1)).to_be_visible()
    screenshot(staff, "roadmap-01-promoted")

    staff.get_by_role("navigation", name="Team").get_by_role("link", name="Roadmap board").click()
    card = staff.locator(".roadmap-card", has_text="Dark mode")
    card.get_by_label("Status").select_option(label="Shipped")
    card.get_by_text("Add a note").click()
    card.get_by_label("Note to followers").fill("Dark mode is out, in every app.")
    card.get_by_role("button", name="Move").click()
    shipped = staff.locator("section", has=staff.locator("#column-shipped"))
    expect(shipped.locator(".roadmap-card", has_text="Dark mode")).to_be_visible()
    screenshot(staff, "roadmap-02-board")
    assert_clean(staff)

    customer = new_page()
    customer.goto("/roadmap")
    column = customer.locator("section", has=customer.locator("#column-shipped"))
    expect(column.get_by_role("heading", name="Dark mode")).to_be_visible()
    expect(column.get_by_text("Dark mode is out, in every app.")).to_be_visible()
    customer.get_by_role("link", name="Changelog").first.click()
    expect(customer.get_by_text("Dark mode", exact=True).first).to_be_visible()
    screenshot(customer, "roadmap-03-changelog")

    sign_in(customer, "voter@example.com")
    customer.goto("/notifications")
    notices = customer.locator(".notification")
    expect(notices).to_have_count(2)  # planned, then shipped: once each, not once per idea
    expect(notices.first).to_contain_text("On the roadmap: “Dark mode”")
    expect(notices.first).to_contain_text("1 more idea you vote for or follow moved with it.")
    notices.first.get_by_role("link", name="“Dark mode”").click()
    expect(customer).to_have_url(re.compile(r"/roadmap#item-\d+$"))
    screenshot(customer, "roadmap-04-notification")
    assert_clean(customer)
