"""Whole journeys through the real portal in Chromium: a customer in English and in Italian,
the team closing the loop with a status change, the vote budget's refusal shown in place, and
the README's screenshot. Every page seen must be free of script errors, dialogs, CSP
violations and server errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ideas import demo
from ideas.i18n import translations
from tests.browser.conftest import ARTIFACTS, assert_clean, screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
MARKER = "window.__samePage"


def _navigations(page: Page) -> list[str]:
    """Main-frame navigations from now on (an htmx swap makes none)."""
    seen: list[str] = []
    page.on(
        "framenavigated", lambda frame: seen.append(frame.url) if frame == page.main_frame else None
    )
    return seen


def _loaded(page: Page) -> None:
    """Waits for the page after a form's redirect, scripts (htmx) included."""
    page.wait_for_load_state("load")


def sign_in(page: Page, email: str, lang: str = "en") -> None:
    t = translations(lang).gettext
    page.goto("/signin")
    page.get_by_label(t("Email"), exact=True).fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t("Sign in"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    _loaded(page)


def vote_button(scope):  # type: ignore[no-untyped-def]
    return scope.locator(".vote-button")


def customer_journey(page: Page, lang: str, prefix: str) -> None:
    """Sign up, submit an idea, take the vote back and give it again in place, comment, reply."""
    t = translations(lang).gettext
    name, email = (
        ("Grace Hopper", "grace@example.com")
        if lang == "en"
        else ("Giulia Rossi", "giulia@example.it")
    )

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Ideas and feedback"))
    page.get_by_role("banner").get_by_role("link", name=t("Sign up"), exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(t("Create your account"))
    page.get_by_label(t("Name"), exact=True).fill(name)
    page.get_by_label(t("Email"), exact=True).fill(email)
    page.get_by_label(t("Password"), exact=True).fill("a long enough password")
    screenshot(page, f"{prefix}-01-signup")
    page.get_by_role("button", name=t("Sign up"), exact=True).click()

    # Signed in: the flash says so and the header shows the name and a way out.
    expect(page.get_by_text(t("Welcome! Your account is ready."))).to_be_visible()
    header = page.get_by_role("banner")
    expect(header.get_by_text(name)).to_be_visible()
    expect(header.get_by_role("button", name=t("Sign out"))).to_be_visible()
    screenshot(page, f"{prefix}-02-signed-in")

    header.get_by_role("button", name=t("Submit an idea")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Submit an idea"))
    page.get_by_label(t("Board"), exact=True).select_option(label="Reporting")
    title = "Weekly CSV export of the roadmap" if lang == "en" else "Esportare la roadmap in CSV"
    page.get_by_label(t("Title"), exact=True).fill(title)
    page.get_by_label(t("Description")).fill(
        "We share it **every Monday**:\n\n- with sales\n- with support"
    )
    screenshot(page, f"{prefix}-03-idea-form")
    page.get_by_role("button", name=t("Post idea")).click()

    # The idea page: title, rendered Markdown, the author's own vote counted.
    expect(page).to_have_url(re.compile(r"/ideas/\d+$"))
    _loaded(page)
    idea_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(
        page.get_by_text(t("Thanks! Your idea is posted and your vote is counted."))
    ).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    description = page.locator(".idea-description")
    expect(description.locator("strong")).to_have_text("every Monday")
    expect(description.get_by_role("listitem")).to_have_text(["with sales", "with support"])
    expect(page.locator(".meta-board")).to_have_text("Reporting")
    vote = vote_button(page.locator(".idea-detail-vote"))
    expect(vote.locator(".vote-count")).to_have_text("1")
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(vote.locator(".vote-label")).to_have_text(t("Voted"))
    screenshot(page, f"{prefix}-04-idea")

    # Take the vote back and give it again: htmx swaps the widget, the page stays.
    page.evaluate(f"{MARKER} = 'still here'")
    navigations = _navigations(page)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"{idea_path}/unvote")
    ) as taken_back:
        vote.click()
    assert taken_back.value.status == 200
    assert taken_back.value.request.headers.get("hx-request") == "true"
    expect(vote.locator(".vote-count")).to_have_text("0")
    expect(vote).to_have_attribute("aria-pressed", "false")
    expect(vote.locator(".vote-label")).to_have_text(t("Vote"))
    screenshot(page, f"{prefix}-05-vote-taken-back")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"{idea_path}/vote")
    ) as given:
        vote.click()
    assert given.value.status == 200
    expect(vote.locator(".vote-count")).to_have_text("1")
    expect(vote).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(MARKER) == "still here", "the vote reloaded the page"
    assert navigations == []
    assert page.url.endswith(idea_path)
    screenshot(page, f"{prefix}-06-voted-again")

    # A comment, then a reply to it.
    comment = "I would use it **every week**." if lang == "en" else "Lo userei **ogni settimana**."
    page.get_by_label(t("Add a comment")).fill(comment)
    page.get_by_role("button", name=t("Post comment")).click()
    expect(page).to_have_url(re.compile(r"/ideas/\d+#comment-\d+$"))
    thread = page.locator(".thread").first
    expect(thread.locator(".comment-body strong")).to_have_text(
        "every week" if lang == "en" else "ogni settimana"
    )
    expect(page.locator(".comments .count-pill")).to_have_text("1")
    screenshot(page, f"{prefix}-07-comment")

    thread.locator("summary", has_text=t("Reply")).click()
    reply = "Same here, for the board meeting." if lang == "en" else "Anche noi, per il consiglio."
    thread.get_by_label(t("Reply to %(name)s") % {"name": name}).fill(reply)
    thread.get_by_role("button", name=t("Post reply")).click()
    expect(page).to_have_url(re.compile(r"/ideas/\d+#comment-\d+$"))
    thread = page.locator(".thread").first
    expect(thread.locator(".replies .comment-body")).to_have_text(reply)
    expect(thread.locator("> article .comment-body strong")).to_be_visible()
    expect(page.locator(".comments .count-pill")).to_have_text("2")
    screenshot(page, f"{prefix}-08-reply")


