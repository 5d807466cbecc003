"""Similar ideas: the per-process index, catching up with other processes, what never shows."""

from __future__ import annotations

import pytest

from ideas import embeddings, merges
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.similar import SimilarIdeas
from ml.embedders import HashingEmbedder

TITLES = [
    ("Export the roadmap as CSV", "A spreadsheet for our weekly meeting."),
    ("Dark mode for the whole portal", "Easier on the eyes at night."),
    ("Email me when an idea I voted for ships", ""),
    ("Keyboard shortcuts for voting", ""),
]


@pytest.fixture
def shared() -> embeddings.SharedEmbedder:
    return embeddings.SharedEmbedder(HashingEmbedder())


def embedded(db: Database, shared: embeddings.SharedEmbedder, ideas: list) -> None:  # type: ignore[type-arg]
    with db.transaction() as session:
        embeddings.store(session, shared, ideas)


def test_finds_the_closest_idea_first(db: Database, make_idea, make_board, shared) -> None:
    board = make_board()
    ideas = [make_idea(title, body, board=board) for title, body in TITLES]
    embedded(db, shared, ideas)
    found = SimilarIdeas(db, shared).similar("export roadmap to csv", limit=3)
    assert found[0].idea.id == ideas[0].id
    assert len(found) == 3 and 0.0 <= found[-1].score <= found[0].score <= 1.0
    assert found[0].idea.title == TITLES[0][0] and found[0].idea.vote_count == 1
    assert SimilarIdeas(db, shared).similar("   ") == []


def test_an_empty_portal_finds_nothing(db: Database, shared) -> None:
    assert SimilarIdeas(db, shared).similar("Dark mode") == []


def test_board_filter(db: Database, make_idea, make_board, shared) -> None:
    web, mobile = make_board("Web"), make_board("Mobile")
    on_web = make_idea("Dark mode for the portal", board=web)
    on_mobile = make_idea("Dark mode for the app", board=mobile)
    embedded(db, shared, [on_web, on_mobile])
    index = SimilarIdeas(db, shared)
    assert [m.idea.id for m in index.similar("dark mode", mobile.id)] == [on_mobile.id]
    assert {m.idea.id for m in index.similar("dark mode")} == {on_web.id, on_mobile.id}


def test_merged_and_hidden_never_show_closed_ones_do(
    db: Database, make_idea, make_board, make_user, shared
) -> None:
    board, team = make_board(), make_user("staff")
    kept = make_idea("Dark mode for the portal", board=board)
    merged = make_idea("Dark mode please", board=board)
    hidden = make_idea("Dark mode now", board=board)
    shipped = make_idea("Dark theme for the portal", board=board)
    embedded(db, shared, [kept, merged, hidden, shipped])
    index = SimilarIdeas(db, shared, refresh_seconds=0)
    assert len(index.similar("dark mode", limit=10)) == 4  # indexed before the changes below
    with db.transaction() as session:
        merges.merge(
            session, team, session.get(type(merged), merged.id), session.get(type(kept), kept.id)
        )
        idea_rules.set_hidden(session, team, session.get(type(hidden), hidden.id), True)
        idea_rules.set_status(session, team, session.get(type(shipped), shipped.id), "shipped")
    found = {m.idea.id: m.idea for m in index.similar("dark mode", limit=10)}
    assert set(found) == {kept.id, shipped.id}
    assert found[shipped.id].status == "shipped"
    # a process starting now does not even load them
    fresh = SimilarIdeas(db, shared)
    fresh.catch_up(force=True)
    assert fresh.index is not None and set(fresh.index.ids.tolist()) == {kept.id, shipped.id}


def test_catches_up_with_ideas_written_by_another_process(
    database_url: str, db: Database, make_idea, make_board, shared
) -> None:
    """Two Database objects on one database stand for two web processes."""
    other_process = Database(database_url)
    try:
        board = make_board()
        first = make_idea("Export the roadmap as CSV", board=board)
        embedded(db, shared, [first])
        index = SimilarIdeas(other_process, shared, refresh_seconds=0)
        assert [m.idea.id for m in index.similar("roadmap csv export")] == [first.id]

        second = make_idea("Download the roadmap as a CSV file", board=board)
        embedded(db, shared, [second])  # written by "this" process
        assert {m.idea.id for m in index.similar("roadmap csv export")} == {first.id, second.id}

        # a process that looked less than refresh_seconds ago answers from what it has
        slow = SimilarIdeas(other_process, shared, refresh_seconds=3600)
        assert len(slow.similar("roadmap csv")) == 2
        third = make_idea("Roadmap CSV export please", board=board)
        embedded(db, shared, [third])
        assert len(slow.similar("roadmap csv")) == 2
        assert slow.catch_up(force=True) >= 1
        assert len(slow.similar("roadmap csv")) == 3
    finally:
        other_process.dispose()


def test_a_model_change_shows_the_new_vectors_once_rebuilt(
    db: Database, make_idea, make_board
) -> None:
    board = make_board()
    ideas = [make_idea(title, body, board=board) for title, body in TITLES]
    old = embeddings.SharedEmbedder(HashingEmbedder(n_features=1024))
    embedded(db, old, ideas)
    new = embeddings.SharedEmbedder(HashingEmbedder())
    index_new = SimilarIdeas(db, new, refresh_seconds=0)
    assert index_new.similar("dark mode") == []  # no vector of its model yet
    index_old = SimilarIdeas(db, old, refresh_seconds=0)
    assert index_old.similar("dark mode")[0].idea.id == ideas[1].id
    embeddings.rebuild(db, new)
    assert index_new.similar("dark mode")[0].idea.id == ideas[1].id
    # the old model's process keeps answering from what it loaded
    assert index_old.similar("dark mode")[0].idea.id == ideas[1].id
