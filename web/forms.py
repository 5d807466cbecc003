"""Reading request bodies: endpoints read the body on the event loop, then do their database
work in a thread (views are plain functions)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ideas.errors import N_
from web.security import RequestRefused

FormView = Callable[[Request, dict[str, str]], Response]
JsonView = Callable[[Request, dict[str, Any]], Response]


def with_form(view: FormView) -> Callable[[Request], Any]:
    @functools.wraps(view)
    async def endpoint(request: Request) -> Response:
        async with request.form() as form:  # closes uploaded files' temporary files
            data = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        return await run_in_threadpool(view, request, data)

    return endpoint


def with_json(view: JsonView) -> Callable[[Request], Any]:
    @functools.wraps(view)
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            data = json.loads(body) if body.strip() else {}
            # "\ud800" is valid JSON but no character: text with a lone surrogate cannot be
            # encoded, embedded or stored (a 500 further on), so it is refused here.
            json.dumps(data, ensure_ascii=False).encode()
        except (ValueError, UnicodeError, RecursionError):  # deep nesting: RecursionError
            raise RequestRefused(400, N_("The body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise RequestRefused(400, N_("The body must be a JSON object."))
        return await run_in_threadpool(view, request, data)

    return endpoint


def text(data: dict[str, Any], name: str) -> str:
    """A text field of a form or JSON body; anything else counts as empty."""
    value = data.get(name)
    return value if isinstance(value, str) else ""


MAX_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses larger numbers for them


def whole_number(raw: str | None) -> int | None:
    """A whole number in ASCII digits, up to MAX_ID, else None. (str.isdigit alone accepts "²",
    which int() refuses, and int() refuses more than 4300 digits.)"""
    if raw and len(raw) <= 10 and raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID:
        return int(raw)
    return None


def page_number(request: Request) -> int:
    number = whole_number(request.query_params.get("page", "1"))
    return number if number is not None and 0 < number < 100_000 else 1
