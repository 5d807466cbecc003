"""Request guards: body size, CSRF, security headers, who is asking, and rate limits."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from anyio import to_thread
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ideas import accounts, notifications, ratelimits
from ideas.db import Database
from ideas.errors import N_, DomainError
from ideas.i18n import negotiate, supported
from ideas.models import User
from ideas.settings import Settings

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# POSTs that need no session and so no CSRF token: the signed token in the path is the proof,
# and all it can do is stop someone's emails. (A mail program's one-click unsubscribe, RFC 8058,
# comes without cookies.)
CSRF_EXEMPT = ("/unsubscribe/",)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class RequestRefused(DomainError):
    """Raised by a guard; `status` says which response it becomes."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, made on first use."""
    token = conn.session.get("csrf")
    if not token:
        token = conn.session["csrf"] = new_csrf_token()
    return str(token)


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class GuardMiddleware:
    """Refuses oversized bodies (413) and state changes without the session's CSRF token (403),
    and adds security headers to every response. Runs inside the session middleware."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        on_refuse: Callable[[Request, RequestRefused], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.on_refuse = on_refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        if scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send_with_headers)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, send_with_headers, 413, N_("The request is too large."))
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._refuse(scope, send_with_headers, 413, N_("The request is too large."))
                return
        if not self._csrf_ok(scope, headers, body):
            message_text = N_("The form has expired. Reload the page and try again.")
            await self._refuse(scope, send_with_headers, 403, message_text)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)

    @staticmethod
    def _csrf_ok(scope: Scope, headers: Headers, body: bytes) -> bool:
        conn = HTTPConnection(scope)
        if bearer_token(conn):
            return True  # a token, not a cookie, authenticates this request: nothing to forge
        if scope["path"].startswith(CSRF_EXEMPT):
            return True
        if scope["path"].startswith("/api/") and not conn.session.get("sid"):
            return True  # no signed-in session to ride on; the API answers 401 itself
        expected = conn.session.get("csrf")
        if not expected:
            return False
        given = headers.get(CSRF_HEADER)
        if given is None and headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
            given = values[0] if values else None
        return given is not None and hmac.compare_digest(given.encode(), str(expected).encode())

    async def _refuse(self, scope: Scope, send: Send, status: int, text: str) -> None:
        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        request = Request(scope, no_body)
        response = await self.on_refuse(request, RequestRefused(status, text))
        await response(scope, no_body, send)


class AuthMiddleware:
    """Finds who is asking (API token or session) and which language they read, once per
    request: `request.state.user`, `.locale` and, for pages, `.unread`. When the database is
    away it answers with `on_unavailable` (a 503), as the views do: errors raised here, outside
    the routes, would otherwise be 500s."""

    def __init__(
        self,
        app: ASGIApp,
        db: Database,
        settings: Settings,
        on_unavailable: Callable[[Request, Exception], Awaitable[Response]],
    ) -> None:
        self.app = app
        self.db = db
        self.settings = settings
        self.on_unavailable = on_unavailable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        try:
            user, unread = await to_thread.run_sync(self._load, conn)
        except (OperationalError, PoolTimeout) as error:
            response = await self.on_unavailable(Request(scope, receive), error)
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["user"] = user
        state["unread"] = unread
        state["locale"] = (
            supported(conn.query_params.get("lang"))
            or supported(conn.session.get("locale"))
            or supported(user.locale if user else None)
            or negotiate(conn.headers.get("accept-language"), self.settings.default_locale)
        )
        await self.app(scope, receive, send)

    def _load(self, conn: HTTPConnection) -> tuple[User | None, int]:
        token = bearer_token(conn)
        sid = conn.session.get("sid")
        if not token and not sid:
            return None, 0
        with self.db.reading() as session:
            if token:
                return accounts.user_for_api_token(session, token), 0
            user = accounts.user_for_session(session, str(sid))
            wants_page = not conn.url.path.startswith("/api/")
            unread = notifications.unread_count(session, user) if user and wants_page else 0
            return user, unread


def limit(request: Request, action: str) -> None:
    """Counts this request against the action's limit; 429 when over it."""
    settings: Settings = request.app.state.settings
    if not settings.rate_limits or action not in settings.rate_limits:
        return
    allowed, window = settings.rate_limits[action]
    user: User | None = request.state.user
    who = f"user:{user.id}" if user else f"ip:{request.client.host if request.client else '-'}"
    if not ratelimits.hit(request.app.state.db, f"{action}:{who}", allowed, window):
        raise RequestRefused(429, N_("Too many requests. Please wait a moment and try again."))
