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

Beside the shipped app (exact search, ``ml.index.VectorIndex``), the same app with a candidate
index, ``InvertedFile`` below (k-means cells, a few probed per query), swapped in by the child, and
with the index's catch-up from the database turned off: diagnoses of where the time goes, not
configurations. ``--real-recall`` checks the candidate on the real vectors of the three data files.

Prints the figures and writes the "Similar while typing" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ideas import embeddings, migrate  # noqa: E402
from ideas.db import make_engine  # noqa: E402
from ideas.models import Board, Idea, IdeaEmbedding, User  # noqa: E402
from ideas.similar import LOAD_BATCH  # noqa: E402
from ml.duplicates import DuplicateScorer, idea_vectors  # noqa: E402
from ml.embedders import MiniLMEmbedder, OnnxMiniLMEmbedder, make_embedder  # noqa: E402
from ml.evaluate import Record, load_jsonl  # noqa: E402
from ml.index import VectorIndex  # noqa: E402

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
    "shipped": ([], "shipped (exact index)"),
    "ivf": (["--ivf"], "IVF candidate"),
    "no-catch-up": (["--no-catch-up"], "shipped, no catch-up (diagnosis)"),
    "ivf-no-catch-up": (["--ivf", "--no-catch-up"], "IVF candidate, no catch-up (diagnosis)"),
}
EXACT_MODES = ("shipped", "no-catch-up")
PART_LABELS = {"exact": "exact (shipped)", "ivf": "IVF candidate"}


# The candidate index -----------------------------------------------------------------------------

_CELL = 1 << 32  # a location is cell * _CELL + row


class _OneBlasThread:
    """Holds BLAS to one thread while any approximate search runs (a process-wide setting,
    counted across threads). The products of a probed search are small: split over threads, on a
    machine whose cores are busy with other work, they took ten times longer (bench/similar.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._controller: Any = None
        self._limit: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                if self._controller is None:
                    try:
                        from threadpoolctl import ThreadpoolController
                    except ImportError:  # pragma: no cover - scikit-learn brings it
                        self._controller = False
                    else:
                        self._controller = ThreadpoolController()
                if self._controller:
                    self._limit = self._controller.limit(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._limit is not None:
                self._limit.restore_original_limits()
                self._limit = None


_one_blas_thread = _OneBlasThread()


class _Cell:
    """One cell's vectors and ids, in rows ``[0, size)`` of arrays grown by a quarter."""

    def __init__(
        self, dimensions: int, vectors: np.ndarray | None = None, ids: np.ndarray | None = None
    ) -> None:
        self.vectors = np.empty((0, dimensions), np.float32) if vectors is None else vectors
        self.ids = np.empty(0, np.int64) if ids is None else ids
        self.size = len(self.vectors)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> int:
        """Adds rows at the end; returns the first new row."""
        start, needed = self.size, self.size + len(ids)
        if needed > len(self.vectors):
            capacity = max(needed, len(self.vectors) * 5 // 4, 32)
            grown = np.empty((capacity, self.vectors.shape[1]), dtype=np.float32)
            grown[:start] = self.vectors[:start]
            grown_ids = np.empty(capacity, dtype=np.int64)
            grown_ids[:start] = self.ids[:start]
            self.vectors, self.ids = grown, grown_ids
        self.vectors[start:needed] = vectors
        self.ids[start:needed] = ids
        self.size = needed
        return start

    def pop(self, row: int) -> int | None:
        """Removes a row by moving the last one into it; returns the moved id, if any."""
        self.size -= 1
        last = self.size
        if row == last:
            return None
        self.vectors[row] = self.vectors[last]
        self.ids[row] = self.ids[last]
        return int(self.ids[row])


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of each row's ``k`` largest scores, in no particular order."""
    if k >= scores.shape[1]:
        columns = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        return columns, scores
    columns = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return columns, np.take_along_axis(scores, columns, 1)


def spherical_kmeans(
    vectors: np.ndarray, n_cells: int, iterations: int = 6, seed: int = 0
) -> np.ndarray:
    """``n_cells`` unit centres of unit vectors (Lloyd's iterations on the dot product, started
    from distinct random rows; an emptied cell keeps its centre)."""
    rng = np.random.default_rng(seed)
    centres = vectors[rng.choice(len(vectors), n_cells, replace=False)].copy()
    for _ in range(iterations):
        nearest = _nearest(vectors, centres)
        order = np.argsort(nearest, kind="stable")
        filled = np.flatnonzero(np.bincount(nearest, minlength=n_cells))
        sums = np.add.reduceat(vectors[order], np.searchsorted(nearest[order], filled), axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres[filled] = sums / np.maximum(norms, 1e-12)
    return centres


def _nearest(vectors: np.ndarray, centres: np.ndarray, batch: int = 8192) -> np.ndarray:
    """Each vector's nearest centre (by dot product)."""
    nearest = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), batch):
        nearest[start : start + batch] = np.argmax(vectors[start : start + batch] @ centres.T, 1)
    return nearest


