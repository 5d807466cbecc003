"""Merging duplicate ideas, and undoing it exactly.

A merged idea points to its surviving idea (`merged_into_id`) and leaves the lists. What the
surviving idea gains is stored as rows that point back to the merge (`via_merge_id`): the votes
and follows of the merged idea's people who had none on it. The rule those rows follow, for every
idea X with ideas merged into it:

    each person with a vote (or follow) on an idea merged into X, and none of their own on X,
    has one carried row on X, attributed to the earliest of those merges that brought them.

A merge and an undo store or remove the merge, then bring X's carried rows in line with that rule
(`_sync`) and, when X was itself merged on, its surviving idea's too, up the chain. So an undo in
the middle of a chain (A into B, B into C; undo A into B) leaves exactly what B into C alone would
have left, and each surviving idea counts each distinct voter of its whole tree once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ideas import audit, counters, notifications, trending, webhooks
from ideas.errors import N_, Conflict, Errors, Forbidden, Message, NotFound
from ideas.models import DuplicateCandidate, Follow, Idea, Merge, User, Vote, utcnow

CHAIN_LIMIT = 1000  # a safety net against a corrupt cycle in merged_into_id


def surviving(session: Session, idea: Idea) -> Idea:
    """The idea this one lives on in: itself, or the end of its chain of merges."""
    seen = 0
    while idea.merged_into_id is not None and seen < CHAIN_LIMIT:
        target = session.get(Idea, idea.merged_into_id)
        if target is None:
            break
        idea, seen = target, seen + 1
    return idea


def lock(session: Session, *ideas: Idea) -> None:
    """Locks these ideas' rows (PostgreSQL; SQLite writers are serialised already) and reloads
    them, in id order. Votes and merges both lock the ideas they change: a vote cannot slip
    between a merge's reading of an idea's voters and its commit.

    The order that keeps two transactions from waiting on each other: a surviving idea before
    the ideas merged into it (an unvote locks its idea, then changes those), and surviving ideas
    in id order."""
    ids = sorted({idea.id for idea in ideas})
    session.execute(select(Idea.id).where(Idea.id.in_(ids)).order_by(Idea.id).with_for_update())
    for idea in ideas:
        session.refresh(idea)  # what was committed before the lock was ours


def lock_chain(session: Session, chain: list[Idea]) -> None:
    """Locks an idea and the ideas it lives on in (`chain`, from it to its surviving idea),
    the surviving idea first, and reloads them. An unvote locks its idea, then changes the
    ideas merged into it: locking in id order here, an undo could hold a merged idea and wait
    for the unvote's idea while the unvote waits for that merged idea (a deadlock)."""
    for idea in reversed(chain):
        session.execute(select(Idea.id).where(Idea.id == idea.id).with_for_update())
    for idea in chain:
        session.refresh(idea)


def tree_ids(session: Session, idea_id: int) -> list[int]:
    """The idea and every idea merged into it, directly or by a chain."""
    found, frontier = [idea_id], [idea_id]
    while frontier and len(found) < 100_000:
        frontier = list(session.scalars(select(Idea.id).where(Idea.merged_into_id.in_(frontier))))
        found.extend(frontier)
    return found


def active_merge(session: Session, source_id: int) -> Merge | None:
    return session.scalar(
        select(Merge).where(Merge.source_id == source_id, Merge.undone_at.is_(None))
    )


def _sync(session: Session, model: type[Vote] | type[Follow], idea_id: int) -> None:
    """Brings the carried rows on `idea_id` in line with the rule in the module's docstring."""
    merges = session.scalars(
        select(Merge)
        .where(Merge.target_id == idea_id, Merge.undone_at.is_(None))
        .order_by(Merge.id)
    ).all()
    own = set(
        session.scalars(
            select(model.user_id).where(model.idea_id == idea_id, model.via_merge_id.is_(None))
        )
    )
    wanted: dict[int, tuple[int, datetime]] = {}
    for merge in merges:
        rows = session.execute(
            select(model.user_id, model.created_at)
            .where(model.idea_id == merge.source_id)
            .order_by(model.user_id)
        )
        for user_id, created_at in rows:
            if user_id not in own and user_id not in wanted:
                wanted[user_id] = (merge.id, created_at)
    carried = {
        user_id: via
        for user_id, via in session.execute(
            select(model.user_id, model.via_merge_id).where(
                model.idea_id == idea_id, model.via_merge_id.is_not(None)
            )
        )
    }
    gone = [
        user_id
        for user_id, via in carried.items()
        if user_id not in wanted or wanted[user_id][0] != via
    ]
    if gone:
        session.execute(
            delete(model)
            .where(model.idea_id == idea_id, model.user_id.in_(gone))
            .execution_options(synchronize_session=False)
        )
    added = [
        {"idea_id": idea_id, "user_id": user_id, "via_merge_id": via, "created_at": created_at}
        for user_id, (via, created_at) in sorted(wanted.items())
        if carried.get(user_id) != via
    ]
    if added:
        session.execute(model.__table__.insert(), added)  # type: ignore[attr-defined]
    if model is Vote and len(added) != len(gone):
        counters.add(session, idea_id, "vote_count", len(added) - len(gone))
    if model is Vote and (added or gone):  # carried votes keep their age: some are recent
        trending.recount(session, [idea_id])


def _sync_up(session: Session, idea_id: int) -> None:
    """Syncs the idea, then each idea it lives on in, up the chain."""
    current: int | None = idea_id
    for _ in range(CHAIN_LIMIT):
        if current is None:
            return
        _sync(session, Vote, current)
        _sync(session, Follow, current)
        current = session.scalar(select(Idea.merged_into_id).where(Idea.id == current))


