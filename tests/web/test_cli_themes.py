"""`ideas-portal eval themes FILE.jsonl`: clustering metrics of a labelled file, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from web.cli import main

RECORDS = [
    ("Dark mode for the portal", "Night time reading hurts", "dark"),
    ("Please add a dark theme", "A dark colour scheme for the portal", "dark"),
    ("Dark theme at night", "", "dark"),
    ("Export the roadmap as CSV", "A CSV file of the roadmap", "export"),
    ("Roadmap export to a CSV file", "", "export"),
    ("CSV export of the roadmap", "For our spreadsheet", "export"),
    ("Email me when an idea ships", "An email notification", "email"),
    ("Send an email when my idea ships", "", "email"),
    ("Email notification on shipped ideas", "", "email"),
]


def run(tmp_path: Path, *args: str) -> Result:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}", "EMBEDDING_BACKEND": "hashing"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_eval_themes_prints_the_metrics(tmp_path: Path) -> None:
    data = tmp_path / "themes.jsonl"
    data.write_text(
        "\n".join(
            json.dumps({"id": str(i), "title": t, "description": d, "theme": theme})
            for i, (t, d, theme) in enumerate(RECORDS)
        ),
        encoding="utf-8",
    )
    result = run(tmp_path, "eval", "themes", str(data), "--backend", "hashing")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["backend"] == "hashing-v1" and metrics["records"] == len(RECORDS)
    assert -1.0 <= metrics["ari"] <= 1.0 and 0.0 <= metrics["nmi"] <= 1.0
    assert metrics["n_themes"] >= 1
    assert 0.0 <= metrics["unassigned"] <= 1.0
    assert metrics["seconds"] >= 0.0 and "embed_seconds" in metrics


def test_eval_themes_refuses_a_file_with_one_record(tmp_path: Path) -> None:
    tiny = tmp_path / "one.jsonl"
    tiny.write_text(json.dumps({"id": "1", "title": "x", "theme": "a"}), encoding="utf-8")
    result = run(tmp_path, "eval", "themes", str(tiny), "--backend", "hashing")
    assert result.exit_code != 0
    assert "at least two records" in result.output


def test_eval_themes_is_listed_in_the_eval_group(tmp_path: Path) -> None:
    result = run(tmp_path, "eval", "--help")
    assert result.exit_code == 0 and "themes" in result.output
