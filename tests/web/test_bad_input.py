"""Bad input never gives a 500: random, odd, very long and wrongly typed values in forms, JSON
bodies, path parameters and query parameters get a 2xx/3xx or a 4xx with a message."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from ideas import accounts, boards, comments, ideas
from ideas.db import Database
from tests.conftest import PASSWORD, csrf_of, mailed_path, sign_in

ERROR_STATUSES = {400, 401, 403, 404, 409, 413, 422, 429}
HTML_MESSAGE = re.compile(r'class="(field-error|notice notice-error|lead)"')

bounded = hypothesis_settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values that have broken web apps before: NUL and control characters, digits that str.isdigit()
# accepts but int() does not, numbers past 64 bits, past int()'s digit limit, markup, and so on.
ODD = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x7f\x1b[31m",
    "²",
    "①",
    "١٢٣",
    "-1",
    "0",
    "+1",
    "1e309",
    "NaN",
    "null",
    "[]",
    "{}",
    "true",
    "9" * 30,
    "9" * 5000,
    "%00",
    "%ff",
    "\ufeff",
    "\u202e",
    "\U0001f600",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "a@b",
    "@",
    "x@y.z",
]
LONG = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["a", "é", "\U0001f600", "\x00", " ", "<", "%", "9", "ab cd "]),
    st.integers(0, 20_000),
)
TEXT = st.one_of(st.text(max_size=200), LONG, st.sampled_from(ODD), st.integers().map(str))
QUERY_TEXT = st.one_of(  # shorter: a URL has to stay under the client's length limit
    st.text(max_size=200),
    st.sampled_from(ODD),
    st.builds(
        lambda piece, n: piece * n,
        st.sampled_from(["a", "é", "\x00", "%", "9"]),
        st.integers(0, 1000),
    ),
)
FORM_VALUE = st.one_of(TEXT, st.lists(TEXT, min_size=2, max_size=3))  # a list: the field repeated

JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=50)
    | st.sampled_from(ODD),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def form(*fields: str) -> Any:
    return st.fixed_dictionaries({}, optional={field: FORM_VALUE for field in fields})


def assert_handled(response: Any) -> None:
    status = response.status_code
    assert status < 500, (status, response.request.url, response.text[:500])
    if status < 400:
        return
    assert status in ERROR_STATUSES, (status, response.text[:500])
    if response.headers.get("content-type", "").startswith("application/json"):
        error = response.json().get("error")
        assert isinstance(error, str) and error.strip(), response.text[:500]
    else:
        assert HTML_MESSAGE.search(response.text), response.text[:500]


@functools.cache
def password_hash() -> str:
    return accounts.hash_password(PASSWORD)  # once: hashing is slow on purpose


class Setup:
    """A board, an idea with a comment, API tokens, and clients signed in on first use."""

    def __init__(self, app: Starlette, db: Database, stack: contextlib.ExitStack) -> None:
        self.app, self.db, self._stack = app, db, stack
        with db.transaction() as session:
            self.users = {}
            for role in ("member", "staff", "admin"):
                user = accounts.create_user(
                    session, f"{role}@example.com", role.title(), None, role
                )
                user.password_hash = password_hash()
                self.users[role] = user
            board = boards.create_board(session, None, "Main", "", None)
            idea = ideas.submit(session, self.users["member"], board, "A first idea here", "")
            comment = comments.add(session, self.users["staff"], idea, "A first comment")
            self.member_token = accounts.create_api_token(session, self.users["member"])
            self.staff_token = accounts.create_api_token(session, self.users["staff"])
        self.board_slug, self.idea_id, self.comment_id = board.slug, idea.id, comment.id
        with db.transaction() as session:
            accounts.request_sign_up(
                session, "new@example.com", app.state.secret_key, "http://testserver", "en"
            )
        self.signup_path = mailed_path(db, "new@example.com", "/signup/")
        self.anonymous = self._client()

    def _client(self) -> TestClient:
        return self._stack.enter_context(TestClient(self.app))

    def _signed_in(self, role: str) -> TestClient:
        client = self._client()
        sign_in(client, self.users[role].email)
        return client

    @functools.cached_property
    def member(self) -> TestClient:
        return self._signed_in("member")

    @functools.cached_property
    def staff(self) -> TestClient:
        return self._signed_in("staff")

    @functools.cached_property
    def admin(self) -> TestClient:
        return self._signed_in("admin")


@pytest.fixture
def setup(app: Starlette, db: Database) -> Iterator[Setup]:
    with contextlib.ExitStack() as stack:
        yield Setup(app, db, stack)


def post_form(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    """Posts the form with the session's current CSRF token (signing up or in changes it), and
    follows a redirect: the next page shows what the post left (flash messages) and must work."""
    response = client.post(
        path, data={**data, "csrf_token": csrf_of(client, "/")}, follow_redirects=False
    )
    if response.status_code == 303:
        assert_handled(client.get(response.headers["location"], follow_redirects=False))
    return response


# Forms -----------------------------------------------------------------------------------------


@bounded
@given(data=form("email", "name", "password", "next"))
@example(data={"email": "new@example.com", "name": "New", "password": PASSWORD, "next": "\x00"})
@example(data={"email": "x@example.com\x00", "name": "\x00", "password": "\x00" * 10})
def test_signup_form(setup: Setup, data: dict[str, Any]) -> None:
    setup.anonymous.cookies.clear()
    assert_handled(post_form(setup.anonymous, "/signup", data))


@bounded
@given(data=form("name", "password"))
@example(data={"name": "New", "password": PASSWORD})
@example(data={"name": "\x00", "password": "\x00" * 10})
def test_signup_finish_form(setup: Setup, data: dict[str, Any]) -> None:
    setup.anonymous.cookies.clear()
    assert_handled(post_form(setup.anonymous, setup.signup_path, data))


@bounded
@given(data=form("email", "password", "next"))
@example(data={"email": "\x00", "password": "\x00"})
@example(data={"email": "a" * 20_000, "password": "b" * 20_000})
def test_signin_form(setup: Setup, data: dict[str, Any]) -> None:
    setup.anonymous.cookies.clear()
    assert_handled(post_form(setup.anonymous, "/signin", data))


@bounded
@given(data=form("board", "title", "description"), real_board=st.booleans())
@example(data={"title": "A title with a NUL\x00 in it", "description": "\x00"}, real_board=True)
@example(data={"title": "A fine title", "description": "x" * 20_000}, real_board=True)
def test_create_idea_form(setup: Setup, data: dict[str, Any], real_board: bool) -> None:
    if real_board:
        data = {**data, "board": setup.board_slug}
    assert_handled(post_form(setup.member, "/ideas", data))


@bounded
@given(data=form("body", "parent_id"))
@example(data={"body": "A reply", "parent_id": "²"})
@example(data={"body": "A reply", "parent_id": "9" * 30})
@example(data={"body": "A reply", "parent_id": "9" * 5000})
@example(data={"body": "A reply\x00"})
def test_comment_form(setup: Setup, data: dict[str, Any]) -> None:
    assert_handled(post_form(setup.member, f"/ideas/{setup.idea_id}/comments", data))


def test_reply_to_a_comment_that_does_not_exist_says_so(setup: Setup) -> None:
    for parent_id in ["0", "999999", "x"]:
        response = post_form(
            setup.member, f"/ideas/{setup.idea_id}/comments", {"body": "", "parent_id": parent_id}
        )
        assert response.status_code == 400
        assert_handled(response)  # the page must say what is wrong, not only answer 400


@bounded
@given(data=form("status", "note"))
@example(data={"status": "planned", "note": "\x00"})
@example(data={"status": "planned", "note": "n" * 20_000})
def test_status_form(setup: Setup, data: dict[str, Any]) -> None:
    assert_handled(post_form(setup.staff, f"/ideas/{setup.idea_id}/status", data))


@bounded
@given(data=form("name", "description", "vote_budget"))
@example(data={"name": "A board", "vote_budget": "9" * 5000})
@example(data={"name": "A board", "vote_budget": "²"})
@example(data={"name": "Board\x00"})
def test_board_form(setup: Setup, data: dict[str, Any]) -> None:
    assert_handled(post_form(setup.admin, "/admin/boards", data))


def test_multipart_form_with_a_file_where_text_belongs(setup: Setup) -> None:
    response = setup.member.post(
        "/ideas",
        data={"board": setup.board_slug, "description": "Text"},
        files={"title": ("title.txt", b"\xff\xfe not text", "application/octet-stream")},
        headers={"X-CSRF-Token": csrf_of(setup.member, "/")},
        follow_redirects=False,
    )
    assert_handled(response)
    assert response.status_code == 400


def test_urlencoded_bodies_that_are_not_utf8(setup: Setup) -> None:
    for body in [
        b"title=%FF%FE&description=%C3%28&board=%80",  # not UTF-8 once decoded
        b"title=\xff\xfe\xfd&board=\x80",  # raw bytes that are not UTF-8
        b"&&&===&title",
        b"%%%%%",
        b"a=" + b"%00" * 500,
    ]:
        response = setup.member.post(
            "/ideas",
            content=body,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "X-CSRF-Token": csrf_of(setup.member, "/"),
            },
            follow_redirects=False,
        )
        assert_handled(response)


def test_malformed_multipart_body(setup: Setup) -> None:
    response = setup.member.post(
        "/ideas",
        content=b'--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nno end',
        headers={
            "content-type": "multipart/form-data; boundary=xyz",
            "X-CSRF-Token": csrf_of(setup.member, "/"),
        },
        follow_redirects=False,
    )
    assert_handled(response)


# JSON API --------------------------------------------------------------------------------------


def post_json(setup: Setup, path: str, body: bytes, token: str, method: str = "POST") -> Any:
    return setup.anonymous.request(
        method,
        path,
        content=body,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )


API_FIELDS = ("board", "title", "description", "body", "parent_id", "status", "note")
API_BODY = st.one_of(
    JSON_VALUE,
    st.fixed_dictionaries({}, optional={field: JSON_VALUE for field in API_FIELDS}),
)


@bounded
@given(body=API_BODY, real_board=st.booleans())
@example(body={"title": "A fine title", "description": "\x00"}, real_board=True)
@example(body={"title": "A fine title", "description": 12}, real_board=True)
@example(body={"title": "A lone \ud800 surrogate", "description": ""}, real_board=True)
def test_api_create_idea(setup: Setup, body: Any, real_board: bool) -> None:
    if real_board and isinstance(body, dict):
        body = {**body, "board": setup.board_slug}
    assert_handled(post_json(setup, "/api/v1/ideas", json.dumps(body).encode(), setup.member_token))


@bounded
@given(body=API_BODY)
@example(body={"body": "Reply", "parent_id": 2**63})
@example(body={"body": "Reply", "parent_id": 10**30})
@example(body={"body": "Reply", "parent_id": -1})
@example(body={"body": "Reply", "parent_id": True})
@example(body={"body": "Reply", "parent_id": 1.5})
@example(body={"body": "\udfff alone"})
def test_api_add_comment(setup: Setup, body: Any) -> None:
    path = f"/api/v1/ideas/{setup.idea_id}/comments"
    assert_handled(post_json(setup, path, json.dumps(body).encode(), setup.member_token))


@bounded
@given(body=API_BODY)
@example(body={"status": "planned", "note": "\x00"})
@example(body={"status": ["planned"]})
def test_api_set_status(setup: Setup, body: Any) -> None:
    path = f"/api/v1/ideas/{setup.idea_id}/status"
    assert_handled(post_json(setup, path, json.dumps(body).encode(), setup.staff_token))


@bounded
@given(body=st.binary(max_size=300), method=st.sampled_from(["POST", "DELETE"]))
@example(body=b"\xff\xfe{}", method="POST")
@example(body=b'{"title": "\xc3\x28"}', method="POST")
@example(body=b"[" * 100_000, method="POST")
@example(body=b'{"a":' * 50_000, method="DELETE")
@example(body=b"NaN", method="POST")
@example(body=b"\x00", method="POST")
def test_api_bodies_that_are_not_json(setup: Setup, body: bytes, method: str) -> None:
    for path, token in [
        ("/api/v1/ideas", setup.member_token),
        (f"/api/v1/ideas/{setup.idea_id}/vote", setup.member_token),
        (f"/api/v1/ideas/{setup.idea_id}/comments", setup.member_token),
        (f"/api/v1/ideas/{setup.idea_id}/status", setup.staff_token),
    ]:
        assert_handled(
            post_json(setup, path, body, token, method if path.endswith("/vote") else "POST")
        )


def test_api_body_that_is_not_an_object(setup: Setup) -> None:
    for body in [b"[]", b"null", b"1", b'"text"', b"true", b"[{}]"]:
        response = post_json(setup, "/api/v1/ideas", body, setup.member_token)
        assert response.status_code == 400, body
        assert response.json()["error"]


# Path parameters -------------------------------------------------------------------------------

BIG = ["999999999999", "9" * 19, "9" * 30, "9" * 5000, "0"]
NOT_NUMBERS = ["-1", "abc", "1.5", "%00", "%C3%A9", "1e3", "²", "0x10", " 1"]


def test_out_of_range_or_odd_ids_are_not_found(setup: Setup) -> None:
    member_csrf = csrf_of(setup.member, "/")
    staff_csrf = csrf_of(setup.staff, "/")
    admin_csrf = csrf_of(setup.admin, "/")
    for value in BIG + NOT_NUMBERS:
        requests = [
            (setup.anonymous, "GET", f"/ideas/{value}", None),
            (setup.anonymous, "GET", f"/api/v1/ideas/{value}", None),
            (setup.anonymous, "GET", f"/api/v1/ideas/{value}/comments", None),
            (setup.member, "GET", f"/ideas/{value}/edit", None),
            (setup.member, "POST", f"/ideas/{value}/vote", member_csrf),
            (setup.member, "POST", f"/ideas/{value}/comments", member_csrf),
            (setup.staff, "POST", f"/ideas/{value}/hide", staff_csrf),
            (setup.staff, "POST", f"/comments/{value}/hide", staff_csrf),
            (setup.staff, "POST", f"/users/{value}/block", staff_csrf),
            (setup.admin, "POST", f"/admin/users/{value}/role", admin_csrf),
        ]
        for client, method, path, csrf in requests:
            data = {"csrf_token": csrf, "body": "Hello", "role": "staff"} if csrf else None
            response = client.request(method, path, data=data, follow_redirects=False)
            assert_handled(response)
            assert response.status_code == 404, (path[:80], response.status_code)


def test_unknown_board_slugs_are_not_found(setup: Setup) -> None:
    for value in ["no-such-board", "%00", "%FF", "x" * 5000, "%2F"]:
        for client, path in [
            (setup.anonymous, f"/b/{value}"),
            (setup.admin, f"/admin/boards/{value}/edit"),
            (setup.anonymous, f"/api/v1/ideas?board={value}"),
        ]:
            response = client.get(path, follow_redirects=False)
            assert_handled(response)
            # PostgreSQL text cannot hold NUL: such a request may be refused as a bad one.
            assert response.status_code in ({404, 400} if value == "%00" else {404}), path[:80]


def test_bad_reset_tokens_are_refused(setup: Setup) -> None:
    for value in ["garbage", "%00", "a.b.c", "x" * 5000, "eyJ1IjoxfQ.abc.def"]:
        assert setup.anonymous.get(f"/reset/{value}").status_code == 400
        response = setup.anonymous.post(
            f"/reset/{value}",
            data={"password": "a new password", "csrf_token": csrf_of(setup.anonymous)},
            follow_redirects=False,
        )
        assert_handled(response)
        assert response.status_code == 400


# Query parameters ------------------------------------------------------------------------------


def has_nul(query: str) -> bool:
    return "%00" in query or "\x00" in query


ODD_QUERIES = [
    "page=abc",
    "page=-1",
    "page=0",
    "page=²",
    "page=9999999",
    "page=" + "9" * 30,
    "page=" + "9" * 5000,
    "page=1.5",
    "page=",
    "page=1&page=x",
    "sort=xxx",
    "status=xxx",
    "sort=",
    "status=",
    "q=" + "x" * 10_000,
    "q=%00",
    "q=%25%5F%5C",
    "q=%FF",
    "q=" + "a%20" * 500,
    "sort=top&status=planned&q=ab&page=2",
    "lang=xx",
    "lang=%00",
]


def test_odd_query_parameters_on_pages(setup: Setup) -> None:
    for query in ODD_QUERIES:
        for client, path in [
            (setup.anonymous, "/"),
            (setup.anonymous, f"/b/{setup.board_slug}"),
            (setup.member, "/notifications"),
            (setup.staff, "/staff/moderation"),
            (setup.staff, "/staff/audit"),
            (setup.admin, "/admin/users"),
        ]:
            response = client.get(f"{path}?{query}", follow_redirects=False)
            assert_handled(response)
            expected = {200, 400} if has_nul(query) else {200}
            assert response.status_code in expected, (path, query[:80])


def test_odd_query_parameters_on_the_api(setup: Setup) -> None:
    for query in ODD_QUERIES:
        response = setup.anonymous.get(f"/api/v1/ideas?{query}")
        assert_handled(response)
        if query in ("sort=xxx", "status=xxx", "sort="):  # the API says what it accepts
            assert response.status_code == 400
            assert response.json()["error"]
        else:
            expected = {200, 400} if has_nul(query) else {200}
            assert response.status_code in expected, (query[:80], response.text[:300])


@bounded
@given(
    params=st.fixed_dictionaries(
        {}, optional={name: QUERY_TEXT for name in ("page", "sort", "status", "q", "board", "lang")}
    )
)
def test_random_query_parameters(setup: Setup, params: dict[str, str]) -> None:
    for path in ("/", f"/b/{setup.board_slug}", "/api/v1/ideas"):
        response = setup.anonymous.get(path, params=params, follow_redirects=False)
        assert_handled(response)
        if not path.startswith("/api/"):
            nul = any("\x00" in value for value in params.values())
            assert response.status_code in ({200, 400} if nul else {200})
