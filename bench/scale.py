"""Scale: the real portal on a community of 100,000 ideas, 1,000,000 votes and 200,000 comments on
PostgreSQL, served by 1 and then 4 web processes.

    .venv/bin/python bench/scale.py                     # the whole bench (make scale)
    .venv/bin/python bench/scale.py --database-only --ideas 1000000 --votes 10000000 \\
        --comments 2000000 --users 500000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale_10x
    .venv/bin/python bench/scale.py --ideas 2000 --votes 20000 --comments 4000 --users 1000 \\
        --seconds 4 --warmup 1 --no-docs                 # a quick try

The community (bench/community.py) is seeded once into its own database and kept between runs.
Then, in this order:

1. *Tasks*, each as its command, alone on the machine: ``ideas-portal themes rebuild`` and
   ``ideas-portal export weekly`` (the week before the seeding, all three formats, its stored
   snapshot deleted first): wall time and peak memory of the command (start-up included; a bare
   ``ideas-portal --help`` is timed beside them).
2. *Database work* of each page, in this process, without HTTP: the domain calls its view makes
   (median of a few runs). Cheap enough to run at 10x the size (``--database-only``), so the
   growth from one size to the other is measured, not guessed.
3. *Web*: ``ideas-portal serve --workers N`` (RATE_LIMITS=off, WORKER=off), for N = 1 and 4 in
   alternating rounds; once every process has loaded its vectors and gone quiet, ``--clients``
   concurrent httpx clients on loopback send requests back to back, each on a new connection,
   for a fixed time per endpoint (bench/web.py's load): the home page, an idea page, a search,
   similar-while-typing (``GET /api/v1/ideas/similar``), and vote / unvote through the API as
   signed-in members (bearer tokens). p50 / p95 latency, requests/s, and the ratio of requests/s
   with 4 processes to 1 (the scale-out factor); where the CPU went (the web processes, this load
   generator, the PostgreSQL backends of this database, everything else); each web process's
   resident memory afterwards.

Prints the tables and writes them to the "Scale" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.community import Community, Size, prepare, search_words, tidy, title  # noqa: E402
from bench.themes_rebuild import make_data  # noqa: E402
from bench.web import (  # noqa: E402
    DOCS,
    ROOT,
    Result,
    database_name,
    home_requests,
    load,
    machine,
    start,
    stop,
    vote_requests,
)
from ideas import boards, votes, weekly  # noqa: E402
from ideas import ideas as idea_rules  # noqa: E402
from ideas.db import Database, make_engine  # noqa: E402
from ideas.embeddings import make_shared  # noqa: E402
from ideas.models import Idea, User  # noqa: E402
from ideas.similar import visible  # noqa: E402

HEADING = "## Scale (bench/scale.py)"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale"
BACKEND = "onnx"  # the shipped default; the servers and the commands are told it too
ENDPOINTS = ("home", "idea page", "search", "similar", "vote / unvote")
TICK = os.sysconf("SC_CLK_TCK")
# Set on the bench's database (the server's other defaults are kept): the usual value on SSDs.
# With the default 4 the planner scans every idea for any search word found in more than ~2 % of
# them (0.85-0.95 s a search at 100,000) instead of using the trigram indexes (30-200 ms).
DATABASE_SETTINGS = {"random_page_cost": "1.1"}


# Processes --------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (its peak) in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def web_processes(server: subprocess.Popen[bytes], workers: int) -> list[int]:
    """The processes that answer requests: the server itself with one worker, else uvicorn's
    worker children (its supervisor only watches them)."""
    if workers == 1:
        return [server.pid]
    children = []
    for task in Path(f"/proc/{server.pid}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return [
        pid
        for pid in children
        if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    ]


def backends(database: str) -> list[int]:
    """PostgreSQL's backend processes serving ``database`` (by their process titles)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title_ = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title_.startswith("postgres: ") and f" {database} " in title_:
                found.append(int(entry.name))
    return found


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / TICK


