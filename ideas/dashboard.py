"""The product team's overview: the week's new ideas and votes beside the weeks before, what
waits for the team (duplicate pairs, hidden ideas), and the themes growing fastest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ideas import duplicates, themes, weekly
from ideas.models import Idea, Theme, Vote, WeeklySnapshot, utcnow

WEEKS = 12  # in the charts, this week included
UPDATES = 6  # weekly roadmap updates listed
GROWING = 5  # themes in "top growing"


@dataclass(frozen=True)
class Week:
    week: date  # its Monday
    ideas: int
    votes: int


@dataclass
class Overview:
    weeks: list[Week]  # oldest first; the last one is this week
    duplicates: int
    hidden_ideas: int
    growing: list[Theme]  # across boards, most new voters in the last 7 days first
    # Each growing theme's distinct voters in each of `weeks` (None: no figure that week).
    voters_by_week: dict[int, list[int | None]] = field(default_factory=dict)
    last_rebuilt: datetime | None = None
    updates: list[WeeklySnapshot] = field(default_factory=list)  # newest first

    @property
    def this_week(self) -> Week:
        return self.weeks[-1]

    @property
    def last_week(self) -> Week:
        return self.weeks[-2]


def weekly_counts(session: Session, weeks: int = WEEKS, now: datetime | None = None) -> list[Week]:
    """New ideas and votes cast per ISO week (UTC), the last ``weeks`` weeks, oldest first.
    Merged and hidden ideas count: they were posted that week."""
    now = now or utcnow()
    first = themes.week_of(now) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    ideas = Counter(
        themes.week_of(moment)
        for moment in session.scalars(select(Idea.created_at).where(Idea.created_at >= since))
    )
    votes = Counter(
        themes.week_of(moment)
        for moment in session.scalars(select(Vote.created_at).where(Vote.created_at >= since))
    )
    mondays = [first + timedelta(weeks=n) for n in range(weeks)]
    return [Week(monday, ideas[monday], votes[monday]) for monday in mondays]


def overview(session: Session, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    growing = [
        theme for theme in themes.listing(session, None, "growth")[:GROWING] if theme.growth > 0
    ]
    weeks = weekly_counts(session, WEEKS, now)
    histories = themes.histories(session, [theme.id for theme in growing], WEEKS, now)
    voters_by_week = {}
    for theme_id, rows in histories.items():
        by_week: dict[date, int] = {row.week: row.voters for row in rows}
        voters_by_week[theme_id] = [by_week.get(week.week) for week in weeks]
    return Overview(
        weeks=weeks,
        duplicates=duplicates.pending_count(session),
        hidden_ideas=session.scalar(
            select(func.count()).select_from(Idea).where(Idea.hidden_at.is_not(None))
        )
        or 0,
        growing=growing,
        voters_by_week=voters_by_week,
        last_rebuilt=themes.last_rebuilt(session),
        updates=weekly.recent(session, UPDATES),
    )
