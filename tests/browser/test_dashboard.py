"""The team's dashboard and a theme's page in Chromium: Chart.js draws the charts under the strict
Content Security Policy, without console errors, and folds the figures' tables away."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ideas import accounts, boards, embeddings, themes
from ideas import ideas as idea_rules
from ideas.db import Database
from ml.embedders import HashingEmbedder
from tests.browser.conftest import assert_clean, screenshot
from tests.browser.test_journeys import sign_in

pytestmark = pytest.mark.browser

TITLES = [
    "Dark mode for the dashboard",
    "A dark theme for the dashboard please",
    "Dark mode on the mobile dashboard",
    "Night mode dark colours for the dashboard",
    "Dashboard dark mode toggle",
    "Support a dark colour scheme in the dashboard",
    "Export the roadmap to CSV",
    "CSV export of the roadmap",
    "Export roadmap items as a CSV file",
    "Roadmap CSV export for spreadsheets",
    "Download the roadmap as CSV",
    "Export to CSV from the roadmap page",
]


def test_charts_draw_without_errors(new_page, db: Database, make_user) -> None:  # type: ignore[no-untyped-def]
    team = make_user("staff", name="Tess Team")
    with db.transaction() as session:
        author = accounts.create_user(session, "author@example.com", "Author", None)
        board = boards.create_board(session, None, "Web app", "", None)
        ideas = [idea_rules.submit(session, author, board, title, "") for title in TITLES]
        embeddings.store(session, HashingEmbedder(), ideas)
    themes.rebuild(db, HashingEmbedder().name)

    page = new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    sign_in(page, team.email)
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    canvases = page.locator(".chart canvas")
    expect(canvases).to_have_count(2)
    for index in range(2):
        box = canvases.nth(index).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
    expect(page.locator("#stat-ideas")).to_have_text("12")
    assert not page.locator("details.chart-table").first.evaluate("details => details.open")
    screenshot(page, "dashboard-01-overview")

    page.get_by_role("link", name="Themes", exact=True).click()
    page.get_by_label("Board").select_option(label="Web app")
    page.get_by_role("button", name="Show").click()
    page.locator(".themes-table tbody a").first.click()
    expect(page.locator(".chart canvas")).to_have_count(1)
    page.get_by_label("Name", exact=True).fill("Night owls")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="Night owls", level=1)).to_be_visible()
    screenshot(page, "dashboard-02-theme")
    assert console_errors == []
    assert_clean(page)
