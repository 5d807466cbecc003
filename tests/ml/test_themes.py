"""Themes: clustering on made-up blobs, naming, and identity across re-clustering."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from ml import themes
from ml.themes import ThemeClusterer, cluster, match_themes, name_themes, neighbour_graph


def blobs(
    n_themes: int = 6, size: int = 40, noise: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``n_themes`` random directions (cosine to the centre ~0.7)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_themes, 384))
    truth = np.repeat(np.arange(n_themes), size)
    vectors = centres[truth] / np.sqrt(384) + rng.normal(
        scale=noise / np.sqrt(384), size=(len(truth), 384)
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), truth


def test_separated_blobs_are_found_without_being_told_how_many() -> None:
    vectors, truth = blobs(n_themes=6)
    labels = cluster(vectors)
    assert adjusted_rand_score(truth, labels) > 0.95
    assert labels.max() + 1 == 6
    assert np.mean(labels == -1) < 0.05


def test_labels_are_numbered_by_size_and_deterministic() -> None:
    parts = [blobs(n_themes=1, size=size, seed=size)[0] for size in (25, 45, 30, 55, 20, 40)]
    vectors = np.vstack(parts)
    first = cluster(vectors, random_state=3)
    assert np.array_equal(first, cluster(vectors, random_state=3))
    assert list(np.bincount(first[first >= 0])) == [55, 45, 40, 30, 25, 20]


def test_tiny_communities_are_left_unassigned() -> None:
    vectors, _ = blobs(n_themes=4, size=25)
    stray = blobs(n_themes=1, size=2, seed=9)[0]  # two ideas unlike anything else
    labels = ThemeClusterer(min_size=3).fit(np.vstack([vectors, stray])).labels_
    assert list(labels[-2:]) == [-1, -1]
    assert np.sum(labels == -1) == 2


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_vectors_for_a_theme(n: int) -> None:
    labels = cluster(blobs(n_themes=1, size=n)[0])
    assert len(labels) == n and np.all(labels == -1)


def test_approximate_graph_finds_nearly_all_neighbours(monkeypatch) -> None:
    vectors, truth = blobs(n_themes=8, size=60, noise=1.5)
    exact, _ = neighbour_graph(vectors, 5)
    monkeypatch.setattr(themes, "EXACT_LIMIT", 0)  # the path taken past 20,000 ideas
    approximate, scores = neighbour_graph(vectors, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approximate, strict=True)])
    assert recall > 0.9
    assert not np.any(approximate == np.arange(len(vectors))[:, None])  # never itself
    assert np.all(np.diff(np.sort(scores, axis=1), axis=1) >= 0)
    assert adjusted_rand_score(truth, cluster(vectors)) > 0.95


def test_names_come_from_each_themes_own_words_without_stop_words() -> None:
    texts = [
        "Vorrei il tema scuro per la notte",
        "Il tema scuro è più bello di quello chiaro",
        "Please add a dark theme for the night",
        "Esportare i dati in CSV",
        "Export all the data to CSV",
        "CSV export of votes, per favore",
    ]
    labels = np.array([0, 0, 0, 1, 1, 1])
    vectors = np.eye(6, dtype=np.float32)
    vectors[1] = vectors[0] + vectors[1] + vectors[2]  # the centre of theme 0
    names = name_themes(texts, labels, vectors, n_keywords=3)
    assert set(names) == {0, 1}
    assert names[0].keywords[:2] == ["scuro", "tema"]
    assert names[1].keywords[0] == "csv"
    assert names[0].central == 1
    italian_and_english = {"il", "per", "la", "più", "di", "quello", "the", "for", "please", "all"}
    for name in names.values():
        assert not italian_and_english & set(name.keywords)
    assert {"il", "per", "più", "quello", "vorrei"} <= themes.ITALIAN_STOP_WORDS


def test_names_skip_unassigned_and_survive_stop_words_only() -> None:
    names = name_themes(["the and", "of the", "noise"], [0, 0, -1], np.eye(3, dtype=np.float32))
    assert set(names) == {0}
    assert names[0].keywords == []


def test_matching_keeps_ids_through_growth_and_reports_new_and_retired() -> None:
    old = {10: set(range(0, 20)), 11: set(range(20, 40)), 12: {40, 41, 42}}
    new = [
        list(range(20, 40)) + [100, 101, 102],  # theme 11 with three new ideas
        list(range(0, 20)),  # theme 10 unchanged
        [200, 201, 202, 203],  # only new ideas
    ]  # ideas 40-42 were deleted
    match = match_themes(old, new)
    assert match.kept == {0: 11, 1: 10}
    assert match.created == [2]
    assert match.retired == [12]
    assert match.splits == {} and match.merges == {}


def test_matching_detects_a_split_and_a_merge() -> None:
    old = {1: set(range(0, 40)), 2: set(range(40, 55)), 3: set(range(55, 70))}
    new = [list(range(0, 25)), list(range(25, 40)), list(range(40, 70))]
    match = match_themes(old, new)
    assert match.splits == {1: [0, 1]}
    assert match.merges == {2: [2, 3]}
    assert match.kept[0] == 1  # the larger part keeps the id
    assert match.kept[2] in {2, 3}  # one merged theme lives on…
    assert match.created == [1]
    assert len(match.retired) == 1 and match.retired[0] in {2, 3}  # …the other retires


def test_matching_from_nothing_and_to_nothing() -> None:
    assert match_themes({}, [[1, 2, 3]]).created == [0]
    gone = match_themes({5: {1, 2, 3}}, [])
    assert gone.retired == [5] and gone.kept == {}
