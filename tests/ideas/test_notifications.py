"""In-app notifications: one per person, never to the actor; unread counts; reading them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ideas import notifications
from ideas.models import Notification, User


def test_notify_once_per_person_and_never_the_actor(db, make_user, make_idea) -> None:
    actor, first, second = make_user(), make_user(), make_user()
    idea = make_idea(author=first)
    with db.transaction() as session:
        notifications.notify(
            session,
            [second.id, first.id, actor.id, second.id],
            "status_changed",
            idea.id,
            actor,
            old="open",
            new="planned",
        )
    with db.reading() as session:
        rows = session.scalars(select(Notification).order_by(Notification.user_id)).all()
        assert [row.user_id for row in rows] == sorted([first.id, second.id])
        assert all(row.actor_id == actor.id and row.idea_id == idea.id for row in rows)
        assert rows[0].data == {"old": "open", "new": "planned"}
        assert rows[0].read_at is None
        assert rows[0].idea.id == idea.id and rows[0].actor.id == actor.id


def test_notify_without_an_actor_reaches_everyone(db, make_user, make_idea) -> None:
    reader = make_user()
    idea = make_idea()
    with db.transaction() as session:
        notifications.notify(session, [reader.id], "comment", idea.id, None)
    with db.reading() as session:
        assert notifications.unread_count(session, reader) == 1


def test_unknown_kinds_are_a_programming_error(db, make_user, make_idea) -> None:
    idea = make_idea()
    with db.transaction() as session, pytest.raises(AssertionError):
        notifications.notify(session, [idea.author_id], "gossip", idea.id, None)


def test_for_user_pages_newest_first_and_mark_all_read(db, make_user, make_idea) -> None:
    reader, other = make_user(), make_user()
    idea = make_idea()
    with db.transaction() as session:
        for n in range(5):
            notifications.notify(session, [reader.id, other.id], "comment", idea.id, None, n=n)
    with db.transaction() as session:
        user = session.get(User, reader.id)
        assert notifications.unread_count(session, user) == 5
        rows, total = notifications.for_user(session, user, page=1, per_page=2)
        assert total == 5 and [row.data["n"] for row in rows] == [4, 3]
        rows, total = notifications.for_user(session, user, page=3, per_page=2)
        assert [row.data["n"] for row in rows] == [0]
        notifications.mark_all_read(session, user)
    with db.reading() as session:
        assert notifications.unread_count(session, reader) == 0
        assert notifications.unread_count(session, other) == 5  # someone else's stay unread
        rows, total = notifications.for_user(session, reader)
        assert total == 5 and all(row.read_at is not None for row in rows)
