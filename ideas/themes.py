"""Themes: the active ideas grouped by what they ask for, per board and across boards.

``rebuild`` clusters the stored idea vectors (``ml.themes``) and matches the clusters to the
themes of the last run by member overlap, so a theme keeps its id, its staff-given name, its
hidden flag and its roadmap item from one run to the next; splits, merges, new and retired themes
are recorded as ``ThemeEvent`` rows. Ideas staff moved by hand (``pinned``) stay where they were
put and are left out of the clustering.

Active ideas: not merged, not hidden, not declined. ``refresh_figures`` keeps each theme's size,
distinct voters (plain and weighted by the customers' weight) and its weekly history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ideas import audit, jobs
from ideas.db import Database
from ideas.embeddings import from_bytes
from ideas.errors import N_, Errors, Forbidden, NotFound
from ideas.models import (
    Idea,
    IdeaEmbedding,
    Job,
    RoadmapItem,
    SiteSetting,
    Theme,
    ThemeEvent,
    ThemeIdea,
    ThemeWeek,
    User,
    Vote,
    utcnow,
)
from ml import themes as theme_ml

NAME_LIMIT = 120
# the tables, for Core bulk statements (no ORM object per row)
_THEMES = cast(Table, Theme.__table__)
_THEME_IDEAS = cast(Table, ThemeIdea.__table__)
_THEME_WEEKS = cast(Table, ThemeWeek.__table__)
MIN_IDEAS = 6  # fewer active ideas in a scope make no themes worth reading
SORTS = ("voters", "weighted", "growth", "size")


@dataclass
class ScopeReport:
    board_id: int | None
    ideas: int = 0
    themes: int = 0
    unassigned: int = 0
    created: int = 0
    retired: int = 0
    splits: int = 0
    merges: int = 0


@dataclass
class RebuildReport:
    scopes: list[ScopeReport] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Rows:
    """Active ideas with a vector, in id order: one array per column (no object per idea)."""

    ids: np.ndarray  # int64
    boards: np.ndarray  # int64
    texts: list[str]  # title, newline, description
    vectors: np.ndarray  # (ideas × dimensions) float32

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, mask: np.ndarray) -> _Rows:
        if mask.all():
            return self
        (indices,) = np.nonzero(mask)
        return _Rows(
            self.ids[indices],
            self.boards[indices],
            [self.texts[i] for i in indices.tolist()],
            self.vectors[indices],
        )


def _active(query):  # type: ignore[no-untyped-def]
    return query.where(
        Idea.merged_into_id.is_(None), Idea.hidden_at.is_(None), Idea.status != "declined"
    )


def _load(db: Database, model: str) -> _Rows:
    """One query; the vectors' bytes joined into one matrix (100,000 ideas: ~150 MB)."""
    with db.reading() as session:
        rows = session.execute(
            _active(
                select(Idea.id, Idea.board_id, Idea.title, Idea.description, IdeaEmbedding.vector)
                .join(IdeaEmbedding, IdeaEmbedding.idea_id == Idea.id)
                .where(IdeaEmbedding.model == model)
            ).order_by(Idea.id)
        )
        ids, boards, texts, buffer = [], [], [], bytearray()
        for idea_id, board_id, title, description, vector in rows:
            ids.append(idea_id)
            boards.append(board_id)
            texts.append(f"{title}\n{description}")
            buffer += vector
    return _Rows(
        np.array(ids, dtype=np.int64),
        np.array(boards, dtype=np.int64),
        texts,
        # one array over the buffer (np.frombuffer takes a bytearray as well as bytes)
        from_bytes(cast(bytes, buffer)).reshape(len(ids), -1)
        if ids
        else np.empty((0, 0), np.float32),
    )


def scopes(db: Database) -> list[int | None]:
    """Every board, then all boards together (None)."""
    from ideas.models import Board

    with db.reading() as session:
        return [*session.scalars(select(Board.id).order_by(Board.id)), None]


def rebuild(
    db: Database, model: str, progress: Callable[[int], None] | None = None
) -> RebuildReport:
    """Re-clusters every scope; returns what happened in each. ``progress`` gets 1 per scope."""
    started = utcnow()
    rows = _load(db, model)
    report = RebuildReport()
    for board_id in scopes(db):
        in_scope = rows if board_id is None else rows.take(rows.boards == board_id)
        report.scopes.append(_rebuild_scope(db, board_id, in_scope))
        if progress is not None:
            progress(1)
    refresh_figures(db)
    _mark_rebuilt(db, utcnow())
    report.seconds = (utcnow() - started).total_seconds()
    return report


