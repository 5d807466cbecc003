""" "Is your idea already here?": the ideas closest to a text, from an in-memory index.

Each process keeps an index of the stored vectors of its model: exact (``ml.index.VectorIndex``)
and, from ``APPROXIMATE_FROM`` ideas on, a graph (``ml.index.GraphIndex``) built in a background
thread while the exact one answers. Before a query (at most every ``refresh_seconds``) it reads
the vectors written since its previous look began (``IdeaEmbedding.updated_at``), so ideas
submitted through other processes show up within a second or so. Each look reaches back
``OVERLAP`` further, for transactions that committed after the look although they wrote earlier;
a vector read again unchanged is left as it is. The window follows the clock, not the newest
vector, so a quiet portal re-reads nothing.

Merged and hidden ideas never show: they are left out when loading and, because either can
happen after an idea was indexed, checked again on the rows found. Shipped and declined ideas
show (the view marks them).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ideas.db import Database
from ideas.embeddings import SharedEmbedder, embed, from_bytes
from ideas.models import Idea, IdeaEmbedding, utcnow
from ml.duplicates import DuplicateScorer
from ml.index import GraphIndex, VectorIndex

log = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=30)
LOAD_BATCH = 5000
# From this many ideas a graph index answers: exact search reads every vector on each of the
# scorer's 31 searches (docs/benchmarks.md, "Similar while typing").
APPROXIMATE_FROM = 20_000
GRAPH_BATCH = 10_000  # vectors copied into the graph per hold of the lock
MAX_LIMIT = 20


@dataclass(frozen=True)
class Match:
    idea: Idea
    score: float  # duplicate score in [0, 1] (ml.duplicates.DuplicateScorer)
    is_duplicate: bool = False  # the scorer's decision: score >= its threshold


class SimilarIdeas:
    """The process's index of idea vectors and the queries over it (thread-safe)."""

    def __init__(
        self,
        db: Database,
        embedder: SharedEmbedder,
        refresh_seconds: float = 1.0,
        approximate_from: int = APPROXIMATE_FROM,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.refresh_seconds = refresh_seconds
        self.approximate_from = approximate_from
        self.scorer = DuplicateScorer.shipped(embedder.name)  # constants for its vectors
        self.index: VectorIndex | GraphIndex | None = None
        self.graph_builder: threading.Thread | None = None
        self._changes: list[tuple[list[int], list[int]]] = []  # (added, removed) while it builds
        self._looked_at: datetime | None = None  # when the last complete look began
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
        started = utcnow()
        # The first look reads every vector in id order (the primary key); later looks read
        # those written since the previous look began, less OVERLAP, in (updated_at, id) order.
        since = None if self._looked_at is None else self._looked_at - OVERLAP
        after: tuple[datetime, int] | int = 0
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
                .where(IdeaEmbedding.model == model)
                .limit(LOAD_BATCH)
            )
            if since is None:
                query = query.where(IdeaEmbedding.idea_id > after).order_by(IdeaEmbedding.idea_id)
            else:
                query = query.where(IdeaEmbedding.updated_at >= since).order_by(
                    IdeaEmbedding.updated_at, IdeaEmbedding.idea_id
                )
                if after:
                    query = query.where(
                        tuple_(IdeaEmbedding.updated_at, IdeaEmbedding.idea_id) > after
                    )
            with self.db.reading() as session:
                rows = session.execute(query).all()
            if not rows:
                self._looked_at = started
                if (
                    isinstance(self.index, VectorIndex)
                    and len(self.index) >= self.approximate_from
                    and self.graph_builder is None
                ):
                    self._start_graph(self.index)
                return seen
            last = rows[-1]
            after = last.idea_id if since is None else (last.updated_at, last.idea_id)
            self._index_rows(rows)
            seen += len(rows)

    def _index_rows(self, rows: Sequence[Any]) -> None:
        shown = [r for r in rows if r.merged_into_id is None and r.hidden_at is None]
        gone = [r.idea_id for r in rows if r.merged_into_id is not None or r.hidden_at]
        ids: list[int] = []
        if shown:
            ids = [r.idea_id for r in shown]
            vectors = np.stack([from_bytes(r.vector) for r in shown])
            if self.index is None or self.index.dimensions != vectors.shape[1]:
                self.index = VectorIndex(vectors.shape[1])
            # Vectors read again (the look back, or a rebuild that wrote the same vectors) are
            # left alone: re-adding one to a graph re-links it, and that is slow.
            known = [i for i, id_ in enumerate(ids) if id_ in self.index]
            same = np.zeros(len(ids), dtype=bool)
            if known:
                stored = self.index.get([ids[i] for i in known])
                same[known] = (stored == vectors[known]).all(axis=1)
            ids = [id_ for id_, unchanged in zip(ids, same, strict=True) if not unchanged]
            self.index.add(ids, vectors[~same])
        if self.index is not None:
            self.index.remove(gone)
        if self.graph_builder is not None:
            self._changes.append((ids, gone))

    def _start_graph(self, exact: VectorIndex) -> None:
        self._changes = []
        self.graph_builder = threading.Thread(
            target=self._build_graph, args=(exact,), name="similar-graph", daemon=True
        )
        self.graph_builder.start()

    def _build_graph(self, exact: VectorIndex) -> None:
        started = time.perf_counter()
        try:
            graph = self._graph_of(exact)
            if graph is not None and self._switch_to(graph, exact):
                log.info(
                    "similar ideas: a graph index of %d ideas answers from now on (%.0f s)",
                    len(graph),
                    time.perf_counter() - started,
                )
        except Exception:
            log.exception("similar ideas: building the graph index failed; searches stay exact")
            self.approximate_from = sys.maxsize
        finally:
            with self._lock:
                self._changes = []
                self.graph_builder = None

    def _graph_of(self, exact: VectorIndex) -> GraphIndex | None:
        """The exact index's vectors in a graph, copied a batch at a time so that queries go on
        (exactly) meanwhile; None if another index took its place (another model)."""
        graph = GraphIndex(exact.dimensions)
        with self._lock:
            ids = exact.ids.tolist()
        for start in range(0, len(ids), GRAPH_BATCH):
            with self._lock:
                if self.index is not exact:
                    return None
                batch = [i for i in ids[start : start + GRAPH_BATCH] if i in exact]
                vectors = exact.get(batch)
            graph.add(batch, vectors, threads=os.cpu_count() or 1)
        return graph

    def _switch_to(self, graph: GraphIndex, exact: VectorIndex) -> bool:
        """Replay what changed while the graph was built, then let it answer."""
        with self._lock:
            if self.index is not exact:
                return False
            for added, removed in self._changes:
                added = [i for i in added if i in exact]
                graph.add(added, exact.get(added))
                graph.remove(removed)
            self.index = graph
            return True

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
    """The ideas among ``ids`` a suggestion may show: not merged, not hidden, on the board.

    Fetched by primary key alone and filtered here: given the board too, SQLite walks the board's
    index (every idea of the board) instead."""
    if not ids:
        return {}
    found = session.scalars(select(Idea).where(Idea.id.in_(ids)))
    return {
        idea.id: idea
        for idea in found
        if idea.merged_into_id is None
        and idea.hidden_at is None
        and (board_id is None or idea.board_id == board_id)
    }
