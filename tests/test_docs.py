"""The README documents every CLI command and every setting (as datasette's test_docs does)."""

from __future__ import annotations

from pathlib import Path

import click

from ideas.settings import VARIABLES, Settings
from web.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "ideas-portal") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append(path)
    return found


def test_every_command_is_documented() -> None:
    missing = [command for command in commands(main) if f"`{command}" not in README]
    assert not missing


def test_every_setting_is_documented_and_read() -> None:
    missing = [name for name in VARIABLES if f"`{name}`" not in README]
    assert not missing
    # Each documented variable changes what Settings.from_env reads.
    assert len(VARIABLES) == len(Settings.__dataclass_fields__)


def test_readme_set_up_is_the_two_make_commands() -> None:
    set_up = README.split("## Set-up", 1)[1].split("##", 1)[0]
    assert "make run" in set_up and "make test" in set_up
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
