"""The HTML pages: each renders for the people who may see it, with real data; forms show
their errors next to the fields and keep what was typed; pages speak English and Italian; the
vote widget works through htmx; user text is sanitised; no inline script or style (the CSP
forbids them)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import comments, notifications
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Job, User
from tests.conftest import csrf_of, mailed_path, sign_in

INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def text_of(html: str) -> str:
    """The page's text, without tags, whitespace collapsed (for sentences split by markup)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def assert_csp_safe(html: str) -> None:
    assert not INLINE_SCRIPT.search(html), "inline <script>"
    assert not INLINE_HANDLER.search(html), "inline event handler"
    assert not STYLE_ATTRIBUTE.search(html), "style attribute"
    assert "hx-on" not in html


def post(client: TestClient, path: str, data: dict[str, str] | None = None, **kwargs):
    """A form POST with the session's CSRF token, as the browser sends it."""
    form = {"csrf_token": csrf_of(client, "/"), **(data or {})}
    return client.post(path, data=form, follow_redirects=False, **kwargs)


@pytest.fixture
def staff_client(client: TestClient, make_user) -> TestClient:
    user = make_user("staff", name="Tess Team")
    sign_in(client, user.email)
    client.user = user
    return client


@pytest.fixture
def admin_client(client: TestClient, make_user) -> TestClient:
    user = make_user("admin", name="Ada Admin")
    sign_in(client, user.email)
    client.user = user
    return client


# The layout ---------------------------------------------------------------------------------


def test_layout_has_the_contract_of_every_page(client: TestClient, make_idea) -> None:
    make_idea(title="Dark mode for the dashboard")
    html = client.get("/").text
    assert '<html lang="en"' in html
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert token
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token.group(1)}"}}\'' in html
    assert "/static/vendor/pico-2.1.1.min.css" in html
    assert "/static/css/app.css" in html
    assert re.search(r'<script src="/static/vendor/htmx-2.0.11.min.js" defer>', html)
    assert 'href="#main"' in html and 'id="main"' in html
    assert 'action="/language"' in html and 'name="next" value="/"' in html
    assert 'href="/signin"' in html and 'href="/signup"' in html
    assert 'action="/signout"' not in html
    assert_csp_safe(html)
    for path in ("/static/css/app.css", "/static/vendor/htmx-2.0.11.min.js"):
        assert client.get(path).status_code == 200


def test_header_shows_the_links_each_role_has(client: TestClient, make_user) -> None:
    member, staff, admin = make_user(), make_user("staff"), make_user("admin")
    expected = {
        member.email: ([], ["/staff/moderation", "/admin/boards"]),
        staff.email: (["/staff/moderation", "/staff/audit"], ["/admin/boards", "/admin/users"]),
        admin.email: (["/staff/moderation", "/staff/audit", "/admin/boards", "/admin/users"], []),
    }
    for email, (present, absent) in expected.items():
        sign_in(client, email)
        html = client.get("/").text
        assert 'action="/signout"' in html and 'href="/notifications"' in html
        for link in present:
            assert f'href="{link}"' in html, (email, link)
        for link in absent:
            assert f'href="{link}"' not in html, (email, link)


def test_unread_notifications_show_as_a_badge(
    member_client: TestClient, db: Database, make_user, make_idea
) -> None:
    idea = make_idea(author=member_client.user)
    commenter = make_user(name="Carla Comment")
    with db.transaction() as session:
        comments.add(session, commenter, idea, "Same here, we need it weekly.")
    html = member_client.get("/").text
    assert re.search(r'class="count-badge"[^>]*>1<', html)


def test_flash_messages_show_once_in_a_status_region(member_client: TestClient, make_board) -> None:
    board = make_board()
    response = post(
        member_client,
        "/ideas",
        {"board": board.slug, "title": "Weekly digest by email", "description": ""},
    )
    assert response.status_code == 303
    page = member_client.get(response.headers["location"]).text
    assert 'role="status"' in page
    assert "Thanks! Your idea is posted and your vote is counted." in page
    assert "Thanks! Your idea is posted" not in member_client.get("/").text


# Lists ----------------------------------------------------------------------------------------


