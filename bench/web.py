"""Web benchmark: the home page and the vote endpoint of the real app under concurrent clients,
beside a bare Starlette app that runs the same SQL on the same database in the same run.

    .venv/bin/python bench/web.py                      # SQLite file in a temp dir
    .venv/bin/python bench/web.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

Prints a table and writes it to the "Web" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import platform
import random
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, delete, event, func, insert, make_url, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
HEADING = "## Web (bench/web.py)"


# Data -------------------------------------------------------------------------------------------


def token_for(user_id: int) -> str:
    return f"ip_bench_{user_id}_" + hashlib.sha256(f"bench{user_id}".encode()).hexdigest()[:24]


def fresh_database(url: str) -> None:
    """Empties the PostgreSQL database named in url (creating it if needed); SQLite starts empty."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    from ideas.db import make_engine

    if "bench" not in (parsed.database or ""):
        sys.exit(f"the database is wiped first: its name must contain 'bench' ({parsed.database})")
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
        if not conn.scalar(exists, {"name": parsed.database}):
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def seed(engine: Engine, n_ideas: int, n_votes: int, n_users: int) -> tuple[list, list, set]:
    """Bulk-inserts boards, users (each with an API token), ideas and votes; returns user ids,
    idea ids and the (user, idea) pairs voted."""
    from ideas import trending
    from ideas.accounts import hash_password
    from ideas.models import ApiToken, Board, Idea, User, Vote

    rng = random.Random(42)
    now = datetime.now(UTC)
    password = hash_password("bench password")  # once, reused
    words = ["export", "roadmap", "csv", "dark", "mode", "sso", "slack", "api", "webhooks"]
    with engine.begin() as conn:
        conn.execute(
            insert(Board),
            [{"slug": f"board-{i}", "name": f"Board {i}", "description": ""} for i in range(3)],
        )
        board_ids = list(conn.scalars(select(Board.id)))
        conn.execute(
            insert(User),
            [
                {
                    "email": f"user{i}@bench.example",
                    "name": f"User {i}",
                    "password_hash": password,
                    "role": "member",
                    "created_at": now,
                }
                for i in range(n_users)
            ],
        )
        user_ids = list(conn.scalars(select(User.id).order_by(User.id)))
        conn.execute(
            insert(ApiToken),
            [
                {"user_id": uid, "token_hash": hashlib.sha256(token_for(uid).encode()).hexdigest()}
                for uid in user_ids
            ],
        )
        conn.execute(
            insert(Idea),
            [
                {
                    "board_id": rng.choice(board_ids),
                    "author_id": rng.choice(user_ids),
                    "title": f"Idea {i}: " + " ".join(rng.sample(words, 4)),
                    "description": " ".join(rng.choices(words, k=40)),
                    "status": rng.choice(["open"] * 7 + ["planned", "shipped", "declined"]),
                    "created_at": now - timedelta(days=rng.uniform(0, 365)),
                }
                for i in range(n_ideas)
            ],
        )
        idea_ids = list(conn.scalars(select(Idea.id).order_by(Idea.id)))
        popularity = [rng.paretovariate(1.2) for _ in idea_ids]  # a few ideas get most votes
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < n_votes:
            ideas = rng.choices(idea_ids, popularity, k=n_votes - len(pairs))
            pairs.update((rng.choice(user_ids), idea) for idea in ideas)
        conn.execute(
            insert(Vote),
            [
                {
                    "user_id": uid,
                    "idea_id": iid,
                    "created_at": now - timedelta(days=rng.uniform(0, 60)),
                }
                for uid, iid in pairs
            ],
        )
        conn.execute(
            update(Idea).values(
                vote_count=select(func.count()).where(Vote.idea_id == Idea.id).scalar_subquery(),
                recent_votes=trending.recent_votes(now - trending.WINDOW),
            )
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would leave it
    return user_ids, idea_ids, pairs


# The bare app -----------------------------------------------------------------------------------


def listing_sql(engine: Engine) -> tuple[str, Any]:
    """The SQL (and parameters) of the home page's idea listing, as ideas.listing sends it."""
    from ideas.ideas import listing

    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    with Session(engine) as session:
        listing(session, None)  # a count, then the page of ideas
    event.remove(engine, "before_cursor_execute", capture)
    return sent[-1]


def bare_app(url: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ideas.db import make_engine
    from ideas.models import Idea, Vote

    engine = make_engine(url)  # the app's engine settings (pool, SQLite pragmas)
    writer = engine.execution_options(sqlite_write=True)
    statement, params = listing_sql(engine)

    def home(request: Request) -> JSONResponse:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(statement, params).all()
        return JSONResponse({"ids": [row[0] for row in rows]})

    def vote(request: Request) -> JSONResponse:
        idea_id, user_id = request.path_params["id"], int(request.headers["x-user-id"])
        try:
            with writer.begin() as conn:
                if request.method == "POST":
                    conn.execute(insert(Vote).values(idea_id=idea_id, user_id=user_id))
                    change = 1
                else:
                    where = (Vote.idea_id == idea_id) & (Vote.user_id == user_id)
                    change = -conn.execute(delete(Vote).where(where)).rowcount
                if change:  # the bench's votes are all recent
                    conn.execute(
                        update(Idea)
                        .where(Idea.id == idea_id)
                        .values(
                            vote_count=Idea.vote_count + change,
                            recent_votes=Idea.recent_votes + change,
                        )
                    )
        except IntegrityError:
            pass  # voted already
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/api/v1/ideas/{id:int}/vote", vote, methods=["POST", "DELETE"]),
        ]
    )


