"""The import rules of docs/DESIGN: ml knows nothing of ideas, ideas nothing of the web."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

FORBIDDEN = {
    "ml": {"ideas", "web", "sqlalchemy", "starlette", "jinja2"},
    "ideas": {"web", "starlette", "jinja2"},
}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports, wherever in the file it does."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_imported_modules_sees_every_form(tmp_path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path\nfrom sqlalchemy.orm import Session\nfrom . import sibling\n"
        "def lazy():\n    import starlette.requests as r\n"
    )
    assert imported_modules(sample) == {"os", "sqlalchemy", "starlette"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_rules(package) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files in {package}/"
    broken = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN[package])
        for path in files
    }
    assert {name: bad for name, bad in broken.items() if bad} == {}
