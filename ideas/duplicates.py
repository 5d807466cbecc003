"""The duplicate queue: pairs of ideas that look alike, for the team to merge or dismiss.

A pair is stored once, in order (`idea_id` < `other_id`). A dismissed pair ("not a duplicate") is
remembered and never suggested again; a merged one neither. Pairs where either idea was merged or
hidden since leave the queue by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ideas import audit
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.models import Board, DuplicateCandidate, Idea, User, utcnow

SOURCES = ("similarity", "author")


@dataclass(frozen=True)
class Pair:
    candidate: DuplicateCandidate
    idea: Idea
    other: Idea

    @property
    def suggested_keep(self) -> Idea:
        """The idea staff keep unless they pick the other: the one with more votes (the older
        one on a tie)."""
        if self.other.vote_count > self.idea.vote_count:
            return self.other
        return self.idea


def _active(idea: Idea | None) -> bool:
    return idea is not None and idea.merged_into_id is None and idea.hidden_at is None


def _find(session: Session, first: int, second: int) -> DuplicateCandidate | None:
    return session.scalar(
        select(DuplicateCandidate).where(
            DuplicateCandidate.idea_id == first, DuplicateCandidate.other_id == second
        )
    )


def suggest(
    session: Session, idea_id: int, other_id: int, score: float, source: str = "similarity"
) -> DuplicateCandidate | None:
    """Puts the pair in the queue (once); returns it while pending, None when the pair was
    decided before or cannot be a duplicate (the same idea, merged or hidden ideas)."""
    assert source in SOURCES
    if idea_id == other_id:
        return None
    first, second = sorted((idea_id, other_id))
    if not (_active(session.get(Idea, first)) and _active(session.get(Idea, second))):
        return None
    existing = _find(session, first, second)
    if existing is None:
        try:
            with session.begin_nested():
                existing = DuplicateCandidate(
                    idea_id=first, other_id=second, score=float(score), source=source
                )
                session.add(existing)
            return existing
        except IntegrityError:  # suggested at the same moment by another process
            existing = _find(session, first, second)
            if existing is None:  # pragma: no cover
                raise
    if existing.status != "pending":
        return None
    existing.score = max(existing.score, float(score))
    if source == "author":
        existing.source = "author"  # the author's word is worth showing
    return existing


def pending(
    session: Session, board: Board | None = None, limit: int = 50, offset: int = 0
) -> list[Pair]:
    """Pending pairs whose ideas are both still in the lists, highest score first."""
    first, second = aliased(Idea), aliased(Idea)
    query = (
        select(DuplicateCandidate, first, second)
        .join(first, first.id == DuplicateCandidate.idea_id)
        .join(second, second.id == DuplicateCandidate.other_id)
        .where(
            DuplicateCandidate.status == "pending",
            first.merged_into_id.is_(None),
            second.merged_into_id.is_(None),
            first.hidden_at.is_(None),
            second.hidden_at.is_(None),
        )
    )
    if board is not None:
        query = query.where(or_(first.board_id == board.id, second.board_id == board.id))
    query = query.order_by(
        (DuplicateCandidate.source == "author").desc(),
        DuplicateCandidate.score.desc(),
        DuplicateCandidate.id,
    )
    return [
        Pair(candidate, idea, other)
        for candidate, idea, other in session.execute(query.offset(offset).limit(limit))
    ]


def pending_count(session: Session) -> int:
    first, second = aliased(Idea), aliased(Idea)
    return (
        session.scalar(
            select(func.count())
            .select_from(DuplicateCandidate)
            .join(first, first.id == DuplicateCandidate.idea_id)
            .join(second, second.id == DuplicateCandidate.other_id)
            .where(
                DuplicateCandidate.status == "pending",
                first.merged_into_id.is_(None),
                second.merged_into_id.is_(None),
                first.hidden_at.is_(None),
                second.hidden_at.is_(None),
            )
        )
        or 0
    )


def get(session: Session, candidate_id: int) -> DuplicateCandidate:
    candidate = session.get(DuplicateCandidate, candidate_id)
    if candidate is None:
        raise NotFound()
    return candidate


def dismiss(session: Session, actor: User, candidate: DuplicateCandidate) -> None:
    """ "Not a duplicate": the pair leaves the queue and is never suggested again."""
    if not actor.is_staff:
        raise Forbidden()
    if candidate.status == "dismissed":
        return
    candidate.status = "dismissed"
    candidate.decided_by_id = actor.id
    candidate.decided_at = utcnow()
    audit.record(
        session,
        actor,
        "duplicate.dismiss",
        "idea",
        candidate.idea_id,
        other=candidate.other_id,
    )


def author_says_same(
    session: Session, author: User, idea: Idea, other: Idea
) -> DuplicateCandidate | None:
    """The idea's author says it asks for the same as `other`: the pair goes to the top of the
    team's queue (unless the team already decided on it)."""
    if author.id != idea.author_id:
        raise Forbidden(N_("Only the idea's author can say that."))
    errors = Errors()
    if other.id == idea.id:
        errors.add("other", N_("Give another idea than this one."))
    elif not _active(other):
        errors.add("other", N_("There is no such idea."))
    errors.raise_if_any()
    return suggest(session, idea.id, other.id, 1.0, source="author")
