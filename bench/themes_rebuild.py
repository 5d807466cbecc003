"""Theme rebuild benchmark: `ideas-portal themes rebuild` (``ideas.themes.rebuild``) on N active
ideas over three boards, beside ``ml.themes.cluster`` alone on the same N vectors, in the same run.

    .venv/bin/python bench/themes_rebuild.py --ideas 10000 100000 --extra-words 6 \\
        --before 1087ae9 --cache /tmp/themes-cache
    .venv/bin/python bench/themes_rebuild.py --ideas 10000 100000 --extra-words 6 \\
        --cache /tmp/themes-cache \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_themes

The database (a fresh SQLite file, or the PostgreSQL database named in ``--database-url``, created
and dropped here) is made by the migrations and filled with N active ideas on three boards
(50 / 30 / 20 %), 1 % more merged and 1 % more declined ones (left out by the rebuild), an
``IdeaEmbedding`` row for every idea (model ``MiniLMEmbedder().name``) and 1-5 votes per idea
from a pool of members, one in ten with a weight other than 1. The vectors are the synthetic ones
of bench/themes_eval.py: perturbed copies of the real MiniLM vectors of banking77-themes and
app-reviews-themes, noise chosen so the nearest-neighbour cosine matches the real data; each idea
takes the title and description of the record its vector copies, so the themes' names are worked
out from real text; ``--extra-words K`` appends K made-up words to each (Zipf over 50,000), for
the vocabulary of a real portal (the copied records share only ~2,400 words).

``--before REVISION`` also runs the rebuild with ml/themes.py and ideas/themes.py as they were at
that git revision, on a copy of the same database, turn about with the current code; the digest of
the themes (names, central ideas, sizes, voters, members) shows whether both made the same ones.

Each measurement runs in a child process, which reports wall and CPU seconds and its peak
resident memory (VmHWM: interpreter, libraries, data, everything): the cluster alone on the N
active vectors, the rebuild (first run: every theme new), the rebuild again (every theme matched
to itself), and the cluster alone again. The rebuild child times its phases by wrapping the
functions it calls (load, per scope: clustering, naming, matching, the rest of the scope: reads
and writes; refresh_figures). Prints JSON lines and a Markdown table; docs/benchmarks.md is
written by hand from them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, create_engine, insert, select, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.themes_eval import FILES, SEED, embed, nearest_cosine, peak_rss_mib  # noqa: E402
from ideas import embeddings, migrate  # noqa: E402
from ideas.db import Database  # noqa: E402
from ideas.models import Board, Idea, IdeaEmbedding, Theme, ThemeIdea, User, Vote  # noqa: E402
from ml.embedders import MiniLMEmbedder  # noqa: E402
from ml.evaluate import load_jsonl  # noqa: E402

MODEL = MiniLMEmbedder().name
BOARDS = (0.5, 0.3, 0.2)
INACTIVE = 0.01  # of N, merged and as many declined, on top of the N active ideas
CHUNK = 10_000


def synthetic(real: np.ndarray, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """bench/themes_eval.py's synthetic vectors (same seed, same draws), with the index of the
    real vector each one copies."""
    rng = np.random.default_rng(SEED)
    sources = rng.integers(0, len(real), n)
    vectors = real[sources].astype(np.float32)
    vectors += rng.normal(0, noise / np.sqrt(real.shape[1]), vectors.shape).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), sources


def made_up_words(count: int) -> list[str]:
    """``count`` distinct made-up words of letters only ("baa", "bab", …)."""
    words = []
    for number in range(26 * 26, 26 * 26 + count):
        letters = ""
        while number:
            number, letter = divmod(number, 26)
            letters += chr(ord("a") + letter)
        words.append(letters)
    return words


def make_data(
    n: int, data: Path, cache: Path | None, extra_words: int = 0
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """N + 2 % vectors (the first N are the active ideas) and each one's (title, description).
    ``extra_words``: that many made-up words (Zipf over 50,000) appended to each description,
    for a vocabulary as wide as a real portal's (the copied records share ~2,400 words)."""
    real = np.vstack([embed(name, data / file, cache, "minilm") for name, file in FILES.items()])
    records = [r for file in FILES.values() for r in load_jsonl(data / file)]
    total = n + 2 * int(n * INACTIVE)
    target = nearest_cosine(real, sample=len(real))
    noise = min(
        (0.3, 0.35, 0.4, 0.45, 0.5),
        key=lambda s: abs(nearest_cosine(synthetic(real, total, s)[0]) - target),
    )
    vectors, sources = synthetic(real, total, noise)
    print(
        f"nearest cosine: real {target:.3f}, synthetic {nearest_cosine(vectors):.3f} "
        f"(noise {noise})",
        flush=True,
    )
    texts = []
    words = made_up_words(50_000)
    ranks = (np.random.default_rng(SEED).zipf(1.1, (total, extra_words)) - 1) % len(words)
    for source, extra in zip(sources, ranks, strict=True):
        record = records[int(source)]
        title = record.title if len(record.title) <= 150 else record.title[:149] + "…"
        description = " ".join([record.description or "", *(words[i] for i in extra)]).strip()
        texts.append((title, description))
    return vectors, texts


