"""Web security: headers, body size, the session cookie and its rotation, blocking, no user
enumeration, password reset links, open redirects, rate limits, and no script from user text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ideas import accounts, jobs, mail, worker
from ideas.db import Database
from ideas.models import Board, Idea, Job, User, UserSession
from ideas.settings import Settings
from tests.conftest import PASSWORD, csrf_of, mailed_path, sign_in
from web.app import STATIC, create_app

MakeUser = Callable[..., User]
MakeBoard = Callable[..., Board]
MakeIdea = Callable[..., Idea]

SESSION_COOKIE = "ideas_session"
XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


# Helpers ---------------------------------------------------------------------------------------


class Markup(HTMLParser):
    """The tags, attributes and inline script text of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline_script: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script.append(data)


def assert_no_active_content(html: str) -> None:
    """No script but our own files, no event handler attributes, no javascript: URLs."""
    page = Markup(html)
    assert not page.inline_script, page.inline_script
    for tag, attrs in page.tags:
        assert tag not in ("iframe", "object", "embed", "base"), tag
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "formaction", "xlink:href", "srcdoc"):
                # Browsers ignore control characters and spaces in a URL's scheme.
                scheme = re.sub(r"[\x00-\x20]", "", value).lower()
                assert not scheme.startswith(("javascript:", "vbscript:", "data:text")), (
                    tag,
                    value,
                )


def session_cookie(response: Any) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{SESSION_COOKIE}="):
            return str(header)
    raise AssertionError(f"no {SESSION_COOKIE} cookie set")


def as_cookie(app: Any, cookie: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
    """Replays a captured session cookie from a browser that has nothing else."""
    with TestClient(app) as fresh:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", **kwargs.pop("headers", {})}
        return fresh.request(method, path, headers=headers, follow_redirects=False, **kwargs)


def is_signed_in(app: Any, cookie: str) -> bool:
    response = as_cookie(app, cookie, "/notifications")
    if response.status_code == 303:
        assert response.headers["location"].startswith("/signin")
        return False
    assert response.status_code == 200
    return True


def signin_post(client: TestClient, email: str, password: str, **extra: str) -> Any:
    data = {"email": email, "password": password, "csrf_token": csrf_of(client), **extra}
    return client.post("/signin", data=data, follow_redirects=False)


def mail_jobs(db: Database) -> list[Job]:
    with db.reading() as session:
        return [job for job in session.scalars(select(Job)) if job.kind == "send_mail"]


def count_sessions(db: Database, user: User) -> int:
    with db.reading() as session:
        query = select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
        return session.scalar(query) or 0


# Security headers ------------------------------------------------------------------------------


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        parts = directive.split()
        if parts:
            parsed[parts[0].lower()] = parts[1:]
    return parsed


def assert_security_headers(response: Any) -> None:
    policy = directives(response.headers["content-security-policy"])
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert "*" not in script_src and "data:" not in script_src
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert response.headers["referrer-policy"] in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    )
    assert response.headers["x-content-type-options"] == "nosniff"


def test_security_headers_on_pages_api_errors_and_static_files(
    client: TestClient, make_idea: MakeIdea
) -> None:
    idea = make_idea()
    static_file = next(path for path in sorted(STATIC.rglob("*")) if path.is_file())
    responses = [
        client.get("/"),
        client.get(f"/ideas/{idea.id}"),
        client.get("/signin"),
        client.get("/ideas/999999"),  # an error page
        client.get("/notifications", follow_redirects=False),  # a redirect
        client.post("/signin", data={"email": "x"}),  # refused: no CSRF token
        client.get("/api/v1/ideas"),
        client.get(f"/api/v1/ideas/{idea.id}"),
        client.get("/api/v1/ideas/999999"),
        client.post("/api/v1/ideas", json={}),  # 401
        client.get("/static/" + static_file.relative_to(STATIC).as_posix()),
    ]
    assert [response.status_code for response in responses] == [
        200,
        200,
        200,
        404,
        303,
        403,
        200,
        200,
        404,
        401,
        200,
    ]
    for response in responses:
        assert_security_headers(response)


