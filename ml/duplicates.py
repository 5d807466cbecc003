"""Duplicate scoring: idea vectors, a hubness-corrected ranking and a learned pair decision.

An idea's vector is the normalised sum of two embeddings, the title's and the title + description's,
so the title counts about twice (``idea_vectors``). That did best on the Redmine dev data.

Ranking ("similar ideas while typing"): CSLS (cross-domain similarity local scaling), the cosine
minus the mean of both ideas' "neighbourhood density", the mean cosine to their ``hub_k`` nearest
neighbours. Ideas in crowded regions look close to everything; CSLS corrects that, which raised
recall@1 and recall@5 on the dev data.

Decision ("is this a duplicate?", the triage queue): the larger of two probabilities, each a
logistic regression fitted on the query's ``candidates`` nearest ideas:

- the *neighbourhood* model reads where the pair stands among the neighbours: the cosine, the
  CSLS, the candidate's rank in the query's list and the query's rank in the candidate's list
  (capped at ``hub_k``). Duplicates are usually each other's nearest neighbours, and that told
  more than any cosine cut-off on the Redmine data;
- the *cosine* model (``calibrate``) reads the cosine alone. Alone it is weaker on Redmine, but
  it still calls a pair a duplicate inside a crowd of near-copies, where ranks say little (on the
  BANKING77 check, where one request has ~40 same-intent neighbours, the neighbourhood model
  alone found 2% of the pairs).

Everything the decision needs comes from the one stored vector per idea and the index: no text,
no keyword statistics. The portal calls ``similar(index, vector, k, exclude=[the idea's own id])``;
the candidates' neighbour search it runs for their densities also gives the reverse ranks. Keyword
scores (BM25, TF-IDF) and separate title/body vectors as extra features gained too little to pay
for a second vector per idea; k-reciprocal re-ranking, query expansion and shared-neighbour
features, which the same searches would allow, did worse or no better (docs/benchmarks.md,
"Duplicates").

``DuplicateScorer.shipped(backend)`` carries constants learned offline by ``DuplicateScorer.fit``
on ``redmine-dev.jsonl``, one set per embedding backend, chosen by the backend's name: cosines of
two backends are not on one scale (the hashing fallback's run lower, and with MiniLM's constants it
found few pairs). The ONNX export of MiniLM, whose vectors are close to the torch model's, uses
MiniLM's. Re-run: ``python bench/duplicates_eval.py --fit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from ml.embedders import Embedder, l2_normalise
from ml.evaluate import best_f1_threshold, group_codes
from ml.index import NeighbourIndex

FEATURES = ("cosine", "csls", "log1p_rank", "log1p_reverse_rank")


class Constants(TypedDict):
    hub_k: int
    candidates: int
    coef: list[float]  # one per FEATURES
    intercept: float
    cosine_coef: float
    cosine_intercept: float
    threshold: float


# Learned by DuplicateScorer().fit(idea_vectors(backend, redmine-dev)); see the module doc.
# MiniLM: the threshold 0.2241 is where max pair F1 fell on all of redmine-dev; for the cosine
# model alone it is a cosine of 0.707. 15 CV folds chose 0.195-0.385, 13 of them 0.195-0.27.
# Hashing: threshold 0.1865; 15 CV folds chose 0.176-0.212 (docs/benchmarks.md, "Duplicates").
MINILM = "all-MiniLM-L6-v2"
HASHING = "hashing"
SHIPPED: dict[str, Constants] = {
    MINILM: {
        "hub_k": 10,
        "candidates": 30,
        "coef": [1.8621, 9.9433, -0.7667, -0.3518],
        "intercept": -3.3533,
        "cosine_coef": 11.5279,
        "cosine_intercept": -9.3942,
        "threshold": 0.2241,
    },
    HASHING: {
        "hub_k": 10,
        "candidates": 30,
        "coef": [-6.9208, 17.8772, -0.5397, -0.4341],
        "intercept": -0.3214,
        "cosine_coef": 8.8109,
        "cosine_intercept": -6.4747,
        "threshold": 0.1865,
    },
}


def constants_for(backend: str) -> Constants:
    """The shipped constants for vectors of the embedder named ``backend``: the hashing
    fallback's (any ``hashing-*``) or MiniLM's (MiniLM, its ONNX export and anything else)."""
    return SHIPPED[HASHING if backend.startswith(HASHING) else MINILM]


def idea_text(title: str, description: str) -> str:
    return f"{title}\n{description}".strip()


def combine(title_vectors: np.ndarray, full_vectors: np.ndarray) -> np.ndarray:
    """Idea vectors from the embeddings of the titles and of title + description."""
    return l2_normalise(np.asarray(title_vectors) + np.asarray(full_vectors))


def embed_parts(
    embedder: Embedder, titles: Sequence[str], descriptions: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the titles and of title + description (the title's own where there is no
    description, which saves a second pass)."""
    titles = list(titles)
    full = [idea_text(t, d) for t, d in zip(titles, descriptions, strict=True)]
    title_vectors = embedder.transform(titles)
    full_vectors = title_vectors.copy()
    with_body = [i for i, (t, f) in enumerate(zip(titles, full, strict=True)) if f != t.strip()]
    if with_body:
        full_vectors[with_body] = embedder.transform([full[i] for i in with_body])
    return title_vectors, full_vectors


