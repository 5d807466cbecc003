"""The worker (`ideas-portal worker`) killed with kill -9 in the middle of a batch of emails and
webhooks, then restarted: each email and each webhook delivery arrives, and all copies of one
carry the same key, its Message-ID or delivery id, so a receiver keeps each exactly once. A
worker killed after the server took a mail (or the receiver a webhook) but before it recorded
that sends it again after the restart, under the same key: at most one such copy per kill. A
dead mail server or webhook receiver only delays delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import select

from ideas import accounts, boards, webhooks
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Idea, Job, User
from tests.conftest import Collector, Receiver, free_port
from tests.load.conftest import ROOT, LoadSize, wait_until

KINDS = ("send_mail", "status_mail", webhooks.JOB)
LEASE_SECONDS = 2  # how soon the restarted worker takes up the killed one's batch


def enqueue_batch(db: Database, hook_url: str, count: int) -> tuple[set[tuple[str, str]], set[int]]:
    """Through the domain: `count` ideas move to "planned" (a webhook delivery each, and an
    email to each author) and their authors ask for a password reset (an email each). Returns
    the emails expected, as (to, subject), and the ideas the webhooks must name."""
    with db.transaction() as session:
        admin = accounts.create_user(session, "admin@example.com", "Admin", None, "admin")
        webhooks.create(session, admin, hook_url + "/hook", ["idea.status_changed"])
        board = boards.create_board(session, None, "Batch", "", None)
        authors = [
            accounts.create_user(session, f"author{n}@example.com", f"Author {n}", None)
            for n in range(count)
        ]
        made = [
            idea_rules.submit(session, author, board, f"Batch idea {n}", "Planned soon.")
            for n, author in enumerate(authors)
        ]
        session.flush()
        admin_id, idea_ids = admin.id, [idea.id for idea in made]
    with db.transaction() as session:
        admin = session.get_one(User, admin_id)
        for idea_id in idea_ids:
            idea_rules.set_status(session, admin, session.get_one(Idea, idea_id), "planned")
        for n in range(count):
            accounts.request_password_reset(
                session, f"author{n}@example.com", "secret", "http://127.0.0.1", "en"
            )
    mails = {(f"author{n}@example.com", f"“Batch idea {n}” is now Planned") for n in range(count)}
    mails |= {(f"author{n}@example.com", "Reset your password") for n in range(count)}
    return mails, set(idea_ids)


def start_worker(database_url: str, smtp_port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "load-test-secret",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "LOG_LEVEL": "WARNING",
        "EMBEDDING_BACKEND": "hashing",
    }
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "web.cli", "worker"], env=env, cwd=ROOT, stdout=log, stderr=log
        )


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)  # the worker's Ctrl-C: it stops between jobs
        worker.wait(timeout=30)


def undone(db: Database) -> int:
    """The batch's jobs not yet done (none may fail)."""
    with db.reading() as session:
        rows = session.scalars(select(Job).where(Job.kind.in_(KINDS))).all()
    assert not [row.last_error for row in rows if row.failed_at is not None]
    return sum(row.done_at is None for row in rows)


