"""Metrics on tiny hand-made examples whose answers are worked out by hand."""

import json

import numpy as np
import pytest

from ml.embedders import HashingEmbedder
from ml.evaluate import (
    Record,
    baselines,
    best_f1_threshold,
    evaluate_embedder,
    evaluate_scores,
    load_jsonl,
    pair_metrics,
    ranking_metrics,
)

# records 0 and 1 are one group, 2 and 3 another, 4 has no known duplicate
GROUPS = ["a", "a", "b", "b", None]
SCORES = np.array(
    [
        [1.0, 0.9, 0.2, 0.1, 0.3],  # 0: its duplicate 1 ranks first
        [0.9, 1.0, 0.1, 0.2, 0.95],  # 1: 4 outranks 0 -> rank 2
        [0.2, 0.1, 1.0, 0.4, 0.5],  # 2: 4 outranks 3 -> rank 2
        [0.1, 0.2, 0.4, 1.0, 0.6],  # 3: 4 outranks 2 -> rank 2
        [0.3, 0.95, 0.5, 0.6, 1.0],
    ]
)


def test_ranking_metrics_by_hand():
    result = ranking_metrics(SCORES, GROUPS)
    assert result["queries"] == 4  # record 4 has no duplicate, so it does not query
    assert result["recall_at_1"] == pytest.approx(1 / 4)
    assert result["recall_at_5"] == pytest.approx(1.0)
    assert result["mrr"] == pytest.approx((1 + 0.5 + 0.5 + 0.5) / 4)


def test_ties_count_against_the_true_match():
    scores = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])
    assert ranking_metrics(scores, ["a", "a", None])["recall_at_1"] == 0.0


def test_pair_metrics_by_hand():
    # pairs at >= 0.5: (0,1) true, (1,4) false, (2,4) false, (3,4) false; true pairs (0,1), (2,3)
    result = pair_metrics(SCORES, GROUPS, 0.5)
    assert result["pair_precision"] == pytest.approx(1 / 4)
    assert result["pair_recall"] == pytest.approx(1 / 2)
    assert result["pair_f1"] == pytest.approx(2 * 0.25 * 0.5 / 0.75)


def test_pair_score_is_the_larger_of_both_directions():
    scores = np.array([[1.0, 0.9], [0.1, 1.0]])
    assert pair_metrics(scores, ["a", "a"], 0.5)["pair_recall"] == 1.0


def test_best_f1_threshold_by_hand():
    # pairs by score: (1,4) .95 F, (0,1) .9 T, (3,4) .6 F, (2,4) .5 F, (2,3) .4 T, ...
    # F1 at each cut: .95 -> 0, .9 -> 2/4, .6 -> 2/5, .5 -> 2/6, .4 -> 4/7 (best), .3 -> 4/8
    threshold, f1 = best_f1_threshold(SCORES, GROUPS)
    assert threshold == pytest.approx(0.4)
    assert f1 == pytest.approx(4 / 7)


def test_evaluate_scores_has_every_metric():
    result = evaluate_scores(SCORES, GROUPS, threshold=0.5)
    assert set(result) >= {
        "recall_at_1",
        "recall_at_5",
        "mrr",
        "pair_precision",
        "pair_recall",
        "pair_f1",
        "best_f1",
        "best_f1_threshold",
        "threshold",
    }


def test_load_jsonl_reads_groups_and_themes(tmp_path):
    path = tmp_path / "ideas.jsonl"
    lines = [
        {"id": 1, "title": "Dark mode", "description": "Please", "group": "g1"},
        {"id": "2", "title": "Night theme", "description": None, "group": None},
        {"id": "3", "title": "Card lost", "description": "", "theme": "lost_card"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    records = load_jsonl(path)
    assert [r.id for r in records] == ["1", "2", "3"]
    assert [r.group for r in records] == ["g1", None, "lost_card"]
    assert records[1].description == ""


RECORDS = [
    Record("1", "Dark mode for the portal", "", "dark"),
    Record("2", "Please add a dark theme to the portal", "Night work is easier", "dark"),
    Record("3", "Export the roadmap as CSV", "", "csv"),
    Record("4", "Roadmap export to a CSV file", "", "csv"),
    Record("5", "Email me when an idea ships", "", None),
    Record("6", "Keyboard shortcuts for voting", "", None),
]


def test_baselines_are_measured_on_the_same_records():
    result = baselines(RECORDS)
    assert set(result) == {"bm25_title", "tfidf"}
    for metrics in result.values():
        assert metrics["queries"] == 4 and metrics["recall_at_5"] == 1.0
        assert set(metrics) >= {"recall_at_1", "mrr", "best_f1", "best_f1_threshold"}
    vectors = np.eye(len(RECORDS), dtype=np.float32)  # orthogonal: every pair scores 0
    assert baselines(RECORDS, vectors)["cosine"]["recall_at_1"] == 0.0


def test_evaluate_embedder_reports_ours_and_the_baselines():
    result = evaluate_embedder(RECORDS, HashingEmbedder())
    assert 0 <= result["pair_f1"] <= 1 and result["recall_at_5"] == 1.0  # type: ignore[operator]
    assert set(result["baselines"]) == {"bm25_title", "tfidf", "cosine"}  # type: ignore[arg-type]
    assert "baselines" not in evaluate_embedder(RECORDS, HashingEmbedder(), with_baselines=False)
