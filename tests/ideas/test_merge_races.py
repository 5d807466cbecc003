"""Merges racing votes: whatever commits first, the surviving idea counts each acknowledged voter
of the pair once, and an undo gives each idea back exactly its own voters."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from ideas import merges, votes
from ideas.db import Database
from ideas.errors import DomainError
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
    assert kept.vote_count == rows == len(voters)

    with db.transaction() as session:
        merges.unmerge(session, session.get_one(User, staff.id), session.get_one(Idea, source.id))
    with db.reading() as session:
        for idea in (source, target):
            own = session.scalar(
                select(func.count()).select_from(Vote).where(Vote.idea_id == idea.id)
            )
            assert session.get_one(Idea, idea.id).vote_count == own
