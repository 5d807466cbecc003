"""Whole journeys through the real portal in Chromium: a customer in English and in Italian,
with the keyboard alone, from signing up to the notification of the team's status change; the
vote budget's refusal shown in place; and the README's screenshot. Every page seen must be free
of script errors, dialogs, CSP violations and server errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ideas import demo, embeddings
from ideas.db import Database
from ideas.i18n import translations
from ideas.models import User
from tests.browser.conftest import ARTIFACTS, assert_clean, screenshot
from tests.browser.keyboard import focus_stop, press_tab, skip_to_main, tab_order, tab_to
from tests.conftest import PASSWORD, mailed_path

pytestmark = pytest.mark.browser

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
MARKER = "window.__samePage"
# Per language: what the customer starts typing, the idea that already asks for it, and the
# different idea they submit instead.
TITLES = {
    "en": (
        "CSV export of the roadmap",
        "Export the roadmap as CSV",
        "Email me when the roadmap changes",
    ),
    "it": (
        "Export CSV della roadmap",
        "Esportare la roadmap in CSV",
        "Una email quando cambia la roadmap",
    ),
}


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


def vote_name(lang: str, count: int, voted: bool) -> str:
    """The vote button as a screen reader names it: '2 Voted (2 votes)'."""
    t = translations(lang)
    votes = t.ngettext("%(num)d vote", "%(num)d votes", count) % {"num": count}
    return f'button "{count} {t.gettext("Voted" if voted else "Vote")} ({votes})"'


def customer_journey(
    page: Page, team_page: Page, lang: str, prefix: str, team: User, db: Database
) -> str:
    """Keyboard only: sign up (the address, then the link the portal mails to choose a name and
    password); start typing an idea, see the similar-ideas panel and vote for
    the existing idea instead; submit a different idea; comment; the team moves the idea (in
    their own browser) while the customer replies; the customer finds the notification and
    follows it back to the idea. Every focus stop must have a name. Returns the idea's path."""
    t = translations(lang).gettext
    name, email = (
        ("Grace Hopper", "grace@example.com")
        if lang == "en"
        else ("Giulia Rossi", "giulia@example.it")
    )
    copy_title, existing_title, title = TITLES[lang]
    heading = page.get_by_role("heading", level=1)
    description_box = f'textbox "{t("Description")} ({t("optional")})"'

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(heading).to_have_text(t("Ideas and feedback"))
    # The header in reading order: the skip link first, then the site's own links.
    assert tab_order(page, 6) == [
        f'link "{t("Skip to main content")}"',
        f'link "{t("Ideas")}"',
        f'link "{t("Roadmap")}"',
        f'button "{t("Submit an idea")}"',
        f'link "{t("Sign in")}"',
        f'link "{t("Sign up")}"',
    ]
    page.keyboard.press("Enter")

    expect(heading).to_have_text(t("Create your account"))
    skip_to_main(page)
    assert press_tab(page) == f'textbox "{t("Email")}"'
    page.keyboard.type(email)
    assert press_tab(page) == f'button "{t("Sign up")}"'
    screenshot(page, f"{prefix}-01-signup")
    page.keyboard.press("Enter")
    expect(heading).to_have_text(t("Check your email"))

    # The link in the mail (the worker would send it): a name and a password, and it is done.
    page.goto(mailed_path(db, email, "/signup/"))
    expect(heading).to_have_text(t("Create your account"))
    skip_to_main(page)
    for label, text in ((t("Name"), name), (t("Password"), PASSWORD)):
        assert press_tab(page) == f'textbox "{label}"'
        page.keyboard.type(text)
    assert press_tab(page) == f'button "{t("Sign up")}"'
    page.keyboard.press("Enter")

    # Signed in: the flash says so and the header shows the name and a way out.
    expect(page.get_by_text(t("Welcome! Your account is ready."))).to_be_visible()
    header = page.get_by_role("banner")
    expect(header.get_by_text(name)).to_be_visible()
    expect(header.get_by_role("button", name=t("Sign out"))).to_be_visible()
    screenshot(page, f"{prefix}-02-signed-in")
    assert tab_to(page, f'button "{t("Submit an idea")}"') == [
        f'link "{t("Skip to main content")}"',
        f'link "{t("Ideas")}"',
        f'link "{t("Roadmap")}"',
        f'button "{t("Submit an idea")}"',
    ]
    page.keyboard.press("Space")  # a link announced as a button acts on Space too, as buttons do

    # The form: a board picked by typing its name, then the title, letter by letter.
    expect(heading).to_have_text(t("Submit an idea"))
    skip_to_main(page)
    assert press_tab(page) == f'combobox "{t("Board")}"'
    page.keyboard.type("Reporting")
    expect(page.get_by_label(t("Board"), exact=True)).to_have_value("reporting")
    assert press_tab(page) == f'textbox "{t("Title")}"'
    page.keyboard.type(copy_title, delay=20)
    panel = page.locator("#similar-ideas")
    match = panel.locator(".similar-item", has=page.get_by_role("link", name=existing_title))
    expect(match).to_be_visible()
    screenshot(page, f"{prefix}-03-similar-ideas")

    # The panel comes after the form, as it reads: the rest of the form, then its vote button.
    assert tab_order(page, 4) == [
        description_box,
        f'button "{t("Post idea")}"',
        f'button "{t("Cancel")}"',
        vote_name(lang, 1, False),
    ]
    page.evaluate(f"{MARKER} = 'still here'")
    navigations = _navigations(page)
    vote = vote_button(match)
    # Space votes, again takes the vote back, and again gives it: htmx swaps the widget in
    # place each time, the page and the form stay, and the focus stays on the button.
    for action, count, voted in (("vote", 2, True), ("unvote", 1, False), ("vote", 2, True)):
        with page.expect_response(re.compile(rf"/ideas/\d+/{action}$")) as answer:
            page.keyboard.press("Space")
        assert (answer.value.request.method, answer.value.status) == ("POST", 200)
        assert answer.value.request.headers.get("hx-request") == "true"
        expect(vote.locator(".vote-count")).to_have_text(str(count))
        expect(vote).to_have_attribute("aria-pressed", "true" if voted else "false")
        expect(vote.locator(".vote-label")).to_have_text(t("Voted") if voted else t("Vote"))
        assert focus_stop(page) == vote_name(lang, count, voted)
    assert page.evaluate(MARKER) == "still here", "the vote reloaded the page"
    assert navigations == []
    screenshot(page, f"{prefix}-04-voted-instead")

    # Back to the title (the same stops the other way round) for an idea that is new.
    assert tab_order(page, 4, backwards=True) == [
        f'button "{t("Cancel")}"',
        f'button "{t("Post idea")}"',
        description_box,
        f'textbox "{t("Title")}"',
    ]
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(title)
    assert press_tab(page) == description_box
    page.keyboard.type("We share it **every Monday**:\n\n- with sales\n- with support")
    assert press_tab(page) == f'button "{t("Post idea")}"'
    screenshot(page, f"{prefix}-05-idea-form")
    page.keyboard.press("Enter")

    # The idea page: title, rendered Markdown, the author's own vote counted.
    expect(page).to_have_url(re.compile(r"/ideas/\d+$"))
    _loaded(page)
    idea_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(
        page.get_by_text(t("Thanks! Your idea is posted and your vote is counted."))
    ).to_be_visible()
    expect(heading).to_have_text(title)
    description = page.locator(".idea-description")
    expect(description.locator("strong")).to_have_text("every Monday")
    expect(description.get_by_role("listitem")).to_have_text(["with sales", "with support"])
    expect(page.locator(".meta-board")).to_have_text("Reporting")
    vote = vote_button(page.locator(".idea-detail-vote"))
    expect(vote.locator(".vote-count")).to_have_text("1")
    expect(vote).to_have_attribute("aria-pressed", "true")
    screenshot(page, f"{prefix}-06-idea")

    # A comment: from the main content to its box, every control on the way named.
    skip_to_main(page)
    tab_to(page, f'textbox "{t("Add a comment")}"')
    comment = "I would use it **every week**." if lang == "en" else "Lo userei **ogni settimana**."
    page.keyboard.type(comment)
    assert press_tab(page) == f'button "{t("Post comment")}"'
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ideas/\d+#comment-\d+$"))
    thread = page.locator(".thread").first
    expect(thread.locator(".comment-body strong")).to_have_text(
        "every week" if lang == "en" else "ogni settimana"
    )
    expect(page.locator(".comments .count-pill")).to_have_text("1")
    screenshot(page, f"{prefix}-07-comment")

    # Meanwhile the team plans the idea, in their own browser, with a note to its followers.
    note = "Design starts next sprint." if lang == "en" else "Il design parte col prossimo sprint."
    sign_in(team_page, team.email, lang)
    team_page.goto(idea_path)
    team_page.get_by_label(t("Status"), exact=True).select_option("planned")
    team_page.get_by_label(t("Note to followers")).fill(note)
    screenshot(team_page, f"{prefix}-08-team-status-form")
    team_page.get_by_role("button", name=t("Update status")).click()
    expect(
        team_page.get_by_text(t("The status is updated and followers are notified."))
    ).to_be_visible()
    expect(team_page.locator(".idea-detail .status")).to_have_text(t("Planned"))
    expect(team_page.locator(".timeline-note")).to_have_text(note)

    # The customer replies to the comment: the comment's link is where the focus starts.
    tab_to(page, f'summary "{t("Reply")}"')
    page.keyboard.press("Enter")
    reply = "Same here, for the board meeting." if lang == "en" else "Anche noi, per il consiglio."
    assert press_tab(page) == f'textbox "{t("Reply to %(name)s") % {"name": name}}"'
    page.keyboard.type(reply)
    assert press_tab(page) == f'button "{t("Post reply")}"'
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ideas/\d+#comment-\d+$"))
    thread = page.locator(".thread").first
    expect(thread.locator(".replies .comment-body")).to_have_text(reply)
    expect(thread.locator("> article .comment-body strong")).to_be_visible()
    expect(page.locator(".comments .count-pill")).to_have_text("2")
    screenshot(page, f"{prefix}-09-reply")

    # The bell in the header counts the team's move: back up to it and open it.
    unread = translations(lang).ngettext("%(num)d unread", "%(num)d unread", 1) % {"num": 1}
    tab_to(page, f'link "{t("Notifications")} {unread}"', limit=40, backwards=True)
    expect(page.locator(".count-badge")).to_have_text("1")
    page.keyboard.press("Enter")
    expect(heading).to_have_text(t("Notifications"))
    notification = page.locator(".notification.is-unread")
    expect(notification).to_have_count(1)
    moved = t("%(actor)s moved %(idea)s from %(old)s to %(new)s.") % {
        "actor": team.name,
        "idea": f"“{title}”",
        "old": t("Open"),
        "new": t("Planned"),
    }
    expect(notification).to_contain_text(moved)
    expect(notification.locator(".notification-note")).to_have_text(note)
    screenshot(page, f"{prefix}-10-notification")

    skip_to_main(page)
    assert press_tab(page) == f'button "{t("Mark all as read")}"'
    page.keyboard.press("Enter")
    expect(page.locator(".notification.is-unread")).to_have_count(0)
    expect(page.locator(".count-badge")).to_have_count(0)
    skip_to_main(page)
    assert press_tab(page) == f'link "“{title}”"'
    page.keyboard.press("Enter")
    expect(heading).to_have_text(title)
    expect(page.locator(".idea-detail .status")).to_have_text(t("Planned"))
    screenshot(page, f"{prefix}-11-planned")
    assert_clean(team_page)
    return idea_path