def test_customer_journey_in_english(new_page, make_board) -> None:
    make_board("Mobile app")
    make_board("Reporting")
    page = new_page("en-GB")
    customer_journey(page, "en", "customer-en")
    assert_clean(page)


def test_customer_journey_in_italian_then_switch_to_english(new_page, make_board) -> None:
    make_board("Mobile app")
    make_board("Reporting")
    page = new_page("it-IT")
    customer_journey(page, "it", "customer-it")

    # The catalogue really is Italian (not an English fallback), and the page says it is.
    it = translations("it").gettext
    assert it("Submit an idea") != "Submit an idea"
    expect(page.locator("html")).to_have_attribute("lang", "it")
    header = page.get_by_role("banner")
    expect(header.get_by_role("button", name=it("Submit an idea"))).to_be_visible()

    # Switching to English keeps the reader on the same idea, now in English.
    idea_url = page.url.split("#")[0]
    page.get_by_label(it("Language"), exact=True).select_option("en")
    page.get_by_role("button", name=it("Change"), exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url.split("#")[0] == idea_url
    expect(header.get_by_role("button", name="Submit an idea")).to_be_visible()
    expect(page.get_by_role("button", name="Post comment")).to_be_visible()
    expect(page.locator(".idea-detail-vote .vote-label")).to_have_text("Voted")
    # The choice sticks for the next page too.
    page.goto("/ideas/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit an idea")
    screenshot(page, "customer-it-09-switched-to-english")
    assert_clean(page)


def test_staff_sets_status_and_the_author_is_notified(
    new_page, make_user, make_board, make_idea
) -> None:
    team = make_user(role="staff", name="Pat Product")
    member = make_user(name="Mia Member")
    idea = make_idea(
        title="Dark mode for the dashboard", author=member, board=make_board("Web app")
    )
    note = "Design starts next sprint."

    staff_page = new_page()
    sign_in(staff_page, team.email)
    expect(staff_page.get_by_role("navigation", name="Team")).to_be_visible()
    staff_page.get_by_role("link", name=idea.title).click()
    expect(staff_page.get_by_role("heading", level=1)).to_have_text(idea.title)
    staff_page.get_by_label("Status", exact=True).select_option("planned")
    staff_page.get_by_label("Note to followers").fill(note)
    screenshot(staff_page, "staff-01-status-form")
    staff_page.get_by_role("button", name="Update status").click()
    expect(
        staff_page.get_by_text("The status is updated and followers are notified.")
    ).to_be_visible()
    expect(staff_page.locator(".idea-detail .status")).to_have_text("Planned")
    expect(staff_page.locator(".timeline-note")).to_have_text(note)
    screenshot(staff_page, "staff-02-status-set")
    assert_clean(staff_page)

    member_page = new_page()
    sign_in(member_page, member.email)
    bell = member_page.get_by_role("link", name=re.compile(r"^Notifications\s+1 unread$"))
    expect(bell).to_be_visible()
    expect(bell.locator(".count-badge")).to_have_text("1")
    screenshot(member_page, "staff-03-member-badge")
    bell.click()
    expect(member_page.get_by_role("heading", level=1)).to_have_text("Notifications")
    notification = member_page.locator(".notification.is-unread")
    expect(notification).to_have_count(1)
    expect(notification).to_contain_text(f"Pat Product moved “{idea.title}” from Open to Planned.")
    expect(notification.locator(".notification-note")).to_have_text(note)
    screenshot(member_page, "staff-04-member-notifications")

    member_page.get_by_role("button", name="Mark all as read").click()
    expect(member_page.locator(".notification.is-unread")).to_have_count(0)
    expect(member_page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    expect(member_page.locator(".count-badge")).to_have_count(0)
    assert_clean(member_page)


def test_vote_budget_refusal_is_shown_in_place(new_page, make_user, make_board, make_idea) -> None:
    board = make_board("Mobile app", vote_budget=1)
    first = make_idea(title="Offline mode for the phone app", board=board)
    second = make_idea(title="Widgets for the home screen", board=board)
    voter = make_user(name="Vera Voter")

    page = new_page()
    sign_in(page, voter.email)
    page.goto(f"/b/{board.slug}")
    _loaded(page)
    expect(page.locator("#votes-left-count")).to_have_text("1")
    rows = {
        idea.id: page.locator(".idea-row", has=page.get_by_role("link", name=idea.title))
        for idea in (first, second)
    }
    page.evaluate(f"{MARKER} = 'still here'")
    navigations = _navigations(page)

    with page.expect_response(lambda r: r.url.endswith(f"/ideas/{first.id}/vote")) as voted:
        vote_button(rows[first.id]).click()
    assert voted.value.status == 200
    expect(vote_button(rows[first.id]).locator(".vote-count")).to_have_text("2")
    expect(page.locator("#votes-left-count")).to_have_text("0")

    # The second idea's button was drawn while a vote was left: the server refuses (409) and
    # the reader sees why, in place, with nothing broken.
    with page.expect_response(lambda r: r.url.endswith(f"/ideas/{second.id}/vote")) as refused:
        vote_button(rows[second.id]).click()
    assert refused.value.status == 409
    message = "No votes left on this board (1 per person). Take one back to vote here."
    alert = rows[second.id].get_by_role("alert")
    expect(alert).to_have_text(message)
    expect(alert).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(1)
    expect(vote_button(rows[second.id]).locator(".vote-count")).to_have_text("1")
    expect(vote_button(rows[second.id])).to_have_attribute("aria-pressed", "false")
    expect(vote_button(rows[second.id])).to_be_disabled()
    expect(page.locator("#votes-left-count")).to_have_text("0")
    assert page.evaluate(MARKER) == "still here"
    assert navigations == []
    screenshot(page, "budget-01-refused")

    # Taking the first vote back gives it back to spend.
    with page.expect_response(lambda r: r.url.endswith(f"/ideas/{first.id}/unvote")) as back:
        vote_button(rows[first.id]).click()
    assert back.value.status == 200
    expect(page.locator("#votes-left-count")).to_have_text("1")
    page.goto(f"/ideas/{second.id}")
    _loaded(page)
    with page.expect_response(lambda r: r.url.endswith(f"/ideas/{second.id}/vote")) as voted:
        vote_button(page.locator(".idea-detail-vote")).click()
    assert voted.value.status == 200
    expect(page.locator(".idea-detail-vote .vote-count")).to_have_text("2")
    expect(page.locator("#votes-left-count")).to_have_text("0")
    screenshot(page, "budget-02-spent-elsewhere")
    assert_clean(page)


def test_home_page_with_demo_data_and_readme_screenshot(new_page, db) -> None:
    """With UPDATE_SCREENSHOT=1 this also refreshes docs/screenshot.png for the README."""
    with db.transaction() as session:
        demo.load(session)
    page = new_page("en-GB", viewport={"width": 1280, "height": 900})
    page.goto("/")
    _loaded(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ideas and feedback")
    assert page.locator(".idea-row").count() >= 20
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    update = os.environ.get("UPDATE_SCREENSHOT") == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    target = README_SCREENSHOT if update else ARTIFACTS / "readme-home.png"
    page.screenshot(path=str(target))
    assert_clean(page)
