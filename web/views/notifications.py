"""The signed-in person's notifications."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import notifications
from web.forms import page_number, with_form
from web.views.common import db, pages, signed_in


def index(request: Request) -> Response:
    user = signed_in(request)
    page = page_number(request)
    with db(request).reading() as session:
        items, total = notifications.for_user(session, user, page)
    return pages(request).render(
        request, "notifications/index.html", {"items": items, "total": total, "page": page}
    )


@with_form
def mark_read(request: Request, form: dict[str, str]) -> Response:
    user = signed_in(request)
    with db(request).transaction() as session:
        notifications.mark_all_read(session, user)
    return RedirectResponse(request.url_for("notifications").path, 303)
