"""The roadmap: RICE scores from distinct (or weighted) voters, moves recorded and passed on to
the linked ideas and their followers, items from themes, and the rules on what staff type."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ideas import follows, merges, roadmap, themes, votes
from ideas import ideas as idea_rules
from ideas.errors import Conflict, Forbidden, ValidationError
from ideas.models import (
    AuditEntry,
    Idea,
    Notification,
    RoadmapChange,
    RoadmapItem,
    RoadmapItemIdea,
    Theme,
    ThemeIdea,
    User,
)


def _create(db, team, ideas=(), **fields):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        linked = [session.get_one(Idea, idea.id) for idea in ideas]
        title = fields.pop("title", "Exports for the team")
        return roadmap.create(
            session, session.get_one(User, team.id), roadmap.Fields(title, **fields), linked
        ).id


def _vote(db, user, idea):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, user.id), session.get_one(Idea, idea.id))


def _score(db, item_id):  # type: ignore[no-untyped-def]
    with db.reading() as session:
        return roadmap.scores(session, [session.get_one(RoadmapItem, item_id)])[item_id]


def _status(db, idea):  # type: ignore[no-untyped-def]
    with db.reading() as session:
        return session.get_one(Idea, idea.id).status


def test_reach_counts_each_voter_once_across_linked_ideas(db, make_user, make_idea) -> None:
    team = make_user("staff")
    first, second, elsewhere = make_idea(), make_idea(), make_idea()
    both, one = make_user(), make_user()
    _vote(db, both, first)
    _vote(db, both, second)  # a voter of two linked ideas
    _vote(db, one, second)
    _vote(db, make_user(), elsewhere)  # not linked: no reach
    item_id = _create(db, team, [first, second], impact="2", confidence="0.5", effort="4")

    score = _score(db, item_id)

    # the two authors, `both` and `one`
    assert (score.voters, score.reach) == (4, 4.0)
    assert score.value == pytest.approx(4 * 2 * 0.5 / 4)


def test_weighted_reach_sums_the_voters_weights(db, make_user, make_idea) -> None:
    team = make_user("staff")
    big, small = make_user(), make_user()
    idea = make_idea(author=small)
    with db.transaction() as session:
        session.get_one(User, big.id).weight = 5.0
        session.get_one(User, small.id).weight = 0.5
    _vote(db, big, idea)
    item_id = _create(db, team, [idea], weighted_reach=True, confidence="1", effort="2")

    score = _score(db, item_id)

    assert (score.voters, score.weighted_voters, score.reach) == (2, 5.5, 5.5)
    assert score.value == pytest.approx(5.5 * 1 * 1 / 2)
    with db.transaction() as session:
        item = session.get_one(RoadmapItem, item_id)
        roadmap.update(
            session,
            session.get_one(User, team.id),
            item,
            roadmap.Fields(item.title, weighted_reach=False, confidence=1, effort=2),
        )
    assert _score(db, item_id).reach == 2.0


def test_merged_votes_count_once_and_scores_come_in_one_query(db, make_user, make_idea) -> None:
    team = make_user("staff")
    kept, merged = make_idea(), make_idea()
    fan = make_user()
    _vote(db, fan, merged)
    with db.transaction() as session:  # the merge carries the fan's vote onto `kept`
        merges.merge(
            session,
            session.get_one(User, team.id),
            session.get_one(Idea, merged.id),
            session.get_one(Idea, kept.id),
        )
    kept_only = _create(db, team, [kept])
    empty = _create(db, team)
    with db.reading() as session:
        items = [session.get_one(RoadmapItem, i) for i in (kept_only, empty)]
        found = roadmap.scores(session, items)
    assert found[kept_only].voters == 3  # both authors and the fan
    assert (found[empty].voters, found[empty].value) == (0, 0.0)


def test_creating_links_the_ideas_which_become_planned(db, make_user, make_idea) -> None:
    team, follower = make_user("staff"), make_user()
    idea = make_idea()
    with db.transaction() as session:
        follows.follow(session, session.get_one(User, follower.id), idea.id)

    item_id = _create(db, team, [idea, idea])

    assert _status(db, idea) == "planned"
    with db.reading() as session:
        assert session.scalars(select(RoadmapItemIdea.idea_id)).all() == [idea.id]
        [change] = session.scalars(select(RoadmapChange)).all()
        assert (change.item_id, change.from_status, change.to_status) == (item_id, None, "planned")
        told = session.scalars(
            select(Notification.user_id).where(Notification.kind == "status_changed")
        ).all()
        assert follower.id in told and idea.author_id in told
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[:1] == ["roadmap.create"] and "idea.status" in actions


def test_moves_are_recorded_and_the_ideas_follow_with_the_note(db, make_user, make_idea) -> None:
    team, follower = make_user("staff"), make_user()
    first, second, merged, target = make_idea(), make_idea(), make_idea(), make_idea()
    with db.transaction() as session:
        follows.follow(session, session.get_one(User, follower.id), first.id)
    item_id = _create(db, team, [first, second, merged])
    with db.transaction() as session:
        merges.merge(
            session,
            session.get_one(User, team.id),
            session.get_one(Idea, merged.id),
            session.get_one(Idea, target.id),
        )

    with db.transaction() as session:
        item = session.get_one(RoadmapItem, item_id)
        roadmap.move(session, session.get_one(User, team.id), item, "in_progress", note=" Started ")

    assert [_status(db, idea) for idea in (first, second)] == ["in_progress"] * 2
    assert _status(db, merged) == "planned"  # merged: it lives on in `target`, left alone
    assert _status(db, target) == "open"
    with db.reading() as session:
        item = session.get_one(RoadmapItem, item_id)
        assert (item.status, item.note, item.shipped_at) == ("in_progress", "Started", None)
        change = roadmap.history(session, item)[-1]
        assert (change.from_status, change.to_status, change.note) == (
            "planned",
            "in_progress",
            "Started",
        )
        assert change.actor_id == team.id and change.created_at is not None
        notice = session.scalars(
            select(Notification)
            .where(Notification.user_id == follower.id)
            .order_by(Notification.id.desc())
        ).first()
        assert notice is not None
        assert notice.data == {
            "old": "planned",
            "new": "in_progress",
            "note": "Started",
            "item_id": item.id,
            "item": "Exports for the team",
        }
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "roadmap.move")).one()
        assert audit.details == {"old": "planned", "new": "in_progress"}
        history = idea_rules.status_history(session, session.get_one(Idea, first.id))
        assert [(c.to_status, c.note) for c in history][-1] == ("in_progress", "Started")

    with db.transaction() as session:
        item = session.get_one(RoadmapItem, item_id)
        roadmap.move(session, session.get_one(User, team.id), item, "shipped", note="Out now")
    with db.reading() as session:
        item = session.get_one(RoadmapItem, item_id)
        assert item.shipped_at is not None
        assert roadmap.shipped(session) == ([item], 1)
    assert _status(db, first) == "shipped"


def test_cancelling_sends_planned_ideas_back_to_review(db, make_user, make_idea) -> None:
    team = make_user("staff")
    planned, declined = make_idea(), make_idea()
    item_id = _create(db, team, [planned])
    with db.transaction() as session:
        actor = session.get_one(User, team.id)
        idea_rules.set_status(session, actor, session.get_one(Idea, declined.id), "declined")
        item = session.get_one(RoadmapItem, item_id)
        roadmap.link(session, actor, item, [session.get_one(Idea, declined.id)])
    assert _status(db, declined) == "planned"
    with db.transaction() as session:
        actor = session.get_one(User, team.id)
        idea_rules.set_status(session, actor, session.get_one(Idea, declined.id), "declined")

    with db.transaction() as session:
        item = session.get_one(RoadmapItem, item_id)
        roadmap.move(session, session.get_one(User, team.id), item, "cancelled", note="Not now")

    assert _status(db, planned) == "under_review"
    assert _status(db, declined) == "declined"  # declined on its own: left alone


def test_reordering_in_a_column_records_nothing(db, make_user) -> None:
    team = make_user("staff")
    a, b, c = (_create(db, team, title=f"Item {n}") for n in "abc")

    with db.transaction() as session:
        roadmap.move(
            session, session.get_one(User, team.id), session.get_one(RoadmapItem, c), "planned", 0
        )
        assert [i.id for i in roadmap.by_status(session)["planned"]] == [c, a, b]
        roadmap.move(
            session, session.get_one(User, team.id), session.get_one(RoadmapItem, a), "shipped"
        )
        roadmap.move(
            session, session.get_one(User, team.id), session.get_one(RoadmapItem, b), "shipped", 0
        )
        columns = roadmap.by_status(session)
        assert [i.id for i in columns["planned"]] == [c]
        assert [i.id for i in columns["shipped"]] == [b, a]
        assert (
            session.scalar(
                select(RoadmapChange.id).where(
                    RoadmapChange.item_id == c, RoadmapChange.from_status.is_not(None)
                )
            )
            is None
        )


def test_from_theme_links_every_idea_of_the_theme(db, make_user, make_idea) -> None:
    team = make_user("staff")
    ideas = [make_idea(), make_idea(), make_idea()]
    with db.transaction() as session:
        theme = Theme(auto_name="offline mode · sync", custom_name="Offline mode")
        session.add(theme)
        session.flush()
        session.add_all(ThemeIdea(theme_id=theme.id, idea_id=idea.id) for idea in ideas[:2])
        theme_id = theme.id

    with db.transaction() as session:
        item = roadmap.from_theme(
            session, session.get_one(User, team.id), themes.get(session, theme_id)
        )
        item_id = item.id
        assert (item.title, item.theme_id, item.status) == ("Offline mode", theme_id, "planned")
        assert [idea.id for idea in roadmap.linked_ideas(session, [item_id])[item_id]] == sorted(
            idea.id for idea in ideas[:2]
        )
    assert [_status(db, idea) for idea in ideas] == ["planned", "planned", "open"]

    with db.transaction() as session, pytest.raises(Conflict):
        roadmap.from_theme(
            session, session.get_one(User, team.id), session.get_one(Theme, theme_id)
        )


def test_link_and_unlink(db, make_user, make_idea) -> None:
    team = make_user("staff")
    first, second = make_idea(), make_idea()
    item_id = _create(db, team, [first])
    with db.transaction() as session:
        actor, item = session.get_one(User, team.id), session.get_one(RoadmapItem, item_id)
        both = roadmap.find_ideas(session, [first.id, second.id])
        assert [idea.id for idea in roadmap.link(session, actor, item, both)] == [second.id]
        roadmap.unlink(session, actor, item, [first.id])
        roadmap.unlink(session, actor, item, [first.id])  # twice: nothing more happens
    with db.reading() as session:
        assert [i.id for i in roadmap.linked_ideas(session, [item_id])[item_id]] == [second.id]
        unlinks = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "roadmap.unlink")
        ).all()
        assert unlinks == [{"ideas": [first.id]}]
    assert (_status(db, first), _status(db, second)) == ("planned", "planned")


def test_validation_names_each_bad_field(db, make_user) -> None:
    team = make_user("staff")
    with db.transaction() as session, pytest.raises(ValidationError) as raised:
        roadmap.create(
            session,
            session.get_one(User, team.id),
            roadmap.Fields(
                "", target="2027-13", impact="4", confidence="1.5", effort="0", weighted_reach="x"
            ),
            status="done",
        )
    assert set(raised.value.fields) == {
        "title",
        "target",
        "impact",
        "confidence",
        "effort",
        "weighted_reach",
    }
    assert raised.value.fields["target"].text == "A month like 2027-03 or a quarter like 2027-Q1."
    with db.transaction() as session, pytest.raises(ValidationError) as raised:
        roadmap.create(
            session, session.get_one(User, team.id), roadmap.Fields("Good title"), status="done"
        )
    assert set(raised.value.fields) == {"status"}


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("2027-03", "2027-03"), ("2027-q1", "2027-Q1"), (" 2027-Q4 ", "2027-Q4"), ("", None)],
)
def test_targets_are_months_or_quarters(raw, stored) -> None:
    assert roadmap.parse_target(raw) == stored


@pytest.mark.parametrize("raw", ["2027", "2027-3", "2027-00", "2027-Q5", "Q1 2027", "27-03"])
def test_other_targets_are_refused(raw) -> None:
    with pytest.raises(ValueError):
        roadmap.parse_target(raw)


def test_numbers_accept_a_decimal_comma(db, make_user) -> None:
    team = make_user("staff")
    item_id = _create(db, team, impact="0,25", confidence="0,7", effort="1,5")
    with db.reading() as session:
        item = session.get_one(RoadmapItem, item_id)
        assert (item.impact, item.confidence, item.effort) == (0.25, 0.7, 1.5)


def test_find_ideas_refuses_unknown_and_merged_ideas(db, make_user, make_idea) -> None:
    team = make_user("staff")
    kept, merged = make_idea(), make_idea()
    with db.transaction() as session:
        merges.merge(
            session,
            session.get_one(User, team.id),
            session.get_one(Idea, merged.id),
            session.get_one(Idea, kept.id),
        )
    with db.reading() as session, pytest.raises(ValidationError) as raised:
        roadmap.find_ideas(session, [kept.id, 999_999], "idea_ids")
    assert raised.value.fields["idea_ids"].params == {"ids": "#999999"}
    with db.reading() as session, pytest.raises(ValidationError) as raised:
        roadmap.find_ideas(session, [merged.id])
    assert raised.value.fields["ideas"].params == {"id": merged.id, "into": kept.id}


def test_members_cannot_change_the_roadmap(db, make_user, make_idea) -> None:
    team, member = make_user("staff"), make_user()
    item_id = _create(db, team)
    with db.transaction() as session:
        person, item = session.get_one(User, member.id), session.get_one(RoadmapItem, item_id)
        for attempt in (
            lambda: roadmap.create(session, person, roadmap.Fields("Mine now")),
            lambda: roadmap.move(session, person, item, "shipped"),
            lambda: roadmap.update(session, person, item, roadmap.Fields("Mine now")),
            lambda: roadmap.unlink(session, person, item, [1]),
        ):
            with pytest.raises(Forbidden):
                attempt()
