"""The team's overview figures, and the themes' daily and on-demand rebuilds through the job
table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ideas import dashboard, jobs, themes
from ideas.db import Database
from ideas.errors import Forbidden
from ideas.models import Idea, Job, User, Vote


def test_weekly_counts_put_ideas_and_votes_in_their_iso_week(db: Database, make_idea) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    ideas = [make_idea(f"Idea number {n}") for n in range(3)]
    with db.transaction() as session:  # one idea and its vote three weeks back, one last week
        for idea, days in ((ideas[0], 21), (ideas[1], 7)):
            stored = session.get_one(Idea, idea.id)
            stored.created_at = now - timedelta(days=days)
            vote = session.scalars(select(Vote).where(Vote.idea_id == idea.id)).one()
            vote.created_at = stored.created_at
        session.get_one(Idea, ideas[2].id).created_at = now - timedelta(days=1)
        session.scalars(select(Vote).where(Vote.idea_id == ideas[2].id)).one().created_at = now

    with db.reading() as session:
        weeks = dashboard.weekly_counts(session, 12, now)

    assert len(weeks) == 12 and weeks[-1].week == datetime(2026, 11, 23).date()
    assert weeks[0].week == weeks[-1].week - timedelta(weeks=11)
    assert [(w.ideas, w.votes) for w in weeks[-4:]] == [(1, 1), (0, 0), (1, 1), (1, 1)]
    assert sum(w.ideas for w in weeks) == 3


def test_overview_on_an_empty_portal(db: Database) -> None:
    with db.reading() as session:
        summary = dashboard.overview(session)
    assert summary.this_week.ideas == 0 and summary.last_week.votes == 0
    assert (summary.duplicates, summary.hidden_ideas, summary.growing) == (0, 0, [])
    assert summary.last_rebuilt is None


def test_the_worker_keeps_one_daily_rebuild_queued(db: Database) -> None:
    evening = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert themes.next_daily_run(evening) == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    early = datetime(2026, 11, 25, 2, 59, tzinfo=UTC)
    assert themes.next_daily_run(early) == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    themes.schedule(db, evening)
    themes.schedule(db, evening + timedelta(minutes=1))
    with db.reading() as session:
        (job,) = session.scalars(select(Job)).all()
        assert job.kind == themes.REBUILD_JOB and job.key == "rebuild_themes:daily:2026-11-26"
        assert job.run_at == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
        assert not themes.rebuild_requested(session, evening)  # waiting for its time


def test_a_rebuild_asked_for_now_is_queued_once(db: Database, make_user) -> None:  # type: ignore[no-untyped-def]
    team, member = make_user("staff"), make_user()
    themes.schedule(db)  # the daily one does not count as asked for
    with db.transaction() as session:
        with pytest.raises(Forbidden):
            themes.request_rebuild(session, session.get_one(User, member.id))
        assert themes.request_rebuild(session, session.get_one(User, team.id))
        assert not themes.request_rebuild(session, session.get_one(User, team.id))
    with db.reading() as session:
        assert themes.rebuild_requested(session)
        assert [job.kind for job in jobs.pending(session)] == [themes.REBUILD_JOB] * 2


def test_a_rebuild_records_when_it_ran(db: Database) -> None:
    before = datetime.now(UTC)
    themes.rebuild(db, "hashing-test")  # nothing to cluster: still a rebuild
    with db.reading() as session:
        rebuilt = themes.last_rebuilt(session)
    assert rebuilt is not None and rebuilt >= before
    themes.rebuild(db, "hashing-test")
    with db.reading() as session:
        again = themes.last_rebuilt(session)
    assert again is not None and again >= rebuilt
