"""Duplicate detection: ours and the peers' baselines on the dev data in one run, cross-validated.

    python bench/duplicates_eval.py [--data ../shared/data] [--cache /tmp/dup-cache] [--seeds 3]
    python bench/duplicates_eval.py --fit     # the constants in ml/duplicates.py, per backend
    python bench/duplicates_eval.py --index [--sizes 100000 1000000]

Metrics come from ml.evaluate. ``cv_pair_*`` are honest: 5 group-aware folds (a duplicate group is
never in train and test), repeated with ``--seeds`` shuffles and averaged. For a method that
learns (ours) each fold fits a ``DuplicateScorer`` on its training records and applies its model
and threshold to its test records' rows; for a method that learns nothing (the baselines) each
fold's threshold is the one maximising pair F1 on its training records. ``best_f1`` is the oracle
(threshold chosen on all the data). Pair precision is a lower bound: labels are incomplete.
``--index`` times exact search (VectorIndex) against hnswlib, if installed, on synthetic vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.duplicates import (  # noqa: E402
    HASHING,
    MINILM,
    SHIPPED,
    DuplicateScorer,
    Neighbourhood,
    combine,
    embed_parts,
)
from ml.embedders import HashingEmbedder, MiniLMEmbedder, l2_normalise  # noqa: E402
from ml.evaluate import (  # noqa: E402
    Record,
    best_f1_threshold,
    cosine_scores,
    evaluate_scores,
    group_codes,
    load_jsonl,
    pair_metrics,
    ranking_metrics,
)
from ml.keyword import bm25_scores, tfidf_scores, words  # noqa: E402

FILES = {"redmine-dev": "redmine-dev.jsonl", "banking77": "banking77-themes.jsonl"}
FOLDS = 5
# the previous shipped decision (calibrated cosine, threshold 0.08 = cosine 0.611), for before/after
BEFORE = {"coef": 12.86, "intercept": -10.3, "threshold": 0.08}

Groups = list[str | None]


def folds_of(groups: Groups, seed: int = 0) -> np.ndarray:
    codes = group_codes(groups)
    fold = np.empty(len(groups), dtype=np.int64)
    splitter = GroupKFold(FOLDS, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(codes)), groups=codes)):
        fold[test] = k
    return fold


def cv_thresholds(scores: np.ndarray, groups: Groups, fold: np.ndarray) -> np.ndarray:
    """Per record: the threshold maximising pair F1 on the records outside its fold."""
    out = np.empty(len(groups))
    for k in range(FOLDS):
        train = np.flatnonzero(fold != k)
        out[fold == k], _ = best_f1_threshold(
            scores[np.ix_(train, train)], [groups[i] for i in train]
        )
    return out


def cv_pairs(scores: np.ndarray, thresholds: np.ndarray, groups: Groups) -> dict[str, float]:
    """Pair metrics when each row is cut at its own (its fold's) threshold."""
    cv = pair_metrics(scores - thresholds[:, None], groups, 0.0)
    return {f"cv_{k}": v for k, v in cv.items()}


def mean_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([run[k] for run in runs])) for k in runs[0]}


