"""`ideas-portal import`, `backup` and `restore` through click's CliRunner: exit codes and
messages, never a traceback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from ideas import backup
from ideas.db import Database
from ideas.models import DuplicateCandidate, Idea, IdeaEmbedding
from web.cli import main

HEADER = "number,title,description,created_at,created_by,votes_count,comments_count,status,"
HEADER += "responded_by,responded_at,response,original_number,original_title,tags"
POSTS = [
    ["1", "Dark mode for the dashboard", "", "2023-01-05T10:00:00Z", "Jon", "12", "0", "open"],
    ["2", "Dark mode for the dashboard please", "", "2023-01-06T10:00:00Z", "Ana", "3", "0",
     "planned"],
    ["3", "Nope", "", "2023-01-07T10:00:00Z", "Ana", "3", "0", "open"],
    ["4", "Export invoices as CSV", "", "2023-01-08T10:00:00Z", "Ana", "x", "0", "open"],
]  # fmt: skip


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, url: str = database_url) -> Result:
        env = {
            "DATABASE_URL": url,
            "MAIL_DIR": str(tmp_path / "mail"),
            "SMTP_HOST": "",
            "EMBEDDING_BACKEND": "hashing",
        }
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def posts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "posts.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        csv.writer(out).writerows([row + [""] * 6 for row in POSTS])
    return path


def count(db: Database, model) -> int:  # type: ignore[no-untyped-def]
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_import_of_a_fider_export_reports_rows_and_runs_the_ml_steps(run, db, tmp_path) -> None:
    result = run("import", str(posts_csv(tmp_path)), "--board", "Product")

    assert result.exit_code == 0, result.output
    assert "4 rows (fider, source 'fider'): 2 created, 0 updated, 0 unchanged, 2 skipped" in (
        result.output
    )
    assert "posts.csv: line 4, title: At least 8 characters." in result.output
    assert "posts.csv: line 5, votes_count: expected a whole number of votes, not 'x'" in (
        result.output
    )
    assert "2 ideas embedded with hashing-v1" in result.output
    assert count(db, IdeaEmbedding) == 2
    assert count(db, DuplicateCandidate) == 1  # the two dark modes
    assert "1 new pairs in the duplicate queue" in result.output

    again = run("import", str(posts_csv(tmp_path)), "--board", "Product", "--no-ml")
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 2 unchanged, 2 skipped" in again.output
    assert "embedded" not in again.output
    assert count(db, Idea) == 2


def test_strict_import_exits_non_zero_and_imports_nothing(run, db, tmp_path) -> None:
    result = run("import", str(posts_csv(tmp_path)), "--board", "Product", "--strict")
    assert result.exit_code == 1
    assert "line 4, title" in result.output
    assert "2 bad rows (--strict): nothing imported." in result.output
    assert count(db, Idea) == 0


def test_an_unreadable_file_is_a_message_not_a_traceback(run, db, tmp_path) -> None:
    path = tmp_path / "ideas.json"
    path.write_text('{"title": "not in an array"}', encoding="utf-8")
    result = run("import", str(path))
    assert result.exit_code == 1
    assert "ideas.json: a JSON file holds an array of ideas" in result.output
    assert "Traceback" not in result.output


def test_backup_restore_refuses_a_database_with_data_and_replaces_it_with_force(
    run, db, make_idea, tmp_path
) -> None:
    make_idea("The one idea of this portal")
    before = backup.dump(db)
    path = tmp_path / "portal.backup.gz"

    made = run("backup", str(path))
    assert made.exit_code == 0, made.output
    assert f"tables written to {path}" in made.output

    make_idea("Written after the backup")
    refused = run("restore", str(path))
    assert refused.exit_code == 1
    assert "The database is not empty" in refused.output and "--force" in refused.output

    forced = run("restore", str(path), "--force")
    assert forced.exit_code == 0, forced.output
    assert "restored from" in forced.output
    assert backup.dump(db) == before


def test_a_backup_restores_into_a_new_sqlite_database(run, db, make_idea, tmp_path) -> None:
    """Whatever the source database (SQLite, or PostgreSQL in CI), the file restores into a new
    SQLite one, the same row for row."""
    make_idea("An idea to carry over")
    path = tmp_path / "portal.backup.gz"
    assert run("backup", str(path)).exit_code == 0
    target = f"sqlite:///{tmp_path / 'new.db'}"

    not_ready = run("restore", str(path), url=target)
    assert not_ready.exit_code == 1 and "ideas-portal db upgrade" in not_ready.output
    assert run("db", "upgrade", url=target).exit_code == 0
    restored = run("restore", str(path), url=target)

    assert restored.exit_code == 0, restored.output
    new = Database(target)
    try:
        assert backup.dump(new) == backup.dump(db)
    finally:
        new.dispose()


def test_restore_of_a_file_that_is_no_backup_says_so(run, db, tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    result = run("restore", str(path))
    assert result.exit_code == 1
    assert "is not a backup of this portal" in result.output
