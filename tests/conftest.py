"""Shared fixtures: a real, migrated database (a SQLite file, or DATABASE_URL such as the CI
PostgreSQL), emptied after each test, and the app in front of it."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher, profiles
from sqlalchemy import select, text
from starlette.testclient import TestClient

from ideas import accounts, boards
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.migrate import upgrade
from ideas.models import Base, Board, Idea, Job, User
from ideas.settings import Settings, normalise_database_url
from web.app import create_app

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2's cheapest profile, which argon2-cffi ships for tests: the default took 0.1-0.8 s
    per hash on a busy CI machine, and the suite hashes thousands. Portals started as processes
    by tests (browser, load) keep the default."""
    default = accounts._hasher
    accounts._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    accounts._hasher = default


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        url = normalise_database_url(url)
        database = Database(url)
        name = database.engine.url.database or ""
        if "test" not in name:  # the schema is dropped below: never do that to real data
            pytest.exit(
                f"DATABASE_URL must name a test database (its name contains 'test'): {name}"
            )
        with database.engine.begin() as connection:  # start from nothing: migrations make all
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        database.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    database = Database(url)
    upgrade(database.engine)
    database.dispose()
    return url


@pytest.fixture(scope="session")
def _shared_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def db(_shared_db: Database) -> Iterator[Database]:
    yield _shared_db
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with _shared_db.engine.begin() as connection:
        if _shared_db.is_sqlite:
            for name in tables:
                connection.execute(text(f"DELETE FROM {name}"))
        else:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret",
        worker=False,
        rate_limits=None,
        mail_dir=tmp_path / "mail",
        embedding_backend="hashing",  # fit-free and fast; one test runs the real MiniLM
    )


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    """The session's CSRF token, as a page gives it to the browser."""
    found = CSRF_META.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_of(client)
    response = client.post(
        "/signin",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def mailed_path(db: Database, to: str, prefix: str) -> str:
    """The path of the link that starts with `prefix` ("/signup/") in the newest mail queued
    for `to`: what following the link in that mail opens."""
    with db.reading() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "send_mail").order_by(Job.id)).all()
    bodies = [job.payload["body"] for job in jobs if job.payload["to"] == to]
    assert bodies, f"no mail to {to}"
    found = re.search(rf"https?://[^/\s]+({re.escape(prefix)}\S+)", bodies[-1])
    assert found, bodies[-1]
    return found.group(1)


# Factories, through the domain's own functions -----------------------------------------------


@pytest.fixture
def make_user(db: Database):  # type: ignore[no-untyped-def]
    counter = iter(range(1, 1_000_000))

    def make(role: str = "member", name: str | None = None, email: str | None = None) -> User:
        number = next(counter)
        with db.transaction() as session:
            return accounts.create_user(
                session,
                email or f"person{number}@example.com",
                name or f"Person {number}",
                PASSWORD,
                role,
            )

    return make


@pytest.fixture
def make_board(db: Database):  # type: ignore[no-untyped-def]
    counter = iter(range(1, 1_000_000))

    def make(name: str | None = None, vote_budget: int | None = None) -> Board:
        with db.transaction() as session:
            return boards.create_board(
                session, None, name or f"Board {next(counter)}", "", vote_budget
            )

    return make


@pytest.fixture
def make_idea(db: Database, make_user, make_board):  # type: ignore[no-untyped-def]
    def make(
        title: str = "Export the roadmap as CSV",
        description: str = "So we can share it in our weekly meeting.",
        author: User | None = None,
        board: Board | None = None,
    ) -> Idea:
        author = author or make_user()
        board = board or make_board()
        with db.transaction() as session:
            return idea_rules.submit(session, author, board, title, description)

    return make


@pytest.fixture
def member_client(client: TestClient, make_user) -> TestClient:  # type: ignore[no-untyped-def]
    user = make_user()
    sign_in(client, user.email)
    client.user = user  # type: ignore[attr-defined]
    return client


# A real SMTP server (aiosmtpd) --------------------------------------------------------------


class Collector:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(envelope.content, policy=email.policy.default)
            for envelope in self.envelopes
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, collector
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp):
    controller, _ = smtp
    return replace(settings, smtp_host="127.0.0.1", smtp_port=controller.port)


# A real HTTP receiver for webhooks ------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes  # the raw bytes, as signed


class Receiver:
    """A local HTTP server that records every POST and answers with the statuses it is told,
    in order (then 200), each with a short body naming it. `port` 0: any free one."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.answer = b""  # a body to answer with instead of the default
        self.on_request: Callable[[], None] | None = None  # called before each answer
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(Received(self.path, headers, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    answer = receiver.answer or (b"ok" if status < 300 else b"boom %d" % status)
                if receiver.on_request is not None:
                    receiver.on_request()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    try:
        yield running
    finally:
        running.stop()
