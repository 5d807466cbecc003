"""ml stays pure: it never imports the domain, the web layer or SQLAlchemy."""

import ast
from pathlib import Path

import ml

FORBIDDEN = {"ideas", "web", "sqlalchemy", "starlette", "jinja2"}


def test_ml_imports_nothing_of_the_portal():
    for path in Path(ml.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
