"""Similar while typing: `GET /api/v1/ideas/similar` end to end on the real app with 100,000 and
1,000,000 ideas indexed, beside sentence-transformers embedding the same query alone (the floor).

    .venv/bin/python bench/similar.py --sizes 100000 1000000

Per size, a SQLite file (WAL, made by the migrations) gets the ideas and their vectors by bulk
insert: perturbed copies of the real MiniLM idea vectors of redmine-dev (the noise chosen so that
the mean cosine of an idea to its nearest neighbour matches the real file's), titles from the same
records. For each backend and index mode the real app then starts as a child process (uvicorn on
``web.app:create_app``, one worker, as ``ideas-portal serve`` runs it) and is timed from launch to
its first answered similar query. Queries are real redmine titles cut where a user may still be
typing, sent one at a time with httpx; after each, this process embeds the same text with
sentence-transformers alone (the floor), so both see the same load. Also in this process, for the
same texts: the backends' embedding, the duplicate scorer's ``similar`` and the bare index search
on an index of the same vectors (where the time goes), and the server's VmRSS with none and with N
ideas (memory per 100,000). The onnx backend is checked against torch on redmine-dev: overlap@10
of each record's neighbours (each record querying all others, each backend with its own vectors)
and query-embedding time.

Beside the shipped app (exact search, then a graph index once the server has built it in the
background, ``ml.index.GraphIndex``), the same app held to exact search (the app before the graph,
the baseline), and with the index's catch-up from the database turned off (a diagnosis of where
the time goes, not a configuration). ``--real-recall`` checks the graph on the real vectors of the
three data files; ``--ef-sweep N`` the graph's recall and time on N synthetic ideas at several
``ef``, for the query's own search and for its candidates' neighbourhoods.

Prints the figures and writes the "Similar while typing" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.web import machine  # noqa: E402
from ideas import embeddings, migrate, similar  # noqa: E402
from ideas.db import make_engine  # noqa: E402
from ideas.models import Board, Idea, IdeaEmbedding, User  # noqa: E402
from ideas.similar import LOAD_BATCH  # noqa: E402
from ml.duplicates import DuplicateScorer, idea_vectors  # noqa: E402
from ml.embedders import MiniLMEmbedder, OnnxMiniLMEmbedder, make_embedder  # noqa: E402
from ml.evaluate import Record, load_jsonl  # noqa: E402
from ml.index import GraphIndex, NeighbourIndex, VectorIndex  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
HEADING = "## Similar while typing (bench/similar.py)"
AFTER = "## Duplicates"  # the section goes right after this one
BACKENDS = ("onnx", "minilm")
LIMIT = 5  # what the submit form asks for
WANTED = 30  # candidates ideas.similar asks the scorer for: max(3 * limit, 30)
SEED = 7
# server modes: the child's flags, and the table's label
MODES = {
    "shipped": ([], "shipped (graph)"),
    "exact": (["--exact"], "exact only (before)"),
    "no-catch-up": (["--no-catch-up"], "shipped, no catch-up (diagnosis)"),
}
EXACT_MODES = ("exact",)  # fewer queries: each takes seconds at 1,000,000
PART_LABELS = {"exact": "exact", "graph": "graph (shipped)"}


# Data -------------------------------------------------------------------------------------------


def real_vectors(backend: str, records: list[Record], cache: Path | None) -> np.ndarray:
    """Idea vectors of the records (title weighted, as the portal stores them)."""
    stored = cache / f"redmine-dev-{backend}.npy" if cache else None
    if stored and stored.exists():
        return np.load(stored)
    embedder = make_embedder(backend)
    titles, descriptions = [r.title for r in records], [r.description for r in records]
    vectors = idea_vectors(embedder, titles, descriptions)
    if stored:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.save(stored, vectors)
    return vectors


def synthetic(real: np.ndarray, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors, each a real one plus Gaussian noise of norm ~``noise``; and the row of
    the real vector each copies."""
    rng = np.random.default_rng(SEED)
    base = rng.integers(0, len(real), n)
    vectors = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        rows = base[start : start + 100_000]
        part = real[rows] + rng.normal(
            0, noise / np.sqrt(real.shape[1]), (len(rows), real.shape[1])
        )
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        vectors[start : start + len(rows)] = part
    return vectors, base


def nearest_cosine(vectors: np.ndarray, sample: int = 300) -> float:
    """Mean cosine of a sample of the vectors to their nearest other vector."""
    rows = np.random.default_rng(SEED).choice(len(vectors), min(sample, len(vectors)), False)
    scores = vectors[rows] @ vectors.T
    scores[np.arange(len(rows)), rows] = -np.inf
    return float(scores.max(axis=1).mean())


