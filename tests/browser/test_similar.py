"""The submit form's "Is your idea already here?" panel in Chromium: typing a title shows the
closest existing idea, and one click votes for it instead of posting a copy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ideas import embeddings
from tests.browser.conftest import assert_clean, screenshot
from tests.browser.test_journeys import sign_in

pytestmark = pytest.mark.browser


def test_typing_a_title_shows_similar_ideas_and_votes_in_place(
    new_page, db, make_user, make_board, make_idea
) -> None:
    board = make_board("Web app")
    existing = make_idea(title="Export the roadmap as CSV", board=board)
    make_idea(title="Dark mode for the dashboard", board=board)
    member = make_user(name="Mia Member")
    with db.transaction() as session:  # as the server does on submit (hashing: its backend)
        embeddings.store(session, embeddings.make_shared("hashing"), [existing])

    page = new_page()
    sign_in(page, member.email)
    page.goto("/ideas/new")
    panel = page.locator("#similar-ideas")
    expect(panel).to_have_attribute("aria-live", "polite")
    expect(panel.get_by_role("heading", name="Is your idea already here?")).to_be_visible()
    page.get_by_label("Title", exact=True).press_sequentially("Roadmap export to CSV", delay=20)
    item = panel.locator(".similar-item", has=page.get_by_role("link", name=existing.title))
    expect(item).to_be_visible()
    screenshot(page, "similar-01-panel")
    item.locator(".vote-button").click()
    expect(item.locator(".vote-label")).to_have_text("Voted")
    expect(item.locator(".vote-count")).to_have_text("2")
    assert page.url.endswith("/ideas/new")  # voted in place, the form kept
    screenshot(page, "similar-02-voted")
    assert_clean(page)
