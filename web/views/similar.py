""" "Is your idea already here?": the panel of the submit form (an htmx fragment)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ideas import boards, votes
from ideas import ideas as idea_rules
from ideas.similar import SimilarIdeas
from web.views.common import db, pages

MIN_QUERY = 3  # characters typed before the panel looks
MAX_QUERY = 300


def index(request: Request) -> SimilarIdeas:
    found: SimilarIdeas = request.app.state.similar
    return found


def fragment(request: Request) -> Response:
    """GET /ideas/similar?q=&board=&description=: the closest ideas, or an empty state."""
    params = request.query_params
    q = params.get("q", params.get("title", ""))[:MAX_QUERY].strip()
    description = params.get("description", "")[:2000]
    user = request.state.user
    with db(request).reading() as session:
        board = boards.find_by_slug(session, params["board"]) if params.get("board") else None
    matches = []
    if len(q) >= MIN_QUERY:
        matches = index(request).similar(q, board.id if board else None, 5, description)
    with db(request).reading() as session:
        ids = [match.idea.id for match in matches]
        voted = idea_rules.ids_voted_by(session, user, ids)
        remaining = votes.remaining(session, user, board) if board else None
    return pages(request).render(
        request,
        "ideas/_similar.html",
        {
            "matches": matches,
            "voted": voted,
            "remaining": remaining,
            "q": q if len(q) >= MIN_QUERY else "",
        },
    )