def _journey_data(db: Database, make_user, make_board, make_idea, lang: str) -> User:  # type: ignore[no-untyped-def]
    """Two boards, an idea already asking for the customer's first thought (with its vector,
    as the server stores one on submit), and the team member who plans the customer's idea."""
    make_board("Mobile app")
    existing = make_idea(title=TITLES[lang][1], board=make_board("Reporting"))
    with db.transaction() as session:
        embeddings.store(session, embeddings.make_shared("hashing"), [existing])
    team: User = make_user(role="staff", name="Pat Product")
    return team


def test_customer_journey_in_english(new_page, db, make_user, make_board, make_idea) -> None:  # type: ignore[no-untyped-def]
    team = _journey_data(db, make_user, make_board, make_idea, "en")
    page = new_page("en-GB")
    customer_journey(page, new_page("en-GB"), "en", "customer-en", team, db)
    assert_clean(page)


def test_customer_journey_in_italian_then_switch_to_english(  # type: ignore[no-untyped-def]
    new_page, db, make_user, make_board, make_idea
) -> None:
    team = _journey_data(db, make_user, make_board, make_idea, "it")
    page = new_page("it-IT")
    idea_path = customer_journey(page, new_page("it-IT"), "it", "customer-it", team, db)

    # The catalogue really is Italian (not an English fallback), and the page says it is.
    it = translations("it").gettext
    assert it("Submit an idea") != "Submit an idea"
    expect(page.locator("html")).to_have_attribute("lang", "it")
    header = page.get_by_role("banner")
    expect(header.get_by_role("button", name=it("Submit an idea"))).to_be_visible()

    # Switching to English keeps the reader on the same idea, now in English.
    assert page.url.endswith(idea_path)
    page.get_by_label(it("Language"), exact=True).select_option("en")
    page.get_by_role("button", name=it("Change"), exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url.endswith(idea_path)
    expect(header.get_by_role("button", name="Submit an idea")).to_be_visible()
    expect(page.get_by_role("button", name="Post comment")).to_be_visible()
    expect(page.locator(".idea-detail-vote .vote-label")).to_have_text("Voted")
    # The choice sticks for the next page too.
    page.goto("/ideas/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Submit an idea")
    screenshot(page, "customer-it-12-switched-to-english")
    assert_clean(page)


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
