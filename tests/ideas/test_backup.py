"""Backup and restore: a whole community comes back row for row, value for value, into a fresh
database; a database with data, a backup of another schema and a cut file are refused."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from ideas import (
    accounts,
    backup,
    comments,
    digest,
    duplicates,
    embeddings,
    importer,
    merges,
    ratelimits,
    roadmap,
    themes,
    votes,
)
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.keys import secret_key
from ideas.migrate import upgrade
from ideas.models import (
    Idea,
    IdeaEmbedding,
    MailDelivery,
    User,
    Webhook,
    WebhookDelivery,
    WeeklySnapshot,
)

DARK = [
    "Dark mode for the dashboard",
    "A dark theme for the dashboard please",
    "Dark mode on the mobile dashboard",
    "Night mode dark colours for the dashboard",
    "Dashboard dark mode toggle",
    "Support a dark colour scheme in the dashboard",
    "Dark mode for the reports in the dashboard",
]
EXPORT = [
    "Export the roadmap to CSV",
    "CSV export of the roadmap",
    "Export roadmap items as a CSV file",
    "Roadmap CSV export for spreadsheets",
    "Download the roadmap as CSV",
    "Export to CSV from the roadmap page",
    "Export the roadmap as a CSV spreadsheet",
]
MOBILE = ["Offline mode for the mobile app", "Widgets on the home screen"]
TITLES = DARK + EXPORT + MOBILE


@pytest.fixture
def fresh(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A second, empty, migrated database: a SQLite file, or a PostgreSQL database made for
    the test beside the test database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'restored.db'}")
        upgrade(database.engine)
        yield database
        database.dispose()
        return
    name = f"{url.database}_restore"
    admin = Database(database_url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(url.set(database=name).render_as_string(hide_password=False))
    upgrade(database.engine)
    try:
        yield database
    finally:
        database.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def fill(db: Database, make_user, make_board, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A community with a row in every table, made through the domain's own functions (the
    weekly export's and webhooks' tables, whose features are built elsewhere, get rows
    written directly)."""
    admin, team = make_user("admin"), make_user("staff")
    people = [make_user() for _ in range(5)]
    board = make_board("Product", vote_budget=10)
    other = make_board("Mobile")
    with db.transaction() as session:
        author = session.get_one(User, people[0].id)
        ideas = [
            idea_rules.submit(
                session, author, board if n < len(DARK + EXPORT) else other, title, f"About {n}"
            )
            for n, title in enumerate(TITLES)
        ]
        ids = [idea.id for idea in ideas]
    with db.transaction() as session:
        for person in people[1:]:
            for idea_id in ids[:5]:
                votes.vote(
                    session, session.get_one(User, person.id), session.get_one(Idea, idea_id)
                )
        first = comments.add(
            session, session.get_one(User, people[1].id), session.get_one(Idea, ids[0]), "Yes!"
        )
        comments.add(
            session,
            session.get_one(User, people[2].id),
            session.get_one(Idea, ids[0]),
            "Agreed",
            first.id,
        )
        accounts.set_customer(
            session,
            session.get_one(User, admin.id),
            session.get_one(User, people[3].id),
            "Enterprise",
            "2.35",
        )
        session.get_one(User, people[4].id).email_updates = "weekly"
        accounts.start_session(session, session.get_one(User, people[1].id))
        accounts.create_api_token(session, session.get_one(User, people[2].id))
    with db.transaction() as session:
        staff = session.get_one(User, team.id)
        idea_rules.set_status(
            session, staff, session.get_one(Idea, ids[2]), "under_review", "Looking"
        )
        # A later idea merged into an earlier one, and an earlier into a later: self-references
        # point both ways.
        merges.merge(session, staff, session.get_one(Idea, ids[3]), session.get_one(Idea, ids[2]))
        merges.merge(session, staff, session.get_one(Idea, ids[7]), session.get_one(Idea, ids[8]))
        item = roadmap.create(
            session,
            staff,
            roadmap.Fields("Invoices", target="2027-Q1", impact=2, confidence=0.5),
            [session.get_one(Idea, ids[2])],
            note="Next quarter",
        )
        roadmap.move(session, staff, item, "in_progress", note="Started")
        idea_rules.set_hidden(session, staff, session.get_one(Idea, ids[-1]), True, "spam")
    embedder = embeddings.make_shared("hashing")
    embeddings.rebuild(db, embedder)
    duplicates.scan(db, embedder.name)
    themes.rebuild(db, embedder.name)
    digest.fan_out(db, datetime.now(UTC) + timedelta(minutes=1))
    ratelimits.hit(db, "signin:127.0.0.1", 10, 300)
    secret_key(db, None)
    csv_file = tmp_path / "import.csv"
    csv_file.write_text("external_id,title,author_email\n1,Imported from elsewhere,i@example.com\n")
    importer.run(db, csv_file, board="Mobile")
    with db.transaction() as session:
        now = datetime.now(UTC)
        session.add(MailDelivery(key="status:1:2", message_id="<a@b>", sent_at=now))
        session.add(
            WeeklySnapshot(
                week="2026-W48",
                starts_at=now - timedelta(days=7),
                ends_at=now,
                time_zone="Europe/Rome",
                data={"items": [{"id": 1, "score": 0.1 + 0.2}], "x": None},
            )
        )
        hook = Webhook(url="https://example.com/hook", secret="s3cret", events=["idea.created"])
        session.add(hook)
        session.flush()
        session.add(
            WebhookDelivery(
                webhook_id=hook.id, event="idea.created", payload={"id": 1}, last_status=200
            )
        )


