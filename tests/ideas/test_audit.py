"""The audit log: who did what, newest first, paged."""

from __future__ import annotations

from ideas import audit, boards
from ideas.models import User


def test_record_and_read_back_newest_first(db, make_user) -> None:
    admin = make_user("admin", name="Alex Admin")
    with db.transaction() as session:
        for n in range(5):
            audit.record(session, admin, "user.role", "user", n, old="member", new="staff")
    with db.reading() as session:
        entries, total = audit.entries(session, page=1, per_page=2)
        assert total == 5 and [entry.target_id for entry in entries] == [4, 3]
        entries, _ = audit.entries(session, page=3, per_page=2)
        assert [entry.target_id for entry in entries] == [0]
        (entry,) = entries
        assert (entry.actor_id, entry.actor.name, entry.action, entry.target_type) == (
            admin.id,
            "Alex Admin",
            "user.role",
            "user",
        )
        assert entry.details == {"old": "member", "new": "staff"}
        assert entry.created_at.tzinfo is not None


def test_domain_actions_leave_entries(db, make_user) -> None:
    admin = make_user("admin")
    with db.transaction() as session:
        actor = session.get(User, admin.id)
        board = boards.create_board(session, actor, "Web")
        boards.update_board(session, actor, board, "Website", "", 3)
    with db.reading() as session:
        entries, total = audit.entries(session)
        assert total == 2
        assert [entry.action for entry in entries] == ["board.update", "board.create"]


def test_entries_survive_their_actor(db, make_user) -> None:
    admin = make_user("admin")
    with db.transaction() as session:
        audit.record(session, admin, "user.block", "user", 42)
    with db.transaction() as session:
        session.delete(session.get(User, admin.id))
    with db.reading() as session:
        (entry,), total = audit.entries(session)
        assert total == 1 and entry.actor_id is None and entry.actor is None
