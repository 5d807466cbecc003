"""Keyword baselines for duplicate detection: BM25 and TF-IDF over words.

What other idea portals rank similar posts by, measured beside ours in the same run
(``ml.evaluate.baselines``): BM25 on the title (Fider ranks similar posts by a full-text match on
the title), and TF-IDF cosine of title + description (a "more like this" query, as ClearFlask's).

Words: lower-cased, English stop words dropped, a light suffix stripping ("exports" and
"exporting" both become "export") so plurals and tenses match, as a full-text engine's stemmer
would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

SUFFIXES = ("ing", "ed", "es", "s")

_analyse = CountVectorizer(stop_words="english").build_analyzer()


def stem(word: str) -> str:
    """Strip one common English suffix, keeping a stem of at least three letters."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The words of a text as the keyword baselines see them."""
    return [stem(word) for word in _analyse(text)]


class BM25:
    """Okapi BM25: documents are indexed by ``fit``, ``score`` rates each query against each.

    ``k1`` saturates repeated words, ``b`` normalises by document length. A query's words count
    once each (what a search box does).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75):
        self.k1 = k1
        self.b = b

    def fit(self, documents: Sequence[str]) -> BM25:
        self.vectorizer_ = CountVectorizer(analyzer=words)
        counts = self.vectorizer_.fit_transform(list(documents)).tocsr().astype(np.float64)
        n = counts.shape[0]
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf_ = np.log((n - df + 0.5) / (df + 0.5) + 1.0)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        rows = np.repeat(np.arange(n), np.diff(counts.indptr))
        norm = 1 - self.b + self.b * lengths[rows] / max(float(lengths.mean()), 1e-9)
        tf = counts.data
        counts.data = tf * (self.k1 + 1) / (tf + self.k1 * norm)
        self.weights_ = counts  # saturated term frequencies, documents × words
        return self

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 of each query (rows) against each fitted document (columns)."""
        present = (self.vectorizer_.transform(list(queries)) > 0).astype(np.float64)
        return np.asarray((present @ sparse.diags(self.idf_) @ self.weights_.T).todense())


def _has_words(texts: Sequence[str]) -> bool:
    return any(words(text) for text in texts)


def bm25_scores(texts: Sequence[str]) -> np.ndarray:
    """Every text as a query against every text as a document (``[i, j]``: i queries)."""
    if not _has_words(texts):  # the vectorizer refuses an empty vocabulary
        return np.zeros((len(texts), len(texts)))
    return BM25().fit(texts).score(texts)


def tfidf_scores(texts: Sequence[str]) -> np.ndarray:
    """Cosine of word TF-IDF vectors (sublinear term frequency) of every pair of texts."""
    if not _has_words(texts):
        return np.zeros((len(texts), len(texts)))
    matrix = TfidfVectorizer(analyzer=words, sublinear_tf=True).fit_transform(list(texts))
    return np.asarray((matrix @ matrix.T).todense())
