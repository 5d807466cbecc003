"""Following an idea: its followers hear of status changes and comments."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ideas import merges
from ideas.models import Follow, User


def follow(session: Session, user: User, idea_id: int) -> None:
    """Idempotent, and safe when two requests race to follow."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Follow).values(idea_id=idea_id, user_id=user.id).on_conflict_do_nothing()
    )


def unfollow(session: Session, user: User, idea_id: int) -> None:
    """Also ends the follows a merge carried here stands for (on ideas merged into this one),
    so that no later merge or undo brings the person back."""
    session.execute(
        delete(Follow).where(
            Follow.idea_id.in_(merges.tree_ids(session, idea_id)), Follow.user_id == user.id
        )
    )


def is_following(session: Session, user: User | None, idea_id: int) -> bool:
    if user is None:
        return False
    return session.get(Follow, (idea_id, user.id)) is not None


def follower_ids(session: Session, idea_id: int) -> list[int]:
    return list(session.scalars(select(Follow.user_id).where(Follow.idea_id == idea_id)))


def followers(session: Session, idea_id: int, limit: int = 50) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).where(Follow.idea_id == idea_id)) or 0
    users = session.scalars(
        select(User)
        .join(Follow, Follow.user_id == User.id)
        .where(Follow.idea_id == idea_id)
        .order_by(Follow.created_at)
        .limit(limit)
    ).all()
    return list(users), total
