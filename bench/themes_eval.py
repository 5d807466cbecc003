"""Themes: every clustering candidate on the labelled files, then the shipped one at 100,000 ideas.

    python bench/themes_eval.py [--data ../shared/data] [--cache /tmp/themes-cache]
    python bench/themes_eval.py --scale 100000 [--scale-candidates shipped hdbscan-pca5]

Quality: MiniLM idea vectors (``ml.duplicates.idea_vectors``) of banking77-themes and
app-reviews-themes; ARI and NMI count the unassigned records (-1) as one more cluster
(``ml.evaluate.theme_metrics``); ``ari_assigned`` is the ARI over the assigned records only.
Scale: synthetic vectors, perturbed copies of the real ones with noise set so that the mean cosine
to the nearest neighbour matches the real data; each candidate runs in a child process, which
reports wall and CPU seconds and its peak resident memory (VmHWM, everything included: the
interpreter, the libraries and the vectors; ``rss_before`` is the same before clustering).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, pairwise_distances, silhouette_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.duplicates import idea_vectors  # noqa: E402
from ml.embedders import make_embedder  # noqa: E402
from ml.evaluate import group_codes, load_jsonl, theme_metrics  # noqa: E402
from ml.themes import ThemeClusterer, cluster, neighbour_graph  # noqa: E402

FILES = {"banking77": "banking77-themes.jsonl", "app-reviews": "app-reviews-themes.jsonl"}
SEED = 0
TIMEOUT = 600  # seconds a candidate may take at scale before it is stopped


def silhouette_sample(vectors: np.ndarray, size: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances of a random sample (silhouette on all of 100,000 ideas is quadratic)."""
    rows = np.random.default_rng(SEED).choice(len(vectors), min(size, len(vectors)), replace=False)
    return rows, pairwise_distances(vectors[rows], metric="cosine")