def calibrated(real: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Synthetic vectors whose nearest-neighbour cosine matches the real ones' (bisection on the
    noise: more noise, lower cosine); returns them, their base rows, the noise and the cosine."""
    target = nearest_cosine(real, len(real))
    low, high = 0.2, 2.0
    for _ in range(6):
        noise = (low + high) / 2
        vectors, _ = synthetic(real, n, noise)
        if nearest_cosine(vectors) > target:
            low = noise
        else:
            high = noise
    noise = round((low + high) / 2, 3)
    vectors, base = synthetic(real, n, noise)
    return vectors, base, noise, nearest_cosine(vectors)


def seed(
    url: str, records: list[Record], vectors: np.ndarray, base: np.ndarray, model: str
) -> None:
    """Schema by the migrations, then one board ("bench"), one author, the ideas and their vectors
    by bulk insert. Ideas were submitted over the past two years, each vector written when its
    idea was: the steady state (see ``rebuilt`` for the other case)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    rng = np.random.default_rng(SEED + 2)
    ages = np.sort(rng.uniform(0, 730 * 86400, len(vectors)))[::-1]  # oldest first
    with engine.begin() as conn:
        conn.execute(insert(Board), [{"slug": "bench", "name": "Bench", "description": ""}])
        board = conn.scalar(select(Board.id))
        conn.execute(
            insert(User),
            [{"email": "a@bench.example", "name": "A", "password_hash": "x", "role": "member"}],
        )
        author = conn.scalar(select(User.id))
        for start in range(0, len(vectors), 20_000):
            rows = range(start, min(len(vectors), start + 20_000))
            conn.execute(
                insert(Idea),
                [
                    {
                        "board_id": board,
                        "author_id": author,
                        "title": records[base[i]].title[:150],
                        "description": records[base[i]].description,
                        "created_at": now - timedelta(seconds=float(ages[i])),
                        "updated_at": now - timedelta(seconds=float(ages[i])),
                    }
                    for i in rows
                ],
            )
        ids = list(conn.scalars(select(Idea.id).order_by(Idea.id)))
        for start in range(0, len(ids), 20_000):
            conn.execute(
                insert(IdeaEmbedding),
                [
                    {
                        "idea_id": ids[i],
                        "model": model,
                        "vector": embeddings.to_bytes(vectors[i]),
                        "updated_at": now - timedelta(seconds=float(ages[i])),
                    }
                    for i in range(start, min(len(ids), start + 20_000))
                ],
            )
    engine.dispose()


def rebuilt(url: str) -> None:
    """Every vector written in the last seconds, as ``ideas-portal embeddings rebuild`` (or a
    change of backend) leaves them."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE idea_embeddings SET updated_at = :now"), {"now": datetime.now(UTC)}
        )
    engine.dispose()


def relabel(url: str, model: str) -> None:
    """Store the vectors under another backend's model name (the server loads only its own)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE idea_embeddings SET model = :model"), {"model": model})
    engine.dispose()


def typed(records: list[Record], count: int) -> list[str]:
    """Real titles cut where a user may still be typing: 40-100% of the title, 3 characters at
    least."""
    rng = np.random.default_rng(SEED + 1)
    texts = []
    for row in rng.choice(len(records), count, replace=count > len(records)):
        title = records[row].title
        cut = max(3, int(len(title) * rng.uniform(0.4, 1.0)))
        texts.append(title[:cut])
    return texts