def _live_query(board_id: int | None):  # type: ignore[no-untyped-def]
    scope = Theme.board_id.is_(None) if board_id is None else Theme.board_id == board_id
    return select(Theme).where(scope, Theme.retired_at.is_(None)).order_by(Theme.id)


def _live(session: Session, board_id: int | None) -> list[Theme]:
    return list(session.scalars(_live_query(board_id)))


def _live_ids(session: Session, board_id: int | None) -> list[int]:
    return list(session.scalars(_live_query(board_id).with_only_columns(Theme.id)))


def _rebuild_scope(db: Database, board_id: int | None, rows: _Rows) -> ScopeReport:
    report = ScopeReport(board_id, ideas=len(rows))
    with db.reading() as session:
        live = _live_ids(session, board_id)
        memberships = session.execute(
            select(ThemeIdea.theme_id, ThemeIdea.idea_id, ThemeIdea.pinned).where(
                ThemeIdea.theme_id.in_(live)
            )
        ).all()
    pinned = {m.idea_id for m in memberships if m.pinned}
    old: dict[int, set[int]] = {theme_id: set() for theme_id in live}
    for m in memberships:
        if not m.pinned:
            old[m.theme_id].add(m.idea_id)
    free = rows.take(~np.isin(rows.ids, list(pinned))) if pinned else rows

    clusters: list[list[int]] = []
    names: dict[int, theme_ml.ThemeName] = {}
    if len(free) >= MIN_IDEAS:
        labels = theme_ml.cluster(free.vectors)
        names = theme_ml.name_themes(free.texts, labels, free.vectors)
        members = theme_ml.members_of(labels)
        clusters = [free.ids[members[label]].tolist() for label in sorted(names)]
        report.unassigned = int((labels < 0).sum())
    else:
        report.unassigned = len(free)
    match = theme_ml.match_themes(old, clusters)

    now = utcnow()
    with db.transaction() as session:
        themes = {theme.id: theme for theme in _live(session, board_id)}
        cluster_theme: dict[int, Theme] = {}
        for position, label in enumerate(sorted(names)):
            kept = match.kept.get(position)
            theme = themes.get(kept) if kept is not None else None
            if theme is None:
                theme = Theme(board_id=board_id, created_at=now)
                session.add(theme)
            name = names[label]
            title = free.texts[name.central].split("\n", 1)[0]
            theme.keywords = name.keywords
            theme.auto_name = ", ".join(name.keywords[:3]) or title
            theme.central_idea_id = int(free.ids[name.central])
            theme.updated_at = now
            cluster_theme[position] = theme
        session.flush()
        for position in match.created:
            _event(session, cluster_theme[position].id, "created")
        hand_made = {m.theme_id for m in memberships if m.pinned}
        for theme_id in match.retired:
            if theme_id in hand_made:
                continue  # staff put ideas here by hand: the theme lives on with them
            themes[theme_id].retired_at = now
            _event(session, theme_id, "retired")
        for old_id, parts in match.splits.items():
            for position in parts:
                _event(session, old_id, "split", cluster_theme[position].id)
        for position, old_ids in match.merges.items():
            for old_id in old_ids:
                if old_id != cluster_theme[position].id:
                    _event(session, cluster_theme[position].id, "merged", old_id)
        session.execute(
            delete(ThemeIdea)
            .where(ThemeIdea.theme_id.in_(list(themes)), ThemeIdea.pinned.is_(False))
            .execution_options(synchronize_session=False)
        )
        rows_to_add = [
            {"theme_id": cluster_theme[position].id, "idea_id": idea_id, "pinned": False}
            for position, members in enumerate(clusters)
            for idea_id in members
        ]
        if rows_to_add:  # Core, not ORM, bulk insert: ~100,000 rows across boards
            session.execute(insert(_THEME_IDEAS), rows_to_add)
    report.themes = len(clusters)
    report.created, report.retired = len(match.created), len(match.retired)
    report.splits, report.merges = len(match.splits), len(match.merges)
    return report


def _event(session: Session, theme_id: int, kind: str, other: int | None = None) -> None:
    session.add(ThemeEvent(theme_id=theme_id, kind=kind, other_theme_id=other))


