"""Comments: validation, one level of replies, notifications, locking and moderation."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from ideas import comments, follows
from ideas import ideas as idea_rules
from ideas.errors import Forbidden, NotFound, ValidationError
from ideas.models import AuditEntry, Comment, Idea, Notification, User, utcnow


def add(db, author, idea, body="Good point.", parent_id=None) -> Comment:
    with db.transaction() as session:
        return comments.add(
            session, session.get(User, author.id), session.get(Idea, idea.id), body, parent_id
        )


def comment_count(db, idea) -> int:
    with db.reading() as session:
        return session.get(Idea, idea.id).comment_count


def notifications_of(db) -> list[tuple[int, str]]:
    with db.reading() as session:
        rows = session.execute(
            select(Notification.user_id, Notification.kind).order_by(Notification.id)
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 5001])
def test_body_is_validated(db, make_user, make_idea, body) -> None:
    idea = make_idea()
    with pytest.raises(ValidationError) as caught:
        add(db, make_user(), idea, body)
    assert set(caught.value.fields) == {"body"}
    assert comment_count(db, idea) == 0


def test_add_trims_counts_and_follows(db, make_user, make_idea) -> None:
    commenter = make_user()
    idea = make_idea()
    comment = add(db, commenter, idea, "  Yes, please!  ")
    assert comment.body == "Yes, please!" and comment.parent_id is None
    assert comment_count(db, idea) == 1
    with db.reading() as session:
        assert follows.is_following(session, commenter, idea.id)
        assert comments.get(session, comment.id).id == comment.id
        with pytest.raises(NotFound):
            comments.get(session, 999_999)


def test_blocked_users_cannot_comment(db, make_user, make_idea) -> None:
    commenter = make_user()
    idea = make_idea()
    with db.transaction() as session:
        session.get(User, commenter.id).blocked_at = utcnow()
    with pytest.raises(Forbidden):
        add(db, commenter, idea)


def test_replies_are_one_level_deep(db, make_user, make_idea) -> None:
    first, second, third = make_user(), make_user(), make_user()
    idea = make_idea()
    top = add(db, first, idea, "Top level")
    reply = add(db, second, idea, "A reply", top.id)
    reply_to_reply = add(db, third, idea, "A reply to the reply", reply.id)
    assert reply.parent_id == top.id
    assert reply_to_reply.parent_id == top.id  # joins the same thread
    other = add(db, first, idea, "Another top level")
    with db.reading() as session:
        threads = comments.threads(session, session.get(Idea, idea.id), None)
    assert [thread.comment.id for thread in threads] == [top.id, other.id]
    assert [reply.body for reply in threads[0].replies] == ["A reply", "A reply to the reply"]
    assert threads[1].replies == []
    assert comment_count(db, idea) == 4


def test_reply_to_a_missing_hidden_or_foreign_comment_is_refused(
    db, make_user, make_idea, make_board
) -> None:
    staff, member = make_user("staff"), make_user()
    board = make_board()
    idea, elsewhere = make_idea(board=board), make_idea(board=board)
    foreign = add(db, member, elsewhere, "On another idea")
    hidden = add(db, member, idea, "Soon hidden")
    with db.transaction() as session:
        comments.set_hidden(
            session, session.get(User, staff.id), session.get(Comment, hidden.id), True
        )
    for parent_id in (999_999, foreign.id, hidden.id):
        with pytest.raises(ValidationError) as caught:
            add(db, member, idea, "A reply", parent_id)
        assert set(caught.value.fields) == {"parent_id"}


def test_comment_notifies_the_ideas_author_not_the_actor(db, make_user, make_idea) -> None:
    author, commenter = make_user(), make_user()
    idea = make_idea(author=author)
    comment = add(db, commenter, idea)
    add(db, author, idea, "The author answers")  # nobody to tell
    assert notifications_of(db) == [(author.id, "comment")]
    with db.reading() as session:
        note = session.scalars(select(Notification)).one()
        assert (note.idea_id, note.actor_id, note.data) == (
            idea.id,
            commenter.id,
            {"comment_id": comment.id},
        )


def test_reply_notifies_the_parent_author_and_the_ideas_author(db, make_user, make_idea):
    author, first, replier = make_user(), make_user(), make_user()
    idea = make_idea(author=author)
    top = add(db, first, idea)
    before = len(notifications_of(db))
    add(db, replier, idea, "A reply", top.id)
    assert sorted(notifications_of(db)[before:]) == sorted(
        [(first.id, "reply"), (author.id, "comment")]
    )


def test_reply_to_the_authors_comment_notifies_the_author_once(db, make_user, make_idea):
    author, replier = make_user(), make_user()
    idea = make_idea(author=author)
    top = add(db, author, idea, "The author explains")
    add(db, replier, idea, "A reply", top.id)
    assert notifications_of(db) == [(author.id, "reply")]


def test_replying_to_oneself_notifies_only_the_ideas_author(db, make_user, make_idea):
    author, commenter = make_user(), make_user()
    idea = make_idea(author=author)
    top = add(db, commenter, idea)
    add(db, commenter, idea, "And one more thing", top.id)
    assert notifications_of(db) == [(author.id, "comment"), (author.id, "comment")]


def test_locked_comments_refuse_members_not_staff(db, make_user, make_idea) -> None:
    staff, member = make_user("staff"), make_user()
    idea = make_idea()
    with db.transaction() as session:
        idea_rules.set_comments_locked(
            session, session.get(User, staff.id), session.get(Idea, idea.id), True
        )
    with pytest.raises(Forbidden):
        add(db, member, idea)
    add(db, staff, idea, "The team may still write")
    assert comment_count(db, idea) == 1


def test_hide_and_restore_adjust_the_count_and_what_members_see(db, make_user, make_idea):
    staff, member = make_user("staff"), make_user()
    idea = make_idea()
    kept = add(db, member, idea, "Kept")
    hidden = add(db, member, idea, "Rude")
    with db.transaction() as session:
        comment = session.get(Comment, hidden.id)
        with pytest.raises(Forbidden):
            comments.set_hidden(session, session.get(User, member.id), comment, True)
        comments.set_hidden(session, session.get(User, staff.id), comment, True)
        comments.set_hidden(session, session.get(User, staff.id), comment, True)  # no change
    assert comment_count(db, idea) == 1

    def visible_to(viewer_id: int | None) -> list[int]:
        with db.reading() as session:
            viewer = session.get(User, viewer_id) if viewer_id else None
            return [
                thread.comment.id
                for thread in comments.threads(session, session.get(Idea, idea.id), viewer)
            ]

    assert visible_to(None) == visible_to(member.id) == [kept.id]
    assert visible_to(staff.id) == [kept.id, hidden.id]
    with db.transaction() as session:
        comments.set_hidden(
            session, session.get(User, staff.id), session.get(Comment, hidden.id), False
        )
    assert comment_count(db, idea) == 2
    assert visible_to(member.id) == [kept.id, hidden.id]
    with db.reading() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(entry.action, entry.target_id) for entry in entries] == [
            ("comment.hide", hidden.id),
            ("comment.restore", hidden.id),
        ]
        assert entries[0].details == {"idea_id": idea.id}


def test_hidden_reply_is_hidden_from_members(db, make_user, make_idea) -> None:
    staff, member = make_user("staff"), make_user()
    idea = make_idea()
    top = add(db, member, idea, "Top")
    reply = add(db, member, idea, "Reply", top.id)
    with db.transaction() as session:
        comments.set_hidden(
            session, session.get(User, staff.id), session.get(Comment, reply.id), True
        )
    with db.reading() as session:
        row = session.get(Idea, idea.id)
        (thread,) = comments.threads(session, row, session.get(User, member.id))
        assert thread.replies == []
        (thread,) = comments.threads(session, row, session.get(User, staff.id))
        assert [comment.id for comment in thread.replies] == [reply.id]
        assert session.scalar(select(func.count()).select_from(Comment)) == 2


def test_hidden_comment_with_visible_replies_keeps_its_thread(db, make_user, make_idea) -> None:
    staff, member, other = make_user("staff"), make_user(), make_user()
    idea = make_idea()
    top = add(db, member, idea, "Rude")
    reply = add(db, other, idea, "A useful answer", top.id)
    with db.transaction() as session:
        comments.set_hidden(
            session, session.get(User, staff.id), session.get(Comment, top.id), True
        )
    assert comment_count(db, idea) == 1  # the reply is still seen
    with db.reading() as session:
        (thread,) = comments.threads(session, session.get(Idea, idea.id), None)
        assert thread.comment.id == top.id and thread.comment.hidden_at is not None
        assert [comment.id for comment in thread.replies] == [reply.id]


def test_reply_to_a_reply_notifies_the_person_replied_to(db, make_user, make_idea) -> None:
    author, first, second, third = make_user(), make_user(), make_user(), make_user()
    idea = make_idea(author=author)
    top = add(db, first, idea, "Top")
    answer = add(db, second, idea, "Answer", top.id)
    with db.transaction() as session:
        session.execute(delete(Notification))
    add(db, third, idea, "Answer to the answer", answer.id)
    assert notifications_of(db) == [(second.id, "reply"), (author.id, "comment")]