def wait_until_quiet(server: subprocess.Popen[bytes], workers: int, timeout: float = 900) -> None:
    """Until every web process is up and used under 5 % of a core over a second: each loads
    the model and the stored vectors in a thread at start, which requests must not share."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}")
        pids = web_processes(server, workers)
        if len(pids) == workers:
            before = [cpu_seconds(pid) for pid in pids]
            time.sleep(1)
            if all(cpu_seconds(p) - b < 0.05 for p, b in zip(pids, before, strict=True)):
                return
        else:
            time.sleep(0.5)
    sys.exit("the web processes did not settle")


@dataclass
class Cpu:
    """Cores used while an endpoint ran: by the web processes, this load generator, the
    PostgreSQL backends of the bench's database, and everything else on the machine."""

    web: float = 0.0
    busiest: float = 0.0  # CPU seconds of the busiest web process
    client: float = 0.0
    database: float = 0.0
    machine: float = 0.0
    wall: float = 0.0

    def add(self, other: Cpu) -> None:
        for name in ("web", "busiest", "client", "database", "machine", "wall"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def cores(self) -> str:
        # "other" is found by difference: clamped at 0 (the readings are a moment apart)
        other = max(0.0, self.machine - self.web - self.client - self.database)
        parts = (self.web, self.client, self.database, other)
        return " / ".join(f"{part / self.wall:.2f}" for part in parts)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(pids: list[int], database: str, run: Callable[[], Result]) -> tuple[Result, Cpu]:
    """Runs the load and the CPU each party used meanwhile."""
    servers = {pid: cpu_seconds(pid) for pid in pids}
    postgres = {pid: cpu_seconds(pid) for pid in backends(database)}
    client, busy, started = own_cpu(), machine_busy(), time.perf_counter()
    result = run()
    cpu = Cpu(wall=time.perf_counter() - started)
    used = [cpu_seconds(pid) - before for pid, before in servers.items()]
    cpu.web, cpu.busiest = sum(used), max(used)
    cpu.database = sum(cpu_seconds(pid) - postgres.get(pid, 0.0) for pid in backends(database))
    cpu.client, cpu.machine = own_cpu() - client, machine_busy() - busy
    return result, cpu


def tune(url: str) -> None:
    """``DATABASE_SETTINGS`` for every new connection to the bench's database."""
    name = make_url(url).database
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for key, value in DATABASE_SETTINGS.items():
            conn.execute(text(f'ALTER DATABASE "{name}" SET {key} = {value}'))
    engine.dispose()


def vectors(args: argparse.Namespace, n: int) -> np.ndarray:
    """bench/themes_rebuild.py's synthetic idea vectors: perturbed copies of the real MiniLM
    vectors of two data files, as close to their nearest neighbours as the real ones are."""
    return make_data(n, args.data, args.cache)[0][:n]


# Commands ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    what: str
    shown: str  # the command line as the table shows it
    seconds: float
    peak_mib: float
    output: str
    failed: str | None  # its error, when it failed


def run_command(what: str, argv: list[str], env: dict[str, str], shown: str = "") -> Command:
    """Runs an ``ideas-portal`` command: its wall time, and its peak resident memory (VmHWM,
    read every 20 ms while it runs: a child's rusage would count this process's size at the
    fork)."""
    program = str(Path(sys.executable).parent / "ideas-portal")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([program, *argv], env=env, cwd=ROOT, stdout=out, stderr=err)
        peak = 0.0
        while proc.poll() is None:
            with contextlib.suppress(OSError, KeyError):  # it is exiting
                peak = max(peak, memory_mib(proc.pid)["VmHWM"])
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0), err.seek(0)
        output, errors = out.read().decode(), err.read().decode()
    failed = None
    if proc.returncode:
        print(f"ideas-portal {shlex.join(argv)} failed:\n{errors[-3000:]}", file=sys.stderr)
        lines = [line for line in errors.splitlines() if "Error" in line and len(line) < 300]
        failed = lines[-1] if lines else errors.strip().splitlines()[-1][:300]
    return Command(what, shown or shlex.join(argv), seconds, peak, output, failed)


