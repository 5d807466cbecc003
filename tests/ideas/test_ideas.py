"""Ideas: submitting, editing, listing, searching, hiding and the team's status changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ideas import follows, merges, trending, votes
from ideas import ideas as idea_rules
from ideas.errors import Forbidden, NotFound, ValidationError
from ideas.models import (
    AuditEntry,
    Board,
    Idea,
    Notification,
    StatusChange,
    User,
    Vote,
    utcnow,
)

DESCRIPTION = "Some words about it."


def submit_many(db, author, board, titles, descriptions=None) -> list[Idea]:
    descriptions = descriptions or [DESCRIPTION] * len(titles)
    with db.transaction() as session:
        user, row = session.get(User, author.id), session.get(Board, board.id)
        return [
            idea_rules.submit(session, user, row, title, description)
            for title, description in zip(titles, descriptions, strict=True)
        ]


def titles_of(page: idea_rules.Page) -> list[str]:
    return [idea.title for idea in page.items]


# Submitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "description", "fields"),
    [
        ("short", "", {"title"}),
        ("", "", {"title"}),
        ("   seven  ", "", {"title"}),  # spaces do not count
        ("t" * 151, "", {"title"}),
        ("A good title", "d" * 5001, {"description"}),
        ("tiny", "d" * 5001, {"title", "description"}),
    ],
)
def test_submit_validation(db, make_user, make_board, title, description, fields) -> None:
    author, board = make_user(), make_board()
    with db.transaction() as session, pytest.raises(ValidationError) as caught:
        idea_rules.submit(session, author, board, title, description)
    assert set(caught.value.fields) == fields
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Idea)) == 0


def test_submit_limits_are_inclusive(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    ideas = submit_many(db, author, board, ["e" * 8, "t" * 150], ["", "d" * 5000])
    assert [len(idea.title) for idea in ideas] == [8, 150]


def test_submit_tidies_text_and_casts_the_authors_vote_and_follow(db, make_user, make_board):
    author, board = make_user(), make_board()
    (idea,) = submit_many(db, author, board, ["  Dark   mode\tfor the app "], ["  Please.  "])
    with db.reading() as session:
        idea = session.get(Idea, idea.id)
        assert (idea.title, idea.description) == ("Dark mode for the app", "Please.")
        assert (idea.status, idea.vote_count, idea.comment_count) == ("open", 1, 0)
        assert votes.has_voted(session, author, idea)
        assert follows.follower_ids(session, idea.id) == [author.id]


def test_blocked_or_anonymous_cannot_submit(db, make_user, make_board) -> None:
    member, board = make_user(), make_board()
    with db.transaction() as session:
        with pytest.raises(Forbidden):
            idea_rules.submit(session, None, board, "A decent title", "")  # type: ignore[arg-type]
        user = session.get(User, member.id)
        user.blocked_at = utcnow()
        with pytest.raises(Forbidden):
            idea_rules.submit(session, user, board, "A decent title", "")


# Editing ------------------------------------------------------------------------------------


def test_author_and_staff_may_edit_others_may_not(db, make_user, make_idea) -> None:
    author, staff, other = make_user(), make_user("staff"), make_user()
    idea = make_idea(author=author)
    with db.transaction() as session:
        row = session.get(Idea, idea.id)
        idea_rules.edit(session, session.get(User, author.id), row, "Edited by the author", "x")
        with pytest.raises(Forbidden):
            idea_rules.edit(session, session.get(User, other.id), row, "Edited by another", "")
        with pytest.raises(ValidationError):
            idea_rules.edit(session, session.get(User, author.id), row, "short", "")
    with db.reading() as session:
        row = session.get(Idea, idea.id)
        assert (row.title, row.description) == ("Edited by the author", "x")
        # The author's own edits are not audited.
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    with db.transaction() as session:
        row = session.get(Idea, idea.id)
        before = row.updated_at
        idea_rules.edit(session, session.get(User, staff.id), row, "  Edited  by staff ", "")
    with db.reading() as session:
        row = session.get(Idea, idea.id)
        assert row.title == "Edited by staff" and row.updated_at >= before
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.actor_id, entry.target_id) == ("idea.edit", staff.id, idea.id)
        assert entry.details == {"old_title": "Edited by the author"}


def test_blocked_author_cannot_edit(db, make_user, make_idea) -> None:
    author = make_user()
    idea = make_idea(author=author)
    with db.transaction() as session:
        user = session.get(User, author.id)
        user.blocked_at = utcnow()
        with pytest.raises(Forbidden):
            idea_rules.edit(session, user, session.get(Idea, idea.id), "A new title here", "")


# Listing ------------------------------------------------------------------------------------


def test_listing_filters_by_board_and_status(db, make_user, make_board) -> None:
    author, staff = make_user(), make_user("staff")
    web, mobile = make_board("Web"), make_board("Mobile")
    web_ideas = submit_many(db, author, web, ["Web idea one", "Web idea two", "Web idea three"])
    submit_many(db, author, mobile, ["Mobile idea one"])
    with db.transaction() as session:
        idea_rules.set_status(
            session, session.get(User, staff.id), session.get(Idea, web_ideas[1].id), "planned"
        )
    with db.reading() as session:
        assert idea_rules.listing(session, None).total == 4
        assert idea_rules.listing(session, None, board=web).total == 3
        assert idea_rules.listing(session, None, board=mobile).total == 1
        planned = idea_rules.listing(session, None, status="planned")
        assert titles_of(planned) == ["Web idea two"]
        assert idea_rules.listing(session, None, board=mobile, status="planned").total == 0
        # An unknown status filters nothing.
        assert idea_rules.listing(session, None, status="bogus").total == 4


def test_search_terms_are_anded_and_case_insensitive(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    submit_many(
        db,
        author,
        board,
        ["Dark mode for the dashboard", "Dark theme for mobile", "Export to CSV files"],
        ["Easier on the eyes at NIGHT.", "Mobile too.", "Spreadsheets please."],
    )
    with db.reading() as session:

        def search(q: str) -> list[str]:
            return sorted(titles_of(idea_rules.listing(session, None, q=q)))

        assert search("dark") == ["Dark mode for the dashboard", "Dark theme for mobile"]
        assert search("DARK Mobile") == ["Dark theme for mobile"]
        assert search("night") == ["Dark mode for the dashboard"]  # descriptions too
        assert search("dark csv") == []
        assert search("  ") == sorted(titles_of(idea_rules.listing(session, None)))
        assert idea_rules.search_terms("a b c d e f g h i j") == list("abcdefgh")


def test_search_is_case_insensitive_beyond_ascii(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    submit_many(db, author, board, ["Perché l'università chiude", "Ärger mit Öffnungszeiten"])
    with db.reading() as session:

        def search(q: str) -> list[str]:
            return titles_of(idea_rules.listing(session, None, q=q))

        assert search("UNIVERSITÀ") == search("perché") == ["Perché l'università chiude"]
        assert search("ärger ÖFFNUNGSZEITEN") == ["Ärger mit Öffnungszeiten"]


def test_search_escapes_like_wildcards(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    submit_many(
        db,
        author,
        board,
        ["Raise limit to 100% quota", "Rename user_name field", "Rename username field"],
        ["", "", "Back\\slash in text"],
    )
    with db.reading() as session:

        def search(q: str) -> list[str]:
            return sorted(titles_of(idea_rules.listing(session, None, q=q)))

        assert search("100%") == ["Raise limit to 100% quota"]
        assert search("%") == ["Raise limit to 100% quota"]
        assert search("user_name") == ["Rename user_name field"]
        assert search("_") == ["Rename user_name field"]
        assert search("\\") == ["Rename username field"]
        assert search("back\\slash") == ["Rename username field"]


def test_sorts_top_new_and_trending(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    voters = [make_user() for _ in range(3)]
    old_favourite, recent_buzz, quiet = submit_many(
        db, author, board, ["Old favourite idea", "Recent buzz idea", "Quiet little idea"]
    )
    with db.transaction() as session:
        for voter in voters:  # 4 votes, all long ago
            votes.vote(session, session.get(User, voter.id), session.get(Idea, old_favourite.id))
        for voter in voters[:2]:  # 3 votes, recent
            votes.vote(session, session.get(User, voter.id), session.get(Idea, recent_buzz.id))
        session.execute(
            update(Vote)
            .where(Vote.idea_id == old_favourite.id)
            .values(created_at=utcnow() - timedelta(days=20))
        )
        # Creation order: quiet is the newest, the old favourite the oldest.
        for days, idea in ((30, old_favourite), (10, recent_buzz), (1, quiet)):
            session.execute(
                update(Idea)
                .where(Idea.id == idea.id)
                .values(created_at=utcnow() - timedelta(days=days))
            )
    trending.decay(db)  # the worker's, which lets the old votes leave the window
    with db.reading() as session:
        top = titles_of(idea_rules.listing(session, None, sort="top"))
        new = titles_of(idea_rules.listing(session, None, sort="new"))
        by_trend = titles_of(idea_rules.listing(session, None, sort="trending"))
    assert top == ["Old favourite idea", "Recent buzz idea", "Quiet little idea"]
    assert new == ["Quiet little idea", "Recent buzz idea", "Old favourite idea"]
    assert by_trend == ["Recent buzz idea", "Quiet little idea", "Old favourite idea"]


def test_trending_counts_votes_just_inside_the_window(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    inside, outside = submit_many(db, author, board, ["Inside the window", "Outside the window"])
    with db.transaction() as session:
        for idea, days in ((inside, 13), (outside, 15)):
            session.execute(
                update(Vote)
                .where(Vote.idea_id == idea.id)
                .values(created_at=utcnow() - timedelta(days=days))
            )
    trending.decay(db)
    with db.reading() as session:
        order = titles_of(idea_rules.listing(session, None, sort="trending"))
    # Equal totals; only the vote inside the 14 days counts as trending.
    assert order == ["Inside the window", "Outside the window"]


# Trending: the count kept on each idea (ideas.trending) ---------------------------------------


def cast(db, people, idea, vote: bool = True) -> None:
    with db.transaction() as session:
        target = session.get_one(Idea, idea.id)
        for person in people:
            (votes.vote if vote else votes.unvote)(
                session, session.get_one(User, person.id), target
            )


def age_votes(db, idea, age: timedelta, people=None) -> None:
    """Moves the idea's votes (those of ``people``, else all) back in time."""
    with db.transaction() as session:
        query = update(Vote).where(Vote.idea_id == idea.id)
        if people is not None:
            query = query.where(Vote.user_id.in_([person.id for person in people]))
        session.execute(query.values(created_at=utcnow() - age))


