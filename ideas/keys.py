"""The secret key that signs sessions and links: from SECRET_KEY, else kept in the database
so that every web process of one installation shares it."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError

from ideas.db import Database
from ideas.models import SiteSetting


def secret_key(db: Database, configured: str | None) -> str:
    if configured:
        return configured
    with db.reading() as session:
        stored = session.get(SiteSetting, "secret_key")
        if stored is not None:
            return stored.value
    try:
        with db.transaction() as session:
            session.add(SiteSetting(key="secret_key", value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another process made it first
    with db.reading() as session:
        stored = session.get(SiteSetting, "secret_key")
        assert stored is not None
        return stored.value
