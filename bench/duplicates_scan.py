"""Duplicate scan benchmark: `ideas-portal duplicates scan` on a large community, beside the bare
exact search it is built on (the same top-k matrix products on the same vectors, without the
database, the scorer or the queue) in the same run.

    .venv/bin/python bench/duplicates_scan.py --ideas 100000

Vectors are synthetic but shaped like real ones: each idea is a noisy copy of one of
``ideas / 50`` topic vectors, with one idea in twenty a near-copy of another (a duplicate).
Prints the figures and writes them to the "Duplicate scan" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.web import DOCS, machine  # noqa: E402
from ideas import duplicates, embeddings, migrate  # noqa: E402
from ideas.db import Database  # noqa: E402
from ideas.models import Board, DuplicateCandidate, Idea, IdeaEmbedding, User  # noqa: E402
from ml.index import VectorIndex  # noqa: E402

HEADING = "## Duplicate scan (bench/duplicates_scan.py)"
MODEL = "bench-synthetic"
DIMENSIONS = 384


def synthetic_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((max(1, n // 50), DIMENSIONS)).astype(np.float32)
    vectors = topics[rng.integers(0, len(topics), n)] + 1.1 * rng.standard_normal(
        (n, DIMENSIONS)
    ).astype(np.float32)
    copies = rng.choice(n, n // 20, replace=False)
    vectors[copies] = vectors[rng.integers(0, n, len(copies))] + 0.3 * rng.standard_normal(
        (len(copies), DIMENSIONS)
    ).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def seed(db: Database, vectors: np.ndarray, boards: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            insert(Board),
            [{"slug": f"b{i}", "name": f"Board {i}", "description": ""} for i in range(boards)],
        )
        board_ids = list(conn.scalars(select(Board.id).order_by(Board.id)))
        conn.execute(
            insert(User),
            [{"email": "a@bench.example", "name": "A", "password_hash": "x", "role": "member"}],
        )
        author = conn.scalar(select(User.id))
        now = datetime.now(UTC)
        for start in range(0, len(vectors), 10_000):
            rows = range(start, min(len(vectors), start + 10_000))
            conn.execute(
                insert(Idea),
                [
                    {"board_id": board_ids[i % boards], "author_id": author, "title": f"Idea {i}"}
                    for i in rows
                ],
            )
        ids = list(conn.scalars(select(Idea.id).order_by(Idea.id)))
        for start in range(0, len(ids), 10_000):
            conn.execute(
                insert(IdeaEmbedding),
                [
                    {
                        "idea_id": ids[i],
                        "model": MODEL,
                        "vector": embeddings.to_bytes(vectors[i]),
                        "updated_at": now,
                    }
                    for i in range(start, min(len(ids), start + 10_000))
                ],
            )


def bare_search(vectors: np.ndarray, boards: int) -> float:
    """The exact top-k searches alone, board by board, as the scan runs them."""
    started = time.perf_counter()
    for board in range(boards):
        part = vectors[board::boards]
        index = VectorIndex(DIMENSIONS)
        index.add(range(len(part)), part)
        batch, k = duplicates.SCAN_BATCH, duplicates.SCAN_NEIGHBOURS + 1
        for start in range(0, len(part), batch):
            index.search(part[start : start + batch], k)
    return time.perf_counter() - started


def write_docs(body: str) -> None:
    current = DOCS.read_text()
    start = current.find(HEADING)
    if start == -1:
        DOCS.write_text(current.rstrip() + "\n\n" + body)
        return
    following = current.find("\n## ", start + 1)
    after = "" if following == -1 else current[following + 1 :]
    DOCS.write_text(current[:start] + body + ("\n" + after if after else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--boards", type=int, default=1, help="1 is the worst case")
    parser.add_argument("--print-only", action="store_true", help="leave docs/benchmarks.md")
    args = parser.parse_args()

    vectors = synthetic_vectors(args.ideas)
    with tempfile.TemporaryDirectory() as directory:
        db = Database(f"sqlite:///{directory}/scan.db")
        migrate.upgrade(db.engine)
        seed(db, vectors, args.boards)
        bare = bare_search(vectors, args.boards)
        started = time.perf_counter()
        queued = duplicates.scan(db, MODEL)
        ours = time.perf_counter() - started
        with db.reading() as session:
            assert session.scalar(select(func.count()).select_from(DuplicateCandidate)) == queued
        db.engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    command = ".venv/bin/python bench/duplicates_scan.py " + shlex.join(sys.argv[1:])
    body = (
        f"{HEADING}\n\n`ideas-portal duplicates scan` (read the vectors from SQLite, exact top-"
        f"{duplicates.SCAN_NEIGHBOURS} search per idea on its board, the shipped scorer, insert "
        "the new pairs) beside the bare searches alone on the same vectors, in the same run. "
        "Synthetic 384-dimension vectors shaped like ideas (topics, one in twenty a near-copy).\n\n"
        f"{datetime.now(UTC):%Y-%m-%d}, {machine()}, {os.cpu_count()} cores.\n\n"
        f"```\n{command.strip()}\n```\n\n"
        "| ideas | boards | scan s | bare search s | scan / bare | pairs queued | peak RSS MB |\n"
        "|--:|--:|--:|--:|--:|--:|--:|\n"
        f"| {args.ideas:,} | {args.boards} | {ours:.1f} | {bare:.1f} | **{ours / bare:.2f}** "
        f"| {queued:,} | {peak_mb:,.0f} |\n"
    )
    print(body)
    if not args.print_only:
        write_docs(body)


if __name__ == "__main__":
    main()
