"""Merges racing votes: whatever commits first, the surviving idea counts each acknowledged voter
of the pair once, and an undo gives each idea back exactly its own voters."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from ideas import merges, votes
from ideas.db import Database
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
    assert kept.vote_count == rows == len(voters)

    with db.transaction() as session:
        merges.unmerge(session, session.get_one(User, staff.id), session.get_one(Idea, source.id))
    with db.reading() as session:
        for idea in (source, target):
            own = session.scalar(
                select(func.count()).select_from(Vote).where(Vote.idea_id == idea.id)
            )
            assert session.get_one(Idea, idea.id).vote_count == own


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
