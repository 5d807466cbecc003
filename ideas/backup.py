"""Backup and restore: every table of the schema in one file, restored exactly.

The file is gzip'd JSON Lines. The first line is a header: ``format``, ``version``, the schema's
Alembic ``revision``, ``created_at``, and each table's ``columns`` and ``rows`` (count). Then one
line per row, ``[table, [values in column order]]``, table by table in dependency order (a table
comes after the tables it points to), each ordered by its primary key; the last line is
``{"end": true, "rows": total}``, so a cut file is refused rather than half restored.

Values are written losslessly: datetimes as ISO 8601 with their zone (UTC) and microseconds,
dates as ISO dates, bytes (idea vectors) as base64, JSON columns as they are, floats as Python's
shortest exact repr. A backup reads one consistent snapshot (one transaction, REPEATABLE READ on
PostgreSQL).

``restore`` checks the header and the schema revision, refuses a database with data (unless
``force``: then it empties it first), inserts in dependency order in batches within one
transaction, sets self-references (an idea merged into a later one) once their table is in, and
on PostgreSQL moves each table's id sequence past the restored ids.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Date, DateTime, LargeBinary, Table, func, select, text
from sqlalchemy import bindparam as bind

from ideas import migrate
from ideas.db import Database
from ideas.models import Base, UTCDateTime, utcnow

FORMAT = "ideas-portal-backup"
VERSION = 1
BATCH = 500

Encoder = Callable[[Any], Any]


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why."""


def tables() -> list[Table]:
    """Every table of the schema, each after the tables it points to."""
    return list(Base.metadata.sorted_tables)


def schema_revision(db: Database) -> str:
    """The newest Alembic revision, which a restored database must be at."""
    head = ScriptDirectory.from_config(migrate.alembic_config(db.engine)).get_current_head()
    assert head is not None
    return head


def _is_datetime(column: Column[Any]) -> bool:
    return isinstance(column.type, UTCDateTime | DateTime)


def _encoder(column: Column[Any]) -> Encoder | None:
    if _is_datetime(column):
        return lambda value: value.isoformat()
    if isinstance(column.type, Date):
        return lambda value: value.isoformat()
    if isinstance(column.type, LargeBinary):
        return lambda value: base64.b64encode(value).decode("ascii")
    return None


def _decoder(column: Column[Any]) -> Encoder | None:
    if _is_datetime(column):
        return datetime.fromisoformat
    if isinstance(column.type, Date):
        return date.fromisoformat
    if isinstance(column.type, LargeBinary):
        return base64.b64decode
    return None


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def table_rows(connection: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    """A table's rows as Python values, in primary key order."""
    result = connection.execution_options(yield_per=BATCH).execute(_ordered(table))
    for row in result:
        yield tuple(row)


def _snapshot(db: Database) -> Connection:
    if db.is_sqlite:
        return db.engine.connect()  # BEGIN on the first read: one WAL snapshot
    return db.engine.connect().execution_options(isolation_level="REPEATABLE READ")


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in primary key order (to compare two databases)."""
    with _snapshot(db) as connection, connection.begin():
        return {table.name: list(table_rows(connection, table)) for table in tables()}


def counts(connection: Connection) -> dict[str, int]:
    return {
        table.name: connection.scalar(select(func.count()).select_from(table)) or 0
        for table in tables()
    }


def backup(
    db: Database, path: Path, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Writes every table to ``path`` (through a temporary file, so a failed backup leaves no
    half file); returns the rows written per table."""
    revision = schema_revision(db)
    if not migrate.is_current(db.engine):
        raise BackupError("The database schema is not current: run `ideas-portal db upgrade`.")
    partial = path.with_name(path.name + ".partial")
    try:
        with _snapshot(db) as connection, connection.begin():
            written = counts(connection)
            header = {
                "format": FORMAT,
                "version": VERSION,
                "revision": revision,
                "created_at": utcnow().isoformat(),
                "dialect": db.engine.dialect.name,
                "tables": {
                    table.name: {
                        "columns": [c.name for c in table.columns],
                        "rows": written[table.name],
                    }
                    for table in tables()
                },
            }
            with gzip.open(partial, "wt", encoding="utf-8") as out:
                _line(out, header)
                for table in tables():
                    encoders = [_encoder(column) for column in table.columns]
                    done = 0
                    for row in table_rows(connection, table):
                        values = [
                            value if encode is None or value is None else encode(value)
                            for encode, value in zip(encoders, row, strict=True)
                        ]
                        _line(out, [table.name, values])
                        done += 1
                        if progress is not None and done % BATCH == 0:
                            progress(BATCH)
                    if progress is not None and done % BATCH:
                        progress(done % BATCH)
                    if done != written[table.name]:  # pragma: no cover - the snapshot forbids it
                        raise BackupError(f"{table.name} changed while it was read")
                _line(out, {"end": True, "rows": sum(written.values())})
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written


def _line(out: IO[str], value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True))
    out.write("\n")


