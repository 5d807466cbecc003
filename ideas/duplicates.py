"""The duplicate queue: pairs of ideas that look alike, for the team to merge or dismiss.

A pair is stored once, in order (`idea_id` < `other_id`). A dismissed pair ("not a duplicate") is
remembered and never suggested again; a merged one neither. Pairs where either idea was merged or
hidden since leave the queue by themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Select, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ideas import audit
from ideas.db import Database
from ideas.embeddings import from_bytes
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.models import Board, DuplicateCandidate, Idea, IdeaEmbedding, User, utcnow
from ideas.similar import SimilarIdeas
from ml.duplicates import DuplicateScorer
from ml.index import VectorIndex

QueryT = TypeVar("QueryT", bound=Select[*tuple[Any, ...]])

SCAN_NEIGHBOURS = 5  # per idea: a cluster of ten copies still links up through the pairs
SCAN_BATCH = 256  # ideas per search: a 256 × ideas score matrix at a time

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


def queue_close_ideas(db: Database, similar: SimilarIdeas, idea_id: int) -> int:
    """After a submit or an edit: the ideas the scorer calls duplicates of this one go to the
    team's queue; returns how many pairs are pending for it now."""
    similar.written()  # the idea's new vector is in the index before we look
    close = similar.duplicates_of(idea_id)
    if not close:
        return 0
    with db.transaction() as session:
        queued = [suggest(session, idea_id, match.idea.id, match.score) for match in close]
    return sum(candidate is not None for candidate in queued)


def _scannable(query: QueryT, model: str) -> QueryT:
    """Restricts a query to the ideas in the lists that have a vector by ``model``."""
    return query.join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id).where(
        IdeaEmbedding.model == model, Idea.merged_into_id.is_(None), Idea.hidden_at.is_(None)
    )


def scannable_count(db: Database, model: str) -> int:
    """How many ideas ``scan`` looks at."""
    with db.reading() as session:
        return session.scalar(_scannable(select(func.count()).select_from(Idea), model)) or 0


def scan(
    db: Database,
    model: str,
    progress: Callable[[int], None] | None = None,
    neighbours: int = SCAN_NEIGHBOURS,
) -> int:
    """Finds duplicate pairs across the stored ideas of each board (after an import, say) and
    queues the new ones; returns how many were queued. Pairs decided before stay decided.

    Exact search, a batch of ideas at a time: each idea's ``neighbours`` nearest on its board,
    kept when the scorer calls them duplicates."""
    scorer = DuplicateScorer.shipped(model)
    with db.reading() as session:
        rows = session.execute(
            _scannable(select(Idea.id, Idea.board_id, IdeaEmbedding.vector), model).order_by(
                Idea.id
            )
        ).all()
        pairs = select(DuplicateCandidate.idea_id, DuplicateCandidate.other_id)
        known = {(first, second) for first, second in session.execute(pairs)}
    by_board: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for row in rows:
        by_board[row.board_id].append((row.id, row.vector))
    found: dict[tuple[int, int], float] = {}
    for board_rows in by_board.values():
        ids = np.array([idea_id for idea_id, _ in board_rows], dtype=np.int64)
        vectors = np.stack([from_bytes(vector) for _, vector in board_rows])
        index = VectorIndex(vectors.shape[1])
        index.add(ids, vectors)
        for start in range(0, len(ids), SCAN_BATCH):
            queries = ids[start : start + SCAN_BATCH]
            near, cosines = index.search(vectors[start : start + SCAN_BATCH], neighbours + 1)
            scores = scorer.calibrate(cosines)
            for position, idea_id in enumerate(queries.tolist()):
                for other_id, score in zip(near[position].tolist(), scores[position], strict=True):
                    pair = (min(idea_id, other_id), max(idea_id, other_id))
                    if other_id != idea_id and score >= scorer.threshold_ and pair not in known:
                        found[pair] = max(found.get(pair, 0.0), float(score))
            if progress is not None:
                progress(len(queries))
    new: list[dict[str, Any]] = [
        {"idea_id": a, "other_id": b, "score": score, "source": "similarity"}
        for (a, b), score in sorted(found.items())
    ]
    queued = 0
    for start in range(0, len(new), 1000):
        batch = new[start : start + 1000]
        try:
            with db.transaction() as session:
                session.execute(insert(DuplicateCandidate), batch)
            queued += len(batch)
        except IntegrityError:  # a submit queued one of these pairs meanwhile: one at a time
            with db.transaction() as session:
                for values in batch:
                    again = suggest(session, values["idea_id"], values["other_id"], values["score"])
                    queued += again is not None
    return queued


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
