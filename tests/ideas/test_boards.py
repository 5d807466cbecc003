"""Boards: slugs, validation, duplicate names, admin-only changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ideas import boards
from ideas.errors import Forbidden, NotFound, ValidationError
from ideas.models import AuditEntry, Board, User


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Mobile App", "mobile-app"),
        ("  API & Integrations!  ", "api-integrations"),
        ("Café Crème", "cafe-creme"),
        ("Über Größe", "uber-groe"),
        ("2026 Roadmap", "2026-roadmap"),
        ("!!!", "board"),
        ("日本語", "board"),
    ],
)
def test_slugify(name, slug) -> None:
    assert boards.slugify(name) == slug


def test_slugify_keeps_slugs_short_and_clean() -> None:
    for length in range(50, 70):
        slug = boards.slugify("a" * length + " tail words here")
        assert len(slug) <= 60
        assert not slug.startswith("-") and not slug.endswith("-"), slug


def create(session, actor=None, name="Mobile app", description="", vote_budget=None):
    return boards.create_board(session, actor, name, description, vote_budget)


def errors_of(db, **kwargs) -> set[str]:
    with db.transaction() as session, pytest.raises(ValidationError) as caught:
        create(session, **kwargs)
    return set(caught.value.fields)


@pytest.mark.parametrize("budget", ["0", 0, -1, "1001", 1001, "three", "2.5"])
def test_vote_budget_must_be_a_whole_number_in_range(db, budget) -> None:
    assert errors_of(db, vote_budget=budget) == {"vote_budget"}


@pytest.mark.parametrize(("given", "stored"), [(None, None), ("", None), ("1", 1), (1000, 1000)])
def test_vote_budget_accepted(db, given, stored) -> None:
    with db.transaction() as session:
        board = create(session, vote_budget=given)
    assert board.vote_budget == stored


def test_name_and_description_are_validated(db) -> None:
    assert errors_of(db, name="   ") == {"name"}
    assert errors_of(db, name="n" * 81) == {"name"}
    assert errors_of(db, description="d" * 1001) == {"description"}


def test_create_trims_and_finds_by_slug(db) -> None:
    with db.transaction() as session:
        board = create(session, name="  Mobile App ", description="  Phones.  ")
    assert (board.name, board.slug, board.description) == ("Mobile App", "mobile-app", "Phones.")
    with db.reading() as session:
        assert boards.get_by_slug(session, "mobile-app").id == board.id
        assert boards.find_by_slug(session, "nope") is None
        with pytest.raises(NotFound):
            boards.get_by_slug(session, "nope")


def test_duplicate_names_are_refused(db) -> None:
    with db.transaction() as session:
        create(session, name="Mobile App")
    assert errors_of(db, name="mobile app") == {"name"}
    assert errors_of(db, name="Mobile  APP!") == {"name"}
    with db.reading() as session:
        assert len(boards.all_boards(session)) == 1


def test_all_boards_in_creation_order(db, make_board) -> None:
    made = [make_board("Zeta"), make_board("Alpha"), make_board("Mid")]
    with db.reading() as session:
        assert [board.id for board in boards.all_boards(session)] == [board.id for board in made]


def test_only_admins_create_boards_and_it_is_audited(db, make_user) -> None:
    admin, staff, member = make_user("admin"), make_user("staff"), make_user()
    with db.transaction() as session:
        for actor in (staff, member):
            with pytest.raises(Forbidden):
                create(session, session.get(User, actor.id))
        board = create(session, session.get(User, admin.id), name="Web")
    with db.reading() as session:
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.target_type, entry.target_id, entry.details) == (
            "board.create",
            "board",
            board.id,
            {"name": "Web"},
        )


def test_update_board(db, make_user, make_board) -> None:
    admin, staff = make_user("admin"), make_user("staff")
    board = make_board("Web", vote_budget=5)
    with db.transaction() as session:
        row = session.get(Board, board.id)
        with pytest.raises(Forbidden):
            boards.update_board(session, session.get(User, staff.id), row, "Other", "", None)
        with pytest.raises(ValidationError) as caught:
            boards.update_board(session, session.get(User, admin.id), row, "", "", "zero")
        assert set(caught.value.fields) == {"name", "vote_budget"}
        boards.update_board(session, session.get(User, admin.id), row, " Website ", " All. ", "")
    with db.reading() as session:
        row = session.get(Board, board.id)
        assert (row.name, row.description, row.vote_budget, row.slug) == (
            "Website",
            "All.",
            None,
            "web",
        )
        entry = session.scalars(select(AuditEntry)).one()
        assert entry.action == "board.update"
        assert entry.details["old_vote_budget"] == 5 and entry.details["vote_budget"] is None