def week_of(moment: datetime | date) -> date:
    """The Monday of the ISO week holding this moment (UTC)."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def refresh_figures(db: Database, now: datetime | None = None) -> None:
    """Each live theme's size, distinct voters (plain and weighted), growth over the last 7
    days, and this week's row in its history."""
    now = now or utcnow()
    week = week_of(now)
    week_start = datetime.combine(week, datetime.min.time(), tzinfo=now.tzinfo)
    live = select(Theme.id).where(Theme.retired_at.is_(None))
    with db.transaction() as session:
        theme_ids = list(session.scalars(live))
        members: dict[int, list[int]] = defaultdict(list)
        for theme_id, idea_id in session.execute(
            select(ThemeIdea.theme_id, ThemeIdea.idea_id).where(ThemeIdea.theme_id.in_(live))
        ):
            members[theme_id].append(idea_id)
        # the ideas of live themes as a subquery, not as a list of (up to 100,000) parameters
        in_live_theme = select(ThemeIdea.idea_id).where(ThemeIdea.theme_id.in_(live))
        votes_by_idea: dict[int, list[tuple[int, datetime, float]]] = defaultdict(list)
        for idea_id, user_id, created_at, weight in session.execute(
            select(Vote.idea_id, Vote.user_id, Vote.created_at, User.weight)
            .join(User, User.id == Vote.user_id)
            .where(Vote.idea_id.in_(in_live_theme))
        ):
            votes_by_idea[idea_id].append((user_id, created_at, weight))
        session.execute(
            delete(ThemeWeek)
            .where(ThemeWeek.week == week, ThemeWeek.theme_id.in_(live))
            .execution_options(synchronize_session=False)
        )
        figures, weeks = [], []
        for theme_id in theme_ids:
            first_vote: dict[int, tuple[datetime, float]] = {}
            votes_this_week = 0
            for idea_id in members[theme_id]:
                for user_id, created_at, weight in votes_by_idea[idea_id]:
                    if user_id not in first_vote or created_at < first_vote[user_id][0]:
                        first_vote[user_id] = (created_at, weight)
                    votes_this_week += created_at >= week_start
            size, voters = len(members[theme_id]), len(first_vote)
            weighted = float(sum(weight for _, weight in first_vote.values()))
            growth = sum(
                1 for created_at, _ in first_vote.values() if created_at >= now - timedelta(7)
            )
            figures.append(
                {
                    "b_id": theme_id,
                    "size": size,
                    "voters": voters,
                    "weighted_voters": weighted,
                    "growth": growth,
                }
            )
            weeks.append(
                {
                    "theme_id": theme_id,
                    "week": week,
                    "size": size,
                    "voters": voters,
                    "votes": votes_this_week,
                    "weighted_voters": weighted,
                }
            )
        if figures:  # Core executemany: one statement for every theme, no ORM object each
            session.execute(update(_THEMES).where(_THEMES.c.id == bindparam("b_id")), figures)
            session.execute(insert(_THEME_WEEKS), weeks)


# Reading -----------------------------------------------------------------------------------------


def listing(
    session: Session,
    board_id: int | None = None,
    sort: str = "voters",
    include_hidden: bool = False,
) -> list[Theme]:
    """Live themes of a scope (a board, or None: across boards), best first."""
    query = select(Theme).where(
        Theme.retired_at.is_(None),
        Theme.board_id.is_(None) if board_id is None else Theme.board_id == board_id,
    )
    if not include_hidden:
        query = query.where(Theme.hidden_at.is_(None))
    orders: dict[str, tuple[Any, ...]] = {
        "voters": (Theme.voters.desc(), Theme.growth.desc()),
        "weighted": (Theme.weighted_voters.desc(), Theme.voters.desc()),
        "growth": (Theme.growth.desc(), Theme.voters.desc()),
        "size": (Theme.size.desc(), Theme.voters.desc()),
    }
    order = orders[sort if sort in SORTS else "voters"]
    return list(session.scalars(query.order_by(*order, Theme.id)))


def get(session: Session, theme_id: int) -> Theme:
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(N_("This theme does not exist."))
    return theme


def idea_ids(session: Session, theme_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ThemeIdea.idea_id)
            .where(ThemeIdea.theme_id == theme_id)
            .order_by(ThemeIdea.idea_id)
        )
    )


def idea_ids_of(session: Session, theme_ids: Iterable[int]) -> dict[int, list[int]]:
    """Several themes' idea ids at once, each list in id order."""
    ids = list(theme_ids)
    found: dict[int, list[int]] = {theme_id: [] for theme_id in ids}
    if ids:
        for theme_id, idea_id in session.execute(
            select(ThemeIdea.theme_id, ThemeIdea.idea_id)
            .where(ThemeIdea.theme_id.in_(ids))
            .order_by(ThemeIdea.idea_id)
        ):
            found[theme_id].append(idea_id)
    return found


