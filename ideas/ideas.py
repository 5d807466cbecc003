"""Ideas: submitting, editing, listing and searching them, and the team's status changes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ideas import audit, follows, updates, votes, webhooks
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.models import Board, Idea, StatusChange, User, Vote, utcnow

STATUSES = ("open", "under_review", "planned", "in_progress", "shipped", "declined")
STATUS_LABELS = {
    "open": N_("Open"),
    "under_review": N_("Under review"),
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "shipped": N_("Shipped"),
    "declined": N_("Declined"),
}
CLOSED = ("shipped", "declined")
SORTS = ("trending", "top", "new")
TITLE_LIMITS = (8, 150)
DESCRIPTION_LIMITS = (0, 5000)
NOTE_LIMIT = 2000
PER_PAGE = 20


@dataclass(frozen=True)
class Page:
    items: list[Idea]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def ensure_can_act(user: User | None) -> User:
    if user is None:
        raise Forbidden(N_("Sign in first."))
    if user.is_blocked:
        raise Forbidden(N_("Your account is blocked."))
    return user


def validate(title: str, description: str) -> Errors:
    errors = Errors()
    errors.check_length("title", title, *TITLE_LIMITS)
    errors.check_length("description", description, *DESCRIPTION_LIMITS)
    return errors


def submit(session: Session, author: User, board: Board, title: str, description: str) -> Idea:
    """Stores the idea, casts its author's vote (when the board's budget has one left) and
    makes the author a follower."""
    ensure_can_act(author)
    title, description = " ".join(title.split()), description.strip()
    validate(title, description).raise_if_any()
    idea = Idea(board_id=board.id, author_id=author.id, title=title, description=description)
    session.add(idea)
    session.flush()
    if votes.remaining(session, author, board) != 0:
        votes.vote(session, author, idea)
    follows.follow(session, author, idea.id)
    webhooks.idea_created(session, idea, author)
    return idea


def ensure_can_edit(actor: User | None, idea: Idea) -> None:
    actor = ensure_can_act(actor)
    if actor.id != idea.author_id and not actor.is_staff:
        raise Forbidden(N_("Only the author or the team can edit this idea."))


def edit(session: Session, actor: User, idea: Idea, title: str, description: str) -> None:
    ensure_can_edit(actor, idea)
    title, description = " ".join(title.split()), description.strip()
    validate(title, description).raise_if_any()
    if actor.id != idea.author_id:
        audit.record(session, actor, "idea.edit", "idea", idea.id, old_title=idea.title)
    idea.title, idea.description, idea.updated_at = title, description, utcnow()


def get(session: Session, idea_id: int, viewer: User | None) -> Idea:
    """The idea, if the viewer may see it (hidden ideas are for the team only)."""
    idea = session.get(Idea, idea_id)
    if idea is None or (idea.hidden_at is not None and not (viewer and viewer.is_staff)):
        raise NotFound(N_("This idea does not exist or was removed."))
    return idea


def search_terms(q: str) -> list[str]:
    return [term for term in q.split() if term][:8]


def _filtered(
    query: Select[Idea], board: Board | None, status: str | None, q: str, viewer: User | None
) -> Select[Idea]:
    if board is not None:
        query = query.where(Idea.board_id == board.id)
    if status in STATUSES:
        query = query.where(Idea.status == status)
    query = query.where(Idea.merged_into_id.is_(None))  # a merged idea lives on in another
    if not (viewer and viewer.is_staff):
        query = query.where(Idea.hidden_at.is_(None))
    for term in search_terms(q):
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Idea.title.ilike(pattern, escape="\\"), Idea.description.ilike(pattern, escape="\\")
            )
        )
    return query


def listing(
    session: Session,
    viewer: User | None,
    board: Board | None = None,
    status: str | None = None,
    sort: str = "trending",
    q: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    page = max(1, page)
    query = _filtered(select(Idea), board, status, q, viewer)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: list[ColumnElement[Any]]
    if sort == "new":
        order = [Idea.created_at.desc(), Idea.id.desc()]
    elif sort == "top":
        order = [Idea.vote_count.desc(), Idea.id.desc()]
    else:  # trending: votes in the last two weeks (kept on each idea, see ideas.trending)
        order = [Idea.recent_votes.desc(), Idea.vote_count.desc(), Idea.id.desc()]
    # The page's authors and boards in two small queries, not joined to every idea the sort
    # reads: joined, they doubled the home page's query at 100,000 ideas (bench/scale.py).
    items = session.scalars(
        query.options(selectinload(Idea.author), selectinload(Idea.board))
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def set_status(
    session: Session, actor: User, idea: Idea, status: str, note: str = "", tell: bool = True
) -> StatusChange | None:
    """The team moves an idea; its voters and followers are told, with the note, in the app
    and by email as each prefers (see ideas.updates), in this transaction. ``tell=False``
    leaves telling them to the caller (a roadmap item tells everyone once for all its ideas).
    Returns the change recorded, None when there was nothing to change."""
    if not actor.is_staff:
        raise Forbidden()
    note = note.strip()
    errors = Errors()
    if status not in STATUSES:
        errors.add("status", N_("Unknown status."))
    errors.check_length("note", note, 0, NOTE_LIMIT)
    errors.raise_if_any()
    if status == idea.status and not note:
        return None
    change = StatusChange(
        idea_id=idea.id, actor_id=actor.id, from_status=idea.status, to_status=status, note=note
    )
    session.add(change)
    audit.record(session, actor, "idea.status", "idea", idea.id, old=idea.status, new=status)
    idea.status = status
    session.flush()  # the change's id names its emails
    if change.from_status != status:  # a note alone changes no status
        webhooks.status_changed(session, actor, idea, change.from_status, status, note)
    if tell:
        updates.tell(session, actor, [(change, idea)])
    return change


def status_history(session: Session, idea: Idea) -> list[StatusChange]:
    return list(
        session.scalars(
            select(StatusChange).where(StatusChange.idea_id == idea.id).order_by(StatusChange.id)
        )
    )


def set_hidden(session: Session, actor: User, idea: Idea, hidden: bool, reason: str = "") -> None:
    if not actor.is_staff:
        raise Forbidden()
    if hidden == (idea.hidden_at is not None):
        return
    idea.hidden_at = utcnow() if hidden else None
    action = "idea.hide" if hidden else "idea.restore"
    audit.record(session, actor, action, "idea", idea.id, reason=reason.strip()[:500])


def set_comments_locked(session: Session, actor: User, idea: Idea, locked: bool) -> None:
    if not actor.is_staff:
        raise Forbidden()
    if locked == idea.comments_locked:
        return
    idea.comments_locked = locked
    action = "idea.lock_comments" if locked else "idea.unlock_comments"
    audit.record(session, actor, action, "idea", idea.id)


def hidden_ideas(session: Session) -> list[Idea]:
    return list(
        session.scalars(
            select(Idea).where(Idea.hidden_at.is_not(None)).order_by(Idea.hidden_at.desc())
        )
    )


def ids_voted_by(session: Session, user: User | None, idea_ids: list[int]) -> set[int]:
    if user is None or not idea_ids:
        return set()
    return set(
        session.scalars(
            select(Vote.idea_id).where(Vote.user_id == user.id, Vote.idea_id.in_(idea_ids))
        )
    )
