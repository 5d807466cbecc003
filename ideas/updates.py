"""Closing the loop: who hears of a status change, the emails it queues, and unsubscribe links.

Everyone who votes for or follows an idea hears of its status changes, in the app and, by their
choice (``User.email_updates``), by email at once, in the weekly digest (ideas.digest) or never.
A voter who unfollowed the idea still hears of its status: the vote asks for the answer, and
unfollowing silences the comments. Mail is rendered and sent by the worker (ideas.update_mails).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

from ideas import jobs, notifications
from ideas.models import Follow, Idea, RoadmapItem, StatusChange, User, Vote


def audience(idea_id: int) -> Select[int]:
    """The ids of the people who vote for or follow the idea."""
    people = union(
        select(Follow.user_id).where(Follow.idea_id == idea_id),
        select(Vote.user_id).where(Vote.idea_id == idea_id),
    ).subquery()
    return select(people.c.user_id)


def tell(
    session: Session,
    actor: User,
    changes: Sequence[tuple[StatusChange, Idea]],
    item: RoadmapItem | None = None,
) -> int:
    """Tells the voters and followers of the changed ideas, in this transaction: each person
    once, however many of the ideas they care about (a roadmap item moves them together), in
    the app and, if they want it at once, by one email job. The job's key names the first change
    and the person, so it is queued and sent once. Hidden ideas tell no one; neither is the
    person who acted told. Returns how many people were told."""
    shown = {idea.id: (change, idea) for change, idea in changes if idea.hidden_at is None}
    if not shown:
        return 0
    people = union(
        select(Follow.user_id, Follow.idea_id).where(Follow.idea_id.in_(shown)),
        select(Vote.user_id, Vote.idea_id).where(Vote.idea_id.in_(shown)),
    ).subquery()
    theirs: dict[int, list[int]] = defaultdict(list)
    for user_id, idea_id in session.execute(
        select(people.c.user_id, people.c.idea_id)
        .where(people.c.user_id != actor.id)
        .order_by(people.c.user_id, people.c.idea_id)
    ):
        theirs[user_id].append(idea_id)
    at_once = set(
        session.scalars(
            select(User.id).where(
                User.id.in_(list(theirs)),
                User.email_updates == "immediately",
                User.blocked_at.is_(None),
            )
        )
    )
    on_item = {"item_id": item.id, "item": item.title} if item is not None else {}
    for user_id, idea_ids in theirs.items():
        change, idea = shown[idea_ids[0]]
        notifications.notify(
            session,
            [user_id],
            "status_changed",
            idea.id,
            actor,
            old=change.from_status,
            new=change.to_status,
            note=change.note,
            **on_item,
            **({"others": len(idea_ids) - 1} if len(idea_ids) > 1 else {}),
        )
        if user_id in at_once:
            ids = [shown[idea_id][0].id for idea_id in idea_ids]
            jobs.enqueue(
                session,
                "status_mail",
                {"change_ids": ids, "user_id": user_id, "item_id": on_item.get("item_id")},
                key=status_mail_key(min(ids), user_id),
            )
    return len(theirs)


def status_mail_key(change_id: int, user_id: int) -> str:
    return f"status:{change_id}:{user_id}"


# Unsubscribe links ---------------------------------------------------------------------------


# What a link stops, by the salt that signs it: "updates" (the emails about ideas one votes for
# or follows) or "roadmap" (the weekly roadmap update). A token of one never works for the other.
SALTS = {"updates": "unsubscribe", "roadmap": "unsubscribe:roadmap"}


def _serializer(secret: str, purpose: str = "updates") -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALTS[purpose])


def unsubscribe_token(secret: str, user_id: int, purpose: str = "updates") -> str:
    """Signed, so that the link works without signing in and cannot name anyone else. It does
    not expire: a link in an old email still works (all it can do is stop the emails)."""
    return str(_serializer(secret, purpose).dumps(user_id))


def read_unsubscribe_token(session: Session, token: str, secret: str) -> tuple[User, str] | None:
    """The person a link names and what it stops; None for a link that is not ours."""
    for purpose in SALTS:
        try:
            user_id = _serializer(secret, purpose).loads(token)
        except BadSignature:
            continue
        user = session.get(User, user_id) if isinstance(user_id, int) else None
        return (user, purpose) if user is not None else None
    return None


def user_for_unsubscribe_token(session: Session, token: str, secret: str) -> User | None:
    found = read_unsubscribe_token(session, token, secret)
    return found[0] if found else None


def unsubscribe(user: User, purpose: str = "updates") -> None:
    if purpose == "roadmap":
        user.roadmap_updates = False
    else:
        user.email_updates = "never"
