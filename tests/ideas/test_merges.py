"""Merges: votes counted once per person across an idea's tree, follows carried, comments shown,
chains resolved, refusals, and undo restoring exactly what was there."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ideas import comments, follows, merges, votes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.errors import Conflict, DomainError, Forbidden, ValidationError
from ideas.models import Board, Follow, Idea, Merge, Notification, User, Vote


def _load(session: Any, *ideas: Idea) -> list[Idea]:
    return [session.get_one(Idea, idea.id) for idea in ideas]


def _merge(db: Database, actor: User, source: Idea, target: Idea) -> None:
    with db.transaction() as session:
        s, t = _load(session, source, target)
        merges.merge(session, session.get_one(User, actor.id), s, t)


def _unmerge(db: Database, actor: User, source: Idea) -> None:
    with db.transaction() as session:
        merges.unmerge(session, session.get_one(User, actor.id), session.get_one(Idea, source.id))


def _vote(db: Database, user: User, idea: Idea, cast: bool = True) -> None:
    with db.transaction() as session:
        target = session.get_one(Idea, idea.id)
        person = session.get_one(User, user.id)
        if cast:
            votes.vote(session, person, target)
        else:
            votes.unvote(session, person, target)


def _count(db: Database, idea: Idea) -> int:
    with db.reading() as session:
        return session.get_one(Idea, idea.id).vote_count


def _voters(session: Any, ids: list[int]) -> set[int]:
    return set(session.scalars(select(Vote.user_id).where(Vote.idea_id.in_(ids))))


def _snapshot(db: Database, board: Board, ideas: list[Idea]) -> dict[str, Any]:
    ids = [idea.id for idea in ideas]
    with db.reading() as session:
        return {
            "counts": {
                i.id: (i.vote_count, i.merged_into_id)
                for i in session.scalars(select(Idea).where(Idea.id.in_(ids)))
            },
            "votes": sorted(
                session.execute(
                    select(Vote.idea_id, Vote.user_id, Vote.via_merge_id, Vote.created_at).where(
                        Vote.idea_id.in_(ids)
                    )
                ).all()
            ),
            "follows": sorted(
                session.execute(
                    select(Follow.idea_id, Follow.user_id, Follow.via_merge_id).where(
                        Follow.idea_id.in_(ids)
                    )
                ).all()
            ),
            "listed": sorted(
                idea.id for idea in idea_rules.listing(session, None, board, per_page=100).items
            ),
        }


def _check_counts(db: Database, ideas: list[Idea]) -> None:
    with db.reading() as session:
        for idea in _load(session, *ideas):
            rows = session.scalar(select(func.count()).where(Vote.idea_id == idea.id))
            assert idea.vote_count == rows, "the count is the rows on the idea"
            assert idea.recent_votes == rows, "every vote here is recent: trending counts all"
            if idea.merged_into_id is None:
                tree = merges.tree_ids(session, idea.id)
                assert idea.vote_count == len(_voters(session, tree)), (
                    "a surviving idea counts each distinct voter of its tree once"
                )


@pytest.fixture
def team(make_user):  # type: ignore[no-untyped-def]
    return make_user("staff")


@pytest.fixture
def people(make_user):  # type: ignore[no-untyped-def]
    return [make_user() for _ in range(4)]


def test_merge_counts_each_voter_once_and_leaves_the_lists(db, make_idea, make_board, team, people):
    board = make_board()
    a = make_idea("Dark mode for the dashboard", author=people[0], board=board)
    b = make_idea("A dark theme for the whole app", author=people[1], board=board)
    _vote(db, people[2], a)
    _vote(db, people[2], b)  # voted both: counted once
    _vote(db, people[3], a)
    assert (_count(db, a), _count(db, b)) == (3, 2)
    _merge(db, team, a, b)
    assert _count(db, b) == 4  # people 1, 2 (once), 0 and 3
    with db.reading() as session:
        listed = [i.id for i in idea_rules.listing(session, None, board).items]
        assert listed == [b.id]
        assert session.get_one(Idea, a.id).merged_into_id == b.id
        entry = session.scalar(select(Merge))
        assert entry is not None and (entry.source_id, entry.target_id) == (a.id, b.id)
    _check_counts(db, [a, b])


def test_budget_is_not_charged_twice(db, make_idea, make_board, team, people):
    board = make_board(vote_budget=2)
    a = make_idea("Dark mode for the dashboard", author=people[0], board=board)
    b = make_idea("A dark theme for the whole app", author=people[1], board=board)
    _vote(db, people[2], a)
    _vote(db, people[2], b)
    with db.reading() as session:
        assert votes.remaining(session, people[2], session.get_one(Board, board.id)) == 0
    _merge(db, team, a, b)
    with db.reading() as session:
        assert votes.remaining(session, people[2], session.get_one(Board, board.id)) == 1
        assert votes.remaining(session, people[0], session.get_one(Board, board.id)) == 1


def test_voting_on_a_merged_idea_is_refused_with_the_way(db, make_idea, team, people):
    a, b = make_idea(author=people[0]), make_idea(author=people[1])
    _merge(db, team, a, b)
    with pytest.raises(Conflict) as refusal:
        _vote(db, people[2], a)
    assert refusal.value.message.params == {"id": b.id}
    with pytest.raises(Conflict):
        _vote(db, people[0], a, cast=False)


def test_unvote_on_the_surviving_idea_takes_back_the_carried_vote(db, make_idea, team, people):
    a, b = make_idea(author=people[0]), make_idea(author=people[1])
    _merge(db, team, a, b)
    _vote(db, people[0], b, cast=False)
    assert (_count(db, a), _count(db, b)) == (0, 1)
    _unmerge(db, team, a)
    assert (_count(db, a), _count(db, b)) == (0, 1)
    _check_counts(db, [a, b])


def test_a_carried_vote_cast_again_is_kept_by_an_undo(db, make_idea, team, people):
    a, b = make_idea(author=people[0]), make_idea(author=people[1])
    _merge(db, team, a, b)
    _vote(db, people[0], b)  # now their own vote
    _unmerge(db, team, a)
    assert (_count(db, a), _count(db, b)) == (1, 2)


def test_chains_resolve_and_count_the_whole_tree(db, make_idea, make_board, team, people):
    board = make_board()
    a, b, c = (
        make_idea(f"Same request number {n}", author=people[n], board=board) for n in range(3)
    )
    _merge(db, team, a, b)
    _merge(db, team, b, c)
    assert _count(db, c) == 3
    with db.reading() as session:
        assert merges.surviving(session, session.get_one(Idea, a.id)).id == c.id
        assert [i.id for i in merges.merged_into(session, session.get_one(Idea, c.id))] == [
            a.id,
            b.id,
        ]
    # merging into a merged idea merges into its surviving one
    d = make_idea("Same request number 3", author=people[3], board=board)
    _merge(db, team, d, a)
    with db.reading() as session:
        assert session.get_one(Idea, d.id).merged_into_id == c.id
    assert _count(db, c) == 4
    _check_counts(db, [a, b, c, d])


def test_undo_in_the_middle_of_a_chain_is_exact(db, make_idea, make_board, team, people):
    board = make_board()
    a, b, c = (
        make_idea(f"Same request number {n}", author=people[n], board=board) for n in range(3)
    )
    _vote(db, people[3], a)
    _vote(db, people[3], b)
    before_ab = _snapshot(db, board, [a, b, c])
    _merge(db, team, a, b)
    _merge(db, team, b, c)
    _unmerge(db, team, a)
    after = _snapshot(db, board, [a, b, c])
    assert after["counts"][a.id] == before_ab["counts"][a.id]
    assert after["counts"][b.id][0] == before_ab["counts"][b.id][0]
    assert after["counts"][c.id][0] == 3  # people 2, 1 and 3 (via b); not 0, only on a
    _check_counts(db, [a, b, c])
    # the same as merging b into c alone
    _unmerge(db, team, b)
    assert _snapshot(db, board, [a, b, c]) == before_ab
    _merge(db, team, b, c)
    only_bc = _snapshot(db, board, [a, b, c])
    assert only_bc["counts"] == after["counts"]

    def shape(rows: list[Any]) -> list[Any]:  # the merge's id differs, nothing else
        return sorted((idea, user, via is None, created) for idea, user, via, created in rows)

    assert shape(only_bc["votes"]) == shape(after["votes"])


def test_undo_re_carries_a_voter_another_merge_had_skipped(db, make_idea, make_board, team, people):
    board = make_board()
    a0, a, b = (
        make_idea(f"Same request number {n}", author=people[n], board=board) for n in range(3)
    )
    _vote(db, people[3], a0)
    _vote(db, people[3], a)
    _merge(db, team, a0, b)  # carries person 3
    _merge(db, team, a, b)  # person 3 already there
    _unmerge(db, team, a0)
    assert _count(db, b) == 3  # people 2, 1 and 3 (now through a)
    _check_counts(db, [a0, a, b])


def test_refusals(db, make_idea, team, people):
    a, b, c = make_idea(author=people[0]), make_idea(author=people[1]), make_idea(author=people[2])
    with pytest.raises(ValidationError):
        _merge(db, team, a, a)
    _merge(db, team, a, b)
    with pytest.raises(ValidationError) as cycle:
        _merge(db, team, b, a)
    assert "cycle" in cycle.value.fields["into"].text
    with pytest.raises(Conflict):
        _merge(db, team, a, c)  # already merged: merge the surviving one
    with pytest.raises(Forbidden):
        _merge(db, people[3], b, c)
    with pytest.raises(Conflict):
        _unmerge(db, team, b)  # not merged
    with pytest.raises(Forbidden):
        _unmerge(db, people[3], a)


def test_followers_follow_the_surviving_idea_and_are_notified(db, make_idea, team, people):
    a, b = make_idea(author=people[0]), make_idea(author=people[1])
    with db.transaction() as session:
        follows.follow(session, people[2], a.id)
        idea = session.get_one(Idea, b.id)
        idea_rules.set_status(session, session.get_one(User, team.id), idea, "shipped")
    _merge(db, team, a, b)
    with db.reading() as session:
        assert set(follows.follower_ids(session, b.id)) == {
            people[0].id,
            people[1].id,
            people[2].id,
        }
        told = session.execute(
            select(Notification.user_id, Notification.data).where(Notification.kind == "merged")
        ).all()
        assert {user_id for user_id, _ in told} == {people[0].id, people[2].id}
        assert told[0][1]["from_title"] == a.title and told[0][1]["status"] == "shipped"
    _unmerge(db, team, a)
    with db.reading() as session:
        assert set(follows.follower_ids(session, b.id)) == {people[1].id}


def test_unfollowing_the_surviving_idea_is_not_undone_by_a_later_merge(db, make_idea, team, people):
    a, b, c = make_idea(author=people[0]), make_idea(author=people[1]), make_idea(author=people[2])
    _merge(db, team, a, b)
    with db.transaction() as session:
        follows.unfollow(session, people[0], b.id)
    _merge(db, team, c, b)
    _unmerge(db, team, c)
    with db.reading() as session:
        assert not follows.is_following(session, people[0], b.id)
        assert not follows.is_following(session, people[0], a.id)


def test_comments_of_merged_ideas_show_on_the_surviving_one(db, make_idea, team, people):
    a, b, c = make_idea(author=people[0]), make_idea(author=people[1]), make_idea(author=people[2])
    with db.transaction() as session:
        comments.add(
            session, session.get_one(User, people[3].id), session.get_one(Idea, a.id), "From a"
        )
        comments.add(
            session, session.get_one(User, people[3].id), session.get_one(Idea, c.id), "From c"
        )
    _merge(db, team, a, b)
    _merge(db, team, b, c)
    with db.reading() as session:
        threads = comments.threads(session, session.get_one(Idea, c.id), None)
        assert [(t.comment.body, t.comment.idea_id) for t in threads] == [
            ("From a", a.id),
            ("From c", c.id),
        ]


# Property: random votes, merges and undos --------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("vote"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("unvote"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("merge"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("undo"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("merge_undo"), st.integers(0, 3), st.integers(0, 3)),
    ),
    max_size=12,
)


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_random_votes_merges_and_undos_keep_counts_exact(
    db, make_board, team, people, ops: list[tuple[str, int, int]]
) -> None:
    board = make_board()
    ideas: list[Idea] = []
    for n in range(4):
        with db.transaction() as session:
            ideas.append(
                idea_rules.submit(
                    session,
                    session.get_one(User, people[n].id),
                    session.get_one(Board, board.id),
                    f"Idea number {n} of a run",
                    "",
                )
            )
    for op, x, y in ops:
        try:
            if op == "vote":
                _vote(db, people[x], ideas[y])
            elif op == "unvote":
                _vote(db, people[x], ideas[y], cast=False)
            elif op == "merge":
                _merge(db, team, ideas[x], ideas[y])
            elif op == "undo":
                _unmerge(db, team, ideas[x])
            else:
                before = _snapshot(db, board, ideas)
                try:
                    _merge(db, team, ideas[x], ideas[y])
                except DomainError:
                    continue
                _unmerge(db, team, ideas[x])
                assert _snapshot(db, board, ideas) == before
        except DomainError:
            pass
        _check_counts(db, ideas)
