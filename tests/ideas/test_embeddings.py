"""Stored idea vectors: store, rebuild after a model change, the shared embedder."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from ideas import embeddings
from ideas.db import Database
from ideas.models import IdeaEmbedding
from ml.duplicates import idea_vectors
from ml.embedders import HashingEmbedder


def stored(db: Database) -> dict[int, IdeaEmbedding]:
    with db.reading() as session:
        return {row.idea_id: row for row in session.scalars(select(IdeaEmbedding))}


def test_store_keeps_float32_bytes_and_the_model_name(db: Database, make_idea) -> None:
    idea = make_idea("Dark mode for the portal", "Easier on the eyes at night.")
    embedder = HashingEmbedder()
    with db.transaction() as session:
        embeddings.store(session, embedder, [idea])
    row = stored(db)[idea.id]
    assert row.model == "hashing-v1"
    vector = embeddings.from_bytes(row.vector)
    assert vector.dtype == np.float32 and vector.shape == (4096,)
    expected = idea_vectors(embedder, [idea.title], [idea.description])[0]
    np.testing.assert_array_equal(vector, expected)  # the title weighted, as ml does it


def test_a_vector_computed_before_the_idea_is_the_one_rebuild_makes(
    db: Database, make_idea
) -> None:
    embedder = HashingEmbedder()
    early = embeddings.vector_of(embedder, "  Dark   mode ", " Please \n")
    idea = make_idea("Dark mode", "Please")
    with db.transaction() as session:
        embeddings.store(session, embedder, [idea])
    np.testing.assert_array_equal(early[0], embeddings.from_bytes(stored(db)[idea.id].vector))


def test_rebuild_fills_missing_and_replaces_other_models(db: Database, make_idea) -> None:
    ideas = [make_idea(f"Idea number {n} about exports") for n in range(5)]
    small = HashingEmbedder(n_features=64)
    with db.transaction() as session:
        embeddings.store(session, small, ideas[:3])
    before = stored(db)
    assert {row.model for row in before.values()} == {"hashing-v1-64"}

    embedder = HashingEmbedder()
    assert embeddings.stale_count(db, embedder.name) == 5
    batches: list[int] = []
    assert embeddings.rebuild(db, embedder, batches.append, batch_size=2) == 5
    assert batches == [2, 2, 1]
    after = stored(db)
    assert set(after) == {idea.id for idea in ideas}
    assert {row.model for row in after.values()} == {"hashing-v1"}
    assert all(len(embeddings.from_bytes(row.vector)) == 4096 for row in after.values())
    # nothing left: a second rebuild is a no-op, and an unchanged vector is not rewritten
    assert embeddings.stale_count(db, embedder.name) == 0
    assert embeddings.rebuild(db, embedder) == 0
    assert stored(db)[ideas[0].id].updated_at == after[ideas[0].id].updated_at


def test_make_shared_checks_the_backend_and_loads_once() -> None:
    with pytest.raises(ValueError, match="EMBEDDING_BACKEND"):
        embeddings.make_shared("word2vec")
    shared = embeddings.make_shared("hashing")
    assert shared.name == "hashing-v1"
    shared.start_loading().join(timeout=10)
    assert shared.fit() is shared
    assert shared.transform(["Dark mode"]).shape == (1, 4096)


def test_the_settings_name_the_backend() -> None:
    from pathlib import Path

    from ideas.settings import Settings

    assert Settings.from_env({}).embedding_backend == "onnx"
    assert Settings.from_env({}).embedding_cache_dir is None  # ml.embedders.default_cache_dir()
    assert Settings.from_env({"EMBEDDING_CACHE_DIR": "/srv/models"}).embedding_cache_dir == Path(
        "/srv/models"
    )
    assert Settings.from_env({"EMBEDDING_BACKEND": "Hashing"}).embedding_backend == "hashing"
