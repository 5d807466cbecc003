"""Idea pages: lists by board, an idea with its comments, submitting and editing, voting,
following and commenting."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ideas import boards, comments, duplicates, embeddings, follows, merges, votes
from ideas import ideas as idea_rules
from ideas.errors import N_, Conflict, ValidationError
from ideas.ideas import SORTS, STATUSES
from ideas.models import Idea, User
from web import security
from web.forms import page_number, text, whole_number, with_form
from web.views.common import db, flash, is_htmx, pages, signed_in


def _listing(request: Request, board_slug: str | None) -> Response:
    params = request.query_params
    sort = params.get("sort", "")
    sort = sort if sort in SORTS else "trending"
    status = params.get("status") if params.get("status") in STATUSES else None
    q = params.get("q", "")[:200]
    user = request.state.user
    with db(request).reading() as session:
        all_boards = boards.all_boards(session)
        board = boards.get_by_slug(session, board_slug) if board_slug else None
        page = idea_rules.listing(session, user, board, status, sort, q, page_number(request))
        voted = idea_rules.ids_voted_by(session, user, [idea.id for idea in page.items])
        remaining = votes.remaining(session, user, board) if board else None
    return pages(request).render(
        request,
        "ideas/index.html",
        {
            "boards": all_boards,
            "board": board,
            "page": page,
            "voted": voted,
            "remaining": remaining,
            "sort": sort,
            "status": status,
            "q": q,
        },
    )


def home(request: Request) -> Response:
    return _listing(request, None)


def board_page(request: Request) -> Response:
    return _listing(request, request.path_params["slug"])


def _idea_context(session: Session, idea: Idea, user: User | None) -> dict[str, Any]:
    return {
        "idea": idea,
        "history": idea_rules.status_history(session, idea),
        "threads": comments.threads(session, idea, user),
        "voted": votes.has_voted(session, user, idea),
        "remaining": votes.remaining(session, user, idea.board),
        "following": follows.is_following(session, user, idea.id),
        "followers": follows.followers(session, idea.id),
        "merged_into": merges.surviving(session, idea) if idea.merged_into_id else None,
        "merged_titles": {merged.id: merged.title for merged in merges.merged_into(session, idea)},
        "comment_form": {},
        "errors": {},
    }


def show(request: Request) -> Response:
    user = request.state.user
    with db(request).reading() as session:
        idea = idea_rules.get(session, request.path_params["id"], user)
        context = _idea_context(session, idea, user)
    if user is not None and user.id == idea.author_id and idea.merged_into_id is None:
        # "Mine is the same as this": the author is offered the closest ideas in one click.
        context["close_ideas"] = request.app.state.similar.neighbours_of(idea.id, limit=3)
    return pages(request).render(request, "ideas/show.html", context)


def new_form(request: Request) -> Response:
    signed_in(request)
    with db(request).reading() as session:
        all_boards = boards.all_boards(session)
    chosen = request.query_params.get("board") or (all_boards[0].slug if all_boards else "")
    return pages(request).render(
        request,
        "ideas/form.html",
        {"boards": all_boards, "form": {"board": chosen}, "errors": {}, "idea": None},
    )


@with_form
def create(request: Request, form: dict[str, str]) -> Response:
    user = signed_in(request)
    security.limit(request, "submit")
    embedder = request.app.state.embedder  # embedding is CPU work: before the transaction
    vector = embeddings.vector_of(embedder, text(form, "title"), text(form, "description"))
    try:
        with db(request).transaction() as session:
            board = boards.get_by_slug(session, text(form, "board"))
            idea = idea_rules.submit(
                session, user, board, text(form, "title"), text(form, "description")
            )
            embeddings.save(session, embedder.name, [idea.id], vector)
    except ValidationError as error:
        with db(request).reading() as session:
            all_boards = boards.all_boards(session)
        return pages(request).render(
            request,
            "ideas/form.html",
            {"boards": all_boards, "form": form, "errors": error.fields, "idea": None},
            status_code=400,
        )
    duplicates.queue_close_ideas(db(request), request.app.state.similar, idea.id)
    flash(request, N_("Thanks! Your idea is posted and your vote is counted."))
    return RedirectResponse(request.url_for("idea", id=idea.id).path, 303)


def edit_form(request: Request) -> Response:
    user = signed_in(request)
    with db(request).reading() as session:
        idea = idea_rules.get(session, request.path_params["id"], user)
        idea_rules.ensure_can_edit(user, idea)
    form = {"title": idea.title, "description": idea.description}
    return pages(request).render(
        request, "ideas/form.html", {"idea": idea, "form": form, "errors": {}, "boards": []}
    )


@with_form
def update(request: Request, form: dict[str, str]) -> Response:
    user = signed_in(request)
    embedder = request.app.state.embedder
    vector = embeddings.vector_of(embedder, text(form, "title"), text(form, "description"))
    try:
        with db(request).transaction() as session:
            idea = idea_rules.get(session, request.path_params["id"], user)
            idea_rules.edit(session, user, idea, text(form, "title"), text(form, "description"))
            embeddings.save(session, embedder.name, [idea.id], vector)
    except ValidationError as error:
        with db(request).reading() as session:
            idea = idea_rules.get(session, request.path_params["id"], user)
        return pages(request).render(
            request,
            "ideas/form.html",
            {"idea": idea, "form": form, "errors": error.fields, "boards": []},
            status_code=400,
        )
    duplicates.queue_close_ideas(db(request), request.app.state.similar, idea.id)
    flash(request, N_("Your changes are saved."))
    return RedirectResponse(request.url_for("idea", id=idea.id).path, 303)


def _vote(request: Request, cast: bool) -> Response:
    user = signed_in(request)
    security.limit(request, "vote")
    try:
        with db(request).transaction() as session:
            idea = idea_rules.get(session, request.path_params["id"], user)
            state = votes.vote(session, user, idea) if cast else votes.unvote(session, user, idea)
    except Conflict as refusal:  # no votes left on the board
        if not is_htmx(request):
            raise  # the error page says why
        with db(request).reading() as session:
            idea = idea_rules.get(session, request.path_params["id"], user)
            voted = votes.has_voted(session, user, idea)
            state = votes.VoteState(
                idea.vote_count, voted, votes.remaining(session, user, idea.board)
            )
        context = {"idea": idea, "state": state, "voted": voted, "refusal": refusal.message}
        return pages(request).render(request, "ideas/_vote.html", context, status_code=409)
    if is_htmx(request):
        return pages(request).render(
            request, "ideas/_vote.html", {"idea": idea, "state": state, "voted": state.voted}
        )
    return RedirectResponse(request.url_for("idea", id=idea.id).path, 303)


@with_form
def vote(request: Request, form: dict[str, str]) -> Response:
    return _vote(request, cast=True)


@with_form
def unvote(request: Request, form: dict[str, str]) -> Response:
    return _vote(request, cast=False)


def _follow(request: Request, on: bool) -> Response:
    user = signed_in(request)
    with db(request).transaction() as session:
        idea = idea_rules.get(session, request.path_params["id"], user)
        if on:
            follows.follow(session, user, idea.id)
        else:
            follows.unfollow(session, user, idea.id)
    flash(request, N_("You follow this idea.") if on else N_("You no longer follow this idea."))
    return RedirectResponse(request.url_for("idea", id=idea.id).path, 303)


@with_form
def follow(request: Request, form: dict[str, str]) -> Response:
    return _follow(request, on=True)


@with_form
def unfollow(request: Request, form: dict[str, str]) -> Response:
    return _follow(request, on=False)


@with_form
def comment(request: Request, form: dict[str, str]) -> Response:
    user = signed_in(request)
    security.limit(request, "comment")
    parent = form.get("parent_id", "")
    try:
        with db(request).transaction() as session:
            idea = idea_rules.get(session, request.path_params["id"], user)
            added = comments.add(session, user, idea, text(form, "body"), whole_number(parent))
    except ValidationError as error:
        with db(request).reading() as session:
            idea = idea_rules.get(session, request.path_params["id"], user)
            context = _idea_context(session, idea, user)
        context.update(comment_form=form, errors=error.fields)
        return pages(request).render(request, "ideas/show.html", context, status_code=400)
    url = request.url_for("idea", id=idea.id).path
    return RedirectResponse(f"{url}#comment-{added.id}", 303)
