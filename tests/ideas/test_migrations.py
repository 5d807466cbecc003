"""The migrations make exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ideas.db import Database
from ideas.migrate import POSTGRESQL_ONLY_INDEXES, include_object, is_current, upgrade
from ideas.models import Base


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
