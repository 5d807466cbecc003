"""Admin pages: boards, people's roles, and customers' segment and weight."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import accounts, boards
from ideas.accounts import ROLES
from ideas.errors import N_, ValidationError
from web.forms import page_number, text, whole_number, with_form
from web.views.common import admin, db, flash, pages


def board_list(
    request: Request, form: dict[str, str] | None = None, errors: dict | None = None
) -> Response:
    admin(request)
    with db(request).reading() as session:
        all_boards = boards.all_boards(session)
    return pages(request).render(
        request,
        "admin/boards.html",
        {"boards": all_boards, "form": form or {}, "errors": errors or {}},
        status_code=400 if errors else 200,
    )


@with_form
def board_create(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    try:
        with db(request).transaction() as session:
            boards.create_board(
                session,
                actor,
                text(form, "name"),
                text(form, "description"),
                text(form, "vote_budget"),
            )
    except ValidationError as error:
        return board_list(request, form, error.fields)
    flash(request, N_("The board is created."))
    return RedirectResponse(request.url_for("admin_boards").path, 303)


def board_edit_form(request: Request) -> Response:
    admin(request)
    with db(request).reading() as session:
        board = boards.get_by_slug(session, request.path_params["slug"])
    form = {
        "name": board.name,
        "description": board.description,
        "vote_budget": "" if board.vote_budget is None else str(board.vote_budget),
    }
    return pages(request).render(
        request, "admin/board_form.html", {"board": board, "form": form, "errors": {}}
    )


@with_form
def board_update(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    try:
        with db(request).transaction() as session:
            board = boards.get_by_slug(session, request.path_params["slug"])
            boards.update_board(
                session,
                actor,
                board,
                text(form, "name"),
                text(form, "description"),
                text(form, "vote_budget"),
            )
    except ValidationError as error:
        with db(request).reading() as session:  # the failed transaction expired `board`
            board = boards.get_by_slug(session, request.path_params["slug"])
        return pages(request).render(
            request,
            "admin/board_form.html",
            {"board": board, "form": form, "errors": error.fields},
            status_code=400,
        )
    flash(request, N_("The board is saved."))
    return RedirectResponse(request.url_for("admin_boards").path, 303)


def user_list(
    request: Request,
    invalid: tuple[int, dict[str, str], dict] | None = None,
    q: str | None = None,
    page: int | None = None,
) -> Response:
    """The people; `invalid` is a customer form that was refused: (person id, form, errors)."""
    admin(request)
    q = (request.query_params.get("q", "") if q is None else q)[:100]
    page = page or page_number(request)
    with db(request).reading() as session:
        users, total = accounts.list_users(session, q, page)
    invalid_id, form, errors = invalid or (0, {}, {})
    return pages(request).render(
        request,
        "admin/users.html",
        {
            "users": users,
            "total": total,
            "q": q,
            "page": page,
            "roles": ROLES,
            "invalid_id": invalid_id,
            "form": form,
            "errors": errors,
        },
        status_code=400 if errors else 200,
    )


@with_form
def user_customer(request: Request, form: dict[str, str]) -> Response:
    """Sets a member's segment and weight; back to the same page of the list."""
    actor = admin(request)
    person_id = request.path_params["id"]
    q, page = text(form, "q")[:100], whole_number(text(form, "page")) or 1
    try:
        with db(request).transaction() as session:
            person = accounts.get_user(session, person_id)
            accounts.set_customer(
                session, actor, person, text(form, "segment"), text(form, "weight")
            )
    except ValidationError as error:
        return user_list(request, (person_id, form, error.fields), q, page)
    flash(request, N_("The segment and weight are saved."))
    params = {"q": q, "page": page if page > 1 else ""}
    query = urlencode({key: value for key, value in params.items() if value})
    return RedirectResponse(f"{request.url_for('admin_users').path}?{query}".rstrip("?"), 303)


@with_form
def user_role(request: Request, form: dict[str, str]) -> Response:
    actor = admin(request)
    with db(request).transaction() as session:
        user = accounts.get_user(session, request.path_params["id"])
        accounts.set_role(session, actor, user, text(form, "role"))
    flash(request, N_("The role is saved."))
    return RedirectResponse(request.url_for("admin_users").path, 303)
