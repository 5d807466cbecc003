"""The product team's week in Chromium, in English and in Italian: the duplicate queue (merge a
pair, undo, merge again), the themes, a theme promoted to a roadmap item, the item moved to
shipped, and the weekly export downloaded with the shipped item in it. The pages must be free
of script errors, dialogs, CSP violations and server errors."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ideas import accounts, boards, duplicates, embeddings, themes, votes, weekly
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.i18n import translations
from ideas.models import utcnow
from ideas.settings import Settings
from ml.embedders import HashingEmbedder
from tests.browser.conftest import assert_clean, screenshot
from tests.browser.test_dashboard import TITLES
from tests.browser.test_journeys import sign_in

pytestmark = pytest.mark.browser

KEPT = "Offline mode for the phone app"  # more votes: the queue suggests keeping it
MERGED = "Use the phone app without a connection"


def _seed(db: Database) -> None:
    """Ideas that group into themes (with their vectors, as the server stores them), and a pair
    of look-alikes in the duplicate queue, as a submit puts them there."""
    with db.transaction() as session:
        author = accounts.create_user(session, "author@example.com", "Author", None)
        voter = accounts.create_user(session, "voter@example.com", "Vera Voter", None)
        web = boards.create_board(session, None, "Web app", "", None)
        mobile = boards.create_board(session, None, "Mobile app", "", None)
        ideas = [idea_rules.submit(session, author, web, title, "") for title in TITLES]
        embeddings.store(session, HashingEmbedder(), ideas)
        kept = idea_rules.submit(session, author, mobile, KEPT, "On the train, in the tunnel.")
        merged = idea_rules.submit(session, voter, mobile, MERGED, "")
        votes.vote(session, voter, kept)
        duplicates.suggest(session, kept.id, merged.id, 0.91)
    themes.rebuild(db, HashingEmbedder().name)


def team_journey(new_page, db: Database, settings: Settings, team_email: str, lang: str) -> None:  # type: ignore[no-untyped-def]
    t = translations(lang).gettext
    prefix = f"team-{lang}"
    page = new_page("en-GB" if lang == "en" else "it-IT")
    sign_in(page, team_email, lang)
    heading = page.get_by_role("heading", level=1)
    team_nav = page.get_by_role("navigation", name=t("Team"))

    # The duplicate queue: the pair, the idea with more votes offered as the one to keep.
    team_nav.get_by_role("link", name=re.compile("^" + re.escape(t("Duplicates")))).click()
    expect(heading).to_have_text(t("Duplicates"))
    pair = page.locator(".duplicate-pair")
    expect(pair).to_have_count(1)
    expect(pair.get_by_role("radio", name=KEPT)).to_be_checked()
    screenshot(page, f"{prefix}-01-duplicates")
    recent = page.locator(".recent-merges li")
    merged_text = t("%(source)s into %(target)s") % {
        "source": f"“{MERGED}”",
        "target": f"“{KEPT}”",
    }

    def merge() -> None:
        pair.get_by_role("button", name=t("Merge"), exact=True).click()
        expect(
            page.get_by_text(t("The ideas are merged: votes and followers are carried over."))
        ).to_be_visible()
        expect(pair).to_have_count(0)
        expect(page.get_by_text(t("No pairs to review."))).to_be_visible()
        expect(recent).to_have_count(1)
        expect(recent).to_contain_text(merged_text)

    merge()
    screenshot(page, f"{prefix}-02-merged")
    recent.get_by_role("button", name=t("Undo")).click()
    expect(page.get_by_text(t("The merge is undone."))).to_be_visible()
    expect(pair).to_have_count(1)  # back in the queue, to decide again
    expect(recent).to_have_count(0)
    screenshot(page, f"{prefix}-03-undone")
    merge()
    screenshot(page, f"{prefix}-04-merged-again")

    # Themes: the web app's, then the dark-mode one, promoted to a roadmap item.
    team_nav.get_by_role("link", name=t("Themes"), exact=True).click()
    expect(heading).to_have_text(t("Themes"))
    page.get_by_label(t("Board")).select_option(label="Web app")
    page.get_by_role("button", name=t("Show")).click()
    expect(page.locator(".themes-table tbody tr")).not_to_have_count(0)
    screenshot(page, f"{prefix}-05-themes")
    page.locator(".themes-table tbody a", has_text="dark").first.click()
    theme_name = heading.inner_text()
    screenshot(page, f"{prefix}-06-theme")
    page.get_by_role("button", name=t("Promote to a roadmap item")).click()
    expect(heading).to_have_text(theme_name)  # the item is named after the theme
    screenshot(page, f"{prefix}-07-roadmap-item")

    # The roadmap board: the item goes to shipped, with a note to everyone who asked for it.
    team_nav.get_by_role("link", name=t("Roadmap board")).click()
    card = page.locator(".roadmap-card", has_text=theme_name)
    card.get_by_label(t("Status")).select_option(label=t("Shipped"))
    card.get_by_text(t("Add a note")).click()
    card.get_by_label(t("Note to followers")).fill("Out now, in every app.")
    card.get_by_role("button", name=t("Move")).click()
    expect(
        page.get_by_text(t("The item is moved; the followers of its ideas are notified."))
    ).to_be_visible()
    shipped = page.locator("section", has=page.locator("#column-shipped"))
    expect(shipped.locator(".roadmap-card", has_text=theme_name)).to_be_visible()
    screenshot(page, f"{prefix}-08-shipped")

    # The week's export is made once the week is over (the worker's run on the Monday after):
    # made here as on that Monday, then downloaded from the dashboard.
    week = weekly.week_containing(utcnow(), settings.time_zone)
    monday_after = weekly.week_bounds(week, settings.time_zone)[1]
    weekly.make(db, week, settings.time_zone, now=monday_after)
    team_nav.get_by_role("link", name=t("Dashboard"), exact=True).click()
    row = page.locator("#weekly-updates tr", has=page.get_by_role("link", name=week))
    screenshot(page, f"{prefix}-09-dashboard")
    with page.expect_download() as download:
        row.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == f"roadmap-{week}.csv"
    content = Path(download.value.path()).read_text("utf-8-sig")
    items = {row["title"]: row for row in csv.DictReader(io.StringIO(content))}
    assert theme_name in items, content
    assert items[theme_name]["status"] == "shipped"
    assert items[theme_name]["status_label"] == t("Shipped")
    assert items[theme_name]["changed_this_week"] == "true"
    assert_clean(page)


def test_team_journey_in_english(new_page, db: Database, settings: Settings, make_user) -> None:  # type: ignore[no-untyped-def]
    team = make_user("staff", name="Tess Team")
    _seed(db)
    team_journey(new_page, db, settings, team.email, "en")


def test_team_journey_in_italian(new_page, db: Database, settings: Settings, make_user) -> None:  # type: ignore[no-untyped-def]
    team = make_user("staff", name="Tess Team")
    _seed(db)
    assert translations("it").gettext("Duplicates") != "Duplicates"  # a real Italian catalogue
    team_journey(new_page, db, settings, team.email, "it")