class InvertedFile:
    """The candidate: ``VectorIndex``'s interface; exact below ``approximate_from`` vectors,
    above an inverted file. Spherical k-means (on a sample) splits the vectors into ~2·√n cells,
    each in a matrix of its own; a query is compared with the members of the ``probes`` cells whose
    centres are nearest to it (one batched product per cell for all the queries probing it, BLAS
    held to one thread). The cells are trained at ``approximate_from`` vectors and again each time
    the index has grown ``retrain_growth`` times; new vectors join the cell of their nearest centre
    in between."""

    approximate_from: int | None = 50_000
    probes: int = 12
    cells_per_sqrt: float = 2.0
    retrain_growth: float = 4.0

    def __init__(self, dimensions: int, chunk_rows: int = 262_144):
        self.dimensions = dimensions
        self.chunk_rows = chunk_rows
        self._cells = [_Cell(dimensions)]
        self._centres: np.ndarray | None = None
        self._trained_at = 0
        self._where: dict[int, int] = {}  # id -> cell * _CELL + row

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._where

    @property
    def ids(self) -> np.ndarray:
        return np.concatenate([cell.ids[: cell.size] for cell in self._cells])

    @property
    def approximate(self) -> bool:
        """Whether ``search`` probes cells (rather than reading every vector)."""
        return self._centres is not None

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors and ids (allocated rows included)."""
        return sum(cell.vectors.nbytes + cell.ids.nbytes for cell in self._cells)

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        """Add (or replace) vectors by id."""
        ids = [int(i) for i in ids]
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimensions)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        fresh = {id_: position for position, id_ in enumerate(ids)}  # the last one given wins
        self.remove(id_ for id_ in fresh if id_ in self._where)  # a replaced vector may move
        new_ids = np.fromiter(fresh, dtype=np.int64, count=len(fresh))
        new_vectors = vectors[list(fresh.values())]
        if self._centres is None:
            self._append(0, new_ids, new_vectors)
        else:
            cells = _nearest(new_vectors, self._centres)
            order = np.argsort(cells, kind="stable")
            bounds = np.flatnonzero(np.diff(cells[order])) + 1
            for group in np.split(order, bounds):
                if len(group):
                    self._append(int(cells[group[0]]), new_ids[group], new_vectors[group])
        limit = self.approximate_from
        if limit is not None and len(self) >= max(limit, self.retrain_growth * self._trained_at):
            self._train()

    def _append(self, cell: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        start = self._cells[cell].append(ids, vectors)
        base = cell * _CELL + start
        self._where.update(zip(ids.tolist(), range(base, base + len(ids)), strict=True))

    def remove(self, ids: Iterable[int]) -> None:
        """Forget these ids (unknown ids are ignored)."""
        for id_ in list(ids):
            where = self._where.pop(int(id_), None)
            if where is None:
                continue
            cell, row = divmod(where, _CELL)
            moved = self._cells[cell].pop(row)
            if moved is not None:
                self._where[moved] = where

    def get(self, ids: Iterable[int]) -> np.ndarray:
        """The stored vectors of these ids (KeyError for an unknown one)."""
        places = [divmod(self._where[int(i)], _CELL) for i in ids]
        out = np.empty((len(places), self.dimensions), dtype=np.float32)
        for position, (cell, row) in enumerate(places):
            out[position] = self._cells[cell].vectors[row]
        return out

    def _train(self) -> None:
        """(Re)split the vectors into cells: spherical k-means on a sample, then every vector to
        the cell of its nearest centre."""
        vectors = np.concatenate([cell.vectors[: cell.size] for cell in self._cells])
        ids = self.ids
        n = len(ids)
        n_cells = max(1, min(n, int(self.cells_per_sqrt * np.sqrt(n))))
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(n, min(n, 16 * n_cells), replace=False))]
        centres = spherical_kmeans(sample, n_cells)
        cells = _nearest(vectors, centres)
        order = np.argsort(cells, kind="stable")
        bounds = np.searchsorted(cells[order], np.arange(n_cells + 1))
        self._cells, self._where = [], {}  # the old cells go before the new ones are filled
        for cell in range(n_cells):
            rows = order[bounds[cell] : bounds[cell + 1]]
            self._cells.append(_Cell(self.dimensions, vectors[rows], ids[rows]))
            base = cell * _CELL
            self._where.update(zip(ids[rows].tolist(), range(base, base + len(rows)), strict=True))
        self._centres, self._trained_at = centres, n

    def search(
        self, queries: np.ndarray, k: int = 10, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ids and cosine scores of the ``k`` nearest stored vectors of each query row, best first
        (approximate once the index is large, unless ``exact``).

        Returns two (queries × min(k, len)) arrays: int64 ids and float32 scores.
        """
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dimensions)
        k = min(k, len(self))
        if k == 0:
            return (
                np.zeros((len(queries), 0), dtype=np.int64),
                np.zeros((len(queries), 0), dtype=np.float32),
            )
        if self._centres is None or exact:
            ids, scores = self._search_all(queries, k)
        else:
            with _one_blas_thread:
                ids, scores = self._search_cells(queries, k)
        order = np.argsort(-scores, axis=1, kind="stable")
        return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)

    def _search_all(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        best_ids = np.zeros((len(queries), k), dtype=np.int64)
        for cell in self._cells:
            for start in range(0, cell.size, self.chunk_rows):
                stop = min(cell.size, start + self.chunk_rows)
                columns, scores = _top_k(queries @ cell.vectors[start:stop].T, k)
                scores = np.concatenate([best_scores, scores], axis=1)
                ids = np.concatenate([best_ids, cell.ids[start:stop][columns]], axis=1)
                keep, best_scores = _top_k(scores, k)
                best_ids = np.take_along_axis(ids, keep, 1)
        return best_ids, best_scores

    def _search_cells(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The inverted file: each query's ``probes`` nearest cells, searched cell by cell for all
        the queries that probe it."""
        assert self._centres is not None
        probes = min(self.probes, len(self._centres))
        near, _ = _top_k(queries @ self._centres.T, probes)
        asked = near.ravel()
        order = np.argsort(asked, kind="stable")
        bounds = np.flatnonzero(np.diff(asked[order])) + 1
        best_scores = np.full((len(queries), probes, k), -np.inf, dtype=np.float32)
        best_ids = np.zeros((len(queries), probes, k), dtype=np.int64)
        for group in np.split(order, bounds):
            cell = self._cells[int(asked[group[0]])]
            if cell.size == 0:
                continue
            rows, slots = np.divmod(group, probes)
            found = min(k, cell.size)
            columns, scores = _top_k(queries[rows] @ cell.vectors[: cell.size].T, found)
            best_scores[rows, slots, :found] = scores
            best_ids[rows, slots, :found] = cell.ids[columns]
        keep, scores = _top_k(best_scores.reshape(len(queries), -1), k)
        ids = np.take_along_axis(best_ids.reshape(len(queries), -1), keep, 1)
        short = np.flatnonzero(np.isinf(scores).any(axis=1))
        if len(short):  # the probed cells held fewer than k vectors: search those exactly
            ids[short], scores[short] = self._search_all(queries[short], k)
        return ids, scores


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
    ``--ivf`` swaps the candidate index in; ``--no-catch-up``, a diagnosis, keeps the index as
    loaded at start instead of reading the vectors written since the last look before queries."""
    import uvicorn

    from ideas import similar

    if "--ivf" in flags:
        similar.VectorIndex = InvertedFile  # type: ignore[misc, assignment]
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
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMBEDDING_BACKEND": backend,
        "HF_HUB_OFFLINE": "1",
        "RATE_LIMITS": "off",
        "WORKER": "off",
        "LOG_LEVEL": "warning",
        "SECRET_KEY": "bench",
    }
    command = [sys.executable, __file__, "serve", str(port), *MODES[mode][0]]
    launched = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return Server(proc, f"http://127.0.0.1:{port}", launched)


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
    mode = label or MODES[mode][1]
    params: dict[str, str | int] = {"q": queries[0], "board": "bench", "limit": LIMIT}
    try:
        with httpx.Client(timeout=120) as client:
            start_s = first_answer(server, client, params, want=n > 0)
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
        n, backend, mode, start_s, end_to_end, floors, memory["VmRSS"], memory["VmHWM"], answered
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


def build_index(vectors: np.ndarray, ivf: bool) -> VectorIndex | InvertedFile:
    """As ideas.similar fills it: batches of LOAD_BATCH ids and vectors."""
    index = InvertedFile(vectors.shape[1]) if ivf else VectorIndex(vectors.shape[1])
    for start in range(0, len(vectors), LOAD_BATCH):
        stop = min(len(vectors), start + LOAD_BATCH)
        index.add(range(start + 1, stop + 1), vectors[start:stop])
    return index


def bench_parts(vectors: np.ndarray, queries: list[str], floor: Floor) -> list[Parts]:
    """The onnx backend's embedding, the scorer's ``similar`` (``WANTED`` candidates, as the
    portal asks) and the bare search of ``WANTED``, per query, with the floor interleaved, for the
    shipped index and the candidate; and how close the candidate comes to exact search."""
    scorer, embedder = DuplicateScorer.shipped(), OnnxMiniLMEmbedder().fit()
    query_vectors = idea_vectors(embedder, queries, [""] * len(queries))

    def suggestions(index: VectorIndex | InvertedFile) -> list[set[int]]:
        return [{c.id for c in scorer.similar(index, v, k=LIMIT)} for v in query_vectors]  # type: ignore[arg-type]

    exact = build_index(vectors, ivf=False)
    true_top = [set(row) for row in exact.search(query_vectors, 10)[0]]
    true_shown = suggestions(exact)
    results = []
    for mode in ("exact", "ivf"):
        index = exact if mode == "exact" else build_index(vectors, ivf=True)
        parts = Parts(len(vectors), mode, Times(), Times(), Times(), Times())
        for query in queries:
            vector = parts.embed.add(partial(idea_vectors, embedder, [query], [""]))[0]
            parts.floor.add(partial(floor, query))
            parts.similar.add(partial(scorer.similar, index, vector, k=WANTED))  # type: ignore[arg-type]
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
            f"{parts.same_top:.3f}",
            flush=True,
        )
        results.append(parts)
        del index
    return results


