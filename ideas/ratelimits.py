"""Fixed-window request counters in the database, so every web process shares them."""

from __future__ import annotations

import time

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ideas.db import Database
from ideas.models import RateLimitHit


def hit(db: Database, key: str, limit: int, window: int, now: float | None = None) -> bool:
    """Counts one request; False when `key` has had more than `limit` in this window."""
    start = int((now if now is not None else time.time()) // window * window)
    insert = sqlite_insert if db.is_sqlite else pg_insert
    upsert = (
        insert(RateLimitHit)
        .values(key=key, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": RateLimitHit.count + 1}
        )
    )
    with db.transaction() as session:
        count = session.execute(upsert.returning(RateLimitHit.count)).scalar_one()
        if count == 1:  # first hit of a window: forget the old windows of this key
            session.execute(
                delete(RateLimitHit).where(
                    RateLimitHit.key == key, RateLimitHit.window_start < start
                )
            )
    return count <= limit