# The server -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, flags: list[str]) -> None:
    """The child: the real app under uvicorn, as ``ideas-portal serve`` runs it (one worker).
    ``--exact`` never builds the graph index; ``--no-catch-up``, a diagnosis, keeps the index as
    loaded at start instead of reading the vectors written since the last look before queries.
    When the graph index takes over, the child writes the file named by BENCH_GRAPH_READY."""
    import uvicorn

    from ideas import similar

    shipped = similar.SimilarIdeas
    switch_to = shipped._switch_to

    def announced(self: similar.SimilarIdeas, *args: Any) -> bool:
        switched = switch_to(self, *args)
        if switched:
            Path(os.environ["BENCH_GRAPH_READY"]).touch()
        return switched

    shipped._switch_to = announced  # type: ignore[method-assign, assignment]
    if "--exact" in flags:
        similar.SimilarIdeas = partial(shipped, approximate_from=sys.maxsize)  # type: ignore[misc, assignment]
    if "--no-catch-up" in flags:
        catch_up = similar.SimilarIdeas.catch_up

        def loaded_once(self: similar.SimilarIdeas, force: bool = False) -> int:
            return 0 if self.index is not None and not force else catch_up(self, force)

        similar.SimilarIdeas.catch_up = loaded_once  # type: ignore[method-assign]
    uvicorn.run(
        "web.app:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning"
    )


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    launched: float
    graph_ready: Path  # appears when the graph index takes over

    def graph_seconds(self, timeout: float = 3600) -> float:
        """Seconds from launch until the graph index answered (waits for it)."""
        while not self.graph_ready.exists():
            if self.proc.poll() is not None or time.perf_counter() - self.launched > timeout:
                sys.exit("the server never switched to its graph index")
            time.sleep(0.2)
        return time.perf_counter() - self.launched

    def status(self) -> dict[str, float]:
        """VmRSS and VmHWM in MiB."""
        values = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024
        return values

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(url: str, backend: str, mode: str) -> Server:
    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="bench-graph-")) / "ready"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMBEDDING_BACKEND": backend,
        "HF_HUB_OFFLINE": "1",
        "RATE_LIMITS": "off",
        "WORKER": "off",
        "LOG_LEVEL": "warning",
        "SECRET_KEY": "bench",
        "BENCH_GRAPH_READY": str(ready),
    }
    command = [sys.executable, __file__, "serve", str(port), *MODES[mode][0]]
    launched = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return Server(proc, f"http://127.0.0.1:{port}", launched, ready)


def first_answer(
    server: Server, client: httpx.Client, params: dict[str, str | int], want: bool
) -> float:
    """Seconds from launch to the first answered similar query (with matches when ``want``)."""
    while True:
        if server.proc.poll() is not None:
            sys.exit(f"the server exited with {server.proc.returncode}")
        try:
            response = client.get(server.base + "/api/v1/ideas/similar", params=params)
            if response.status_code == 200 and (response.json() or not want):
                return time.perf_counter() - server.launched
            if response.status_code != 200:
                sys.exit(f"similar answered {response.status_code}: {response.text[:300]}")
        except httpx.TransportError:
            pass
        time.sleep(0.02)


# Timing -----------------------------------------------------------------------------------------


@dataclass
class Times:
    seconds: list[float] = field(default_factory=list)

    def add(self, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = run()
        self.seconds.append(time.perf_counter() - started)
        return result

    def pct(self, q: float) -> float:
        return float(np.percentile(self.seconds, 100 * q)) * 1000 if self.seconds else float("nan")


class Floor:
    """sentence-transformers alone: ``SentenceTransformer(all-MiniLM-L6-v2).encode(query)``, the
    minilm backend's model, in this process."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from ml.embedders import minilm_path

        self.model = SentenceTransformer(str(minilm_path()), device="cpu")
        self.model.encode("warm up")

    def __call__(self, query: str) -> Any:
        return self.model.encode(query)


def torch_threads(count: int | None) -> int:
    """Set torch's intra-op threads (None: leave them); returns the previous count."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    return previous


# Checks of onnx against torch -------------------------------------------------------------------


def overlap(a: np.ndarray, b: np.ndarray, k: int) -> tuple[float, float]:
    """Mean share of the same ``k`` nearest others, and of the same nearest one, when every record
    queries all the others with vectors ``a`` and with vectors ``b``."""

    def nearest(vectors: np.ndarray) -> np.ndarray:
        scores = vectors @ vectors.T
        np.fill_diagonal(scores, -np.inf)
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]

    found_a, found_b = nearest(a), nearest(b)
    shared = [len(set(x) & set(y)) / k for x, y in zip(found_a, found_b, strict=True)]
    return float(np.mean(shared)), float(np.mean(found_a[:, 0] == found_b[:, 0]))


def embedding_speed(queries: list[str], floor: Floor) -> dict[str, Times]:
    """Query-embedding times, interleaved query by query: the onnx backend (as shipped: one
    onnxruntime thread) against the minilm backend as shipped (torch's default threads) and against
    sentence-transformers alone with one torch thread (the floor)."""
    onnx, minilm = OnnxMiniLMEmbedder().fit(), MiniLMEmbedder().fit()
    times = {name: Times() for name in ("onnx", "minilm", "onnx ", "floor")}
    for query in queries[:5]:
        onnx.transform([query]), minilm.transform([query])
    for query in queries:
        times["onnx"].add(partial(idea_vectors, onnx, [query], [""]))
        times["minilm"].add(partial(idea_vectors, minilm, [query], [""]))
    previous = torch_threads(1)
    for query in queries:
        times["onnx "].add(partial(idea_vectors, onnx, [query], [""]))
        times["floor"].add(partial(floor, query))
    torch_threads(previous)
    return times