def recent(db, idea) -> int:
    with db.reading() as session:
        return session.get_one(Idea, idea.id).recent_votes


def check_recent_counts(db) -> None:
    """Every idea's kept count is its votes of the last 14 days."""
    with db.reading() as session:
        since = utcnow() - trending.WINDOW
        for idea in session.scalars(select(Idea)):
            rows = session.scalar(
                select(func.count()).where(Vote.idea_id == idea.id, Vote.created_at >= since)
            )
            assert idea.recent_votes == rows, idea.title


def trend(db, **filters) -> list[str]:
    with db.reading() as session:
        return titles_of(idea_rules.listing(session, None, sort="trending", **filters))


def test_trending_puts_recent_votes_first_then_all_votes_then_the_newest(
    db, make_user, make_board
) -> None:
    author, board = make_user(), make_board()
    people = [make_user() for _ in range(4)]
    old_hit, two, two_and_old, one_a, one_b = submit_many(
        db,
        author,
        board,
        [
            "Old hit, many votes",
            "Two recent votes",
            "Two recent, two old",
            "One vote A",
            "One vote B",
        ],
    )  # each with its author's vote
    cast(db, people, old_hit)
    age_votes(db, old_hit, timedelta(days=30))  # 5 votes, none recent
    cast(db, people[:1], two)  # 2 recent
    cast(db, people[:3], two_and_old)
    age_votes(db, two_and_old, timedelta(days=20), people[1:3])  # 2 recent of 4
    trending.decay(db)
    check_recent_counts(db)
    assert trend(db) == [
        "Two recent, two old",  # 2 recent, 4 in all
        "Two recent votes",  # 2 recent, 2 in all
        "One vote B",  # 1 and 1, as A: the newer first
        "One vote A",
        "Old hit, many votes",  # 5 votes, none in the last two weeks
    ]