def ideas_of(session: Session, theme: Theme) -> list[Idea]:
    """The theme's ideas, most voted first (the first ones are its most representative)."""
    return list(
        session.scalars(
            select(Idea)
            .join(ThemeIdea, ThemeIdea.idea_id == Idea.id)
            .where(ThemeIdea.theme_id == theme.id)
            .order_by(Idea.vote_count.desc(), Idea.id)
        )
    )


def history(session: Session, theme: Theme, weeks: int = 12) -> list[ThemeWeek]:
    return list(
        reversed(
            session.scalars(
                select(ThemeWeek)
                .where(ThemeWeek.theme_id == theme.id)
                .order_by(ThemeWeek.week.desc())
                .limit(weeks)
            ).all()
        )
    )


def events(session: Session, theme: Theme) -> list[ThemeEvent]:
    return list(
        session.scalars(
            select(ThemeEvent)
            .where((ThemeEvent.theme_id == theme.id) | (ThemeEvent.other_theme_id == theme.id))
            .order_by(ThemeEvent.id.desc())
            .limit(50)
        )
    )


# Staff actions -----------------------------------------------------------------------------------


def _staff(actor: User) -> None:
    if not actor.is_staff:
        raise Forbidden()


def rename(session: Session, actor: User, theme: Theme, name: str) -> None:
    """Staff's name for a theme (empty: back to the automatic one); rebuilds keep it."""
    _staff(actor)
    name = " ".join(name.split())
    errors = Errors()
    errors.check_length("name", name, 0, NAME_LIMIT)
    errors.raise_if_any()
    old = theme.name
    theme.custom_name = name or None
    theme.updated_at = utcnow()
    _event(session, theme.id, "renamed")
    audit.record(session, actor, "theme.rename", "theme", theme.id, old=old, new=theme.name)


def set_hidden(session: Session, actor: User, theme: Theme, hidden: bool) -> None:
    _staff(actor)
    theme.hidden_at = utcnow() if hidden else None
    audit.record(session, actor, "theme.hide" if hidden else "theme.show", "theme", theme.id)


def merge(session: Session, actor: User, theme: Theme, into: Theme) -> None:
    """Moves every idea of ``theme`` into ``into`` (pinned, so rebuilds keep them together)."""
    _staff(actor)
    errors = Errors()
    if into.id == theme.id:
        errors.add("into", N_("A theme cannot be merged into itself."))
    elif into.retired_at is not None or into.board_id != theme.board_id:
        errors.add("into", N_("Choose a current theme of the same board."))
    errors.raise_if_any()
    moving = idea_ids(session, theme.id)
    _move(session, moving, into)
    theme.retired_at = theme.updated_at = utcnow()
    theme.merged_into_id = into.id
    _event(session, into.id, "merged", theme.id)
    audit.record(session, actor, "theme.merge", "theme", theme.id, into=into.id)


def move_idea(session: Session, actor: User, idea: Idea, into: Theme) -> None:
    """Puts an idea in another theme of the same scope, for good (pinned)."""
    _staff(actor)
    if into.retired_at is not None or (
        into.board_id is not None and into.board_id != idea.board_id
    ):
        errors = Errors()
        errors.add("into", N_("Choose a current theme of the idea's board."))
        errors.raise_if_any()
    _move(session, [idea.id], into)
    audit.record(session, actor, "theme.move_idea", "idea", idea.id, into=into.id)


def _move(session: Session, ids: Iterable[int], into: Theme) -> None:
    ids = list(ids)
    if not ids:
        return
    same_scope = select(Theme.id).where(
        Theme.board_id.is_(None) if into.board_id is None else Theme.board_id == into.board_id
    )
    session.execute(
        delete(ThemeIdea)
        .where(ThemeIdea.idea_id.in_(ids), ThemeIdea.theme_id.in_(same_scope))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        insert(ThemeIdea), [{"theme_id": into.id, "idea_id": i, "pinned": True} for i in ids]
    )
    into.size = (
        session.scalar(
            select(func.count()).select_from(ThemeIdea).where(ThemeIdea.theme_id == into.id)
        )
        or 0
    )


