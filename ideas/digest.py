"""The weekly digest: once a week (DIGEST_SCHEDULE, UTC) each member who chose "weekly" gets one
email with the status changes on the ideas they vote for or follow since their last digest;
with nothing to say, no email.

The worker keeps one "weekly_digest" job queued for the next scheduled time (its key names that
time, so several workers queue it once). When it runs it records a Digest per member with news,
one per member and ISO week, and queues that member's mail (ideas.update_mails sends it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ideas import jobs
from ideas.db import Database
from ideas.models import Digest, Follow, Idea, StatusChange, User, Vote, utcnow
from ideas.settings import Settings, weekly_time

# A first digest, or one after weeks without news, reaches back at most this far: a member
# who turns the digest on does not get months of old news.
LOOKBACK = timedelta(days=28)


def next_run(after: datetime, schedule: str) -> datetime:
    """The first scheduled time strictly after `after`."""
    weekday, hour, minute = weekly_time(schedule)
    moment = after.astimezone(UTC)
    day = moment.date() + timedelta(days=(weekday - moment.weekday()) % 7)
    run = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    return run if run > moment else run + timedelta(days=7)


def week_of(moment: datetime) -> date:
    """The Monday of the moment's ISO week (UTC)."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def schedule(db: Database, settings: Settings, now: datetime | None = None) -> None:
    """Keeps the next weekly digest queued; cheap when it is (one read)."""
    if jobs.waiting(db, "weekly_digest"):
        return
    run_at = next_run(now or utcnow(), settings.digest_schedule)
    with db.transaction() as session:
        jobs.enqueue_once(
            session,
            f"weekly_digest:{run_at:%Y-%m-%dT%H:%M}",
            "weekly_digest",
            {"until": run_at.isoformat()},
            run_at=run_at,
        )


def fan_out(db: Database, until: datetime) -> int:
    """Records a digest and queues its mail for each weekly member with news up to `until`
    (the scheduled time, so that consecutive digests meet even when a run is late). One
    transaction per member: a retry after a crash carries on where it stopped. Returns how
    many digests it queued."""
    week = week_of(until)
    with db.reading() as session:
        members = session.scalars(
            select(User.id)
            .where(User.email_updates == "weekly", User.blocked_at.is_(None))
            .order_by(User.id)
        ).all()
    queued = 0
    for user_id in members:
        with db.transaction() as session:
            if session.get(Digest, (user_id, week)) is not None:
                continue  # this week's digest is out already
            last = session.scalar(select(func.max(Digest.until)).where(Digest.user_id == user_id))
            since = max(last, until - LOOKBACK) if last else until - timedelta(days=7)
            if not changes_for(session, user_id, since, until, limit=1):
                continue
            session.add(Digest(user_id=user_id, week=week, since=since, until=until))
            jobs.enqueue_once(
                session,
                f"digest:{user_id}:{week.isoformat()}",
                "digest_mail",
                {"user_id": user_id, "week": week.isoformat()},
            )
            queued += 1
    return queued


def changes_for(
    session: Session, user_id: int, since: datetime, until: datetime, limit: int | None = None
) -> list[StatusChange]:
    """Status changes from `since` up to `until` on the visible ideas the person votes for or
    follows, made by someone else, oldest first."""
    followed = select(Follow.idea_id).where(Follow.user_id == user_id)
    voted = select(Vote.idea_id).where(Vote.user_id == user_id)
    query = (
        select(StatusChange)
        .join(Idea, Idea.id == StatusChange.idea_id)
        .where(
            StatusChange.created_at >= since,
            StatusChange.created_at < until,
            StatusChange.actor_id != user_id,
            Idea.hidden_at.is_(None),
            or_(StatusChange.idea_id.in_(followed), StatusChange.idea_id.in_(voted)),
        )
        .order_by(StatusChange.created_at, StatusChange.id)
        .limit(limit)
    )
    return list(session.scalars(query))
