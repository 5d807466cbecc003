"""`ideas-portal export weekly`: the files of a week, byte for byte the same every time; a week
that is not over is refused; printing needs one format."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ideas import weekly, weekly_render
from ideas.db import Database
from ideas.models import WeeklySnapshot
from tests import weekly_community as community
from tests.weekly_community import WEEK, ZONE
from web.cli import main


@pytest.fixture
def run(database_url: str, tmp_path):  # type: ignore[no-untyped-def]
    def invoke(*args: str):  # type: ignore[no-untyped-def]
        env = {
            "DATABASE_URL": database_url,
            "MAIL_DIR": str(tmp_path / "mail"),
            "SMTP_HOST": "",
            "TIME_ZONE": ZONE,
            "BASE_URL": community.BASE_URL,
        }
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_export_writes_the_three_files_and_again_the_same(run, db: Database, tmp_path) -> None:
    community.build(db)
    out = tmp_path / "exports"
    first = run("export", "weekly", "--week", WEEK, "--out", str(out))
    assert first.exit_code == 0, first.output
    written = {path.name: path.read_bytes() for path in out.iterdir()}
    assert sorted(written) == [f"roadmap-{WEEK}.csv", f"roadmap-{WEEK}.json", f"roadmap-{WEEK}.md"]
    golden = community.ROOT / "tests" / "golden"
    assert written[f"roadmap-{WEEK}.md"] == (golden / "weekly-2026-W47.md").read_bytes()
    assert written[f"roadmap-{WEEK}.csv"] == (golden / "weekly-2026-W47.csv").read_bytes()
    assert written[f"roadmap-{WEEK}.json"] == (golden / "weekly-2026-W47.json").read_bytes()
    again = run("export", "weekly", "--week", WEEK.lower(), "--out", str(out))
    assert again.exit_code == 0
    assert {path.name: path.read_bytes() for path in out.iterdir()} == written
    printed = run("export", "weekly", "--week", WEEK, "--format", "md", "--locale", "it")
    assert printed.stdout_bytes == (golden / "weekly-2026-W47.it.md").read_bytes()
    with db.reading() as session:
        assert session.get(WeeklySnapshot, WEEK) is not None


def test_export_defaults_to_the_last_complete_week(run, db: Database) -> None:
    result = run("export", "weekly", "--format", "json")
    assert result.exit_code == 0, result.output
    week = weekly.last_complete_week(weekly.utcnow(), ZONE)
    with db.reading() as session:
        data = session.get_one(WeeklySnapshot, week).data
    assert result.stdout_bytes == weekly_render.render(data, "json", "en", community.BASE_URL)


def test_export_refuses_what_it_cannot_do(run, db: Database) -> None:
    this_week = weekly.week_containing(weekly.utcnow(), ZONE)
    refused = run("export", "weekly", "--week", this_week, "--format", "md")
    assert refused.exit_code == 1 and "is not over yet" in refused.output
    assert run("export", "weekly", "--week", "2026-48", "--format", "md").exit_code == 2
    assert run("export", "weekly", "--week", "2027-W53", "--format", "md").exit_code == 2
    no_format = run("export", "weekly", "--week", WEEK)
    assert no_format.exit_code == 2 and "--format" in no_format.output
    with db.reading() as session:
        assert session.query(WeeklySnapshot).count() == 0