# Servers and load -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, url: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    if kind == "ours":
        command = [str(Path(sys.executable).parent / "ideas-portal"), "serve", "--port", str(port)]
        command += ["--workers", str(workers)]
    else:
        command = [sys.executable, __file__, "bare-server", "--port", str(port), url]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RATE_LIMITS": "off",
        "WORKER": "off",
        "LOG_LEVEL": "warning",
        "SECRET_KEY": "bench",
    }
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"{kind} server exited with {proc.returncode}")
        try:
            httpx.get(base + "/favicon-probe", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{kind} server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(kind: str, url: str, requests: Any, clients: int, args: argparse.Namespace) -> Result:
    proc, base = start(kind, url)
    try:
        seconds = args.seconds / args.rounds
        return asyncio.run(load(base, requests, clients, seconds, args.warmup))
    finally:
        stop(proc)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)

    def add(self, other: Result) -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.seconds += other.seconds


async def load(
    base: str, requests: Any, clients: int, seconds: float, warmup: float, keepalive: bool = True
) -> Result:
    """`clients` tasks send requests back to back; those started after the warm-up are counted.
    Without `keepalive` each request opens its own connection (kept ones stay with the server
    process that accepted them)."""
    result = Result(seconds=seconds)
    kept = clients if keepalive else 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=kept)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        begin = time.perf_counter() + warmup
        end = begin + seconds

        async def run(number: int) -> None:
            for method, path, headers in requests(number):
                started = time.perf_counter()
                if started >= end:
                    return
                try:
                    status = (await client.request(method, path, headers=headers)).status_code
                except httpx.HTTPError:
                    status = 0
                if started >= begin:
                    result.latencies.append(time.perf_counter() - started)
                    result.statuses[status] += 1

        await asyncio.gather(*(run(n) for n in range(clients)))
    return result


def vote_requests(user_ids: list[int], idea_ids: list[int], voted: set) -> Any:
    """Per client: a vote then its unvote, round-robin over users, on random ideas not voted in
    the seed (so the data stays as seeded)."""
    turn = iter(range(10**9))

    def requests(number: int) -> Any:
        rng = random.Random(number)
        while True:
            user = user_ids[next(turn) % len(user_ids)]
            idea = rng.choice(idea_ids)
            if (user, idea) in voted:
                continue
            headers = {"authorization": f"Bearer {token_for(user)}", "x-user-id": str(user)}
            yield "POST", f"/api/v1/ideas/{idea}/vote", headers
            yield "DELETE", f"/api/v1/ideas/{idea}/vote", headers

    return requests


def home_requests(path: str) -> Any:
    def requests(number: int) -> Any:
        while True:
            yield "GET", path, {}

    return requests


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
    return (
        f"{len(os.sched_getaffinity(0))} CPUs ({cpu}, load average {os.getloadavg()[0]:.1f} "
        f"at the end), Python {platform.python_version()}"
    )


def database_name(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} (file, WAL)"
    with engine.connect() as conn:
        return " ".join(str(conn.scalar(text("SELECT version()"))).split()[:2])


