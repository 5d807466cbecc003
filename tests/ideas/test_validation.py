"""The domain's validation against arbitrary text (Hypothesis): whatever people type, the rules
answer with the stored thing or a ValidationError naming the fields - never another exception,
on SQLite and on PostgreSQL alike (which refuses NUL in text) - and what is stored and read back
is exactly the input after its documented normalisation."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ideas import accounts, boards, comments, roadmap, themes
from ideas import ideas as idea_rules
from ideas.comments import BODY_LIMITS
from ideas.db import Database
from ideas.errors import ValidationError
from ideas.models import Board, Comment, Idea, RoadmapItem, Theme, User

bounded = hypothesis_settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text people might send: anything Unicode has (NUL and other control characters, lone
# combining marks, right-to-left overrides, astral characters...), long runs, and whitespace of
# every kind around it.
ODD = ["\x00", "a\x00b", "\u202e", "\ufeff", "\u200b", "\U0001f600", "\x1c\x1d", "\u3000", "\t\n"]
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(codec="utf-8"), min_size=5, max_size=300),
    st.sampled_from(ODD),
    st.builds(
        lambda piece, n: piece * n,
        st.sampled_from(["a", "é", " ", "\U0001f600", "ab "]),
        st.integers(0, 6000),
    ),
    st.builds(
        lambda a, b, c: a + b + c,
        st.sampled_from(["", " ", "\n\t", "\u3000"]),
        st.text(min_size=1, max_size=80),
        st.sampled_from(["", " ", "\r\n", "\xa0"]),
    ),
)


def squeezed(text: str) -> str:
    """How titles and names are normalised: runs of whitespace become one space."""
    return " ".join(text.split())


def storable(*texts: str) -> bool:
    return all("\x00" not in text for text in texts)


def fits(text: str, low: int, high: int) -> bool:
    return low <= len(text) <= high


@pytest.fixture
def world(db: Database) -> Iterator[dict[str, Any]]:
    with db.transaction() as session:
        member = accounts.create_user(session, "member@example.com", "Member", None)
        team = accounts.create_user(session, "team@example.com", "Team", None, "admin")
        board = boards.create_board(session, None, "Main", "", None)
        idea = idea_rules.submit(session, member, board, "An idea to comment on", "")
        theme = Theme(auto_name="csv · export")
        session.add(theme)
        session.flush()
    yield {
        "member": member.id,
        "team": team.id,
        "board": board.id,
        "idea": idea.id,
        "theme": theme.id,
    }


def attempt(db: Database, change: Callable[[Any], Any]) -> Any:
    """Runs the change in a transaction: its result, or the ValidationError it raised (any
    other exception fails the test)."""
    try:
        with db.transaction() as session:
            result = change(session)
            return result if isinstance(result, int | float | str | None) else result.id
    except ValidationError as error:
        assert error.fields, "a ValidationError names its fields"
        return error


def outcome_matches(result: Any, valid: bool, fields: set[str]) -> None:
    if valid:
        assert not isinstance(result, ValidationError), result.fields
    else:
        assert isinstance(result, ValidationError), "invalid input was stored"
        assert set(result.fields) <= fields, result.fields


@bounded
@given(title=TEXT, description=TEXT)
@example(title="A fine title\x00", description="")
@example(title="A fine title", description="\x00")
@example(title="    short    ", description="")
@example(title="A title" + " " * 200 + "that fits", description=" \n" * 3000)
def test_ideas_submit_and_edit(
    db: Database, world: dict[str, Any], title: str, description: str
) -> None:
    title_shown, description_shown = squeezed(title), description.strip()
    valid = (
        fits(title_shown, *idea_rules.TITLE_LIMITS)
        and fits(description_shown, *idea_rules.DESCRIPTION_LIMITS)
        and storable(title, description)
    )

    def submit(session: Any) -> Idea:
        author = session.get_one(User, world["member"])
        board = session.get_one(Board, world["board"])
        return idea_rules.submit(session, author, board, title, description)

    result = attempt(db, submit)
    outcome_matches(result, valid, {"title", "description"})

    def edit(session: Any) -> Idea:
        idea = session.get_one(Idea, world["idea"])
        idea_rules.edit(session, session.get_one(User, world["member"]), idea, title, description)
        return idea

    outcome_matches(attempt(db, edit), valid, {"title", "description"})
    if valid:
        with db.reading() as session:
            for idea_id in (result, world["idea"]):
                stored = idea_rules.get(session, idea_id, None)
                assert (stored.title, stored.description) == (title_shown, description_shown)


@bounded
@given(body=TEXT)
@example(body="\x00")
@example(body=" \u3000 ")
def test_comments_add(db: Database, world: dict[str, Any], body: str) -> None:
    shown = body.strip()
    valid = fits(shown, *BODY_LIMITS) and storable(body)

    def add(session: Any) -> Comment:
        author = session.get_one(User, world["member"])
        return comments.add(session, author, session.get_one(Idea, world["idea"]), body)

    result = attempt(db, add)
    outcome_matches(result, valid, {"body"})
    if valid:
        with db.reading() as session:
            assert comments.get(session, result).body == shown


@bounded
@given(
    email=st.one_of(TEXT, st.emails(), st.emails().map(lambda e: f"  {e.upper()}\x00")), name=TEXT
)
@example(email="someone@example.com\x00", name="Someone")
@example(email="some\x00one@example.com", name="Someone")
@example(email="someone@example.com", name="Some\x00one")
def test_accounts_create_user(db: Database, email: str, name: str) -> None:
    email_shown, name_shown = accounts.normalise_email(email), name.strip()
    with db.reading() as session:
        taken = storable(email) and accounts.find_by_email(session, email) is not None
    valid = (
        accounts.EMAIL.match(email_shown) is not None
        and len(email_shown) <= 254
        and fits(name_shown, 1, 80)
        and storable(email, name)
        and not taken
    )

    result = attempt(db, lambda session: accounts.create_user(session, email, name, None))
    outcome_matches(result, valid, {"email", "name"})
    if valid:
        with db.reading() as session:
            stored = accounts.get_user(session, result)
            assert (stored.email, stored.name) == (email_shown, name_shown)
            assert accounts.find_by_email(session, email) is not None


@bounded
@given(segment=TEXT, weight=st.one_of(TEXT, st.floats().map(str), st.integers().map(str)))
@example(segment="Enterprise", weight="2,5")
@example(segment="Enter\x00prise", weight="1")
@example(segment="", weight="1e309")
@example(segment="", weight="nan")
def test_accounts_set_customer(
    db: Database, world: dict[str, Any], segment: str, weight: str
) -> None:
    def change(session: Any) -> User:
        admin, member = session.get_one(User, world["team"]), session.get_one(User, world["member"])
        accounts.set_customer(session, admin, member, segment, weight)
        return member

    result = attempt(db, change)
    if not isinstance(result, ValidationError):
        with db.reading() as session:
            stored = accounts.get_user(session, world["member"])
            assert stored.segment == (squeezed(segment) or None)
            assert math.isfinite(stored.weight) and 0 < stored.weight <= accounts.WEIGHT_LIMIT
    else:
        assert set(result.fields) <= {"segment", "weight"}


@bounded
@given(name=TEXT, description=TEXT, budget=st.one_of(TEXT, st.integers().map(str), st.none()))
@example(name="Mobile\x00", description="", budget=None)
@example(name="Mobile", description="\x00", budget="3")
@example(name="\u202e", description="", budget="²")
def test_boards_create(db: Database, name: str, description: str, budget: str | None) -> None:
    def create(session: Any) -> Board:
        return boards.create_board(session, None, name, description, budget)

    result = attempt(db, create)
    name_shown = name.strip()
    if isinstance(result, ValidationError):
        assert set(result.fields) <= {"name", "description", "vote_budget"}
        assert not (
            fits(name_shown, 1, 80)
            and fits(description.strip(), 0, 1000)
            and storable(name, description)
            and budget in (None, "")
            and "name" not in result.fields  # a board with the same slug exists
        )
        return
    assert storable(name, description)
    with db.reading() as session:
        stored = session.get_one(Board, result)
        assert (stored.name, stored.description) == (name_shown, description.strip())
        assert boards.get_by_slug(session, stored.slug).id == result
        assert stored.slug == boards.slugify(name_shown) and stored.slug.isascii()


@bounded
@given(name=TEXT)
@example(name="CSV\x00 exports")
@example(name="   ")
def test_themes_rename(db: Database, world: dict[str, Any], name: str) -> None:
    shown = squeezed(name)
    valid = fits(shown, 0, themes.NAME_LIMIT) and storable(name)

    def rename(session: Any) -> Theme:
        theme = session.get_one(Theme, world["theme"])
        themes.rename(session, session.get_one(User, world["team"]), theme, name)
        return theme

    outcome_matches(attempt(db, rename), valid, {"name"})
    if valid:
        with db.reading() as session:
            theme = themes.get(session, world["theme"])
            assert theme.custom_name == (shown or None)
            assert theme.name == (shown or theme.auto_name)


NUMBERISH = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    TEXT,
    st.sampled_from(["0,5", " 2 ", "1e3", "inf", "-0", "0.25", "nan", "١"]),
)


@bounded
@given(
    title=TEXT,
    description=TEXT,
    target=st.one_of(TEXT, st.sampled_from(["2027-03", " 2027-q1 ", "2027-13", "2027-Q5"])),
    impact=NUMBERISH,
    confidence=NUMBERISH,
    effort=NUMBERISH,
    weighted=st.one_of(st.booleans(), NUMBERISH),
)
@example(
    title="Exports\x00",
    description="",
    target="",
    impact=1,
    confidence=0.5,
    effort=1,
    weighted=False,
)
def test_roadmap_validate_and_create(
    db: Database,
    world: dict[str, Any],
    title: str,
    description: str,
    target: str,
    impact: Any,
    confidence: Any,
    effort: Any,
    weighted: Any,
) -> None:
    fields = roadmap.Fields(title, description, target, impact, confidence, effort, weighted)
    try:
        clean = roadmap.validate(fields)
    except ValidationError as error:
        assert error.fields and set(error.fields) <= set(roadmap.Fields.__dataclass_fields__)
        return
    assert clean["title"] == squeezed(title) and clean["description"] == description.strip()
    assert clean["impact"] in roadmap.IMPACTS
    assert 0 <= clean["confidence"] <= 1 and 0 < clean["effort"] <= roadmap.MAX_EFFORT
    assert clean["target"] is None or roadmap.TARGET.match(clean["target"])

    def create(session: Any) -> RoadmapItem:
        return roadmap.create(session, session.get_one(User, world["team"]), fields, [])

    result = attempt(db, create)
    assert not isinstance(result, ValidationError), result.fields
    with db.reading() as session:
        item = roadmap.get(session, result)
        assert (item.title, item.description, item.target) == (
            clean["title"],
            clean["description"],
            clean["target"],
        )
        assert (item.impact, item.confidence, item.effort) == (
            clean["impact"],
            clean["confidence"],
            clean["effort"],
        )


@bounded
@given(status=st.one_of(st.sampled_from(idea_rules.STATUSES), TEXT), note=TEXT)
@example(status="planned", note="Next\x00 quarter")
def test_ideas_set_status(db: Database, world: dict[str, Any], status: str, note: str) -> None:
    valid = (
        status in idea_rules.STATUSES
        and fits(note.strip(), 0, idea_rules.NOTE_LIMIT)
        and storable(note)
    )

    def move(session: Any) -> Idea:
        idea = session.get_one(Idea, world["idea"])
        idea_rules.set_status(session, session.get_one(User, world["team"]), idea, status, note)
        return idea

    outcome_matches(attempt(db, move), valid, {"status", "note"})
    if valid:
        with db.reading() as session:
            assert session.get_one(Idea, world["idea"]).status == status
