"""Votes: once per person, the board's budget, and both under concurrent use."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from ideas import follows, trending, votes
from ideas import ideas as idea_rules
from ideas.errors import Conflict, Forbidden
from ideas.models import Board, Idea, User, Vote, utcnow


def vote(db, user, idea) -> votes.VoteState:
    with db.transaction() as session:
        return votes.vote(session, session.get(User, user.id), session.get(Idea, idea.id))


def unvote(db, user, idea) -> votes.VoteState:
    with db.transaction() as session:
        return votes.unvote(session, session.get(User, user.id), session.get(Idea, idea.id))


def counts(db, idea) -> tuple[int, int]:
    """The idea's vote_count and its number of Vote rows."""
    with db.reading() as session:
        return (
            session.get(Idea, idea.id).vote_count,
            session.scalar(select(func.count()).where(Vote.idea_id == idea.id)) or 0,
        )


def ideas_on(db, board, author, n: int) -> list[Idea]:
    with db.transaction() as session:
        user, row = session.get(User, author.id), session.get(Board, board.id)
        return [
            idea_rules.submit(session, user, row, f"Idea number {i} for voting", "")
            for i in range(n)
        ]


def set_budget(db, board, budget: int | None) -> None:
    """The team sets the budget after the ideas exist (their authors' votes came first)."""
    with db.transaction() as session:
        session.execute(update(Board).where(Board.id == board.id).values(vote_budget=budget))


def test_voting_twice_counts_once_and_follows(db, make_user, make_idea) -> None:
    voter = make_user()
    idea = make_idea()
    assert counts(db, idea) == (1, 1)  # the author's vote
    first, second = vote(db, voter, idea), vote(db, voter, idea)
    assert first == second == votes.VoteState(votes=2, voted=True, remaining=None)
    assert counts(db, idea) == (2, 2)
    with db.reading() as session:
        assert votes.has_voted(session, voter, idea)
        assert not votes.has_voted(session, None, idea)
        assert follows.is_following(session, voter, idea.id)


def test_unvote_and_the_count_never_goes_negative(db, make_user, make_idea) -> None:
    author, voter = make_user(), make_user()
    idea = make_idea(author=author)
    vote(db, voter, idea)
    assert unvote(db, voter, idea) == votes.VoteState(votes=1, voted=False, remaining=None)
    assert unvote(db, voter, idea).votes == 1  # nothing to take back
    assert unvote(db, author, idea).votes == 0
    assert unvote(db, author, idea).votes == 0
    assert counts(db, idea) == (0, 0)
    with db.reading() as session:
        assert not votes.has_voted(session, voter, idea)
        # Taking a vote back does not unfollow.
        assert follows.is_following(session, voter, idea.id)


def test_blocked_users_cannot_vote_or_unvote(db, make_user, make_idea) -> None:
    voter = make_user()
    idea = make_idea()
    vote(db, voter, idea)
    with db.transaction() as session:
        session.get(User, voter.id).blocked_at = utcnow()
    with pytest.raises(Forbidden):
        vote(db, voter, idea)
    with pytest.raises(Forbidden):
        unvote(db, voter, idea)
    assert counts(db, idea) == (2, 2)


def test_budget_conflict_has_a_clear_message(db, make_user, make_board) -> None:
    author, voter, board = make_user("staff"), make_user(), make_board()
    a, b, c = ideas_on(db, board, author, 3)
    set_budget(db, board, 2)
    assert vote(db, voter, a).remaining == 1
    assert vote(db, voter, b).remaining == 0
    with pytest.raises(Conflict) as caught:
        vote(db, voter, c)
    message = caught.value.message
    assert message.params == {"n": 2}
    assert message.render(lambda text: text) == (
        "No votes left on this board (2 per person). Take one back to vote here."
    )
    assert counts(db, c) == (1, 1)
    # Voting again for an idea already voted for is no new vote, so no conflict.
    assert vote(db, voter, a) == votes.VoteState(votes=2, voted=True, remaining=0)
    # Taking one back frees it.
    assert unvote(db, voter, a).remaining == 1
    assert vote(db, voter, c).remaining == 0
    with db.reading() as session:
        board_row = session.get(Board, board.id)
        assert votes.active_votes(session, voter, board_row) == 2
        assert votes.remaining(session, voter, board_row) == 0
        assert votes.remaining(session, None, board_row) is None


