"""Jinja2 pages in the reader's language, with the helpers every template uses."""

from __future__ import annotations

import functools
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime, format_timedelta
from babel.support import NullTranslations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Router

from ideas import duplicates
from ideas.errors import Message
from ideas.i18n import LOCALE_NAMES, translations
from ideas.ideas import STATUS_LABELS, STATUSES
from web import markdown
from web.security import csrf_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_current: ContextVar[NullTranslations] = ContextVar("translations")
_untranslated = NullTranslations()


def gettext(text: str) -> str:
    return _current.get(_untranslated).gettext(text)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current.get(_untranslated).ngettext(singular, plural, n)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["markdown"] = markdown.render
    env.filters["plain"] = markdown.plain
    env.globals.update(STATUSES=STATUSES, STATUS_LABELS=STATUS_LABELS, LOCALE_NAMES=LOCALE_NAMES)
    return env


def _pending_duplicates(request: Request) -> int:
    """For the team's menu; asked only when a page shows it (to the team). The error page for
    an unavailable database shows the menu too: then no count."""
    try:
        with request.app.state.db.reading() as session:
            return duplicates.pending_count(session)
    except SQLAlchemyError:
        return 0


class Pages:
    def __init__(self, router: Router) -> None:
        self.env = make_environment()
        self.router = router
        # A page asks for dozens of paths and each lookup scans the route table: remember them.
        self._cached_path = functools.lru_cache(maxsize=8192)(self._lookup_path)

    def path(self, route: str, **params: Any) -> str:
        return self._cached_path(route, tuple(sorted(params.items())))

    def _lookup_path(self, route: str, params: tuple[tuple[str, Any], ...]) -> str:
        return str(self.router.url_path_for(route, **dict(params)))

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        locale = getattr(request.state, "locale", "en")
        page = {
            "request": request,
            "user": getattr(request.state, "user", None),
            "unread": getattr(request.state, "unread", 0),
            "pending_duplicates": lambda: _pending_duplicates(request),
            "locale": locale,
            "csrf_token": csrf_token(request),
            "url": self.path,
            "when": lambda moment: _when(moment, locale),
            "date": lambda moment: format_datetime(moment, "medium", locale=locale),
            "message": lambda msg: msg.render(gettext) if isinstance(msg, Message) else msg,
            **(context or {}),
        }
        token = _current.set(translations(locale))
        try:
            html = self.env.get_template(name).render(page)
        finally:
            _current.reset(token)
        return HTMLResponse(html, status_code=status_code)


def _when(moment: datetime, locale: str) -> str:
    """'3 days ago', in the reader's language."""
    delta = moment - datetime.now(UTC)
    return format_timedelta(delta, add_direction=True, locale=locale)
