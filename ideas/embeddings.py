"""Stored idea vectors: an idea's text embedded once and kept with the model's name.

The vector of an idea is ``ml.duplicates.idea_vectors`` (the title weighted), L2-normalised
float32 bytes in ``IdeaEmbedding``. A new model name is the one reason to recompute them:
``rebuild`` replaces the vectors made by another model, a batch at a time, so the portal keeps
answering from the old ones meanwhile.

``SharedEmbedder`` is what a process holds: the configured backend, loaded once (lazily or in a
background thread at start-up) and safe to call from several threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ideas.db import Database
from ideas.models import Idea, IdeaEmbedding, utcnow
from ml.duplicates import idea_vectors
from ml.embedders import Embedder, make_embedder

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "minilm", "hashing")
BATCH = 256


class SharedEmbedder:
    """The process's embedder: loaded once, under a lock, on first use or by ``start_loading``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._lock = threading.Lock()
        self._loaded = False

    @property
    def name(self) -> str:
        return self.embedder.name

    def fit(self, texts: Sequence[str] = ()) -> SharedEmbedder:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self.embedder.fit(texts)  # loads the model; learns nothing from the texts
                    self._loaded = True
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.fit().embedder.transform(texts)

    def start_loading(self) -> threading.Thread:
        """Load the model in a daemon thread (seconds for torch MiniLM, or for exporting the
        ONNX one the first time) so start-up stays fast."""

        def load() -> None:
            try:
                self.fit()
            except Exception:  # pragma: no cover - the first request reports it again
                log.exception("embedder: loading %s failed", self.name)

        thread = threading.Thread(target=load, name="embedder-load", daemon=True)
        thread.start()
        return thread


def make_shared(backend: str, cache_dir: Path | None = None) -> SharedEmbedder:
    """The configured backend (``onnx`` falls back to ``minilm``, ``minilm`` to ``hashing``,
    with one log line). ``cache_dir`` holds the ONNX model (``EMBEDDING_CACHE_DIR``)."""
    if backend not in BACKENDS:
        raise ValueError(f"EMBEDDING_BACKEND must be one of {', '.join(BACKENDS)}: {backend!r}")
    params = {"cache_dir": cache_dir} if backend == "onnx" else {}
    return SharedEmbedder(make_embedder(backend, **params))


def normalised_text(title: str, description: str) -> tuple[str, str]:
    """The text as ``ideas.ideas.submit`` stores it, so a vector computed before the idea is
    stored is the one ``rebuild`` would compute."""
    return " ".join(title.split()), description.strip()


def embed(embedder: Embedder, texts: Sequence[tuple[str, str]]) -> np.ndarray:
    """Idea vectors of (title, description) pairs, one float32 row each. CPU work: call it
    outside any transaction, never on the event loop."""
    if not texts:
        return np.empty((0, 0), dtype=np.float32)
    pairs = [normalised_text(title, description) for title, description in texts]
    return idea_vectors(embedder, [t for t, _ in pairs], [d for _, d in pairs])


def vector_of(embedder: Embedder, title: str, description: str) -> np.ndarray:
    """One idea's vector (a 1-row array), e.g. computed before the transaction that stores it."""
    return embed(embedder, [(title, description)])


def to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


def save(session: Session, model: str, idea_ids: Sequence[int], vectors: np.ndarray) -> None:
    """Store (or replace) the vectors of these ideas, made by ``model``."""
    now = utcnow()
    for idea_id, vector in zip(idea_ids, vectors, strict=True):
        row = session.get(IdeaEmbedding, idea_id)
        if row is None:
            session.add(
                IdeaEmbedding(idea_id=idea_id, model=model, vector=to_bytes(vector), updated_at=now)
            )
        else:
            row.model, row.vector, row.updated_at = model, to_bytes(vector), now
    session.flush()


def store(session: Session, embedder: Embedder, ideas: Sequence[Idea]) -> None:
    """Embed these ideas and store their vectors (for small numbers of ideas: the embedding
    runs inside the caller's transaction)."""
    vectors = embed(embedder, [(idea.title, idea.description) for idea in ideas])
    save(session, embedder.name, [idea.id for idea in ideas], vectors)


def _stale(model: str) -> Any:
    return or_(IdeaEmbedding.idea_id.is_(None), IdeaEmbedding.model != model)


def stale_count(db: Database, model: str) -> int:
    """How many ideas have no vector by ``model``."""
    with db.reading() as session:
        query = (
            select(func.count())
            .select_from(Idea)
            .outerjoin(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
            .where(_stale(model))
        )
        return session.scalar(query) or 0


def rebuild(
    db: Database,
    embedder: Embedder,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> int:
    """(Re)compute the vector of every idea that has none by ``embedder``'s model; returns how
    many. Batches: read, embed outside any transaction, write in a short one. Merged and hidden
    ideas get vectors too (an undo or a restore brings them back)."""
    done, last_id = 0, 0
    while True:
        with db.reading() as session:
            rows = session.execute(
                select(Idea.id, Idea.title, Idea.description)
                .outerjoin(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
                .where(_stale(embedder.name), Idea.id > last_id)
                .order_by(Idea.id)
                .limit(batch_size)
            ).all()
        if not rows:
            return done
        vectors = embed(embedder, [(row.title, row.description) for row in rows])
        with db.transaction() as session:
            save(session, embedder.name, [row.id for row in rows], vectors)
        done += len(rows)
        last_id = rows[-1].id
        if progress is not None:
            progress(len(rows))
