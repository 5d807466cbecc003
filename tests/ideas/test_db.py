"""The database handle: its pool sized by the settings, and transactions run again when
PostgreSQL ends them to break a deadlock (the real deadlock is in test_merge_races.py)."""

from __future__ import annotations

from dataclasses import replace

import psycopg.errors
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ideas import boards
from ideas.db import ATTEMPTS, Database
from ideas.models import Board
from ideas.settings import Settings
from web.app import create_app


def test_the_pool_is_sized_by_the_settings(settings: Settings) -> None:
    sized = replace(settings, database_pool_size=3, database_max_overflow=2)
    for database in (Database.from_settings(sized), create_app(sized).state.db):
        try:
            assert database.engine.pool.size() == 3  # type: ignore[attr-defined]
            assert database.engine.pool._max_overflow == 2  # type: ignore[attr-defined]
        finally:
            database.dispose()


def ended_by_postgresql(error: Exception) -> OperationalError:
    """What SQLAlchemy raises when PostgreSQL ends a transaction with this psycopg error."""
    return OperationalError("SELECT ... FOR UPDATE", {}, error)


def test_a_transaction_ended_by_a_deadlock_runs_again_from_the_start(db: Database) -> None:
    runs: list[int] = []

    def work(session: Session) -> str:
        runs.append(len(runs) + 1)
        board = boards.create_board(session, None, f"Board of run {len(runs)}", "", None)
        if len(runs) == 1:
            session.flush()
            raise ended_by_postgresql(psycopg.errors.DeadlockDetected("deadlock detected"))
        return board.name

    assert db.run_transaction(work) == "Board of run 2"
    assert runs == [1, 2]
    with db.reading() as session:  # the first run's work was rolled back
        assert session.scalars(select(Board.name)).all() == ["Board of run 2"]


@pytest.mark.parametrize(
    "error", [psycopg.errors.DeadlockDetected(), psycopg.errors.SerializationFailure()]
)
def test_after_its_last_run_the_error_goes_up(db: Database, error: Exception) -> None:
    runs = 0

    def work(session: Session) -> None:
        nonlocal runs
        runs += 1
        raise ended_by_postgresql(error)

    with pytest.raises(OperationalError) as caught:
        db.run_transaction(work)
    assert caught.value.orig is error
    assert runs == ATTEMPTS
    runs = 0
    with pytest.raises(OperationalError):
        db.run_transaction(work, attempts=1)
    assert runs == 1


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown()),  # the server went away
        OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked")),  # SQLite
        IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation()),
        ValueError("not a database error"),
    ],
)
def test_other_errors_are_not_run_again(db: Database, error: Exception) -> None:
    runs = 0

    def work(session: Session) -> None:
        nonlocal runs
        runs += 1
        raise error

    with pytest.raises(type(error)):
        db.run_transaction(work)
    assert runs == 1
