"""Many members vote and unvote the same ideas at once through several web processes while staff
merge and unmerge some of them: no vote is lost or doubled, nothing answers 5xx, and merges keep
the distinct-voter rule (each surviving idea counts each voter of its whole tree once)."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from ideas import merges
from ideas.db import Database
from ideas.models import Idea, User, Vote
from tests.load.conftest import LoadSize, make_community
from tests.load.traffic import Member, Plan, run_load, vote_problems

MERGE_WAIT = 120.0  # seconds the load may go on past its time for a merge and an undo to land


def test_votes_of_many_members_at_once_are_neither_lost_nor_doubled(
    db: Database, database_url: str, start_portal, size: LoadSize
) -> None:
    community = make_community(db, size.clients, ideas=8, merged=6)
    portal = start_portal(database_url)
    members = [Member(user_id, token) for user_id, token in community.members]
    plan = Plan(community.board_slug, community.idea_ids, community.merge_ids)
    merges_done: Counter[str] = Counter()

    async def conduct(stop: asyncio.Event) -> None:
        await asyncio.sleep(size.seconds)
        # On a slow machine a short load may end before staff got anything done.
        for _ in range(int(MERGE_WAIT * 10)):
            if merges_done["merge"] and merges_done["unmerge"]:
                break
            await asyncio.sleep(0.1)
        stop.set()

    staff = max(2, size.clients // 25)
    tally, staff_tally = asyncio.run(
        run_load(portal.url, members, plan, conduct, community.staff_token, staff, merges_done)
    )

    print(
        f"\n{size.clients} members, {size.processes} web processes, {db.engine.dialect.name}: "
        f"{tally.summary()}\n{staff} staff: {staff_tally.summary()}; {dict(merges_done)}"
    )
    assert not tally.unexpected and not staff_tally.unexpected, (
        tally.unexpected + staff_tally.unexpected
    )
    assert not tally.transport_errors and not staff_tally.transport_errors
    assert merges_done["merge"] > 0 and merges_done["unmerge"] > 0
    groups = [[idea_id] for idea_id in community.idea_ids] + [community.merge_ids]
    problems = vote_problems(db, members, groups)
    assert not problems, problems[:20]

    # Undoing every merge gives each idea back exactly its own voters.
    with db.transaction() as session:
        staff_user = session.scalars(select(User).where(User.role == "staff")).one()
        for idea in session.scalars(select(Idea).where(Idea.merged_into_id.is_not(None))):
            merges.unmerge(session, staff_user, idea)
    with db.reading() as session:
        assert not session.scalars(select(Vote).where(Vote.via_merge_id.is_not(None))).all()
    problems = vote_problems(db, members, groups)
    assert not problems, problems[:20]
