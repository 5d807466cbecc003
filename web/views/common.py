"""Small helpers shared by the page views."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from ideas.db import Database
from ideas.errors import N_, Forbidden
from ideas.models import User
from web.templating import Pages


def db(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def pages(request: Request) -> Pages:
    rendered: Pages = request.app.state.pages
    return rendered


def signed_in(request: Request) -> User:
    user: User | None = request.state.user
    if user is None:
        raise Forbidden(N_("Sign in first."))
    return user


def staff(request: Request) -> User:
    user = signed_in(request)
    if not user.is_staff:
        raise Forbidden()
    return user


def admin(request: Request) -> User:
    user = signed_in(request)
    if not user.is_admin:
        raise Forbidden()
    return user


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; never another site."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def flash(request: Request, text: str) -> None:
    request.session.setdefault("flash", []).append(text)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