# One size ---------------------------------------------------------------------------------------


@dataclass
class Row:
    ideas: int
    backend: str
    mode: str
    start_s: float
    graph_s: float | None  # from launch until the graph index answered
    end_to_end: Times
    floor: Times
    rss_mib: float
    hwm_mib: float
    answered: int


def bench_server(
    url: str,
    n: int,
    backend: str,
    mode: str,
    queries: list[str],
    floor: Floor,
    warmup: int,
    label: str = "",
) -> Row:
    """Start the app, time its first answer, then the queries, each followed by the floor."""
    server = start(url, backend, mode)
    graphed = mode != "exact" and n >= similar.APPROXIMATE_FROM
    mode = label or MODES[mode][1]
    params: dict[str, str | int] = {"q": queries[0], "board": "bench", "limit": LIMIT}
    try:
        with httpx.Client(timeout=120) as client:
            start_s = first_answer(server, client, params, want=n > 0)
            graph_s = server.graph_seconds() if graphed else None
            end_to_end, floors, answered = Times(), Times(), 0
            for number, query in enumerate(queries[:warmup] + queries):
                params = {"q": query, "board": "bench", "limit": LIMIT}
                started = time.perf_counter()
                response = client.get(server.base + "/api/v1/ideas/similar", params=params)
                took = time.perf_counter() - started
                if response.status_code != 200:
                    sys.exit(f"similar answered {response.status_code}: {response.text[:300]}")
                if number < warmup:
                    continue
                end_to_end.seconds.append(took)
                answered += bool(response.json())
                floors.add(partial(floor, query))
            memory = server.status()
    finally:
        server.stop()
    row = Row(
        n,
        backend,
        mode,
        start_s,
        graph_s,
        end_to_end,
        floors,
        memory["VmRSS"],
        memory["VmHWM"],
        answered,
    )
    print(
        f"{n:>9,} {backend:6} {mode:8} start {start_s:5.1f} s  end-to-end p50 "
        f"{end_to_end.pct(0.5):7.1f} p95 {end_to_end.pct(0.95):7.1f} ms  floor p50 "
        f"{floors.pct(0.5):5.1f} p95 {floors.pct(0.95):5.1f} ms  RSS {row.rss_mib:,.0f} MiB",
        flush=True,
    )
    return row


@dataclass
class Parts:
    """Where the time goes, in this process, for one size and index mode."""

    ideas: int
    mode: str
    embed: Times
    similar: Times
    search: Times
    floor: Times
    recall: float | None = None  # of the index's top 10 against exact search
    same_top: float | None = None  # share of queries whose 5 suggestions match exact's
    build_s: float | None = None  # the graph's, from the vectors, on all cores


def build_index(vectors: np.ndarray, graph: bool) -> NeighbourIndex:
    """As ideas.similar fills it: batches of LOAD_BATCH ids and vectors (the graph is copied from
    the exact index in the app; the same batches here)."""
    index = GraphIndex(vectors.shape[1]) if graph else VectorIndex(vectors.shape[1])
    for start in range(0, len(vectors), LOAD_BATCH):
        stop = min(len(vectors), start + LOAD_BATCH)
        if isinstance(index, GraphIndex):
            index.add(range(start + 1, stop + 1), vectors[start:stop], threads=os.cpu_count() or 1)
        else:
            index.add(range(start + 1, stop + 1), vectors[start:stop])
    return index


