"""The load: members' clients that vote, unvote, submit and comment through the JSON API all at
once, each remembering what the portal acknowledged (a 2xx answer), staff merging and unmerging
meanwhile, and the checks of the database against what was acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from ideas.db import Database
from ideas.models import Comment, Idea, Vote

REQUEST_TIMEOUT = 60.0  # seconds; far above any answer under load, so a timeout is a failure
AWAY_PAUSE = 0.25  # seconds a client waits after finding the server away, so as not to spin

ACKNOWLEDGED, REFUSED, UNKNOWN = "acknowledged", "refused", "unknown"


@dataclass(frozen=True)
class VoteRequest:
    idea_id: int
    cast: bool  # a vote; False: taking it back
    outcome: str  # ACKNOWLEDGED (2xx), REFUSED (4xx, or never sent) or UNKNOWN (no answer, 5xx)


@dataclass
class Member:
    """One member's client and what the portal told it."""

    user_id: int
    token: str
    votes: list[VoteRequest] = field(default_factory=list)  # in the order sent
    ideas: list[tuple[int, str]] = field(default_factory=list)  # acknowledged: (id, title)
    comments: list[tuple[int, int, str]] = field(default_factory=list)  # (id, idea id, body)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def acknowledged_writes(members: list[Member]) -> int:
    """How many votes, unvotes, ideas and comments the members were told were done so far."""
    return sum(
        sum(request.outcome == ACKNOWLEDGED for request in member.votes)
        + len(member.ideas)
        + len(member.comments)
        for member in members
    )


