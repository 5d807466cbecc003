"""The worker: runs due jobs in a loop, inside the web process or as `ideas-portal worker`."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from ideas import (
    digest,
    embeddings,
    jobs,
    mail,
    themes,
    trending,
    update_mails,
    webhooks,
    weekly,
    weekly_mails,
)
from ideas.db import Database
from ideas.settings import Settings

log = logging.getLogger(__name__)

SCHEDULE_EVERY = 60.0  # seconds between checks that the weekly jobs are queued


def handlers(db: Database, settings: Settings) -> dict[str, jobs.Handler]:
    return {
        "send_mail": lambda job: mail.deliver(db, settings, job, job.payload),
        "status_mail": lambda job: update_mails.send_status_mail(db, settings, job),
        "weekly_digest": lambda job: _digests(db, job),
        "digest_mail": lambda job: update_mails.send_digest(db, settings, job),
        themes.REBUILD_JOB: lambda job: _rebuild_themes(db, settings),
        weekly.EXPORT_JOB: lambda job: weekly_mails.handle_export(db, settings, job),
        weekly.MAIL_JOB: lambda job: weekly_mails.send(db, settings, job),
        webhooks.JOB: lambda job: webhooks.deliver(db, settings, job),
        trending.DECAY_JOB: lambda job: _decay_trending(db),
    }


def _digests(db: Database, job: jobs.ClaimedJob) -> None:
    queued = digest.fan_out(db, datetime.fromisoformat(job.payload["until"]))
    log.info("weekly digest: %s members have news", queued)


def _rebuild_themes(db: Database, settings: Settings) -> None:
    report = themes.rebuild(db, embeddings.make_shared(settings.embedding_backend).name)
    found = sum(scope.themes for scope in report.scopes)
    log.info("themes rebuilt: %s themes in %.1f s", found, report.seconds)


def _decay_trending(db: Database) -> None:
    changed = trending.decay(db)
    log.info("trending: %s ideas had votes leave the two weeks", changed)


def schedule(db: Database, settings: Settings) -> None:
    """Queues the recurring jobs' next runs (when they are not queued already) and forgets the
    jobs finished long ago (the table would grow by every mail and every run)."""
    jobs.forget_done(db)
    digest.schedule(db, settings)
    themes.schedule(db)
    trending.schedule(db)
    weekly.schedule(db, settings)


def run_once(db: Database, settings: Settings, limit: int = 1000) -> int:
    """Schedules, then runs what is due, including the jobs that those jobs queued (a digest
    queues its mails); returns how many jobs ran. For cron: `ideas-portal worker --once`."""
    schedule(db, settings)
    table = handlers(db, settings)
    lease = timedelta(seconds=settings.job_lease_seconds)
    total = 0
    while done := jobs.run_due(db, table, limit, lease):
        total += done
        if total >= limit:
            break
    return total


def run(db: Database, settings: Settings, stop: threading.Event, interval: float = 2.0) -> None:
    table = handlers(db, settings)
    lease = timedelta(seconds=settings.job_lease_seconds)
    scheduled_at = -SCHEDULE_EVERY
    while not stop.is_set():
        try:
            if time.monotonic() - scheduled_at >= SCHEDULE_EVERY:
                schedule(db, settings)
                scheduled_at = time.monotonic()
            busy = jobs.run_due(db, table, lease=lease)
        except Exception:  # the database may be away for a moment; try again
            log.exception("worker loop failed; retrying")
            busy = 0
        if not busy:
            stop.wait(interval)


def start_in_thread(db: Database, settings: Settings) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run, args=(db, settings, stop), name="ideas-worker", daemon=True
    )
    thread.start()
    return thread, stop
