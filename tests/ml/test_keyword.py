"""Keyword baselines: words, BM25 worked out by hand, TF-IDF cosine."""

import numpy as np
import pytest

from ml.keyword import BM25, bm25_scores, stem, tfidf_scores, words


def test_words_drop_stop_words_and_strip_suffixes():
    assert words("Exporting the exports as CSV") == ["export", "export", "csv"]
    assert stem("bus") == "bus" and stem("emails") == "email" and stem("voted") == "vot"


def test_bm25_by_hand():
    documents = ["dark mode", "export csv", "export roadmap csv file"]
    model = BM25(k1=1.2, b=0.75).fit(documents)
    scores = model.score(["dark"])
    # "dark" is in 1 of 3 documents: idf = ln((3 - 1 + 0.5) / (1 + 0.5) + 1); the document has
    # 2 words against a mean of 8/3, tf = 1: weight = 2.2 / (1 + 1.2 (0.25 + 0.75 * 2 / (8/3)))
    idf = np.log(2.5 / 1.5 + 1)
    weight = 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / (8 / 3)))
    np.testing.assert_allclose(scores, [[idf * weight, 0.0, 0.0]])
    # the shorter of two documents with the same words scores higher; a repeated query word
    # counts once
    export = model.score(["export csv"])[0]
    assert export[1] > export[2] > 0
    np.testing.assert_allclose(model.score(["export export csv"])[0], export)


def test_bm25_scores_every_text_against_every_text():
    titles = ["Dark mode", "Dark theme at night", "Export to CSV", "the a an"]
    scores = bm25_scores(titles)
    assert scores.shape == (4, 4)
    assert scores[0, 1] > 0 and scores[0, 2] == 0 and np.all(scores[3] == 0)
    assert np.all(bm25_scores(["the", "a"]) == 0)  # no word at all


def test_tfidf_scores_are_cosines():
    scores = tfidf_scores(["dark mode", "dark mode", "export csv", ""])
    assert scores[0, 1] == pytest.approx(1.0) and scores[0, 2] == 0 and scores[3, 3] == 0
    assert np.all(tfidf_scores(["", "the"]) == 0)
