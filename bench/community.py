"""A synthetic community on PostgreSQL, for bench/scale.py: members, boards, ideas with varied
titles and descriptions, votes, comments, follows, status changes, a roadmap and a stored vector
per idea, written with COPY in one transaction.

Texts come from templates filled by ``random.Random(42)``; the numbers (who votes for what, and
when) from ``numpy.random.default_rng(42)``. Popularity is Pareto-distributed, so a few ideas get
most of the votes and comments. Every idea's author votes for it, each vote is by a distinct
member, every voter and commenter follows the idea (as ``ideas.votes`` and ``ideas.comments`` do),
and ``vote_count``, ``recent_votes`` and ``comment_count`` equal the rows. Ideas were submitted
over three years, twice as many a day now as at the start; votes and comments fall between an
idea's submission and the seeding.

The vectors are given by the caller and stored under the configured backend's model name
(bench/scale.py passes the themes bench's synthetic ones, shaped like real idea vectors but not
made from these texts: embedding 100,000 descriptions here takes hours).

A marker row in ``site_settings`` records the sizes seeded: ``prepare`` keeps a database that
has the same ones (and only puts back what the vote bench may have left).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.web import fresh_database, token_for  # noqa: E402
from ideas import embeddings, migrate, trending  # noqa: E402
from ideas.accounts import hash_password  # noqa: E402
from ideas.db import Database, make_engine  # noqa: E402

MARKER = "bench_scale_seed"
SEED_VERSION = 3
STAFF = 5
YEARS = 3
BOARDS = (
    ("web-app", "Web app", 0.4),
    ("mobile", "Mobile apps", 0.25),
    ("integrations", "Integrations", 0.2),
    ("api", "API", 0.15),
)
STATUSES = {
    "open": 0.70,
    "under_review": 0.08,
    "planned": 0.06,
    "in_progress": 0.04,
    "shipped": 0.07,
    "declined": 0.05,
}
HIDDEN = 0.003  # share of ideas hidden by moderators
REPLIES = 0.25  # share of comments that answer another
ROADMAP_ITEMS = 40


@dataclass(frozen=True)
class Size:
    ideas: int
    votes: int
    comments: int
    users: int  # members who vote, comment and submit
    voters: int  # more members, with an API token and no seeded vote: the vote bench's


@dataclass(frozen=True)
class Community:
    size: Size
    seeded_at: datetime
    seconds: float  # the seeding's
    kept: bool  # seeded by an earlier run
    model: str
    boards: list[str]  # slugs
    voter_ids: list[int]
    idea_ids: list[int]  # shown ones (not hidden)


# Texts ------------------------------------------------------------------------------------------

THINGS = (
    "invoices", "tasks", "projects", "reports", "comments", "tags", "attachments", "time entries",
    "contacts", "tickets", "orders", "dashboards", "forms", "surveys", "events", "teams", "files",
    "notes", "milestones", "labels", "templates", "workflows", "custom fields", "subtasks",
    "checklists", "sprints", "expenses", "quotes", "documents", "recurring tasks", "goals",
)  # fmt: skip
AREAS = (
    "mobile app", "dashboard", "settings page", "calendar view", "sidebar", "email digest",
    "search results", "admin panel", "iOS app", "Android app", "desktop app", "kanban board",
    "timeline view", "list view", "public portal", "weekly report", "inbox", "home screen",
)  # fmt: skip
TOOLS = (
    "Slack", "Microsoft Teams", "Google Calendar", "Outlook", "Jira", "GitHub", "GitLab", "Zapier",
    "Salesforce", "HubSpot", "Zendesk", "Trello", "Asana", "Notion", "Dropbox", "Google Drive",
    "Okta", "Azure AD", "Stripe", "QuickBooks", "Xero", "Figma", "Discord", "Linear",
)  # fmt: skip
FORMATS = ("CSV", "Excel", "PDF", "JSON", "Markdown", "iCal", "XML")
FIELDS = ("date", "owner", "status", "priority", "tag", "customer", "due date", "team", "label")
PEOPLE = (
    "admins", "guests", "team leads", "customers", "managers", "viewers", "new members",
    "accountants", "support agents", "freelancers", "external partners", "project owners",
)  # fmt: skip
HAPPENINGS = (
    "a task is overdue", "someone mentions me", "a comment is added", "a status changes",
    "an invoice is paid", "a file is uploaded", "a deadline moves", "a form is submitted",
    "a ticket is reassigned", "a sprint ends", "a quote is accepted", "a goal is reached",
)  # fmt: skip
VERBS = (
    "archive", "duplicate", "reorder", "pin", "hide", "sort", "share", "lock", "schedule",
    "merge", "group", "star", "bulk edit", "restore", "print", "preview", "colour-code", "move",
)  # fmt: skip
FIGURES = ("vote counts", "progress", "time spent", "open tasks", "response time", "budget")
TITLES = (
    "Export {thing} to {format}",
    "Import {thing} from {format}",
    "Let {people} {verb} {thing}",
    "Dark mode for the {area}",
    "Integrate {thing} with {tool}",
    "{tool} integration for {thing}",
    "Sync {thing} with {tool}",
    "Filter {thing} by {field}",
    "Sort {thing} by {field} in the {area}",
    "Notify {people} when {happening}",
    "Show {figure} on the {area}",
    "Bulk actions for {thing}",
    "Allow {people} to {verb} {thing}",
    "Offline mode for the {area}",
    "Keyboard shortcuts to {verb} {thing}",
    "Custom {field} for {thing}",
    "Faster loading of {thing} in the {area}",
    "Search {thing} by {field}",
    "Undo when I {verb} {thing}",
    "Single sign-on with {tool}",
    "Recurring {thing}",
    "API endpoint to {verb} {thing}",
    "Webhook when {happening}",
    "Two-factor login for {people}",
    "Reminders before {happening}",
    "Templates for {thing}",
    "Read-only access to {thing} for {people}",
    "{format} attachments on {thing}",
    "Show {thing} in the {area}",
    "Better {area} for {people}",
)
ENDINGS = ("", "", "", "", "", " please", " (again)", "!", " as well", " too")
SENTENCES = (
    "At the moment we {verb} {thing} by hand, which takes hours every week.",
    "Our {people} ask for this all the time.",
    "It would help a lot when {happening}.",
    "{tool} already does this and we miss it here.",
    "This matters most on the {area}.",
    "We have about {number} {thing} and finding the right one is slow.",
    "A {format} file would be enough for our {people}.",
    "Ideally it should respect each user's {field}.",
    "Without it we keep a spreadsheet next to the app.",
    "Right now the only way is to ask an admin.",
    "We would use this daily.",
    "Please make it work on the {area} too.",
    "Being able to {verb} {thing} would save our team a lot of clicks.",
    "Same problem for {people} in our other teams.",
    "The {figure} should be visible without opening each one.",
)
REMARKS = (
    "+1, we need this too.",
    "Any update on this?",
    "We work around it with {tool} for now.",
    "This would also help with {thing}.",
    "Same here: our {people} ask for it every week.",
    "Is this planned for the {area}?",
    "Voted. {tool} has this and it works well.",
    "Please don't forget the {area}.",
    "Would a {format} export be enough? That is what we need.",
    "Thanks, we are looking into it.",
    "It should also notify {people} when {happening}.",
    "Important for us: we have {number} {thing}.",
    "Agreed, sorting by {field} is the key part.",
    "This is the one thing keeping us on the old tool.",
)
FIRST_NAMES = (
    "Ada", "Ben", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Luca", "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Rossi", "Smith", "Okafor", "Novak", "Garcia", "Kim", "Jensen", "Haddad", "Silva", "Müller",
    "Tanaka", "Dubois", "Kowalski", "Nguyen", "Bianchi", "Andersson", "Ivanova", "Costa",
)  # fmt: skip


def fill(template: str, rng: random.Random) -> str:
    """The template with each slot drawn from its word list."""
    return template.format(
        thing=rng.choice(THINGS),
        area=rng.choice(AREAS),
        tool=rng.choice(TOOLS),
        format=rng.choice(FORMATS),
        field=rng.choice(FIELDS),
        people=rng.choice(PEOPLE),
        happening=rng.choice(HAPPENINGS),
        verb=rng.choice(VERBS),
        figure=rng.choice(FIGURES),
        number=rng.choice((40, 200, 500, 1200, 3000, 10000)),
    )


def title(rng: random.Random) -> str:
    made = fill(rng.choice(TITLES), rng) + rng.choice(ENDINGS)
    return made[0].upper() + made[1:]


def description(rng: random.Random) -> str:
    return " ".join(fill(rng.choice(SENTENCES), rng) for _ in range(rng.randint(1, 5)))


def remark(rng: random.Random) -> str:
    return fill(rng.choice(REMARKS), rng)


def search_words() -> list[str]:
    """Words a visitor may search for: single words of the titles' lists, three letters or
    more (a shorter one is in most texts: "AD" is in 60 % of the ideas)."""
    names = THINGS + TOOLS + FORMATS
    return sorted({word for name in names for word in name.split() if len(word) >= 3})


# Writing ----------------------------------------------------------------------------------------


def copy(conn: Connection, table: str, columns: str, rows: Iterable[Sequence]) -> int:
    """Rows into a table's columns ("a, b, c") by COPY (psycopg); returns how many."""
    count = 0
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as stream:
        for row in rows:
            stream.write_row(row)
            count += 1
    return count


