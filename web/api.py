"""The JSON API under /api/v1: the same domain rules as the pages, as JSON.
Described by the OpenAPI document in web/openapi.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ideas import (
    boards,
    comments,
    duplicates,
    embeddings,
    merges,
    roadmap,
    themes,
    votes,
    weekly,
    weekly_render,
)
from ideas import ideas as idea_rules
from ideas.errors import N_, Errors
from ideas.ideas import SORTS, STATUSES
from ideas.models import Board, Comment, Idea, RoadmapItem, Theme
from web import openapi as spec
from web import security
from web.forms import MAX_ID, page_number, text, whole_number, with_json
from web.views.common import db, signed_in, staff


def board_json(board: Board) -> dict[str, Any]:
    return {
        "slug": board.slug,
        "name": board.name,
        "description": board.description,
        "vote_budget": board.vote_budget,
    }


def idea_json(request: Request, idea: Idea) -> dict[str, Any]:
    return {
        "id": idea.id,
        "title": idea.title,
        "description": idea.description,
        "status": idea.status,
        "votes": idea.vote_count,
        "comments": idea.comment_count,
        "board": idea.board.slug,
        "author": idea.author.name,
        "created_at": idea.created_at.isoformat(),
        "url": str(request.url_for("idea", id=idea.id)),
        "merged_into": idea.merged_into_id,
    }


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "body": comment.body,
        "author": comment.author.name,
        "parent_id": comment.parent_id,
        "created_at": comment.created_at.isoformat(),
    }


def openapi(request: Request) -> Response:
    return JSONResponse(spec.document(str(request.base_url).rstrip("/")))


def list_boards(request: Request) -> Response:
    with db(request).reading() as session:
        return JSONResponse([board_json(board) for board in boards.all_boards(session)])


def list_ideas(request: Request) -> Response:
    params = request.query_params
    errors = Errors()
    sort = params.get("sort", "trending")
    if sort not in SORTS:
        errors.add("sort", N_("One of: %(values)s."), values=", ".join(SORTS))
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        errors.add("status", N_("One of: %(values)s."), values=", ".join(STATUSES))
    errors.raise_if_any()
    with db(request).reading() as session:
        board = boards.get_by_slug(session, params["board"]) if params.get("board") else None
        page = idea_rules.listing(
            session,
            request.state.user,
            board,
            status,
            sort,
            params.get("q", "")[:200],
            page_number(request),
        )
        items = [idea_json(request, idea) for idea in page.items]
    return JSONResponse(
        {"items": items, "total": page.total, "page": page.page, "pages": page.pages}
    )


@with_json
def create_idea(request: Request, data: dict[str, Any]) -> Response:
    user = signed_in(request)
    security.limit(request, "submit")
    embedder = request.app.state.embedder
    vector = embeddings.vector_of(embedder, text(data, "title"), text(data, "description"))
    with db(request).transaction() as session:
        board = _board_field(session, data)
        idea = idea_rules.submit(
            session, user, board, text(data, "title"), text(data, "description")
        )
        embeddings.save(session, embedder.name, [idea.id], vector)
        body = idea_json(request, idea)
    duplicates.queue_close_ideas(db(request), request.app.state.similar, idea.id)
    return JSONResponse(body, status_code=201, headers={"Location": body["url"]})


def _board_field(session: Session, data: dict[str, Any]) -> Board:
    slug = text(data, "board")
    board = boards.find_by_slug(session, slug) if slug else None
    if board is None:
        errors = Errors()
        errors.add(
            "board", N_("There is no such board.") if slug else N_("This field is required.")
        )
        errors.raise_if_any()
    assert board is not None
    return board


def get_idea(request: Request) -> Response:
    with db(request).reading() as session:
        idea = idea_rules.get(session, request.path_params["id"], request.state.user)
        return JSONResponse(idea_json(request, idea))


def _vote(request: Request, cast: bool) -> Response:
    user = signed_in(request)
    security.limit(request, "vote")
    with db(request).transaction() as session:
        idea = idea_rules.get(session, request.path_params["id"], user)
        state = votes.vote(session, user, idea) if cast else votes.unvote(session, user, idea)
    return JSONResponse({"votes": state.votes, "voted": state.voted, "remaining": state.remaining})


@with_json
def vote(request: Request, data: dict[str, Any]) -> Response:
    return _vote(request, cast=True)


@with_json
def unvote(request: Request, data: dict[str, Any]) -> Response:
    return _vote(request, cast=False)


def list_comments(request: Request) -> Response:
    user = request.state.user
    with db(request).reading() as session:
        idea = idea_rules.get(session, request.path_params["id"], user)
        items = []
        for thread in comments.threads(session, idea, user):
            entry = comment_json(thread.comment)
            entry["replies"] = [comment_json(reply) for reply in thread.replies]
            items.append(entry)
    return JSONResponse(items)


@with_json
def add_comment(request: Request, data: dict[str, Any]) -> Response:
    user = signed_in(request)
    security.limit(request, "comment")
    parent_id = data.get("parent_id")
    if parent_id is not None and (
        not isinstance(parent_id, int) or isinstance(parent_id, bool) or not 0 < parent_id <= MAX_ID
    ):
        errors = Errors()
        errors.add("parent_id", N_("The comment you reply to does not exist."))
        errors.raise_if_any()
    with db(request).transaction() as session:
        idea = idea_rules.get(session, request.path_params["id"], user)
        comment = comments.add(session, user, idea, text(data, "body"), parent_id)
        body = comment_json(comment)
    return JSONResponse(body, status_code=201)


@with_json
def set_status(request: Request, data: dict[str, Any]) -> Response:
    actor = staff(request)
    with db(request).transaction() as session:
        idea = idea_rules.get(session, request.path_params["id"], actor)
        idea_rules.set_status(session, actor, idea, text(data, "status"), text(data, "note"))
        body = idea_json(request, idea)
    return JSONResponse(body)


@with_json
def merge(request: Request, data: dict[str, Any]) -> Response:
    """Merges the idea into `into` (staff); answers with the surviving idea."""
    actor = staff(request)
    into = data.get("into")
    if not isinstance(into, int) or isinstance(into, bool) or not 0 < into <= MAX_ID:
        errors = Errors()
        errors.add("into", N_("Give the number of the idea to merge into."))
        errors.raise_if_any()
    assert isinstance(into, int)

    def work(session: Session) -> dict[str, Any]:
        source = idea_rules.get(session, request.path_params["id"], actor)
        target = idea_rules.get(session, into, actor)
        record = merges.merge(session, actor, source, target)
        return idea_json(request, idea_rules.get(session, record.target_id, actor))

    # Run again when PostgreSQL breaks a deadlock with a vote or another merge by ending it.
    return JSONResponse(db(request).run_transaction(work))


@with_json
def unmerge(request: Request, data: dict[str, Any]) -> Response:
    """Undoes the idea's merge (staff); answers with the restored idea."""
    actor = staff(request)

    def work(session: Session) -> dict[str, Any]:
        idea_id = request.path_params["id"]
        return idea_json(
            request, merges.unmerge(session, actor, idea_rules.get(session, idea_id, actor))
        )

    return JSONResponse(db(request).run_transaction(work))  # run again after a deadlock, as merge


