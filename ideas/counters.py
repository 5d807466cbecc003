"""The counts kept on each idea (votes, comments), changed atomically in the database."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ideas.models import Idea


def add(session: Session, idea_id: int, field: str, delta: int) -> None:
    """`field = field + delta` in one UPDATE, so concurrent changes are neither lost nor doubled.
    The idea in this session, if loaded, reads the new value when next asked."""
    column = getattr(Idea, field)
    session.execute(
        update(Idea)
        .where(Idea.id == idea_id)
        .values({field: column + delta})
        # Skip the ORM's search of the whole session for the row (slow with many objects).
        .execution_options(synchronize_session=False)
    )
    loaded = session.identity_map.get(identity_key(Idea, idea_id))
    if loaded is not None:
        session.expire(loaded, [field])
