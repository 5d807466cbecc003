"""The migrations make exactly the schema the models describe."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, insert, inspect, select, table

from ideas import trending
from ideas.db import Database
from ideas.migrate import POSTGRESQL_ONLY_INDEXES, include_object, is_current, upgrade
from ideas.models import Base, Idea, UTCDateTime, utcnow


def differences(database: Database) -> list:
    with database.engine.connect() as connection:
        opts = {"compare_type": True, "include_object": include_object}
        context = MigrationContext.configure(connection, opts=opts)
        return compare_metadata(context, Base.metadata)


def test_upgrade_from_empty_matches_the_models(db) -> None:
    # The session's database was made by upgrade() from nothing (see tests/conftest.py).
    assert is_current(db.engine)
    assert differences(db) == []


def test_upgrade_a_fresh_sqlite_file(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert not is_current(database.engine)
        upgrade(database.engine)
        assert is_current(database.engine)
        assert differences(database) == []
        upgrade(database.engine)  # a second upgrade changes nothing
        assert is_current(database.engine)
    finally:
        database.dispose()


def test_the_search_indexes_are_made_on_postgresql_only(db) -> None:
    names = {index["name"] for index in inspect(db.engine).get_indexes("ideas")}
    on_postgresql = db.engine.dialect.name == "postgresql"
    assert names & POSTGRESQL_ONLY_INDEXES == (POSTGRESQL_ONLY_INDEXES if on_postgresql else set())
    # not in the models, which describe what every database has
    assert not POSTGRESQL_ONLY_INDEXES & {i.name for i in Base.metadata.tables["ideas"].indexes}


def test_the_trending_migration_counts_the_votes_already_there(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'before.db'}")
    now = utcnow()

    def rows(name: str, *values: dict) -> None:  # written as the schema at 0007 has them
        names = {key for value in values for key in value}
        typed = [column(n, UTCDateTime() if n.endswith("_at") else None) for n in sorted(names)]
        with database.engine.begin() as connection:
            connection.execute(insert(table(name, *typed)), list(values))

    try:
        upgrade(database.engine, "0007")
        rows(
            "boards", {"id": 1, "slug": "web", "name": "Web", "description": "", "created_at": now}
        )
        rows(
            "users",
            *(
                {
                    "id": n,
                    "email": f"{n}@a.example",
                    "name": "P",
                    "role": "member",
                    "created_at": now,
                }
                for n in (1, 2, 3)
            ),
        )
        idea = {"board_id": 1, "author_id": 1, "description": "", "status": "open"}
        idea |= {"vote_count": 0, "comment_count": 0, "comments_locked": False}
        rows(
            "ideas",
            *(
                {"id": n, "title": f"Idea {n}", "created_at": now, "updated_at": now, **idea}
                for n in (1, 2, 3)
            ),
        )
        ages = {(1, 1): 1, (1, 2): 13, (1, 3): 15, (2, 1): 20}  # (idea, person): days old
        rows(
            "votes",
            *(
                {"idea_id": i, "user_id": u, "created_at": now - timedelta(days=days)}
                for (i, u), days in ages.items()
            ),
        )
        upgrade(database.engine)
        with database.reading() as session:
            counted = dict(session.execute(select(Idea.id, Idea.recent_votes)).all())
        assert counted == {1: 2, 2: 0, 3: 0}  # the votes of the last 14 days
        assert differences(database) == []
        assert trending.decay(database) == 0  # the worker's first run: nothing to change
    finally:
        database.dispose()
