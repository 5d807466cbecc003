"""The weekly updates on the web: the archive, a week's page in the reader's language, its files,
the Atom feed, 404 for weeks that have no update, the team's panel and button, and the member's
opt-in on the settings page."""

from __future__ import annotations

import csv
import io
import re
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ideas import weekly, weekly_render
from ideas.db import Database
from ideas.models import Job, User, WeeklySnapshot
from tests import weekly_community as community
from tests.conftest import csrf_of, sign_in
from tests.weekly_community import AFTER_THE_WEEK, WEEK, ZONE

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def weeks(db: Database) -> list[str]:
    """W46 and W47 of the scripted community, stored."""
    community.build(db)
    for week in ("2026-W46", WEEK):
        weekly.make(db, week, ZONE, AFTER_THE_WEEK)
    return ["2026-W46", WEEK]


def test_the_archive_lists_the_weeks_newest_first(client: TestClient, weeks) -> None:
    html = client.get("/updates").text
    assert html.index('id="week-2026-W47"') < html.index('id="week-2026-W46"')
    assert "Roadmap update: week 47 of 2026" in html
    assert 'href="/updates/feed.atom"' in html
    assert 'href="/updates"' in client.get("/").text  # the footer link


def test_a_week_page_in_the_readers_language(client: TestClient, weeks) -> None:
    page = client.get(f"/updates/{WEEK}")
    assert page.status_code == 200
    assert "<h1>Roadmap update: week 47 of 2026</h1>" in page.text
    assert "Planned → In progress" in page.text
    assert 'href="/updates/2026-W46"' in page.text  # the week before
    for format in weekly.FORMATS:
        assert f'href="/updates/{WEEK}.{format}"' in page.text
    italian = client.get(f"/updates/{WEEK}", headers={"Accept-Language": "it"})
    assert "Pianificata → In corso" in italian.text and '<html lang="it"' in italian.text


def test_downloads_are_the_exports(client: TestClient, db: Database, weeks, settings) -> None:
    with db.reading() as session:
        data = session.get_one(WeeklySnapshot, WEEK).data
    for format in weekly.FORMATS:
        response = client.get(f"/updates/{WEEK}.{format}")
        assert response.status_code == 200
        assert response.headers["content-disposition"] == (
            f'attachment; filename="roadmap-{WEEK}.{format}"'
        )
        assert response.content == weekly_render.render(data, format, "en", settings.base_url)
    rows = list(csv.reader(io.StringIO(client.get(f"/updates/{WEEK}.csv").text.lstrip("\ufeff"))))
    assert rows[0][0] == "week" and "changed_this_week" in rows[0] and len(rows) == 5
    assert client.get(f"/updates/{WEEK}.json").json()["schema_version"] == 1
    assert (
        client.get(f"/api/v1/updates/{WEEK}").json() == client.get(f"/updates/{WEEK}.json").json()
    )


def test_the_atom_feed(client: TestClient, weeks, settings) -> None:
    response = client.get("/updates/feed.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}id") for entry in entries] == [
        f"{settings.base_url}/updates/{WEEK}",
        f"{settings.base_url}/updates/2026-W46",
    ]
    assert entries[0].findtext(f"{ATOM}title") == "Roadmap update: week 47 of 2026"
    content = entries[0].find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert "Offline mode" in (content.text or "")
    assert feed.findtext(f"{ATOM}updated") == entries[0].findtext(f"{ATOM}updated")


@pytest.mark.parametrize(
    "path",
    [
        "/updates/2026-W45",  # a real week without an update
        "/updates/2027-W53",  # 2027 has 52 weeks
        "/updates/2026-W99",
        "/updates/2026-48",
        "/updates/nonsense",
        "/updates/2026-W47.pdf",
        "/updates/2026-W45.csv",
        "/api/v1/updates/2026-W45",
        "/api/v1/updates/2027-W53",
    ],
)
def test_weeks_without_an_update_are_404(client: TestClient, weeks, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_team_panel_and_its_button(client: TestClient, db: Database, make_user) -> None:
    team = make_user("staff")
    member = make_user()
    with db.transaction() as session:
        session.get_one(User, member.id).roadmap_updates = True
    sign_in(client, team.email)
    assert "Make last week" in client.get("/staff").text
    token = csrf_of(client, "/staff")
    response = client.post(
        "/staff/updates/export", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    week = weekly.last_complete_week(weekly.utcnow(), "UTC")
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(WeeklySnapshot)) == 1
        mail = session.scalars(select(Job).where(Job.kind == weekly.MAIL_JOB)).one()
    assert mail.payload == {"week": week, "user_id": member.id}
    dashboard = client.get("/staff").text
    assert f'href="/updates/{week}.csv"' in dashboard
    client.post("/staff/updates/export", data={"csrf_token": token})  # again: nothing new
    with db.reading() as session:
        assert (
            session.scalar(select(func.count()).select_from(Job).where(Job.kind == weekly.MAIL_JOB))
            == 1
        )


def test_members_opt_in_on_their_settings_page(member_client: TestClient, db: Database) -> None:
    html = member_client.get("/account").text
    assert "Email me the weekly roadmap update" in html
    assert not re.search(r'name="roadmap_updates" value="1"[^>]*checked', html)
    token = csrf_of(member_client, "/account")
    form = {"csrf_token": token, "email_updates": "never", "locale": "en"}
    member_client.post("/account", data={**form, "roadmap_updates": "1"})
    user = member_client.user  # type: ignore[attr-defined]
    with db.reading() as session:
        assert session.get_one(User, user.id).roadmap_updates is True
    assert re.search(
        r'name="roadmap_updates" value="1"[^>]*checked', member_client.get("/account").text
    )
    member_client.post("/account", data=form)  # unticked
    with db.reading() as session:
        assert session.get_one(User, user.id).roadmap_updates is False
