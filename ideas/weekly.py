"""The weekly roadmap update: an ISO week, in the portal's time zone, frozen as a snapshot.

A snapshot holds every roadmap item as the week ended (status, target, RICE score, its linked
ideas' counts and distinct voters), the top themes, the most voted new ideas, and what changed
since the week before. It is built from the timestamps of the history tables (RoadmapChange,
Vote, Idea), so a late run still freezes the week as it ended, and it is stored once and never
rewritten: every export of a week (ideas.weekly_render) is made from the stored dict alone, so
a past week comes out the same, byte for byte, however the portal changed since.

What the history cannot tell is taken as it is when the snapshot is made: titles, targets and
RICE inputs, which ideas are linked, theme membership and names, customer weights, and votes
taken back (a vote row is deleted when it is taken back).

The worker keeps one "weekly_export" job queued for the next EXPORT_SCHEDULE time (in TIME_ZONE;
its key names that time, so several workers queue it once). When it runs, `publish` snapshots the
last complete week, writes the files to EXPORT_DIR when set, and queues one email per member who
opted in (key: week and person, so each is queued and sent once).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ideas import audit, jobs, webhooks, weekly_render
from ideas.db import Database
from ideas.errors import N_, Conflict, Forbidden, NotFound
from ideas.models import (
    Board,
    Idea,
    RoadmapChange,
    RoadmapItem,
    RoadmapItemIdea,
    Theme,
    ThemeIdea,
    User,
    Vote,
    WeeklySnapshot,
    utcnow,
)
from ideas.roadmap import STATUSES
from ideas.settings import Settings, weekly_time

log = logging.getLogger(__name__)

DATA_VERSION = 1  # of the stored dict; the JSON export has its own schema_version
WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
TOP_THEMES = 10
GROWN_THEMES = 5
NEW_IDEAS = 10
EXPORT_JOB = "weekly_export"
MAIL_JOB = "weekly_mail"
FORMATS = ("md", "csv", "json")


# Weeks ------------------------------------------------------------------------------------------


def parse_week(text: str) -> tuple[int, int]:
    """(year, week) of "2026-W48"; ValueError for anything else, or a week the year lacks
    (2026 has 53 ISO weeks, 2027 has 52)."""
    found = WEEK.match(text.strip().upper()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"a week looks like 2026-W48: {text!r}")
    year, week = int(found.group(1)), int(found.group(2))
    date.fromisocalendar(year, week, 1)  # raises ValueError for week 0, 54, or 53 of most years
    return year, week


def week_name(year: int, week: int) -> str:
    return f"{year:04d}-W{week:02d}"


def monday_of(week: str) -> date:
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, 1)


def week_of_day(day: date) -> str:
    year, number, _ = day.isocalendar()
    return week_name(year, number)


def week_bounds(week: str, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which the week starts and ends: Monday 00:00 in the zone, and the
    next Monday 00:00 there (a week with a daylight-saving change lasts 167 or 169 hours)."""
    tz = ZoneInfo(zone)
    monday = monday_of(week)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    following = monday + timedelta(days=7)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_containing(moment: datetime, zone: str) -> str:
    return week_of_day(moment.astimezone(ZoneInfo(zone)).date())


def previous_week(week: str) -> str:
    return week_of_day(monday_of(week) - timedelta(days=7))


def last_complete_week(now: datetime, zone: str) -> str:
    """The week before the one holding `now` (in the zone): the newest week that is over."""
    return previous_week(week_containing(now, zone))


# Building a snapshot ----------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _round(value: float) -> float:
    return round(float(value), 4)