def tasks(url: str, community: Community, env: dict[str, str]) -> list[Command]:
    """The theme rebuild and the weekly export, each as its command, and a bare start-up."""
    engine = make_engine(url)
    with engine.begin() as conn:
        had_themes = bool(conn.scalar(text("SELECT count(*) FROM themes")))
        conn.execute(text("DELETE FROM weekly_snapshots"))  # so the export builds its week
    engine.dispose()
    week = weekly.last_complete_week(community.seeded_at, "UTC")
    done = [run_command("start-up alone", ["--help"], env)]
    again = "a later rebuild: the themes matched to the last ones" if had_themes else "the first"
    done.append(run_command(again, ["themes", "rebuild"], env))
    print(done[-1].output.strip(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as out:
        argv = ["export", "weekly", "--week", week, "--out", out]
        shown = f"export weekly --week {week} --out DIR"
        done.append(run_command("the week before the seeding, 3 files", argv, env, shown))
    return done


# Database work ----------------------------------------------------------------------------------


def database_work(url: str, community: Community, repeats: int) -> dict[str, list[float]]:
    """Seconds of each page's domain calls, as its view makes them, without HTTP or templates:
    ``repeats`` runs each on different ideas and words (plus one not counted, to warm up)."""
    db = Database(url)
    rng = random.Random(7)
    words = search_words()
    times: dict[str, list[float]] = {name: [] for name in ENDPOINTS if name != "similar"}
    times["similar: visible()"] = []

    def timed(name: str, work: Callable[[], Any], warm: bool) -> None:
        started = time.perf_counter()
        work()
        if not warm:
            times[name].append(time.perf_counter() - started)

    def home(q: str = "") -> None:
        with db.reading() as session:
            boards.all_boards(session)
            page = idea_rules.listing(session, None, q=q)
            idea_rules.ids_voted_by(session, None, [idea.id for idea in page.items])

    def idea_page(idea_id: int) -> None:
        from web.views.ideas import _idea_context  # what the idea page reads

        with db.reading() as session:
            _idea_context(session, idea_rules.get(session, idea_id, None), None)

    def suggestions(ids: list[int], board_id: int) -> None:
        with db.reading() as session:
            visible(session, ids, board_id)

    def vote(user_id: int, idea_id: int) -> None:
        for cast in (votes.vote, votes.unvote):
            with db.transaction() as session:
                user, idea = session.get_one(User, user_id), session.get_one(Idea, idea_id)
                cast(session, user, idea)

    for number in range(repeats + 1):
        warm = number == 0
        idea_id = rng.choice(community.idea_ids)
        voter = community.voter_ids[number % len(community.voter_ids)]
        ids = rng.sample(community.idea_ids, 30)  # as many as the scorer hands over
        timed("home", home, warm)
        timed("idea page", partial(idea_page, idea_id), warm)
        timed("search", partial(home, rng.choice(words)), warm)
        timed("similar: visible()", partial(suggestions, ids, 1), warm)
        timed("vote / unvote", partial(vote, voter, idea_id), warm)
    db.dispose()
    tidy(url, community.voter_ids)
    return times


# Web --------------------------------------------------------------------------------------------


def idea_requests(idea_ids: list[int]) -> Any:
    def requests(number: int) -> Iterator[tuple[str, str, dict]]:
        rng = random.Random(number)
        while True:
            yield "GET", f"/ideas/{rng.choice(idea_ids)}", {}

    return requests


def search_requests(words: list[str]) -> Any:
    def requests(number: int) -> Iterator[tuple[str, str, dict]]:
        rng = random.Random(number)
        while True:
            yield "GET", "/?" + urlencode({"q": rng.choice(words)}), {}

    return requests


def similar_requests(board_slugs: list[str]) -> Any:
    """Titles as the generator makes them, cut where someone may still be typing (40-100 %)."""

    def requests(number: int) -> Iterator[tuple[str, str, dict]]:
        rng = random.Random(1000 + number)
        while True:
            made = title(rng)
            typed = made[: max(3, int(len(made) * rng.uniform(0.4, 1.0)))]
            query = {"q": typed, "board": rng.choice(board_slugs), "limit": 5}
            yield "GET", "/api/v1/ideas/similar?" + urlencode(query), {}

    return requests


@dataclass
class Run:
    """One endpoint with one number of web processes, over all rounds."""

    result: Result = field(default_factory=Result)
    cpu: Cpu = field(default_factory=Cpu)


def web(
    url: str, community: Community, args: argparse.Namespace
) -> tuple[dict[tuple[str, int], Run], dict[int, list[dict[str, float]]]]:
    """Every endpoint with each number of web processes, in alternating rounds; and the memory
    of each process after its last round (the supervisor's first when there is one)."""
    database = make_url(url).database or ""
    requests = {
        "home": home_requests("/"),
        "idea page": idea_requests(community.idea_ids),
        "search": search_requests(search_words()),
        "similar": similar_requests(community.boards),
        "vote / unvote": vote_requests(community.voter_ids, community.idea_ids, set()),
    }
    runs = {(name, n): Run() for name in ENDPOINTS for n in args.workers}
    memory: dict[int, list[dict[str, float]]] = {}
    seconds = args.seconds / args.rounds
    for number in range(args.rounds):
        for workers in args.workers if number % 2 == 0 else args.workers[::-1]:
            launched = time.perf_counter()
            server, base = start("ours", url, workers)
            try:
                wait_until_quiet(server, workers)
                ready = time.perf_counter() - launched
                pids = web_processes(server, workers)
                print(f"round {number + 1}: {workers} web processes ready in {ready:.0f} s")
                for name in ENDPOINTS:
                    # a connection per request: uvicorn's workers share one listening socket,
                    # and kept connections all went to the first worker to wake (measured)
                    sent = load(base, requests[name], args.clients, seconds, args.warmup, False)
                    result, cpu = measured(pids, database, partial(asyncio.run, sent))
                    runs[name, workers].result.add(result)
                    runs[name, workers].cpu.add(cpu)
                    rate, p50, p95 = figures(result)
                    print(
                        f"  {name:14} {rate:>7} req/s  p50 {p50:>7}  p95 {p95:>7} ms  cores web /"
                        f" client / database / other {cpu.cores()}, busiest web process "
                        f"{cpu.busiest / max(cpu.web, 1e-9):.0%}",
                        flush=True,
                    )
                supervisor = [] if workers == 1 else [server.pid]
                memory[workers] = [memory_mib(pid) for pid in supervisor + pids]
            finally:
                stop(server)
            tidy(url, community.voter_ids)
    return runs, memory


# Report -----------------------------------------------------------------------------------------


def figures(result: Result) -> tuple[str, str, str]:
    """Requests/s, p50 and p95 ms ("—" when no request ended: each outlasted the run)."""
    if not result.latencies:
        return "0", "—", "—"
    return f"{result.rate():,.1f}", f"{result.pct(0.5):,.0f}", f"{result.pct(0.95):,.0f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def web_table(runs: dict[tuple[str, int], Run], workers: list[int]) -> str:
    low, high = workers[0], workers[-1]
    head = ["endpoint"]
    for n in workers:
        head += [f"{n} proc. req/s", f"{n} proc. p50 ms", f"{n} proc. p95 ms"]
    head += [f"**req/s {high} / {low}**"]
    head += [f"cores web / client / db / other, {n} proc." for n in workers]
    head += [f"busiest of {high} proc.", "errors"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|--:" * (len(head) - 2) + "|---|"]
    for name in ENDPOINTS:
        cells = [name]
        for n in workers:
            cells += figures(runs[name, n].result)
        low_rate, high_rate = (runs[name, n].result.rate() for n in (low, high))
        cells.append(f"**{high_rate / low_rate:.2f}**" if low_rate else "—")
        cells += [runs[name, n].cpu.cores() for n in workers]
        spread = runs[name, high].cpu
        cells.append(f"{spread.busiest / spread.web:.0%}" if spread.web else "—")
        odd: dict[int, int] = {}
        for n in workers:
            for status, count in runs[name, n].result.statuses.items():
                if status >= 300 or status == 0:
                    odd[status] = odd.get(status, 0) + count
        cells.append(", ".join(f"{count} × {status}" for status, count in odd.items()) or "0")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memory_table(memory: dict[int, list[dict[str, float]]]) -> str:
    lines = [
        "| web processes | resident MiB (VmRSS) after the run, each | peak MiB (VmHWM), each "
        "| total resident MiB |",
        "|--:|---|---|--:|",
    ]
    for workers, processes in sorted(memory.items()):
        rss = [p["VmRSS"] for p in processes]
        hwm = [p["VmHWM"] for p in processes]
        label = "supervisor + workers" if workers > 1 else "one process"
        lines.append(
            f"| {workers} ({label}) | {' + '.join(f'{v:,.0f}' for v in rss)} "
            f"| {' + '.join(f'{v:,.0f}' for v in hwm)} | {sum(rss):,.0f} |"
        )
    return "\n".join(lines)


def task_table(done: list[Command]) -> str:
    lines = ["| command | wall s | peak MiB |", "|---|--:|--:|"]
    for command in done:
        own = re.search(r"Done in ([0-9.]+) s", command.output)
        note = f" (its own timer: {own.group(1)} s)" if own else ""
        if command.failed:
            note += f" — **failed**: `{command.failed}`"
        lines.append(
            f"| `ideas-portal {command.shown}`: {command.what}{note} "
            f"| {command.seconds:,.1f} | {command.peak_mib:,.0f} |"
        )
    return "\n".join(lines)


def work_table(times: dict[str, list[float]]) -> str:
    lines = ["| page | median ms | max ms |", "|---|--:|--:|"]
    for name, seconds in times.items():
        lines.append(f"| {name} | {ms(statistics.median(seconds))} | {ms(max(seconds))} |")
    return "\n".join(lines)


def counts(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("ideas", "votes", "comments", "follows", "users", "idea_embeddings")
        }
        size = conn.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    engine.dispose()
    return ", ".join(f"{n:,} {table}" for table, n in found.items()) + f"; {size} on disk"


def write_docs(part: str, body: str) -> None:
    """Replaces this part (a ``###`` heading) of the Scale section, keeping the other parts;
    the section goes at the end of the file the first time."""
    current = DOCS.read_text()
    start_at = current.find(HEADING)
    if start_at == -1:
        before, section, after = current.rstrip() + "\n\n", HEADING + "\n", ""
    else:
        following = current.find("\n## ", start_at + 1)
        end = len(current) if following == -1 else following + 1
        before, section, after = current[:start_at], current[start_at:end], current[end:]
    intro, *rest = section.split("\n### ")
    parts = {p.split("\n", 1)[0]: p for p in rest}
    parts[part] = f"{part}\n\n{body.strip()}\n"
    section = intro.rstrip() + "\n" + "".join(f"\n### {parts[k].rstrip()}\n" for k in parts)
    DOCS.write_text(before + section + ("\n" + after if after else ""))


# Main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="its name must hold 'bench'")
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50_000, help="members who take part")
    parser.add_argument("--voters", type=int, default=1_000, help="members who vote in the bench")
    parser.add_argument("--fresh", action="store_true", help="seed again even if it is there")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=None, help="keep the real vectors here")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--seconds", type=float, default=20, help="measured per endpoint and process count"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating 1-then-4, 4-then-1")
    parser.add_argument("--warmup", type=float, default=3, help="per endpoint and round")
    parser.add_argument("--repeats", type=int, default=7, help="database work: runs per page")
    parser.add_argument(
        "--database-only", action="store_true", help="seed and time the database work alone"
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    url = args.database_url
    if make_url(url).get_backend_name() != "postgresql":
        parser.error("the bench runs on PostgreSQL (it seeds by COPY)")
    os.environ.update({"EMBEDDING_BACKEND": BACKEND, "HF_HUB_OFFLINE": "1", "DATABASE_URL": url})
    env = {**os.environ, "RATE_LIMITS": "off", "WORKER": "off", "LOG_LEVEL": "warning"}
    embedder = make_shared(BACKEND).fit()  # exports the ONNX model once, before any server
    size = Size(args.ideas, args.votes, args.comments, args.users, args.voters)
    loads = [os.getloadavg()[0]]
    started = time.perf_counter()
    community = prepare(url, size, embedder.name, partial(vectors, args), args.fresh)
    tune(url)
    seeded = f"seeded in {community.seconds:,.0f} s" + (
        f" on {community.seeded_at:%Y-%m-%d} by an earlier run" if community.kept else ""
    )
    print(f"{counts(url)} ({seeded}; ready in {time.perf_counter() - started:.0f} s)", flush=True)
    done = [] if args.database_only else tasks(url, community, env)
    times = database_work(url, community, args.repeats)
    print(work_table(times), flush=True)
    if not args.database_only:
        runs, memory = web(url, community, args)
    loads.append(os.getloadavg()[0])

    argv = [make_url(a).render_as_string() if "://" in a else a for a in sys.argv[1:]]
    command = shlex.join([".venv/bin/python", "bench/scale.py", *argv])
    context = (
        f"{datetime.now(UTC):%Y-%m-%d}, {machine()}, load average {loads[0]:.1f} at the start; "
        f"{database_name(make_engine(url))} on the same machine, with its default settings "
        f"but {', '.join(f'{k} {v}' for k, v in DATABASE_SETTINGS.items())} (see the code); "
        f"{counts(url)} ({seeded}).\n\n```\n{command}\n```\n"
    )
    if args.database_only:
        part = f"Database work at {args.ideas:,} ideas"
        body = context + "\n" + work_table(times)
    else:
        part = f"{args.ideas:,} ideas"
        body = "\n\n".join(
            [
                context.rstrip(),
                f"Web: {args.clients} concurrent clients, {args.seconds:g} s measured per "
                f"endpoint and number of processes in {args.rounds} alternating rounds, each "
                f"after {args.warmup:g} s of warm-up. Cores: CPU seconds per second while the "
                "endpoint ran, of the web processes / the load generator / PostgreSQL's backends "
                "for this database / everything else; *busiest*: the busiest web process's share "
                "of the web processes' CPU. Each request on a new connection (see the code).",
                web_table(runs, args.workers),
                "Memory of each web process after its last round:",
                memory_table(memory),
                "Tasks, each command alone on the machine (wall time includes its start-up):",
                task_table(done),
                f"Database work of each page, in-process ({args.repeats} runs):",
                work_table(times),
            ]
        )
    print(f"\n### {part}\n\n{body}")
    if not args.no_docs:
        write_docs(part, body)
        print(f"written to {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