def idea_vectors(
    embedder: Embedder, titles: Sequence[str], descriptions: Sequence[str]
) -> np.ndarray:
    """One unit vector per idea: normalise(embed(title) + embed(title + description))."""
    return combine(*embed_parts(embedder, titles, descriptions))


def hubness(similarities: np.ndarray, hub_k: int) -> np.ndarray:
    """Mean of each row's ``hub_k`` largest similarities (callers leave self-matches out)."""
    k = max(1, min(hub_k, similarities.shape[1]))
    top = -np.partition(-similarities, k - 1, axis=1)[:, :k]
    return top.mean(axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Candidate:
    id: int
    score: float  # probability-like duplicate score, in [0, 1]
    is_duplicate: bool  # score >= the scorer's threshold
    rank_score: float  # CSLS, what candidates are ordered by


@dataclass(frozen=True)
class Neighbourhood:
    """The candidate pairs of a set of ideas: row ``rows[p]`` queries, ``cols[p]`` is found."""

    cosine: np.ndarray  # all pairs
    csls: np.ndarray  # all pairs
    rows: np.ndarray
    cols: np.ndarray
    features: np.ndarray  # one row of FEATURES per candidate pair


class DuplicateScorer:
    """Ranks by CSLS over idea vectors, decides by max(neighbourhood model, cosine model).

    Parameters: ``hub_k`` neighbours define an idea's density (and cap the reverse rank);
    ``candidates`` nearest ideas (by cosine) are a query's candidate duplicates; ``C`` is the
    logistic regressions' inverse regularisation. Learned (``fit``): ``coef_``/``intercept_``
    (neighbourhood model over ``FEATURES``), ``cosine_coef_``/``cosine_intercept_`` (cosine
    model) and ``threshold_`` (max pair F1 on the training data).
    """

    def __init__(self, hub_k: int = 10, candidates: int = 30, C: float = 1.0):
        self.hub_k = hub_k
        self.candidates = candidates
        self.C = C

    @classmethod
    def shipped(cls, backend: str = MINILM) -> DuplicateScorer:
        """A scorer with the constants learned offline for the vectors of the embedder named
        ``backend`` (see the module doc)."""
        constants = constants_for(backend)
        scorer = cls(hub_k=constants["hub_k"], candidates=constants["candidates"])
        scorer.coef_ = np.asarray(constants["coef"], dtype=np.float64)
        scorer.intercept_ = constants["intercept"]
        scorer.cosine_coef_ = constants["cosine_coef"]
        scorer.cosine_intercept_ = constants["cosine_intercept"]
        scorer.threshold_ = constants["threshold"]
        return scorer

    def constants(self) -> Constants:
        """What ``shipped`` needs, rounded (``bench/duplicates_eval.py --fit`` prints it)."""
        self._check_fitted()
        return {
            "hub_k": self.hub_k,
            "candidates": self.candidates,
            "coef": [round(float(c), 4) for c in self.coef_],
            "intercept": round(self.intercept_, 4),
            "cosine_coef": round(self.cosine_coef_, 4),
            "cosine_intercept": round(self.cosine_intercept_, 4),
            "threshold": round(self.threshold_, 4),
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ValueError(
                "DuplicateScorer is not fitted: fit() it or use DuplicateScorer.shipped()"
            )

    # -- the two models -------------------------------------------------------------------

    def calibrate(self, cosine: np.ndarray) -> np.ndarray:
        """The cosine model: a duplicate probability from the cosine alone. Where no
        neighbourhood is known (a bulk scan), ``calibrate(cosine) >= threshold_`` is the
        decision; it only ever says "duplicate" where the full decision does too."""
        self._check_fitted()
        return _sigmoid(self.cosine_coef_ * np.asarray(cosine) + self.cosine_intercept_)

    def decide(self, features: np.ndarray) -> np.ndarray:
        """The duplicate score of candidate pairs (rows of ``FEATURES``): the larger of the
        neighbourhood model's and the cosine model's probabilities."""
        self._check_fitted()
        features = np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURES))
        neighbourhood = _sigmoid(features @ self.coef_ + self.intercept_)
        return np.maximum(neighbourhood, self.calibrate(features[:, 0]))

    # -- all pairs of a set of vectors (fit and evaluation) ----------------------------------

    def csls_matrix(self, vectors: np.ndarray) -> np.ndarray:
        """CSLS of every pair of these vectors (the diagonal is meaningless)."""
        return self.neighbourhood(vectors, with_features=False).csls

    def neighbourhood(self, vectors: np.ndarray, with_features: bool = True) -> Neighbourhood:
        """Cosine and CSLS of all pairs, and the features of each idea's candidate pairs, as
        ``similar`` computes them for one query against an index of the others."""
        vectors = np.asarray(vectors, dtype=np.float32)
        n = len(vectors)
        cosine = (vectors @ vectors.T).astype(np.float64)
        cosine = (cosine + cosine.T) / 2  # exactly symmetric: ranks compare cos(i, j) and cos(j, i)
        others = cosine.copy()
        np.fill_diagonal(others, -np.inf)
        density = hubness(others, self.hub_k) if n > 1 else np.zeros(n)
        csls = cosine - (density[:, None] + density[None, :]) / 2
        m = min(self.candidates, n - 1)
        if not with_features or m < 1:
            empty = np.empty(0, dtype=np.int64)
            return Neighbourhood(cosine, csls, empty, empty, np.empty((0, len(FEATURES))))
        # candidates: the m nearest by cosine, ranked by CSLS
        found = np.argpartition(-others, m - 1, axis=1)[:, :m]
        order = np.argsort(-np.take_along_axis(csls, found, 1), axis=1, kind="stable")
        found = np.take_along_axis(found, order, 1)
        rows, cols = np.repeat(np.arange(n), m), found.ravel()
        rank = np.tile(np.arange(m), n)
        # the query's rank in the candidate's list: how many of its hub_k nearest are closer
        k = max(1, min(self.hub_k, n - 1))
        nearest = -np.partition(-others, k - 1, axis=1)[:, :k]
        reverse = (nearest[cols] > cosine[rows, cols][:, None]).sum(axis=1)
        features = pair_features(cosine[rows, cols], csls[rows, cols], rank, reverse)
        return Neighbourhood(cosine, csls, rows, cols, features)

    def score_matrix(self, vectors: np.ndarray) -> np.ndarray:
        """Duplicate score of every pair (``[i, j]``: i queries): the full decision for each
        idea's candidates, the cosine model elsewhere. Quadratic: for evaluation."""
        near = self.neighbourhood(vectors)
        scores = self.calibrate(near.cosine)
        scores[near.rows, near.cols] = self.decide(near.features)
        return scores

    def fit(self, vectors: np.ndarray, groups: Sequence[str | None]) -> DuplicateScorer:
        """Learn both models on the candidate pairs of labelled ideas (``None`` = no group),
        then the threshold that maximises pair F1."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        near = self.neighbourhood(vectors)
        codes = group_codes(groups)
        truth = codes[near.rows] == codes[near.cols]
        if truth.all() or not truth.any():
            raise ValueError("fit needs both duplicate and distinct candidate pairs")
        scaler = StandardScaler().fit(near.features)
        model = LogisticRegression(C=self.C, max_iter=1000)
        model.fit(scaler.transform(near.features), truth)
        # back to raw features, so the shipped constants need no scaler
        self.coef_ = model.coef_[0] / scaler.scale_
        self.intercept_ = float(model.intercept_[0] - self.coef_ @ scaler.mean_)
        cosine = near.features[:, :1]
        single = LogisticRegression(C=self.C, max_iter=1000).fit(cosine, truth)
        self.cosine_coef_ = float(single.coef_[0, 0])
        self.cosine_intercept_ = float(single.intercept_[0])
        self.threshold_, self.train_f1_ = best_f1_threshold(self.score_matrix(vectors), groups)
        return self

    # -- one query against the index (the portal) --------------------------------------------

    def similar(
        self,
        index: NeighbourIndex,
        query: np.ndarray,
        k: int = 5,
        exclude: Sequence[int] = (),
        candidates: int | None = None,
    ) -> list[Candidate]:
        """The ``k`` best-ranked (CSLS) ideas of the index for one query vector, best first,
        each with its duplicate score and decision.

        Two searches: the query's ``candidates`` nearest (its own density comes from them), then
        one batched search of the candidates' own neighbours (their densities, and the query's
        rank among them). ``exclude`` drops ids, e.g. the query idea's own.
        """
        self._check_fitted()
        candidates = self.candidates if candidates is None else candidates
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        excluded = {int(i) for i in exclude}
        ids, cosines = index.search(query, candidates + len(excluded))
        keep = [i for i, id_ in enumerate(ids[0]) if int(id_) not in excluded][:candidates]
        ids, cosines = ids[0, keep], cosines[0, keep].astype(np.float64)
        if len(ids) == 0:
            return []
        query_density = cosines[: self.hub_k].mean()
        found, found_scores = index.search(index.get(ids), self.hub_k + 1 + len(excluded))
        densities = np.empty(len(ids))
        reverse = np.empty(len(ids))
        for row, id_ in enumerate(ids):
            # density as in csls_matrix: every other idea counts (the query's own too)
            others = found_scores[row][found[row] != id_][: self.hub_k]
            densities[row] = others.mean() if len(others) else 0.0
            # the query's rank among the candidate's neighbours: the query itself never counts
            rivals = np.array([int(f) not in excluded and f != id_ for f in found[row]], bool)
            closer = found_scores[row][rivals][: self.hub_k]
            reverse[row] = np.sum(closer > cosines[row])
        csls = cosines - (query_density + densities) / 2
        order = np.argsort(-csls, kind="stable")
        rank = np.empty(len(ids))
        rank[order] = np.arange(len(ids))
        scores = self.decide(pair_features(cosines, csls, rank, reverse))
        return [
            Candidate(
                int(ids[i]), float(scores[i]), bool(scores[i] >= self.threshold_), float(csls[i])
            )
            for i in order[:k]
        ]


def pair_features(
    cosine: np.ndarray, csls: np.ndarray, rank: np.ndarray, reverse_rank: np.ndarray
) -> np.ndarray:
    """Rows of ``FEATURES``: ranks are 0 for the nearest; logs, because the step from first to
    second matters more than from tenth to eleventh."""
    return np.column_stack(
        [
            cosine,
            csls,
            np.log1p(np.asarray(rank, dtype=np.float64)),
            np.log1p(np.asarray(reverse_rank, dtype=np.float64)),
        ]
    )
