"""Similar ideas: the per-process index, catching up with other processes, what never shows."""

from __future__ import annotations

import threading
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import event, update

from ideas import embeddings, merges
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import Idea, IdeaEmbedding, utcnow
from ideas.similar import OVERLAP, SimilarIdeas
from ml.duplicates import HASHING, SHIPPED
from ml.embedders import HashingEmbedder
from ml.index import GraphIndex, VectorIndex

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


def test_the_scorer_has_the_constants_for_its_embedders_vectors(db: Database, shared) -> None:
    assert SimilarIdeas(db, shared).scorer.constants() == SHIPPED[HASHING]


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


def _written_at(db: Database, ideas: list, when: datetime) -> None:  # type: ignore[type-arg]
    with db.transaction() as session:
        session.execute(
            update(IdeaEmbedding)
            .where(IdeaEmbedding.idea_id.in_([idea.id for idea in ideas]))
            .values(updated_at=when)
        )


def test_a_quiet_portal_rereads_nothing(db: Database, make_idea, make_board, shared) -> None:
    """Vectors written long ago (as `embeddings rebuild` leaves them, once the clock has moved on)
    are read once, not at every look."""
    board = make_board()
    ideas = [make_idea(title, body, board=board) for title, body in TITLES]
    embedded(db, shared, ideas)
    _written_at(db, ideas, utcnow() - 2 * OVERLAP)
    index = SimilarIdeas(db, shared)
    assert index.catch_up(force=True) == len(ideas)
    assert index.catch_up(force=True) == 0
    assert index.catch_up(force=True) == 0


def test_a_vector_committed_after_a_look_but_written_before_it_is_caught(
    db: Database, make_idea, make_board, shared
) -> None:
    """A slow transaction stamps its vector before another process's look and commits after it."""
    board = make_board()
    first = make_idea("Export the roadmap as CSV", board=board)
    embedded(db, shared, [first])
    index = SimilarIdeas(db, shared)
    index.catch_up(force=True)
    late = make_idea("Download the roadmap as a CSV file", board=board)
    embedded(db, shared, [late])
    _written_at(db, [late], utcnow() - OVERLAP / 2)  # stamped before the look above
    assert index.catch_up(force=True) >= 1
    assert late.id in index.index  # type: ignore[operator]


def test_on_sqlite_each_look_reads_an_index_in_order(
    db: Database, make_idea, make_board, shared
) -> None:
    """Read by the wrong index, a look sorted every stored vector: 1.7 s at 1,000,000 ideas."""
    if not db.is_sqlite:
        pytest.skip("SQLite's plans; PostgreSQL plans by its statistics")
    ideas = [make_idea(title, body, board=make_board()) for title, body in TITLES]
    embedded(db, shared, ideas)
    index = SimilarIdeas(db, shared)
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "FROM idea_embeddings" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        index.catch_up(force=True)  # the first look: every vector, in id order
        index.catch_up(force=True)  # later looks: those written since, in (updated_at, id) order
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    first, later = statements[0], statements[-1]
    with db.engine.connect() as connection:
        plans = [
            " ".join(
                row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)
            )
            for sql, args in (first, later)
        ]
    assert "ix_idea_embeddings_model (model=? AND rowid>?)" in plans[0], plans[0]
    assert "ix_idea_embeddings_model_updated (model=? AND updated_at>?)" in plans[1], plans[1]
    assert not any("TEMP B-TREE" in plan for plan in plans), plans


MORE_TITLES = [
    "Export the roadmap to a spreadsheet",
    "Dark theme for the portal at night",
    "Email when a voted idea is shipped",
    "Shortcut keys to vote faster",
    "Roadmap export in CSV format",
    "A darker colour scheme",
    "Notify me by email about shipped ideas",
    "Vote with the keyboard",
]