def test_trending_follows_votes_and_unvotes_at_once(db, make_user, make_board) -> None:
    author, board, fan, other = make_user(), make_board(), make_user(), make_user()
    first, second = submit_many(db, author, board, ["The first idea", "The second idea"])
    cast(db, [fan, other], first)
    assert trend(db) == ["The first idea", "The second idea"]
    cast(db, [fan, other], first, vote=False)
    assert trend(db) == ["The second idea", "The first idea"]  # a tie: the newer first
    cast(db, [fan], first)
    assert trend(db) == ["The first idea", "The second idea"]
    # An old vote taken back leaves the recent count as it was.
    age_votes(db, first, timedelta(days=20), [fan])
    trending.decay(db)
    assert (recent(db, first), recent(db, second)) == (1, 1)
    assert trend(db) == ["The first idea", "The second idea"]  # 2 votes in all against 1
    cast(db, [fan], first, vote=False)
    assert (recent(db, first), recent(db, second)) == (1, 1)
    assert trend(db) == ["The second idea", "The first idea"]
    check_recent_counts(db)


def test_trending_counts_what_a_merge_carries_and_its_undo_takes_back(
    db, make_user, make_board
) -> None:
    author, staff, board = make_user(), make_user("staff"), make_board()
    people = [make_user() for _ in range(3)]
    source, target, rival = submit_many(
        db, author, board, ["Dark mode please", "A night theme please", "Export to CSV"]
    )
    cast(db, people, source)
    age_votes(db, source, timedelta(days=20), people[:1])  # 3 recent of 4
    cast(db, people[:2], rival)  # 3 recent
    trending.decay(db)
    assert trend(db) == ["Dark mode please", "Export to CSV", "A night theme please"]
    with db.transaction() as session:
        merges.merge(
            session,
            session.get_one(User, staff.id),
            session.get_one(Idea, source.id),
            session.get_one(Idea, target.id),
        )
    # Carried: the three voters' votes with their age (the author voted for the target already).
    assert recent(db, target) == 3
    assert trend(db) == ["A night theme please", "Export to CSV"]  # 3 recent, 4 in all
    check_recent_counts(db)
    with db.transaction() as session:
        merges.unmerge(session, session.get_one(User, staff.id), session.get_one(Idea, source.id))
    assert (recent(db, source), recent(db, target)) == (3, 1)
    assert trend(db) == ["Dark mode please", "Export to CSV", "A night theme please"]
    check_recent_counts(db)


