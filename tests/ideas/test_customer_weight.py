"""Customer weight: admins give a member a segment and a weight; weighted vote figures count each
voter by their weight and sit beside the plain counts."""

from __future__ import annotations

import pytest

from ideas import accounts, merges, votes
from ideas.errors import Forbidden, ValidationError
from ideas.models import Idea, User


def set_customer(db, actor: User, person: User, segment: str, weight: str) -> None:
    with db.transaction() as session:
        accounts.set_customer(
            session,
            session.get_one(User, actor.id),
            session.get_one(User, person.id),
            segment,
            weight,
        )


def test_only_admins_set_a_segment_and_weight(db, make_user) -> None:
    admin, staff, person = make_user("admin"), make_user("staff"), make_user()
    with pytest.raises(Forbidden):
        set_customer(db, staff, person, "Enterprise", "5")
    set_customer(db, admin, person, " Enterprise   EU ", "12.5")
    with db.reading() as session:
        saved = session.get_one(User, person.id)
    assert (saved.segment, saved.weight) == ("Enterprise EU", 12.5)
    set_customer(db, admin, person, "", "1")  # back to an ordinary member
    with db.reading() as session:
        saved = session.get_one(User, person.id)
    assert (saved.segment, saved.weight) == (None, 1.0)


@pytest.mark.parametrize(
    ("segment", "weight", "fields"),
    [
        ("x" * 41, "1", {"segment"}),
        ("SMB", "0", {"weight"}),
        ("SMB", "-2", {"weight"}),
        ("SMB", "1000.5", {"weight"}),
        ("SMB", "lots", {"weight"}),
        ("SMB", "nan", {"weight"}),
        ("SMB", "1e400", {"weight"}),
        ("x" * 41, "", {"segment", "weight"}),
    ],
)
def test_bad_segments_and_weights_are_refused(db, make_user, segment, weight, fields) -> None:
    admin, person = make_user("admin"), make_user()
    with pytest.raises(ValidationError) as refused:
        set_customer(db, admin, person, segment, weight)
    assert set(refused.value.fields) == fields


def test_weighted_voters_count_each_person_once_by_weight(db, make_user, make_idea) -> None:
    admin = make_user("admin")
    big, small = make_user(name="Big"), make_user(name="Small")
    first, second, silent = make_idea(), make_idea(), make_idea()
    set_customer(db, admin, big, "Enterprise", "10")
    with db.transaction() as session:
        for idea in (first, second):
            votes.vote(session, session.get_one(User, big.id), session.get_one(Idea, idea.id))
        votes.vote(session, session.get_one(User, small.id), session.get_one(Idea, first.id))
    with db.reading() as session:
        # Each idea's author voted for it too (weight 1).
        assert votes.weighted_voters(session, [first.id]) == (3, 12.0)
        assert votes.weighted_voters(session, [first.id, second.id]) == (4, 13.0)
        assert votes.weighted_voters(session, []) == (0, 0.0)
        assert votes.weighted_counts(session, [first.id, second.id, silent.id]) == {
            first.id: 12.0,
            second.id: 11.0,
            silent.id: 1.0,
        }
        plain = session.get_one(Idea, first.id).vote_count
    assert plain == 3  # the plain count stays as it is


def test_a_merge_carries_the_weight_once(db, make_user, make_idea) -> None:
    admin, team, big = make_user("admin"), make_user("staff"), make_user()
    set_customer(db, admin, big, "Enterprise", "10")
    source, target = make_idea(), make_idea()
    with db.transaction() as session:
        for idea in (source, target):
            votes.vote(session, session.get_one(User, big.id), session.get_one(Idea, idea.id))
        merges.merge(
            session,
            session.get_one(User, team.id),
            session.get_one(Idea, source.id),
            session.get_one(Idea, target.id),
        )
    with db.reading() as session:
        # The target's author, the source's author (carried) and Big, once.
        assert votes.weighted_voters(session, [target.id]) == (3, 12.0)