def real_recall(data: Path, cache: Path | None, probes: list[int]) -> list[dict[str, Any]]:
    """The candidate forced on (from 1,000 vectors) for the real files: redmine-dev, BANKING77 and
    the app reviews, ~4,000 onnx idea vectors. Each vector queries all the others: share of the
    exact top 10 found and of the exact nearest one; share of the neighbours at cosine ≥ 0.7
    (duplicate territory) found; and, for 400 of them, share whose 5 suggestions (the scorer's
    ``similar``) are the same set as with exact search."""
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
    exact = build_index(vectors, ivf=False)
    truth, cosines = (found[:, 1:] for found in exact.search(vectors, 11))  # not itself
    sample = np.random.default_rng(SEED).choice(n, 400, replace=False)

    def shown(index: VectorIndex | InvertedFile, row: int) -> set[int]:
        return {c.id for c in scorer.similar(index, vectors[row], k=LIMIT, exclude=[row + 1])}  # type: ignore[arg-type]

    rows = []
    for count in probes:
        index = InvertedFile(vectors.shape[1])
        index.approximate_from, index.probes = 1000, count
        for start in range(0, n, 500):
            index.add(range(start + 1, min(n, start + 500) + 1), vectors[start : start + 500])
        found = index.search(vectors, 11)[0][:, 1:]
        close = [set(t[c >= 0.7]) for t, c in zip(truth, cosines, strict=True)]
        rows.append(
            {
                "vectors": n,
                "cells": len(index._cells),
                "probes": count,
                "recall@10": float(
                    np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
                ),
                "recall@1": float(np.mean(found[:, 0] == truth[:, 0])),
                "cosine>=0.7 found": sum(len(set(f) & c) for f, c in zip(found, close, strict=True))
                / max(1, sum(len(c) for c in close)),
                "same 5 shown": float(
                    np.mean([shown(index, r) == shown(exact, r) for r in sample])
                ),
            }
        )
        print(rows[-1], flush=True)
    return rows