def _items(
    session: Session, starts_at: datetime, ends_at: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
    """The items as the week ended, the week's status changes, and the items added that week."""
    history: dict[int, list[RoadmapChange]] = defaultdict(list)
    for change in session.scalars(
        select(RoadmapChange)
        .where(RoadmapChange.created_at < ends_at)
        .order_by(RoadmapChange.created_at, RoadmapChange.id)
    ):
        history[change.item_id].append(change)
    rows = {
        item.id: item
        for item in session.scalars(
            select(RoadmapItem).where(
                (RoadmapItem.id.in_(list(history))) | (RoadmapItem.created_at < ends_at)
            )
        )
    }
    links: dict[int, list[int]] = defaultdict(list)
    for item_id, idea_id in session.execute(
        select(RoadmapItemIdea.item_id, RoadmapItemIdea.idea_id).where(
            RoadmapItemIdea.item_id.in_(list(rows))
        )
    ):
        links[item_id].append(idea_id)
    linked = select(RoadmapItemIdea.idea_id).where(RoadmapItemIdea.item_id.in_(list(rows)))
    voters_of: dict[int, set[int]] = defaultdict(set)
    weights: dict[int, float] = {}
    for idea_id, user_id, weight in session.execute(
        select(Vote.idea_id, Vote.user_id, User.weight)
        .join(User, User.id == Vote.user_id)
        .where(Vote.idea_id.in_(linked), Vote.created_at < ends_at)
    ):
        voters_of[idea_id].add(user_id)
        weights[user_id] = float(weight)

    items: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    added: list[int] = []
    for item_id, item in rows.items():
        past = history.get(item_id, [])
        created = past[0].created_at if past else item.created_at
        if created >= ends_at:
            continue  # no history: made after the week (an item without any is kept as it is)
        status = past[-1].to_status if past else item.status
        shipped_at = None
        if status == "shipped":
            shipped = [change.created_at for change in past if change.to_status == "shipped"]
            shipped_at = _iso(shipped[-1]) if shipped else None
        ideas = links.get(item_id, [])
        people = set().union(*(voters_of[idea_id] for idea_id in ideas)) if ideas else set()
        voters = len(people)
        weighted = sum(weights[user_id] for user_id in people)
        reach = weighted if item.weighted_reach else float(voters)
        added_now = starts_at <= created < ends_at
        if added_now:
            added.append(item_id)
        moved = []
        for change in past:
            if change.created_at < starts_at or change.from_status is None:
                continue
            if change.from_status != change.to_status:
                moved.append(
                    {
                        "item_id": item_id,
                        "title": item.title,
                        "from": change.from_status,
                        "to": change.to_status,
                        "at": _iso(change.created_at),
                        "note": change.note,
                    }
                )
        changes += moved
        items.append(
            {
                "id": item_id,
                "title": item.title,
                "status": status,
                "target": item.target,
                "note": past[-1].note if past else item.note,
                "impact": item.impact,
                "confidence": item.confidence,
                "effort": item.effort,
                "weighted_reach": item.weighted_reach,
                "reach": _round(reach),
                "score": _round(reach * item.impact * item.confidence / item.effort),
                "voters": voters,
                "weighted_voters": _round(weighted),
                "ideas": len(ideas),
                "votes": sum(len(voters_of[idea_id]) for idea_id in ideas),
                "shipped_at": shipped_at,
                "added_this_week": added_now,
                "status_changed_this_week": bool(moved),
                "position": item.position,
            }
        )
    order = {status: number for number, status in enumerate(STATUSES)}
    items.sort(key=lambda row: (order.get(row["status"], 99), row["position"], row["id"]))
    for row in items:
        del row["position"]  # the order of the list says it
    changes.sort(key=lambda change: (change["at"], change["item_id"], change["to"]))
    return items, changes, sorted(added)


def _themes(session: Session, starts_at: datetime, ends_at: datetime) -> list[dict[str, Any]]:
    """The live themes across boards with their distinct voters as the week ended and the
    people who first voted for one of their ideas during the week."""
    live = (
        Theme.board_id.is_(None),
        Theme.retired_at.is_(None),
        Theme.hidden_at.is_(None),
        Theme.merged_into_id.is_(None),
    )
    themes = {theme.id: theme for theme in session.scalars(select(Theme).where(*live))}
    # Subqueries, not lists of ids: the themes hold every active idea, more than one statement
    # may bind (65,535 parameters with psycopg, 32,766 on SQLite; bench/scale.py).
    live_ids = select(Theme.id).where(*live)
    members: dict[int, list[int]] = defaultdict(list)
    for theme_id, idea_id in session.execute(
        select(ThemeIdea.theme_id, ThemeIdea.idea_id).where(ThemeIdea.theme_id.in_(live_ids))
    ):
        members[theme_id].append(idea_id)
    themed = select(ThemeIdea.idea_id).where(ThemeIdea.theme_id.in_(live_ids))
    first_votes: dict[int, dict[int, datetime]] = defaultdict(dict)
    for idea_id, user_id, created_at in session.execute(
        select(Vote.idea_id, Vote.user_id, Vote.created_at).where(
            Vote.idea_id.in_(themed), Vote.created_at < ends_at
        )
    ):
        known = first_votes[idea_id].get(user_id)
        if known is None or created_at < known:
            first_votes[idea_id][user_id] = created_at
    found = []
    for theme_id, theme in themes.items():
        first: dict[int, datetime] = {}
        for idea_id in members[theme_id]:
            for user_id, created_at in first_votes[idea_id].items():
                if user_id not in first or created_at < first[user_id]:
                    first[user_id] = created_at
        if not first:
            continue
        found.append(
            {
                "id": theme_id,
                "name": theme.name,
                "ideas": len(members[theme_id]),
                "voters": len(first),
                "new_voters": sum(1 for moment in first.values() if moment >= starts_at),
            }
        )
    return found


def _new_ideas(
    session: Session, starts_at: datetime, ends_at: datetime
) -> tuple[list[dict[str, Any]], int]:
    """The week's new ideas (visible, not merged) with the most votes as the week ended, and
    how many new ideas there were."""
    new = (
        Idea.created_at >= starts_at,
        Idea.created_at < ends_at,
        Idea.hidden_at.is_(None),
        Idea.merged_into_id.is_(None),
    )
    ideas = list(
        session.execute(
            select(Idea.id, Idea.title, Board.name)
            .join(Board, Board.id == Idea.board_id)
            .where(*new)
        )
    )
    votes: dict[int, int] = defaultdict(int)
    for (idea_id,) in session.execute(
        select(Vote.idea_id).where(
            Vote.idea_id.in_(select(Idea.id).where(*new)), Vote.created_at < ends_at
        )
    ):
        votes[idea_id] += 1
    top = sorted(ideas, key=lambda row: (-votes[row[0]], row[0]))[:NEW_IDEAS]
    return [
        {"id": idea_id, "title": title, "board": board, "votes": votes[idea_id]}
        for idea_id, title, board in top
    ], len(ideas)


def build(session: Session, week: str, zone: str) -> dict[str, Any]:
    """The week's snapshot as a plain dict (JSON types only), as the week ended."""
    starts_at, ends_at = week_bounds(week, zone)
    items, status_changes, added = _items(session, starts_at, ends_at)
    themes = _themes(session, starts_at, ends_at)
    new_ideas, new_count = _new_ideas(session, starts_at, ends_at)
    votes_cast = len(
        session.scalars(
            select(Vote.id).where(Vote.created_at >= starts_at, Vote.created_at < ends_at)
        ).all()
    )
    before = session.get(WeeklySnapshot, previous_week(week))
    previous = before.data if before is not None else None
    if previous is not None:
        # Against the week before as it was frozen: an item it did not have is new, and a new
        # title or target counts as a change too.
        known = {item["id"]: item for item in previous.get("items", [])}
        added = sorted(item["id"] for item in items if item["id"] not in known)
        for item in items:
            item["added_this_week"] = item["id"] in added
    else:
        known = {}
    for item in items:
        old = known.get(item["id"])
        edited = old is not None and (old["title"], old["target"]) != (
            item["title"],
            item["target"],
        )
        item["changed_this_week"] = bool(
            item["added_this_week"] or item["status_changed_this_week"] or edited
        )
    previous_voters = {theme["id"]: theme["voters"] for theme in (previous or {}).get("themes", [])}
    for theme in themes:
        theme["voters_before"] = previous_voters.get(theme["id"])
    grown = sorted(
        (theme for theme in themes if theme["new_voters"] > 0),
        key=lambda theme: (-theme["new_voters"], -theme["voters"], theme["id"]),
    )[:GROWN_THEMES]
    top = sorted(themes, key=lambda theme: (-theme["voters"], -theme["new_voters"], theme["id"]))
    shipped = sorted(
        {
            change["item_id"]
            for change in status_changes
            if change["to"] == "shipped"
            and any(i["id"] == change["item_id"] and i["status"] == "shipped" for i in items)
        }
    )
    return {
        "version": DATA_VERSION,
        "week": week,
        "time_zone": zone,
        "starts_at": _iso(starts_at),
        "ends_at": _iso(ends_at),
        "previous_week": previous_week(week),
        "compared_with": "snapshot" if previous is not None else "history",
        "items": items,
        "themes": top[:TOP_THEMES],
        "new_ideas": new_ideas,
        "changes": {
            "added": added,
            "status_changes": status_changes,
            "shipped": shipped,
            "themes_grown": [
                {key: theme[key] for key in ("id", "name", "new_voters", "voters")}
                for theme in grown
            ],
        },
        "totals": {
            "items": len(items),
            "new_ideas": new_count,
            "votes": votes_cast,
        },
    }


# Storing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    snapshot: WeeklySnapshot
    created: bool  # False: it was there already (it is never rewritten)


def get(session: Session, week: str) -> WeeklySnapshot:
    try:
        parse_week(week)
    except ValueError:
        raise NotFound(N_("There is no update for this week.")) from None
    found = session.get(WeeklySnapshot, week)
    if found is None:
        raise NotFound(N_("There is no update for this week."))
    return found


def recent(session: Session, limit: int | None = None) -> list[WeeklySnapshot]:
    """Stored weeks, newest first."""
    query = select(WeeklySnapshot).order_by(WeeklySnapshot.starts_at.desc()).limit(limit)
    return list(session.scalars(query))


def make(
    db: Database, week: str, zone: str, now: datetime | None = None, base_url: str = ""
) -> Made:
    """The week's snapshot: the stored one, or a new one when the week is over (Conflict while
    it is not). Two processes making it at once store it once. A new one emits the
    "weekly_export.ready" webhook event in the same transaction."""
    parse_week(week)
    with db.reading() as session:
        stored = session.get(WeeklySnapshot, week)
    if stored is not None:
        return Made(stored, False)
    starts_at, ends_at = week_bounds(week, zone)
    if ends_at > (now or utcnow()):
        raise Conflict(N_("This week is not over yet: its update can be made from Monday on."))
    try:
        with db.transaction() as session:
            snapshot = WeeklySnapshot(
                week=week,
                starts_at=starts_at,
                ends_at=ends_at,
                time_zone=zone,
                data=build(session, week, zone),
            )
            session.add(snapshot)
            session.flush()
            _announce(session, week, base_url)
    except IntegrityError:  # another process stored it first: that one stands
        with db.reading() as session:
            return Made(session.get_one(WeeklySnapshot, week), False)
    return Made(snapshot, True)


def export_urls(week: str, base_url: str) -> dict[str, str]:
    base = f"{base_url}/updates/{week}"
    return {"page": base, **{name: f"{base}.{name}" for name in FORMATS}}


def _announce(session: Session, week: str, base_url: str) -> None:
    webhooks.emit(
        session, "weekly_export.ready", {"week": week, "urls": export_urls(week, base_url)}
    )


# The worker's weekly run -------------------------------------------------------------------------


def next_run(after: datetime, schedule: str, zone: str) -> datetime:
    """The first scheduled time (day and time in the zone) strictly after `after`, in UTC."""
    weekday, hour, minute = weekly_time(schedule)
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    for _ in range(3):
        run = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)
        if run > after:
            return run
        day += timedelta(days=7)
    raise AssertionError("unreachable")


