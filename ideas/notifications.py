"""In-app notifications: a status change on a followed idea, a comment on your idea, a reply."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from ideas.models import Idea, Notification, User, utcnow

KINDS = ("status_changed", "comment", "reply", "merged")


def notify(
    session: Session,
    user_ids: Iterable[int],
    kind: str,
    idea_id: int,
    actor: User | None,
    **data: Any,
) -> None:
    """One notification per person, never to the person who acted."""
    assert kind in KINDS
    actor_id = actor.id if actor else None
    for user_id in sorted(set(user_ids) - {actor_id}):
        session.add(
            Notification(user_id=user_id, kind=kind, idea_id=idea_id, actor_id=actor_id, data=data)
        )


def _shown_to(user: User) -> ColumnElement[bool]:
    """The user's notifications; about a hidden idea, for the team only (a hidden idea is as
    good as gone for everybody else: its title included)."""
    mine = Notification.user_id == user.id
    if user.is_staff:
        return mine
    hidden = select(Idea.id).where(Idea.hidden_at.is_not(None))
    return and_(mine, or_(Notification.idea_id.is_(None), Notification.idea_id.not_in(hidden)))


def unread_count(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(_shown_to(user), Notification.read_at.is_(None))
        )
        or 0
    )


def for_user(
    session: Session, user: User, page: int = 1, per_page: int = 30
) -> tuple[list[Notification], int]:
    total = (
        session.scalar(select(func.count()).select_from(Notification).where(_shown_to(user))) or 0
    )
    rows = session.scalars(
        select(Notification)
        .where(_shown_to(user))
        .order_by(Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total


def mark_all_read(session: Session, user: User) -> None:
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
