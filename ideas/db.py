"""Engine and sessions. SQLite runs in WAL mode; writes take the lock up front."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ideas.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# PostgreSQL ends one of two transactions to break a deadlock (40P01) or a serialization conflict
# (40001); the other goes on, and the ended one may simply run again.
RETRYABLE_SQLSTATES = ("40P01", "40001")
ATTEMPTS = 3


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and (
        getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
    )


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", Settings.database_pool_size)
    kwargs.setdefault("max_overflow", Settings.database_max_overflow)
    return create_engine(url, **kwargs)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below), so pysqlite must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's own lower() (behind ILIKE) folds ASCII only; "UNIVERSITÀ" must find "università".
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # A write transaction that starts as a reader can fail to upgrade its lock under
        # concurrency (SQLITE_BUSY without waiting); BEGIN IMMEDIATE waits for the lock instead.
        immediate = connection.get_execution_options().get("sqlite_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Where sessions come from: `transaction()` for changes, `reading()` for queries."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database of the settings, with the pool they size (DATABASE_POOL_SIZE and
        DATABASE_MAX_OVERFLOW)."""
        return cls(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._writer = sessionmaker(
            self.engine.execution_options(sqlite_write=True), expire_on_commit=False
        )
        self._reader = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._writer.begin() as session:
            yield session

    def run_transaction(self, work: Callable[[Session], T], attempts: int = ATTEMPTS) -> T:
        """`work(session)` in a transaction, run again from the start (`attempts` runs at most)
        when PostgreSQL ended it to break a deadlock or a serialization conflict: the next run
        waits for the transaction that went on. `work` must do nothing a second run would
        repeat outside the database. Any other error, or the last run's, goes up."""
        attempt = 1
        while True:
            try:
                with self.transaction() as session:
                    return work(session)
            except DBAPIError as error:
                if attempt >= attempts or not is_retryable(error):
                    raise
                state = getattr(error.orig, "sqlstate", "")
                log.info(
                    "SQLSTATE %s: the transaction runs again (%d of %d)",
                    state,
                    attempt + 1,
                    attempts,
                )
                attempt += 1

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