def _idea(session: Session, idea_id: int) -> Idea:
    idea = session.get(Idea, idea_id)
    if idea is None:
        raise NotFound(N_("This idea does not exist or was removed."))
    return idea


def merge(session: Session, actor: User, source: Idea, target: Idea) -> Merge:
    """Merges `source` into `target` (or into the idea `target` was merged into). Staff only."""
    if not actor.is_staff:
        raise Forbidden()
    errors = Errors()
    if source.merged_into_id is not None:
        root = surviving(session, source)
        raise Conflict(
            Message(
                N_("This idea is already merged into #%(id)d: merge that one instead."),
                {"id": root.id},
            )
        )
    if target.id == source.id:
        errors.add("into", N_("An idea cannot be merged into itself."))
    elif target.id in tree_ids(session, source.id):
        errors.add("into", N_("That idea is already merged into this one: it would make a cycle."))
    errors.raise_if_any()
    target = surviving(session, target)
    changed = Conflict(N_("These ideas changed meanwhile: look again and retry."))
    if target.id == source.id:
        raise changed
    # One at a time, each still a surviving idea once locked: holding an idea merged meanwhile
    # while waiting for the other could deadlock with an unvote of the idea it was merged into.
    for idea in sorted((source, target), key=lambda idea: idea.id):
        lock(session, idea)
        if idea.merged_into_id is not None:
            raise changed
    record = Merge(source_id=source.id, target_id=target.id, actor_id=actor.id)
    session.add(record)
    source.merged_into_id = target.id
    source.updated_at = utcnow()
    session.flush()
    _sync_up(session, target.id)
    session.execute(
        update(DuplicateCandidate)
        .where(
            DuplicateCandidate.idea_id == min(source.id, target.id),
            DuplicateCandidate.other_id == max(source.id, target.id),
        )
        .values(status="merged", decided_by_id=actor.id, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    audit.record(session, actor, "idea.merge", "idea", source.id, into=target.id)
    webhooks.merged(session, actor, source, target)
    told = set(session.scalars(select(Vote.user_id).where(Vote.idea_id == source.id)))
    told |= set(session.scalars(select(Follow.user_id).where(Follow.idea_id == source.id)))
    notifications.notify(
        session,
        told,
        "merged",
        target.id,
        actor,
        from_id=source.id,
        from_title=source.title,
        status=target.status,
    )
    return record


def unmerge(session: Session, actor: User, source: Idea) -> Idea:
    """Undoes the merge of `source`: it is back in the lists with its own votes and follows,
    and every idea it lived on in is as if that merge had never happened. Staff only."""
    if not actor.is_staff:
        raise Forbidden()
    chain = [source]  # the idea and every idea it lives on in: all of them change
    while chain[-1].merged_into_id is not None and len(chain) <= CHAIN_LIMIT:
        chain.append(_idea(session, chain[-1].merged_into_id))
    lock_chain(session, chain)
    record = active_merge(session, source.id)
    if record is None or source.merged_into_id is None:
        raise Conflict(N_("This idea is not merged."))
    links = zip(chain, chain[1:], strict=False)
    if chain[-1].merged_into_id is not None or any(
        lower.merged_into_id != upper.id for lower, upper in links
    ):
        # Merged on meanwhile: the ideas above would be locked after those below.
        raise Conflict(N_("These ideas changed meanwhile: look again and retry."))
    record.undone_at = utcnow()
    source.merged_into_id = None
    source.updated_at = utcnow()
    session.flush()
    _sync_up(session, record.target_id)
    session.execute(
        update(DuplicateCandidate)
        .where(
            DuplicateCandidate.idea_id == min(source.id, record.target_id),
            DuplicateCandidate.other_id == max(source.id, record.target_id),
            DuplicateCandidate.status == "merged",
        )
        .values(status="pending", decided_by_id=None, decided_at=None)
        .execution_options(synchronize_session=False)
    )
    audit.record(session, actor, "idea.unmerge", "idea", source.id, was_into=record.target_id)
    return _idea(session, source.id)


def unvote_tree(session: Session, user_id: int, idea_id: int) -> int:
    """Takes the person's votes back across the idea's whole tree (a vote carried by a merge
    stands for the original one); returns how many rows were removed. The caller holds the
    idea's lock: the ideas merged into it change only under it (and by trending's decay, which
    moves no vote)."""
    removed = 0
    for tree_id in tree_ids(session, idea_id):
        deleted = session.execute(
            delete(Vote)
            .where(Vote.idea_id == tree_id, Vote.user_id == user_id)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if deleted:
            counters.add(session, tree_id, "vote_count", -deleted)
            trending.recount(session, [tree_id])  # the vote taken back may be recent or not
            removed += deleted
    return removed


def recent(session: Session, limit: int = 20) -> list[tuple[Merge, Idea, Idea]]:
    """The latest merges still in force, with their ideas, newest first."""
    rows = session.scalars(
        select(Merge).where(Merge.undone_at.is_(None)).order_by(Merge.id.desc()).limit(limit)
    ).all()
    return [(row, _idea(session, row.source_id), _idea(session, row.target_id)) for row in rows]


def merged_into(session: Session, idea: Idea) -> list[Idea]:
    """The ideas merged into this one, directly or by a chain."""
    ids = tree_ids(session, idea.id)[1:]
    if not ids:
        return []
    return list(session.scalars(select(Idea).where(Idea.id.in_(ids)).order_by(Idea.id)))