def test_backup_then_restore_into_a_fresh_database_is_identical(
    db, fresh, make_user, make_board, tmp_path
) -> None:
    fill(db, make_user, make_board, tmp_path)
    before = backup.dump(db)
    empty = [name for name, rows in before.items() if not rows]
    assert not empty, f"the community leaves these tables empty: {empty}"
    path = tmp_path / "portal.backup.gz"

    written = backup.backup(db, path)
    restored = backup.restore(fresh, path)

    assert written == restored == {name: len(rows) for name, rows in before.items()}
    after = backup.dump(fresh)
    for name, rows in before.items():
        assert after[name] == rows, name
    with fresh.reading() as session:
        weight = session.scalar(select(User.weight).where(User.segment == "Enterprise"))
        assert weight == 2.35

    # New rows get fresh ids (on PostgreSQL the sequences were moved past the restored ids).
    with fresh.transaction() as session:
        highest = session.scalar(select(func.max(Idea.id)))
        author = session.scalars(select(User).where(User.role == "member")).first()
        assert author is not None and highest is not None
        board = session.get_one(Idea, highest).board
        idea = idea_rules.submit(session, author, board, "A new idea after the restore", "")
        comments.add(session, author, idea, "And a comment on it")
        idea_rules.set_status(
            session,
            session.scalars(select(User).where(User.role == "staff")).one(),
            idea,
            "planned",
        )
    assert idea.id == highest + 1


def test_restore_refuses_a_database_with_data_and_force_replaces_it(
    db, make_user, make_board, make_idea, tmp_path
) -> None:
    fill(db, make_user, make_board, tmp_path)
    before = backup.dump(db)
    path = tmp_path / "portal.backup.gz"
    backup.backup(db, path)
    make_idea("Written after the backup was made")

    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(db, path)
    assert backup.dump(db) != before  # untouched

    backup.restore(db, path, force=True)
    assert backup.dump(db) == before
    late = make_idea("Written after the restore")
    assert late.id == max(row[0] for row in before["ideas"]) + 1


def _rewrite(source: Path, target: Path, change) -> None:  # type: ignore[no-untyped-def]
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        content = lines.read().splitlines()
    with gzip.open(target, "wt", encoding="utf-8") as out:
        out.write("\n".join(change(content)) + "\n")


def test_restore_refuses_a_backup_of_another_schema_revision(
    db, fresh, make_idea, tmp_path
) -> None:
    make_idea()
    path, old = tmp_path / "portal.backup.gz", tmp_path / "old.backup.gz"
    backup.backup(db, path)

    def older(content: list[str]) -> list[str]:
        header = json.loads(content[0])
        header["revision"] = "0003"
        return [json.dumps(header), *content[1:]]

    _rewrite(path, old, older)
    with pytest.raises(backup.BackupError, match="schema revision 0003") as refused:
        backup.restore(fresh, old)
    assert backup.schema_revision(fresh) in str(refused.value)
    assert not any(backup.dump(fresh).values())


def test_a_cut_or_foreign_file_is_refused_and_nothing_changes(db, make_idea, tmp_path) -> None:
    make_idea()
    before = backup.dump(db)
    path, cut = tmp_path / "portal.backup.gz", tmp_path / "cut.backup.gz"
    backup.backup(db, path)
    _rewrite(path, cut, lambda content: content[:-2])  # the last row and the end line

    with pytest.raises(backup.BackupError, match="incomplete"):
        backup.restore(db, cut, force=True)
    assert backup.dump(db) == before  # the wipe was rolled back with the rest

    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    with pytest.raises(backup.BackupError, match="not a backup"):
        backup.restore(db, foreign, force=True)


def test_values_are_written_losslessly(db, make_idea, tmp_path) -> None:
    idea = make_idea()
    embedder = embeddings.make_shared("hashing")
    embeddings.rebuild(db, embedder)
    path = tmp_path / "portal.backup.gz"
    backup.backup(db, path)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        header, *rows, end = [json.loads(line) for line in lines]
    assert header["format"] == "ideas-portal-backup" and header[
        "revision"
    ] == backup.schema_revision(db)
    assert end == {"end": True, "rows": len(rows)}
    columns = header["tables"]["ideas"]["columns"]
    (values,) = [values for name, values in rows if name == "ideas"]
    created = dict(zip(columns, values, strict=True))["created_at"]
    assert datetime.fromisoformat(created) == idea.created_at
    assert created.endswith("+00:00")
    columns = header["tables"]["idea_embeddings"]["columns"]
    (values,) = [values for name, values in rows if name == "idea_embeddings"]
    with db.reading() as session:
        vector = session.get_one(IdeaEmbedding, idea.id).vector
    assert base64.b64decode(dict(zip(columns, values, strict=True))["vector"]) == vector