def k_grid(n: int) -> list[int]:
    """Candidate numbers of themes: 2 … n/5 (at most 400), about 25 values, log-spaced."""
    top = max(3, min(400, n // 5))
    return sorted({int(k) for k in np.geomspace(2, top, 25)})


def kmeans_silhouette(vectors: np.ndarray) -> np.ndarray:
    """MiniBatchKMeans for each k of the grid; keep the best cosine silhouette (on a sample)."""
    rows, distances = silhouette_sample(vectors)
    best: tuple[float, np.ndarray] | None = None
    for k in k_grid(len(vectors)):
        labels = MiniBatchKMeans(k, n_init=1, batch_size=4096, random_state=SEED).fit_predict(
            vectors
        )
        if len(set(labels[rows])) < 2:
            continue
        score = silhouette_score(distances, labels[rows], metric="precomputed")
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    return best[1]


def micro_ward_silhouette(vectors: np.ndarray) -> np.ndarray:
    """k-means micro-clusters (4√n), Ward over their centres, cut where the silhouette peaks."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(vectors)
    micro = MiniBatchKMeans(
        min(n, max(50, int(4 * np.sqrt(n)))), n_init=1, batch_size=4096, random_state=SEED
    ).fit(vectors)
    tree = linkage(micro.cluster_centers_, "ward")
    rows, distances = silhouette_sample(vectors)
    best: tuple[float, np.ndarray] | None = None
    for k in k_grid(n):
        labels = fcluster(tree, k, "maxclust")[micro.labels_] - 1
        if len(set(labels[rows])) < 2:
            continue
        score = silhouette_score(distances, labels[rows], metric="precomputed")
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    return best[1]


def hdbscan_pca(dims: int, min_cluster_size: int, reassign: bool = False) -> Callable:
    """HDBSCAN on PCA-reduced vectors (BERTopic's pipeline with PCA for UMAP); outliers stay -1
    unless ``reassign``, which gives each to the nearest cluster centre (BERTopic's
    ``reduce_outliers``)."""

    def run(vectors: np.ndarray) -> np.ndarray:
        reduced = PCA(dims, random_state=SEED).fit_transform(vectors)
        labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(reduced)
        outliers = labels == -1
        if reassign and outliers.any() and not outliers.all():
            ids = np.unique(labels[~outliers])
            centres = np.stack([vectors[labels == i].mean(axis=0) for i in ids])
            labels[outliers] = ids[np.argmax(vectors[outliers] @ centres.T, axis=1)]
        return labels

    return run


def bertopic_defaults(texts: list[str]) -> Callable[[np.ndarray], np.ndarray]:
    """BERTopic with its defaults (UMAP to 5 dimensions, HDBSCAN min size 10, outliers -1) on
    the same vectors; the texts only name its topics. A bench extra:
    ``pip install -e '.[bench]'``."""

    def run(vectors: np.ndarray) -> np.ndarray:
        from bertopic import BERTopic

        topics, _ = BERTopic().fit_transform(texts, embeddings=vectors)
        return np.asarray(topics)

    return run


SHIPPED = "shipped: k-NN graph (k=5, cosine³) + Louvain, resolution 2.5"
CANDIDATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    SHIPPED: cluster,
    "before: k-NN graph (k=5, cosine) + Louvain, resolution 2": ThemeClusterer(
        sharpness=1.0, resolution=2.0
    ).fit_predict,
    "k-NN graph (k=5, cosine³) + Louvain, resolution 1": ThemeClusterer(resolution=1.0).fit_predict,
    "MiniBatchKMeans, k by silhouette": kmeans_silhouette,
    "Ward on k-means micro-clusters, cut by silhouette": micro_ward_silhouette,
    "HDBSCAN on PCA-5, min size 10 (BERTopic defaults)": hdbscan_pca(5, 10),
    "HDBSCAN on PCA-30, min size 5": hdbscan_pca(30, 5),
    "HDBSCAN on PCA-30, min size 5, outliers reassigned": hdbscan_pca(30, 5, reassign=True),
}
SCALE = {  # short names for --scale-candidates
    "shipped": SHIPPED,
    "kmeans-silhouette": "MiniBatchKMeans, k by silhouette",
    "micro-ward": "Ward on k-means micro-clusters, cut by silhouette",
    "hdbscan-pca5": "HDBSCAN on PCA-5, min size 10 (BERTopic defaults)",
}


def embed(name: str, path: Path, cache: Path | None, backend: str) -> np.ndarray:
    records = load_jsonl(path)
    stored = cache / f"{name}-{backend}.npy" if cache else None
    if stored and stored.exists():
        return np.load(stored)
    embedder = make_embedder(backend)
    embedder.fit([f"{r.title}\n{r.description}" for r in records])
    vectors = idea_vectors(embedder, [r.title for r in records], [r.description for r in records])
    if stored:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.save(stored, vectors)
    return vectors


def quality(data: Path, cache: Path | None) -> list[dict]:
    rows = []
    for name, file in FILES.items():
        records = load_jsonl(data / file)
        themes = [r.group for r in records]
        truth = group_codes(themes)
        runs = {label: ("minilm", fn) for label, fn in CANDIDATES.items()}
        try:
            import bertopic  # noqa: F401
        except ImportError:
            print("BERTopic is not installed (pip install -e '.[bench]'): left out", flush=True)
        else:
            texts = [f"{r.title}\n{r.description}" for r in records]
            runs["BERTopic 0.17 defaults (UMAP 5-d + HDBSCAN min size 10)"] = (
                "minilm",
                bertopic_defaults(texts),
            )
        runs["shipped, hashing vectors (the fallback backend)"] = ("hashing", cluster)
        k = len(set(truth.tolist()))
        runs[f"reference: KMeans told the true k ({k})"] = (
            "minilm",
            lambda v, k=k: KMeans(k, n_init=4, random_state=SEED).fit_predict(v),
        )
        for label, (backend, fn) in runs.items():
            vectors = embed(name, data / file, cache, backend)
            started = time.perf_counter()
            labels = np.asarray(fn(vectors))
            seconds = time.perf_counter() - started
            assigned = labels >= 0
            row = {"data": name, "method": label, **theme_metrics(themes, labels)}
            row["ari_assigned"] = (
                float(adjusted_rand_score(truth[assigned], labels[assigned]))
                if assigned.any()
                else 0.0
            )
            row["seconds"] = seconds
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def synthetic(real: np.ndarray, n: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    vectors = real[rng.integers(0, len(real), n)].astype(np.float32)
    vectors += rng.normal(0, noise / np.sqrt(real.shape[1]), vectors.shape).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def nearest_cosine(vectors: np.ndarray, sample: int = 1000) -> float:
    """Mean cosine of a sample of vectors to their nearest other vector."""
    rows = np.random.default_rng(SEED).choice(len(vectors), min(sample, len(vectors)), False)
    scores = vectors[rows] @ vectors.T
    scores[np.arange(len(rows)), rows] = -np.inf
    return float(scores.max(axis=1).mean())


def scale(n: int, data: Path, cache: Path | None, candidates: list[str]) -> list[dict]:
    real = np.vstack([embed(name, data / file, cache, "minilm") for name, file in FILES.items()])
    target = nearest_cosine(real, sample=len(real))
    # the noise whose synthetic nearest-neighbour cosine is closest to the real one
    noise = min(
        (0.3, 0.35, 0.4, 0.45, 0.5),
        key=lambda s: abs(nearest_cosine(synthetic(real, n, s)) - target),
    )
    vectors = synthetic(real, n, noise)
    synthetic_cosine = nearest_cosine(vectors)
    print(f"nearest cosine: real {target:.3f}, synthetic {synthetic_cosine:.3f} (noise {noise})")
    # how many of the true 5 nearest neighbours the approximate graph finds (sample of 500)
    found, _ = neighbour_graph(vectors, 5)
    rows = np.random.default_rng(SEED).choice(n, 500, replace=False)
    exact = vectors[rows] @ vectors.T
    exact[np.arange(len(rows)), rows] = -np.inf
    true = np.argpartition(-exact, 4, axis=1)[:, :5]
    hits = [len(set(a) & set(b)) for a, b in zip(true, found[rows], strict=True)]
    recall = float(np.mean(hits)) / 5
    print(f"approximate k-NN graph: recall@5 {recall:.3f}")
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"themes-scale-{n}.npy"
    np.save(path, vectors)
    results = []
    for short in candidates:
        try:
            child = subprocess.run(
                [sys.executable, __file__, "--child", short, str(path)],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            print(json.dumps({"n": n, "method": SCALE[short], "seconds": f"> {TIMEOUT}"}))
            continue
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            continue
        result = {"n": n, "method": SCALE[short], "knn_recall": recall, **json.loads(child.stdout)}
        results.append(result)
        print(json.dumps(result), flush=True)
    path.unlink()
    return results


def peak_rss_mib() -> float:
    """This process's peak resident memory. /proc's VmHWM, not ru_maxrss: Linux carries
    ru_maxrss over from the parent through fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(short: str, path: str) -> None:
    vectors = np.load(path)
    before, rss_before = resource.getrusage(resource.RUSAGE_SELF), peak_rss_mib()
    started = time.perf_counter()
    labels = CANDIDATES[SCALE[short]](vectors)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(
        json.dumps(
            {
                "seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
                "peak_rss_mib": round(peak_rss_mib()),
                "rss_before_mib": round(rss_before),
                "n_themes": int(len(set(labels.tolist()) - {-1})),
                "unassigned": round(float(np.mean(labels == -1)), 4),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared/data")
    parser.add_argument("--cache", type=Path, default=None, help="Keep the vectors here.")
    parser.add_argument("--scale", type=int, default=0, help="Only the scale run, at N ideas.")
    parser.add_argument("--scale-candidates", nargs="+", default=["shipped"], choices=SCALE)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.scale:
        scale(args.scale, args.data, args.cache, args.scale_candidates)
    else:
        quality(args.data, args.cache)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