def rounded(result: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def fixed_method(scores: np.ndarray, groups: Groups, seeds: int, threshold=None) -> dict:
    """A method that learns nothing: ranking, best F1, F1 at ``threshold`` if it has one, and
    the CV F1 of a threshold chosen on the training folds."""
    result = evaluate_scores(scores, groups, 0.0 if threshold is None else threshold)
    if threshold is None:
        for key in ("threshold", "pair_precision", "pair_recall", "pair_f1"):
            result.pop(key)
    runs = [
        cv_pairs(scores, cv_thresholds(scores, groups, folds_of(groups, seed)), groups)
        for seed in range(seeds)
    ]
    return rounded({**result, **mean_of(runs)})


def cv_scorer(
    vectors: np.ndarray, groups: Groups, seeds: int, make: Callable[[], DuplicateScorer]
) -> dict:
    """Ours, cross-validated: each fold's scorer is fitted on its training records only."""
    runs, fold_thresholds = [], []
    for seed in range(seeds):
        fold = folds_of(groups, seed)
        scores, thresholds = np.zeros((len(groups), len(groups))), np.empty(len(groups))
        for k in range(FOLDS):
            train, test = np.flatnonzero(fold != k), fold == k
            scorer = make().fit(vectors[train], [groups[i] for i in train])
            scores[test] = scorer.score_matrix(vectors)[test]
            thresholds[test] = scorer.threshold_
            fold_thresholds.append(round(scorer.threshold_, 3))
        runs.append(cv_pairs(scores, thresholds, groups))
    return {
        **rounded(mean_of(runs)),
        "cv_pair_f1_per_shuffle": [round(run["cv_pair_f1"], 4) for run in runs],
        "fold_thresholds": sorted(fold_thresholds),
    }


def shipped_method(
    vectors: np.ndarray, groups: Groups, seeds: int, cv: bool = True, backend: str = MINILM
) -> dict:
    """Ours as shipped for ``backend``'s vectors: ranked by CSLS, decided by the shipped scorer
    at its threshold."""
    shipped = DuplicateScorer.shipped(backend)
    result = dict(ranking_metrics(shipped.csls_matrix(vectors), groups))
    decided = shipped.score_matrix(vectors)
    result.update(pair_metrics(decided, groups, shipped.threshold_))
    best, best_f1 = best_f1_threshold(decided, groups)
    result.update({"threshold": shipped.threshold_, "best_f1": best_f1, "best_f1_threshold": best})
    result = rounded(result)
    if cv:
        result.update(cv_scorer(vectors, groups, seeds, DuplicateScorer))
    return result


def before_method(vectors: np.ndarray, groups: Groups, seeds: int) -> dict:
    """The previous shipped scorer: CSLS ranking, calibrated-cosine decision."""
    ranking = ranking_metrics(DuplicateScorer().csls_matrix(vectors), groups)
    decided = 1 / (1 + np.exp(-(BEFORE["coef"] * cosine_scores(vectors) + BEFORE["intercept"])))
    result = fixed_method(decided, groups, seeds, BEFORE["threshold"])
    return {**result, **rounded(ranking)}


class NeighbourhoodOnly(DuplicateScorer):
    """Tried: the neighbourhood model without the cosine model beside it."""

    def decide(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64).reshape(-1, 4)
        return 1 / (1 + np.exp(-(features @ self.coef_ + self.intercept_)))

    def score_matrix(self, vectors: np.ndarray) -> np.ndarray:
        near = self.neighbourhood(vectors)
        scores = np.zeros_like(near.cosine)
        scores[near.rows, near.cols] = self.decide(near.features)
        return scores


def with_text_features(
    records: list[Record], titles: np.ndarray, full: np.ndarray, vectors: np.ndarray, seeds: int
) -> dict:
    """Tried: the neighbourhood model plus title-title, body-body and title-body cosines, BM25 on
    the title and title word overlap, with the cosine model beside it (grouped CV)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    keyword = bm25_scores([r.title for r in records])
    keyword = np.maximum(keyword, keyword.T) / (np.diag(keyword)[:, None] + 1e-9)
    cross = titles @ full.T
    sets = [set(words(r.title)) for r in records]
    groups = [r.group for r in records]
    codes = group_codes(groups)

    def extra(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        overlap = [
            len(sets[i] & sets[j]) / max(1, len(sets[i] | sets[j]))
            for i, j in zip(rows, cols, strict=True)
        ]
        return np.column_stack(
            [
                np.sum(titles[rows] * titles[cols], 1),
                np.sum(full[rows] * full[cols], 1),
                np.maximum(cross[rows, cols], cross[cols, rows]),
                keyword[rows, cols],
                overlap,
            ]
        )

    base = DuplicateScorer()
    near = base.neighbourhood(vectors)
    features = np.hstack([near.features, extra(near.rows, near.cols)])
    truth = codes[near.rows] == codes[near.cols]
    runs = []
    for seed in range(seeds):
        fold = folds_of(groups, seed)
        scores, thresholds = np.zeros_like(near.cosine), np.empty(len(groups))
        for k in range(FOLDS):
            inside = (fold[near.rows] != k) & (fold[near.cols] != k)
            scaler = StandardScaler().fit(features[inside])
            model = LogisticRegression(max_iter=2000).fit(
                scaler.transform(features[inside]), truth[inside]
            )
            single = LogisticRegression(max_iter=2000).fit(features[inside, :1], truth[inside])

            fold_scores = np.zeros_like(near.cosine)
            fold_scores[near.rows, near.cols] = np.maximum(
                model.predict_proba(scaler.transform(features))[:, 1],
                single.predict_proba(features[:, :1])[:, 1],
            )
            train = np.flatnonzero(fold != k)
            thresholds[fold == k], _ = best_f1_threshold(
                fold_scores[np.ix_(train, train)], [groups[i] for i in train]
            )
            test = fold[near.rows] == k
            scores[near.rows[test], near.cols[test]] = fold_scores[near.rows[test], near.cols[test]]
        runs.append(cv_pairs(scores, thresholds, groups))
    ranking = ranking_metrics(scores, groups)  # the last seed's CV scores
    return rounded({**ranking, **mean_of(runs)})


def neighbour_overlap(
    vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int, candidates: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate pair (query ``rows``, candidate ``cols``), what similar() could compute from
    the query's ``candidates`` nearest and the candidates' own lists of ``k``:

    - the k-reciprocal Jaccard similarity (Zhong et al. 2017): each idea's set of k-nearest that
      have it among their k-nearest too, itself included, weighted exp(-squared distance);
      reciprocity is checked where a list is known (the query's, the candidates') and assumed
      elsewhere;
    - the shared-neighbour Jaccard of the two k-nearest sets (each with the idea itself).
    """
    n = len(vectors)
    cosine = (vectors @ vectors.T).astype(np.float64)
    others = cosine.copy()
    np.fill_diagonal(others, -np.inf)
    nearest = np.argsort(-others, axis=1, kind="stable")[:, : max(k, candidates)]
    near_k = np.zeros((n, n), bool)
    near_k[np.arange(n)[:, None], nearest[:, :k]] = True
    weight = np.exp(-(2 - 2 * cosine))
    reciprocal = np.where(near_k & near_k.T, weight, 0.0)
    np.fill_diagonal(reciprocal, 1.0)
    one_way = np.where(near_k & ~near_k.T, weight, 0.0)
    own = near_k.copy()
    np.fill_diagonal(own, True)
    jaccard, shared = np.empty(len(rows)), np.empty(len(rows))
    for q in np.unique(rows):
        at = np.flatnonzero(rows == q)
        found = cols[at]
        known = np.append(nearest[q, :candidates], q)
        support = np.flatnonzero(reciprocal[q])
        both = np.minimum(reciprocal[q, support], reciprocal[np.ix_(found, support)]).sum(1)
        theirs = (
            reciprocal[found].sum(1) + one_way[found].sum(1) - one_way[np.ix_(found, known)].sum(1)
        )
        jaccard[at] = both / (reciprocal[q].sum() + theirs - both)
        common = own[np.ix_(found, np.flatnonzero(own[q]))].sum(1)
        shared[at] = common / (own[q].sum() + own[found].sum(1) - common)
    return jaccard, shared


def candidate_ranking(near: Neighbourhood, scores: np.ndarray) -> np.ndarray:
    """A ranking matrix that re-orders each query's candidates by ``scores`` (one per pair)."""
    out = np.full_like(near.cosine, -np.inf)
    out[near.rows, near.cols] = scores
    return out


def k_reciprocal(vectors: np.ndarray, groups: Groups) -> dict:
    """Tried for ranking: CSLS minus mu x the k-reciprocal Jaccard distance, over the candidates."""
    near = DuplicateScorer().neighbourhood(vectors)
    csls = near.csls[near.rows, near.cols]
    out = {}
    for k in (5, 20):
        jaccard, _ = neighbour_overlap(vectors, near.rows, near.cols, k)
        for mu in (0.1, 0.3):
            ranking = candidate_ranking(near, csls - mu * (1 - jaccard))
            out[f"k {k}, mu {mu}"] = rounded(ranking_metrics(ranking, groups))
    return out


def query_expansion(vectors: np.ndarray, groups: Groups) -> dict:
    """Tried for ranking: alpha-QE, the query averaged with its m nearest weighted cos^alpha
    (their vectors are fetched anyway), and with database-side augmentation (each candidate
    expanded the same way); CSLS + beta x (expanded cosine - cosine), over the candidates."""
    near = DuplicateScorer().neighbourhood(vectors)
    cosine = near.cosine
    others = cosine.copy()
    np.fill_diagonal(others, -np.inf)
    order = np.argsort(-others, axis=1, kind="stable")
    out = {}
    for m, alpha, beta in ((1, 3.0, 0.3), (3, 1.0, 0.3), (3, 3.0, 0.3), (3, 1.0, 1.0)):
        weights = np.zeros_like(cosine)
        top = order[:, :m]
        weights[np.arange(len(cosine))[:, None], top] = np.take_along_axis(cosine, top, 1) ** alpha
        expanded = l2_normalise(vectors + weights.astype(np.float32) @ vectors)
        for name, score in (("QE", expanded @ vectors.T), ("QE + DBA", expanded @ expanded.T)):
            pairs = (score - cosine)[near.rows, near.cols]
            ranking = candidate_ranking(near, near.csls[near.rows, near.cols] + beta * pairs)
            out[f"{name} m {m}, alpha {alpha:g}, beta {beta}"] = rounded(
                ranking_metrics(ranking, groups)
            )
    return out


class WithOverlap(DuplicateScorer):
    """Tried: the neighbourhood model plus the k-reciprocal or shared-neighbour Jaccard."""

    def __init__(self, which: int = 0, k: int = 20):
        super().__init__()
        self.which, self.k = which, k

    def neighbourhood(self, vectors: np.ndarray, with_features: bool = True) -> Neighbourhood:
        near = super().neighbourhood(vectors, with_features)
        if not with_features:
            return near
        extra = neighbour_overlap(np.asarray(vectors), near.rows, near.cols, self.k)[self.which]
        features = np.column_stack([near.features, extra])
        return Neighbourhood(near.cosine, near.csls, near.rows, near.cols, features)

    def decide(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64).reshape(-1, len(self.coef_))
        neighbourhood = 1 / (1 + np.exp(-(features @ self.coef_ + self.intercept_)))
        return np.maximum(neighbourhood, self.calibrate(features[:, 0]))


def misses(vectors: np.ndarray, groups: Groups) -> dict:
    """Ours' recall@1 misses: how many rank first a record with no known duplicate (``null``),
    where an unmarked duplicate may hide, and how many one of another group."""
    ranking = DuplicateScorer.shipped().csls_matrix(vectors)
    np.fill_diagonal(ranking, -np.inf)
    codes = group_codes(groups)
    sizes = np.bincount(codes)
    out = {"misses": 0, "top1_has_no_group": 0, "top1_in_another_group": 0}
    for q in np.flatnonzero(sizes[codes] > 1):
        top = int(np.argmax(ranking[q]))
        if codes[top] != codes[q]:
            out["misses"] += 1
            out["top1_has_no_group" if groups[top] is None else "top1_in_another_group"] += 1
    return out


def fusion(csls: np.ndarray, keyword: np.ndarray, groups: Groups) -> dict:
    """Tried for ranking: CSLS plus a BM25 share, and reciprocal-rank fusion of the two."""

    def ranks(scores: np.ndarray) -> np.ndarray:
        others = scores.copy()
        np.fill_diagonal(others, -np.inf)
        order = np.argsort(-others, axis=1, kind="stable")
        out = np.empty_like(order)
        out[np.arange(len(scores))[:, None], order] = np.arange(len(scores))[None, :]
        return out

    normalised = keyword / (keyword.max(axis=1, keepdims=True) + 1e-9)
    rrf = 1 / (60 + ranks(csls)) + 1 / (60 + ranks(keyword))
    return {
        "csls + 0.1 bm25": rounded(ranking_metrics(csls + 0.1 * normalised, groups)),
        "rrf(csls, bm25)": rounded(ranking_metrics(rrf, groups)),
    }


def embed(name: str, records: list[Record], cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM vectors of titles and of title + description (cached outside the project)."""
    path = cache / f"{name}-minilm.npz" if cache else None
    if path and path.exists():
        stored = np.load(path)
        return stored["titles"], stored["full"]
    titles, full = embed_parts(
        MiniLMEmbedder(), [r.title for r in records], [r.description for r in records]
    )
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, titles=titles, full=full)
    return titles, full


def evaluate_file(records: list[Record], titles: np.ndarray, full: np.ndarray, seeds: int) -> dict:
    groups = [r.group for r in records]
    vectors = combine(titles, full)
    texts = [f"{r.title}\n{r.description}".strip() for r in records]
    keyword = bm25_scores([r.title for r in records])
    hashed = combine(
        *embed_parts(
            HashingEmbedder(), [r.title for r in records], [r.description for r in records]
        )
    )
    methods = {
        "bm25_title": fixed_method(keyword, groups, seeds),
        "tfidf": fixed_method(tfidf_scores(texts), groups, seeds),
        "minilm_cosine": fixed_method(cosine_scores(full), groups, seeds),
        "hashing_ours": shipped_method(hashed, groups, seeds, backend=HashingEmbedder().name),
        "before_csls_calibrated_cosine": before_method(vectors, groups, seeds),
        "ours_shipped": shipped_method(vectors, groups, seeds),
    }
    tried = {
        "neighbourhood_model_alone": cv_scorer(vectors, groups, seeds, NeighbourhoodOnly),
        "plus_text_features": with_text_features(records, titles, full, vectors, seeds),
        **fusion(DuplicateScorer.shipped().csls_matrix(vectors), keyword, groups),
        "k_reciprocal_reranking": k_reciprocal(vectors, groups),
        "query_expansion": query_expansion(vectors, groups),
        "plus_k_reciprocal_jaccard": cv_scorer(vectors, groups, seeds, lambda: WithOverlap(0, 20)),
        "plus_shared_neighbours": cv_scorer(vectors, groups, seeds, lambda: WithOverlap(1, 10)),
        "hashing_with_minilm_constants": shipped_method(hashed, groups, seeds, cv=False),
    }
    return {
        "records": len(records),
        "methods": methods,
        "tried": tried,
        "recall_at_1_misses": misses(vectors, groups),
    }


def transfer(source: np.ndarray, source_groups: Groups, target: np.ndarray, target_groups: Groups):
    """Fitted on one file, judged on another at the fitted threshold: does the decision carry
    over to a corpus shaped differently (BANKING77's ~40 same-intent records per request)?"""
    out = {}
    for name, make in (("ours", DuplicateScorer), ("neighbourhood_model_alone", NeighbourhoodOnly)):
        scorer = make().fit(source, source_groups)
        scores = scorer.score_matrix(target)
        out[name] = rounded(pair_metrics(scores, target_groups, scorer.threshold_))
    return out


def fit_shipped(path: Path, cache: Path | None) -> dict:
    """The constants of each backend (``SHIPPED`` in ml/duplicates.py), fitted on ``path``."""
    records = load_jsonl(path)
    groups = [r.group for r in records]
    titles, descriptions = [r.title for r in records], [r.description for r in records]
    backends = {
        MINILM: combine(*embed("redmine-dev", records, cache)),
        HASHING: combine(*embed_parts(HashingEmbedder(), titles, descriptions)),
    }
    out = {}
    for backend, vectors in backends.items():
        scorer = DuplicateScorer().fit(vectors, groups)
        fold_thresholds = []
        for seed in range(3):
            fold = folds_of(groups, seed)
            for k in range(FOLDS):
                keep = np.flatnonzero(fold != k)
                part = DuplicateScorer().fit(vectors[keep], [groups[i] for i in keep])
                fold_thresholds.append(round(part.threshold_, 3))
        out[backend] = {
            "SHIPPED": scorer.constants(),
            "train_f1": round(scorer.train_f1_, 3),
            "fold_thresholds": sorted(fold_thresholds),
        }
    return out


def bench_index(sizes: list[int], queries: int = 30, dimensions: int = 384) -> list[dict]:
    from ml.index import VectorIndex

    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        centres = l2_normalise(rng.standard_normal((1000, dimensions)))
        data = np.empty((n, dimensions), dtype=np.float32)
        for start in range(0, n, 100_000):  # clustered, like real ideas, not uniform noise
            stop = min(n, start + 100_000)
            picks = centres[rng.integers(0, 1000, stop - start)]
            data[start:stop] = l2_normalise(picks + 0.6 * rng.standard_normal(picks.shape) / 20)
        probes = l2_normalise(data[rng.integers(0, n, queries)] + 0.01)
        index = VectorIndex(dimensions)
        started = time.perf_counter()
        for start in range(0, n, 10_000):
            index.add(range(start, min(n, start + 10_000)), data[start : start + 10_000])
        build = time.perf_counter() - started
        times, exact = [], []
        for probe in probes:
            started = time.perf_counter()
            ids, _ = index.search(probe, 10)
            times.append(time.perf_counter() - started)
            exact.append(set(ids[0].tolist()))
        row = {
            "n": n,
            "exact_build_s": round(build, 2),
            "exact_query_p50_ms": round(1000 * float(np.median(times)), 1),
            "exact_memory_mb": round(index._vectors.nbytes / 2**20),
        }
        row.update(bench_hnsw(data, probes, exact))
        rows.append(row)
        del index, data
    return rows


def bench_hnsw(data: np.ndarray, probes: np.ndarray, exact: list[set[int]]) -> dict:
    try:
        import hnswlib
    except ImportError:
        return {"hnsw": "hnswlib not installed"}
    n, dimensions = data.shape
    graph = hnswlib.Index(space="ip", dim=dimensions)
    started = time.perf_counter()
    graph.init_index(max_elements=n, M=16, ef_construction=100, random_seed=0)
    graph.add_items(data, np.arange(n), num_threads=2)
    build = time.perf_counter() - started
    graph.set_ef(64)
    times, overlap = [], []
    for probe, truth in zip(probes, exact, strict=True):
        started = time.perf_counter()
        labels, _ = graph.knn_query(probe[None, :], k=10)
        times.append(time.perf_counter() - started)
        overlap.append(len(truth & set(labels[0].tolist())) / 10)
    return {
        "hnsw_build_s": round(build, 1),
        "hnsw_query_p50_ms": round(1000 * float(np.median(times)), 2),
        "hnsw_recall_at_10": round(float(np.mean(overlap)), 3),
        "hnsw_memory_mb_estimate": round(n * (dimensions * 4 + 16 * 2 * 4 + 8) / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None, help="keep vectors here (not in git)")
    parser.add_argument("--seeds", type=int, default=3, help="CV repeats (fold shuffles)")
    parser.add_argument("--fit", action="store_true", help="print the constants to ship")
    parser.add_argument("--index", action="store_true", help="benchmark the vector index")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.index:
        print(json.dumps({"index": bench_index(args.sizes)}, indent=2))
        return
    if args.fit:
        print(json.dumps(fit_shipped(args.data / FILES["redmine-dev"], args.cache), indent=2))
        return
    started = time.perf_counter()
    data = {}
    for name, file in FILES.items():
        records = load_jsonl(args.data / file)
        data[name] = (records, *embed(name, records, args.cache))
    out: dict = {"shipped": SHIPPED, "files": {}}
    for name, (records, titles, full) in data.items():
        out["files"][name] = evaluate_file(records, titles, full, args.seeds)
    (source, *source_vectors), (target, *target_vectors) = data["redmine-dev"], data["banking77"]
    out["redmine_fit_on_banking77"] = transfer(
        combine(*source_vectors),
        [r.group for r in source],
        combine(*target_vectors),
        [r.group for r in target],
    )
    out["seconds"] = round(time.perf_counter() - started)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
