"""kill -9 of the server (the supervisor and every web process) in the middle of the load, then
a restart while the clients go on: every acknowledged vote, idea and comment is there
afterwards. Requests in flight at the kill may have been done or not."""

from __future__ import annotations

import asyncio

from ideas.db import Database
from tests.load.conftest import LoadSize, make_community
from tests.load.traffic import (
    Member,
    Mix,
    Plan,
    acknowledged_writes,
    run_load,
    vote_problems,
    write_problems,
)


def test_acknowledged_writes_survive_kill_9_of_the_server(
    fault_run: None, db: Database, database_url: str, start_portal, size: LoadSize
) -> None:
    community = make_community(db, size.clients, ideas=8)
    portal = start_portal(database_url)
    members = [Member(user_id, token) for user_id, token in community.members]
    plan = Plan(community.board_slug, community.idea_ids, [], Mix(vote=6, submit=1, comment=1))
    acknowledged_at: dict[str, int] = {}

    async def kill_and_restart(stop: asyncio.Event) -> None:
        await asyncio.sleep(size.seconds / 2)
        await asyncio.to_thread(portal.kill)
        acknowledged_at["kill"] = acknowledged_writes(members)
        await asyncio.to_thread(portal.start)
        acknowledged_at["restart"] = acknowledged_writes(members)
        await asyncio.sleep(size.seconds / 2)
        stop.set()

    tally, _ = asyncio.run(run_load(portal.url, members, plan, kill_and_restart))

    backend = db.engine.dialect.name
    print(f"\nkill -9 mid-load, {size.clients} members, {backend}: {tally.summary()}")
    assert not tally.unexpected, tally.unexpected
    # The load ran on both sides of the kill, and some requests found the server away.
    assert 0 < acknowledged_at["kill"] <= acknowledged_at["restart"] < acknowledged_writes(members)
    assert tally.transport_errors
    assert any(member.ideas for member in members)
    assert any(member.comments for member in members)
    problems = write_problems(db, members)
    problems += vote_problems(db, members, [[idea_id] for idea_id in community.idea_ids])
    assert not problems, problems[:20]
