"""Imports: Fider's posts.csv, the generic CSV and JSON formats, idempotence, bad rows reported
with their line and field, authors matched by email, and the ML steps after an import."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ideas import importer
from ideas.embeddings import make_shared
from ideas.models import (
    Board,
    Comment,
    DuplicateCandidate,
    Idea,
    IdeaEmbedding,
    ImportRef,
    Job,
    StatusChange,
    User,
    Vote,
)

# The header of Fider's export, as app/pkg/csv/csv.go writes it.
FIDER_HEADER = [
    "number",
    "title",
    "description",
    "created_at",
    "created_by",
    "votes_count",
    "comments_count",
    "status",
    "responded_by",
    "responded_at",
    "response",
    "original_number",
    "original_title",
    "tags",
]
FIDER_ROWS = [
    ["1", "Dark mode for the dashboard", "Night shifts\nhurt our eyes", "2023-01-05T10:00:00Z",
     "Jon Snow", "12", "3", "open", "", "", "", "", "", "ui, accessibility"],
    ["2", "Export invoices as CSV", "For our accountant", "2023-02-01T08:30:00Z",
     "Arya Stark", "7", "0", "completed", "Sansa Stark", "2023-03-01T09:00:00Z",
     "Shipped in 2.4!", "", "", ""],
    ["3", "Invoices exported to CSV", "", "2023-02-10T08:30:00Z",
     "Jon Snow", "2", "0", "duplicate", "Sansa Stark", "2023-02-11T09:00:00Z",
     "Already asked", "2", "Export invoices as CSV", ""],
    ["4", "Short", "", "2023-02-12T08:30:00Z", "Jon Snow", "0", "0", "open",
     "", "", "", "", "", ""],
    ["5", "A post deleted in Fider", "", "2023-02-13T08:30:00Z", "Jon Snow", "1", "0",
     "deleted", "", "", "", "", "", ""],
    ["6", "Single sign-on with Okta", "SAML please", "2023-03-01T12:00:00Z", "Bran Stark",
     "30", "5", "started", "", "", "", "", "", ""],
]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def ideas_by_ref(db, source: str) -> dict[str, Idea]:  # type: ignore[no-untyped-def]
    with db.reading() as session:
        rows = session.execute(
            select(ImportRef.external_id, Idea)
            .join(Idea, Idea.id == ImportRef.idea_id)
            .where(ImportRef.source == source)
        ).all()
        return {external_id: idea for external_id, idea in rows}


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_fider_export_is_imported_with_its_statuses_counts_and_answers(db, tmp_path) -> None:
    posts = write_csv(tmp_path / "posts.csv", FIDER_HEADER, FIDER_ROWS)

    report = importer.run(db, posts, board="Product")

    assert report.format == "fider" and report.source == "fider"
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    assert [(p.line, p.field) for p in report.skipped] == [(6, "title"), (7, "status")]
    assert "deleted in Fider" in report.skipped[1].message
    ideas = ideas_by_ref(db, "fider")
    assert sorted(ideas) == ["1", "2", "3", "6"]
    assert {number: idea.status for number, idea in ideas.items()} == {
        "1": "open",
        "2": "shipped",
        "3": "open",
        "6": "in_progress",
    }
    # Counts are kept as counts: nobody is invented to stand behind them.
    assert {number: idea.vote_count for number, idea in ideas.items()} == {
        "1": 12,
        "2": 7,
        "3": 2,
        "6": 30,
    }
    assert count(db, Vote) == 0
    assert ideas["1"].description == "Night shifts\nhurt our eyes"
    assert ideas["1"].created_at.isoformat() == "2023-01-05T10:00:00+00:00"
    with db.reading() as session:
        authors = {idea.author_id for idea in (ideas["1"], ideas["3"])}
        assert len(authors) == 1  # "Jon Snow" twice: one account
        jon = session.get_one(User, authors.pop())
        assert jon.name == "Jon Snow" and jon.password_hash is None
        assert jon.email.endswith("@fider.import.invalid") and jon.email_updates == "never"
        board = session.get_one(Board, ideas["1"].board_id)
        assert board.name == "Product"
        answer = session.scalars(
            select(StatusChange).where(StatusChange.idea_id == ideas["2"].id)
        ).one()
        assert (answer.to_status, answer.note) == ("shipped", "Shipped in 2.4!")
        assert answer.actor.name == "Sansa Stark"
        assert answer.created_at.isoformat() == "2023-03-01T09:00:00+00:00"
        # The duplicate goes to the team's queue beside its original.
        pair = session.scalars(select(DuplicateCandidate)).one()
        assert {pair.idea_id, pair.other_id} == {ideas["2"].id, ideas["3"].id}
        assert pair.status == "pending"
    assert report.duplicates_from_file == 1
    assert count(db, Job) == 0  # nobody is emailed about an import


def test_importing_the_same_file_again_updates_and_never_duplicates(db, tmp_path) -> None:
    posts = write_csv(tmp_path / "posts.csv", FIDER_HEADER, FIDER_ROWS)
    importer.run(db, posts, board="Product")
    before = ideas_by_ref(db, "fider")
    people = count(db, User)

    again = importer.run(db, posts, board="Product")

    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert again.people_created == 0 and count(db, User) == people
    assert count(db, Idea) == 4 and count(db, StatusChange) == 2  # two answers
    assert count(db, DuplicateCandidate) == 1

    changed = [list(row) for row in FIDER_ROWS]
    changed[0][1], changed[0][5] = "Dark mode for the whole dashboard", "15"
    importer.run(db, write_csv(tmp_path / "posts.csv", FIDER_HEADER, changed), board="Product")
    after = ideas_by_ref(db, "fider")
    assert after["1"].id == before["1"].id
    assert (after["1"].title, after["1"].vote_count) == ("Dark mode for the whole dashboard", 15)
    assert count(db, Idea) == 4


def test_votes_cast_here_after_an_import_stay_counted_on_a_second_import(
    db, tmp_path, make_user
) -> None:
    from ideas import votes

    posts = write_csv(tmp_path / "posts.csv", FIDER_HEADER, FIDER_ROWS)
    importer.run(db, posts, board="Product")
    voter = make_user()
    idea_id = ideas_by_ref(db, "fider")["1"].id
    with db.transaction() as session:
        votes.vote(session, session.get_one(User, voter.id), session.get_one(Idea, idea_id))
    assert ideas_by_ref(db, "fider")["1"].vote_count == 13

    importer.run(db, posts, board="Product")

    assert ideas_by_ref(db, "fider")["1"].vote_count == 13  # Fider's 12 and the one cast here


def test_an_older_fider_export_with_total_votes_and_capitalised_statuses(db, tmp_path) -> None:
    header = [c.replace("votes_count", "total_votes") for c in FIDER_HEADER]
    header = [c.replace("comments_count", "total_comments") for c in header]
    rows = [["10", "Go is fast indeed", "", "2018-03-23T19:33:22Z", "Faceless", "4", "2",
             "Declined", "John Snow", "2018-04-04T19:48:10Z", "Nothing to do", "", "",
             "easy, ignored"]]  # fmt: skip
    report = importer.run(db, write_csv(tmp_path / "old.csv", header, rows), board="Go")
    assert report.format == "fider" and report.created == 1
    idea = ideas_by_ref(db, "fider")["10"]
    assert (idea.status, idea.vote_count) == ("declined", 4)


GENERIC_HEADER = [
    "external_id",
    "title",
    "description",
    "board",
    "author_email",
    "author_name",
    "status",
    "votes",
    "created_at",
    "comments",
]


def test_a_generic_csv_matches_authors_by_email_and_reports_bad_rows_by_line(
    db, tmp_path, make_user
) -> None:
    known = make_user(email="ada@example.com", name="Ada")
    comments = json.dumps(
        [
            {"body": "Yes please", "author_email": "bob@example.com", "created_at": "2024-01-03"},
            {"body": "Same here", "author_name": "Carol"},
        ]
    )
    rows = [
        ["A-1", "Keyboard shortcuts everywhere", "Line one\nline two\nline three", "Web app",
         "ADA@example.com", "", "under review", "bob@example.com; carol@example.com",
         "2024-01-02T10:00:00+02:00", comments],
        ["A-2", "Bad status for this idea", "", "Web app", "ada@example.com", "", "someday",
         "", "", ""],
        ["A-3", "Bad date for this idea", "", "Web app", "ada@example.com", "", "open",
         "", "yesterday", ""],
        ["A-4", "Bad voters for this idea", "", "Web app", "ada@example.com", "", "open",
         "not-an-email", "", ""],
        ["A-5", "Counted votes for this idea", "", "Mobile", "dan@example.com", "Dan", "planned",
         "42", "", ""],
        ["A-6", "Nobody wrote this idea", "", "Mobile", "", "", "open", "", "", ""],
    ]  # fmt: skip
    report = importer.run(db, write_csv(tmp_path / "ideas.csv", GENERIC_HEADER, rows))

    assert report.format == "csv" and report.source == "csv"
    assert report.created == 2
    # The first row spans lines 2-4 (its description has two line breaks).
    assert [(p.line, p.field) for p in report.skipped] == [
        (5, "status"),
        (6, "created_at"),
        (7, "votes"),
        (9, "author_email"),
    ]
    assert "not-an-email" in report.skipped[2].message
    ideas = ideas_by_ref(db, "csv")
    first, counted = ideas["A-1"], ideas["A-5"]
    assert first.author_id == known.id  # found by email, whatever its case
    assert first.status == "under_review"
    assert first.created_at.isoformat() == "2024-01-02T08:00:00+00:00"
    with db.reading() as session:
        voters = session.scalars(
            select(User.email).join(Vote, Vote.user_id == User.id).where(Vote.idea_id == first.id)
        ).all()
        assert sorted(voters) == ["bob@example.com", "carol@example.com"]
        assert session.get_one(Idea, first.id).vote_count == 2
        bob = session.scalar(select(User).where(User.email == "bob@example.com"))
        assert bob is not None and bob.password_hash is None and bob.email_updates == "immediately"
        said = session.scalars(
            select(Comment).where(Comment.idea_id == first.id).order_by(Comment.id)
        ).all()
        assert [(c.body, c.author.name) for c in said] == [
            ("Yes please", "bob"),
            ("Same here", "Carol"),
        ]
        assert session.get_one(Idea, first.id).comment_count == 2
        assert session.get_one(Idea, counted.id).vote_count == 42
        assert session.get_one(User, counted.author_id).name == "Dan"
        assert {b.name for b in session.scalars(select(Board))} == {"Web app", "Mobile"}
    assert report.people_created == 4  # bob, carol, Carol (by name only) and dan
    assert count(db, Job) == 0


def test_a_json_file_reports_bad_records_by_the_line_they_start_on(db, tmp_path) -> None:
    path = tmp_path / "ideas.json"
    path.write_text(
        "[\n"
        '  {"external_id": 7, "title": "Offline mode for the app", "board": "Mobile",\n'
        '   "author_email": "eve@example.com", "votes": ["eve@example.com"],\n'
        '   "created_at": "2024-05-01T09:00:00Z"},\n'
        '  {"external_id": 8, "title": "Too",\n'
        '   "board": "Mobile", "author_email": "eve@example.com"},\n'
        '  {"external_id": 9, "title": "Widgets on the home screen", "board": "Mobile",\n'
        '   "author_name": "Frank", "votes": 5}\n'
        "]\n",
        encoding="utf-8",
    )
    report = importer.run(db, path)

    assert report.format == "json" and report.created == 2
    assert [(p.line, p.field) for p in report.skipped] == [(5, "title")]
    assert report.skipped[0].message == "At least 8 characters."
    ideas = ideas_by_ref(db, "json")
    assert ideas["7"].vote_count == 1 and ideas["9"].vote_count == 5


def test_strict_imports_nothing_when_a_row_is_bad(db, tmp_path) -> None:
    posts = write_csv(tmp_path / "posts.csv", FIDER_HEADER, FIDER_ROWS)
    with pytest.raises(importer.ImportAborted) as aborted:
        importer.run(db, posts, board="Product", strict=True)
    assert [(p.line, p.field) for p in aborted.value.problems] == [(6, "title"), (7, "status")]
    assert count(db, Idea) == 0 and count(db, User) == 0 and count(db, Board) == 0


def test_rows_without_a_board_need_one_when_there_are_several(db, tmp_path, make_board) -> None:
    make_board("One")
    make_board("Two")
    rows = [["B-1", "An idea without a board", "", "", "x@example.com", "", "", "", "", ""]]
    report = importer.run(db, write_csv(tmp_path / "ideas.csv", GENERIC_HEADER, rows))
    assert [(p.line, p.field) for p in report.skipped] == [(2, "board")]
    assert count(db, Idea) == 0 and count(db, User) == 0  # the row's work was rolled back


def test_a_file_that_cannot_be_read_says_why(db, tmp_path) -> None:
    no_title = write_csv(tmp_path / "ideas.csv", ["name", "text"], [["a", "b"]])
    with pytest.raises(importer.ImportFileError, match="no title column"):
        importer.run(db, no_title)
    broken = tmp_path / "ideas.json"
    broken.write_text('[{"title": "Fine title here"},\n {"title": ', encoding="utf-8")
    with pytest.raises(importer.ImportFileError, match="line 2"):
        importer.run(db, broken)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("title\nCaf\xe9 au lait for all\n".encode("latin-1"))
    with pytest.raises(importer.ImportFileError, match="not UTF-8"):
        importer.run(db, latin)


def test_imported_ideas_are_embedded_scanned_for_duplicates_and_clustered(db, tmp_path) -> None:
    titles = [
        "Dark mode for the dashboard",
        "Dark mode for the dashboard please",
        "Export invoices as a CSV file",
        "Single sign-on with Okta and SAML",
        "Keyboard shortcuts for power users",
        "Offline mode for the mobile app",
        "Webhooks when an invoice is paid",
    ]
    rows = [
        [f"T-{n}", title, "", "Product", "t@example.com", "", "", "", "", ""]
        for n, title in enumerate(titles)
    ]
    report = importer.run(db, write_csv(tmp_path / "ideas.csv", GENERIC_HEADER, rows))
    embedder = make_shared("hashing")

    embedded = importer.embed_ideas(db, embedder, report.idea_ids)
    queued, rebuilt = importer.scan_and_cluster(db, embedder.name)

    assert embedded == len(titles) == count(db, IdeaEmbedding)
    ideas = ideas_by_ref(db, "csv")
    with db.reading() as session:
        pairs = {(c.idea_id, c.other_id) for c in session.scalars(select(DuplicateCandidate))}
    assert queued == len(pairs) >= 1
    assert (ideas["T-0"].id, ideas["T-1"].id) in pairs
    assert [scope.ideas for scope in rebuilt.scopes] == [len(titles), len(titles)]

    # An update of the text replaces the idea's vector.
    with db.reading() as session:
        old = session.get_one(IdeaEmbedding, ideas["T-6"].id).vector
    rows[6][1] = "Webhooks when a subscription is cancelled"
    again = importer.run(db, write_csv(tmp_path / "ideas.csv", GENERIC_HEADER, rows))
    assert again.updated == 1
    importer.embed_ideas(db, embedder, again.idea_ids)
    with db.reading() as session:
        assert session.get_one(IdeaEmbedding, ideas["T-6"].id).vector != old
