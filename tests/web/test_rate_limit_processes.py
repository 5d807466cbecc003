"""Rate limits hold across web processes: two real `ideas-portal serve` processes on one database
(the test's SQLite file, or DATABASE_URL), hit in turn by one client, refuse it once the requests
to both together pass the limit - a limit kept in each process's memory would let through twice
as many. (test_security.py checks the same with two apps in one process.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ideas.db import Database
from ideas.settings import DEFAULT_RATE_LIMITS
from tests.conftest import CSRF_META, free_port

ROOT = Path(__file__).resolve().parents[2]


def start(database_url: str, mail_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "two-processes-secret",  # shared: a session cookie works on both
        "RATE_LIMITS": "on",
        "WORKER": "off",
        "LOG_LEVEL": "WARNING",
        "EMBEDDING_BACKEND": "hashing",
        "MAIL_DIR": str(mail_dir),
    }
    env.pop("SMTP_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/api/v1/boards", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the portal at {url} did not start")
            time.sleep(0.2)


@pytest.fixture
def two_processes(database_url: str, db: Database, tmp_path: Path) -> Iterator[list[str]]:
    started = [start(database_url, tmp_path / f"mail{n}") for n in range(2)]
    try:
        for process, url in started:
            wait_until_up(process, url)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=10)


def test_the_reset_limit_holds_across_two_web_processes(two_processes: list[str]) -> None:
    allowed, window = DEFAULT_RATE_LIMITS["reset"]
    first, second = two_processes
    for attempt in range(2):  # a second go only if the first straddled a window's end
        # A client of its own per attempt, as a proxy on this host tells both processes.
        client_ip = f"203.0.113.{attempt + 1}"
        headers = {"X-Forwarded-For": client_ip}
        with httpx.Client(headers=headers, follow_redirects=False) as client:
            found = CSRF_META.search(client.get(first + "/forgot").text)
            assert found
            token = found.group(1)
            window_at_start = time.time() // window
            statuses = []
            for n in range(allowed + 2):
                url = (first, second)[n % 2]
                response = client.post(
                    url + "/forgot", data={"email": "nobody@example.com", "csrf_token": token}
                )
                statuses.append(response.status_code)
            if time.time() // window != window_at_start:
                continue
            assert statuses == [200] * allowed + [429, 429], statuses
            assert "Too many requests" in response.text
            # Another client is not held back by this one's requests.
            with httpx.Client(headers={"X-Forwarded-For": "198.51.100.9"}) as other:
                answer = other.get(second + "/forgot")
                other_token = CSRF_META.search(answer.text)
                assert other_token
                again = other.post(
                    second + "/forgot",
                    data={"email": "nobody@example.com", "csrf_token": other_token.group(1)},
                )
                assert again.status_code == 200
            return
    pytest.fail("both attempts straddled the end of a rate limit window")