def test_the_budget_is_per_board(db, make_user, make_board) -> None:
    author, voter = make_user("staff"), make_user()
    small, other = make_board(), make_board()
    (on_small,) = ideas_on(db, small, author, 1)
    (on_other,) = ideas_on(db, other, author, 1)
    set_budget(db, small, 1)
    set_budget(db, other, 1)
    vote(db, voter, on_small)
    assert vote(db, voter, on_other).remaining == 0
    with db.reading() as session:
        assert votes.remaining(session, voter, session.get(Board, small.id)) == 0


def test_votes_on_shipped_or_declined_ideas_are_given_back(db, make_user, make_board) -> None:
    staff, voter, board = make_user("staff"), make_user(), make_board()
    shipped, declined, planned, fresh = ideas_on(db, board, staff, 4)
    set_budget(db, board, 2)
    vote(db, voter, shipped)
    vote(db, voter, declined)
    with pytest.raises(Conflict):
        vote(db, voter, fresh)
    with db.transaction() as session:
        actor = session.get(User, staff.id)
        for idea, status in ((shipped, "shipped"), (declined, "declined"), (planned, "planned")):
            idea_rules.set_status(session, actor, session.get(Idea, idea.id), status)
    with db.reading() as session:
        assert votes.remaining(session, voter, session.get(Board, board.id)) == 2
    vote(db, voter, planned)  # planned still counts
    assert vote(db, voter, fresh).remaining == 0
    # The given-back votes still show on the closed ideas.
    assert counts(db, shipped) == (2, 2) and counts(db, declined) == (2, 2)


def test_remaining_without_a_budget_is_none(db, make_user, make_board) -> None:
    voter, board = make_user(), make_board()
    with db.reading() as session:
        assert votes.remaining(session, voter, session.get(Board, board.id)) is None


# Properties ---------------------------------------------------------------------------------


@pytest.fixture
def voting_crowd(db, make_user, make_board):
    """Four people (made once per test: hashing passwords is slow) and a board."""
    return [make_user() for _ in range(4)], make_board()


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=12))
def test_vote_count_equals_distinct_voters(db, voting_crowd, steps) -> None:
    people, board = voting_crowd
    with db.transaction() as session:
        author, row = session.get(User, people[0].id), session.get(Board, board.id)
        idea = idea_rules.submit(session, author, row, "An idea to vote on", "")
    voters = {0}  # the author voted on submitting
    for index, cast in steps:
        state = vote(db, people[index], idea) if cast else unvote(db, people[index], idea)
        voters = voters | {index} if cast else voters - {index}
        assert state.voted == cast
        assert state.votes == len(voters)
    assert counts(db, idea) == (len(voters), len(voters))


# Concurrency --------------------------------------------------------------------------------


def run_threads(workers: list, timeout: float = 60) -> list[BaseException]:
    """Starts every worker behind one barrier and returns what they raised unexpectedly."""
    barrier = threading.Barrier(len(workers), timeout=timeout)
    errors: list[BaseException] = []

    def run(work) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a voter thread hangs"
    return errors