def test_pages_hold_no_inline_script_or_handlers_the_policy_would_block(
    client: TestClient, make_idea: MakeIdea, make_user: MakeUser
) -> None:
    idea = make_idea()
    staff = make_user(role="admin")
    sign_in(client, staff.email)
    for path in ["/", f"/ideas/{idea.id}", "/ideas/new", "/notifications", "/staff/moderation"]:
        response = client.get(path)
        assert response.status_code == 200
        assert_no_active_content(response.text)
        assert " style=" not in response.text, f"inline style on {path} (style-src 'self')"


# Request size ------------------------------------------------------------------------------------


MAX_BODY = 2000


@pytest.fixture
def small_app(settings: Settings, db: Database) -> Starlette:
    return create_app(replace(settings, max_body_bytes=MAX_BODY), db)


def signup_form(token: str, name: str) -> dict[str, str]:
    return {"email": "big@example.com", "name": name, "password": PASSWORD, "csrf_token": token}


def test_body_over_the_limit_with_content_length_is_refused(
    small_app: Starlette, db: Database
) -> None:
    with TestClient(small_app) as client:
        token = csrf_of(client)
        response = client.post("/signup", data=signup_form(token, "x" * MAX_BODY))
        assert int(response.request.headers["content-length"]) > MAX_BODY
        assert response.status_code == 413
        assert "too large" in response.text
        assert_security_headers(response)
        with db.reading() as session:
            assert accounts.find_by_email(session, "big@example.com") is None

        api = client.post(
            "/api/v1/ideas",
            content=b'{"title": "' + b"x" * MAX_BODY + b'"}',
            headers={"content-type": "application/json"},
        )
        assert api.status_code == 413
        assert "too large" in api.json()["error"]

        # Just under the limit is an ordinary request.
        accepted = client.post("/signup", data=signup_form(token, "Big"), follow_redirects=False)
        assert accepted.status_code == 200


def test_chunked_body_over_the_limit_without_content_length_is_refused(
    small_app: Starlette, db: Database
) -> None:
    with TestClient(small_app) as client:
        token = csrf_of(client)

        def chunks() -> Any:
            start = f"csrf_token={token}&email=big%40example.com&password=long+enough+pw&name="
            yield start.encode()
            for _ in range(10):
                yield b"x" * 500

        response = client.post(
            "/signup",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 413
        with db.reading() as session:
            assert accounts.find_by_email(session, "big@example.com") is None


def test_guard_stops_reading_a_long_stream_early(small_app: Starlette) -> None:
    """Driven as a server would: many body messages; the guard stops after the limit."""
    chunk, total = 1000, 1000
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * chunk, "more_body": read < total}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/signup",
        "raw_path": b"/signup",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"transfer-encoding", b"chunked"),
        ],
    }
    anyio.run(small_app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert read <= MAX_BODY // chunk + 1


# The session cookie ------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(
    client: TestClient, make_user: MakeUser
) -> None:
    user = make_user()
    first = session_cookie(client.get("/signin")).lower()
    signed_in = session_cookie(signin_post(client, user.email, PASSWORD)).lower()
    for cookie in (first, signed_in):
        attributes = [part.strip() for part in cookie.split(";")]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes


def test_session_cookie_is_secure_behind_https(settings: Settings, db: Database) -> None:
    app = create_app(replace(settings, base_url="https://ideas.example"), db)
    with TestClient(app, base_url="https://testserver") as client:
        attributes = [
            part.strip() for part in session_cookie(client.get("/signin")).lower().split(";")
        ]
        assert "secure" in attributes


