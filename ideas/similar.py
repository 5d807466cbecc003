""" "Is your idea already here?": the ideas closest to a text, from an in-memory index.

Each process keeps one ``ml.index.VectorIndex`` of the stored vectors of its model. Before a
query (at most every ``refresh_seconds``) it reads the vectors written since its watermark on
``IdeaEmbedding.updated_at``, so ideas submitted through other processes show up within a second
or so. The watermark looks back ``OVERLAP`` to catch transactions that committed out of order;
re-adding a vector is harmless.

Merged and hidden ideas never show: they are left out when loading and, because either can
happen after an idea was indexed, checked again on the rows found. Shipped and declined ideas
show (the view marks them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ideas.db import Database
from ideas.embeddings import SharedEmbedder, embed, from_bytes
from ideas.models import Idea, IdeaEmbedding
from ml.duplicates import DuplicateScorer
from ml.index import VectorIndex

log = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=30)
LOAD_BATCH = 5000
MAX_LIMIT = 20


@dataclass(frozen=True)
class Match:
    idea: Idea
    score: float  # duplicate score in [0, 1] (ml.duplicates.DuplicateScorer)
    is_duplicate: bool = False  # the scorer's decision: score >= its threshold


class SimilarIdeas:
    """The process's index of idea vectors and the queries over it (thread-safe)."""

    def __init__(
        self, db: Database, embedder: SharedEmbedder, refresh_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.refresh_seconds = refresh_seconds
        self.scorer = DuplicateScorer.shipped()
        self.index: VectorIndex | None = None
        self._watermark: datetime | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()

    def start_warming(self) -> threading.Thread:
        """Load the model and the stored vectors in a daemon thread, so start-up stays fast
        and the first query does not wait (it would load them itself otherwise)."""

        def warm() -> None:
            try:
                self.embedder.fit()
                self.catch_up(force=True)
            except Exception:  # pragma: no cover - the first query reports it again
                log.exception("similar ideas: warming up failed")

        thread = threading.Thread(target=warm, name="similar-warm-up", daemon=True)
        thread.start()
        return thread

    def written(self) -> None:
        """This process stored a vector: the next query looks at once (not a second later)."""
        self._checked = -float("inf")

    def catch_up(self, force: bool = False) -> int:
        """Read the vectors stored since the last look; returns how many were (re)indexed."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.refresh_seconds:
                return 0
            self._checked = now
            return self._load()

    def _load(self) -> int:
        model, seen = self.embedder.name, 0
        since = None if self._watermark is None else self._watermark - OVERLAP
        after_id = 0
        while True:
            query = (
                select(
                    IdeaEmbedding.idea_id,
                    IdeaEmbedding.vector,
                    IdeaEmbedding.updated_at,
                    Idea.merged_into_id,
                    Idea.hidden_at,
                )
                .join(Idea, Idea.id == IdeaEmbedding.idea_id)
                .where(IdeaEmbedding.model == model, IdeaEmbedding.idea_id > after_id)
                .order_by(IdeaEmbedding.idea_id)
                .limit(LOAD_BATCH)
            )
            if since is not None:
                query = query.where(IdeaEmbedding.updated_at >= since)
            with self.db.reading() as session:
                rows = session.execute(query).all()
            if not rows:
                return seen
            after_id = rows[-1].idea_id
            shown = [r for r in rows if r.merged_into_id is None and r.hidden_at is None]
            gone = [r.idea_id for r in rows if r.merged_into_id is not None or r.hidden_at]
            if shown:
                vectors = np.stack([from_bytes(r.vector) for r in shown])
                if self.index is None or self.index.dimensions != vectors.shape[1]:
                    self.index = VectorIndex(vectors.shape[1])
                self.index.add([r.idea_id for r in shown], vectors)
            if self.index is not None:
                self.index.remove(gone)
            newest = max(r.updated_at for r in rows)
            if self._watermark is None or newest > self._watermark:
                self._watermark = newest
            seen += len(rows)

    def similar(
        self, text: str, board_id: int | None = None, limit: int = 5, description: str = ""
    ) -> list[Match]:
        """The ideas closest to a title being typed (and its description, if any), best first,
        filtered by board."""
        limit = max(1, min(limit, MAX_LIMIT))
        if not text.strip():
            return []
        vector = embed(self.embedder, [(text, description)])[0]
        return self.search_vector(vector, board_id, limit)

    def search_vector(
        self,
        vector: np.ndarray,
        board_id: int | None = None,
        limit: int = 5,
        exclude: Sequence[int] = (),
    ) -> list[Match]:
        """The ideas closest to a vector, best first; ``exclude``: ids never returned (a stored
        idea's own, so it is not its own neighbour: the scorer's ranks would be off by one)."""
        self.catch_up()
        with self._lock:
            index = self.index
            if index is None or len(index) == 0 or index.dimensions != len(vector):
                return []
            # Ranked by the duplicate scorer (it reads the index: hold the lock against adds).
            wanted = min(len(index), max(3 * limit, 30))
            candidates = self.scorer.similar(index, vector, k=wanted, exclude=exclude)
        with self.db.reading() as session:
            found = visible(session, [c.id for c in candidates], board_id)
        ranked = [Match(found[c.id], c.score, c.is_duplicate) for c in candidates if c.id in found]
        return ranked[:limit]

    def neighbours_of(self, idea_id: int, limit: int = 5) -> list[Match]:
        """The ideas closest to a stored idea, on its board (none when it has no vector by the
        current model yet)."""
        with self.db.reading() as session:
            row = session.execute(
                select(IdeaEmbedding.vector, Idea.board_id)
                .join(Idea, Idea.id == IdeaEmbedding.idea_id)
                .where(IdeaEmbedding.idea_id == idea_id, IdeaEmbedding.model == self.embedder.name)
            ).first()
        if row is None:
            return []
        return self.search_vector(from_bytes(row.vector), row.board_id, limit, exclude=[idea_id])

    def duplicates_of(self, idea_id: int, limit: int = 5) -> list[Match]:
        """The neighbours the scorer calls duplicates (what goes to the team's queue)."""
        return [match for match in self.neighbours_of(idea_id, limit) if match.is_duplicate]


def visible(session: Session, ids: list[int], board_id: int | None) -> dict[int, Idea]:
    """The ideas among ``ids`` a suggestion may show: not merged, not hidden, on the board."""
    if not ids:
        return {}
    query = select(Idea).where(
        Idea.id.in_(ids), Idea.merged_into_id.is_(None), Idea.hidden_at.is_(None)
    )
    if board_id is not None:
        query = query.where(Idea.board_id == board_id)
    return {idea.id: idea for idea in session.scalars(query)}