def test_a_vote_leaves_trending_at_the_first_decay_run_after_its_14_days(
    db, make_user, make_board
) -> None:
    author, board = make_user(), make_board()
    popular, quiet = submit_many(db, author, board, ["Popular yesterday", "Quiet but newer"])
    cast(db, [make_user()], popular)
    age_votes(db, popular, timedelta(days=1))  # both its votes at one moment
    with db.reading() as session:
        (moment,) = set(session.scalars(select(Vote.created_at).where(Vote.idea_id == popular.id)))
    expected = ["Popular yesterday", "Quiet but newer"]
    for late in (timedelta(minutes=-1), timedelta(0)):  # 14 days old exactly: still inside
        assert trending.decay(db, now=moment + trending.WINDOW + late) == 0
        assert trend(db) == expected
    assert trending.decay(db, now=moment + trending.WINDOW + timedelta(minutes=1)) == 1
    assert (recent(db, popular), recent(db, quiet)) == (0, 1)
    assert trend(db) == ["Quiet but newer", "Popular yesterday"]
    assert trending.decay(db, now=moment + trending.WINDOW + timedelta(minutes=2)) == 0


def test_trending_keeps_filters_pages_and_totals(db, make_user, make_board) -> None:
    author, staff = make_user(), make_user("staff")
    web, mobile = make_board("Web"), make_board("Mobile")
    voters = [make_user() for _ in range(3)]
    ideas = submit_many(db, author, web, [f"Web idea number {n}" for n in range(5)])
    submit_many(db, author, mobile, ["Mobile idea number 0"])
    for n, idea in enumerate(ideas[:4]):
        cast(db, voters[:n], idea)  # 1, 2, 3 and 4 votes; the fifth idea has its author's
    with db.transaction() as session:
        team = session.get_one(User, staff.id)
        idea_rules.set_hidden(session, team, session.get_one(Idea, ideas[3].id), True)
        idea_rules.set_status(session, team, session.get_one(Idea, ideas[2].id), "planned")
    shown = ["Web idea number 2", "Web idea number 1", "Web idea number 4", "Web idea number 0"]
    assert trend(db, board=web) == shown
    assert trend(db, board=mobile) == ["Mobile idea number 0"]
    assert trend(db, status="planned") == ["Web idea number 2"]
    assert trend(db, q="number 4") == ["Web idea number 4"]
    with db.reading() as session:
        first = idea_rules.listing(session, None, web, sort="trending", per_page=3)
        second = idea_rules.listing(session, None, web, sort="trending", page=2, per_page=3)
        for_staff = idea_rules.listing(session, session.get_one(User, staff.id), web)
    assert (first.total, first.pages, titles_of(first) + titles_of(second)) == (4, 2, shown)
    assert (for_staff.total, titles_of(for_staff)) == (5, ["Web idea number 3", *shown])