def test_parallel_votes_for_the_last_budget_vote_give_exactly_one(
    db, make_user, make_board
) -> None:
    staff, voter, board = make_user("staff"), make_user(), make_board()
    ideas = ideas_on(db, board, staff, 6)
    set_budget(db, board, 1)
    outcomes: list[str] = []

    def attempt(idea: Idea):
        def work() -> None:
            try:
                vote(db, voter, idea)
                outcomes.append("voted")
            except Conflict:
                outcomes.append("conflict")

        return work

    assert run_threads([attempt(idea) for idea in ideas]) == []
    assert sorted(outcomes) == ["conflict"] * 5 + ["voted"]
    with db.reading() as session:
        assert votes.active_votes(session, voter, session.get(Board, board.id)) == 1
    assert sum(counts(db, idea)[0] for idea in ideas) == 6 + 1


def test_parallel_voting_and_unvoting_keeps_counts_and_budgets(db, make_user, make_board):
    budget = 2
    staff = make_user("staff")
    people = [make_user() for _ in range(3)]
    limited, open_board = make_board(), make_board()
    ideas = ideas_on(db, limited, staff, 4) + ideas_on(db, open_board, staff, 1)
    set_budget(db, limited, budget)

    def voter(person: User, seed: int):
        rng = random.Random(seed)

        def work() -> None:
            for _ in range(12):
                idea = rng.choice(ideas)
                try:
                    if rng.random() < 0.65:
                        vote(db, person, idea)
                    else:
                        unvote(db, person, idea)
                except Conflict:
                    pass  # the budget is used up: expected

        return work

    # Two threads per person, so one person's votes race each other for the budget.
    workers = [voter(person, seed) for seed, person in enumerate(people * 2)]
    assert run_threads(workers) == []
    for idea in ideas:
        vote_count, rows = counts(db, idea)
        assert vote_count == rows
    with db.reading() as session:
        board_row = session.get(Board, limited.id)
        for person in people:
            assert votes.active_votes(session, person, board_row) <= budget
        # Everyone's votes are unique per idea.
        pairs = session.execute(select(Vote.idea_id, Vote.user_id)).all()
        assert len(pairs) == len(set(pairs))


def test_the_trending_decay_racing_votes_and_unvotes_leaves_exact_recent_counts(
    db, make_user, make_board
) -> None:
    staff, board = make_user("staff"), make_board()
    people = [make_user() for _ in range(3)]
    ideas = ideas_on(db, board, staff, 4)
    for person in people:
        for idea in ideas:
            vote(db, person, idea)
    with db.transaction() as session:  # three weeks pass: every count is stale until a decay
        session.execute(update(Vote).values(created_at=utcnow() - timedelta(days=21)))

    def voter(person: User, seed: int):
        rng = random.Random(seed)

        def work() -> None:
            for _ in range(10):
                (vote if rng.random() < 0.5 else unvote)(db, person, rng.choice(ideas))

        return work

    def decay() -> None:
        for _ in range(3):
            trending.decay(db)

    assert run_threads([voter(person, n) for n, person in enumerate(people)] + [decay]) == []
    since = utcnow() - trending.WINDOW
    with db.reading() as session:
        for idea in ideas:
            rows = session.scalar(
                select(func.count()).where(Vote.idea_id == idea.id, Vote.created_at >= since)
            )
            assert session.get_one(Idea, idea.id).recent_votes == rows


def test_parallel_first_votes_on_one_idea_count_once_each(db, make_user, make_idea):
    people = [make_user() for _ in range(3)]
    idea = make_idea()
    # Each person votes from two threads at once: only one of the two may count.
    workers = [lambda person=person: vote(db, person, idea) for person in people * 2]
    assert run_threads(workers) == []
    assert counts(db, idea) == (4, 4)


def test_submitting_with_no_votes_left_posts_the_idea_without_a_vote(
    db, make_user, make_board, make_idea
) -> None:
    member, board = make_user(), make_board(vote_budget=1)
    make_idea(title="The first idea on a small board", author=member, board=board)
    second = make_idea(title="The second idea on a small board", author=member, board=board)
    with db.reading() as session:
        assert session.get(Idea, second.id).vote_count == 0
        assert follows.is_following(session, member, second.id)