def bench_parts(vectors: np.ndarray, queries: list[str], floor: Floor) -> list[Parts]:
    """The onnx backend's embedding, the scorer's ``similar`` (``WANTED`` candidates, as the
    portal asks) and the bare search of ``WANTED``, per query, with the floor interleaved, for
    exact search and the graph; and how close the graph comes to exact search."""
    scorer, embedder = DuplicateScorer.shipped(), OnnxMiniLMEmbedder().fit()
    query_vectors = idea_vectors(embedder, queries, [""] * len(queries))

    def suggestions(index: NeighbourIndex) -> list[set[int]]:
        return [{c.id for c in scorer.similar(index, v, k=LIMIT)} for v in query_vectors]

    exact = build_index(vectors, graph=False)
    true_top = [set(row) for row in exact.search(query_vectors, 10)[0]]
    true_shown = suggestions(exact)
    results = []
    for mode in ("exact", "graph"):
        started = time.perf_counter()
        index = exact if mode == "exact" else build_index(vectors, graph=True)
        built = time.perf_counter() - started
        parts = Parts(len(vectors), mode, Times(), Times(), Times(), Times())
        parts.build_s = built if mode == "graph" else None
        for query in queries:
            vector = parts.embed.add(partial(idea_vectors, embedder, [query], [""]))[0]
            parts.floor.add(partial(floor, query))
            parts.similar.add(partial(scorer.similar, index, vector, k=WANTED))
            parts.search.add(partial(index.search, vector, WANTED))
        found = index.search(query_vectors, 10)[0]
        parts.recall = float(
            np.mean([len(set(f) & t) / 10 for f, t in zip(found, true_top, strict=True)])
        )
        shown = suggestions(index)
        parts.same_top = float(np.mean([a == b for a, b in zip(shown, true_shown, strict=True)]))
        print(
            f"{len(vectors):>9,} {mode:8} embed p50 {parts.embed.pct(0.5):.1f}  similar p50 "
            f"{parts.similar.pct(0.5):.1f} p95 {parts.similar.pct(0.95):.1f}  search p50 "
            f"{parts.search.pct(0.5):.1f} p95 {parts.search.pct(0.95):.1f}  floor p50 "
            f"{parts.floor.pct(0.5):.1f} ms  recall@10 {parts.recall:.3f}  same 5 shown "
            f"{parts.same_top:.3f}  built in {built:.0f} s",
            flush=True,
        )
        results.append(parts)
        del index
    return results


def real_recall(data: Path, cache: Path | None, efs: list[int]) -> list[dict[str, Any]]:
    """The graph index for the real files: redmine-dev, BANKING77 and the app reviews, ~4,000 onnx
    idea vectors, at several ``ef`` (candidates examined per query). Each vector queries all the
    others: share of the exact top 10 found and of the exact nearest one; share of the neighbours
    at cosine >= 0.7 (duplicate territory) found; and, for 400 of them, share whose 5 suggestions
    (the scorer's ``similar``) are the same set as with exact search."""
    files = ["redmine-dev.jsonl", "banking77-themes.jsonl", "app-reviews-themes.jsonl"]
    parts = []
    for name in files:
        stored = cache / f"{name.split('.')[0]}-onnx.npy" if cache else None
        if stored and stored.exists():
            parts.append(np.load(stored))
            continue
        records = load_jsonl(data / name)
        titles, descriptions = [r.title for r in records], [r.description for r in records]
        parts.append(idea_vectors(OnnxMiniLMEmbedder(), titles, descriptions))
        if stored:
            np.save(stored, parts[-1])
    vectors = np.vstack(parts)
    n, scorer = len(vectors), DuplicateScorer.shipped()
    exact = build_index(vectors, graph=False)
    truth, cosines = (found[:, 1:] for found in exact.search(vectors, 11))  # not itself
    sample = np.random.default_rng(SEED).choice(n, 400, replace=False)

    def shown(index: NeighbourIndex, row: int) -> set[int]:
        return {c.id for c in scorer.similar(index, vectors[row], k=LIMIT, exclude=[row + 1])}

    rows = []
    graph = GraphIndex(vectors.shape[1])
    graph.add(range(1, n + 1), vectors, threads=os.cpu_count() or 1)
    for ef in efs:
        graph.ef = ef
        found = graph.search(vectors, 11)[0][:, 1:]
        close = [set(t[c >= 0.7]) for t, c in zip(truth, cosines, strict=True)]
        rows.append(
            {
                "vectors": n,
                "ef": ef,
                "recall@10": float(
                    np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
                ),
                "recall@1": float(np.mean(found[:, 0] == truth[:, 0])),
                "cosine>=0.7 found": sum(len(set(f) & c) for f, c in zip(found, close, strict=True))
                / max(1, sum(len(c) for c in close)),
                "same 5 shown": float(
                    np.mean([shown(graph, r) == shown(exact, r) for r in sample])
                ),
            }
        )
        print(rows[-1], flush=True)
    return rows


class SplitEf(GraphIndex):
    """The graph with one ``ef`` for the query's own search (one row) and another for the batched
    search of the candidates' neighbourhoods, as the scorer's ``similar`` makes them."""

    query_ef = hood_ef = 80

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self.ef = (
            self.query_ef
            if np.asarray(queries).reshape(-1, self.dimensions).shape[0] == 1
            else self.hood_ef
        )
        return super().search(queries, k)


