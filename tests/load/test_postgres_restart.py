"""PostgreSQL stopped and started again under load: while it is away the portal answers with
clean 503s (JSON for the API, the error page for people), never a 500; once it is back the
portal serves again by itself (its pool pings connections before use), and nothing acknowledged
is lost. Runs on a private throw-away cluster (never the shared one), in the PostgreSQL pass."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import make_url

from ideas.db import Database
from ideas.migrate import upgrade
from tests.load.conftest import LoadSize, PostgresCluster, make_community
from tests.load.traffic import (
    ACKNOWLEDGED,
    REQUEST_TIMEOUT,
    Member,
    Mix,
    Plan,
    VoteRequest,
    acknowledged_writes,
    run_load,
    vote_problems,
    write_problems,
)

OUTAGE_SECONDS = 1.0  # how long PostgreSQL stays down: long enough for requests to find it away


@pytest.fixture
def cluster(database_url: str, request: pytest.FixtureRequest) -> PostgresCluster:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("runs in the PostgreSQL pass (DATABASE_URL=postgresql+psycopg://…)")
    found: PostgresCluster = request.getfixturevalue("private_postgres")
    return found


@pytest.fixture
def restart_db(cluster: PostgresCluster):  # type: ignore[no-untyped-def]
    database = Database(cluster.url)
    upgrade(database.engine)
    yield database
    database.dispose()


def test_the_portal_recovers_by_itself_from_a_postgresql_restart(
    restart_db: Database, cluster: PostgresCluster, start_portal, size: LoadSize
) -> None:
    community = make_community(restart_db, size.clients, ideas=8)
    portal = start_portal(cluster.url)
    members = [Member(user_id, token) for user_id, token in community.members]
    mix = Mix(vote=6, comment=1, page=1)
    plan = Plan(community.board_slug, community.idea_ids, [], mix, allowed=frozenset({503}))
    acknowledged_at: dict[str, int] = {}

    async def restart_postgres(stop: asyncio.Event) -> None:
        await asyncio.sleep(size.seconds / 2)
        await asyncio.to_thread(cluster.stop, "fast")
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(cluster.start)
        acknowledged_at["restart"] = acknowledged_writes(members)
        await asyncio.sleep(size.seconds / 2)
        stop.set()

    tally, _ = asyncio.run(run_load(portal.url, members, plan, restart_postgres))

    print(f"\nPostgreSQL restarted mid-load, {size.clients} members: {tally.summary()}")
    assert not tally.unexpected, tally.unexpected
    assert not tally.transport_errors
    assert tally.statuses[503] > 0  # the outage was seen, and answered cleanly
    assert acknowledged_writes(members) > acknowledged_at["restart"]  # served again by itself

    # Every member's next vote succeeds: no web process kept a broken connection.
    async def vote_once_each() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=portal.url, timeout=REQUEST_TIMEOUT) as client:
            path = f"/api/v1/ideas/{community.idea_ids[0]}/vote"
            return await asyncio.gather(
                *(client.post(path, headers=member.headers) for member in members)
            )

    answers = asyncio.run(vote_once_each())
    assert [answer.status_code for answer in answers] == [200] * len(members)
    for member in members:
        member.votes.append(VoteRequest(community.idea_ids[0], True, ACKNOWLEDGED))

    problems = write_problems(restart_db, members)
    problems += vote_problems(restart_db, members, [[idea_id] for idea_id in community.idea_ids])
    assert not problems, problems[:20]