def test_signing_in_rotates_the_session_and_csrf_token(
    app: Starlette, client: TestClient, make_user: MakeUser
) -> None:
    user = make_user()
    csrf_before = csrf_of(client)
    cookie_before = client.cookies[SESSION_COOKIE]

    response = client.post(
        "/signin",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_before},
        follow_redirects=False,
    )
    assert response.status_code == 303

    assert client.cookies[SESSION_COOKIE] != cookie_before
    csrf_after = csrf_of(client, "/")
    assert csrf_after != csrf_before
    assert client.get("/notifications", follow_redirects=False).status_code == 200
    # The cookie from before signing in is not signed in, and the old token no longer counts.
    assert not is_signed_in(app, cookie_before)
    stale = client.post("/notifications/read", data={"csrf_token": csrf_before})
    assert stale.status_code == 403


def test_signing_in_as_someone_else_ends_the_previous_session(
    app: Starlette, client: TestClient, make_user: MakeUser
) -> None:
    first, second = make_user(), make_user()
    sign_in(client, first.email)
    first_cookie = client.cookies[SESSION_COOKIE]
    sign_in(client, second.email)
    assert not is_signed_in(app, first_cookie)
    assert count_sessions(app.state.db, first) == 0
    assert is_signed_in(app, client.cookies[SESSION_COOKIE])


def test_after_sign_out_the_old_cookie_no_longer_authenticates(
    app: Starlette, client: TestClient, make_user: MakeUser
) -> None:
    user = make_user()
    sign_in(client, user.email)
    cookie = client.cookies[SESSION_COOKIE]
    token = csrf_of(client, "/")
    assert is_signed_in(app, cookie)

    response = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303

    assert count_sessions(app.state.db, user) == 0
    assert not is_signed_in(app, cookie)  # the cookie still carries the sid, but its row is gone
    replayed = as_cookie(
        app,
        cookie,
        "/api/v1/ideas",
        "POST",
        json={"title": "Replayed"},
        headers={"X-CSRF-Token": token},
    )
    assert replayed.status_code == 401


