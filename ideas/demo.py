"""Demo data: a realistic, deterministic community (random.Random(42)) built through the
domain's own functions, so it obeys the same rules as real use."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ideas import accounts, boards, comments, trending, votes
from ideas import ideas as idea_rules
from ideas.models import Board, Comment, Idea, Job, StatusChange, User, Vote, utcnow

CONTENT = Path(__file__).parent / "demo_content.json"
STAFF_EMAIL, STAFF_PASSWORD = "team@harbor.example", "harbor-team"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@harbor.example", "harbor-admin"
MEMBER_PASSWORD = "harbor-member"
DAYS = 120  # the community's age

# Share of ideas in each status, the rest open.
STATUS_SHARES = [
    ("under_review", 0.12),
    ("planned", 0.08),
    ("in_progress", 0.05),
    ("shipped", 0.07),
    ("declined", 0.04),
]


@dataclass(frozen=True)
class Summary:
    boards: int
    ideas: int
    members: int
    votes: int
    comments: int


def is_empty(session: Session) -> bool:
    return not any(
        session.scalar(select(func.count()).select_from(model)) for model in (User, Board, Idea)
    )


def load(session: Session, content_path: Path = CONTENT) -> Summary:
    content: dict[str, Any] = json.loads(content_path.read_text(encoding="utf-8"))
    rng = random.Random(42)
    now = utcnow()

    admin = accounts.create_user(session, ADMIN_EMAIL, "Alex Admin", ADMIN_PASSWORD, "admin")
    team = accounts.create_user(session, STAFF_EMAIL, "Harbor Team", STAFF_PASSWORD, "staff")
    by_slug = {
        spec["slug"]: boards.create_board(
            session, admin, spec["name"], spec["description"], spec.get("vote_budget")
        )
        for spec in content["boards"]
    }
    # One hash for every demo member: hashing is slow on purpose.
    shared_hash = accounts.hash_password(MEMBER_PASSWORD)
    members = []
    for person in content["members"]:
        member = User(
            email=person["email"].lower(),
            name=person["name"],
            role="member",
            password_hash=shared_hash,
            created_at=now - timedelta(days=DAYS + 10),
        )
        session.add(member)
        members.append(member)
    session.flush()

    ideas = []
    for index, spec in enumerate(content["ideas"]):
        author = rng.choice(members)
        idea = idea_rules.submit(
            session, author, by_slug[spec["board"]], spec["title"], spec["description"]
        )
        # Older ideas first, spread over the community's life.
        age = DAYS * (1 - index / len(content["ideas"])) * rng.uniform(0.85, 1.0)
        idea.created_at = idea.updated_at = now - timedelta(days=age, minutes=rng.randint(0, 600))
        ideas.append((idea, spec))
    session.flush()

    for idea, _spec in ideas:
        popularity = min(len(members) - 1, int(rng.paretovariate(1.3)) - 1 + rng.randint(0, 3))
        for voter in rng.sample(members, popularity):
            if voter.id == idea.author_id:
                continue
            remaining = votes.remaining(session, voter, idea.board)
            if remaining is None or remaining > 0:
                votes.vote(session, voter, idea)

    comment_pool = {"en": content["comments"]["generic"], "it": content["comments"]["generic_it"]}
    for idea, spec in ideas:
        pool = comment_pool["it" if spec.get("lang") == "it" else "en"]
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
            author = rng.choice(members)
            threads = comments.threads(session, idea, None)
            parent = rng.choice(threads).comment.id if threads and rng.random() < 0.3 else None
            comments.add(session, author, idea, rng.choice(pool), parent)

    notes = content["status_notes"]
    for idea, _spec in ideas:
        roll, cumulative = rng.random(), 0.0
        for status, share in STATUS_SHARES:
            cumulative += share
            if roll < cumulative:
                if status in ("planned", "in_progress", "shipped"):
                    idea_rules.set_status(
                        session, team, idea, "under_review", rng.choice(notes["under_review"])
                    )
                idea_rules.set_status(session, team, idea, status, rng.choice(notes[status]))
                break
    session.flush()
    # The status changes above are the community's past, not news: nobody is emailed about them.
    session.execute(delete(Job).where(Job.kind == "status_mail"))
    _spread_over_time(session, now, rng)
    trending.recount(session, [idea.id for idea, _spec in ideas], now)  # the votes moved back
    return Summary(
        boards=len(by_slug),
        ideas=len(ideas),
        members=len(members),
        votes=session.scalar(select(func.count()).select_from(Vote)) or 0,
        comments=session.scalar(select(func.count()).select_from(Comment)) or 0,
    )


def _spread_over_time(session: Session, now: Any, rng: random.Random) -> None:
    """Votes, comments and status changes happen after their idea, not all at load time."""
    created = {
        idea_id: moment for idea_id, moment in session.execute(select(Idea.id, Idea.created_at))
    }
    for model in (Vote, Comment, StatusChange):
        by_idea: dict[int, list[int]] = {}
        for row_id, idea_id in session.execute(select(model.id, model.idea_id).order_by(model.id)):
            by_idea.setdefault(idea_id, []).append(row_id)
        for idea_id, row_ids in by_idea.items():
            start = created[idea_id]
            moments = sorted(start + (now - start) * rng.random() for _ in row_ids)
            for row_id, moment in zip(row_ids, moments, strict=True):
                session.execute(update(model).where(model.id == row_id).values(created_at=moment))