def ef_sweep(real: np.ndarray, n: int, queries: list[str], efs: list[tuple[int, int]]) -> None:
    """The graph on ``n`` synthetic ideas (as the server rows get them) at several (query ef,
    hood ef): share of the exact top 10 found, share of queries shown the same 5 suggestions as
    with exact search and share of those 5 shown, the scorer's ``similar`` time."""
    vectors = calibrated(real, n)[0]
    query_vectors = idea_vectors(OnnxMiniLMEmbedder(), queries, [""] * len(queries))
    scorer = DuplicateScorer.shipped()
    exact = build_index(vectors, graph=False)
    true_top = [set(row) for row in exact.search(query_vectors, 10)[0]]

    def shown(index: NeighbourIndex) -> list[set[int]]:
        return [{c.id for c in scorer.similar(index, v, k=LIMIT)} for v in query_vectors]

    true_shown = shown(exact)
    started = time.perf_counter()
    graph = SplitEf(vectors.shape[1])
    for start in range(0, n, LOAD_BATCH):
        stop = min(n, start + LOAD_BATCH)
        graph.add(range(start + 1, stop + 1), vectors[start:stop], threads=os.cpu_count() or 1)
    print(f"{n:,} ideas: graph built in {time.perf_counter() - started:.0f} s", flush=True)
    print("| query ef | hood ef | recall@10 | same 5 shown | overlap 5 | similar p50 ms | p95 ms |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for graph.query_ef, graph.hood_ef in efs:
        found = [set(graph.search(v, 10)[0][0]) for v in query_vectors]
        recall = np.mean([len(f & t) / 10 for f, t in zip(found, true_top, strict=True)])
        got = shown(graph)
        same = np.mean([a == b for a, b in zip(got, true_shown, strict=True)])
        overlap5 = np.mean([len(a & b) / LIMIT for a, b in zip(got, true_shown, strict=True)])
        times = Times()
        for vector in query_vectors:
            times.add(partial(scorer.similar, graph, vector, k=WANTED))
        print(
            f"| {graph.query_ef} | {graph.hood_ef} | {recall:.3f} | {same:.3f} | {overlap5:.3f} "
            f"| {times.pct(0.5):.1f} | {times.pct(0.95):.1f} |",
            flush=True,
        )


# Report -----------------------------------------------------------------------------------------


def write_docs(body: str) -> None:
    """Replaces the section, or puts it right after the Duplicates section."""
    current = DOCS.read_text()
    start = current.find(HEADING)
    if start == -1:
        after = current.find(AFTER)
        start = current.find("\n## ", after + 1) + 1 if after != -1 else 0
        end = start
        if after == -1 or start == 0:
            start = end = len(current.rstrip()) + 1
    else:
        following = current.find("\n## ", start + 1)
        end = len(current) if following == -1 else following + 1
    before, rest = current[:start].rstrip() + "\n\n", current[end:]
    DOCS.write_text(before + body.rstrip() + "\n" + ("\n" + rest if rest else ""))


def ms(value: float) -> str:
    return f"{value:,.1f}"


def report(args: argparse.Namespace, context: dict[str, Any]) -> str:
    rows: list[Row] = context["rows"]
    parts: list[Parts] = context["parts"]
    speed: dict[str, Times] = context["speed"]
    empty = {r.backend: r for r in rows if r.ideas == 0}
    command = shlex.join([".venv/bin/python", "bench/similar.py", *sys.argv[1:]])
    lines = [
        f"{context['date']}, {machine()}; load average {context['load'][0]:.1f} at the start, "
        f"{context['load'][1]:.1f} at the end (the machine was shared with a test run); SQLite "
        f"file (WAL); one board; {args.queries} timed queries per server ({args.exact_queries} "
        f"when held to exact search) after {args.warmup} warm-up queries, sent one at a "
        "time.",
        "",
        f"```\n{command}\n```",
        "",
        "End to end: `GET /api/v1/ideas/similar?q=...&board=...&limit=5` on the real app, and the "
        "floor measured after each request on the same text. *shipped*: the app as it is, timed "
        "once its graph index (`ml.index.GraphIndex`, from "
        f"{similar.APPROXIMATE_FROM:,} ideas) has taken over; *exact only*: the same app held "
        "to exact search (`ml.index.VectorIndex`), as it was before the graph; *no catch-up*: "
        "patched in the bench so that a query never reads the vectors written since the index "
        "last looked (a diagnosis, not a configuration); *vectors just "
        "rebuilt*: the shipped app after every stored vector's `updated_at` was set to now, as "
        "`ideas-portal embeddings rebuild` leaves them. The floor is "
        "sentence-transformers with one torch thread (see below). Ratio: end-to-end p95 / floor "
        "p95; the goal is ≤ 1.5 at 1,000,000. Start: from launching the process to the first "
        "answered similar query (with matches; exact search answers until the graph is built); "
        "graph: from launching to the graph taking over. RSS: the server's VmRSS after its "
        "queries; per "
        "100,000 ideas: above the same backend's server with no ideas.",
        "",
        "| ideas | backend | index | end-to-end p50 ms | p95 ms | floor p50 ms | floor p95 ms "
        "| **p95 / floor p95** | start s | graph s | server RSS MiB | MiB per 100,000 ideas |",
        "|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        base = empty.get(r.backend)
        per = f"{(r.rss_mib - base.rss_mib) / r.ideas * 100_000:,.0f}" if base and r.ideas else "—"
        lines.append(
            f"| {r.ideas:,} | {r.backend} | {r.mode} | {ms(r.end_to_end.pct(0.5))} "
            f"| {ms(r.end_to_end.pct(0.95))} | {ms(r.floor.pct(0.5))} | {ms(r.floor.pct(0.95))} "
            f"| **{r.end_to_end.pct(0.95) / r.floor.pct(0.95):.2f}** | {r.start_s:.1f} "
            f"| {'—' if r.graph_s is None else f'{r.graph_s:.0f}'} "
            f"| {r.rss_mib:,.0f} | {per} |"
        )
    lines += [
        "",
        "Where the time goes, in the bench process, on an index of the same vectors filled as "
        "the app fills it, for the same texts (floor interleaved): *embed* the onnx backend's "
        f"query vector; *similar* the duplicate scorer's `similar` ({WANTED} candidates, as the "
        "app asks: the query's search, then one batched search of the candidates' neighbourhoods, "
        f"then CSLS and the decision); *search* one bare `search` of {WANTED}. "
        "*recall@10*: share of the exact top 10 the index returns; *same 5 shown*: share of "
        "queries whose 5 suggestions are the same set as with exact search; *built s*: the "
        "graph from the vectors, on all cores.",
        "",
        "| ideas | index | embed p50 ms | similar p50 ms | similar p95 ms | search p50 ms "
        "| search p95 ms | floor p50 ms | floor p95 ms | recall@10 | same 5 shown | built s |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in parts:
        lines.append(
            f"| {p.ideas:,} | {PART_LABELS[p.mode]} | {ms(p.embed.pct(0.5))} "
            f"| {ms(p.similar.pct(0.5))} "
            f"| {ms(p.similar.pct(0.95))} | {ms(p.search.pct(0.5))} | {ms(p.search.pct(0.95))} "
            f"| {ms(p.floor.pct(0.5))} | {ms(p.floor.pct(0.95))} | {p.recall:.3f} "
            f"| {p.same_top:.2f} | {'—' if p.build_s is None else f'{p.build_s:.0f}'} |"
        )
    ov10, top1 = context["overlap"]
    onnx, minilm, onnx1, floor = (speed[k] for k in ("onnx", "minilm", "onnx ", "floor"))
    lines += [
        "",
        "onnx against torch, on redmine-dev (428 records, each querying all the others with each "
        "backend's own idea vectors) and on the query texts above (interleaved):",
        "",
        "| check | value |",
        "|---|--:|",
        f"| overlap@10 of the neighbours, onnx vs minilm | **{ov10:.3f}** |",
        f"| same nearest neighbour | {top1:.3f} |",
        f"| query embedding p50 / p95 ms: onnx (1 onnxruntime thread) | {ms(onnx.pct(0.5))} / "
        f"{ms(onnx.pct(0.95))} |",
        f"| the same: minilm backend as shipped (torch's default {context['torch_threads']} "
        f"threads) | {ms(minilm.pct(0.5))} / {ms(minilm.pct(0.95))} |",
        f"| **minilm / onnx, p50** (as shipped) | **{minilm.pct(0.5) / onnx.pct(0.5):.1f}x** |",
        f"| query embedding p50 / p95 ms: onnx, then sentence-transformers with 1 torch thread "
        f"(the floor) | {ms(onnx1.pct(0.5))} / {ms(onnx1.pct(0.95))}, {ms(floor.pct(0.5))} / "
        f"{ms(floor.pct(0.95))} |",
        f"| **floor / onnx, p50** (one thread each) | **{floor.pct(0.5) / onnx1.pct(0.5):.1f}x** |",
        "",
        "Synthetic vectors (noise norm, then the mean cosine of an idea to its nearest "
        "neighbour): "
        + "; ".join(f"{n:,} ideas: {s}, {c:.3f}" for n, (s, c) in context["nearest"].items())
        + f" (the real file: {context['real_nearest']:.3f}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=list(MODES),
        default=list(MODES),
        help="server modes; all but shipped run with the first backend only",
    )
    parser.add_argument("--queries", type=int, default=60, help="per server, timed")
    parser.add_argument(
        "--exact-queries", type=int, default=30, help="per server with the exact (shipped) index"
    )
    parser.add_argument(
        "--rebuilt",
        type=int,
        default=10,
        metavar="N",
        help="then N queries at the first size with every vector just rewritten (0: skip)",
    )
    parser.add_argument("--warmup", type=int, default=5, help="per server, not timed")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None, help="keep the real vectors here")
    parser.add_argument("--print-only", action="store_true", help="leave docs/benchmarks.md")
    parser.add_argument(
        "--real-recall",
        action="store_true",
        help="only: the graph index's recall on the real files",
    )
    parser.add_argument(
        "--ef-sweep",
        type=int,
        metavar="N",
        help="only: the graph's recall and time at N synthetic ideas for several ef",
    )
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    if args.real_recall:
        real_recall(args.data, args.cache, [32, 48, 64, 80, 128])
        return
    if args.ef_sweep:
        records = load_jsonl(args.data / "redmine-dev.jsonl")
        efs = [(80, 80), (160, 80), (320, 80), (640, 80), (1280, 80), (160, 160), (320, 320)]
        ef_sweep(
            real_vectors("minilm", records, args.cache), args.ef_sweep, typed(records, 200), efs
        )
        return

    load = [os.getloadavg()[0]]
    records = load_jsonl(args.data / "redmine-dev.jsonl")
    real = {backend: real_vectors(backend, records, args.cache) for backend in BACKENDS}
    queries = typed(records, args.queries + args.warmup)
    timed = queries[args.warmup :]
    floor = Floor()
    threads = torch_threads(None)
    speed = embedding_speed(timed, floor)
    torch_threads(1)  # the floor: the model's own time, not two threads fighting for busy cores
    context: dict[str, Any] = {
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "overlap": overlap(real["onnx"], real["minilm"], 10),
        "speed": speed,
        "torch_threads": threads,
        "real_nearest": nearest_cosine(real["minilm"], len(real["minilm"])),
        "nearest": {},
        "rows": [],
        "parts": [],
    }
    print(f"overlap@10 onnx/minilm {context['overlap']}", flush=True)
    names = {"onnx": OnnxMiniLMEmbedder().name, "minilm": MiniLMEmbedder().name}
    with tempfile.TemporaryDirectory(prefix="bench-similar-") as directory:
        for n in [0, *args.sizes]:
            url = f"sqlite:///{directory}/similar-{n}.db"
            if n:
                vectors, base, noise, nearest = calibrated(real["minilm"], n)
                context["nearest"][n] = (noise, nearest)
                started = time.perf_counter()
                seed(url, records, vectors, base, names[args.backend[0]])
                print(f"{n:,} ideas stored in {time.perf_counter() - started:.0f} s", flush=True)
            else:
                vectors = np.empty((0, 384), dtype=np.float32)
                seed(url, records, vectors, np.empty(0, dtype=np.int64), "")
            for number, backend in enumerate(args.backend):
                if n and number:
                    relabel(url, names[backend])
                for mode in args.modes if n else ["shipped"]:  # no index at 0: one start
                    if mode != "shipped" and number:
                        continue  # candidate and diagnoses: the first backend is enough
                    count = args.exact_queries if mode in EXACT_MODES else args.queries
                    row = bench_server(url, n, backend, mode, timed[:count], floor, args.warmup)
                    context["rows"].append(row)
            if n and n == args.sizes[0] and args.rebuilt:
                if args.backend[-1] != "onnx":
                    relabel(url, names["onnx"])
                rebuilt(url)
                label = "shipped, vectors just rebuilt"
                row = bench_server(
                    url, n, "onnx", "shipped", timed[: args.rebuilt], floor, args.warmup, label
                )
                context["rows"].append(row)
            if n:
                context["parts"] += bench_parts(vectors, timed, floor)
            del vectors
            Path(f"{directory}/similar-{n}.db").unlink()
    load.append(os.getloadavg()[0])
    context["load"] = load
    body = f"{HEADING}\n\n" + report(args, context)
    print(f"\n{body}")
    if not args.print_only:
        write_docs(body)
        print(f"written to {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