def test_blocking_ends_the_blocked_persons_sessions_and_tokens_at_once(
    app: Starlette, client: TestClient, make_user: MakeUser, make_idea: MakeIdea
) -> None:
    member, staff = make_user(), make_user(role="staff")
    idea = make_idea()
    sign_in(client, member.email)
    member_csrf = csrf_of(client, "/")
    with app.state.db.transaction() as session:
        api_token = accounts.create_api_token(session, member)
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert client.get("/api/v1/ideas", headers=bearer).status_code == 200

    with TestClient(app) as staff_client:
        sign_in(staff_client, staff.email)
        blocked = staff_client.post(
            f"/users/{member.id}/block",
            data={"csrf_token": csrf_of(staff_client, "/")},
            follow_redirects=False,
        )
        assert blocked.status_code == 303

    assert count_sessions(app.state.db, member) == 0
    page = client.get("/notifications", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    vote = client.post(
        f"/ideas/{idea.id}/vote", data={"csrf_token": member_csrf}, follow_redirects=False
    )
    assert vote.status_code in (401, 403)
    assert client.post(f"/api/v1/ideas/{idea.id}/vote", headers=bearer).status_code == 401
    # and signing in again is refused with the same words as a wrong password
    again = signin_post(client, member.email, PASSWORD)
    assert again.status_code == 400
    assert "Wrong email or password." in again.text


# No user enumeration -----------------------------------------------------------------------------


def test_sign_in_does_not_tell_which_emails_exist(
    client: TestClient, make_user: MakeUser, db: Database
) -> None:
    make_user(email="someone@example.com")
    blocked, admin = make_user(email="blocked@example.com"), make_user(role="admin")
    with db.transaction() as session:
        accounts.set_blocked(session, admin, accounts.get_user(session, blocked.id), True)
        # as imported authors are: an account that has never had a password
        accounts.create_user(session, "imported@example.com", "Imported", None)

    attempts = {
        "nobody@example.com": signin_post(client, "nobody@example.com", PASSWORD),
        "someone@example.com": signin_post(client, "someone@example.com", "a wrong password"),
        "blocked@example.com": signin_post(client, "blocked@example.com", PASSWORD),
        "imported@example.com": signin_post(client, "imported@example.com", PASSWORD),
    }
    statuses = {response.status_code for response in attempts.values()}
    assert statuses == {400}
    pages = {response.text.replace(email, "EMAIL") for email, response in attempts.items()}
    assert len(pages) == 1, "the pages differ beyond the email typed in"
    assert "Wrong email or password." in pages.pop()


def sign_up_answers(client: TestClient, emails: list[str]) -> dict[str, tuple[Any, str]]:
    """What each sign-up with these emails answers, in one session: the response, and its page
    with the session's CSRF token and the email typed in left out."""
    token = csrf_of(client, "/signup")
    answers = {}
    for email in emails:
        response = client.post(
            "/signup", data={"email": email, "csrf_token": token}, follow_redirects=False
        )
        answers[email] = response, response.text.replace(token, "CSRF").replace(email, "EMAIL")
    return answers


def test_sign_up_does_not_tell_which_emails_exist(
    app: Starlette, client: TestClient, make_user: MakeUser, db: Database
) -> None:
    someone = make_user(email="someone@example.com", name="Someone")
    blocked, admin = make_user(email="blocked@example.com"), make_user(role="admin")
    with db.transaction() as session:
        accounts.set_blocked(session, admin, accounts.get_user(session, blocked.id), True)
    emails = ["someone@example.com", "nobody@example.com", "blocked@example.com"]

    answers = sign_up_answers(client, emails)
    responses = [response for response, _ in answers.values()]

    assert {response.status_code for response in responses} == {200}
    pages = {page for _, page in answers.values()}
    assert len(pages) == 1, "the pages differ beyond the email typed in"
    assert "We have sent a message to EMAIL" in pages.pop()
    assert len({tuple(sorted(response.headers.keys())) for response in responses}) == 1
    # Nobody is signed in by it, and a fresh browser's answer is the same page too.
    assert not any(response.headers.get("location") for response in responses)
    with TestClient(app) as fresh:
        ((_, other),) = sign_up_answers(fresh, ["someone@example.com"]).values()
    assert other == answers["someone@example.com"][1]

    # The mailbox learns what the page did not say.
    mails = {job.payload["to"]: job.payload for job in mail_jobs(db)}
    assert set(mails) == {"someone@example.com", "nobody@example.com"}  # no mail to the blocked
    known = mails["someone@example.com"]
    assert known["subject"] == "You already have an account"
    assert "Hello Someone," in known["body"]
    assert "/signin" in known["body"] and "/forgot" in known["body"]
    assert "/signup/" not in known["body"]
    assert "/signup/" in mails["nobody@example.com"]["body"]
    with db.reading() as session:
        assert accounts.find_by_email(session, "nobody@example.com") is None  # not before the link
        assert accounts.get_user(session, someone.id).name == "Someone"  # left as it was
    assert signin_post(client, "someone@example.com", PASSWORD).status_code == 303


def test_sign_up_with_a_registered_email_mails_its_owner_over_smtp(
    smtp: Any, smtp_settings: Settings, db: Database, make_user: MakeUser
) -> None:
    """Through the outbox and the worker to a real SMTP server, in the owner's language."""
    _, collector = smtp
    owner = make_user(email="someone@example.com", name="Someone")
    with db.transaction() as session:
        accounts.set_locale(accounts.get_user(session, owner.id), "it")
    with TestClient(create_app(smtp_settings, db)) as client:
        ((answer, _),) = sign_up_answers(client, ["Someone@Example.com"]).values()
    assert answer.status_code == 200
    assert jobs.run_due(db, worker.handlers(db, smtp_settings)) == 1
    (message,) = collector.messages()
    assert message["To"] == "someone@example.com"
    base = smtp_settings.base_url
    subject, body = mail.render(
        "sign_up_exists",
        "it",
        {"name": "Someone", "signin": f"{base}/signin", "reset": f"{base}/forgot"},
    )
    assert message["Subject"] == subject
    assert message.get_content().replace("\r\n", "\n").strip() == body.strip()


def test_a_sign_up_link_makes_one_account_for_its_address_only(
    app: Starlette, client: TestClient, db: Database
) -> None:
    ((answer, _),) = sign_up_answers(client, ["new@example.com"]).values()
    assert answer.status_code == 200
    path = mailed_path(db, "new@example.com", "/signup/")
    for forged in (path[:-3] + ("abc" if not path.endswith("abc") else "xyz"), "/signup/x"):
        assert client.get(forged).status_code == 400
        response = client.post(
            forged,
            data={"name": "Mallory", "password": PASSWORD, "csrf_token": csrf_of(client)},
            follow_redirects=False,
        )
        assert response.status_code == 400
    with db.reading() as session:
        assert accounts.find_by_email(session, "new@example.com") is None

    # In another browser (the mail opened on a phone, say): signed in there.
    with TestClient(app) as phone:
        made = phone.post(
            path,
            data={"name": "New", "password": PASSWORD, "csrf_token": csrf_of(phone)},
            follow_redirects=False,
        )
        assert made.status_code == 303
        assert is_signed_in(app, phone.cookies[SESSION_COOKIE])
    assert signin_post(client, "new@example.com", PASSWORD).status_code == 303


def test_forgot_answers_the_same_for_known_and_unknown_emails(
    client: TestClient, make_user: MakeUser, db: Database
) -> None:
    make_user(email="someone@example.com")
    token = csrf_of(client, "/forgot")
    answers = {
        email: client.post("/forgot", data={"email": email, "csrf_token": token})
        for email in ("someone@example.com", "nobody@example.com")
    }
    assert {response.status_code for response in answers.values()} == {200}
    assert len({response.text.replace(email, "EMAIL") for email, response in answers.items()}) == 1

    jobs = mail_jobs(db)
    assert [job.payload["to"] for job in jobs] == ["someone@example.com"]
    assert "/reset/" in jobs[0].payload["body"]


def test_password_reset_link_works_once(
    app: Starlette, client: TestClient, make_user: MakeUser, db: Database
) -> None:
    user = make_user(email="someone@example.com")
    with TestClient(app) as other_browser:
        sign_in(other_browser, user.email)
        other_cookie = other_browser.cookies[SESSION_COOKIE]

    client.post("/forgot", data={"email": user.email, "csrf_token": csrf_of(client, "/forgot")})
    (job,) = mail_jobs(db)
    link = re.search(r"https?://\S+/reset/\S+", job.payload["body"])
    assert link
    path = urlsplit(link.group(0)).path

    assert client.get(path).status_code == 200
    changed = client.post(
        path,
        data={"password": "a brand new password", "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert is_signed_in(app, client.cookies[SESSION_COOKIE])
    assert not is_signed_in(app, other_cookie)  # a reset ends every other session

    assert client.get(path).status_code == 400
    again = client.post(
        path,
        data={"password": "an attacker's password", "csrf_token": csrf_of(client, "/")},
        follow_redirects=False,
    )
    assert again.status_code == 400
    tampered = client.get(path[:-3] + ("abc" if not path.endswith("abc") else "xyz"))
    assert tampered.status_code == 400

    with TestClient(app) as fresh:
        assert signin_post(fresh, user.email, "an attacker's password").status_code == 400
        assert signin_post(fresh, user.email, PASSWORD).status_code == 400
        assert signin_post(fresh, user.email, "a brand new password").status_code == 303


# Open redirects ----------------------------------------------------------------------------------


def host_a_browser_goes_to(location: str) -> str:
    # Browsers drop tabs and newlines, strip leading spaces and controls, and read "\" as "/".
    cleaned = re.sub(r"[\t\n\r]", "", location).lstrip("".join(map(chr, range(0x21))))
    return urlsplit(urljoin("http://testserver/here", cleaned.replace("\\", "/"))).netloc


EVIL_TARGETS = [
    "https://evil.example",
    "https://evil.example/signin?next=/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "http://testserver@evil.example",
]


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_sign_in_never_redirects_to_another_site(
    client: TestClient, make_user: MakeUser, target: str
) -> None:
    user = make_user()
    response = signin_post(client, user.email, PASSWORD, next=target)
    assert response.status_code == 303
    location = response.headers["location"]
    assert host_a_browser_goes_to(location) == "testserver", location
    if target.startswith(("https://", "//", "javascript:")):
        assert location == "/"


def test_sign_in_goes_back_to_a_local_page(client: TestClient, make_user: MakeUser) -> None:
    user = make_user()
    response = signin_post(client, user.email, PASSWORD, next="/ideas/new?board=main")
    assert response.headers["location"] == "/ideas/new?board=main"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_language_and_sign_up_never_redirect_to_another_site(
    client: TestClient, db: Database, target: str
) -> None:
    token = csrf_of(client)
    language = client.post(
        "/language",
        data={"locale": "it", "next": target, "csrf_token": token},
        follow_redirects=False,
    )
    assert host_a_browser_goes_to(language.headers["location"]) == "testserver"
    asked = client.post(
        "/signup",
        data={"email": "new@example.com", "next": target, "csrf_token": token},
        follow_redirects=False,
    )
    assert asked.status_code == 200
    signup = client.post(
        mailed_path(db, "new@example.com", "/signup/"),
        data={"name": "New", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signup.status_code == 303
    assert host_a_browser_goes_to(signup.headers["location"]) == "testserver"


# Rate limits -----------------------------------------------------------------------------------


FOREVER = 10**9  # one window for the whole test: no window boundary to straddle


def test_sign_in_limit_is_per_client_and_shared_by_web_processes(
    settings: Settings, db: Database, make_user
) -> None:
    limited = replace(settings, rate_limits={"signin": (3, FOREVER)})
    user = make_user()
    one, two = create_app(limited, db), create_app(limited, db)  # two web processes, one database
    with TestClient(one) as first, TestClient(two) as second:
        for client in (first, second, first):
            assert signin_post(client, user.email, "a wrong password").status_code == 400
        refused = signin_post(second, user.email, PASSWORD)
        assert refused.status_code == 429
        assert "Too many requests. Please wait a moment and try again." in refused.text
        assert_security_headers(refused)
        assert signin_post(first, user.email, PASSWORD).status_code == 429

    with TestClient(two, client=("203.0.113.7", 40000)) as elsewhere:
        assert signin_post(elsewhere, user.email, PASSWORD).status_code == 303


def test_api_limit_answers_429_in_json(
    settings: Settings, db: Database, make_user: MakeUser, make_board: MakeBoard
) -> None:
    app = create_app(replace(settings, rate_limits={"submit": (1, FOREVER)}), db)
    user, board = make_user(), make_board()
    with db.transaction() as session:
        token = accounts.create_api_token(session, user)
    body = {"board": board.slug, "title": "Dark mode for the dashboard", "description": ""}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/ideas", json=body, headers=headers).status_code == 201
        refused = client.post("/api/v1/ideas", json=body, headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"].startswith("Too many requests")


# Script in user text ----------------------------------------------------------------------------


HOSTILE_MARKDOWN = """Hello **world**, see [the docs](https://example.com/docs).

<script>alert(1)</script>

[click me](javascript:alert(2)) and [again](JaVaScRiPt:alert(3)) and <javascript:alert(4)>

[entity](&#106;avascript:alert(5)) [spaced]( javascript:alert(6))
[data](data:text/html;base64,PHNjcmlwdD4=)

<a href="javascript:alert(7)" onclick="alert(8)">raw link</a> <img src=x onerror=alert(9)>

<div onmouseover="alert(10)">hover</div> ![image](javascript:alert(11))

<svg onload=alert(12)></svg> <iframe src="javascript:alert(13)"></iframe>
"""


def test_markdown_keeps_no_script_links_or_handlers(
    member_client: TestClient, make_board: MakeBoard, make_user: MakeUser
) -> None:
    board = make_board()
    token = csrf_of(member_client, "/")
    created = member_client.post(
        "/ideas",
        data={
            "board": board.slug,
            "title": "An idea with hostile text",
            "description": HOSTILE_MARKDOWN,
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    idea_path = created.headers["location"]
    commented = member_client.post(
        f"{idea_path}/comments",
        data={"body": HOSTILE_MARKDOWN, "csrf_token": token},
        follow_redirects=False,
    )
    assert commented.status_code == 303

    page = member_client.get(idea_path)
    assert page.status_code == 200
    assert_no_active_content(page.text)
    assert page.text.count("<strong>world</strong>") == 2  # Markdown is still rendered
    assert 'href="https://example.com/docs"' in page.text


def test_titles_and_names_are_escaped_everywhere_they_are_shown(
    app: Starlette, client: TestClient, make_user: MakeUser, make_board: MakeBoard, db: Database
) -> None:
    author = make_user(name=XSS)
    commenter = make_user(name="Eve " + XSS)
    staff = make_user(role="admin", name="Staff " + XSS)
    board = make_board(name="Board " + XSS)
    sign_in(client, author.email)
    token = csrf_of(client, "/")
    created = client.post(
        "/ideas",
        data={"board": board.slug, "title": XSS, "description": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    idea_path = created.headers["location"]
    with TestClient(app) as other:
        sign_in(other, commenter.email)
        other.post(
            f"{idea_path}/comments", data={"body": "Me too", "csrf_token": csrf_of(other, "/")}
        )
    with TestClient(app) as team:
        sign_in(team, staff.email)
        team.post(
            f"{idea_path}/status",
            data={"status": "planned", "note": XSS, "csrf_token": csrf_of(team, "/")},
        )
        for path in ("/staff/moderation", "/admin/users", "/admin/boards"):
            page = team.get(path)
            assert page.status_code == 200
            assert_no_active_content(page.text)

    must_show_title = ["/", f"/b/{board.slug}", idea_path, "/notifications", f"{idea_path}/edit"]
    for path in must_show_title + [f"/?q={XSS}", "/ideas/new"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert_no_active_content(page.text)
        assert "<img" not in page.text, path
        if path in must_show_title:
            assert XSS_ESCAPED in page.text, f"the title is not shown on {path}"
    assert client.get("/api/v1/ideas").json()["items"][0]["title"] == XSS  # JSON keeps the text


def test_static_files_are_served_from_the_static_folder_only(client: TestClient) -> None:
    for path in [
        "/static/../web/app.py",
        "/static/%2e%2e/web/app.py",
        "/static/..%2fpyproject.toml",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
    assert Path(STATIC).is_dir()


def test_a_database_that_is_away_gives_clean_503s_before_the_views_too(
    settings: Settings, tmp_path: Path
) -> None:
    """Who is asking is looked up (in AuthMiddleware) before any view runs: a database that is
    away must give the same 503 there as in the views, not a 500."""
    away = Database(f"sqlite:///{tmp_path / 'no-such-folder' / 'ideas.db'}")
    app = create_app(replace(settings, database_url=away.url), away)
    client = TestClient(app)  # no lifespan: nothing to warm from a database that is away
    token = {"Authorization": "Bearer ip_some-token"}
    answer = client.get("/api/v1/ideas", headers=token)
    assert answer.status_code == 503
    assert "unavailable" in answer.json()["error"]
    page = client.get("/", headers=token)
    assert page.status_code == 503
    assert "unavailable" in page.text and "</html>" in page.text
    away.dispose()


def test_no_free_database_connection_gives_a_503_not_a_500(
    settings: Settings, database_url: str, db: Database
) -> None:
    """A request that waits in vain for a connection of the pool (all busy) is told to come
    back, as when the database is away: in the views and before them."""
    one = Database(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(settings, one)
    client = TestClient(app)
    with one.engine.connect():  # the pool's only connection, busy
        page = client.get("/")
        answer = client.get("/api/v1/ideas", headers={"Authorization": "Bearer ip_some-token"})
    assert page.status_code == 503 and "</html>" in page.text
    assert answer.status_code == 503 and "error" in answer.json()
    one.dispose()
