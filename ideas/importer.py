"""Importing ideas from another tool: a generic CSV or JSON file, or Fider's ``posts.csv`` export.

Every imported idea is remembered by ``ImportRef(source, external_id)``, so importing the same
file again updates the ideas it made and never duplicates them. Authors (and voters, when a file
names them) are found by email or created as members without a password (they can reset it);
nobody is emailed during an import. A bad row is reported with its line and field and the others
are imported, or with ``strict`` nothing is.

The generic format (CSV with a header row, a JSON array of objects, or JSON Lines):
``title`` (required), ``description``, ``board`` (name), ``author_email``, ``author_name``,
``status`` (one of ``ideas.ideas.STATUSES``), ``votes`` (a count, or the voters' emails: a
JSON list, or separated by commas, semicolons or spaces), ``created_at`` (ISO 8601; UTC when it
names no zone), ``external_id`` (the other tool's id; without it the board and title name the
idea), ``comments`` (a JSON list of ``{"body", "author_email", "author_name", "created_at"}``).

Fider's export (its ``app/pkg/csv/csv.go``): ``number, title, description, created_at,
created_by, votes_count, comments_count, status, responded_by, responded_at, response,
original_number, original_title, tags`` (older versions say ``total_votes`` and
``total_comments``, and capitalised status names). It names people, not their emails.

Vote counts: ``Idea.vote_count`` is what the lists show; ``Vote`` rows are the people behind it
(roadmap reach, themes' voters, notifications). A count without voters (Fider's) becomes
``vote_count`` with no ``Vote`` rows: the figure is honest and no invented person votes. An
idea's ``vote_count`` is set to the imported count plus the ``Vote`` rows it has here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ideas import accounts, boards, duplicates, embeddings, follows, themes, trending
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.errors import ValidationError
from ideas.models import (
    Board,
    Comment,
    Idea,
    ImportRef,
    StatusChange,
    User,
    Vote,
)
from ml.embedders import Embedder

FORMATS = ("auto", "csv", "json", "fider")
GENERIC_COLUMNS = (
    "title",
    "description",
    "board",
    "author_email",
    "author_name",
    "status",
    "votes",
    "created_at",
    "external_id",
    "comments",
)
FIDER_COLUMNS = (
    "number",
    "title",
    "description",
    "created_at",
    "created_by",
    "votes_count",
    "comments_count",
    "status",
    "responded_by",
    "responded_at",
    "response",
    "original_number",
    "original_title",
    "tags",
)
# Fider's post statuses (app/models/enum/post_status.go) onto ours. A "duplicate" post stays open
# and goes to the team's duplicate queue beside its original; a "deleted" one is not imported.
FIDER_STATUSES: dict[str, str | None] = {
    "open": "open",
    "started": "in_progress",
    "completed": "shipped",
    "declined": "declined",
    "planned": "planned",
    "duplicate": "open",
    "deleted": None,
}
SOURCE_LIMIT = 40
EXTERNAL_ID_LIMIT = 200
COMMENT_LIMITS = (1, 5000)
NAME_LIMIT = 80
# People a file names without an email get an address no mail can reach (RFC 2606) and never
# get email updates.
UNREACHABLE_DOMAIN = "import.invalid"
EMAIL_SPLIT = re.compile(r"[,;\s]+")


class ImportFileError(Exception):
    """The file cannot be read as the format asked for (no row could be)."""


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class ImportAborted(Exception):
    """``strict``: a row was bad, so nothing was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} bad rows: nothing imported")


@dataclass
class CommentRecord:
    body: str
    author_email: str | None
    author_name: str
    created_at: datetime | None


@dataclass
class Record:
    """One idea as read from a file, checked and normalised."""

    line: int
    external_id: str
    title: str
    description: str = ""
    board: str | None = None
    author_email: str | None = None
    author_name: str = ""
    status: str = "open"
    vote_count: int | None = None  # a count without voters
    voters: list[str] = field(default_factory=list)  # voters' emails
    created_at: datetime | None = None
    comments: list[CommentRecord] = field(default_factory=list)
    note: str = ""  # the team's public answer (Fider's response)
    note_at: datetime | None = None
    responder: str | None = None
    duplicate_of: str | None = None  # the original's external id


@dataclass
class Report:
    format: str = ""
    source: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    people_created: int = 0
    idea_ids: list[int] = field(default_factory=list)
    duplicates_from_file: int = 0
    embedded: int = 0
    duplicates_queued: int = 0


# Reading --------------------------------------------------------------------------------------