def roadmap_item_id(session: Session, theme: Theme) -> int | None:
    """The roadmap item made from this theme (not cancelled), if any."""
    return session.scalar(
        select(RoadmapItem.id)
        .where(RoadmapItem.theme_id == theme.id, RoadmapItem.status != "cancelled")
        .order_by(RoadmapItem.id.desc())
        .limit(1)
    )


def names_of(session: Session, theme_ids: Iterable[int]) -> dict[int, str]:
    """Themes' names by id, retired ones included (for the events of a theme)."""
    ids = list(theme_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Theme.id, Theme.custom_name, Theme.auto_name).where(Theme.id.in_(ids))
    )
    return {row.id: row.custom_name or row.auto_name for row in rows}


def histories(
    session: Session, theme_ids: Iterable[int], weeks: int = 12, now: datetime | None = None
) -> dict[int, list[ThemeWeek]]:
    """The weekly rows of several themes over the last ``weeks`` weeks, oldest first."""
    ids = list(theme_ids)
    found: dict[int, list[ThemeWeek]] = {theme_id: [] for theme_id in ids}
    if not ids:
        return found
    since = week_of(now or utcnow()) - timedelta(weeks=weeks - 1)
    for row in session.scalars(
        select(ThemeWeek)
        .where(ThemeWeek.theme_id.in_(ids), ThemeWeek.week >= since)
        .order_by(ThemeWeek.week)
    ):
        found[row.theme_id].append(row)
    return found


# Rebuilding in the background --------------------------------------------------------------------
#
# The worker rebuilds every day at DAILY_AT (UTC): it keeps one "rebuild_themes" job queued for the
# next run, its key naming the day so that several workers queue it once. Staff can ask for a
# rebuild now: a job due at once, run by the worker (in the web process, or `ideas-portal worker`).

REBUILD_JOB = "rebuild_themes"
DAILY_AT = time(3, 0)
DAILY_KEY = "rebuild_themes:daily:"
REBUILT_AT = "themes_rebuilt_at"  # a SiteSetting: when the last rebuild finished


def _mark_rebuilt(db: Database, moment: datetime) -> None:
    value = moment.astimezone(UTC).isoformat()
    try:
        with db.transaction() as session:
            stored = session.get(SiteSetting, REBUILT_AT)
            if stored is None:
                session.add(SiteSetting(key=REBUILT_AT, value=value))
            else:
                stored.value = value
    except IntegrityError:  # another process recorded its first rebuild at the same moment
        with db.transaction() as session:
            session.get_one(SiteSetting, REBUILT_AT).value = value


def last_rebuilt(session: Session) -> datetime | None:
    """When the themes were last rebuilt (UTC); None before the first rebuild."""
    stored = session.get(SiteSetting, REBUILT_AT)
    return datetime.fromisoformat(stored.value) if stored is not None else None


def next_daily_run(after: datetime) -> datetime:
    """The first DAILY_AT strictly after ``after``."""
    moment = after.astimezone(UTC)
    run = datetime.combine(moment.date(), DAILY_AT, tzinfo=UTC)
    return run if run > moment else run + timedelta(days=1)


def _waiting(query):  # type: ignore[no-untyped-def]
    return query.where(Job.kind == REBUILD_JOB, Job.done_at.is_(None), Job.failed_at.is_(None))


def schedule(db: Database, now: datetime | None = None) -> None:
    """Keeps the next daily rebuild queued; cheap when it is (one read)."""
    with db.reading() as session:
        queued = session.scalar(
            _waiting(select(Job.id)).where(Job.key.startswith(DAILY_KEY)).limit(1)
        )
    if queued is not None:
        return
    run_at = next_daily_run(now or utcnow())
    with db.transaction() as session:
        jobs.enqueue_once(
            session, f"{DAILY_KEY}{run_at:%Y-%m-%d}", REBUILD_JOB, {}, run_at=run_at, max_attempts=3
        )


def rebuild_requested(session: Session, now: datetime | None = None) -> bool:
    """A rebuild is due now or running (not the next daily one, waiting for its time)."""
    query = _waiting(select(Job.id)).where(Job.run_at <= (now or utcnow())).limit(1)
    return session.scalar(query) is not None


def request_rebuild(session: Session, actor: User) -> bool:
    """Staff's "rebuild now": a job due at once, unless one is due or running already. True
    when this call queued it."""
    _staff(actor)
    if rebuild_requested(session):
        return False
    jobs.enqueue(session, REBUILD_JOB, {"requested_by": actor.id}, max_attempts=3)
    audit.record(session, actor, "theme.rebuild", "themes", 0)
    return True