def similar_ideas(request: Request) -> Response:
    """The ideas closest to the text `q`: merged and hidden ones never, closed ones too."""
    params = request.query_params
    q = params.get("q", "")[:300].strip()
    raw_limit = params.get("limit")
    limit = whole_number(raw_limit) if raw_limit else 5
    errors = Errors()
    if not q:
        errors.add("q", N_("Give the text to compare."))
    if limit is None or not 1 <= limit <= 20:
        errors.add("limit", N_("A whole number from %(min)d to %(max)d."), min=1, max=20)
    errors.raise_if_any()
    assert limit is not None
    with db(request).reading() as session:
        board = boards.get_by_slug(session, params["board"]) if params.get("board") else None
    found = request.app.state.similar.similar(q, board.id if board else None, limit)
    return JSONResponse(
        [
            {
                "id": match.idea.id,
                "title": match.idea.title,
                "status": match.idea.status,
                "votes": match.idea.vote_count,
                "score": round(match.score, 4),
                "url": str(request.url_for("idea", id=match.idea.id)),
            }
            for match in found
        ]
    )


# Themes ---------------------------------------------------------------------------------------


def theme_json(theme: Theme, idea_ids: list[int]) -> dict[str, Any]:
    return {
        "id": theme.id,
        "name": theme.name,
        "keywords": list(theme.keywords),
        "size": theme.size,
        "voters": theme.voters,
        "weighted_voters": theme.weighted_voters,
        "growth": theme.growth,
        "idea_ids": idea_ids,
    }


def list_themes(request: Request) -> Response:
    """Staff: the themes of a board (or, without one, across boards), most voters first."""
    staff(request)
    slug = request.query_params.get("board")
    with db(request).reading() as session:
        board = boards.get_by_slug(session, slug) if slug else None
        found = themes.listing(session, board.id if board else None)
        members = themes.idea_ids_of(session, [theme.id for theme in found])
        return JSONResponse([theme_json(theme, members[theme.id]) for theme in found])


# The roadmap ----------------------------------------------------------------------------------


def roadmap_item_json(
    request: Request, item: RoadmapItem, score: roadmap.Score, ideas: list[Idea]
) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "description": item.description,
        "status": item.status,
        "target": item.target,
        "note": item.note,
        "position": item.position,
        "score": round(score.value, 4),
        "reach": round(score.reach, 4),
        "voters": score.voters,
        "weighted_voters": round(score.weighted_voters, 4),
        "impact": item.impact,
        "confidence": item.confidence,
        "effort": item.effort,
        "weighted_reach": item.weighted_reach,
        "idea_ids": sorted(idea.id for idea in ideas),
        "theme_id": item.theme_id,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "shipped_at": item.shipped_at.isoformat() if item.shipped_at else None,
        "url": str(request.url_for("api_roadmap_item", id=item.id)),
    }


