"""DuplicateScorer: the contract, CSLS, the neighbourhood features, fit, and similar() agreeing
with score_matrix()."""

import numpy as np
import pytest

from ml.duplicates import (
    FEATURES,
    HASHING,
    MINILM,
    SHIPPED,
    DuplicateScorer,
    combine,
    embed_parts,
    hubness,
    idea_vectors,
    pair_features,
)
from ml.embedders import HashingEmbedder, OnnxMiniLMEmbedder, TfidfEmbedder, l2_normalise
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
    scorer = DuplicateScorer(hub_k=4, candidates=12, C=0.5)
    assert (scorer.hub_k, scorer.candidates, scorer.C) == (4, 12, 0.5)
    assert not hasattr(scorer, "coef_")
    with pytest.raises(ValueError):
        scorer.score_matrix(np.eye(3, dtype=np.float32))
    vectors, labels = clustered()
    assert scorer.fit(vectors, labels) is scorer
    assert scorer.coef_.shape == (len(FEATURES),) and scorer.cosine_coef_ > 0
    assert 0 < scorer.threshold_ < 1
    with pytest.raises(ValueError):
        DuplicateScorer().fit(vectors, [None] * len(vectors))  # no duplicate to learn from


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
    assert DuplicateScorer.shipped().constants() == scorer.constants()
    # what the neighbourhood model learned: closer and nearer in rank is more likely a duplicate
    cosine, csls, rank, reverse = scorer.coef_
    assert cosine > 0 and csls > 0 and rank < 0 and reverse < 0


def test_shipped_constants_follow_the_backend():
    minilm, hashing = DuplicateScorer.shipped(MINILM), DuplicateScorer.shipped("hashing-v1")
    assert DuplicateScorer.shipped().constants() == minilm.constants() == SHIPPED[MINILM]
    assert hashing.constants() == SHIPPED[HASHING] != SHIPPED[MINILM]
    # the ONNX export's vectors are close to the torch model's; any hashing size is hashing
    assert DuplicateScorer.shipped(OnnxMiniLMEmbedder().name).constants() == SHIPPED[MINILM]
    assert DuplicateScorer.shipped(HashingEmbedder(1024).name).constants() == SHIPPED[HASHING]
    # hashing cosines run lower: the same cosine says more for hashing vectors
    cosine = np.array([0.6])
    assert hashing.calibrate(cosine)[0] > minilm.calibrate(cosine)[0]
    assert hashing.calibrate(cosine)[0] >= hashing.threshold_ > minilm.calibrate(cosine)[0]


def test_neighbourhood_features_by_hand():
    # 0 and 1 are each other's nearest; 2 is closest to 1, but 1 has 0 closer than 2
    vectors = l2_normalise(np.array([[1.0, 0.0, 0.0], [0.9, 0.3, 0.0], [0.5, 0.7, 0.5]]))
    scorer = DuplicateScorer(hub_k=1, candidates=2)
    near = scorer.neighbourhood(vectors)
    cosine = vectors @ vectors.T
    pairs = {
        (int(r), int(c)): f for r, c, f in zip(near.rows, near.cols, near.features, strict=True)
    }
    assert set(pairs) == {(0, 1), (0, 2), (1, 0), (1, 2), (2, 1), (2, 0)}
    np.testing.assert_allclose(pairs[(0, 1)][0], cosine[0, 1], rtol=1e-6)
    assert pairs[(0, 1)][2] == 0 and pairs[(0, 1)][3] == 0  # mutual nearest neighbours
    assert pairs[(2, 1)][2] == 0  # 1 is 2's nearest ...
    assert pairs[(2, 1)][3] == np.log1p(1)  # ... but 2 is behind 0 in 1's list
    np.testing.assert_allclose(pair_features([0.5], [0.1], [0], [3]), [[0.5, 0.1, 0, np.log1p(3)]])


def test_the_cosine_model_speaks_for_crowds_of_copies():
    scorer = DuplicateScorer.shipped()
    # an isolated pair and a tenth copy in a crowd, both at cosine 0.9: ranks tell them apart,
    # but either way the cosine alone is enough to call them duplicates
    first = pair_features([0.9], [0.5], [0], [0])
    crowd = pair_features([0.9], [0.02], [8], [9])
    assert scorer.decide(first)[0] >= scorer.decide(crowd)[0] >= scorer.threshold_
    assert scorer.decide(crowd)[0] == pytest.approx(scorer.calibrate(np.array([0.9]))[0])
    # the cosine model alone (what a bulk scan uses) never says yes where the decision says no
    features = pair_features(np.linspace(0, 1, 50), np.zeros(50), np.full(50, 5), np.full(50, 10))
    alone = scorer.calibrate(features[:, 0]) >= scorer.threshold_
    assert np.all(scorer.decide(features)[alone] >= scorer.threshold_)


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


def test_similar_for_a_text_not_in_the_index():
    vectors, labels = clustered(seed=2)
    scorer = DuplicateScorer(hub_k=3).fit(vectors[1:], labels[1:])
    index = VectorIndex(vectors.shape[1])
    index.add(range(1, len(vectors)), vectors[1:])
    found = scorer.similar(index, vectors[0], k=3)
    # vector 0's group-mates (1 and 2) rank first and are called duplicates
    assert {c.id for c in found[:2]} == {1, 2} and found[0].is_duplicate
    assert all(0 <= c.score <= 1 for c in found)


def test_idea_vectors_weight_the_title():
    titles = ["Dark mode", "Dark mode", "Export to CSV"]
    bodies = ["", "Please add a dark theme for night work", "Roadmap as a spreadsheet"]
    embedder = TfidfEmbedder(n_components=2).fit(titles + bodies)
    vectors = idea_vectors(embedder, titles, bodies)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[0], embedder.transform(["Dark mode"])[0], rtol=1e-5)
    titles_only, full = embed_parts(embedder, titles, bodies)
    np.testing.assert_allclose(full[0], titles_only[0])  # no description: the title stands in
    np.testing.assert_allclose(combine(titles_only, full), vectors, rtol=1e-6)
