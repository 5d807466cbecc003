"""The duplicate queue: suggesting pairs once, dismissing for good, leaving when merged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ideas import duplicates, embeddings, merges
from ideas import ideas as idea_rules
from ideas.errors import Forbidden, ValidationError
from ideas.models import DuplicateCandidate, Idea, User
from ml.embedders import HashingEmbedder


def _suggest(db, first, second, score=0.8, source="similarity"):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        found = duplicates.suggest(session, first.id, second.id, score, source)
        return (found.idea_id, found.other_id, found.score, found.source) if found else None


def _pending(db, board=None):  # type: ignore[no-untyped-def]
    with db.reading() as session:
        return [(p.idea.id, p.other.id) for p in duplicates.pending(session, board)]


def test_suggest_normalises_the_pair_and_is_idempotent(db, make_idea):
    a, b = make_idea(), make_idea()
    assert _suggest(db, b, a, 0.7) == (a.id, b.id, 0.7, "similarity")
    assert _suggest(db, a, b, 0.9) == (a.id, b.id, 0.9, "similarity")
    assert _suggest(db, a, b, 0.5) == (a.id, b.id, 0.9, "similarity")
    assert _pending(db) == [(a.id, b.id)]
    assert _suggest(db, a, a) is None


def test_pending_is_highest_score_first_with_votes_and_authors(db, make_idea, make_user):
    a, b, c = make_idea(), make_idea(), make_idea()
    _suggest(db, a, b, 0.6)
    _suggest(db, a, c, 0.9)
    assert _pending(db) == [(a.id, c.id), (a.id, b.id)]
    with db.transaction() as session:
        idea_rules.listing(session, None)  # nothing else needed: ideas come joined
        pair = duplicates.pending(session)[0]
        assert pair.idea.author.name and pair.other.vote_count == 1
        assert duplicates.pending_count(session) == 2
        assert duplicates.pending(session, board=session.get_one(Idea, b.id).board) == [
            duplicates.pending(session)[1]
        ]


def test_dismissed_pairs_are_never_suggested_again(db, make_idea, make_user):
    team = make_user("staff")
    a, b = make_idea(), make_idea()
    _suggest(db, a, b)
    with db.transaction() as session:
        candidate = session.query(DuplicateCandidate).one()
        with pytest.raises(Forbidden):
            duplicates.dismiss(session, session.get_one(User, a.author_id), candidate)
        duplicates.dismiss(session, session.get_one(User, team.id), candidate)
    assert _pending(db) == []
    assert _suggest(db, b, a, 0.99) is None
    assert _pending(db) == []


def test_merged_and_hidden_ideas_leave_the_queue(db, make_idea, make_user):
    team = make_user("staff")
    a, b, c = make_idea(), make_idea(), make_idea()
    _suggest(db, a, b)
    _suggest(db, a, c)
    with db.transaction() as session:
        merges.merge(
            session,
            session.get_one(User, team.id),
            session.get_one(Idea, b.id),
            session.get_one(Idea, a.id),
        )
        statuses = dict(session.query(DuplicateCandidate.other_id, DuplicateCandidate.status).all())
        assert statuses == {b.id: "merged", c.id: "pending"}
        idea_rules.set_hidden(
            session, session.get_one(User, team.id), session.get_one(Idea, c.id), True
        )
    assert _pending(db) == []
    assert _suggest(db, b, c) is None  # merged / hidden ideas are not suggested
    assert _suggest(db, a, b) is None  # the pair was merged
    with db.transaction() as session:
        merges.unmerge(session, session.get_one(User, team.id), session.get_one(Idea, b.id))
    assert _pending(db) == [(a.id, b.id)]  # the undo puts the pair back


def test_the_author_says_mine_is_the_same(db, make_idea, make_user):
    a, b = make_idea(), make_idea()
    _suggest(db, a, b, 0.4)
    with db.transaction() as session:
        author = session.get_one(User, b.author_id)
        mine, other = session.get_one(Idea, b.id), session.get_one(Idea, a.id)
        with pytest.raises(Forbidden):
            duplicates.author_says_same(session, session.get_one(User, a.author_id), mine, other)
        with pytest.raises(ValidationError):
            duplicates.author_says_same(session, author, mine, mine)
        found = duplicates.author_says_same(session, author, mine, other)
        assert found is not None and (found.source, found.score) == ("author", 1.0)
    c = make_idea()
    with db.transaction() as session:
        author = session.get_one(User, c.author_id)
        duplicates.author_says_same(
            session, author, session.get_one(Idea, c.id), session.get_one(Idea, a.id)
        )
        pairs = duplicates.pending(session)
        assert [p.candidate.source for p in pairs] == ["author", "author"]


def _embed(db, ideas):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        stored = [session.get_one(Idea, idea.id) for idea in ideas]
        embeddings.store(session, HashingEmbedder(), stored)


def test_scan_queues_close_pairs_per_board_once(db, make_idea, make_board, make_user):
    web, mobile = make_board("Web"), make_board("Mobile")
    a = make_idea("Export the roadmap as CSV", "", board=web)
    b = make_idea("Export the roadmap as a CSV file", "", board=web)
    c = make_idea("Single sign-on with Okta", "Our IT team asks for it.", board=web)
    d = make_idea("Export the roadmap as CSV", "", board=mobile)  # another board: not a pair
    e = make_idea("Export the roadmap to CSV", "", board=web)
    _embed(db, [a, b, c, d, e])
    model = HashingEmbedder().name
    assert duplicates.scannable_count(db, model) == 5
    seen: list[int] = []
    assert duplicates.scan(db, model, seen.append) == 3
    assert sum(seen) == 5
    assert sorted(_pending(db)) == [(a.id, b.id), (a.id, e.id), (b.id, e.id)]
    assert c.id not in {i for pair in _pending(db) for i in pair}

    # A second scan queues nothing new, and a dismissed pair stays dismissed.
    team = make_user("staff")
    with db.transaction() as session:
        staff = session.get_one(User, team.id)
        candidate = session.scalars(
            select(DuplicateCandidate).where(DuplicateCandidate.other_id == b.id)
        ).one()
        duplicates.dismiss(session, staff, candidate)
    assert duplicates.scan(db, model) == 0
    assert sorted(_pending(db)) == [(a.id, e.id), (b.id, e.id)]


def test_scan_leaves_merged_and_hidden_ideas_out(db, make_idea, make_user):
    a, b, c = (make_idea(f"Dark mode for the dashboard {n}") for n in range(3))
    _embed(db, [a, b, c])
    staff = make_user("staff")
    with db.transaction() as session:
        actor = session.get_one(User, staff.id)
        merges.merge(session, actor, session.get_one(Idea, a.id), session.get_one(Idea, b.id))
        idea_rules.set_hidden(session, actor, session.get_one(Idea, c.id), True)
    assert duplicates.scannable_count(db, HashingEmbedder().name) == 1
    assert duplicates.scan(db, HashingEmbedder().name) == 0