# Report -----------------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{len(os.sched_getaffinity(0))} CPUs ({cpu}), Python {platform.python_version()}"


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
        f"with the shipped, exact index) after {args.warmup} warm-up queries, sent one at a "
        "time.",
        "",
        f"```\n{command}\n```",
        "",
        "End to end: `GET /api/v1/ideas/similar?q=...&board=...&limit=5` on the real app, and the "
        "floor measured after each request on the same text. *shipped*: the app as it is (exact "
        "search: `ml.index.VectorIndex`); *IVF candidate*: the same app with the bench's "
        "`InvertedFile` index swapped in (from 50,000 ideas: ~2·√n k-means cells, 12 probed per "
        "query); *no catch-up*: patched in the bench so that a query never reads the vectors "
        "written since the index last looked (diagnoses, not configurations); *vectors just "
        "rebuilt*: the shipped app after every stored vector's `updated_at` was set to now, as "
        "`ideas-portal embeddings rebuild` leaves them. The floor is "
        "sentence-transformers with one torch thread (see below). Ratio: end-to-end p95 / floor "
        "p95; the goal is ≤ 1.5 at 1,000,000. Start: from launching the process to the first "
        "answered similar query (with matches). RSS: the server's VmRSS after its queries; per "
        "100,000 ideas: above the same backend's server with no ideas.",
        "",
        "| ideas | backend | index | end-to-end p50 ms | p95 ms | floor p50 ms | floor p95 ms "
        "| **p95 / floor p95** | start s | server RSS MiB | MiB per 100,000 ideas |",
        "|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        base = empty.get(r.backend)
        per = f"{(r.rss_mib - base.rss_mib) / r.ideas * 100_000:,.0f}" if base and r.ideas else "—"
        lines.append(
            f"| {r.ideas:,} | {r.backend} | {r.mode} | {ms(r.end_to_end.pct(0.5))} "
            f"| {ms(r.end_to_end.pct(0.95))} | {ms(r.floor.pct(0.5))} | {ms(r.floor.pct(0.95))} "
            f"| **{r.end_to_end.pct(0.95) / r.floor.pct(0.95):.2f}** | {r.start_s:.1f} "
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
        "queries whose 5 suggestions are the same set as with exact search.",
        "",
        "| ideas | index | embed p50 ms | similar p50 ms | similar p95 ms | search p50 ms "
        "| search p95 ms | floor p50 ms | floor p95 ms | recall@10 | same 5 shown |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in parts:
        lines.append(
            f"| {p.ideas:,} | {PART_LABELS[p.mode]} | {ms(p.embed.pct(0.5))} "
            f"| {ms(p.similar.pct(0.5))} "
            f"| {ms(p.similar.pct(0.95))} | {ms(p.search.pct(0.5))} | {ms(p.search.pct(0.95))} "
            f"| {ms(p.floor.pct(0.5))} | {ms(p.floor.pct(0.95))} | {p.recall:.3f} "
            f"| {p.same_top:.2f} |"
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
        help="only: the candidate index's recall forced on for the real files",
    )
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    if args.real_recall:
        real_recall(args.data, args.cache, [4, 8, 12, 16, 24])
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
