"""The team's dashboard and themes pages: figures, sorting (weighted beside plain), a theme's page,
its actions with their errors, and the rebuild button."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ideas import accounts, boards, duplicates, embeddings, jobs, themes, votes, worker
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Board, Idea, Job, RoadmapItem, Theme, User
from ideas.settings import Settings
from ml.embedders import HashingEmbedder
from tests.conftest import csrf_of, sign_in

MODEL = HashingEmbedder().name
DARK = [
    "Dark mode for the dashboard",
    "A dark theme for the dashboard please",
    "Dark mode on the mobile dashboard",
    "Night mode dark colours for the dashboard",
    "Dashboard dark mode toggle",
    "Support a dark colour scheme in the dashboard",
]
EXPORT = [
    "Export the roadmap to CSV",
    "CSV export of the roadmap",
    "Export roadmap items as a CSV file",
    "Roadmap CSV export for spreadsheets",
    "Download the roadmap as CSV",
    "Export to CSV from the roadmap page",
]
CHART = re.compile(r"data-chart='([^']*)'")
ROW = re.compile(r'<tr id="theme-(\d+)">')


@dataclass
class Community:
    board: Board
    ideas: list[Idea]
    dark: int  # theme ids, on the board
    export: int
    team: User


@pytest.fixture
def community(db: Database, make_user) -> Community:  # type: ignore[no-untyped-def]
    team = make_user("staff")  # the one who signs in; the others need no password
    with db.transaction() as session:
        board = boards.create_board(session, None, "Web", "", None)
        people = [
            accounts.create_user(session, f"customer{n}@example.com", f"Customer {n}", None)
            for n in range(len(DARK + EXPORT) + 4)
        ]
        ideas = [
            idea_rules.submit(session, author, board, title, "")
            for author, title in zip(people, DARK + EXPORT, strict=False)
        ]
        embeddings.store(session, HashingEmbedder(), ideas)
        # More people for dark mode; one big customer (weight 50) for the CSV export.
        for fan in people[-4:-1]:
            votes.vote(session, fan, ideas[0])
        big = people[-1]
        big.weight = 50.0
        votes.vote(session, big, ideas[6])
    themes.rebuild(db, MODEL)
    with db.reading() as session:
        by_idea = {
            idea_id: theme.id
            for theme in themes.listing(session, board.id)
            for idea_id in themes.idea_ids(session, theme.id)
        }
    return Community(board, ideas, by_idea[ideas[0].id], by_idea[ideas[6].id], team)


@pytest.fixture
def team(client: TestClient, community: Community) -> TestClient:
    sign_in(client, community.team.email)
    return client


def post(client: TestClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client, "/")
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def charts(page: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(html.unescape(found)) for found in CHART.findall(page)]


# The dashboard ---------------------------------------------------------------------------------


def test_dashboard_shows_the_weeks_figures_and_what_waits(
    team: TestClient, community: Community, db: Database
) -> None:
    with db.transaction() as session:
        duplicates.suggest(session, community.ideas[0].id, community.ideas[1].id, 0.9)
        actor = session.get_one(User, community.team.id)
        idea_rules.set_hidden(session, actor, session.get_one(Idea, community.ideas[11].id), True)

    page = team.get("/staff")

    assert page.status_code == 200
    text = page.text
    assert re.search(r'id="stat-ideas">12<', text)
    assert re.search(r'id="stat-votes">16<', text)  # 12 authors' votes, 3 fans, 1 customer
    assert re.search(r'id="stat-duplicates">1<', text)
    assert re.search(r'id="stat-hidden">1<', text)
    activity, growing = charts(text)
    assert activity["type"] == "bar" and len(activity["labels"]) == 12
    assert [dataset["data"][-1] for dataset in activity["datasets"]] == [12, 16]
    assert growing["type"] == "line"
    with db.reading() as session:
        top = themes.listing(session, None, "growth")[0]
    assert growing["datasets"][0]["label"] == top.name
    assert growing["datasets"][0]["data"][-1] == top.voters
    assert f'href="/staff/themes/{top.id}"' in text
    # Readable without scripts: the figures are in tables too.
    assert "<table>" in text and "chart-4.6.1.umd.min.js" in text and "/static/js/charts.js" in text
    assert 'href="/staff"' in text and 'href="/staff/themes"' in text  # the team's menu


def test_dashboard_in_italian_and_for_the_team_only(
    client: TestClient, community: Community, make_user
) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/staff", follow_redirects=False).status_code == 303
    member = make_user()
    sign_in(client, member.email)
    assert client.get("/staff").status_code == 403
    assert client.get("/staff/themes").status_code == 403
    assert client.get(f"/staff/themes/{community.dark}").status_code == 403
    client.cookies.clear()
    sign_in(client, community.team.email)
    page = client.get("/staff", headers={"Accept-Language": "it"})
    assert "Nuove idee questa settimana" in page.text


# The list ---------------------------------------------------------------------------------------


def test_themes_sorted_by_plain_or_weighted_voters_side_by_side(
    team: TestClient, community: Community
) -> None:
    by_voters = team.get("/staff/themes", params={"board": community.board.slug})
    assert by_voters.status_code == 200
    order = [int(found) for found in ROW.findall(by_voters.text)]
    assert order.index(community.dark) < order.index(community.export)
    weighted = team.get("/staff/themes", params={"board": community.board.slug, "sort": "weighted"})
    order = [int(found) for found in ROW.findall(weighted.text)]
    assert order.index(community.export) < order.index(community.dark)
    row = weighted.text.split(f'<tr id="theme-{community.export}">', 1)[1].split("</tr>", 1)[0]
    # plain voters (6 authors + the customer) beside weighted ones (6 + 50)
    assert re.findall(r"<td>([0-9.+]+)</td>", row)[:3] == ["6", "7", "56.0"]
    assert 'aria-sort="descending"' in weighted.text


def test_themes_of_all_boards_and_an_unknown_board(team: TestClient, community: Community) -> None:
    across = team.get("/staff/themes")
    assert across.status_code == 200
    assert f'id="theme-{community.dark}"' not in across.text  # a board's theme
    assert ROW.findall(across.text)  # the themes across boards
    assert team.get("/staff/themes", params={"board": "nope"}).status_code == 404
    for sort in ("growth", "size", "nonsense"):
        assert team.get("/staff/themes", params={"sort": sort}).status_code == 200


# A theme -----------------------------------------------------------------------------------------


def test_theme_page_shows_keywords_ideas_history_and_actions(
    team: TestClient, community: Community, db: Database
) -> None:
    page = team.get(f"/staff/themes/{community.dark}")
    assert page.status_code == 200
    text = page.text
    with db.reading() as session:
        theme = session.get_one(Theme, community.dark)
        central = session.get_one(Idea, theme.central_idea_id)
    assert "dark" in theme.keywords and '<li class="badge">dark</li>' in text
    assert f"“{central.title}”" in text
    representative = text.split('class="representative"', 1)[1].split("</ol>", 1)[0]
    assert representative.index(DARK[0]) < representative.index(DARK[1])  # most votes first
    for title in DARK:
        assert html.escape(title) in text
    (history,) = charts(text)
    assert [dataset["data"] for dataset in history["datasets"]] == [[9], [9.0], [6]]
    for action in ("rename", "merge", "move", "hide"):
        assert f'action="/staff/themes/{community.dark}/{action}"' in text
    assert f'action="/staff/roadmap/from-theme/{community.dark}"' in text
    assert team.get("/staff/themes/999999").status_code == 404


def test_rename_and_its_field_error(team: TestClient, community: Community, db: Database) -> None:
    path = f"/staff/themes/{community.dark}"
    refused = post(team, f"{path}/rename", name="x" * 121)
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in refused.text
    assert '<small id="name-error" class="field-error">At most 120 characters.</small>' in (
        refused.text
    )
    done = post(team, f"{path}/rename", name="Dark mode")
    assert done.status_code == 303 and done.headers["location"] == path
    assert "<h1>Dark mode</h1>" in team.get(path).text
    with db.reading() as session:
        assert session.get_one(Theme, community.dark).name == "Dark mode"


def test_merge_into_another_theme_and_its_errors(
    team: TestClient, community: Community, db: Database
) -> None:
    path = f"/staff/themes/{community.dark}/merge"
    for into, error in (
        (str(community.dark), "A theme cannot be merged into itself."),
        ("", "Choose a theme."),
        ("999999", "There is no such theme."),
    ):
        refused = post(team, path, into=into)
        assert refused.status_code == 400, into
        assert f'<small id="into-error" class="field-error">{html.escape(error)}' in refused.text
    done = post(team, path, into=str(community.export))
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/themes/{community.export}"
    with db.reading() as session:
        assert session.get_one(Theme, community.dark).merged_into_id == community.export
        assert {idea.id for idea in community.ideas} <= set(
            themes.idea_ids(session, community.export)
        )
    merged = team.get(f"/staff/themes/{community.dark}").text
    assert (
        "Merged into" in merged and f'action="/staff/themes/{community.dark}/rename"' not in merged
    )


def test_move_an_idea_and_its_errors(team: TestClient, community: Community, db: Database) -> None:
    path = f"/staff/themes/{community.dark}/move"
    moving = community.ideas[0].id
    outside = post(team, path, idea=str(community.ideas[6].id), into=str(community.export))
    assert outside.status_code == 400
    assert "Choose one of this theme&#39;s ideas." in outside.text
    nowhere = post(team, path, idea=str(moving), into="x")
    assert nowhere.status_code == 400 and "Choose a theme." in nowhere.text
    done = post(team, path, idea=str(moving), into=str(community.export))
    assert done.status_code == 303
    with db.reading() as session:
        assert moving in themes.idea_ids(session, community.export)
        assert moving not in themes.idea_ids(session, community.dark)


def test_hide_and_show_a_theme(team: TestClient, community: Community) -> None:
    path = f"/staff/themes/{community.dark}"
    listing = "/staff/themes?board=" + community.board.slug
    assert post(team, f"{path}/hide").status_code == 303
    assert f'id="theme-{community.dark}"' not in team.get(listing).text
    assert f'id="theme-{community.dark}"' in team.get(listing + "&hidden=1").text
    assert "Show the theme" in team.get(path).text
    assert post(team, f"{path}/show").status_code == 303
    assert f'id="theme-{community.dark}"' in team.get(listing).text


def test_promote_to_a_roadmap_item(team: TestClient, community: Community, db: Database) -> None:
    done = post(team, f"/staff/roadmap/from-theme/{community.dark}")
    assert done.status_code == 303
    with db.reading() as session:
        item = session.scalars(select(RoadmapItem)).one()
    assert item.theme_id == community.dark
    page = team.get(f"/staff/themes/{community.dark}").text
    assert f'href="/staff/roadmap/{item.id}"' in page
    assert "/staff/roadmap/from-theme/" not in page


@pytest.mark.parametrize(
    "action", ["rename", "merge", "move", "hide", "show", "rebuild", "page", "list"]
)
def test_members_are_refused(
    client: TestClient, community: Community, make_user, db: Database, action: str
) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, make_user().email)
    if action == "page":
        response = client.get(f"/staff/themes/{community.dark}")
    elif action == "list":
        response = client.get("/staff/themes")
    elif action == "rebuild":
        response = post(client, "/staff/themes/rebuild")
    else:
        response = post(
            client,
            f"/staff/themes/{community.dark}/{action}",
            name="Mine",
            into=str(community.export),
            idea=str(community.ideas[0].id),
        )
    assert response.status_code == 403
    with db.reading() as session:
        theme = session.get_one(Theme, community.dark)
        assert theme.custom_name is None and theme.retired_at is None
        assert theme.hidden_at is None
        assert not session.scalars(select(Job).where(Job.kind == themes.REBUILD_JOB)).all()


# Rebuilding --------------------------------------------------------------------------------------


def test_rebuild_button_queues_one_rebuild_that_the_worker_runs(
    team: TestClient, community: Community, db: Database, settings: Settings
) -> None:
    page = team.get("/staff/themes").text
    assert "Themes last rebuilt" in page and "Rebuild themes now" in page
    with db.reading() as session:
        before = themes.last_rebuilt(session)
    assert before is not None

    queued = post(team, "/staff/themes/rebuild", next="/staff")
    assert queued.status_code == 303 and queued.headers["location"] == "/staff"
    assert "being rebuilt in the background" in team.get("/staff").text
    again = post(team, "/staff/themes/rebuild")
    assert again.headers["location"] == "/staff/themes"
    page = team.get("/staff/themes").text
    assert "under way already" in page and "A rebuild is under way." in page
    with db.reading() as session:
        (job,) = session.scalars(select(Job).where(Job.kind == themes.REBUILD_JOB)).all()

    assert jobs.run_due(db, worker.handlers(db, settings)) == 1
    with db.reading() as session:
        assert session.get_one(Job, job.id).done_at is not None
        after = themes.last_rebuilt(session)
        assert after is not None and after > before
        assert not themes.rebuild_requested(session)
    assert "A rebuild is under way." not in team.get("/staff/themes").text


def test_an_offsite_next_is_ignored(team: TestClient) -> None:
    response = post(team, "/staff/themes/rebuild", next="https://elsewhere.example/")
    assert response.headers["location"] == "/staff/themes"