def restart_sequences(conn: Connection, tables: Iterable[str]) -> None:
    """After rows written with their ids: the next id follows the largest."""
    for table in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        )


def pairs_of(first: np.ndarray, second: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(first.tolist(), second.tolist(), strict=True))


def spread(total: int, weights: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """``total`` split over the weights (multinomial), no share above ``cap``."""
    counts = rng.multinomial(total, weights / weights.sum())
    while (excess := int(np.maximum(counts - cap, 0).sum())) > 0:
        counts = np.minimum(counts, cap)
        room = np.flatnonzero(counts < cap)
        np.add.at(counts, rng.choice(room, excess), 1)
    return counts


def moments(
    start: np.ndarray, end: datetime, rng: np.random.Generator, first: np.ndarray | None = None
) -> list[datetime]:
    """One moment per row, uniform between ``start`` (seconds before ``end``) and ``end``;
    the rows ``first`` at ``start`` itself."""
    share = rng.random(len(start))
    if first is not None:
        share[first] = 1.0
    return [end - timedelta(seconds=float(s)) for s in start * share]


def seed(engine: Engine, size: Size, model: str, vectors: np.ndarray) -> None:
    """Writes the community into an empty schema (see the module's docstring); ``vectors``:
    one unit vector per idea."""
    texts, rng = random.Random(42), np.random.default_rng(42)
    now = datetime.now(UTC).replace(microsecond=0)
    n, members = size.ideas, size.users
    password = hash_password("bench password")  # once, for every account
    staff_ids = list(range(1, STAFF + 1))
    member_ids = np.arange(STAFF + 1, STAFF + 1 + members)
    voter_ids = range(STAFF + 1 + members, STAFF + 1 + members + size.voters)
    # ideas: oldest first (ids grow with time); twice as many a day now as three years ago
    since_start = np.sqrt(1 + 3 * rng.random(n)) - 1  # inverse CDF of a density ∝ 1 + x on [0, 1]
    ages = np.sort(YEARS * 365 * 86400 * (1 - since_start))[::-1]
    created = [now - timedelta(seconds=float(a)) for a in ages]
    board_of = rng.choice(len(BOARDS), n, p=[b[2] for b in BOARDS]) + 1
    status_of = rng.choice(list(STATUSES), n, p=list(STATUSES.values()))
    hidden = rng.random(n) < HIDDEN
    author = rng.choice(member_ids, n)
    popularity = rng.pareto(1.2, n) + 1
    votes = 1 + spread(size.votes - n, popularity, members - 1, rng)  # the author's, then more
    talk = spread(size.comments, popularity**0.7, size.comments, rng)
    with engine.begin() as conn:
        copy(
            conn,
            "boards",
            "id, slug, name, description, created_at",
            (
                (i, slug, name, f"Ideas about the {name.lower()}.", now - timedelta(days=365 * 3))
                for i, (slug, name, _) in enumerate(BOARDS, 1)
            ),
        )
        people = [(i, "staff", f"staff{i}") for i in staff_ids]
        people += [(int(i), "member", f"member{i}") for i in member_ids]
        people += [(i, "member", f"voter{i}") for i in voter_ids]
        copy(
            conn,
            "users",
            "id, email, name, password_hash, role, created_at",
            (
                (
                    i,
                    f"{handle}@bench.example",
                    f"{texts.choice(FIRST_NAMES)} {texts.choice(LAST_NAMES)}",
                    password,
                    role,
                    now - timedelta(days=365 * 3),
                )
                for i, role, handle in people
            ),
        )
        copy(
            conn,
            "api_tokens",
            "user_id, token_hash, created_at",
            ((i, hashlib.sha256(token_for(i).encode()).hexdigest(), now) for i in voter_ids),
        )
        copy(
            conn,
            "ideas",
            "id, board_id, author_id, title, description, status, vote_count, comment_count, "
            "comments_locked, hidden_at, created_at, updated_at",
            (
                (
                    i + 1,
                    int(board_of[i]),
                    int(author[i]),
                    title(texts)[:150],
                    description(texts),
                    str(status_of[i]),
                    int(votes[i]),
                    int(talk[i]),
                    False,
                    created[i] + timedelta(days=1) if hidden[i] else None,
                    created[i],
                    created[i],
                )
                for i in range(n)
            ),
        )
        changed = np.flatnonzero(status_of != "open")
        copy(
            conn,
            "status_changes",
            "idea_id, actor_id, from_status, to_status, note, created_at",
            (
                (int(i) + 1, staff_ids[i % STAFF], "open", str(status_of[i]), "", when)
                for i, when in zip(changed, moments(ages[changed], now, rng), strict=True)
            ),
        )
        # votes: the author's, then distinct members
        idea_of = np.repeat(np.arange(1, n + 1), votes)
        voter = np.empty(len(idea_of), dtype=np.int64)
        start = 0
        for i in range(n):
            others = rng.choice(members - 1, votes[i] - 1, replace=False) + STAFF + 1
            others[others >= author[i]] += 1  # skip the author
            voter[start] = author[i]
            voter[start + 1 : start + votes[i]] = others
            start += votes[i]
        authors_votes = np.cumsum(votes) - votes  # cast as the idea was submitted
        voted_at = moments(ages[idea_of - 1], now, rng, authors_votes)
        follows = dict(zip(pairs_of(idea_of, voter), voted_at, strict=True))  # as votes do
        rows = ((i, u, when) for (i, u), when in follows.items())
        copy(conn, "votes", "idea_id, user_id, created_at", rows)
        # each idea's votes of the last two weeks, as ideas.trending keeps them
        since = now - trending.WINDOW
        conn.execute(
            text(
                "UPDATE ideas SET recent_votes = recent.n FROM (SELECT idea_id, count(*) AS n "
                "FROM votes WHERE created_at >= :since GROUP BY idea_id) AS recent "
                "WHERE ideas.id = recent.idea_id"
            ),
            {"since": since},
        )
        conn.execute(  # where the worker's decay starts
            text("INSERT INTO site_settings (key, value) VALUES (:k, :v)"),
            {"k": trending.DECAYED_UNTIL, "v": since.isoformat()},
        )
        # comments: a quarter answer an earlier comment of the same idea
        on = np.repeat(np.arange(1, n + 1), talk)
        said_at = moments(ages[on - 1], now, rng)
        order = sorted(range(len(on)), key=lambda c: said_at[c])  # ids grow with time
        heads: dict[int, list[int]] = {}
        comments = []
        for number, c in enumerate(order, 1):
            idea_id = int(on[c])
            earlier = heads.setdefault(idea_id, [])
            parent = texts.choice(earlier) if earlier and texts.random() < REPLIES else None
            if parent is None:
                earlier.append(number)
            writer = int(member_ids[texts.randrange(members)])
            follows.setdefault((idea_id, writer), said_at[c])
            hidden_at = said_at[c] + timedelta(hours=2) if texts.random() < 0.005 else None
            comments.append((number, idea_id, writer, parent, remark(texts), hidden_at, said_at[c]))
        copy(
            conn,
            "comments",
            "id, idea_id, author_id, parent_id, body, hidden_at, created_at",
            comments,
        )
        copy(
            conn,
            "follows",
            "idea_id, user_id, created_at",
            ((i, u, when) for (i, u), when in follows.items()),
        )
        copy(
            conn,
            "idea_embeddings",
            "idea_id, model, vector, updated_at",
            ((i + 1, model, embeddings.to_bytes(vectors[i]), created[i]) for i in range(n)),
        )
        roadmap(conn, texts, rng, now, popularity)
        restart_sequences(conn, ("boards", "users", "ideas", "comments"))


def roadmap(
    conn: Connection,
    texts: random.Random,
    rng: np.random.Generator,
    now: datetime,
    popularity: np.ndarray,
) -> None:
    """A roadmap for the weekly export: items over the last year, each answering a few popular
    ideas, moved planned → in progress → shipped, some of it in the last two weeks."""
    popular = np.argsort(-popularity)[: 20 * ROADMAP_ITEMS] + 1
    items: list[tuple[Any, ...]] = []
    links: list[tuple[int, int]] = []
    changes: list[tuple[Any, ...]] = []
    for number in range(1, ROADMAP_ITEMS + 1):
        made = now - timedelta(days=texts.uniform(1, 365))
        steps = ["planned", "in_progress", "shipped"][: texts.choice((1, 1, 2, 2, 3))]
        moved = [made] + sorted(made + (now - made) * texts.random() for _ in range(len(steps) - 1))
        reach = (texts.choice((0.5, 1, 2, 3)), texts.choice((0.5, 0.8, 1)), texts.randint(1, 8))
        items.append(
            (number, title(texts)[:150], description(texts), steps[-1], "", *reach)
            + (False, number, made, moved[-1], moved[-1] if steps[-1] == "shipped" else None)
        )
        for idea in rng.choice(popular, texts.randint(1, 8), replace=False):
            links.append((number, int(idea)))
        previous = None
        for status, when in zip(steps, moved, strict=True):
            changes.append((number, 1, previous, status, "", when))
            previous = status
    copy(
        conn,
        "roadmap_items",
        "id, title, description, status, note, impact, confidence, effort, weighted_reach, "
        "position, created_at, updated_at, shipped_at",
        items,
    )
    copy(conn, "roadmap_item_ideas", "item_id, idea_id", sorted(set(links)))
    copy(
        conn,
        "roadmap_changes",
        "item_id, actor_id, from_status, to_status, note, created_at",
        changes,
    )
    restart_sequences(conn, ("roadmap_items",))


# Keeping it between runs --------------------------------------------------------------------------


def _exists(url: str) -> bool:
    parsed = make_url(url)
    server = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with server.connect() as conn:
        found = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
    server.dispose()
    return found is not None


def _marker(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        value = conn.scalar(text("SELECT value FROM site_settings WHERE key = :k"), {"k": MARKER})
    return json.loads(value) if value else None


def tidy(url: str, voter_ids: list[int]) -> None:
    """Puts back what the vote bench leaves (or an interrupted one): the bench voters' votes
    (with the counts of their ideas) and follows; then lets the votes that left the trending
    window since the last run decay, as the worker would have."""
    engine = make_engine(url)
    voters = {"low": voter_ids[0], "high": voter_ids[-1]}
    among = "user_id BETWEEN :low AND :high"
    with engine.begin() as conn:
        touched = conn.scalars(text(f"SELECT DISTINCT idea_id FROM votes WHERE {among}"), voters)
        ideas = list(touched)
        conn.execute(text(f"DELETE FROM votes WHERE {among}"), voters)
        conn.execute(text(f"DELETE FROM follows WHERE {among}"), voters)
        if ideas:
            conn.execute(
                text(
                    "UPDATE ideas SET vote_count = (SELECT count(*) FROM votes "
                    "WHERE votes.idea_id = ideas.id), recent_votes = (SELECT count(*) FROM votes "
                    "WHERE votes.idea_id = ideas.id AND created_at >= :since) WHERE id = ANY(:ids)"
                ),
                {"ids": ideas, "since": datetime.now(UTC) - trending.WINDOW},
            )
    engine.dispose()
    database = Database(url)
    trending.decay(database)
    database.dispose()


def prepare(
    url: str,
    size: Size,
    model: str,
    vectors: Callable[[int], np.ndarray],
    fresh: bool = False,
) -> Community:
    """The community in the database named by ``url``: kept when it holds these sizes (unless
    ``fresh``), else the schema is wiped, migrated and seeded; ``vectors(n)`` gives the ideas'
    vectors then."""
    wanted = {"version": SEED_VERSION, "model": model, **asdict(size)}
    marker, seconds = None, None
    if not fresh and _exists(url):
        engine = make_engine(url)
        migrate.upgrade(engine)  # a kept database gets any newer migration
        marker = _marker(engine)
        engine.dispose()
    if marker is None or {k: marker.get(k) for k in wanted} != wanted:
        fresh_database(url)
        engine = make_engine(url)
        migrate.upgrade(engine)
        started = time.perf_counter()
        seed(engine, size, model, vectors(size.ideas))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would leave it
        seconds = time.perf_counter() - started
        marker = wanted | {"seeded_at": datetime.now(UTC).isoformat(), "seconds": seconds}
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO site_settings (key, value) VALUES (:k, :v)"),
                {"k": MARKER, "v": json.dumps(marker)},
            )
        engine.dispose()
    first_voter = STAFF + 1 + size.users
    voter_ids = list(range(first_voter, first_voter + size.voters))
    tidy(url, voter_ids)
    engine = make_engine(url)
    with engine.connect() as conn:
        boards = list(conn.scalars(text("SELECT slug FROM boards ORDER BY id")))
        shown = conn.scalars(text("SELECT id FROM ideas WHERE hidden_at IS NULL ORDER BY id"))
        idea_ids = list(shown)
    engine.dispose()
    seeded_at = datetime.fromisoformat(marker["seeded_at"])
    return Community(
        size, seeded_at, marker["seconds"], seconds is None, model, boards, voter_ids, idea_ids
    )