def test_from_approximate_from_ideas_a_graph_answers_as_exact_search_does(
    db: Database, make_idea, make_board, make_user, shared
) -> None:
    board, team = make_board(), make_user("staff")
    ideas = [make_idea(t, board=board) for t in [t for t, _ in TITLES] + MORE_TITLES]
    embedded(db, shared, ideas)
    exact = SimilarIdeas(db, shared, refresh_seconds=0, approximate_from=10**9)
    graph = SimilarIdeas(db, shared, refresh_seconds=0, approximate_from=len(ideas))
    graph.catch_up(force=True)
    assert graph.graph_builder is not None
    graph.graph_builder.join(timeout=60)
    assert isinstance(graph.index, GraphIndex)

    def shown(index: SimilarIdeas, text: str) -> list[tuple[int, float]]:
        return [(m.idea.id, round(m.score, 4)) for m in index.similar(text, limit=5)]

    for text in ["export roadmap csv", "dark mode", "keyboard voting", "email when shipped"]:
        assert shown(graph, text) == shown(exact, text)
    # it keeps up with new ideas and merges, as the exact index does
    new = make_idea("Roadmap as a CSV download", board=board)
    embedded(db, shared, [new])
    with db.transaction() as session:
        merges.merge(session, team, session.get(Idea, ideas[0].id), session.get(Idea, new.id))
    assert shown(graph, "export roadmap csv") == shown(exact, "export roadmap csv")
    assert new.id in graph.index and ideas[0].id not in graph.index  # type: ignore[operator]


def test_what_changes_while_the_graph_is_built_is_replayed_before_it_answers(
    db: Database, make_idea, make_board, make_user, shared
) -> None:
    board, team = make_board(), make_user("staff")
    ideas = [make_idea(t, board=board) for t in MORE_TITLES]
    embedded(db, shared, ideas)
    similar = SimilarIdeas(db, shared, refresh_seconds=0, approximate_from=10**9)
    similar.catch_up(force=True)
    exact = similar.index
    assert isinstance(exact, VectorIndex)
    similar.graph_builder = threading.current_thread()  # a build is under way: changes are kept
    graph = similar._graph_of(exact)
    assert graph is not None and similar.index is exact  # built, not answering yet
    # meanwhile: a new idea, a merged one, an edited one (its vector replaced)
    new = make_idea("Export ideas to Excel", board=board)
    embedded(db, shared, [new])
    with db.transaction() as session:
        merges.merge(session, team, session.get(Idea, ideas[1].id), session.get(Idea, ideas[5].id))
        edited = session.get(Idea, ideas[2].id)
        edited.title = "Weekly email digest of shipped ideas"
        embeddings.store(session, shared, [edited])
    similar.catch_up(force=True)
    assert similar._switch_to(graph, exact) and similar.index is graph
    assert set(graph.ids.tolist()) == set(exact.ids.tolist())
    assert new.id in graph and ideas[1].id not in graph
    np.testing.assert_allclose(graph.get([ideas[2].id]), exact.get([ideas[2].id]))


def test_vectors_read_again_unchanged_are_left_alone(
    db: Database, make_idea, make_board, shared
) -> None:
    """After `embeddings rebuild` every vector is new by its date, and a graph being built would
    otherwise have to re-link each one again at every look for OVERLAP."""
    board = make_board()
    ideas = [make_idea(t, board=board) for t in MORE_TITLES]
    embedded(db, shared, ideas)
    similar = SimilarIdeas(db, shared, refresh_seconds=0, approximate_from=10**9)
    similar.catch_up(force=True)
    similar.graph_builder = threading.current_thread()  # a build is under way: changes are kept
    embedded(db, shared, ideas)  # the same vectors, written again now
    with db.transaction() as session:
        edited = session.get(Idea, ideas[3].id)
        edited.title = "Vote from the keyboard with shortcuts"
        embeddings.store(session, shared, [edited])
    assert similar.catch_up(force=True) == len(ideas)  # all read again...
    assert [added for added, _ in similar._changes if added] == [[ideas[3].id]]  # ...one changed