def clean_error(response: httpx.Response) -> bool:
    """An error answer as the portal means to give it: JSON with an "error" for the API, the
    error page for people."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return isinstance(response.json().get("error"), str)
    return kind.startswith("text/html") and "</html>" in response.text


@dataclass
class Tally:
    """Every answer the load got, by status, and the unexpected ones with their bodies."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    unexpected_count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of every answer

    def record(self, response: httpx.Response, allowed: Collection[int] = ()) -> None:
        status = response.status_code
        self.statuses[status] += 1
        self.latencies.append(response.elapsed.total_seconds())
        if 200 <= status < 300 or (status in allowed and clean_error(response)):
            return
        self.unexpected_count += 1
        if len(self.unexpected) < 20:
            request = response.request
            self.unexpected.append(
                f"{request.method} {request.url.path}: {status} {response.text[:500]}"
            )

    def transport_error(self, error: httpx.TransportError) -> None:
        self.transport_errors[type(error).__name__] += 1

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.transport_errors.values())

    @property
    def acknowledged(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    def summary(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        ordered = sorted(self.latencies) or [0.0]
        p50, p95 = (ordered[int(q * (len(ordered) - 1))] * 1000 for q in (0.5, 0.95))
        return (
            f"{self.requests} requests in {self.seconds:.1f} s ({rate:.0f}/s), latency p50 "
            f"{p50:.0f} ms, p95 {p95:.0f} ms, max {ordered[-1] * 1000:.0f} ms: "
            f"{self.acknowledged} acknowledged; statuses {dict(sorted(self.statuses.items()))}; "
            f"transport errors {dict(self.transport_errors)}; unexpected {self.unexpected_count}"
        )


@dataclass(frozen=True)
class Mix:
    """What a member's client does, by weight: vote or unvote (half each), submit an idea,
    comment on one, read an idea's page (HTML)."""

    vote: float = 1.0
    submit: float = 0.0
    comment: float = 0.0
    page: float = 0.0


@dataclass(frozen=True)
class Plan:
    board_slug: str
    idea_ids: list[int]  # what members vote on, comment on and read
    merge_ids: list[int]  # what staff merge and unmerge (members vote on them too)
    mix: Mix = Mix()
    allowed: frozenset[int] = frozenset()  # error statuses that may come (e.g. 503 under faults)


async def member_client(
    client: httpx.AsyncClient,
    member: Member,
    plan: Plan,
    stop: asyncio.Event,
    tally: Tally,
    rng: random.Random,
) -> None:
    actions = ["vote", "submit", "comment", "page"]
    weights = [plan.mix.vote, plan.mix.submit, plan.mix.comment, plan.mix.page]
    targets = plan.idea_ids + plan.merge_ids
    sent = 0
    while not stop.is_set():
        sent += 1
        action = rng.choices(actions, weights)[0]
        idea_id = rng.choice(targets)
        cast = rng.random() < 0.5
        # A vote on an idea staff just merged is refused: "vote there" (409).
        allowed = plan.allowed | ({409} if idea_id in plan.merge_ids else set())
        try:
            if action == "vote":
                path = f"/api/v1/ideas/{idea_id}/vote"
                send = client.post if cast else client.delete
                response = await send(path, headers=member.headers)
                outcome = (
                    ACKNOWLEDGED
                    if response.is_success
                    else UNKNOWN
                    if response.status_code >= 500
                    else REFUSED
                )
                member.votes.append(VoteRequest(idea_id, cast, outcome))
            elif action == "submit":
                title = f"Idea {sent} of member {member.user_id}"
                body = {"board": plan.board_slug, "title": title, "description": "Under load."}
                response = await client.post("/api/v1/ideas", json=body, headers=member.headers)
                if response.is_success:
                    member.ideas.append((response.json()["id"], title))
            elif action == "comment":
                text = f"Comment {sent} of member {member.user_id}"
                response = await client.post(
                    f"/api/v1/ideas/{idea_id}/comments", json={"body": text}, headers=member.headers
                )
                if response.is_success:
                    member.comments.append((response.json()["id"], idea_id, text))
            else:
                response = await client.get(f"/ideas/{idea_id}", headers=member.headers)
            tally.record(response, allowed)
        except httpx.TransportError as error:
            tally.transport_error(error)
            if action == "vote":
                # Refused to connect: never sent. Anything else: it may have been done.
                sent_or_not = REFUSED if isinstance(error, httpx.ConnectError) else UNKNOWN
                member.votes.append(VoteRequest(idea_id, cast, sent_or_not))
            await asyncio.sleep(AWAY_PAUSE)


async def staff_client(
    client: httpx.AsyncClient,
    token: str,
    plan: Plan,
    stop: asyncio.Event,
    tally: Tally,
    rng: random.Random,
    done: Counter[str],
) -> None:
    """Merges one idea of the group into another, or undoes one of the merges it made, over
    and over (other staff may have undone it first, or merged on top of it)."""
    headers = {"Authorization": f"Bearer {token}"}
    # Already merged, not merged, would make a cycle: refused as the rules say.
    allowed = plan.allowed | {400, 409}
    mine: list[int] = []  # the ideas this client merged
    while not stop.is_set():
        if mine and rng.random() < 0.5:
            action, source, body = "unmerge", mine.pop(rng.randrange(len(mine))), {}
        else:
            source, target = rng.sample(plan.merge_ids, 2)
            action, body = "merge", {"into": target}
        try:
            response = await client.post(
                f"/api/v1/ideas/{source}/{action}", json=body, headers=headers
            )
        except httpx.TransportError as error:
            tally.transport_error(error)
            await asyncio.sleep(AWAY_PAUSE)
            continue
        tally.record(response, allowed)
        if response.is_success:
            done[action] += 1
            if action == "merge":
                mine.append(source)


async def run_load(
    url: str,
    members: list[Member],
    plan: Plan,
    conductor: Callable[[asyncio.Event], Awaitable[None]],
    staff_token: str | None = None,
    staff_clients: int = 0,
    merges_done: Counter[str] | None = None,
    seed: int = 42,
) -> tuple[Tally, Tally]:
    """Every member's client, and `staff_clients` staff merging the plan's group, run until
    `conductor` (given the stop event) sets it; returns the members' tally and staff's, and
    counts the merges and unmerges acknowledged in `merges_done`."""
    stop = asyncio.Event()
    tally, staff_tally = Tally(), Tally()
    merges_done = Counter() if merges_done is None else merges_done
    # A client (a connection) per member, as each has a browser: one pool shared by hundreds
    # of requests at once costs the client more than the server.
    tls = ssl.create_default_context()  # made once: unused on http://, but made per client
    async with contextlib.AsyncExitStack() as stack:

        async def new_client() -> httpx.AsyncClient:
            client = httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT, verify=tls)
            return await stack.enter_async_context(client)

        tasks = [
            member_client(await new_client(), member, plan, stop, tally, random.Random(seed + n))
            for n, member in enumerate(members)
        ]
        if staff_token and len(plan.merge_ids) >= 2:
            for n in range(staff_clients):
                rng = random.Random(seed - 1 - n)
                client = await new_client()
                tasks.append(
                    staff_client(client, staff_token, plan, stop, staff_tally, rng, merges_done)
                )
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(conductor(stop), *tasks)
        tally.seconds = staff_tally.seconds = loop.time() - started
    return tally, staff_tally


def for_seconds(seconds: float) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def conduct(stop: asyncio.Event) -> None:
        await asyncio.sleep(seconds)
        stop.set()

    return conduct


# Checks ------------------------------------------------------------------------------------


def expected_own_votes(
    requests: list[VoteRequest], group: Collection[int]
) -> dict[int, bool | None]:
    """Whether the member must have a vote of their own on each idea of the group, from the
    answers they got (None: either way). The last acknowledged vote or unvote of an idea decides,
    unless a later request could have changed it unanswered; and in a group whose ideas are
    merged into each other, a later unvote of another idea of the group may have taken a vote
    back too (an unvote takes back the votes of the ideas merged into that one)."""
    expected: dict[int, bool | None] = dict.fromkeys(group, False)
    for request in requests:
        if request.idea_id not in expected or request.outcome == REFUSED:
            continue
        expected[request.idea_id] = request.cast if request.outcome == ACKNOWLEDGED else None
        if not request.cast:
            for other, has_vote in expected.items():
                if other != request.idea_id and has_vote:
                    expected[other] = None
    return expected


def vote_problems(db: Database, members: list[Member], groups: list[list[int]]) -> list[str]:
    """What in the database breaks the vote rules or what the members were told:
    - each idea's stored count is its number of vote rows, none of them for the same person;
      so is its count of recent votes (trending: every vote here is minutes old);
    - each idea's voters are exactly the people with a vote of their own anywhere in its tree
      (itself and the ideas merged into it): each distinct voter once;
    - each member's own votes are what the acknowledged answers say."""
    with db.reading() as session:
        ideas = session.execute(
            select(Idea.id, Idea.vote_count, Idea.merged_into_id, Idea.recent_votes)
        ).all()
        rows = session.execute(select(Vote.idea_id, Vote.user_id, Vote.via_merge_id)).all()
    voters: dict[int, list[int]] = defaultdict(list)
    own: dict[int, set[int]] = defaultdict(set)
    for idea_id, user_id, via_merge_id in rows:
        voters[idea_id].append(user_id)
        if via_merge_id is None:
            own[idea_id].add(user_id)
    merged_in: dict[int, list[int]] = defaultdict(list)
    for idea_id, _, merged_into_id, _ in ideas:
        if merged_into_id is not None:
            merged_in[merged_into_id].append(idea_id)

    def tree(idea_id: int) -> list[int]:
        found = [idea_id]
        for child in merged_in[idea_id]:
            found += tree(child)
        return found

    problems = []
    for idea_id, vote_count, _, recent_votes in ideas:
        people = voters[idea_id]
        if vote_count != len(people):
            problems.append(f"idea {idea_id}: counts {vote_count} votes, has {len(people)}")
        if recent_votes != len(people):
            problems.append(f"idea {idea_id}: {recent_votes} recent votes of {len(people)}")
        if len(set(people)) != len(people):
            problems.append(f"idea {idea_id}: someone's vote is there twice")
        distinct = set().union(*(own[member] for member in tree(idea_id)))
        if set(people) != distinct:
            problems.append(
                f"idea {idea_id} (tree {tree(idea_id)}): voters {sorted(set(people))}, but the "
                f"distinct voters of its tree are {sorted(distinct)}"
            )
    for member in members:
        for group in groups:
            for idea_id, has_vote in expected_own_votes(member.votes, group).items():
                if has_vote is not None and (member.user_id in own[idea_id]) != has_vote:
                    lost = "acknowledged vote lost" if has_vote else "acknowledged unvote undone"
                    problems.append(f"member {member.user_id}, idea {idea_id}: {lost}")
    return problems


def write_problems(db: Database, members: list[Member]) -> list[str]:
    """Every acknowledged idea and comment is stored as it was sent, and each idea's stored
    count of comments is its number of comments."""
    ideas = {idea_id: title for member in members for idea_id, title in member.ideas}
    comments = {
        comment_id: (idea_id, body)
        for member in members
        for comment_id, idea_id, body in member.comments
    }
    with db.reading() as session:
        stored_ideas = {
            idea_id: title for idea_id, title in session.execute(select(Idea.id, Idea.title))
        }
        stored_comments = {
            comment_id: (idea_id, body)
            for comment_id, idea_id, body in session.execute(
                select(Comment.id, Comment.idea_id, Comment.body)
            )
        }
        comment_counts = session.execute(select(Idea.id, Idea.comment_count)).all()
    problems = [
        f"acknowledged idea {idea_id} ({title!r}) is {stored_ideas.get(idea_id)!r}"
        for idea_id, title in ideas.items()
        if stored_ideas.get(idea_id) != title
    ]
    problems += [
        f"acknowledged comment {comment_id} {sent!r} is {stored_comments.get(comment_id)!r}"
        for comment_id, sent in comments.items()
        if stored_comments.get(comment_id) != sent
    ]
    per_idea = Counter(idea_id for idea_id, _ in stored_comments.values())
    problems += [
        f"idea {idea_id}: counts {count} comments, has {per_idea[idea_id]}"
        for idea_id, count in comment_counts
        if count != per_idea[idea_id]
    ]
    return problems