def test_pagination_totals(db, make_user, make_board) -> None:
    author, board = make_user(), make_board()
    submit_many(db, author, board, [f"Idea number {n:02d}" for n in range(23)])
    with db.reading() as session:
        first = idea_rules.listing(session, None, sort="new", per_page=10)
        third = idea_rules.listing(session, None, sort="new", page=3, per_page=10)
        beyond = idea_rules.listing(session, None, sort="new", page=9, per_page=10)
        zero = idea_rules.listing(session, None, sort="new", page=0, per_page=10)
        all_titles = titles_of(idea_rules.listing(session, None, sort="new", per_page=100))
        paged = [
            title
            for n in (1, 2, 3)
            for title in titles_of(
                idea_rules.listing(session, None, sort="new", page=n, per_page=10)
            )
        ]
    assert (first.total, first.pages, len(first.items)) == (23, 3, 10)
    assert (third.page, len(third.items)) == (3, 3)
    assert beyond.items == [] and beyond.total == 23
    assert zero.page == 1 and titles_of(zero) == titles_of(first)
    assert paged == all_titles and len(set(paged)) == 23
    assert idea_rules.Page([], 0, 1, 20).pages == 1


def test_hidden_ideas_are_for_the_team_only(db, make_user, make_board) -> None:
    author, staff, member, board = make_user(), make_user("staff"), make_user(), make_board()
    shown, hidden = submit_many(db, author, board, ["A visible idea", "A hidden idea"])
    with db.transaction() as session:
        with pytest.raises(Forbidden):
            idea_rules.set_hidden(
                session, session.get(User, member.id), session.get(Idea, hidden.id), True
            )
        idea_rules.set_hidden(
            session, session.get(User, staff.id), session.get(Idea, hidden.id), True, " spam "
        )
    with db.reading() as session:
        for viewer in (None, session.get(User, member.id), session.get(User, author.id)):
            assert titles_of(idea_rules.listing(session, viewer)) == ["A visible idea"]
            with pytest.raises(NotFound):
                idea_rules.get(session, hidden.id, viewer)
            assert idea_rules.get(session, shown.id, viewer).id == shown.id
        staff_user = session.get(User, staff.id)
        assert idea_rules.listing(session, staff_user).total == 2
        assert idea_rules.get(session, hidden.id, staff_user).id == hidden.id
        assert [idea.id for idea in idea_rules.hidden_ideas(session)] == [hidden.id]
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.details) == ("idea.hide", {"reason": "spam"})
        with pytest.raises(NotFound):
            idea_rules.get(session, 999_999, staff_user)
    with db.transaction() as session:
        idea_rules.set_hidden(
            session, session.get(User, staff.id), session.get(Idea, hidden.id), False
        )
    with db.reading() as session:
        assert idea_rules.listing(session, None).total == 2
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["idea.hide", "idea.restore"]


