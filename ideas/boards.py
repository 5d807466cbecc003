"""Boards: a company's products or areas, each with its ideas and an optional vote budget."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from ideas import audit
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.models import Board, User

MAX_BUDGET = 1000


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].rstrip("-") or "board"


def all_boards(session: Session) -> list[Board]:
    return list(session.scalars(select(Board).order_by(Board.id)))


def find_by_slug(session: Session, slug: str) -> Board | None:
    if "\x00" in slug:  # no slug has one, and PostgreSQL refuses to compare text holding NUL
        return None
    return session.scalar(select(Board).where(Board.slug == slug))


def get_by_slug(session: Session, slug: str) -> Board:
    board = find_by_slug(session, slug)
    if board is None:
        raise NotFound(N_("There is no such board."))
    return board


def _validate(
    name: str, description: str, vote_budget: str | int | None
) -> tuple[int | None, Errors]:
    errors = Errors()
    errors.check_length("name", name, 1, 80)
    errors.check_length("description", description, 0, 1000)
    budget: int | None = None
    if vote_budget not in (None, ""):
        try:
            budget = int(vote_budget)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            budget = -1
        if not 1 <= budget <= MAX_BUDGET:
            errors.add(
                "vote_budget",
                N_("A whole number from 1 to %(n)d, or empty for no limit."),
                n=MAX_BUDGET,
            )
    return budget, errors


def create_board(
    session: Session,
    actor: User | None,
    name: str,
    description: str = "",
    vote_budget: str | int | None = None,
) -> Board:
    if actor is not None and not actor.is_admin:
        raise Forbidden()
    name, description = name.strip(), description.strip()
    budget, errors = _validate(name, description, vote_budget)
    slug = slugify(name)
    if not errors.fields and session.scalar(select(Board.id).where(Board.slug == slug)):
        errors.add("name", N_("A board with this name exists already."))
    errors.raise_if_any()
    board = Board(slug=slug, name=name, description=description, vote_budget=budget)
    session.add(board)
    session.flush()
    if actor is not None:
        audit.record(session, actor, "board.create", "board", board.id, name=name)
    return board


def update_board(
    session: Session,
    actor: User,
    board: Board,
    name: str,
    description: str,
    vote_budget: str | int | None,
) -> None:
    if not actor.is_admin:
        raise Forbidden()
    name, description = name.strip(), description.strip()
    budget, errors = _validate(name, description, vote_budget)
    errors.raise_if_any()
    audit.record(
        session,
        actor,
        "board.update",
        "board",
        board.id,
        name=name,
        vote_budget=budget,
        old_name=board.name,
        old_vote_budget=board.vote_budget,
    )
    board.name, board.description, board.vote_budget = name, description, budget
