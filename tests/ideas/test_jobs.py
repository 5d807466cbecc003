"""The job table: claiming with a lease, finishing with retries and backoff, running due jobs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from ideas import jobs
from ideas.models import Job, utcnow


def enqueue(db, kind="send_mail", payload=None, **kwargs) -> int:
    with db.transaction() as session:
        job = jobs.enqueue(session, kind, payload or {"n": 1}, **kwargs)
        session.flush()
        return job.id


def row(db, job_id: int) -> Job:
    with db.reading() as session:
        return session.get(Job, job_id)


def test_enqueue_is_part_of_the_callers_transaction(db) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        jobs.enqueue(session, "send_mail", {"to": "a@example.com"})
        raise RuntimeError("the change failed")
    with db.reading() as session:
        assert jobs.pending(session) == []


def test_claim_takes_due_jobs_in_order_and_counts_the_attempt(db) -> None:
    now = utcnow()
    later = enqueue(db, payload={"n": 2}, run_at=now - timedelta(seconds=1))
    first = enqueue(db, payload={"n": 1}, run_at=now - timedelta(minutes=1))
    future = enqueue(db, payload={"n": 3}, run_at=now + timedelta(minutes=2))
    claimed = jobs.claim(db, now=now)
    assert [(job.id, job.payload, job.attempts) for job in claimed] == [
        (first, {"n": 1}, 1),
        (later, {"n": 2}, 1),
    ]
    assert row(db, first).locked_until == now + jobs.LEASE
    assert row(db, future).attempts == 0
    # Three minutes on, the future job is due; the others are still leased.
    assert [job.id for job in jobs.claim(db, now=now + timedelta(minutes=3))] == [future]


def test_claim_respects_the_limit(db) -> None:
    for n in range(5):
        enqueue(db, payload={"n": n})
    now = utcnow()
    assert len(jobs.claim(db, limit=3, now=now)) == 3
    assert len(jobs.claim(db, limit=3, now=now)) == 2
    assert jobs.claim(db, now=now) == []


def test_a_claimed_job_comes_back_only_when_its_lease_expires(db) -> None:
    job_id = enqueue(db)
    now = utcnow()
    (claimed,) = jobs.claim(db, now=now)
    assert jobs.claim(db, now=now) == []
    assert jobs.claim(db, now=now + jobs.LEASE - timedelta(seconds=1)) == []
    (again,) = jobs.claim(db, now=now + jobs.LEASE + timedelta(seconds=1))
    assert again.id == claimed.id == job_id and again.attempts == 2


def test_finish_success(db) -> None:
    job_id = enqueue(db)
    (claimed,) = jobs.claim(db)
    jobs.finish(db, claimed)
    job = row(db, job_id)
    assert job.done_at is not None and job.locked_until is None and job.last_error is None
    with db.reading() as session:
        assert jobs.pending(session) == []
    assert jobs.claim(db, now=utcnow() + timedelta(days=1)) == []


def test_finish_failure_retries_with_backoff(db) -> None:
    job_id = enqueue(db)
    (claimed,) = jobs.claim(db)
    before = utcnow()
    jobs.finish(db, claimed, error="SMTP down " + "x" * 3000)
    job = row(db, job_id)
    assert job.done_at is None and job.failed_at is None and job.locked_until is None
    assert job.last_error.startswith("SMTP down") and len(job.last_error) == 2000
    assert job.run_at >= before + jobs.backoff(1)
    assert jobs.claim(db, now=before) == []
    (again,) = jobs.claim(db, now=job.run_at)
    assert again.attempts == 2
    jobs.finish(db, again, error="still down")
    assert row(db, job_id).run_at >= before + jobs.backoff(2)


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [jobs.backoff(n).total_seconds() for n in (0, 1, 2, 3, 4)] == [10, 10, 20, 40, 80]
    assert jobs.backoff(30) == jobs.MAX_BACKOFF == timedelta(hours=1)


def test_max_attempts_marks_the_job_failed(db) -> None:
    job_id = enqueue(db, max_attempts=2)
    moment = utcnow()
    for _ in range(2):
        (claimed,) = jobs.claim(db, now=moment)
        jobs.finish(db, claimed, error="boom")
        moment = row(db, job_id).run_at + timedelta(seconds=1)
    job = row(db, job_id)
    assert job.failed_at is not None and job.attempts == 2 and job.last_error == "boom"
    assert jobs.claim(db, now=utcnow() + timedelta(days=1)) == []
    with db.reading() as session:
        assert jobs.pending(session) == []


def test_finishing_a_vanished_job_is_harmless(db) -> None:
    enqueue(db)
    (claimed,) = jobs.claim(db)
    with db.transaction() as session:
        session.delete(session.get(Job, claimed.id))
    jobs.finish(db, claimed)


def test_run_due_keeps_going_past_a_failing_handler(db, caplog) -> None:
    bad = enqueue(db, kind="explode")
    good = enqueue(db, kind="record", payload={"n": 7})
    unknown = enqueue(db, kind="nobody-handles-this")
    seen: list[int] = []

    def explode(job: jobs.ClaimedJob) -> None:
        raise ValueError("broken handler")

    handlers = {"explode": explode, "record": lambda job: seen.append(job.payload["n"])}
    assert jobs.run_due(db, handlers) == 3
    assert seen == [7]
    assert row(db, good).done_at is not None
    assert row(db, bad).last_error == "ValueError: broken handler"
    assert row(db, bad).done_at is None and row(db, bad).attempts == 1
    assert "LookupError" in row(db, unknown).last_error
    assert "broken handler" in caplog.text
    # The failures wait for their backoff.
    assert jobs.run_due(db, handlers) == 0


def test_parallel_workers_never_claim_the_same_job(db) -> None:
    for n in range(30):
        enqueue(db, payload={"n": n})
    barrier = threading.Barrier(4, timeout=30)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            mine: list[int] = []
            while batch := jobs.claim(db, limit=3):
                mine += [job.id for job in batch]
            claimed.append(mine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    every = [job_id for mine in claimed for job_id in mine]
    assert len(every) == len(set(every)) == 30
    with db.reading() as session:
        assert set(session.scalars(select(Job.attempts))) == {1}


def test_a_job_not_begun_before_its_batch_lease_ends_is_left_to_the_next_claim(db) -> None:
    """Once the lease is over another worker may have claimed the rest of the batch: running
    it here as well could do it twice."""
    slow, waiting = enqueue(db, kind="slow"), enqueue(db, kind="record")
    ran: list[int] = []

    def take_longer_than_the_lease(job: jobs.ClaimedJob) -> None:
        ran.append(job.id)
        threading.Event().wait(0.5)

    handlers = {"slow": take_longer_than_the_lease, "record": lambda job: ran.append(job.id)}
    assert jobs.run_due(db, handlers, lease=timedelta(seconds=0.2)) == 2
    assert ran == [slow]
    assert row(db, slow).done_at is not None
    assert row(db, waiting).done_at is None
    (again,) = jobs.claim(db)  # its lease is over: it is free to take
    assert again.id == waiting


def test_jobs_finished_long_ago_are_forgotten_failed_and_waiting_ones_stay(db) -> None:
    now = utcnow()
    old, recent, failed, waiting = (enqueue(db) for _ in range(4))
    with db.transaction() as session:
        session.get_one(Job, old).done_at = now - jobs.KEEP_DONE - timedelta(minutes=1)
        session.get_one(Job, recent).done_at = now - jobs.KEEP_DONE + timedelta(minutes=1)
        session.get_one(Job, failed).failed_at = now - 2 * jobs.KEEP_DONE
    assert jobs.forget_done(db, now) == 1
    assert row(db, old) is None
    assert all(row(db, job_id) is not None for job_id in (recent, failed, waiting))