def fill(db: Database, vectors: np.ndarray, texts: list[tuple[str, str]], n: int) -> dict:
    """Boards, members, ideas (N active, then merged, then declined), vectors and votes."""
    rng = np.random.default_rng(SEED)
    total = len(vectors)
    inactive = (total - n) // 2
    now = datetime.now(UTC)
    members = max(100, n // 20)
    with db.engine.begin() as conn:
        conn.execute(
            insert(Board),
            [{"slug": f"b{i}", "name": f"Board {i}", "description": ""} for i in range(3)],
        )
        board_ids = list(conn.scalars(select(Board.id).order_by(Board.id)))
        weights = np.where(rng.random(members) < 0.1, rng.choice([0.5, 2.0, 3.0], members), 1.0)
        conn.execute(
            insert(User),
            [
                {
                    "email": f"m{i}@bench.example",
                    "name": f"Member {i}",
                    "password_hash": "x",
                    "role": "member",
                    "weight": float(weights[i]),
                }
                for i in range(members)
            ],
        )
        user_ids = np.array(list(conn.scalars(select(User.id).order_by(User.id))))
        boards = rng.choice(len(BOARDS), total, p=BOARDS)
        voters = [rng.choice(members, size, replace=False) for size in rng.integers(1, 6, total)]
        for start in range(0, total, CHUNK):
            conn.execute(
                insert(Idea),
                [
                    {
                        "board_id": board_ids[boards[i]],
                        "author_id": int(user_ids[voters[i][0]]),
                        "title": texts[i][0],
                        "description": texts[i][1],
                        "status": "declined" if i >= n + inactive else "open",
                        "vote_count": len(voters[i]),
                        "created_at": now - timedelta(days=90),
                        "updated_at": now,
                    }
                    for i in range(start, min(total, start + CHUNK))
                ],
            )
        ids = np.array(list(conn.scalars(select(Idea.id).order_by(Idea.id))))
        merged = ids[n : n + inactive]
        if len(merged):
            targets = ids[rng.integers(0, n, len(merged))]  # into an active idea
            table = Idea.__table__
            conn.execute(
                update(table)
                .where(table.c.id == bindparam("source"))
                .values(merged_into_id=bindparam("target")),
                [
                    {"source": int(s), "target": int(t)}
                    for s, t in zip(merged, targets, strict=True)
                ],
            )
        for start in range(0, total, CHUNK):
            conn.execute(
                insert(IdeaEmbedding),
                [
                    {
                        "idea_id": int(ids[i]),
                        "model": MODEL,
                        "vector": embeddings.to_bytes(vectors[i]),
                        "updated_at": now,
                    }
                    for i in range(start, min(total, start + CHUNK))
                ],
            )
        # votes spread over the last 60 days, so growth and this week's votes are not empty
        ages = iter(rng.random(sum(len(v) for v in voters)) * 60)
        votes = [
            {
                "idea_id": int(ids[i]),
                "user_id": int(user_ids[m]),
                "created_at": now - timedelta(days=float(next(ages))),
            }
            for i in range(total)
            for m in voters[i]
        ]
        for start in range(0, len(votes), 5 * CHUNK):
            conn.execute(insert(Vote), votes[start : start + 5 * CHUNK])
    sizes = np.bincount(boards[:n], minlength=len(BOARDS))
    return {
        "active": n,
        "merged": inactive,
        "declined": total - n - inactive,
        "board_sizes": [int(s) for s in sizes],
        "members": members,
        "votes": len(votes),
    }


# Children -----------------------------------------------------------------------------------------


def usage() -> tuple[float, float]:
    """Wall and CPU seconds of this process so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), own.ru_utime + own.ru_stime


def child_cluster(path: str) -> dict:
    from ml.themes import cluster

    vectors = np.load(path)
    rss_before = peak_rss_mib()
    wall, cpu = usage()
    labels = cluster(vectors)
    wall_after, cpu_after = usage()
    return {
        "wall": wall_after - wall,
        "cpu": cpu_after - cpu,
        "peak_mib": peak_rss_mib(),
        "rss_before_mib": rss_before,
        "themes": int(labels.max() + 1),
        "unassigned": int((labels < 0).sum()),
        "labels": hashlib.sha1(labels.astype(np.int64).tobytes()).hexdigest()[:12],
    }


def load_source(name: str, path: Path) -> Any:
    """Import ``path`` as module ``name`` in place of the package's own (for ``--before``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    package, _, attribute = name.rpartition(".")
    setattr(importlib.import_module(package), attribute, module)
    spec.loader.exec_module(module)
    return module


def child_rebuild(url: str, before: str | None = None) -> dict:
    """One rebuild, its phases timed by wrapping the functions it calls. ``before``: a directory
    holding an older ml/themes.py and ideas/themes.py to run instead."""
    if before:
        load_source("ml.themes", Path(before) / "ml_themes.py")
        load_source("ideas.themes", Path(before) / "ideas_themes.py")
    from ideas import themes
    from ml import themes as theme_ml

    phases: dict[str, float] = defaultdict(float)
    scope_of: list[str] = []  # the scope being rebuilt ("board 1" … "all")

    def timed(module: Any, name: str, phase: Callable[[], str]) -> None:
        original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases[phase()] += time.perf_counter() - started

        setattr(module, name, wrapper)

    original_scope = themes._rebuild_scope

    def scope(db: Database, board_id: int | None, rows: list) -> Any:
        scope_of.append("all" if board_id is None else f"board {board_id}")
        return original_scope(db, board_id, rows)

    themes._rebuild_scope = scope  # type: ignore[assignment]
    timed(themes, "_rebuild_scope", lambda: f"{scope_of[-1]}: total")
    timed(themes, "_load", lambda: "load")
    timed(theme_ml, "cluster", lambda: f"{scope_of[-1]}: cluster")
    timed(theme_ml, "name_themes", lambda: f"{scope_of[-1]}: naming")
    timed(theme_ml, "match_themes", lambda: f"{scope_of[-1]}: matching")
    timed(themes, "refresh_figures", lambda: "refresh_figures")

    db = Database(url)
    themes.scopes(db)  # connect (and import the models) before measuring
    rss_before = peak_rss_mib()
    wall, cpu = usage()
    report = themes.rebuild(db, MODEL)
    wall_after, cpu_after = usage()
    result = {
        "wall": wall_after - wall,
        "cpu": cpu_after - cpu,
        "peak_mib": peak_rss_mib(),
        "rss_before_mib": rss_before,
        "phases": {k: round(v, 2) for k, v in phases.items()},
        "scopes": [
            {
                "board": s.board_id,
                "ideas": s.ideas,
                "themes": s.themes,
                "unassigned": s.unassigned,
                "created": s.created,
                "retired": s.retired,
                "splits": s.splits,
                "merges": s.merges,
            }
            for s in report.scopes
        ],
        "fingerprint": fingerprint(db),
    }
    db.dispose()
    return result


def fingerprint(db: Database) -> str:
    """A digest of the live themes (scope, name, central idea, size, voters, sorted members), to
    check that a change to the code leaves the themes as they were."""
    digest = hashlib.sha1()
    with db.reading() as session:
        members: dict[int, list[int]] = defaultdict(list)
        for theme_id, idea_id in session.execute(
            select(ThemeIdea.theme_id, ThemeIdea.idea_id).order_by(
                ThemeIdea.theme_id, ThemeIdea.idea_id
            )
        ):
            members[theme_id].append(idea_id)
        live = session.execute(
            select(
                Theme.id,
                Theme.board_id,
                Theme.auto_name,
                Theme.central_idea_id,
                Theme.size,
                Theme.voters,
                Theme.weighted_voters,
            )
            .where(Theme.retired_at.is_(None))
            .order_by(Theme.board_id, Theme.id)
        ).all()
        for theme in sorted(live, key=lambda t: (t.board_id or 0, members[t.id])):
            figures = (theme.size, theme.voters, round(theme.weighted_voters, 6))
            digest.update(
                repr((theme.board_id, theme.auto_name, theme.central_idea_id, figures)).encode()
            )
            digest.update(repr(members[theme.id]).encode())
    return digest.hexdigest()[:12]


def run_child(*args: str) -> dict:
    child = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True
    )
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        raise SystemExit(f"child {args[0]} failed")
    result: dict = json.loads(child.stdout.strip().splitlines()[-1])
    return result


