"""Duplicate scoring: idea vectors, a hubness-corrected ranking and a calibrated decision.

An idea's vector is the normalised sum of two embeddings, the title's and the title + description's,
so the title counts about twice (``idea_vectors``). That did best on the Redmine dev data.

Ranking ("similar ideas while typing"): CSLS (cross-domain similarity local scaling), the cosine
minus the mean of both ideas' "neighbourhood density", the mean cosine to their ``hub_k`` nearest
neighbours. Ideas in crowded regions look close to everything; CSLS corrects that, which raised
recall@1 and recall@5 on the dev data.

Decision ("is this a duplicate?", the triage queue): the plain cosine, turned into a
probability-like score by a one-feature logistic regression, against the threshold that maximised
pair F1. CSLS is not used here: its scale moves with the corpus density (its threshold learned on
Redmine found 1% of the pairs of the denser BANKING77 data), the cosine's does not.

``DuplicateScorer.shipped()`` carries constants learned offline by ``DuplicateScorer.fit`` on
``redmine-dev.jsonl`` with MiniLM vectors (re-run: ``python bench/duplicates_eval.py --fit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml.embedders import Embedder, l2_normalise
from ml.evaluate import best_f1_threshold, group_codes
from ml.index import VectorIndex

# Learned by DuplicateScorer(hub_k=10).fit(idea_vectors(MiniLM, redmine-dev)); see module doc.
# The threshold 0.08 is a cosine of 0.611; the 5 CV folds chose 0.068-0.095.
SHIPPED = {"hub_k": 10, "coef": 12.86, "intercept": -10.3, "threshold": 0.08}


def idea_text(title: str, description: str) -> str:
    return f"{title}\n{description}".strip()


def idea_vectors(
    embedder: Embedder, titles: Sequence[str], descriptions: Sequence[str]
) -> np.ndarray:
    """One unit vector per idea: normalise(embed(title) + embed(title + description))."""
    titles = list(titles)
    full = [idea_text(t, d) for t, d in zip(titles, descriptions, strict=True)]
    title_vectors = embedder.transform(titles)
    combined = title_vectors.copy()
    with_body = [i for i, (t, f) in enumerate(zip(titles, full, strict=True)) if f != t.strip()]
    if with_body:
        combined[with_body] = embedder.transform([full[i] for i in with_body])
    return l2_normalise(title_vectors + combined)


def hubness(similarities: np.ndarray, hub_k: int) -> np.ndarray:
    """Mean of each row's ``hub_k`` largest similarities (callers leave self-matches out)."""
    k = max(1, min(hub_k, similarities.shape[1]))
    top = -np.partition(-similarities, k - 1, axis=1)[:, :k]
    return top.mean(axis=1)


@dataclass(frozen=True)
class Candidate:
    id: int
    score: float  # calibrated cosine, in [0, 1]
    is_duplicate: bool  # score >= the scorer's threshold
    rank_score: float  # CSLS, what candidates are ordered by


class DuplicateScorer:
    """Ranks by CSLS over idea vectors, decides by a calibrated cosine.

    Parameters: ``hub_k`` neighbours define an idea's density. Learned (``fit``): ``coef_``,
    ``intercept_`` (score = sigmoid(coef_ · cosine + intercept_)) and ``threshold_`` (max pair F1).
    """

    def __init__(self, hub_k: int = 10, C: float = 1.0):
        self.hub_k = hub_k
        self.C = C

    @classmethod
    def shipped(cls) -> DuplicateScorer:
        """A scorer with the constants learned offline (see the module doc)."""
        scorer = cls(hub_k=int(SHIPPED["hub_k"]))
        scorer.coef_ = float(SHIPPED["coef"])
        scorer.intercept_ = float(SHIPPED["intercept"])
        scorer.threshold_ = float(SHIPPED["threshold"])
        return scorer

    def csls_matrix(self, vectors: np.ndarray) -> np.ndarray:
        """CSLS of every pair of these vectors (the diagonal is meaningless)."""
        cosine = vectors @ vectors.T
        others = cosine.copy()
        np.fill_diagonal(others, -np.inf)
        density = hubness(others, self.hub_k) if len(vectors) > 1 else np.zeros(len(vectors))
        return cosine - (density[:, None] + density[None, :]) / 2

    def calibrate(self, cosine: np.ndarray) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ValueError(
                "DuplicateScorer is not fitted: fit() it or use DuplicateScorer.shipped()"
            )
        return 1.0 / (1.0 + np.exp(-(self.coef_ * cosine + self.intercept_)))

    def fit(self, vectors: np.ndarray, groups: Sequence[str | None]) -> DuplicateScorer:
        """Learn the calibration and the threshold from labelled ideas (``None`` = no group)."""
        from sklearn.linear_model import LogisticRegression

        cosine = np.asarray(vectors, dtype=np.float32) @ np.asarray(vectors, dtype=np.float32).T
        codes = group_codes(groups)
        upper = np.triu_indices(len(codes), k=1)
        truth = codes[upper[0]] == codes[upper[1]]
        if truth.all() or not truth.any():
            raise ValueError("fit needs both duplicate and distinct pairs")
        model = LogisticRegression(C=self.C, max_iter=1000)
        model.fit(cosine[upper].reshape(-1, 1), truth)
        self.coef_ = float(model.coef_[0, 0])
        self.intercept_ = float(model.intercept_[0])
        self.threshold_, self.train_f1_ = best_f1_threshold(self.calibrate(cosine), groups)
        return self

    def score_matrix(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated score of every pair (for evaluation; quadratic in the number of ideas)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        return self.calibrate(vectors @ vectors.T)

    def similar(
        self,
        index: VectorIndex,
        query: np.ndarray,
        k: int = 5,
        exclude: Sequence[int] = (),
        candidates: int = 30,
    ) -> list[Candidate]:
        """The ``k`` best-ranked (CSLS) ideas of the index for one query vector, best first.

        Two searches: the query's ``candidates`` nearest (its own density comes from them), then
        one batched search for the candidates' densities. ``exclude`` drops ids, e.g. the
        query idea's own.
        """
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        excluded = {int(i) for i in exclude}
        ids, cosines = index.search(query, candidates + len(excluded))
        keep = [i for i, id_ in enumerate(ids[0]) if int(id_) not in excluded][:candidates]
        ids, cosines = ids[0, keep], cosines[0, keep]
        if len(ids) == 0:
            return []
        query_density = cosines[: self.hub_k].mean()
        found, found_scores = index.search(index.get(ids), self.hub_k + 1)
        densities = np.empty(len(ids))
        for row, id_ in enumerate(ids):
            others = found_scores[row][found[row] != id_][: self.hub_k]
            densities[row] = others.mean() if len(others) else 0.0
        csls = cosines - (query_density + densities) / 2
        scores = self.calibrate(cosines)
        order = np.argsort(-csls, kind="stable")[:k]
        return [
            Candidate(
                int(ids[i]), float(scores[i]), bool(scores[i] >= self.threshold_), float(csls[i])
            )
            for i in order
        ]
