"""The team's tools: status changes, moderation, blocking, and the audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import accounts, audit, comments
from ideas import ideas as idea_rules
from ideas.errors import N_, ValidationError
from ideas.i18n import translations
from web.forms import page_number, text, with_form
from web.views.common import db, flash, pages, staff


def _to_idea(request: Request, idea_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(request.url_for("idea", id=idea_id).path + anchor, 303)


@with_form
def set_status(request: Request, form: dict[str, str]) -> Response:
    actor = staff(request)
    idea_id = request.path_params["id"]
    try:
        with db(request).transaction() as session:
            idea = idea_rules.get(session, idea_id, actor)
            idea_rules.set_status(session, actor, idea, text(form, "status"), text(form, "note"))
    except ValidationError as error:
        gettext = translations(request.state.locale).gettext
        for message in error.fields.values():
            # base.html translates a flash and %-formats it with no parameters: give it the
            # finished sentence ("At most %(n)d characters." would fail), its "%" doubled.
            flash(request, message.render(gettext).replace("%", "%%"))
        return _to_idea(request, idea_id, "#status")
    flash(request, N_("The status is updated and followers are notified."))
    return _to_idea(request, idea_id)


def _moderate_idea(request: Request, action: str) -> Response:
    actor = staff(request)
    idea_id = request.path_params["id"]
    with db(request).transaction() as session:
        idea = idea_rules.get(session, idea_id, actor)
        if action in ("hide", "restore"):
            idea_rules.set_hidden(session, actor, idea, action == "hide")
        else:
            idea_rules.set_comments_locked(session, actor, idea, action == "lock")
    return _to_idea(request, idea_id)


@with_form
def hide_idea(request: Request, form: dict[str, str]) -> Response:
    return _moderate_idea(request, "hide")


@with_form
def restore_idea(request: Request, form: dict[str, str]) -> Response:
    return _moderate_idea(request, "restore")


@with_form
def lock_comments(request: Request, form: dict[str, str]) -> Response:
    return _moderate_idea(request, "lock")


@with_form
def unlock_comments(request: Request, form: dict[str, str]) -> Response:
    return _moderate_idea(request, "unlock")


def _moderate_comment(request: Request, hidden: bool) -> Response:
    actor = staff(request)
    with db(request).transaction() as session:
        comment = comments.get(session, request.path_params["id"])
        comments.set_hidden(session, actor, comment, hidden)
    return _to_idea(request, comment.idea_id, f"#comment-{comment.id}")


@with_form
def hide_comment(request: Request, form: dict[str, str]) -> Response:
    return _moderate_comment(request, True)


@with_form
def restore_comment(request: Request, form: dict[str, str]) -> Response:
    return _moderate_comment(request, False)


def _block(request: Request, blocked: bool) -> Response:
    actor = staff(request)
    with db(request).transaction() as session:
        user = accounts.get_user(session, request.path_params["id"])
        accounts.set_blocked(session, actor, user, blocked)
    flash(request, N_("The account is blocked.") if blocked else N_("The account is unblocked."))
    return RedirectResponse(request.url_for("moderation").path, 303)


@with_form
def block_user(request: Request, form: dict[str, str]) -> Response:
    return _block(request, True)


@with_form
def unblock_user(request: Request, form: dict[str, str]) -> Response:
    return _block(request, False)


def moderation(request: Request) -> Response:
    staff(request)
    q = request.query_params.get("q", "")[:100]
    with db(request).reading() as session:
        hidden = idea_rules.hidden_ideas(session)
        users, total = accounts.list_users(session, q, page_number(request))
    return pages(request).render(
        request,
        "staff/moderation.html",
        {"hidden": hidden, "users": users, "total": total, "q": q, "page": page_number(request)},
    )


def audit_log(request: Request) -> Response:
    staff(request)
    page = page_number(request)
    with db(request).reading() as session:
        entries, total = audit.entries(session, page)
    return pages(request).render(
        request, "staff/audit.html", {"entries": entries, "total": total, "page": page}
    )
