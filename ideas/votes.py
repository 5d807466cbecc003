"""Votes: one per person and idea, within the board's vote budget."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ideas import counters, follows, merges
from ideas.errors import N_, Conflict, Forbidden, Message
from ideas.models import Board, Idea, User, Vote

# Votes on closed ideas no longer count against the budget (they are given back, as UserVoice does).
OPEN_STATUSES = ("open", "under_review", "planned", "in_progress")


@dataclass(frozen=True)
class VoteState:
    votes: int
    voted: bool
    remaining: int | None  # votes left on the board, None without a budget


def active_votes(session: Session, user: User, board: Board) -> int:
    return (
        session.scalar(
            select(func.count(Vote.id))
            .join(Idea, Idea.id == Vote.idea_id)
            .where(
                Vote.user_id == user.id,
                Idea.board_id == board.id,
                Idea.status.in_(OPEN_STATUSES),
                Idea.merged_into_id.is_(None),  # a merge carried the vote: it counts there
            )
        )
        or 0
    )


def remaining(session: Session, user: User | None, board: Board) -> int | None:
    if board.vote_budget is None or user is None:
        return None
    return max(0, board.vote_budget - active_votes(session, user, board))


def has_voted(session: Session, user: User | None, idea: Idea) -> bool:
    if user is None:
        return False
    return bool(
        session.scalar(select(Vote.id).where(Vote.idea_id == idea.id, Vote.user_id == user.id))
    )


def _state(session: Session, user: User, idea: Idea, voted: bool) -> VoteState:
    count = session.scalar(select(Idea.vote_count).where(Idea.id == idea.id)) or 0
    return VoteState(count, voted, remaining(session, user, idea.board))


def ensure_not_merged(session: Session, idea: Idea) -> None:
    if idea.merged_into_id is not None:
        raise Conflict(
            Message(
                N_("This idea was merged into #%(id)d: vote there."),
                {"id": merges.surviving(session, idea).id},
            )
        )


def vote(session: Session, user: User, idea: Idea) -> VoteState:
    """Casts the vote; voting twice counts once. A vote a merge carried here becomes the
    person's own (an undo of that merge leaves it)."""
    if user.is_blocked:
        raise Forbidden(N_("Your account is blocked."))
    merges.lock(session, idea)  # a merge of this idea waits for the vote, or the vote for it
    ensure_not_merged(session, idea)
    carried = session.scalar(
        select(Vote).where(
            Vote.idea_id == idea.id, Vote.user_id == user.id, Vote.via_merge_id.is_not(None)
        )
    )
    if carried is not None:
        carried.via_merge_id = None
        session.flush()
        return _state(session, user, idea, True)
    board = idea.board
    if board.vote_budget is not None and idea.status in OPEN_STATUSES:
        # Lock the voter's row so two parallel votes cannot both take the last one.
        session.execute(select(User.id).where(User.id == user.id).with_for_update())
        if has_voted(session, user, idea):
            return _state(session, user, idea, True)
        if active_votes(session, user, board) >= board.vote_budget:
            raise Conflict(
                Message(
                    N_(
                        "No votes left on this board (%(n)d per person). "
                        "Take one back to vote here."
                    ),
                    {"n": board.vote_budget},
                )
            )
    try:
        with session.begin_nested():
            session.execute(insert(Vote).values(idea_id=idea.id, user_id=user.id))
    except IntegrityError:
        return _state(session, user, idea, True)  # already voted
    counters.add(session, idea.id, "vote_count", 1)
    counters.add(session, idea.id, "recent_votes", 1)  # cast now: in the trending window
    follows.follow(session, user, idea.id)
    return _state(session, user, idea, True)


def unvote(session: Session, user: User, idea: Idea) -> VoteState:
    """Takes the vote back, with the votes a merge stands for (on ideas merged into this one)."""
    if user.is_blocked:
        raise Forbidden(N_("Your account is blocked."))
    merges.lock(session, idea)  # a merge of this idea waits for the vote, or the vote for it
    ensure_not_merged(session, idea)
    merges.unvote_tree(session, user.id, idea.id)
    return _state(session, user, idea, False)


# Customer weight: an admin gives a big account more weight (see accounts.set_customer); the
# weighted figures sit beside the plain counts, never instead of them.


def weighted_voters(session: Session, idea_ids: Collection[int]) -> tuple[int, float]:
    """The distinct people who vote for any of the ideas, and their weights' sum: each person
    counts once, however many of the ideas they vote for."""
    if not idea_ids:
        return 0, 0.0
    voters = select(Vote.user_id).where(Vote.idea_id.in_(idea_ids)).distinct().subquery()
    count, weight = session.execute(
        select(func.count(), func.coalesce(func.sum(User.weight), 0.0))
        .select_from(voters)
        .join(User, User.id == voters.c.user_id)
    ).one()
    return int(count), float(weight)


def weighted_counts(session: Session, idea_ids: Collection[int]) -> dict[int, float]:
    """Each idea's votes, every voter counted by their weight (ideas without votes: 0)."""
    if not idea_ids:
        return {}
    rows = session.execute(
        select(Vote.idea_id, func.sum(User.weight))
        .join(User, User.id == Vote.user_id)
        .where(Vote.idea_id.in_(idea_ids))
        .group_by(Vote.idea_id)
    ).all()
    found = {idea_id: float(weight) for idea_id, weight in rows}
    return {idea_id: found.get(idea_id, 0.0) for idea_id in idea_ids}
