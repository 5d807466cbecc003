"""The job table: background work stored in the same transaction as its cause, claimed by
workers with a lease (a crashed worker's jobs come back when it ends), retried with backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ideas.db import Database
from ideas.models import Job, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # the default; JOB_LEASE_SECONDS
MAX_BACKOFF = timedelta(hours=1)
# Finished jobs are kept this long, then deleted (failed ones stay for a person to look at). Keys
# outlive nothing that needs them: a recurring job's key names a run time long past by then, and
# a mail's delivery is recorded in its own table.
KEEP_DONE = timedelta(days=30)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    key: str | None = None


Handler = Callable[[ClaimedJob], None]


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime | None = None,
    max_attempts: int = 8,
    key: str | None = None,
) -> Job:
    job = Job(
        kind=kind, payload=payload, run_at=run_at or utcnow(), max_attempts=max_attempts, key=key
    )
    session.add(job)
    return job


def enqueue_once(
    session: Session,
    key: str,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> bool:
    """Queues the job unless one with this key was ever queued (by this or another process);
    True when this call queued it."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(Job)
        .values(
            key=key,
            kind=kind,
            payload=payload,
            run_at=run_at or utcnow(),
            max_attempts=max_attempts,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=10 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def claim(
    db: Database, limit: int = 20, now: datetime | None = None, lease: timedelta = LEASE
) -> list[ClaimedJob]:
    """Takes up to `limit` due jobs for this worker until `lease` has passed; others skip
    them (SKIP LOCKED), and take them once it has, the worker being presumed dead."""
    now = now or utcnow()
    with db.transaction() as session:
        jobs = session.scalars(
            select(Job)
            .where(
                Job.done_at.is_(None),
                Job.failed_at.is_(None),
                Job.run_at <= now,
                or_(Job.locked_until.is_(None), Job.locked_until < now),
            )
            .order_by(Job.run_at, Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for job in jobs:
            job.locked_until = now + lease
            job.attempts += 1
            claimed.append(ClaimedJob(job.id, job.kind, dict(job.payload), job.attempts, job.key))
        return claimed


def finish(db: Database, job: ClaimedJob, error: str | None = None) -> None:
    with db.transaction() as session:
        row = session.get(Job, job.id)
        if row is None:
            return
        row.locked_until = None
        if error is None:
            row.done_at = utcnow()
            row.last_error = None
        else:
            row.last_error = error[:2000]
            if row.attempts >= row.max_attempts:
                row.failed_at = utcnow()
            else:
                row.run_at = utcnow() + backoff(row.attempts)


def run_due(
    db: Database, handlers: Mapping[str, Handler], limit: int = 20, lease: timedelta = LEASE
) -> int:
    """Runs the due jobs once; returns how many were claimed. A job not started before the
    batch's lease ends is left to whichever worker claims it next: run here too, it could be
    done twice."""
    lease_ends = utcnow() + lease
    claimed = claim(db, limit, lease=lease)
    for job in claimed:
        if utcnow() >= lease_ends:
            log.warning("the lease of a batch of jobs ended before job %s started", job.id)
            break
        handler = handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            handler(job)
        except Exception as exc:  # a failing job must not stop the others
            log.warning("job %s (%s) failed, attempt %s: %s", job.id, job.kind, job.attempts, exc)
            finish(db, job, error=f"{type(exc).__name__}: {exc}")
        else:
            finish(db, job)
    return len(claimed)


def waiting(db: Database, kind: str) -> bool:
    """A job of this kind is queued and not finished: what a recurring job's scheduler asks
    before it queues the next run (one read)."""
    with db.reading() as session:
        unfinished = select(Job.id).where(
            Job.kind == kind, Job.done_at.is_(None), Job.failed_at.is_(None)
        )
        return session.scalar(unfinished.limit(1)) is not None


def forget_done(db: Database, now: datetime | None = None) -> int:
    """Deletes the jobs finished more than KEEP_DONE ago; returns how many."""
    with db.transaction() as session:
        result = session.execute(delete(Job).where(Job.done_at < (now or utcnow()) - KEEP_DONE))
        return int(result.rowcount)  # type: ignore[attr-defined]


def pending(session: Session) -> list[Job]:
    return list(
        session.scalars(
            select(Job).where(Job.done_at.is_(None), Job.failed_at.is_(None)).order_by(Job.id)
        )
    )
