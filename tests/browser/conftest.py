"""Browser tests: the real portal served by uvicorn in a subprocess, driven in Debian's
Chromium through Playwright. Without Chromium they skip, unless REQUIRE_BROWSER=1 (CI) makes
that a failure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 8_000  # per action; pages here answer in milliseconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; REQUIRE_BROWSER=1 demands browser tests run")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The portal on a free loopback port, on the test database."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "browser-test-secret",
        "RATE_LIMITS": "off",
        "WORKER": "off",
        "LOG_LEVEL": "WARNING",
        "EMBEDDING_BACKEND": "hashing",  # fast to start; MiniLM is tested once, in tests/web
        "MAIL_DIR": str(tmp_path_factory.mktemp("mail")),
    }
    env.pop("SMTP_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/api/v1/boards", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the portal did not start")
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


# Per module: Playwright's sync API keeps an event loop on the main thread while it runs, which
# would break later tests that start their own.
@pytest.fixture(scope="module")
def browser(chromium_path: Path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser, live_server: str, db, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Opens pages in a fresh browser context per language; screenshots go to test-artifacts/.

    Each page records what must not happen, for `assert_clean(page)`: uncaught script errors,
    dialogs and Content Security Policy violations in `page.js_errors`, and responses of 500
    or more in `page.server_errors`."""
    contexts = []

    def open_page(locale: str = "en-GB", **options):  # type: ignore[no-untyped-def]
        context = browser.new_context(base_url=live_server, locale=locale, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        server_errors: list[str] = []

        def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
            errors.append(f"dialog: {dialog.message}")
            dialog.dismiss()

        def on_console(message) -> None:  # type: ignore[no-untyped-def]
            if "Content Security Policy" in message.text:
                errors.append(f"CSP: {message.text}")

        def on_response(response) -> None:  # type: ignore[no-untyped-def]
            if response.status >= 500:
                server_errors.append(f"{response.status} {response.request.method} {response.url}")

        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("response", on_response)
        page.js_errors = errors  # type: ignore[attr-defined]
        page.server_errors = server_errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def assert_clean(page) -> None:  # type: ignore[no-untyped-def]
    """No script errors, dialogs or CSP violations, and no server errors, on every page seen."""
    assert page.js_errors == []
    assert page.server_errors == []


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
