"""Themes: rebuilds that keep a theme's identity, staff actions, and the figures."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ideas import embeddings, themes, votes
from ideas.db import Database
from ideas.errors import Forbidden, ValidationError
from ideas.models import Idea, Theme, ThemeEvent, ThemeWeek, User
from ml.embedders import HashingEmbedder

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


@pytest.fixture
def community(db: Database, make_idea, make_board):  # type: ignore[no-untyped-def]
    board = make_board("Web")
    ideas = [make_idea(title, "", board=board) for title in DARK + EXPORT]
    with db.transaction() as session:
        stored = [session.get_one(Idea, idea.id) for idea in ideas]
        embeddings.store(session, HashingEmbedder(), stored)
    return board, ideas


def _themes(db: Database, board_id: int | None) -> dict[int, set[int]]:
    with db.reading() as session:
        return {
            theme.id: set(themes.idea_ids(session, theme.id))
            for theme in themes.listing(session, board_id, include_hidden=True)
        }


def test_rebuild_groups_names_and_keeps_identity(db: Database, community, make_user) -> None:  # type: ignore[no-untyped-def]
    board, ideas = community
    team = make_user("staff")
    report = themes.rebuild(db, MODEL)
    assert [scope.board_id for scope in report.scopes] == [board.id, None]
    found = _themes(db, board.id)
    dark = {idea.id for idea in ideas[:6]}
    export = {idea.id for idea in ideas[6:]}
    assert dark in found.values() and export in found.values()
    assert report.scopes[0].unassigned == 0
    with db.reading() as session:
        named = {theme.id: theme for theme in themes.listing(session, board.id)}
    by_members = {frozenset(members): theme_id for theme_id, members in found.items()}
    dark_theme = named[by_members[frozenset(dark)]]
    assert "dark" in dark_theme.keywords and "dark" in dark_theme.name
    assert dark_theme.central_idea_id in dark

    # Renamed by staff, rebuilt: same id, same name, no new themes.
    with db.transaction() as session:
        staff = session.get_one(User, team.id)
        themes.rename(session, staff, session.get_one(Theme, dark_theme.id), "Dark mode")
    report = themes.rebuild(db, MODEL)
    assert report.scopes[0].created == 0 and report.scopes[0].retired == 0
    assert _themes(db, board.id) == found
    with db.reading() as session:
        assert session.get_one(Theme, dark_theme.id).name == "Dark mode"


def test_moved_ideas_stay_and_merges_are_recorded(db: Database, community, make_user) -> None:  # type: ignore[no-untyped-def]
    board, ideas = community
    themes.rebuild(db, MODEL)
    found = _themes(db, board.id)
    dark_id = next(t for t, members in found.items() if ideas[0].id in members)
    export_id = next(t for t, members in found.items() if ideas[6].id in members)
    staff = make_user("staff")
    with db.transaction() as session:
        actor = session.get_one(User, staff.id)
        themes.move_idea(
            session, actor, session.get_one(Idea, ideas[0].id), session.get_one(Theme, export_id)
        )
    themes.rebuild(db, MODEL)
    assert ideas[0].id in _themes(db, board.id)[export_id]

    with db.transaction() as session:
        actor = session.get_one(User, staff.id)
        themes.merge(
            session, actor, session.get_one(Theme, dark_id), session.get_one(Theme, export_id)
        )
    after = _themes(db, board.id)
    assert dark_id not in after and {i.id for i in ideas} <= after[export_id]
    with db.reading() as session:
        kinds = {
            (e.kind, e.theme_id, e.other_theme_id) for e in session.scalars(select(ThemeEvent))
        }
    assert ("merged", export_id, dark_id) in kinds


def test_figures_count_distinct_and_weighted_voters(db: Database, community, make_user) -> None:  # type: ignore[no-untyped-def]
    board, ideas = community
    big, small = make_user(), make_user()
    with db.transaction() as session:
        session.get_one(User, big.id).weight = 10.0
        for person in (big, small):
            voter = session.get_one(User, person.id)
            for idea in ideas[:2]:  # two ideas of one theme: counted once
                votes.vote(session, voter, session.get_one(Idea, idea.id))
    themes.rebuild(db, MODEL)
    with db.reading() as session:
        theme = next(
            t
            for t in themes.listing(session, board.id)
            if ideas[0].id in themes.idea_ids(session, t.id)
        )
        authors = {ideas[0].author_id, ideas[1].author_id} | {
            i.author_id for i in themes.ideas_of(session, theme)
        }
        assert theme.voters == len(authors | {big.id, small.id})
        assert theme.weighted_voters == pytest.approx(theme.voters - 1 + 10.0)
        assert themes.listing(session, board.id, sort="weighted")[0].id == theme.id
        weeks = session.scalars(select(ThemeWeek).where(ThemeWeek.theme_id == theme.id)).all()
        assert len(weeks) == 1 and weeks[0].voters == theme.voters


def test_staff_only_and_names_are_checked(db: Database, community, make_user) -> None:  # type: ignore[no-untyped-def]
    themes.rebuild(db, MODEL)
    member, team = make_user(), make_user("staff")
    with db.transaction() as session:
        theme = session.scalars(select(Theme)).first()
        assert theme is not None
        with pytest.raises(Forbidden):
            themes.rename(session, session.get_one(User, member.id), theme, "Mine")
        with pytest.raises(ValidationError):
            themes.rename(session, session.get_one(User, team.id), theme, "x" * 121)
