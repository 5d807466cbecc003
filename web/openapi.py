"""The OpenAPI document of /api/v1 (kept beside web/api.py; a test checks they agree)."""

from __future__ import annotations

from typing import Any


def document(server: str) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "Ideas portal API", "version": "1"}, "paths": {}}
