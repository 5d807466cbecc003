"""In-app notifications: a status change on a followed idea, a comment on your idea, a reply."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ideas.models import Notification, User, utcnow

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


def unread_count(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def for_user(
    session: Session, user: User, page: int = 1, per_page: int = 30
) -> tuple[list[Notification], int]:
    total = (
        session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == user.id)
        )
        or 0
    )
    rows = session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
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