def write_docs(title: str, body: str) -> None:
    """Replaces this database's part of the Web section, keeping everything else."""
    current = (
        DOCS.read_text()
        if DOCS.exists()
        else (
            "# Benchmarks\n\nFigures from the scripts in `bench/`, each with the command that "
            "made it. "
            "Machines are shared and noisy: compare the ratios measured side by side in one run; "
            "absolute times are context.\n"
        )
    )
    intro = (
        f"{HEADING}\n\nThe real app (`ideas-portal serve`) beside a bare Starlette app that runs "
        "the same SQL on the same database, one after the other in the same run: same uvicorn, "
        "one worker, concurrent httpx clients on loopback (on the same machine as the server). "
        "*home*: ours `GET /` (the listing, its count, boards, the template) against the "
        "listing query alone; *vote*: ours `POST`/`DELETE /api/v1/ideas/{id}/vote` with a bearer "
        "token (token lookup, idea, vote, count, follow, state) against the insert/delete and "
        "the count update alone. Ratios are ours / bare. With 1 client the p50 ratio is what our "
        "layers add to a request; with 32 clients on two cores both servers mostly wait for the "
        "CPU and the database, and the bare one, which lets every request into the database at "
        "once, can come out behind. The first run showed the trending listing query at ~180 ms "
        "(SQLite) and ~300 ms (PostgreSQL) per page, 4-7 home pages/s for ours and bare alike; "
        "the index `ix_votes_idea_created` (migration 0002) and `count(*)` brought it to ~13 and "
        "~35 ms.\n"
    )
    start = current.find(HEADING)
    if start == -1:
        before, section, after = current.rstrip() + "\n\n", intro, ""
    else:
        nxt = current.find("\n## ", start + 1)
        end = len(current) if nxt == -1 else nxt + 1
        before, section, after = current[:start], current[start:end], current[end:]
    parts = {p.split("\n", 1)[0]: "### " + p for p in section.split("\n### ")[1:]}
    parts[title] = f"### {title}\n\n{body}"
    section = intro + "".join("\n" + parts[key].rstrip() + "\n" for key in sorted(parts))
    DOCS.write_text(before + section + ("\n" + after if after else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument(
        "--clients",
        default="32,1",
        help="concurrent clients, one table row each (1: the unloaded latency)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=12.0,
        help="measured per server and endpoint, split over the rounds",
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternating ours/bare runs")
    parser.add_argument("--warmup", type=float, default=2.0, help="per run, not measured")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    if sys.argv[1:2] == ["bare-server"]:
        import uvicorn

        port, url = sys.argv[3], sys.argv[4]  # bare-server --port N URL, from start()
        uvicorn.run(bare_app(url), host="127.0.0.1", port=int(port), log_level="warning")
        return
    args = parser.parse_args()

    from ideas.db import make_engine
    from ideas.migrate import upgrade

    tmp = tempfile.TemporaryDirectory(prefix="bench-web-")
    url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    fresh_database(url)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    user_ids, idea_ids, voted = seed(engine, args.ideas, args.votes, args.users)
    print(
        f"seeded {len(idea_ids):,} ideas, {len(voted):,} votes, {len(user_ids):,} users "
        f"in {time.perf_counter() - started:.1f} s"
    )
    database = database_name(engine)
    engine.dispose()

    cases = {
        "home": dict.fromkeys(("ours", "bare"), home_requests("/")),
        "vote": dict.fromkeys(("ours", "bare"), vote_requests(user_ids, idea_ids, voted)),
    }
    rows = []
    counts = [int(n) for n in args.clients.split(",")]
    for (name, requests), clients in itertools.product(cases.items(), counts):
        # Rounds in alternating order (ours, bare, bare, ours, ...) so drift hits both alike.
        totals = {"ours": Result(), "bare": Result()}
        for number in range(args.rounds):
            for kind in ("ours", "bare") if number % 2 == 0 else ("bare", "ours"):
                totals[kind].add(measure(kind, url, requests[kind], clients, args))
        ours, bare = totals["ours"], totals["bare"]
        rows.append(
            f"| {name} | {clients} "
            f"| {ours.rate():,.0f} | {ours.pct(0.5):.1f} | {ours.pct(0.95):.1f} "
            f"| {bare.rate():,.0f} | {bare.pct(0.5):.1f} | {bare.pct(0.95):.1f} "
            f"| **{ours.rate() / bare.rate():.2f}** "
            f"| **{ours.pct(0.5) / bare.pct(0.5):.2f}** "
            f"| {ours.failures()} / {bare.failures()} |"
        )
        for kind, result in (("ours", ours), ("bare", bare)):
            odd = {s: n for s, n in result.statuses.items() if s >= 300 or s == 0}
            if odd:
                print(f"{name} {kind}: unexpected statuses {odd}")
    argv = [
        make_url(a).render_as_string(hide_password=True) if "://" in a else a for a in sys.argv[1:]
    ]
    command = shlex.join([".venv/bin/python", "bench/web.py", *argv])
    table = "\n".join(
        [
            "| endpoint | clients | ours req/s | ours p50 ms | ours p95 ms | bare req/s "
            "| bare p50 ms | bare p95 ms | req/s ours/bare | p50 ours/bare | 5xx ours / bare |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
            *rows,
        ]
    )
    body = (
        f"{datetime.now(UTC):%Y-%m-%d}, {machine()}, {database}; {len(idea_ids):,} ideas, "
        f"{len(voted):,} votes, {len(user_ids):,} users; "
        f"{args.seconds:g} s measured per server and endpoint in {args.rounds} alternating "
        f"runs, each after {args.warmup:g} s warm-up.\n\n"
        f"```\n{command}\n```\n\n{table}\n"
    )
    print(f"\n{body}")
    if not args.no_docs:
        title = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        write_docs(title, body)
        print(f"written to {DOCS.relative_to(ROOT)} ({title})")
    tmp.cleanup()


if __name__ == "__main__":
    main()
