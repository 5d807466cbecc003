"""Duplicate-detection metrics: pure functions over a score matrix and group labels.

Data format (JSONL, one record a line): ``{"id", "title", "description", "group"}``; records
sharing a non-null ``group`` ask for the same thing, ``null`` means no known duplicate. Theme files
(``"theme"`` instead of ``"group"``) can be read the same way: same theme = same request.

Metrics:
- ``recall_at_1``, ``recall_at_5``, ``mrr``: every record whose group has another member queries all
  other records; a hit is any record of its group.
- ``pair_precision``, ``pair_recall``, ``pair_f1``: predicted pairs are all unordered pairs scoring
  at or above the threshold; true pairs are those of the same group.
- ``best_f1`` and ``best_f1_threshold``: the threshold that maximises pair F1 on this data.

``evaluate_embedder`` adds ``baselines``: BM25 on the title, TF-IDF and the plain cosine, measured
in the same run (their ranking and best F1; they ship no threshold).

Labels are incomplete (some ``null`` records have unmarked duplicates), so precision is a lower
bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.embedders import Embedder


@dataclass(frozen=True)
class Record:
    id: str
    title: str
    description: str
    group: str | None


def load_jsonl(path: str | Path) -> list[Record]:
    """Read a duplicates (``group``) or themes (``theme``) JSONL file."""
    records = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            raw = json.loads(line)
            group = raw.get("group", raw.get("theme"))
            records.append(
                Record(
                    id=str(raw["id"]),
                    title=raw.get("title") or "",
                    description=raw.get("description") or "",
                    group=None if group is None else str(group),
                )
            )
    return records


def group_codes(groups: Sequence[str | None]) -> np.ndarray:
    """Integer code per record: same code = same group; ``None`` gets a code of its own."""
    codes: dict[str, int] = {}
    out = np.empty(len(groups), dtype=np.int64)
    for i, group in enumerate(groups):
        key = f"\0{i}" if group is None else group
        out[i] = codes.setdefault(key, len(codes))
    return out


def ranking_metrics(scores: np.ndarray, groups: Sequence[str | None]) -> dict[str, float]:
    """recall@1, recall@5 and MRR of each record that has a duplicate, querying all others."""
    codes = group_codes(groups)
    same = codes[:, None] == codes[None, :]
    np.fill_diagonal(same, False)
    queries = np.flatnonzero(same.any(axis=1))
    if len(queries) == 0:
        return {"recall_at_1": 0.0, "recall_at_5": 0.0, "mrr": 0.0, "queries": 0}
    ranks = []
    for q in queries:
        others = ~same[q]
        others[q] = False
        best_true = scores[q, same[q]].max()
        # rank of the best true match; ties are counted against it (pessimistic)
        ranks.append(1 + int(np.sum(scores[q, others] >= best_true)))
    ranks_arr = np.asarray(ranks, dtype=np.float64)
    return {
        "recall_at_1": float(np.mean(ranks_arr <= 1)),
        "recall_at_5": float(np.mean(ranks_arr <= 5)),
        "mrr": float(np.mean(1.0 / ranks_arr)),
        "queries": int(len(queries)),
    }


def _pairs(scores: np.ndarray, groups: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Score and truth of every unordered pair (i < j); a pair's score is the max of both ways."""
    codes = group_codes(groups)
    sym = np.maximum(scores, scores.T)
    iu = np.triu_indices(len(codes), k=1)
    return sym[iu], codes[iu[0]] == codes[iu[1]]


def _prf(tp: float, predicted: float, actual: float) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pair_metrics(
    scores: np.ndarray, groups: Sequence[str | None], threshold: float
) -> dict[str, float]:
    """Pair precision, recall and F1 at ``threshold``."""
    pair_scores, truth = _pairs(scores, groups)
    predicted = pair_scores >= threshold
    p, r, f = _prf(float(np.sum(predicted & truth)), float(predicted.sum()), float(truth.sum()))
    return {"pair_precision": p, "pair_recall": r, "pair_f1": f}


def best_f1_threshold(scores: np.ndarray, groups: Sequence[str | None]) -> tuple[float, float]:
    """The threshold (a pair score) that maximises pair F1, and that F1."""
    pair_scores, truth = _pairs(scores, groups)
    order = np.argsort(-pair_scores, kind="stable")
    s, t = pair_scores[order], truth[order]
    tp = np.cumsum(t)
    # only cut where the score changes, so ties fall on the same side
    last = np.r_[s[1:] != s[:-1], True]
    tp, predicted, s = tp[last], np.flatnonzero(last) + 1, s[last]
    actual = max(int(truth.sum()), 1)
    f1 = 2 * tp / (predicted + actual)
    best = int(np.argmax(f1))
    return float(s[best]), float(f1[best])