def read_header(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            header = json.loads(source.readline())
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError(
            f"{path} is not a backup of this portal (a gzip'd JSON Lines file)"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup of this portal")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{path} is in backup format version {header.get('version')}; this portal reads"
            f" version {VERSION}"
        )
    return header


def _check(db: Database, header: dict[str, Any]) -> None:
    revision = schema_revision(db)
    if header.get("revision") != revision:
        raise BackupError(
            f"The backup is of schema revision {header.get('revision')}, this portal's schema is"
            f" {revision}: restore it with the version of ideas-portal that made it (then upgrade),"
            " or make a new backup."
        )
    if not migrate.is_current(db.engine):
        raise BackupError(
            "The database schema is not current: run `ideas-portal db upgrade`, then restore."
        )
    described = header.get("tables", {})
    for table in tables():
        columns = [column.name for column in table.columns]
        if table.name not in described or described[table.name].get("columns") != columns:
            raise BackupError(f"The backup's table {table.name} does not match this schema.")


def restore(
    db: Database, path: Path, force: bool = False, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Restores a backup into this database, in one transaction; returns the rows per table.
    Refuses a database with data unless ``force`` (which deletes it first)."""
    header = read_header(path)
    _check(db, header)
    by_name = {table.name: table for table in tables()}
    restored = dict.fromkeys(by_name, 0)
    writer = db.engine.execution_options(sqlite_write=True)
    with writer.begin() as connection:
        present = {name: n for name, n in counts(connection).items() if n}
        if present and not force:
            listed = ", ".join(f"{n} {name}" for name, n in sorted(present.items()))
            raise BackupError(
                f"The database is not empty ({listed}): restore into an empty database, or use"
                " --force to replace its data with the backup's."
            )
        for table in reversed(tables()):
            connection.execute(table.delete())
        _insert_all(connection, path, by_name, restored, progress)
        expected = {name: spec["rows"] for name, spec in header["tables"].items()}
        if restored != expected:
            raise BackupError(f"{path} is incomplete: its rows do not match its header")
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection)
    return restored


def _insert_all(
    connection: Connection,
    path: Path,
    by_name: dict[str, Table],
    restored: dict[str, int],
    progress: Callable[[int], None] | None,
) -> None:
    current: Table | None = None
    batch: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []  # self-references, set once their table is in
    decoders: list[Encoder | None] = []
    names: list[str] = []
    self_refs: list[str] = []
    ended = False

    def flush() -> None:
        if current is not None and batch:
            connection.execute(current.insert(), batch)
            restored[current.name] += len(batch)
            if progress is not None:
                progress(len(batch))
        batch.clear()

    def finish_table() -> None:
        flush()
        if current is not None and later:
            (key,) = current.primary_key.columns
            statement = (
                current.update()
                .where(key == bind("_key"))
                .values({name: bind(f"_{name}") for name in self_refs})
            )
            connection.execute(statement, later)
        later.clear()

    try:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            source.readline()  # the header
            for number, line in enumerate(source, start=2):
                item = json.loads(line)
                if isinstance(item, dict):
                    ended = item.get("end") is True
                    break
                name, values = item
                if current is None or name != current.name:
                    finish_table()
                    if name not in by_name:
                        raise BackupError(f"line {number}: unknown table {name}")
                    current = by_name[name]
                    names = [column.name for column in current.columns]
                    decoders = [_decoder(column) for column in current.columns]
                    self_refs = [
                        fk.parent.name for fk in current.foreign_keys if fk.column.table is current
                    ]
                row = {
                    column: value if decode is None or value is None else decode(value)
                    for column, decode, value in zip(names, decoders, values, strict=True)
                }
                if self_refs and any(row[name] is not None for name in self_refs):
                    (key,) = current.primary_key.columns
                    later.append(
                        {"_key": row[key.name], **{f"_{name}": row[name] for name in self_refs}}
                    )
                    for name in self_refs:
                        row[name] = None
                batch.append(row)
                if len(batch) >= BATCH:
                    flush()
            finish_table()
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise BackupError(f"{path} is damaged: {error}") from None
    if not ended:
        raise BackupError(f"{path} is incomplete: it stops before its end line")


def _reset_sequences(connection: Connection) -> None:
    """Each table's id sequence moves past the restored ids, so new rows do not collide."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        )
        if sequence is None:
            continue
        highest = connection.scalar(select(func.max(column))) or 0
        connection.execute(
            text("SELECT setval(CAST(:sequence AS regclass), :value, :called)"),
            {"sequence": sequence, "value": max(highest, 1), "called": highest > 0},
        )
