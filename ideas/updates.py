"""Closing the loop: who hears of a status change, the emails it queues, and unsubscribe links.

Everyone who votes for or follows an idea hears of its status changes, in the app and, by their
choice (``User.email_updates``), by email at once, in the weekly digest (ideas.digest) or never.
A voter who unfollowed the idea still hears of its status: the vote asks for the answer, and
unfollowing silences the comments. Mail is rendered and sent by the worker (ideas.update_mails).
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

from ideas import jobs
from ideas.models import Follow, Idea, StatusChange, User, Vote


def audience(idea_id: int) -> Select[int]:
    """The ids of the people who vote for or follow the idea."""
    people = union(
        select(Follow.user_id).where(Follow.idea_id == idea_id),
        select(Vote.user_id).where(Vote.idea_id == idea_id),
    ).subquery()
    return select(people.c.user_id)


def queue_status_mails(session: Session, change: StatusChange, idea: Idea) -> int:
    """One email job per person who wants them at once (never the person who acted), in the
    change's transaction. Each job's key names the change and the person, so it is queued
    and sent once. Returns how many were queued."""
    if idea.hidden_at is not None:
        return 0
    recipients = session.scalars(
        select(User.id)
        .where(
            User.id.in_(audience(idea.id)),
            User.id != change.actor_id,
            User.email_updates == "immediately",
            User.blocked_at.is_(None),
        )
        .order_by(User.id)
    ).all()
    for user_id in recipients:
        jobs.enqueue(
            session,
            "status_mail",
            {"change_id": change.id, "user_id": user_id},
            key=status_mail_key(change.id, user_id),
        )
    return len(recipients)


def status_mail_key(change_id: int, user_id: int) -> str:
    return f"status:{change_id}:{user_id}"


# Unsubscribe links ---------------------------------------------------------------------------


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="unsubscribe")


def unsubscribe_token(secret: str, user_id: int) -> str:
    """Signed, so that the link works without signing in and cannot name anyone else. It does
    not expire: a link in an old email still works (all it can do is stop the emails)."""
    return str(_serializer(secret).dumps(user_id))


def user_for_unsubscribe_token(session: Session, token: str, secret: str) -> User | None:
    try:
        user_id = _serializer(secret).loads(token)
    except BadSignature:
        return None
    return session.get(User, user_id) if isinstance(user_id, int) else None


def unsubscribe(user: User) -> None:
    user.email_updates = "never"
