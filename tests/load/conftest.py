"""Load and fault tests: real `ideas-portal serve --workers N` processes (and `ideas-portal
worker`) on the test database, driven over loopback by many members' clients at once.

Their size comes from the environment, small by default so that `make test` runs a short
version; `make load` and `make faults` run the full one (see the README):

    LOAD_CLIENTS    members' clients at once (default 20)
    LOAD_SECONDS    how long the load lasts (default 3)
    LOAD_PROCESSES  web processes (default 2)
    LOAD_FAULTS     1: also the fault tests too long for `make test` (kill -9 of the server,
                    dead mail and webhook servers)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ideas import accounts, boards
from ideas import ideas as idea_rules
from ideas.db import Database
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds for a portal to answer after starting (imports on a busy machine)


@dataclass(frozen=True)
class LoadSize:
    clients: int
    seconds: float
    processes: int

    @classmethod
    def from_env(cls) -> LoadSize:
        return cls(
            clients=int(os.environ.get("LOAD_CLIENTS") or 20),
            seconds=float(os.environ.get("LOAD_SECONDS") or 3),
            processes=int(os.environ.get("LOAD_PROCESSES") or 2),
        )


@pytest.fixture(scope="session")
def size() -> LoadSize:
    return LoadSize.from_env()


@pytest.fixture
def fault_run() -> None:
    """For the fault tests too long for `make test` (each restarts servers and waits out
    their retries): they run with LOAD_FAULTS=1, as `make faults` sets."""
    if os.environ.get("LOAD_FAULTS") != "1":
        pytest.skip("a long fault test: `make faults` runs it (LOAD_FAULTS=1)")


def portal_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "load-test-secret",
        "RATE_LIMITS": "off",  # many members from one address: limits would refuse the load
        "WORKER": "off",  # the worker is tested on its own (test_worker_kill.py)
        "LOG_LEVEL": "WARNING",
        "EMBEDDING_BACKEND": "hashing",
        "MAIL_DIR": str(tmp_path / "mail"),
    }
    env.pop("SMTP_HOST", None)
    return env


class Portal:
    """`ideas-portal serve --workers N` on a loopback port, in a process group of its own so
    that `kill` can SIGKILL the supervisor and its web processes at once."""

    def __init__(self, database_url: str, processes: int, tmp_path: Path) -> None:
        self.env = portal_env(database_url, tmp_path)
        self.processes = processes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"portal-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.processes)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.wait_until_up()

    def wait_until_up(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(self.url + "/api/v1/boards", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the portal at {self.url} did not start:\n{self.log()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 of the supervisor and every web process."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


@pytest.fixture
def start_portal(tmp_path: Path, size: LoadSize) -> Iterator[Callable[[str], Portal]]:
    """Starts a portal on the database URL it is given (the test's, or a private cluster's);
    stops every one it started after the test."""
    started: list[Portal] = []

    def start(database_url: str) -> Portal:
        portal = Portal(database_url, size.processes, tmp_path)
        started.append(portal)
        portal.start()
        return portal

    yield start
    for portal in started:
        portal.stop()


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 120.0) -> None:
    """Polls `condition` until it holds; fails the test after `seconds` (a bound, not a
    measurement: a healthy run takes a fraction of it)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting after {seconds:.0f} s: {what}")
        time.sleep(0.1)


# The community the load works on, made through the domain's functions ------------------------


@dataclass(frozen=True)
class Community:
    board_slug: str
    idea_ids: list[int]  # voted and unvoted on by everyone
    merge_ids: list[int]  # voted on while staff merge and unmerge them
    members: list[tuple[int, str]]  # (user id, API token), one client each
    staff_token: str


def make_community(db: Database, members: int, ideas: int = 8, merged: int = 0) -> Community:
    with db.transaction() as session:
        author = accounts.create_user(session, "author@example.com", "Author", None)
        staff = accounts.create_user(session, "staff@example.com", "Staff", None, "staff")
        board = boards.create_board(session, None, "Load", "", None)
        made = [
            idea_rules.submit(session, author, board, f"Idea number {n}", "Under load.")
            for n in range(ideas + merged)
        ]
        people = [
            accounts.create_user(session, f"member{n}@example.com", f"Member {n}", None)
            for n in range(members)
        ]
        session.flush()
        return Community(
            board_slug=board.slug,
            idea_ids=[idea.id for idea in made[:ideas]],
            merge_ids=[idea.id for idea in made[ideas:]],
            members=[(person.id, accounts.create_api_token(session, person)) for person in people],
            staff_token=accounts.create_api_token(session, staff),
        )


# A private PostgreSQL cluster, to restart without touching anyone else's -------------------------


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin, or PATH's."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


class PostgresCluster:
    """A throw-away cluster in a temporary folder on a free loopback port, trust auth. initdb
    refuses to run as root: as root it runs as the `postgres` OS user."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/test_restart"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        command = [*self._as_user, str(self.bin_dir / args[0]), *args[1:]]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        command = [*self._as_user, str(self.bin_dir / "createdb")]
        command += ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test_restart"]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        # fsync off: stops here are clean shutdowns of a throw-away cluster, not power cuts.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder}"
            " -c fsync=off"
        )
        log = str(self.folder / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)"
        if os.environ.get("REQUIRE_POSTGRES_BINARIES") == "1":
            pytest.fail(reason + "; REQUIRE_POSTGRES_BINARIES=1 demands this test runs")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="ideas-pg-"))
    cluster = PostgresCluster(bin_dir, folder)
    try:
        cluster.init()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