def schedule(db: Database, settings: Settings, now: datetime | None = None) -> None:
    """Keeps the next weekly export queued; cheap when it is (one read)."""
    if jobs.waiting(db, EXPORT_JOB):
        return
    run_at = next_run(now or utcnow(), settings.export_schedule, settings.time_zone)
    week = last_complete_week(run_at, settings.time_zone)
    with db.transaction() as session:
        jobs.enqueue_once(
            session, f"{EXPORT_JOB}:{week}", EXPORT_JOB, {"week": week}, run_at=run_at
        )


@dataclass(frozen=True)
class Published:
    week: str
    created: bool
    files: list[Path]
    mails: int  # queued by this call


def publish(db: Database, settings: Settings, week: str, now: datetime | None = None) -> Published:
    """Snapshots the week (once), writes its files to EXPORT_DIR when set, and queues the email
    to each member who opted in (once per week and person). Safe to run again."""
    made = make(db, week, settings.time_zone, now, settings.base_url)
    files = []
    if settings.export_dir is not None:
        files = weekly_render.write_files(
            made.snapshot.data, settings.export_dir, settings.default_locale, settings.base_url
        )
    with db.reading() as session:
        members = session.scalars(
            select(User.id)
            .where(User.roadmap_updates.is_(True), User.blocked_at.is_(None))
            .order_by(User.id)
        ).all()
    queued = 0
    with db.transaction() as session:
        for user_id in members:
            queued += jobs.enqueue_once(
                session,
                mail_key(week, user_id),
                MAIL_JOB,
                {"week": week, "user_id": user_id},
            )
    return Published(week, made.created, files, queued)


def mail_key(week: str, user_id: int) -> str:
    return f"{MAIL_JOB}:{week}:{user_id}"


def publish_last_week(
    db: Database, settings: Settings, actor: User, now: datetime | None = None
) -> Published:
    """Staff's "make last week's export now", for when no worker runs: the same as the
    scheduled run, for the last complete week."""
    if not actor.is_staff or actor.is_blocked:
        raise Forbidden()
    week = last_complete_week(now or utcnow(), settings.time_zone)
    done = publish(db, settings, week, now)
    with db.transaction() as session:
        audit.record(session, actor, "weekly.export", "weekly", 0, week=week, new=done.created)
    return done
