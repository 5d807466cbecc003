"""A small scripted community with fixed timestamps, for the weekly update's tests and golden
files. The week under test is 2026-W47 in Europe/Rome: Monday 16 November 00:00 (15 Nov 23:00
UTC) to Monday 23 November 00:00 (22 Nov 23:00 UTC). Everything is made through the domain's
own functions, then its timestamps are set to the script's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from ideas import accounts, boards, roadmap, votes
from ideas import ideas as idea_rules
from ideas.db import Database
from ideas.models import (
    Idea,
    RoadmapChange,
    RoadmapItem,
    StatusChange,
    Theme,
    ThemeIdea,
    User,
    Vote,
)

ZONE = "Europe/Rome"
WEEK = "2026-W47"
BASE_URL = "https://ideas.example.com"
ROOT = Path(__file__).resolve().parent.parent
# Monday 23 Nov 2026, 08:00 in Rome: the scheduled run that exports WEEK.
AFTER_THE_WEEK = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """A UTC instant, "2026-11-22 22:30"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PEOPLE = ("Ada", "Bruno", "Chiara", "Dario", "Elena")
# title, author, created (UTC)
IDEAS = [
    ("Offline mode", "Ada", "2026-11-02 10:00"),
    ("Dark mode", "Bruno", "2026-11-03 10:00"),
    ("Export to CSV", "Chiara", "2026-11-10 10:00"),
    ("Calendar sync", "Dario", "2026-11-17 10:00"),
    ("Widgets on the home screen", "Elena", "2026-11-18 10:00"),
    # Sunday 23:30 in Rome: still the week under test.
    ("Keyboard shortcuts, *fast* [beta]", "Ada", "2026-11-22 22:30"),
    # Monday 00:30 in Rome: the next week.
    ("Late idea", "Elena", "2026-11-22 23:30"),
]
# idea number (1-based), voter, when: authors' own votes are at their idea's creation.
VOTES = [
    (1, "Bruno", "2026-11-04 09:00"),
    (1, "Chiara", "2026-11-12 09:00"),
    (1, "Dario", "2026-11-17 09:00"),
    (1, "Elena", "2026-11-22 22:45"),
    (2, "Ada", "2026-11-16 09:00"),
    (3, "Dario", "2026-11-10 11:00"),
    (4, "Ada", "2026-11-17 11:00"),
    (4, "Bruno", "2026-11-18 11:00"),
    (5, "Chiara", "2026-11-19 11:00"),
]


@dataclass
class Community:
    team: User
    people: dict[str, User]
    ideas: list[Idea]
    items: dict[str, RoadmapItem]


def build(db: Database) -> Community:
    with db.transaction() as session:
        team = accounts.create_user(session, "team@example.com", "Tess Team", None, "staff")
        people = {
            name: accounts.create_user(session, f"{name.lower()}@example.com", name, None)
            for name in PEOPLE
        }
        board = boards.create_board(session, None, "Mobile app", "", None)
        ideas = [
            idea_rules.submit(session, people[author], board, title, "")
            for title, author, _ in IDEAS
        ]
        for number, voter, _ in VOTES:
            votes.vote(session, people[voter], ideas[number - 1])
        session.flush()

        def item(title: str, idea: int, target: str = "", note: str = "") -> RoadmapItem:
            fields = roadmap.Fields(title, target=target)
            return roadmap.create(session, team, fields, [ideas[idea - 1]], note=note)

        items = {
            "offline": item("Offline mode", 1, "2026-Q4"),
            "dark": item("Dark mode", 2),
            "csv": item("CSV exports", 3, "2027-Q1", "First step: the roadmap itself."),
            "calendar": item("Calendar sync", 4),
        }
        roadmap.move(session, team, items["offline"], "in_progress", note="Started.")
        roadmap.move(session, team, items["offline"], "shipped", note="Out in version 3.2.")
        roadmap.move(session, team, items["dark"], "in_progress", note="On its way.")
        roadmap.move(session, team, items["calendar"], "cancelled", note="Not this year.")
        themes = [Theme(auto_name="offline · sync"), Theme(auto_name="look · feel")]
        session.add_all(themes)
        session.flush()
        session.add_all(
            ThemeIdea(theme_id=theme.id, idea_id=ideas[number - 1].id)
            for theme, numbers in zip(themes, [(1, 4), (2, 5)], strict=True)
            for number in numbers
        )
        team_id, idea_ids = team.id, [idea.id for idea in ideas]
        item_ids = {key: value.id for key, value in items.items()}
        voter_ids = {name: person.id for name, person in people.items()}

    # The script's times.
    created = {
        "offline": "2026-11-05 10:00",
        "dark": "2026-11-05 10:05",
        "csv": "2026-11-18 15:00",
        "calendar": "2026-11-20 10:00",
    }
    moves = {
        ("offline", "in_progress"): "2026-11-11 10:00",
        ("offline", "shipped"): "2026-11-19 14:00",
        # Sunday 23:30 in Rome (22:30 UTC): in the week under test.
        ("dark", "in_progress"): "2026-11-22 22:30",
        # Monday 00:30 in Rome (Sunday 23:30 UTC): in the next week.
        ("calendar", "cancelled"): "2026-11-22 23:30",
    }
    with db.transaction() as session:
        for (_title, author, when), idea_id in zip(IDEAS, idea_ids, strict=True):
            session.execute(update(Idea).where(Idea.id == idea_id).values(created_at=at(when)))
            session.execute(
                update(Vote)
                .where(Vote.idea_id == idea_id, Vote.user_id == voter_ids[author])
                .values(created_at=at(when))
            )
        for number, voter, when in VOTES:
            session.execute(
                update(Vote)
                .where(Vote.idea_id == idea_ids[number - 1], Vote.user_id == voter_ids[voter])
                .values(created_at=at(when))
            )
        for key, when in created.items():
            session.execute(
                update(RoadmapItem)
                .where(RoadmapItem.id == item_ids[key])
                .values(created_at=at(when))
            )
            session.execute(
                update(RoadmapChange)
                .where(RoadmapChange.item_id == item_ids[key], RoadmapChange.from_status.is_(None))
                .values(created_at=at(when))
            )
        for (key, status), when in moves.items():
            session.execute(
                update(RoadmapChange)
                .where(RoadmapChange.item_id == item_ids[key], RoadmapChange.to_status == status)
                .values(created_at=at(when))
            )
        session.execute(update(StatusChange).values(created_at=at("2026-11-05 10:00")))
        # Their status emails are not what these tests look at.
        session.execute(update(User).values(email_updates="never"))
    with db.reading() as session:
        return Community(
            team=session.get_one(User, team_id),
            people={name: session.get_one(User, uid) for name, uid in voter_ids.items()},
            ideas=[session.get_one(Idea, idea_id) for idea_id in idea_ids],
            items={key: session.get_one(RoadmapItem, iid) for key, iid in item_ids.items()},
        )
