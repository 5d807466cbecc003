"""The member's settings page, the unsubscribe link of the emails (which works without signing
in and asks before it acts), and the admins' form for a customer's segment and weight."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import ideas as idea_rules
from ideas import jobs, votes, worker
from ideas.db import Database
from ideas.models import AuditEntry, Idea, User
from tests.conftest import csrf_of, sign_in


def post(client: TestClient, path: str, data: dict[str, str]):
    form = {"csrf_token": csrf_of(client, "/"), **data}
    return client.post(path, data=form, follow_redirects=False)


def user_row(db: Database, user: User) -> User:
    with db.reading() as session:
        return session.get_one(User, user.id)


# Settings -------------------------------------------------------------------------------------


def test_the_user_menu_links_to_the_settings(member_client: TestClient) -> None:
    assert 'href="/account"' in member_client.get("/").text
    html = member_client.get("/account").text
    assert re.search(r'value="immediately"\s+checked', html)
    assert 'name="locale"' in html and 'value="it"' in html
    assert "Mondays" not in html and "Monday at 09:00 UTC" in html  # the digest's schedule


def test_settings_are_saved_and_the_language_follows(member_client: TestClient, db) -> None:
    response = post(member_client, "/account", {"email_updates": "weekly", "locale": "it"})
    assert response.status_code == 303 and response.headers["location"] == "/account"
    person = user_row(db, member_client.user)  # type: ignore[attr-defined]
    assert (person.email_updates, person.locale) == ("weekly", "it")
    html = member_client.get("/account").text
    assert '<html lang="it"' in html
    assert re.search(r'value="weekly"\s+checked', html)


def test_bad_settings_are_refused_next_to_their_fields(member_client: TestClient, db) -> None:
    response = post(member_client, "/account", {"email_updates": "hourly", "locale": "xx"})
    assert response.status_code == 400
    html = response.text
    assert 'id="email_updates-error"' in html and "Choose one of the options." in html
    assert 'id="locale-error"' in html and "Choose one of the languages." in html
    assert 'aria-invalid="true"' in html
    person = user_row(db, member_client.user)  # type: ignore[attr-defined]
    assert person.email_updates == "immediately"
    assert post(member_client, "/account", {}).status_code == 400


# Unsubscribe ----------------------------------------------------------------------------------


def emailed_unsubscribe_link(db, settings, make_user, make_idea) -> tuple[User, str]:
    """A status change mails a voter (to the MAIL_DIR folder); the link in that email."""
    voter, team = make_user(name="Vic"), make_user("staff")
    idea = make_idea()
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, voter.id), session.get_one(Idea, idea.id))
    with db.transaction() as session:
        found = session.get_one(Idea, idea.id)
        idea_rules.set_status(session, session.get_one(User, team.id), found, "planned")
    jobs.run_due(db, worker.handlers(db, settings))
    bodies = [path.read_text() for path in settings.mail_dir.glob("*.eml")]
    (body,) = [body for body in bodies if f"To: {voter.email}" in body]
    link = re.search(re.escape(settings.base_url) + r"(/unsubscribe/[\w.-]+)", body)
    assert link, body
    return voter, link.group(1)


def test_the_emailed_link_asks_then_unsubscribes_without_a_session(
    client: TestClient, db, settings, make_user, make_idea
) -> None:
    voter, path = emailed_unsubscribe_link(db, settings, make_user, make_idea)
    page = client.get(path)  # as a mail scanner or a person following the link
    assert page.status_code == 200
    assert voter.email in unescape(page.text) and f'action="{path}"' in page.text
    assert user_row(db, voter).email_updates == "immediately"  # opening it changed nothing

    client.cookies.clear()  # no session at all, so no CSRF token either
    response = client.post(path, follow_redirects=False)
    assert response.status_code == 200
    assert "gets no more email about ideas" in unescape(response.text)
    assert user_row(db, voter).email_updates == "never"


def test_one_click_unsubscribe_from_a_mail_program(
    client: TestClient, db, settings, make_user, make_idea
) -> None:
    voter, path = emailed_unsubscribe_link(db, settings, make_user, make_idea)
    # RFC 8058: a POST of "List-Unsubscribe=One-Click" to the List-Unsubscribe address.
    response = client.post(path, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert response.status_code == 200
    assert user_row(db, voter).email_updates == "never"


def test_a_tampered_link_is_refused(client: TestClient, db, settings, make_user, make_idea):
    voter, path = emailed_unsubscribe_link(db, settings, make_user, make_idea)
    for bad in (path[:-1], path + "A", "/unsubscribe/nonsense"):
        assert client.get(bad).status_code == 400
        response = client.post(bad, follow_redirects=False)
        assert response.status_code == 400 and "not valid" in response.text
    assert user_row(db, voter).email_updates == "immediately"


def test_the_unsubscribe_page_speaks_the_persons_language(
    client: TestClient, db, settings, make_user, make_idea
) -> None:
    voter, path = emailed_unsubscribe_link(db, settings, make_user, make_idea)
    with db.transaction() as session:
        session.get_one(User, voter.id).locale = "it"
    assert '<html lang="it"' in client.get(path).text


# Customer segment and weight (admins) -----------------------------------------------------------


def test_admins_set_a_customers_segment_and_weight(client: TestClient, db, make_user) -> None:
    admin, person = make_user("admin"), make_user(name="Big Account")
    sign_in(client, admin.email)
    html = client.get("/admin/users").text
    assert f'action="/admin/users/{person.id}/customer"' in html
    assert (
        f'id="weight-{person.id}" name="weight" type="text" inputmode="decimal" value="1"' in html
    )
    response = post(
        client, f"/admin/users/{person.id}/customer", {"segment": "  Enterprise  ", "weight": "2,5"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/users"
    saved = user_row(db, person)
    assert (saved.segment, saved.weight) == ("Enterprise", 2.5)
    with db.reading() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.target_id, entry.actor_id) == ("user.customer", person.id, admin.id)
    assert entry.details["weight"] == 2.5 and entry.details["old_weight"] == 1.0
    html = client.get("/admin/users").text
    assert "The segment and weight are saved." in html
    assert 'value="Enterprise"' in html and 'value="2.5"' in html
    audit = client.get("/staff/audit").text
    assert "Changed a customer's segment or weight" in unescape(audit)


def test_a_bad_segment_or_weight_is_shown_in_its_row(client: TestClient, db, make_user) -> None:
    admin, person = make_user("admin"), make_user(name="Big Account")
    sign_in(client, admin.email)
    for weight in ("0", "-1", "1001", "abc", "", "nan", "inf"):
        response = post(
            client, f"/admin/users/{person.id}/customer", {"segment": "x" * 41, "weight": weight}
        )
        assert response.status_code == 400, weight
        html = response.text
        assert "At most 40 characters." in html and "A number above 0, at most 1000." in html
        assert f'value="{"x" * 41}"' in html  # what was typed is kept
        assert f'value="{weight}"' in html
    saved = user_row(db, person)
    assert (saved.segment, saved.weight) == (None, 1.0)
    with db.reading() as session:
        assert session.scalars(select(AuditEntry)).all() == []
    # A search and a page are kept on the way back.
    response = post(
        client, f"/admin/users/{person.id}/customer", {"weight": "3", "q": "big", "page": "1"}
    )
    assert response.headers["location"] == "/admin/users?q=big"
