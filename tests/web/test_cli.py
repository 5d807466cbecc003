"""The `ideas-portal` command line, run with click's CliRunner against the test database."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from ideas import accounts, boards, jobs
from ideas.db import Database
from web.cli import main


@pytest.fixture
def run(database_url: str, tmp_path):  # type: ignore[no-untyped-def]
    def invoke(*args: str):  # type: ignore[no-untyped-def]
        env = {"DATABASE_URL": database_url, "MAIL_DIR": str(tmp_path / "mail"), "SMTP_HOST": ""}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_db_upgrade_is_idempotent(run, db: Database) -> None:
    first, second = run("db", "upgrade"), run("db", "upgrade")
    assert first.exit_code == 0 and second.exit_code == 0
    assert "Schema up to date" in second.output


def test_user_create_makes_an_account_that_can_sign_in(run, db: Database) -> None:
    result = run(
        "user",
        "create",
        "Ada@Example.com",
        "--name",
        "Ada",
        "--password",
        "s3cret-pass",
        "--role",
        "staff",
    )
    assert result.exit_code == 0, result.output
    assert "Created staff ada@example.com" in result.output
    with db.transaction() as session:
        user = accounts.authenticate(session, "ada@example.com", "s3cret-pass")
        assert user is not None and user.role == "staff"


def test_user_create_reports_each_bad_field(run, db: Database) -> None:
    result = run("user", "create", "not-an-email", "--name", "Ada", "--password", "short")
    assert result.exit_code == 1
    assert "email:" in result.output and "password:" in result.output


def test_token_create_prints_a_token_the_api_accepts(run, client: TestClient, make_user) -> None:
    user = make_user()
    result = run("token", "create", user.email)
    assert result.exit_code == 0
    token = result.output.strip()
    response = client.post(
        "/api/v1/ideas",
        json={"title": "Weekly digest by email", "description": "", "board": "nowhere"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400  # authenticated: the board is what is wrong
    assert "board" in response.json()["fields"]


def test_token_create_for_unknown_email_fails_clearly(run, db: Database) -> None:
    result = run("token", "create", "nobody@example.com")
    assert result.exit_code == 1
    assert "No account" in result.output


def test_demo_fills_an_empty_database_and_refuses_a_second_time(run, db: Database) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert int(re.search(r"(\d+) ideas", result.output).group(1)) >= 300
    assert "Sign in as staff" in result.output
    with db.reading() as session:
        assert len(boards.all_boards(session)) >= 3
    again = run("demo")
    assert again.exit_code == 1 and "not empty" in again.output
    assert run("demo", "--if-empty").exit_code == 0


def test_worker_once_runs_due_jobs(run, db: Database, make_user, tmp_path) -> None:
    user = make_user()
    with db.transaction() as session:
        accounts.request_password_reset(session, user.email, "secret", "http://portal", "en")
    result = run("worker", "--once")
    assert result.exit_code == 0 and "1 jobs run" in result.output
    with db.reading() as session:  # only the recurring jobs' next runs wait
        assert [job.kind for job in jobs.pending(session)] == [
            "weekly_digest",
            "rebuild_themes",
            "trending_decay",
            "weekly_export",
        ]
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_every_command_has_help(run) -> None:
    for args in (
        ["--help"],
        ["db", "upgrade", "--help"],
        ["demo", "--help"],
        ["serve", "--help"],
        ["user", "create", "--help"],
        ["token", "create", "--help"],
        ["worker", "--help"],
        ["embeddings", "rebuild", "--help"],
        ["duplicates", "scan", "--help"],
        ["eval", "duplicates", "--help"],
    ):
        assert run(*args).exit_code == 0


def test_embeddings_rebuild_embeds_every_idea_once(run, db: Database, make_idea, monkeypatch):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ideas.models import IdeaEmbedding

    monkeypatch.setenv("EMBEDDING_BACKEND", "hashing")
    ideas = [make_idea(f"Idea number {n} about exports") for n in range(3)]
    result = run("embeddings", "rebuild")
    assert result.exit_code == 0, result.output
    assert "3 ideas embedded with hashing-v1." in result.output
    with db.reading() as session:
        rows = session.scalars(select(IdeaEmbedding)).all()
    assert sorted(row.idea_id for row in rows) == [idea.id for idea in ideas]
    assert "0 ideas embedded" in run("embeddings", "rebuild").output


def test_eval_duplicates_prints_the_metrics(run, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    monkeypatch.setenv("EMBEDDING_BACKEND", "hashing")
    records = [
        ("Dark mode for the portal", "dark"),
        ("Please add a dark theme to the portal", "dark"),
        ("Export the roadmap as CSV", "csv"),
        ("Roadmap export to a CSV file", "csv"),
        ("Email me when an idea ships", None),
        ("Keyboard shortcuts for voting", None),
    ]
    data = tmp_path / "dups.jsonl"
    data.write_text(
        "\n".join(
            json.dumps({"id": str(i), "title": t, "description": "", "group": g})
            for i, (t, g) in enumerate(records)
        ),
        encoding="utf-8",
    )
    result = run("eval", "duplicates", str(data))
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    for key in ("recall_at_1", "recall_at_5", "mrr", "pair_precision", "pair_recall"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["recall_at_5"] == 1.0 and "pair_f1" in metrics
    assert "best_f1_threshold" in metrics and metrics["backend"] == "hashing-v1"
    # the peers' baselines, measured in the same run
    assert set(metrics["baselines"]) == {"bm25_title", "tfidf", "cosine"}
    for baseline in metrics["baselines"].values():
        assert baseline["recall_at_5"] == 1.0 and "best_f1" in baseline
    tfidf = json.loads(
        run("eval", "duplicates", str(data), "--backend", "tfidf", "--threshold", "0.5").output
    )
    assert tfidf["threshold"] == 0.5 and tfidf["backend"].startswith("tfidf-lsa")
    tiny = tmp_path / "one.jsonl"
    tiny.write_text(json.dumps({"id": "1", "title": "x", "group": None}), encoding="utf-8")
    assert run("eval", "duplicates", str(tiny)).exit_code != 0


def test_duplicates_scan_queues_pairs_and_says_what_is_missing(
    run, db: Database, make_idea, make_board, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EMBEDDING_BACKEND", "hashing")
    board = make_board()
    make_idea("Export the roadmap as CSV", board=board)
    make_idea("Export the roadmap as a CSV file", board=board)
    result = run("duplicates", "scan")
    assert "2 ideas have no vector yet" in result.output
    assert "0 new pairs" in result.output
    run("embeddings", "rebuild")
    result = run("duplicates", "scan")
    assert result.exit_code == 0, result.output
    assert (
        "no vector" not in result.output and "1 new pairs in the duplicate queue." in result.output
    )


@pytest.mark.parametrize(
    ("name", "value"), [("DATABASE_POOL_SIZE", "0"), ("DATABASE_MAX_OVERFLOW", "lots")]
)
def test_a_bad_setting_stops_every_command_with_its_message(
    database_url: str, name: str, value: str
) -> None:
    env = {"DATABASE_URL": database_url, name: value}
    result = CliRunner().invoke(main, ["worker", "--once"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {name} must be a whole number")
