"""Following ideas: idempotent, and everyone who takes part follows."""

from __future__ import annotations

import threading

from ideas import comments, follows, votes
from ideas.models import Idea, User


def test_follow_is_idempotent_and_unfollow_undoes_it(db, make_user, make_idea) -> None:
    reader = make_user()
    idea = make_idea()
    with db.transaction() as session:
        follows.follow(session, reader, idea.id)
        follows.follow(session, reader, idea.id)
    with db.transaction() as session:
        follows.follow(session, reader, idea.id)
    with db.reading() as session:
        assert follows.is_following(session, reader, idea.id)
        assert follows.follower_ids(session, idea.id).count(reader.id) == 1
    with db.transaction() as session:
        follows.unfollow(session, reader, idea.id)
        follows.unfollow(session, reader, idea.id)
    with db.reading() as session:
        assert not follows.is_following(session, reader, idea.id)
        assert not follows.is_following(session, None, idea.id)
        assert follows.follower_ids(session, idea.id) == [idea.author_id]


def test_authors_voters_and_commenters_follow(db, make_user, make_idea) -> None:
    author, voter, commenter, bystander = make_user(), make_user(), make_user(), make_user()
    idea = make_idea(author=author)
    with db.transaction() as session:
        row = session.get(Idea, idea.id)
        votes.vote(session, session.get(User, voter.id), row)
        comments.add(session, session.get(User, commenter.id), row, "Me too")
    with db.reading() as session:
        assert sorted(follows.follower_ids(session, idea.id)) == sorted(
            [author.id, voter.id, commenter.id]
        )
        assert not follows.is_following(session, bystander, idea.id)


def test_followers_lists_people_with_a_total(db, make_user, make_idea) -> None:
    author = make_user(name="Author")
    readers = [make_user(name=f"Reader {n}") for n in range(3)]
    idea = make_idea(author=author)
    with db.transaction() as session:
        for reader in readers:
            follows.follow(session, reader, idea.id)
    with db.reading() as session:
        people, total = follows.followers(session, idea.id, limit=2)
        assert total == 4 and len(people) == 2
        people, total = follows.followers(session, idea.id)
        assert {person.name for person in people} == {"Author", "Reader 0", "Reader 1", "Reader 2"}
        assert follows.followers(session, 999_999) == ([], 0)


def test_racing_follows_of_one_person_store_one_row(db, make_user, make_idea) -> None:
    reader = make_user()
    idea = make_idea()
    barrier = threading.Barrier(4, timeout=30)
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            barrier.wait()
            with db.transaction() as session:
                follows.follow(session, reader, idea.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=follow) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with db.reading() as session:
        assert follows.follower_ids(session, idea.id).count(reader.id) == 1
