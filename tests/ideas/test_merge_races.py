"""Merges racing votes: whatever commits first, the surviving idea counts each acknowledged voter
of the pair once, and an undo gives each idea back exactly its own voters."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from ideas import accounts, merges, votes
from ideas.db import ATTEMPTS, Database
from ideas.errors import Conflict, DomainError
from ideas.models import Idea, User, Vote

VOTERS = 16


def test_votes_racing_a_merge_are_counted_once_on_the_surviving_idea(
    db: Database, make_idea, make_user, make_board, monkeypatch
) -> None:
    sync_up = merges._sync_up

    def slow_sync_up(session, idea_id):  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # widens the window in which a vote could slip in unseen
        sync_up(session, idea_id)

    monkeypatch.setattr(merges, "_sync_up", slow_sync_up)
    board = make_board()
    source, target = make_idea("Dark mode", board=board), make_idea("Night theme", board=board)
    staff = make_user("staff")
    people = [make_user() for _ in range(VOTERS)]
    acknowledged: dict[str, set[int]] = {"source": set(), "target": set()}
    lock = threading.Lock()
    start = threading.Barrier(2 * VOTERS + 1)

    def vote(person: User, name: str, idea: Idea) -> None:
        start.wait()
        time.sleep(0.1)  # while the merge is under way
        try:
            with db.transaction() as session:
                votes.vote(
                    session, session.get_one(User, person.id), session.get_one(Idea, idea.id)
                )
        except DomainError:  # the idea was merged first: refused, not acknowledged
            return
        with lock:
            acknowledged[name].add(person.id)

    def merge() -> None:
        start.wait()
        with db.transaction() as session:
            merges.merge(
                session,
                session.get_one(User, staff.id),
                session.get_one(Idea, source.id),
                session.get_one(Idea, target.id),
            )

    # Every person votes for the source; every other one for the target as well.
    threads = [threading.Thread(target=merge)]
    for number, person in enumerate(people):
        threads.append(threading.Thread(target=vote, args=(person, "source", source)))
        chosen = target if number % 2 else source
        threads.append(threading.Thread(target=vote, args=(person, "target", chosen)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    authors = {source.author_id, target.author_id}  # authors vote for their own idea
    voters = acknowledged["source"] | acknowledged["target"] | authors
    with db.reading() as session:
        kept = session.get_one(Idea, target.id)
        rows = session.scalar(select(func.count()).select_from(Vote).where(Vote.idea_id == kept.id))
        assert session.get_one(Idea, source.id).merged_into_id == kept.id
    assert kept.vote_count == kept.recent_votes == rows == len(voters)

    with db.transaction() as session:
        merges.unmerge(session, session.get_one(User, staff.id), session.get_one(Idea, source.id))
    with db.reading() as session:
        for idea in (source, target):
            own = session.scalar(
                select(func.count()).select_from(Vote).where(Vote.idea_id == idea.id)
            )
            row = session.get_one(Idea, idea.id)
            assert row.vote_count == row.recent_votes == own


def test_an_unvote_racing_the_undo_of_a_merge_into_that_idea_waits_for_it(
    db: Database, make_idea, make_user, make_board, monkeypatch
) -> None:
    """The unvote of an idea takes back the votes on the ideas merged into it, while the undo of
    one of those merges changes both ideas: whichever locks first, the other waits (no deadlock,
    which PostgreSQL would break by failing one of them)."""
    unvote_tree = merges.unvote_tree

    def slow_unvote_tree(session, user_id, idea_id):  # type: ignore[no-untyped-def]
        time.sleep(0.5)  # holding the idea's lock, before touching the merged idea's row
        return unvote_tree(session, user_id, idea_id)

    monkeypatch.setattr(merges, "unvote_tree", slow_unvote_tree)
    board = make_board()
    source = make_idea("Dark mode", board=board)  # the smaller id: locked first by id order
    target = make_idea("Night theme", board=board)
    staff, person = make_user("staff"), make_user()
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, person.id), session.get_one(Idea, source.id))
    with db.transaction() as session:
        merges.merge(
            session,
            session.get_one(User, staff.id),
            session.get_one(Idea, source.id),
            session.get_one(Idea, target.id),
        )
    failures: list[BaseException] = []

    def unvote() -> None:
        try:
            with db.transaction() as session:
                votes.unvote(
                    session, session.get_one(User, person.id), session.get_one(Idea, target.id)
                )
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    def unmerge() -> None:
        time.sleep(0.2)  # while the unvote holds the target's lock
        try:
            with db.transaction() as session:
                merges.unmerge(
                    session, session.get_one(User, staff.id), session.get_one(Idea, source.id)
                )
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=unvote), threading.Thread(target=unmerge)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures
    with db.reading() as session:
        for idea in (source, target):
            rows = session.scalars(select(Vote.user_id).where(Vote.idea_id == idea.id)).all()
            assert person.id not in rows
            assert session.get_one(Idea, idea.id).vote_count == len(rows)
        assert session.get_one(Idea, source.id).merged_into_id is None


def test_a_merge_that_read_an_idea_before_it_was_merged_elsewhere_cannot_deadlock_an_unvote(
    db: Database, make_idea, make_user, make_board, monkeypatch
) -> None:
    """Two of the team merge A into B at once; one read A before the other's merge of it
    committed, and meanwhile someone's unvote of B (which takes back their vote on A too) holds
    B. That late merge must not hold A while waiting for B: it finds A merged once it locks it,
    and is refused (409) without waiting."""
    surviving, unvote_tree = merges.surviving, merges.unvote_tree

    def late_surviving(session, idea):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "stale-merge":
            time.sleep(0.6)  # staff's merge, between reading A and locking it
        return surviving(session, idea)

    def slow_unvote_tree(session, user_id, idea_id):  # type: ignore[no-untyped-def]
        time.sleep(0.5)  # holding B's lock, before touching A's row
        return unvote_tree(session, user_id, idea_id)

    monkeypatch.setattr(merges, "surviving", late_surviving)
    monkeypatch.setattr(merges, "unvote_tree", slow_unvote_tree)
    board = make_board()
    first = make_idea("Dark mode", board=board)  # A: the smaller id, locked first by id order
    second = make_idea("Night theme", board=board)  # B
    staff, person = make_user("staff"), make_user()
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, person.id), session.get_one(Idea, first.id))
    outcomes: dict[str, BaseException | None] = {}

    def run(name: str, delay: float, work) -> None:  # type: ignore[no-untyped-def]
        time.sleep(delay)
        try:
            with db.transaction() as session:
                work(session, session.get_one(User, staff.id))
            outcomes[name] = None
        except BaseException as error:  # noqa: BLE001 - reported below
            outcomes[name] = error

    def stale_merge(session, actor) -> None:  # type: ignore[no-untyped-def]
        source, target = session.get_one(Idea, first.id), session.get_one(Idea, second.id)
        merges.merge(session, actor, source, target)

    def merge_first_into_second(session, actor) -> None:  # type: ignore[no-untyped-def]
        merges.merge(
            session, actor, session.get_one(Idea, first.id), session.get_one(Idea, second.id)
        )

    def unvote_second(session, actor) -> None:  # type: ignore[no-untyped-def]
        votes.unvote(session, session.get_one(User, person.id), session.get_one(Idea, second.id))

    threads = [
        threading.Thread(target=run, args=("stale", 0, stale_merge), name="stale-merge"),
        threading.Thread(target=run, args=("merge", 0.1, merge_first_into_second)),
        threading.Thread(target=run, args=("unvote", 0.3, unvote_second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One merge lands (on PostgreSQL the other; SQLite serialises the writers from their
    # start, so there the late one lands), the other is refused, and the unvote goes through.
    assert outcomes["unvote"] is None, outcomes
    landed = [outcome for outcome in (outcomes["stale"], outcomes["merge"]) if outcome is None]
    refused = [o for o in (outcomes["stale"], outcomes["merge"]) if isinstance(o, Conflict)]
    assert len(landed) == len(refused) == 1, outcomes
    with db.reading() as session:
        assert session.get_one(Idea, first.id).merged_into_id == second.id
        for idea in (first, second):
            rows = session.scalars(select(Vote.user_id).where(Vote.idea_id == idea.id)).all()
            assert person.id not in rows
            assert session.get_one(Idea, idea.id).vote_count == len(rows)


def _wait_until_blocked_by(db: Database, pid: int) -> None:
    """Until another transaction waits for a lock that the backend `pid` holds (pg_locks and
    pg_blocking_pids are read live, on a connection of their own)."""
    for _ in range(3000):  # a bound for a request that never came, not a speed check
        with db.engine.connect() as probe:
            waiting = probe.execute(
                text(
                    "SELECT count(*) FROM pg_locks"
                    " WHERE NOT granted AND :pid = ANY(pg_blocking_pids(pid))"
                ),
                {"pid": pid},
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the undo never waited for the other transaction's lock")


def test_an_undo_ended_by_a_deadlock_runs_again_and_lands(
    db: Database, app: Any, make_idea, make_user, make_board, caplog
) -> None:
    """The undo of a merge locks the surviving idea, then the merged one. Another transaction
    that holds the merged idea and then asks for the surviving one makes a deadlock, which
    PostgreSQL breaks by ending one of the two: here the undo (the other waits 10 minutes before
    it looks for deadlocks, the undo 1 second). The undo's request runs its transaction again
    once the other has committed, and answers 200 instead of a 503."""
    if db.is_sqlite:
        pytest.skip(
            "SQLite serialises writing transactions (BEGIN IMMEDIATE): none holds a row lock "
            "while waiting for another's, so there is no deadlock to break"
        )
    board = make_board()
    source, target = make_idea("Dark mode", board=board), make_idea("Night theme", board=board)
    staff = make_user("staff")
    with db.transaction() as session:
        merges.merge(
            session,
            session.get_one(User, staff.id),
            session.get_one(Idea, source.id),
            session.get_one(Idea, target.id),
        )
        token = accounts.create_api_token(session, session.get_one(User, staff.id))
    answers: list[Any] = []

    def undo() -> None:
        answers.append(
            TestClient(app).post(
                f"/api/v1/ideas/{source.id}/unmerge", headers={"Authorization": f"Bearer {token}"}
            )
        )

    thread = threading.Thread(target=undo)
    with caplog.at_level(logging.INFO, logger="ideas.db"), db.engine.connect() as other:
        with other.begin():
            other.execute(text("SET LOCAL deadlock_timeout = '10min'"))
            other.execute(select(Idea.id).where(Idea.id == source.id).with_for_update())
            thread.start()
            _wait_until_blocked_by(db, other.execute(text("SELECT pg_backend_pid()")).scalar_one())
            # The undo holds the surviving idea and waits for the merged one: now the opposite.
            other.execute(select(Idea.id).where(Idea.id == target.id).with_for_update())
        thread.join()

    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == source.id
    assert "SQLSTATE 40P01: the transaction runs again (2 of 3)" in caplog.text
    with db.reading() as session:
        assert session.get_one(Idea, source.id).merged_into_id is None
        assert merges.active_merge(session, source.id) is None


def test_a_merge_or_undo_still_ended_after_its_last_run_is_a_clean_503(
    db: Database, app: Any, make_idea, make_user, make_board, monkeypatch
) -> None:
    board = make_board()
    source, target = make_idea("Dark mode", board=board), make_idea("Night theme", board=board)
    staff = make_user("staff")
    with db.transaction() as session:
        token = accounts.create_api_token(session, session.get_one(User, staff.id))
    runs = 0

    def deadlocked(*args: Any) -> None:
        nonlocal runs
        runs += 1
        raise OperationalError("SELECT ... FOR UPDATE", {}, psycopg.errors.DeadlockDetected())

    monkeypatch.setattr(merges, "merge", deadlocked)
    monkeypatch.setattr(merges, "unmerge", deadlocked)
    client, bearer = TestClient(app), {"Authorization": f"Bearer {token}"}
    for path, body in (
        (f"/api/v1/ideas/{source.id}/merge", {"into": target.id}),
        (f"/api/v1/ideas/{source.id}/unmerge", {}),
    ):
        runs = 0
        answer = client.post(path, json=body, headers=bearer)
        assert answer.status_code == 503
        assert answer.json() == {
            "error": "The service is briefly unavailable. Please try again in a moment."
        }
        assert runs == ATTEMPTS
