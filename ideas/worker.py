"""The worker: runs due jobs in a loop, inside the web process or as `ideas-portal worker`."""

from __future__ import annotations

import logging
import threading

from ideas import jobs, mail
from ideas.db import Database
from ideas.settings import Settings

log = logging.getLogger(__name__)


def handlers(settings: Settings) -> dict[str, jobs.Handler]:
    return {"send_mail": lambda job: mail.send(settings, job.payload, job.id)}


def run(db: Database, settings: Settings, stop: threading.Event, interval: float = 2.0) -> None:
    table = handlers(settings)
    while not stop.is_set():
        try:
            busy = jobs.run_due(db, table)
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
