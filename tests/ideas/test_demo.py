"""Demo data: a realistic community, built through the domain, the same every time."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ideas import demo
from ideas.db import Database
from ideas.migrate import upgrade
from ideas.models import Board, Comment, Idea, Job, StatusChange, User, Vote


def snapshot(database: Database) -> list[tuple]:
    """What a visitor sees of every idea, in the order they were made."""
    author = aliased(User)
    with database.reading() as session:
        rows = session.execute(
            select(
                Board.slug,
                Idea.title,
                author.email,
                Idea.vote_count,
                Idea.comment_count,
                Idea.status,
            )
            .join(Board, Board.id == Idea.board_id)
            .join(author, author.id == Idea.author_id)
            .order_by(Idea.id)
        )
        return [tuple(row) for row in rows]


def test_demo_loads_a_community_and_is_deterministic(db, tmp_path) -> None:
    with db.reading() as session:
        assert demo.is_empty(session)
    with db.transaction() as session:
        summary = demo.load(session)
    with db.reading() as session:
        assert not demo.is_empty(session)
        count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert summary.boards == count(Board) >= 3
        assert summary.ideas == count(Idea) >= 300
        assert summary.votes == count(Vote) > summary.ideas  # more than the authors' own
        assert summary.comments == count(Comment) > 0
        assert count(StatusChange) > 0
        assert count(Job) == 0  # the demo's past status changes email nobody
        statuses = set(session.scalars(select(Idea.status)))
        assert {"open", "under_review", "planned", "in_progress", "shipped", "declined"} <= statuses
        # The counters agree with the rows they count.
        mismatched = session.scalar(
            select(func.count())
            .select_from(Idea)
            .where(
                Idea.vote_count
                != select(func.count(Vote.id)).where(Vote.idea_id == Idea.id).scalar_subquery()
            )
        )
        assert mismatched == 0
        # The documented sign-ins exist with their roles.
        roles = dict(session.execute(select(User.email, User.role)).all())
        assert roles[demo.ADMIN_EMAIL] == "admin" and roles[demo.STAFF_EMAIL] == "staff"
    first = snapshot(db)

    # A second load, in a second fresh database, gives the same community.
    other = Database(f"sqlite:///{tmp_path / 'second.db'}")
    try:
        upgrade(other.engine)
        with other.transaction() as session:
            assert demo.load(session) == summary
        assert snapshot(other) == first
    finally:
        other.dispose()