def test_home_lists_ideas_with_their_facts(client: TestClient, make_idea, make_board) -> None:
    board = make_board("Mobile apps")
    make_board("Web app")
    idea = make_idea(title="Offline mode for the mobile app", board=board)
    html = client.get("/").text
    assert "Offline mode for the mobile app" in html
    assert f'href="/ideas/{idea.id}"' in html
    assert "All boards" in html and 'href="/b/web-app"' in html
    assert "Mobile apps" in html
    assert "Open" in html  # status badge
    assert re.search(r'class="vote-count">1<', html)
    assert "1 comment" not in html and "0 comments" in html
    assert "ago" in html or "now" in html
    assert 'href="/signin?next=/ideas/' in html  # anonymous people are asked to sign in to vote
    for sort in ("trending", "top", "new"):
        assert f"sort={sort}" in html


def test_board_page_shows_votes_left(member_client: TestClient, make_board) -> None:
    make_board("Mobile apps", vote_budget=10)
    html = member_client.get("/b/mobile-apps").text
    assert "10 of 10 votes left" in text_of(html)
    assert "No ideas here yet" in html
    assert 'href="/ideas/new?board=mobile-apps"' in html


def test_pagination_keeps_the_sort_and_the_search(
    client: TestClient, db: Database, make_board, make_user
) -> None:
    board = make_board("Widgets")
    author = make_user()
    with db.transaction() as session:
        board_row = session.merge(board)
        writer = session.merge(author)
        for number in range(25):
            idea_rules.submit(session, writer, board_row, f"Widget number {number:02d} please", "")
    html = client.get("/b/widgets?sort=new&q=widget").text
    assert "votes left" not in html
    assert "25 ideas found" in text_of(html)
    links = re.findall(r'href="\?([^"]*page=2[^"]*)"', html)
    assert links and all("sort=new" in link and "q=widget" in link for link in links)
    second = client.get("/b/widgets?sort=new&q=widget&page=2").text
    assert second.count('<li class="idea-row') == 5
    assert 'aria-current="page">2<' in second


def test_status_filter_and_empty_state(client: TestClient, make_idea) -> None:
    make_idea(title="Calendar sync with Outlook")
    html = client.get("/?status=shipped").text
    assert 'class="empty-state"' in html
    assert "No ideas match your search" in html
    assert '<option value="shipped" selected>' in html
    assert "Calendar sync" not in html
    empty = client.get("/").text
    assert "Calendar sync with Outlook" in empty


def test_an_unknown_board_is_a_friendly_404(client: TestClient) -> None:
    response = client.get("/b/nothing-here")
    assert response.status_code == 404
    assert "There is no such board." in response.text
    assert 'href="/"' in response.text


# The idea page ----------------------------------------------------------------------------


