"""DuplicateScorer: the contract, CSLS, fit, and similar() agreeing with score_matrix()."""

import numpy as np
import pytest

from ml.duplicates import DuplicateScorer, hubness, idea_vectors
from ml.embedders import TfidfEmbedder, l2_normalise
from ml.index import VectorIndex


def clustered(seed=0, groups=12, size=3, singles=20, dimensions=24):
    """Groups of near-identical vectors plus unrelated singles, with their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((groups, dimensions))
    members = np.repeat(centres, size, axis=0) + 0.35 * rng.standard_normal(
        (groups * size, dimensions)
    )
    vectors = l2_normalise(np.vstack([members, rng.standard_normal((singles, dimensions))]))
    labels = [f"g{i // size}" for i in range(groups * size)] + [None] * singles
    return vectors, labels


def test_contract():
    scorer = DuplicateScorer(hub_k=4, C=0.5)
    assert (scorer.hub_k, scorer.C) == (4, 0.5) and not hasattr(scorer, "coef_")
    with pytest.raises(ValueError):
        scorer.score_matrix(np.eye(3, dtype=np.float32))
    vectors, labels = clustered()
    assert scorer.fit(vectors, labels) is scorer
    assert scorer.coef_ > 0 and 0 < scorer.threshold_ < 1


def test_fit_separates_duplicates():
    vectors, labels = clustered()
    scorer = DuplicateScorer(hub_k=4).fit(vectors, labels)
    scores = scorer.score_matrix(vectors)
    assert scores[0, 1] > scorer.threshold_ > scores[0, -1]
    assert scorer.train_f1_ > 0.9


def test_hubness_is_the_mean_of_the_top_k():
    sims = np.array([[0.9, 0.1, 0.5], [0.2, 0.4, 0.3]])
    np.testing.assert_allclose(hubness(sims, 2), [0.7, 0.35])


def test_shipped_scorer_has_its_constants():
    scorer = DuplicateScorer.shipped()
    assert scorer.hub_k == 10 and 0 < scorer.threshold_ < 1


def test_similar_agrees_with_score_matrix():
    vectors, labels = clustered(seed=1)
    scorer = DuplicateScorer(hub_k=3).fit(vectors, labels)
    index = VectorIndex(vectors.shape[1])
    ids = list(range(100, 100 + len(vectors)))
    index.add(ids, vectors)
    ranking, scores = scorer.csls_matrix(vectors), scorer.score_matrix(vectors)
    for row in (0, 7, len(vectors) - 1):
        found = scorer.similar(index, vectors[row], k=4, exclude=[ids[row]])
        others = [j for j in np.argsort(-ranking[row], kind="stable") if j != row][:4]
        assert [c.id for c in found] == [ids[j] for j in others]
        np.testing.assert_allclose([c.rank_score for c in found], ranking[row, others], atol=1e-5)
        np.testing.assert_allclose([c.score for c in found], scores[row, others], rtol=1e-4)
        assert [c.is_duplicate for c in found] == [
            s >= scorer.threshold_ for s in scores[row, others]
        ]
    assert scorer.similar(VectorIndex(vectors.shape[1]), vectors[0]) == []


def test_idea_vectors_weight_the_title():
    titles = ["Dark mode", "Dark mode", "Export to CSV"]
    bodies = ["", "Please add a dark theme for night work", "Roadmap as a spreadsheet"]
    embedder = TfidfEmbedder(n_components=2).fit(titles + bodies)
    vectors = idea_vectors(embedder, titles, bodies)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[0], embedder.transform(["Dark mode"])[0], rtol=1e-5)
