"""Comments with one level of replies; the idea's author and followers hear of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ideas import audit, counters, follows, merges, notifications
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.ideas import ensure_can_act
from ideas.models import Comment, Idea, User, utcnow

BODY_LIMITS = (1, 5000)


@dataclass
class Thread:
    comment: Comment
    replies: list[Comment] = field(default_factory=list)


def add(
    session: Session, author: User, idea: Idea, body: str, parent_id: int | None = None
) -> Comment:
    ensure_can_act(author)
    if idea.comments_locked and not author.is_staff:
        raise Forbidden(N_("Comments on this idea are locked."))
    body = body.strip()
    errors = Errors()
    errors.check_length("body", body, *BODY_LIMITS)
    parent = replied_to = None
    if parent_id is not None:
        parent = replied_to = session.get(Comment, parent_id)
        if parent is None or parent.idea_id != idea.id or parent.hidden_at is not None:
            errors.add("parent_id", N_("The comment you reply to does not exist."))
        elif parent.parent_id is not None:
            # One level of replies: a reply to a reply joins the same thread.
            parent = session.get(Comment, parent.parent_id)
    errors.raise_if_any()
    comment = Comment(
        idea_id=idea.id, author_id=author.id, body=body, parent_id=parent.id if parent else None
    )
    session.add(comment)
    session.flush()
    counters.add(session, idea.id, "comment_count", 1)
    if replied_to is not None:
        notifications.notify(
            session, [replied_to.author_id], "reply", idea.id, author, comment_id=comment.id
        )
    notifications.notify(
        session,
        [idea.author_id] if replied_to is None or replied_to.author_id != idea.author_id else [],
        "comment",
        idea.id,
        author,
        comment_id=comment.id,
    )
    follows.follow(session, author, idea.id)
    return comment


def threads(session: Session, idea: Idea, viewer: User | None) -> list[Thread]:
    """The idea's comments in threads, with those of the ideas merged into it (their
    `idea_id` says where they come from). Hidden comments are for the team, but a hidden comment
    with visible replies stays as the thread's head (its page shows it as removed)."""
    staff = bool(viewer and viewer.is_staff)
    ids = merges.tree_ids(session, idea.id)
    query = select(Comment).where(Comment.idea_id.in_(ids)).order_by(Comment.id)
    by_id: dict[int, Thread] = {}
    for comment in session.scalars(query):
        if comment.parent_id is None:
            by_id[comment.id] = Thread(comment)
        elif comment.parent_id in by_id and (staff or comment.hidden_at is None):
            by_id[comment.parent_id].replies.append(comment)
    return [
        thread
        for thread in by_id.values()
        if staff or thread.comment.hidden_at is None or thread.replies
    ]


def get(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound()
    return comment


def set_hidden(session: Session, actor: User, comment: Comment, hidden: bool) -> None:
    if not actor.is_staff:
        raise Forbidden()
    if hidden == (comment.hidden_at is not None):
        return
    comment.hidden_at = utcnow() if hidden else None
    delta = -1 if hidden else 1
    counters.add(session, comment.idea_id, "comment_count", delta)
    action = "comment.hide" if hidden else "comment.restore"
    audit.record(session, actor, action, "comment", comment.id, idea_id=comment.idea_id)