def test_idea_page_for_anonymous_people(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea(title="Export the roadmap as CSV", description="We share it **every week**.")
    rita = make_user(name="Rita Reply")
    bob = make_user(name="Bob Builder")
    with db.transaction() as session:
        first = comments.add(session, rita, idea, "Yes please")
        comments.add(session, bob, idea, "Agreed, weekly.", first.id)
    response = client.get(f"/ideas/{idea.id}")
    assert response.status_code == 200
    html = response.text
    assert "<strong>every week</strong>" in html
    assert f'id="comment-{first.id}"' in html
    assert 'class="replies"' in html and "Agreed, weekly." in html
    assert "Sign in to comment" in html
    assert "Team tools" not in html
    assert 'name="parent_id"' not in html  # no reply forms for anonymous people
    assert_csp_safe(html)


def test_idea_page_for_a_member(
    member_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea(title="Export the roadmap as CSV")
    commenter = make_user()
    with db.transaction() as session:
        comments.add(session, commenter, idea, "Yes please")
    html = member_client.get(f"/ideas/{idea.id}").text
    assert f'action="/ideas/{idea.id}/vote"' in html
    assert f'hx-post="/ideas/{idea.id}/vote"' in html
    assert 'aria-pressed="false"' in html
    assert f'action="/ideas/{idea.id}/follow"' in html
    assert 'name="parent_id"' in html
    assert f'action="/ideas/{idea.id}/comments' in html
    assert "Team tools" not in html
    assert f'href="/ideas/{idea.id}/edit"' not in html  # not the author


def test_idea_page_for_its_author_has_an_edit_link(member_client: TestClient, make_idea) -> None:
    idea = make_idea(author=member_client.user)
    html = member_client.get(f"/ideas/{idea.id}").text
    assert f'href="/ideas/{idea.id}/edit"' in html
    assert f'action="/ideas/{idea.id}/unvote"' in html  # the author's vote is cast
    assert 'aria-pressed="true"' in html
    assert f'action="/ideas/{idea.id}/unfollow"' in html


def test_idea_page_for_staff_has_the_team_tools(
    staff_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    commenter = make_user()
    with db.transaction() as session:
        comment = comments.add(session, commenter, idea, "A comment to moderate")
        staff = session.merge(staff_client.user)
        idea_rules.set_status(
            session, staff, session.merge(idea), "planned", "On the roadmap for May."
        )
    html = staff_client.get(f"/ideas/{idea.id}").text
    assert "Team tools" in html
    assert f'action="/ideas/{idea.id}/status"' in html
    for status in idea_rules.STATUSES:
        assert f'<option value="{status}"' in html
    assert '<option value="planned" selected>' in html
    assert 'name="note"' in html
    assert f'action="/ideas/{idea.id}/hide"' in html
    assert f'action="/ideas/{idea.id}/lock"' in html
    assert f'action="/comments/{comment.id}/hide"' in html
    assert f'href="/ideas/{idea.id}/edit"' in html
    assert "Status updates" in html and "On the roadmap for May." in html


def test_hidden_things_are_marked_for_staff(
    staff_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea(title="Something against the rules")
    commenter = make_user()
    with db.transaction() as session:
        comment = comments.add(session, commenter, idea, "Rude words")
        staff = session.merge(staff_client.user)
        comments.set_hidden(session, staff, comment, True)
        stored = session.merge(idea)
        idea_rules.set_hidden(session, staff, stored, True)
        idea_rules.set_comments_locked(session, staff, stored, True)
    html = staff_client.get(f"/ideas/{idea.id}").text
    assert "This idea is hidden" in html
    assert f'action="/ideas/{idea.id}/restore"' in html
    assert f'action="/comments/{comment.id}/restore"' in html
    assert f'action="/ideas/{idea.id}/unlock"' in html
    assert "Comments on this idea are locked." in html
    moderation = staff_client.get("/staff/moderation").text
    assert "Something against the rules" in moderation
    assert f'action="/ideas/{idea.id}/restore"' in moderation


def test_locked_comments_hide_the_forms_from_members(
    member_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    team_member = make_user("staff")
    with db.transaction() as session:
        idea_rules.set_comments_locked(session, team_member, session.merge(idea), True)
    html = member_client.get(f"/ideas/{idea.id}").text
    assert "Comments on this idea are locked." in html
    assert f'action="/ideas/{idea.id}/comments' not in html


def test_markdown_is_sanitised_on_the_idea_page(
    member_client: TestClient, db: Database, make_idea
) -> None:
    idea = make_idea(
        title="Links in descriptions please",
        description=(
            "<script>alert('x')</script>\n\n"
            "[click me](javascript:alert(1)) and [docs](https://example.com/docs)\n\n"
            '<img src=x onerror="alert(2)">'
        ),
    )
    with db.transaction() as session:
        comments.add(
            session, member_client.user, idea, "<script>alert(3)</script> [x](javascript:void(0))"
        )
    html = member_client.get(f"/ideas/{idea.id}").text
    assert "<script>alert" not in html
    assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", html, re.IGNORECASE)
    assert "<img" not in html
    assert (
        '<a href="https://example.com/docs" rel="nofollow ugc noopener noreferrer">docs</a>' in html
    )
    assert_csp_safe(html)


def test_a_hidden_idea_is_not_found_for_members(
    member_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    team_member = make_user("staff")
    with db.transaction() as session:
        idea_rules.set_hidden(session, team_member, session.merge(idea), True)
    response = member_client.get(f"/ideas/{idea.id}")
    assert response.status_code == 404
    assert "This idea does not exist or was removed." in response.text


# Forms: errors next to the fields, input kept ---------------------------------------------------


def test_new_idea_form(member_client: TestClient, make_board) -> None:
    make_board("Web app")
    make_board("Mobile apps")
    html = member_client.get("/ideas/new?board=mobile-apps").text
    assert 'action="/ideas"' in html
    assert '<option value="mobile-apps" selected>' in html
    assert "From 8 to 150 characters" in html
    assert "Up to 5000 characters" in html and "Markdown" in html


def test_new_idea_form_sends_anonymous_people_to_sign_in(client: TestClient) -> None:
    response = client.get("/ideas/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=/ideas/new")


def test_new_idea_errors_are_shown_next_to_the_fields(
    member_client: TestClient, make_board
) -> None:
    make_board("Web app")
    board = make_board("Mobile apps")
    response = post(
        member_client,
        "/ideas",
        {"board": board.slug, "title": "Short", "description": "Kept <as> typed"},
    )
    assert response.status_code == 400
    html = response.text
    assert re.search(r'id="title"[^>]*aria-invalid="true"', html, re.S)
    assert re.search(r'id="title"[^>]*aria-describedby="title-hint title-error"', html, re.S)
    assert '<small id="title-error" class="field-error">At least 8 characters.</small>' in html
    assert 'value="Short"' in html
    assert "Kept &lt;as&gt; typed</textarea>" in html
    assert '<option value="mobile-apps" selected>' in html
    assert 'id="description-error"' not in html


def test_edit_form_for_the_author_and_its_errors(member_client: TestClient, make_idea) -> None:
    idea = make_idea(title="Export the roadmap as CSV", author=member_client.user)
    html = member_client.get(f"/ideas/{idea.id}/edit").text
    assert f'action="/ideas/{idea.id}/edit"' in html
    assert 'value="Export the roadmap as CSV"' in html
    assert 'name="board"' not in html
    response = post(
        member_client, f"/ideas/{idea.id}/edit", {"title": "x" * 151, "description": "d"}
    )
    assert response.status_code == 400
    assert "At most 150 characters." in response.text
    assert 'value="' + "x" * 151 + '"' in response.text


def test_edit_form_is_refused_to_other_members(member_client: TestClient, make_idea) -> None:
    idea = make_idea()
    response = member_client.get(f"/ideas/{idea.id}/edit")
    assert response.status_code == 403
    assert "Only the author or the team can edit this idea." in response.text


def test_comment_errors_are_shown_and_the_reply_kept(
    member_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea()
    commenter = make_user()
    with db.transaction() as session:
        first = comments.add(session, commenter, idea, "First!")
    response = post(member_client, f"/ideas/{idea.id}/comments", {"body": "   "})
    assert response.status_code == 400
    assert re.search(r'id="comment-body"[^>]*aria-invalid="true"', response.text, re.S)
    assert "This field is required." in response.text
    long_reply = "y" * 5001
    response = post(
        member_client,
        f"/ideas/{idea.id}/comments",
        {"body": long_reply, "parent_id": str(first.id)},
    )
    assert response.status_code == 400
    assert "At most 5000 characters." in response.text
    assert f"{long_reply}</textarea>" in response.text
    assert re.search(r'<details class="reply-box" open>', response.text)


def test_a_reply_to_a_missing_comment_is_explained_in_the_main_form(
    member_client: TestClient, make_idea
) -> None:
    idea = make_idea()
    response = post(
        member_client, f"/ideas/{idea.id}/comments", {"body": "Kept text", "parent_id": "999"}
    )
    assert response.status_code == 400
    assert "The comment you reply to does not exist." in response.text
    assert "Kept text</textarea>" in response.text


def test_posting_a_comment_lands_on_its_anchor(member_client: TestClient, make_idea) -> None:
    idea = make_idea()
    response = post(member_client, f"/ideas/{idea.id}/comments", {"body": "We need this *too*"})
    assert response.status_code == 303
    anchor = response.headers["location"].split("#")[1]
    html = member_client.get(f"/ideas/{idea.id}").text
    assert f'id="{anchor}"' in html
    assert "<em>too</em>" in html


# htmx voting ---------------------------------------------------------------------------------


def test_htmx_vote_returns_the_widget_with_the_new_count(
    member_client: TestClient, make_idea
) -> None:
    idea = make_idea()  # the author's vote makes 1
    token = csrf_of(member_client, "/")
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    response = member_client.post(f"/ideas/{idea.id}/vote", headers=headers)
    assert response.status_code == 200
    html = response.text
    assert "<html" not in html
    assert html.lstrip().startswith("<form")
    assert re.search(r'class="vote-count">2<', html)
    assert 'aria-pressed="true"' in html and "Voted" in html
    assert f'hx-post="/ideas/{idea.id}/unvote"' in html
    assert 'hx-target="this"' in html and 'hx-swap="outerHTML"' in html
    response = member_client.post(f"/ideas/{idea.id}/unvote", headers=headers)
    assert re.search(r'class="vote-count">1<', response.text)
    assert 'aria-pressed="false"' in response.text
    assert f'hx-post="/ideas/{idea.id}/vote"' in response.text


def test_htmx_vote_updates_the_votes_left_out_of_band(
    member_client: TestClient, make_board, make_idea
) -> None:
    board = make_board("Mobile apps", vote_budget=3)
    idea = make_idea(board=board)
    page = member_client.get("/b/mobile-apps").text
    assert '<strong id="votes-left-count">3</strong>' in page
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(member_client, "/")}
    html = member_client.post(f"/ideas/{idea.id}/vote", headers=headers).text
    assert '<strong id="votes-left-count" hx-swap-oob="true">2</strong>' in html


def test_voting_without_javascript_redirects_to_the_idea(
    member_client: TestClient, make_idea
) -> None:
    idea = make_idea()
    response = post(member_client, f"/ideas/{idea.id}/vote")
    assert response.status_code == 303
    assert response.headers["location"] == f"/ideas/{idea.id}"
    html = member_client.get(f"/ideas/{idea.id}").text
    assert re.search(r'class="vote-count">2<', html)


def test_htmx_vote_without_votes_left_says_why(
    member_client: TestClient, make_board, make_idea
) -> None:
    board = make_board("Mobile apps", vote_budget=1)
    first = make_idea(board=board)
    second = make_idea(title="Another idea for the board", board=board)
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(member_client, "/")}
    assert member_client.post(f"/ideas/{first.id}/vote", headers=headers).status_code == 200
    response = member_client.post(f"/ideas/{second.id}/vote", headers=headers)
    assert response.status_code == 409
    assert response.text.lstrip().startswith("<form")
    assert 'role="alert"' in response.text
    assert "No votes left on this board (1 per person)." in response.text


def test_a_spent_budget_disables_the_vote_button(
    member_client: TestClient, make_board, make_idea
) -> None:
    board = make_board("Mobile apps", vote_budget=1)
    first, second = (
        make_idea(board=board),
        make_idea(title="Another idea for the board", board=board),
    )
    assert post(member_client, f"/ideas/{first.id}/vote").status_code == 303
    html = member_client.get(f"/ideas/{second.id}").text
    assert "You have no votes left on this board." in html
    assert "0 of 1 votes left" in text_of(html)


# Notifications -----------------------------------------------------------------------------


def test_notifications_page_says_what_happened(
    member_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea(title="Calendar sync with Outlook", author=member_client.user)
    staff = make_user("staff", name="Tess Team")
    other = make_user(name="Carla Comment")
    with db.transaction() as session:
        first = comments.add(session, session.merge(member_client.user), idea, "Mine")
        comments.add(session, other, idea, "Reply to you", first.id)
        idea_rules.set_status(session, staff, session.merge(idea), "planned", "Coming in May.")
    html = member_client.get("/notifications").text
    sentences = text_of(html)
    assert "Tess Team moved “Calendar sync with Outlook” from Open to Planned." in sentences
    assert "Coming in May." in sentences
    assert "Carla Comment replied to your comment on “Calendar sync with Outlook”." in sentences
    assert 'action="/notifications/read"' in html
    assert html.count('class="notification is-unread"') == 2
    post(member_client, "/notifications/read")
    html = member_client.get("/notifications").text
    assert 'class="notification is-unread"' not in html
    assert 'action="/notifications/read"' not in html


def test_notifications_in_italian(
    member_client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea = make_idea(title="Sincronizzazione calendario", author=member_client.user)
    team_member = make_user("staff", name="Tess Team")
    with db.transaction() as session:
        idea_rules.set_status(session, team_member, session.merge(idea), "shipped")
        notifications.notify(
            session, [member_client.user.id], "comment", idea.id, None, comment_id=1
        )
    sentences = text_of(member_client.get("/notifications?lang=it").text)
    assert (
        "Tess Team ha spostato “Sincronizzazione calendario” da Aperta a Rilasciata." in sentences
    )
    assert "Qualcuno ha commentato “Sincronizzazione calendario”." in sentences


def test_empty_notifications(member_client: TestClient) -> None:
    html = member_client.get("/notifications").text
    assert "You are all caught up" in html


# Team and admin pages --------------------------------------------------------------------------


def test_moderation_page_lists_people_and_blocks(staff_client: TestClient, make_user) -> None:
    target = make_user(name="Mallory Spam", email="mallory@example.com")
    html = staff_client.get("/staff/moderation?q=mallory").text
    assert "Mallory Spam" in html and "mallory@example.com" in html
    assert f'action="/users/{target.id}/block"' in html
    assert "No hidden ideas" in html
    response = post(staff_client, f"/users/{target.id}/block")
    assert response.status_code == 303
    html = staff_client.get("/staff/moderation?q=mallory").text
    assert "The account is blocked." in html
    assert f'action="/users/{target.id}/unblock"' in html
    assert "Blocked" in html


def test_audit_log_lists_the_team_actions(staff_client: TestClient, make_idea) -> None:
    idea = make_idea()
    post(staff_client, f"/ideas/{idea.id}/status", {"status": "under_review", "note": ""})
    html = staff_client.get("/staff/audit").text
    assert "Changed the status" in html
    assert "Tess Team" in html
    assert f'href="/ideas/{idea.id}"' in html
    assert "Under review" in html


def test_team_pages_are_refused_to_members(member_client: TestClient) -> None:
    for path in ("/staff/moderation", "/staff/audit", "/admin/boards", "/admin/users"):
        response = member_client.get(path)
        assert response.status_code == 403, path
        assert "You are not allowed to do that." in response.text


def test_admin_boards_page_and_its_errors(admin_client: TestClient, make_board) -> None:
    make_board("Web app")
    html = admin_client.get("/admin/boards").text
    assert "Web app" in html and 'href="/admin/boards/web-app/edit"' in html
    assert 'action="/admin/boards"' in html
    response = post(
        admin_client,
        "/admin/boards",
        {"name": "Mobile", "description": "Phones", "vote_budget": "0"},
    )
    assert response.status_code == 400
    assert "A whole number from 1 to 1000, or empty for no limit." in response.text
    assert re.search(r'id="vote_budget"[^>]*aria-invalid="true"', response.text, re.S)
    assert 'value="Mobile"' in response.text and "Phones</textarea>" in response.text
    response = post(
        admin_client, "/admin/boards", {"name": "Mobile", "description": "", "vote_budget": "5"}
    )
    assert response.status_code == 303
    assert "The board is created." in admin_client.get("/admin/boards").text


def test_admin_board_edit_form(admin_client: TestClient, make_board) -> None:
    make_board("Web app", vote_budget=7)
    html = admin_client.get("/admin/boards/web-app/edit").text
    assert 'action="/admin/boards/web-app/edit"' in html
    assert 'value="Web app"' in html and 'value="7"' in html
    response = post(admin_client, "/admin/boards/web-app/edit", {"name": "", "vote_budget": ""})
    assert response.status_code == 400
    assert "This field is required." in response.text


def test_admin_users_page_changes_roles(admin_client: TestClient, db: Database, make_user) -> None:
    person = make_user(name="Paula Promote")
    html = admin_client.get("/admin/users").text
    assert "Paula Promote" in html
    assert f'action="/admin/users/{person.id}/role"' in html
    response = post(admin_client, f"/admin/users/{person.id}/role", {"role": "staff"})
    assert response.status_code == 303
    with db.reading() as session:
        assert session.scalar(select(User.role).where(User.id == person.id)) == "staff"
    assert "The role is saved." in admin_client.get("/admin/users").text


# Accounts -------------------------------------------------------------------------------------


def test_sign_in_page_links_and_keeps_next(client: TestClient) -> None:
    html = client.get("/signin?next=/ideas/new").text
    assert 'href="/forgot"' in html and 'href="/signup?next=/ideas/new"' in html
    assert 'name="next" value="/ideas/new"' in html


def test_sign_in_error_keeps_the_email(client: TestClient, make_user) -> None:
    user = make_user()
    response = post(client, "/signin", {"email": user.email, "password": "nope nope nope"})
    assert response.status_code == 400
    assert "Wrong email or password." in response.text
    assert f'value="{user.email}"' in response.text
    assert 'id="password"' in response.text and re.search(
        r'id="password"[^>]*aria-invalid="true"', response.text, re.S
    )


def test_sign_up_errors_keep_input(client: TestClient, db: Database) -> None:
    response = post(client, "/signup", {"email": "not-an-email"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.text
    assert 'value="not-an-email"' in response.text

    assert post(client, "/signup", {"email": "nina@example.com"}).status_code == 200
    path = mailed_path(db, "nina@example.com", "/signup/")
    response = post(client, path, {"name": "Nina", "password": "short"})
    assert response.status_code == 400
    html = response.text
    assert "At least 8 characters." in html and 'value="Nina"' in html
    assert "nina@example.com" in html  # the address the link is for
    assert "short" not in re.findall(r'id="password"[^>]*>', html)[0]  # passwords are never echoed


def test_sign_up_mails_a_link_that_signs_in_and_greets(client: TestClient, db: Database) -> None:
    response = post(client, "/signup", {"email": "Nina@Example.com", "next": "/ideas/new"})
    assert response.status_code == 200
    assert "We have sent a message to Nina@Example.com" in response.text
    path = mailed_path(db, "nina@example.com", "/signup/")

    form = client.get(path)
    assert form.status_code == 200 and "nina@example.com" in form.text
    response = post(client, path, {"name": "Nina New", "password": "long enough pw"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ideas/new"  # where the visitor was going
    html = client.get("/").text
    assert "Welcome! Your account is ready." in html
    assert "Nina New" in html

    # One account per link: used, it says so.
    assert client.get(path).status_code == 400
    again = post(client, path, {"name": "Someone Else", "password": "long enough pw"})
    assert again.status_code == 400
    assert "This link has expired or was already used." in again.text
    with db.reading() as session:
        assert session.scalars(select(User.name).where(User.email == "nina@example.com")).all() == [
            "Nina New"
        ]


def test_forgot_password_says_the_same_either_way(client: TestClient, make_user) -> None:
    user = make_user()
    sentence = "If an account exists for that address, we have sent a link"
    assert sentence not in client.get("/forgot").text
    known = post(client, "/forgot", {"email": user.email})
    unknown = post(client, "/forgot", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert sentence in known.text and sentence in unknown.text


def test_reset_page_with_a_good_and_a_bad_link(client: TestClient, db: Database, make_user) -> None:
    bad = client.get("/reset/not-a-token")
    assert bad.status_code == 400
    assert "This link has expired or was already used." in bad.text
    assert 'href="/forgot"' in bad.text
    user = make_user()
    post(client, "/forgot", {"email": user.email})
    with db.reading() as session:
        body = session.scalars(select(Job.payload)).one()["body"]
    path = re.search(r"http://[^/]+(/reset/\S+)", body).group(1)  # type: ignore[union-attr]
    html = client.get(path).text
    assert f'action="{path}"' in html
    response = post(client, path, {"password": "short"})
    assert response.status_code == 400
    assert "At least 8 characters." in response.text


# Languages --------------------------------------------------------------------------------------


def test_pages_in_italian_with_lang_or_accept_language(client: TestClient, make_idea) -> None:
    make_idea()
    by_query = client.get("/?lang=it").text
    assert '<html lang="it"' in by_query
    assert "Proponi un&#39;idea" in by_query or "Proponi un'idea" in by_query
    assert "Tutte le bacheche" in by_query and "Aperta" in by_query
    assert "Submit an idea" not in by_query
    by_header = client.get("/signin", headers={"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}).text
    assert '<html lang="it"' in by_header
    assert "Password dimenticata?" in by_header


def test_language_switch_is_remembered(client: TestClient) -> None:
    response = post(client, "/language", {"locale": "it", "next": "/signin?next=/ideas/new"})
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/ideas/new"
    html = client.get("/signin").text
    assert '<html lang="it"' in html and "Bentornato" in html
    assert '<option value="it" lang="it" selected>' in html
    post(client, "/language", {"locale": "en", "next": "/"})
    assert "Welcome back" in client.get("/signin").text


def test_language_switch_drops_lang_from_next(client: TestClient) -> None:
    html = client.get("/signin?lang=it&next=/x").text
    assert (
        'name="next" value="/signin?next=%2Fx"' in html
        or 'name="next" value="/signin?next=/x"' in html
    )


def test_field_errors_in_italian(member_client: TestClient, make_board) -> None:
    board = make_board()
    post(member_client, "/language", {"locale": "it", "next": "/"})
    response = post(
        member_client, "/ideas", {"board": board.slug, "title": "Corto", "description": ""}
    )
    assert response.status_code == 400
    assert "Almeno 8 caratteri." in response.text
    assert "Da 8 a 150 caratteri." in response.text


def test_error_pages_in_italian(client: TestClient) -> None:
    response = client.get("/ideas/999999?lang=it")
    assert response.status_code == 404
    assert "Questa idea non esiste o è stata rimossa." in response.text
    assert "Torna a tutte le idee" in response.text


# Every page, every role: renders and keeps to the CSP ------------------------------------------


def test_every_page_renders_for_its_roles_without_inline_code(
    client: TestClient, db: Database, make_user, make_idea, make_board
) -> None:
    board = make_board("Web app", vote_budget=5)
    idea = make_idea(board=board)
    commenter = make_user()
    with db.transaction() as session:
        comments.add(session, commenter, idea, "A comment")
    pages = {
        "anonymous": ["/", "/b/web-app", f"/ideas/{idea.id}", "/signin", "/signup", "/forgot"],
        "member": ["/", "/b/web-app", f"/ideas/{idea.id}", "/ideas/new", "/notifications"],
        "staff": [
            f"/ideas/{idea.id}",
            f"/ideas/{idea.id}/edit",
            "/staff/moderation",
            "/staff/audit",
        ],
        "admin": ["/admin/boards", "/admin/boards/web-app/edit", "/admin/users"],
    }
    for role, paths in pages.items():
        if role != "anonymous":
            sign_in(client, make_user(role).email)
        for lang in ("en", "it"):
            for path in paths:
                separator = "&" if "?" in path else "?"
                response = client.get(f"{path}{separator}lang={lang}")
                assert response.status_code == 200, (role, path, response.text[:300])
                assert f'<html lang="{lang}"' in response.text
                assert_csp_safe(response.text)


def test_list_excerpts_show_text_not_markdown(client, make_idea) -> None:
    make_idea(title="Export everything as a zip", description="We need **all** of it:\n\n- tasks")
    html = client.get("/").text
    assert "We need all of it:" in html and "**all**" not in html


def test_a_hidden_comment_with_replies_shows_as_removed(
    client: TestClient, db: Database, make_idea, make_user
) -> None:
    idea, staff, rude_one, kind_one = make_idea(), make_user("staff"), make_user(), make_user()
    with db.transaction() as session:
        rude = comments.add(session, rude_one, idea, "Something rude")
        comments.add(session, kind_one, idea, "A kind answer", rude.id)
        comments.set_hidden(session, staff, rude, True)
    html = client.get(f"/ideas/{idea.id}").text
    assert "Something rude" not in html
    assert "This comment was removed by the team." in html and "A kind answer" in html