def mail_copies(collector: Collector) -> dict[tuple[str, str], list[str]]:
    """The Message-ID of every copy received, by (to, subject)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for message in collector.messages():
        found[(str(message["To"]), str(message["Subject"]))].append(str(message["Message-ID"]))
    return found


def webhook_copies(receiver: Receiver) -> dict[int, list[str]]:
    """The delivery id of every copy received, by the idea it names; each copy's body is the
    one its delivery id stands for."""
    found: dict[int, list[str]] = defaultdict(list)
    bodies: dict[str, bytes] = {}
    for request in receiver.requests:
        delivery_id = request.headers["x-ideas-delivery"]
        assert bodies.setdefault(delivery_id, request.body) == request.body
        payload = json.loads(request.body)
        assert payload["id"] == delivery_id
        found[payload["data"]["idea"]["id"]].append(delivery_id)
    return found


class KillingCollector(Collector):
    """Takes each mail, and kills the worker (kill -9) as the `kill_at`-th arrives: after the
    mail is here, before the worker hears it was taken."""

    def __init__(self) -> None:
        super().__init__()
        self.kill_at = 0
        self.worker: subprocess.Popen[bytes] | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.envelopes) == self.kill_at and self.worker is not None:
            self.worker.kill()
        return answer


def test_a_worker_killed_mid_batch_delivers_each_email_and_webhook_once_by_key(
    db: Database, database_url: str, tmp_path: Path, size: LoadSize
) -> None:
    count = size.clients  # ideas moved: as many webhooks, twice as many emails
    collector = KillingCollector()
    smtp = Controller(collector, hostname="127.0.0.1", port=free_port())
    receiver = Receiver()
    smtp.start()
    receiver.start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        mails, idea_ids = enqueue_batch(db, receiver.url, count)
        # First kill: as the receiver gets the count/3-th webhook, before it answers.
        worker = first = start_worker(database_url, smtp.port, tmp_path)
        receiver.on_request = lambda: first.kill() if len(receiver.requests) == count // 3 else None
        first.wait(timeout=120)
        assert first.returncode == -signal.SIGKILL
        # Second kill: in the middle of the password reset mails, the last in the batch.
        collector.kill_at = count + count // 2
        worker = collector.worker = second = start_worker(database_url, smtp.port, tmp_path)
        second.wait(timeout=120)
        assert second.returncode == -signal.SIGKILL
        # A third worker finishes the batch.
        worker = start_worker(database_url, smtp.port, tmp_path)
        wait_until(lambda: undone(db) == 0, "the batch's jobs to be done")
        stop(worker)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        receiver.stop()
        smtp.stop()

    received_mails = mail_copies(collector)
    assert set(received_mails) == mails
    assert all(len(set(ids)) == 1 for ids in received_mails.values()), received_mails
    received_hooks = webhook_copies(receiver)
    assert set(received_hooks) == idea_ids
    assert all(len(set(ids)) == 1 for ids in received_hooks.values()), received_hooks
    # One copy each, but for at most the one in flight at each kill.
    mail_extra = sum(len(ids) for ids in received_mails.values()) - len(mails)
    hook_extra = sum(len(ids) for ids in received_hooks.values()) - len(idea_ids)
    assert mail_extra + hook_extra <= 2, (mail_extra, hook_extra)
    print(
        f"\n{len(mails)} mails, {len(idea_ids)} webhooks, 2 kills: {mail_extra} mail and "
        f"{hook_extra} webhook copies sent again under the same key"
    )


def test_a_dead_mail_server_or_webhook_receiver_only_delays_delivery(
    fault_run: None, db: Database, database_url: str, tmp_path: Path
) -> None:
    smtp_port, hook_port = free_port(), free_port()  # nothing listens there yet
    mails, idea_ids = enqueue_batch(db, f"http://127.0.0.1:{hook_port}", 4)
    collector = Collector()
    smtp = Controller(collector, hostname="127.0.0.1", port=smtp_port)
    receiver: Receiver | None = None
    worker = start_worker(database_url, smtp_port, tmp_path)
    try:

        def all_failed_once() -> bool:
            with db.reading() as session:
                rows = session.scalars(select(Job).where(Job.kind.in_(KINDS))).all()
            return all(row.attempts >= 1 and row.locked_until is None for row in rows)

        wait_until(all_failed_once, "every job to fail once on the dead servers")
        with db.reading() as session:
            rows = session.scalars(select(Job).where(Job.kind.in_(KINDS))).all()
            assert all(row.done_at is None and row.last_error for row in rows)
        smtp.start()
        receiver = Receiver(port=hook_port)
        receiver.start()
        wait_until(lambda: undone(db) == 0, "the jobs to be retried once the servers are back")
        stop(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if receiver is not None:
            receiver.stop()
            smtp.stop()
    assert receiver is not None
    received_mails = mail_copies(collector)
    assert set(received_mails) == mails
    assert all(len(ids) == 1 for ids in received_mails.values())
    received_hooks = webhook_copies(receiver)
    assert set(received_hooks) == idea_ids
    assert all(len(ids) == 1 for ids in received_hooks.values())