def evaluate_scores(
    scores: np.ndarray, groups: Sequence[str | None], threshold: float
) -> dict[str, float]:
    """All duplicate metrics of a square score matrix (``scores[i, j]``: i queries, j found)."""
    scores = np.asarray(scores, dtype=np.float64)
    result = ranking_metrics(scores, groups)
    result.update(pair_metrics(scores, groups, threshold))
    threshold_best, f1_best = best_f1_threshold(scores, groups)
    result.update({"threshold": threshold, "best_f1": f1_best, "best_f1_threshold": threshold_best})
    return result


def cosine_scores(vectors: np.ndarray) -> np.ndarray:
    """All-pairs cosine of L2-normalised row vectors."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors @ vectors.T


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


def ranking_and_best_f1(scores: np.ndarray, groups: Sequence[str | None]) -> dict[str, float]:
    """What a method without a threshold of its own is judged by: its ranking, and its pair F1
    at the threshold that is best on this data (an upper bound)."""
    result = dict(ranking_metrics(scores, groups))
    threshold, f1 = best_f1_threshold(scores, groups)
    result.update({"best_f1": f1, "best_f1_threshold": threshold})
    return _rounded(result)


def baselines(
    records: Sequence[Record], full_vectors: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """What other portals rank similar ideas by, on the same records: BM25 on the title (Fider),
    TF-IDF cosine of title + description (a "more like this" query, ClearFlask) and, given the
    embeddings of title + description, their plain cosine (Quackback)."""
    from ml.keyword import bm25_scores, tfidf_scores

    groups = [r.group for r in records]
    texts = [f"{r.title}\n{r.description}".strip() for r in records]
    result = {
        "bm25_title": ranking_and_best_f1(bm25_scores([r.title for r in records]), groups),
        "tfidf": ranking_and_best_f1(tfidf_scores(texts), groups),
    }
    if full_vectors is not None:
        result["cosine"] = ranking_and_best_f1(cosine_scores(full_vectors), groups)
    return result


def evaluate_embedder(
    records: Sequence[Record],
    embedder: Embedder,
    threshold: float | None = None,
    with_baselines: bool = True,
) -> dict[str, object]:
    """The metrics of the portal's own pipeline on labelled records: idea vectors from
    ``embedder`` (fitted on the records first if it learns from them), ranked as the shipped
    ``DuplicateScorer`` ranks (CSLS) and decided by its duplicate score at ``threshold``
    (default: the one shipped for the embedder's vectors). ``best_f1_threshold`` is on the same
    scale. ``baselines``: the keyword methods and the backend's plain cosine, measured in the
    same run."""
    from ml.duplicates import DuplicateScorer, combine, embed_parts, idea_text

    embedder.fit([idea_text(r.title, r.description) for r in records])
    scorer = DuplicateScorer.shipped(embedder.name)  # after fit: a TF-IDF name needs it
    titles, full = embed_parts(
        embedder, [r.title for r in records], [r.description for r in records]
    )
    vectors = combine(titles, full)
    groups = [r.group for r in records]
    threshold = scorer.threshold_ if threshold is None else threshold
    metrics = ranking_metrics(scorer.csls_matrix(vectors), groups)
    decided = scorer.score_matrix(vectors)
    metrics.update(pair_metrics(decided, groups, threshold))
    best, best_f1 = best_f1_threshold(decided, groups)
    metrics.update({"threshold": threshold, "best_f1": best_f1, "best_f1_threshold": best})
    result: dict[str, object] = dict(_rounded(metrics))
    if with_baselines:
        result["baselines"] = baselines(records, full)
    return result


def theme_metrics(
    themes: Sequence[str | None], labels: Sequence[int] | np.ndarray
) -> dict[str, float]:
    """Adjusted Rand index and NMI of predicted theme ``labels`` against the true ``themes``, the
    number of themes found and the share left unassigned (label -1). Unassigned records count as
    one more cluster, as the portal shows them: together, under "no theme"."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth, predicted = group_codes(themes), np.asarray(labels)
    return {
        "ari": float(adjusted_rand_score(truth, predicted)),
        "nmi": float(normalized_mutual_info_score(truth, predicted)),
        "n_themes": int(len(set(predicted.tolist()) - {-1})),
        "unassigned": float(np.mean(predicted == -1)) if len(predicted) else 0.0,
    }


def evaluate_themes(records: Sequence[Record], embedder: Embedder) -> dict[str, float]:
    """Theme metrics of the shipped clustering (``ml.themes.cluster``) on labelled records (their
    ``group`` holds the file's ``theme``), over idea vectors from ``embedder`` (fitted on the
    records first if it learns from them). ``seconds``: the clustering alone; ``embed_seconds``:
    the vectors."""
    import time

    from ml.duplicates import idea_text, idea_vectors
    from ml.themes import cluster

    started = time.perf_counter()
    embedder.fit([idea_text(r.title, r.description) for r in records])
    vectors = idea_vectors(embedder, [r.title for r in records], [r.description for r in records])
    embedded = time.perf_counter()
    labels = cluster(vectors)
    seconds = time.perf_counter() - embedded
    result = theme_metrics([r.group for r in records], labels)
    result.update({"seconds": seconds, "embed_seconds": embedded - started})
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