def _roadmap_json(request: Request, session: Session, items: list[RoadmapItem]) -> list[Any]:
    scores = roadmap.scores(session, items)
    ideas = roadmap.linked_ideas(session, [item.id for item in items], request.state.user)
    return [roadmap_item_json(request, item, scores[item.id], ideas[item.id]) for item in items]


def _created(request: Request, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=201, headers={"Location": body["url"]})


def list_roadmap(request: Request) -> Response:
    status = request.query_params.get("status") or None
    if status is not None and status not in roadmap.STATUSES:
        errors = Errors()
        errors.add("status", N_("One of: %(values)s."), values=", ".join(roadmap.STATUSES))
        errors.raise_if_any()
    with db(request).reading() as session:
        columns = roadmap.by_status(session, [status] if status else roadmap.STATUSES)
        items = [item for column in columns.values() for item in column]
        return JSONResponse(_roadmap_json(request, session, items))


def get_roadmap_item(request: Request) -> Response:
    with db(request).reading() as session:
        item = roadmap.get(session, request.path_params["id"])
        return JSONResponse(_roadmap_json(request, session, [item])[0])


def _roadmap_fields(data: dict[str, Any], item: RoadmapItem | None) -> roadmap.Fields:
    """The item's fields with the body's changes (a new item: the defaults)."""
    fields = roadmap.Fields.of(item) if item else roadmap.Fields("")
    changes = {name: data[name] for name in roadmap.Fields.__dataclass_fields__ if name in data}
    for name in ("title", "description", "target"):  # anything but text counts as empty
        if name in changes and not isinstance(changes[name], str):
            changes[name] = ""
    return replace(fields, **changes)


def _roadmap_ideas(session: Session, data: dict[str, Any]) -> list[Idea] | None:
    """The ideas `idea_ids` names; None when the body has no `idea_ids`."""
    if "idea_ids" not in data:
        return None
    ids = data["idea_ids"]
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids
    ):
        errors = Errors()
        errors.add("idea_ids", N_("A list of idea numbers."))
        errors.raise_if_any()
    return roadmap.find_ideas(session, ids, "idea_ids")


def _position(data: dict[str, Any]) -> int | None:
    position = data.get("position")
    if position is None:
        return None
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= MAX_ID:
        errors = Errors()
        errors.add("position", N_("A whole number, 0 for the top of the column."))
        errors.raise_if_any()
    assert isinstance(position, int)
    return position


@with_json
def create_roadmap_item(request: Request, data: dict[str, Any]) -> Response:
    actor = staff(request)
    with db(request).transaction() as session:
        item = roadmap.create(
            session,
            actor,
            _roadmap_fields(data, None),
            _roadmap_ideas(session, data) or [],
            text(data, "status") if "status" in data else "planned",
            text(data, "note"),
        )
        body = _roadmap_json(request, session, [item])[0]
    return _created(request, body)


@with_json
def update_roadmap_item(request: Request, data: dict[str, Any]) -> Response:
    """Changes the fields the body gives; a new status moves the linked ideas too."""
    actor = staff(request)
    with db(request).transaction() as session:
        item = roadmap.get(session, request.path_params["id"])
        touched = any(name in data for name in roadmap.Fields.__dataclass_fields__)
        roadmap.change(
            session,
            actor,
            item,
            fields=_roadmap_fields(data, item) if touched else None,
            ideas=_roadmap_ideas(session, data),
            status=text(data, "status") if "status" in data else None,
            position=_position(data),
            note=text(data, "note"),
        )
        body = _roadmap_json(request, session, [item])[0]
    return JSONResponse(body)


@with_json
def promote_theme(request: Request, data: dict[str, Any]) -> Response:
    """A roadmap item from the theme (staff): named after it, with every idea of it linked."""
    actor = staff(request)
    with db(request).transaction() as session:
        theme = themes.get(session, request.path_params["id"])
        item = roadmap.from_theme(session, actor, theme)
        body = _roadmap_json(request, session, [item])[0]
    return _created(request, body)


# Weekly roadmap updates ------------------------------------------------------------------------


def list_weekly_updates(request: Request) -> Response:
    """The stored weeks, newest first, with the addresses of their files."""
    base = request.app.state.settings.base_url
    with db(request).reading() as session:
        found = weekly.recent(session)
        return JSONResponse(
            [
                {
                    "week": snapshot.week,
                    "starts_at": snapshot.starts_at.isoformat(),
                    "ends_at": snapshot.ends_at.isoformat(),
                    "time_zone": snapshot.time_zone,
                    "urls": weekly.export_urls(snapshot.week, base),
                }
                for snapshot in found
            ]
        )


def get_weekly_update(request: Request) -> Response:
    """A week's JSON export (docs/weekly-export.md)."""
    with db(request).reading() as session:
        snapshot = weekly.get(session, request.path_params["week"])
        data = snapshot.data
    return JSONResponse(weekly_render.document(data, request.app.state.settings.base_url))
