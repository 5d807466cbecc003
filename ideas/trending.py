"""Trending: each idea's votes of the last two weeks, kept on the idea (``Idea.recent_votes``), so
that the default listing reads an index instead of counting every idea's recent votes on every
view (3.3 s of the home page at 1,000,000 ideas, bench/scale.py).

Who keeps the count, in the transaction that changes the votes and under the idea's row lock it
holds already (``ideas.merges.lock``): a vote adds one (``ideas.votes``); an unvote, a merge and
its undo, which remove or carry votes of any age, recount the ideas they changed (``recount``).
What time does, a vote turning 14 days old, the worker's decay job catches up with every
DECAY_EVERY: it recounts the ideas with a vote that left the window since its last run.

So the order is exact at every commit, except that a vote keeps counting for up to DECAY_EVERY
(while a worker runs) after its 14 days: a two-week window that closes a few minutes late.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ideas import jobs
from ideas.db import Database
from ideas.models import Idea, SiteSetting, Vote, utcnow

WINDOW = timedelta(days=14)
DECAY_JOB = "trending_decay"
DECAY_EVERY = timedelta(minutes=10)
DECAYED_UNTIL = "trending_decayed_until"  # a SiteSetting: votes before it have been decayed
# A recount may take its moment a little before its transaction commits, after a decay run
# looked at the idea: each run looks back this much further, so that such a count is redone.
OVERLAP = timedelta(hours=1)


def recent_votes(since: datetime) -> ColumnElement[int]:
    """The idea's votes cast at or after ``since`` (from ix_votes_idea_created alone)."""
    return (
        select(func.count())
        .where(Vote.idea_id == Idea.id, Vote.created_at >= since)
        .correlate(Idea)
        .scalar_subquery()
    )


def recount(session: Session, idea_ids: Iterable[int], now: datetime | None = None) -> None:
    """Sets the ideas' ``recent_votes`` to their votes of the window ending ``now``."""
    ids = sorted(set(idea_ids))
    if not ids:
        return
    # The rows locked first (votes and merges lock them before changing their votes): the count,
    # a later statement, then sees every vote committed before it (PostgreSQL reads afresh at
    # each statement), and none that commits after it.
    session.execute(select(Idea.id).where(Idea.id.in_(ids)).order_by(Idea.id).with_for_update())
    session.execute(
        update(Idea)
        .where(Idea.id.in_(ids))
        .values(recent_votes=recent_votes((now or utcnow()) - WINDOW))
        .execution_options(synchronize_session=False)
    )
    for idea_id in ids:
        loaded = session.identity_map.get(identity_key(Idea, idea_id))
        if loaded is not None:
            session.expire(loaded, ["recent_votes"])


def decayed_until(session: Session) -> datetime | None:
    stored = session.get(SiteSetting, DECAYED_UNTIL)
    return datetime.fromisoformat(stored.value) if stored is not None else None


def decay(db: Database, now: datetime | None = None) -> int:
    """Recounts the ideas whose count still holds a vote that has left the window: those with a
    vote that left it since the last run (any old vote, the first time). One transaction per
    idea, so that it never waits for two ideas at once. Returns how many it recounted."""
    now = now or utcnow()
    until = now - WINDOW
    with db.reading() as session:
        since = decayed_until(session)
        aged = select(Vote.idea_id).where(Vote.created_at < until)
        if since is not None:
            aged = aged.where(Vote.created_at >= since - OVERLAP)
        stale = session.scalars(
            select(Idea.id)
            .where(Idea.id.in_(aged), Idea.recent_votes != recent_votes(until))
            .order_by(Idea.id)
        ).all()
    for idea_id in stale:
        with db.transaction() as session:
            recount(session, [idea_id], now)
    _remember(db, until)
    return len(stale)


def _remember(db: Database, until: datetime) -> None:
    value = until.astimezone(UTC).isoformat()
    try:
        with db.transaction() as session:
            stored = session.get(SiteSetting, DECAYED_UNTIL)
            if stored is None:
                session.add(SiteSetting(key=DECAYED_UNTIL, value=value))
            elif datetime.fromisoformat(stored.value) < until:  # runs may end out of order
                stored.value = value
    except IntegrityError:  # another worker's first run recorded it at the same moment
        _remember(db, until)


def next_run(after: datetime) -> datetime:
    """The first multiple of DECAY_EVERY (from midnight UTC) strictly after ``after``."""
    moment = after.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((moment - midnight) // DECAY_EVERY + 1) * DECAY_EVERY


def schedule(db: Database, now: datetime | None = None) -> None:
    """Keeps the next decay run queued; cheap when it is (one read). Its key names its time,
    so several workers queue it once."""
    if jobs.waiting(db, DECAY_JOB):
        return
    run_at = next_run(now or utcnow())
    with db.transaction() as session:
        jobs.enqueue_once(
            session, f"{DECAY_JOB}:{run_at:%Y-%m-%dT%H:%M}", DECAY_JOB, {}, run_at, max_attempts=3
        )
