"""VectorIndex against brute force."""

import numpy as np
import pytest

from ml.embedders import l2_normalise
from ml.index import VectorIndex


def brute_force(ids, vectors, queries, k):
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.asarray(ids)[order], np.take_along_axis(scores, order, 1)


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    return l2_normalise(rng.standard_normal((500, 16))), l2_normalise(rng.standard_normal((7, 16)))


@pytest.mark.parametrize("chunk_rows", [64, 100_000])
def test_search_matches_brute_force(data, chunk_rows):
    vectors, queries = data
    ids = list(range(1000, 1500))
    index = VectorIndex(16, chunk_rows=chunk_rows)
    for start in range(0, 500, 128):  # incremental adds, several growths
        index.add(ids[start : start + 128], vectors[start : start + 128])
    found, scores = index.search(queries, k=10)
    expected_ids, expected_scores = brute_force(ids, vectors, queries, 10)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


def test_remove_then_search_matches_brute_force(data):
    vectors, queries = data
    index = VectorIndex(16)
    index.add(range(500), vectors)
    gone = set(range(0, 500, 3)) | {499}
    index.remove(sorted(gone) + [10_000])  # an unknown id is ignored
    kept = [i for i in range(500) if i not in gone]
    assert len(index) == len(kept) and 3 not in index and 4 in index
    found, _ = index.search(queries, k=5)
    np.testing.assert_array_equal(found, brute_force(kept, vectors[kept], queries, 5)[0])
    np.testing.assert_allclose(index.get([4, 497]), vectors[[4, 497]])


def test_add_replaces_an_existing_id():
    index = VectorIndex(2)
    index.add([1, 2], np.array([[1.0, 0.0], [0.0, 1.0]]))
    index.add([1], np.array([[0.0, 1.0]]))
    assert len(index) == 2
    np.testing.assert_allclose(index.get([1]), [[0.0, 1.0]])


def test_k_larger_than_the_index_and_empty_index():
    index = VectorIndex(2)
    found, scores = index.search(np.array([1.0, 0.0]), k=3)
    assert found.shape == (1, 0) and scores.shape == (1, 0)
    index.add([7], np.array([[1.0, 0.0]]))
    found, scores = index.search(np.array([1.0, 0.0]), k=3)
    assert found.tolist() == [[7]] and scores[0, 0] == pytest.approx(1.0)


def test_mismatched_ids_and_vectors_are_refused():
    with pytest.raises(ValueError):
        VectorIndex(2).add([1, 2], np.zeros((1, 2)))