def test_ids_voted_by(db, make_user, make_board) -> None:
    author, other, board = make_user(), make_user(), make_board()
    first, second = submit_many(db, author, board, ["First idea here", "Second idea here"])
    with db.reading() as session:
        ids = [first.id, second.id]
        assert idea_rules.ids_voted_by(session, author, ids) == set(ids)
        assert idea_rules.ids_voted_by(session, other, ids) == set()
        assert idea_rules.ids_voted_by(session, None, ids) == set()
        assert idea_rules.ids_voted_by(session, author, []) == set()


# Status changes -----------------------------------------------------------------------------


def test_set_status_records_history_notifies_followers_once_and_audits(
    db, make_user, make_board
) -> None:
    author, staff, voter, commenter, board = (
        make_user(),
        make_user("staff"),
        make_user(),
        make_user(),
        make_board(),
    )
    (idea,) = submit_many(db, author, board, ["Export the roadmap"])
    with db.transaction() as session:
        row = session.get(Idea, idea.id)
        votes.vote(session, session.get(User, voter.id), row)
        follows.follow(session, session.get(User, voter.id), idea.id)  # twice: still once
        follows.follow(session, session.get(User, commenter.id), idea.id)
        follows.follow(session, session.get(User, staff.id), idea.id)  # the actor himself
    with db.transaction() as session:
        actor, row = session.get(User, staff.id), session.get(Idea, idea.id)
        idea_rules.set_status(session, actor, row, "planned", "  Next quarter.  ")
    with db.reading() as session:
        row = session.get(Idea, idea.id)
        assert row.status == "planned"
        (change,) = idea_rules.status_history(session, row)
        assert (change.from_status, change.to_status, change.note, change.actor_id) == (
            "open",
            "planned",
            "Next quarter.",
            staff.id,
        )
        notified = session.scalars(select(Notification.user_id).order_by(Notification.user_id))
        assert list(notified) == sorted([author.id, voter.id, commenter.id])
        note = session.scalars(select(Notification)).first()
        assert note.kind == "status_changed" and note.actor_id == staff.id
        assert note.data == {"old": "open", "new": "planned", "note": "Next quarter."}
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.details) == ("idea.status", {"old": "open", "new": "planned"})


def test_set_status_rules(db, make_user, make_idea) -> None:
    staff, member = make_user("staff"), make_user()
    idea = make_idea()
    with db.transaction() as session:
        row = session.get(Idea, idea.id)
        with pytest.raises(Forbidden):
            idea_rules.set_status(session, session.get(User, member.id), row, "planned")
        actor = session.get(User, staff.id)
        with pytest.raises(ValidationError) as caught:
            idea_rules.set_status(session, actor, row, "finished", "n" * 2001)
        assert set(caught.value.fields) == {"status", "note"}
        # The same status without a note is no change at all.
        idea_rules.set_status(session, actor, row, "open")
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(StatusChange)) == 0
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
    with db.transaction() as session:
        # The same status with a note is an update followers hear of.
        row, actor = session.get(Idea, idea.id), session.get(User, staff.id)
        idea_rules.set_status(session, actor, row, "open", "Still collecting feedback.")
        idea_rules.set_status(session, actor, row, "under_review")
        idea_rules.set_status(session, actor, row, "shipped", "Out now.")
    with db.reading() as session:
        history = idea_rules.status_history(session, session.get(Idea, idea.id))
        assert [(change.from_status, change.to_status) for change in history] == [
            ("open", "open"),
            ("open", "under_review"),
            ("under_review", "shipped"),
        ]
        assert session.scalar(select(func.count()).select_from(Notification)) == 3


def test_lock_comments(db, make_user, make_idea) -> None:
    staff, member = make_user("staff"), make_user()
    idea = make_idea()
    with db.transaction() as session:
        row = session.get(Idea, idea.id)
        with pytest.raises(Forbidden):
            idea_rules.set_comments_locked(session, session.get(User, member.id), row, True)
        idea_rules.set_comments_locked(session, session.get(User, staff.id), row, True)
        idea_rules.set_comments_locked(session, session.get(User, staff.id), row, True)
    with db.transaction() as session:
        assert session.get(Idea, idea.id).comments_locked
        idea_rules.set_comments_locked(
            session, session.get(User, staff.id), session.get(Idea, idea.id), False
        )
    with db.reading() as session:
        assert not session.get(Idea, idea.id).comments_locked
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["idea.lock_comments", "idea.unlock_comments"]