# Databases --------------------------------------------------------------------------------------


@contextmanager
def database(url: str | None, directory: str) -> Iterator[str]:
    """A fresh SQLite file, or the named PostgreSQL database created (and dropped) here."""
    if url is None:
        yield f"sqlite:///{directory}/themes.db"
        return
    name = make_url(url).database
    if not name or name == "test":
        raise SystemExit("give a database of its own, e.g. …/bench_themes (never `test`)")
    server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def measure(n: int, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    vectors, texts = make_data(n, args.data, args.cache, args.extra_words)
    with tempfile.TemporaryDirectory() as directory, database(args.database_url, directory) as url:
        path = Path(directory) / "vectors.npy"
        np.save(path, vectors[:n])  # the active ideas, in id order: what the rebuild clusters
        db = Database(url)
        migrate.upgrade(db.engine)
        filled = fill(db, vectors, texts, n)
        db.dispose()
        del vectors, texts
        print(f"{n:,}: filled in {time.perf_counter() - started:.0f} s: {filled}", flush=True)
        plan: list[tuple[str, tuple[str, ...]]] = [("rebuild", ("rebuild", url))]
        if args.before:  # the older code on a copy of the same database, turn about
            copy = f"sqlite:///{directory}/before.db"
            shutil.copy(make_url(url).database or "", make_url(copy).database or "")
            plan.append((f"rebuild {args.before}", ("rebuild", copy, str(args.sources))))
        plan += [(f"{name} again", child) for name, child in plan]
        runs: dict[str, dict] = {}
        for name, child_args in [
            ("cluster", ("cluster", str(path))),
            *plan,
            ("cluster again", ("cluster", str(path))),
        ]:
            load = os.getloadavg()[0]
            runs[name] = run_child(*child_args) | {"load": round(load, 1)}
            print(json.dumps({"n": n, "run": name, **runs[name]}), flush=True)
    return {"n": n, "filled": filled, "runs": runs}


def extract(revision: str, directory: Path) -> None:
    """ml/themes.py and ideas/themes.py as they were at ``revision`` (git), for ``--before``."""
    for source in ("ml/themes.py", "ideas/themes.py"):
        text = subprocess.run(
            ["git", "show", f"{revision}:{source}"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (directory / source.replace("/", "_")).write_text(text)


def table(results: list[dict]) -> str:
    lines = [
        "| N active | run | load | wall s | CPU s | peak MiB | load s | clustering s "
        "(boards + all) | naming s | matching s | other scope work s | refresh_figures s "
        "| themes (boards / all) | created / retired | digest |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        runs = result["runs"]
        for name, run in runs.items():
            head = (
                f"| {result['n']:,} | {name} | {run['load']} | {run['wall']:.1f} | "
                f"{run['cpu']:.1f} | {run['peak_mib']:,.0f} |"
            )
            if "phases" not in run:
                lines.append(
                    f"{head} | {run['wall']:.1f} (alone) | | | | | {run['themes']:,} | | |"
                )
                continue
            p = run["phases"]

            def total(kind: str, scopes: str, p: dict = p) -> float:
                return sum(
                    v for k, v in p.items() if k.endswith(f": {kind}") and k.startswith(scopes)
                )

            per = {kind: total(kind, "") for kind in ("cluster", "naming", "matching", "total")}
            other = per["total"] - per["cluster"] - per["naming"] - per["matching"]
            scopes = run["scopes"]
            lines.append(
                f"{head} {p['load']:.1f} | {total('cluster', 'board'):.1f} + "
                f"{total('cluster', 'all'):.1f} | {per['naming']:.1f} | {per['matching']:.1f} | "
                f"{other:.1f} | {p['refresh_figures']:.1f} | "
                f"{' + '.join(format(s['themes'], ',') for s in scopes[:-1])} / "
                f"{scopes[-1]['themes']:,} | {sum(s['created'] for s in scopes):,} / "
                f"{sum(s['retired'] for s in scopes):,} | {run['fingerprint']} |"
            )
        alone = (runs["cluster"]["wall"] + runs["cluster again"]["wall"]) / 2
        cpu_alone = (runs["cluster"]["cpu"] + runs["cluster again"]["cpu"]) / 2
        lines.append(
            f"| {result['n']:,} | **rebuild / cluster alone** (mean of the two), first / again | | "
            f"**{runs['rebuild']['wall'] / alone:.2f}** / "
            f"{runs['rebuild again']['wall'] / alone:.2f} | "
            f"{runs['rebuild']['cpu'] / cpu_alone:.2f}"
            " | | | | | | | | | | |"
        )
        before = next(
            (name for name in runs if name.startswith("rebuild ") and "again" not in name), None
        )
        if before:
            lines.append(
                f"| {result['n']:,} | **rebuild now / {before}**, first / again | | "
                f"**{runs['rebuild']['wall'] / runs[before]['wall']:.2f}** / "
                f"{runs['rebuild again']['wall'] / runs[before + ' again']['wall']:.2f} | "
                f"{runs['rebuild']['cpu'] / runs[before]['cpu']:.2f} / "
                f"{runs['rebuild again']['cpu'] / runs[before + ' again']['cpu']:.2f}"
                " | | | | | | | | | | |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ideas", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared/data")
    parser.add_argument("--cache", type=Path, default=None, help="MiniLM vectors kept here.")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (created, dropped).")
    parser.add_argument(
        "--extra-words",
        type=int,
        default=0,
        metavar="K",
        help="Append K made-up words (Zipf over 50,000) to each idea: a real portal's vocabulary.",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    parser.add_argument(
        "--before",
        metavar="REVISION",
        help="Also rebuild with ml/themes.py and ideas/themes.py of this git revision, turn about "
        "with the current code on a copy of the database (SQLite only).",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *target = args.child
        result = child_cluster(*target) if kind == "cluster" else child_rebuild(*target)
        print(
            json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()})
        )
        return
    print(
        f"{time.strftime('%Y-%m-%d')}, {len(os.sched_getaffinity(0))} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()}",
        flush=True,
    )
    if args.before and args.database_url:
        parser.error("--before works on SQLite only")
    with tempfile.TemporaryDirectory() as sources:
        args.sources = Path(sources)
        if args.before:
            extract(args.before, args.sources)
        results = [measure(n, args) for n in args.ideas]
    print(table(results))
    print(f"load average at the end {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