def detect(path: Path, text: str) -> str:
    """``csv``, ``json`` or ``fider``: by the file's extension, then by its header."""
    suffix = path.suffix.lower()
    stripped = text.lstrip("\ufeff \t\r\n")
    if suffix in (".json", ".jsonl") or (suffix != ".csv" and stripped[:1] in ("[", "{")):
        return "json"
    header = next(csv.reader(io.StringIO(stripped)), [])
    columns = {column.strip().lower() for column in header}
    if {"number", "title", "created_by"} <= columns and columns & {"votes_count", "total_votes"}:
        return "fider"
    return "csv"


def _csv_rows(text: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        raise ImportFileError("the file is empty") from None
    except csv.Error as error:
        raise ImportFileError(f"line 1: {error}") from None

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise ImportFileError(f"line {start}: {error}") from None
            if any(value.strip() for value in values):
                if len(values) > len(header):
                    yield start, {"": "too many fields for the header"}
                else:
                    yield start, dict(zip(header, values, strict=False))
            start = reader.line_num + 1

    return header, rows()


def _json_rows(text: str, lines: bool) -> Iterator[tuple[int, Any]]:
    """Each object of a JSON array (or of JSON Lines) with the line it starts on."""
    decoder = json.JSONDecoder()
    if lines:
        for number, content in enumerate(text.splitlines(), start=1):
            if content.strip():
                try:
                    yield number, json.loads(content)
                except json.JSONDecodeError as error:
                    raise ImportFileError(f"line {number}: {error.msg}") from None
        return
    position = _skip(text, 0)
    if text[position : position + 1] != "[":
        raise ImportFileError("a JSON file holds an array of ideas ([{...}, ...])")
    position = _skip(text, position + 1)
    while position < len(text) and text[position] != "]":
        line = text.count("\n", 0, position) + 1
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise ImportFileError(f"line {error.lineno}: {error.msg}") from None
        yield line, value
        position = _skip(text, position)
        if text[position : position + 1] == ",":
            position = _skip(text, position + 1)
        elif text[position : position + 1] != "]":
            line = text.count("\n", 0, position) + 1
            raise ImportFileError(f"line {line}: expected ',' or ']'")
    if position >= len(text):
        raise ImportFileError("the JSON array is not closed")


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n\ufeff":
        position += 1
    return position


class _RowErrors(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not text")
    return str(value)


def _field(row: dict[str, Any], name: str) -> str:
    try:
        return _text(row.get(name))
    except ValueError:
        raise _RowErrors(name, "expected text") from None


def _moment(row: dict[str, Any], name: str) -> datetime | None:
    raw = _field(row, name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _RowErrors(name, f"not an ISO 8601 date and time: {raw!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _count(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise _RowErrors(name, f"expected a whole number of votes, not {raw!r}")
    return int(raw)


def _email(raw: str, name: str) -> str:
    email = accounts.normalise_email(raw)
    if not accounts.EMAIL.match(email) or len(email) > 254:
        raise _RowErrors(name, f"not an email address: {raw!r}")
    return email


def _check_idea(record: Record) -> None:
    record.title = " ".join(record.title.split())
    record.description = record.description.strip()
    errors = idea_rules.validate(record.title, record.description)
    for name, message in errors.fields.items():
        raise _RowErrors(name, message.render(str))
    if len(record.external_id) > EXTERNAL_ID_LIMIT:
        raise _RowErrors("external_id", f"at most {EXTERNAL_ID_LIMIT} characters")


def _generic(line: int, row: Any) -> Record:
    if not isinstance(row, dict):
        raise _RowErrors("row", "expected an object with a title")
    row = {str(key).strip().lower(): value for key, value in row.items()}
    if "" in row:
        raise _RowErrors("row", str(row[""]))
    record = Record(line, _field(row, "external_id"), _field(row, "title"))
    record.description = _field(row, "description")
    record.board = _field(row, "board") or None
    record.author_name = _field(row, "author_name")[:NAME_LIMIT]
    if raw_email := _field(row, "author_email"):
        record.author_email = _email(raw_email, "author_email")
    elif not record.author_name:
        raise _RowErrors("author_email", "an author_email or an author_name is required")
    status = _field(row, "status").lower().replace(" ", "_").replace("-", "_") or "open"
    if status not in idea_rules.STATUSES:
        raise _RowErrors("status", f"one of {', '.join(idea_rules.STATUSES)}, not {status!r}")
    record.status = status
    votes = row.get("votes")
    if isinstance(votes, list):
        record.voters = [_email(_text(email), "votes") for email in votes]
    elif isinstance(votes, int) and not isinstance(votes, bool) and votes >= 0:
        record.vote_count = votes
    elif isinstance(votes, str | None):
        raw = (votes or "").strip()
        if raw.isdigit():
            record.vote_count = int(raw)
        elif raw:
            record.voters = [_email(email, "votes") for email in EMAIL_SPLIT.split(raw) if email]
    else:
        raise _RowErrors("votes", "a count or a list of voters' emails")
    record.created_at = _moment(row, "created_at")
    record.comments = _comments(row.get("comments"))
    _check_idea(record)
    if not record.external_id:
        key = f"{(record.board or '').lower()}\n{record.title.lower()}"
        record.external_id = "title:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return record


def _comments(raw: Any) -> list[CommentRecord]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise _RowErrors("comments", "expected a JSON list of comments") from None
    if not isinstance(raw, list):
        raise _RowErrors("comments", "expected a list of comments")
    found = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise _RowErrors("comments", f"comment {number}: expected an object")
        body = _field(item, "body")
        if not COMMENT_LIMITS[0] <= len(body) <= COMMENT_LIMITS[1]:
            raise _RowErrors("comments", f"comment {number}: a body of 1 to 5000 characters")
        email = _field(item, "author_email")
        name = _field(item, "author_name")[:NAME_LIMIT]
        if not email and not name:
            raise _RowErrors("comments", f"comment {number}: an author_email or author_name")
        found.append(
            CommentRecord(
                body,
                _email(email, "comments") if email else None,
                name,
                _moment(item, "created_at"),
            )
        )
    return found


def _fider(line: int, row: dict[str, str]) -> Record | None:
    """The record of one row of Fider's posts.csv; None for a post deleted in Fider."""
    if "" in row:
        raise _RowErrors("row", row[""])
    number = _field(row, "number")
    if not number.isdigit():
        raise _RowErrors("number", f"expected the post's number, not {number!r}")
    raw_status = _field(row, "status").lower() or "open"
    if raw_status not in FIDER_STATUSES:
        raise _RowErrors("status", f"not a Fider status: {raw_status!r}")
    status = FIDER_STATUSES[raw_status]
    if status is None:
        return None
    record = Record(line, number, _field(row, "title"), _field(row, "description"))
    record.author_name = _field(row, "created_by")[:NAME_LIMIT] or "Fider user"
    record.status = status
    votes_column = "votes_count" if "votes_count" in row else "total_votes"
    raw_votes = _field(row, votes_column)
    record.vote_count = _count(raw_votes, votes_column) if raw_votes else 0
    record.created_at = _moment(row, "created_at")
    record.note = _field(row, "response")
    record.note_at = _moment(row, "responded_at")
    record.responder = _field(row, "responded_by")[:NAME_LIMIT] or None
    if raw_status == "duplicate":
        record.duplicate_of = _field(row, "original_number") or None
    _check_idea(record)
    return record


def read(path: Path, fmt: str = "auto") -> tuple[str, list[Record], list[Problem], list[str]]:
    """The records of a file, the rows that could not be read (with why), and notes."""
    if fmt not in FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise ImportFileError(error.strerror or str(error)) from None
    if fmt == "auto":
        fmt = detect(path, text)
    notes: list[str] = []
    rows: Iterator[tuple[int, Any]]
    if fmt == "json":
        rows = _json_rows(text, lines=path.suffix.lower() == ".jsonl")
    else:
        header, rows = _csv_rows(text)
        required = ("number", "title") if fmt == "fider" else ("title",)
        missing = [column for column in required if column not in header]
        if missing:
            raise ImportFileError(f"the header has no {', '.join(missing)} column")
        known = FIDER_COLUMNS + ("total_votes", "total_comments") if fmt == "fider" else None
        ignored = [c for c in header if c not in (known or GENERIC_COLUMNS)]
        if ignored:
            notes.append(f"columns ignored: {', '.join(ignored)}")
        if fmt == "fider":
            notes.append(
                "Fider's export has no comment texts, tags or voters: vote counts are kept as"
                " counts, comments and tags are not imported"
            )
    records: list[Record] = []
    problems: list[Problem] = []
    for line, row in rows:
        try:
            record = _fider(line, row) if fmt == "fider" else _generic(line, row)
        except _RowErrors as error:
            problems.append(Problem(line, error.field, error.message))
            continue
        if record is None:
            problems.append(Problem(line, "status", "deleted in Fider: not imported"))
        else:
            records.append(record)
    seen: dict[str, int] = {}
    unique = []
    for record in records:
        if record.external_id in seen:
            problems.append(
                Problem(
                    record.line,
                    "external_id",
                    f"the same idea as line {seen[record.external_id]}: not imported twice",
                )
            )
        else:
            seen[record.external_id] = record.line
            unique.append(record)
    return fmt, unique, sorted(problems, key=lambda problem: problem.line), notes


# Writing --------------------------------------------------------------------------------------


def unreachable_email(name: str, source: str) -> str:
    """The address of a person a file names without an email: stable, and never deliverable."""
    digest = hashlib.sha256(f"{source}\n{name}".encode()).hexdigest()[:10]
    return f"{boards.slugify(name)[:40]}.{digest}@{boards.slugify(source)}.{UNREACHABLE_DOMAIN}"


def _person(
    session: Session, email: str | None, name: str, source: str, report: Report, field_name: str
) -> User:
    reachable = email is not None
    email = email or unreachable_email(name, source)
    found = accounts.find_by_email(session, email)
    if found is not None:
        return found
    name = name or email.split("@", 1)[0][:NAME_LIMIT]
    try:
        user = accounts.create_user(session, email, name, None)
    except ValidationError as error:
        message = "; ".join(f"{k}: {m.render(str)}" for k, m in error.fields.items())
        raise _RowErrors(field_name, message) from None
    if not reachable:
        user.email_updates = "never"
    report.people_created += 1
    return user


def _board(session: Session, name: str | None) -> Board:
    if not name:
        every = boards.all_boards(session)
        if len(every) == 1:
            return every[0]
        raise _RowErrors("board", "no board named: give a board column or --board")
    found = boards.find_by_slug(session, boards.slugify(name))
    if found is None:
        found = session.scalar(select(Board).where(Board.name == name))
    if found is not None:
        return found
    try:
        return boards.create_board(session, None, name)
    except ValidationError as error:
        raise _RowErrors("board", next(iter(error.fields.values())).render(str)) from None


def _insert_ignore(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _write(
    session: Session, record: Record, source: str, default_board: str | None, report: Report
) -> str:
    board = _board(session, record.board or default_board)
    author = _person(
        session, record.author_email, record.author_name, source, report, "author_email"
    )
    ref = session.get(ImportRef, (source, record.external_id))
    idea = session.get(Idea, ref.idea_id) if ref is not None else None
    outcome = "unchanged"
    if idea is None:
        moment = record.created_at or datetime.now(UTC)
        idea = Idea(
            board_id=board.id,
            author_id=author.id,
            title=record.title,
            description=record.description,
            status=record.status,
            created_at=moment,
            updated_at=moment,
        )
        session.add(idea)
        session.flush()
        session.add(ImportRef(source=source, external_id=record.external_id, idea_id=idea.id))
        follows.follow(session, author, idea.id)
        for comment in record.comments:
            commenter = _person(
                session, comment.author_email, comment.author_name, source, report, "comments"
            )
            session.add(
                Comment(
                    idea_id=idea.id,
                    author_id=commenter.id,
                    body=comment.body,
                    created_at=comment.created_at or moment,
                )
            )
            follows.follow(session, commenter, idea.id)
        idea.comment_count = len(record.comments)
        outcome = "created"
    else:
        wanted = {
            "board_id": board.id,
            "author_id": author.id,
            "title": record.title,
            "description": record.description,
            "status": record.status,
        }
        if record.created_at is not None:
            wanted["created_at"] = record.created_at
        for name, value in wanted.items():
            if getattr(idea, name) != value:
                setattr(idea, name, value)
                outcome = "updated"
    for email in record.voters:
        voter = _person(session, email, "", source, report, "votes")
        session.execute(
            _insert_ignore(session)(Vote)
            .values(idea_id=idea.id, user_id=voter.id, created_at=idea.created_at)
            .on_conflict_do_nothing()
        )
        follows.follow(session, voter, idea.id)
    trending.recount(session, [idea.id])  # the voters' votes date from the idea's creation
    rows = session.scalar(select(func.count()).select_from(Vote).where(Vote.idea_id == idea.id))
    count = (record.vote_count or 0) + (rows or 0)
    if idea.vote_count != count:
        idea.vote_count = count
        outcome = "updated" if outcome == "unchanged" else outcome
    if record.note and record.responder:
        said = session.scalar(
            select(StatusChange.id).where(
                StatusChange.idea_id == idea.id,
                StatusChange.to_status == record.status,
                StatusChange.note == record.note,
            )
        )
        if said is None:
            responder = _person(session, None, record.responder, source, report, "responded_by")
            session.add(
                StatusChange(
                    idea_id=idea.id,
                    actor_id=responder.id,
                    from_status="open",
                    to_status=record.status,
                    note=record.note,
                    created_at=record.note_at or idea.created_at,
                )
            )
            outcome = "updated" if outcome == "unchanged" else outcome
    if outcome == "updated":
        idea.updated_at = datetime.now(UTC)
    session.flush()
    report.idea_ids.append(idea.id)
    return outcome


def _count_outcome(report: Report, outcome: str) -> None:
    setattr(report, outcome, getattr(report, outcome) + 1)


def _queue_duplicates(db: Database, records: list[Record], source: str, report: Report) -> None:
    """Fider's "duplicate" posts: each goes to the team's queue beside its original."""
    for record in records:
        if record.duplicate_of is None:
            continue
        with db.transaction() as session:
            ref = session.get(ImportRef, (source, record.external_id))
            original = session.get(ImportRef, (source, record.duplicate_of))
            if ref is None:
                continue
            if original is None:
                report.notes.append(
                    f"line {record.line}: a duplicate of #{record.duplicate_of}, which is not"
                    " in the file: left open"
                )
                continue
            if duplicates.suggest(session, ref.idea_id, original.idea_id, 1.0) is not None:
                report.duplicates_from_file += 1


def run(
    db: Database,
    path: Path,
    fmt: str = "auto",
    board: str | None = None,
    source: str | None = None,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> Report:
    """Import the file; returns what happened. Raises ``ImportFileError`` for a file that cannot
    be read and, with ``strict``, ``ImportAborted`` when any row is bad (then nothing is
    written). ``total`` is told how many rows will be written, ``progress`` of each."""
    fmt, records, problems, notes = read(path, fmt)
    source = (source or fmt).strip()
    if not source or len(source) > SOURCE_LIMIT:
        raise ImportFileError(f"the source is a name of 1 to {SOURCE_LIMIT} characters")
    report = Report(format=fmt, source=source, notes=notes)
    report.rows = len(records) + len(problems)
    if strict and problems:
        raise ImportAborted(problems)
    if total is not None:
        total(len(records))
    if strict:
        with db.transaction() as session:  # one transaction: a bad row undoes every row
            for record in records:
                try:
                    _count_outcome(report, _write(session, record, source, board, report))
                except _RowErrors as error:
                    raise ImportAborted(
                        [Problem(record.line, error.field, error.message)]
                    ) from None
                if progress is not None:
                    progress(1)
    else:
        for record in records:
            people = report.people_created
            try:
                with db.transaction() as session:
                    _count_outcome(report, _write(session, record, source, board, report))
            except _RowErrors as error:
                problems.append(Problem(record.line, error.field, error.message))
                report.people_created = people  # rolled back with the row
            if progress is not None:
                progress(1)
    report.skipped = sorted(problems, key=lambda problem: problem.line)
    _queue_duplicates(db, records, source, report)
    return report


# After the import: vectors, duplicates and themes --------------------------------------------


def embed_ideas(
    db: Database,
    embedder: Embedder,
    idea_ids: list[int],
    progress: Callable[[int], None] | None = None,
    batch_size: int = embeddings.BATCH,
) -> int:
    """(Re)compute the vectors of these ideas (an update may have changed their text): read a
    batch, embed it outside any transaction, store it in a short one."""
    done = 0
    ids = sorted(set(idea_ids))
    for start in range(0, len(ids), batch_size):
        with db.reading() as session:
            rows = session.execute(
                select(Idea.id, Idea.title, Idea.description)
                .where(Idea.id.in_(ids[start : start + batch_size]))
                .order_by(Idea.id)
            ).all()
        vectors = embeddings.embed(embedder, [(row.title, row.description) for row in rows])
        with db.transaction() as session:
            embeddings.save(session, embedder.name, [row.id for row in rows], vectors)
        done += len(rows)
        if progress is not None:
            progress(len(rows))
    return done


def scan_and_cluster(
    db: Database, model: str, progress: Callable[[int], None] | None = None
) -> tuple[int, themes.RebuildReport]:
    """The ``duplicates scan`` and ``themes rebuild`` of the whole portal, as after any import."""
    queued = duplicates.scan(db, model, progress)
    return queued, themes.rebuild(db, model)
