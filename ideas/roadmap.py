"""The roadmap: items the team commits to, the ideas each answers, their RICE score, and their
moves from planned to shipped.

Linked ideas follow their item: when an item moves, each linked idea that is not merged gets the
matching status through `ideas.set_status`, with the item's note, so its followers are told.

    item status    linked ideas become
    planned        planned
    in_progress    in_progress
    shipped        shipped
    cancelled      under_review, if the roadmap had them planned or in progress; other ideas stay
                   as they are (the promise is withdrawn, the demand is still there, and an idea
                   shipped or declined on its own is left alone)

Linking an idea brings it to its item's status at once; unlinking leaves it where it is.

RICE = reach × impact × confidence ÷ effort. Reach is the number of distinct people who voted for
any linked idea (a merge carries votes onto the surviving idea as rows of their own, so each
person counts once); with ``weighted_reach`` it is the sum of those people's customer weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ideas import audit, updates, webhooks
from ideas import ideas as idea_rules
from ideas.errors import N_, Conflict, Errors, Forbidden, Message, NotFound, ValidationError
from ideas.models import (
    Idea,
    RoadmapChange,
    RoadmapItem,
    RoadmapItemIdea,
    Theme,
    ThemeIdea,
    User,
    Vote,
    utcnow,
)

STATUSES = ("planned", "in_progress", "shipped", "cancelled")
STATUS_LABELS = {
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "shipped": N_("Shipped"),
    "cancelled": N_("Cancelled"),
}
IDEA_STATUS = {"planned": "planned", "in_progress": "in_progress", "shipped": "shipped"}
CANCELLED_IDEA_STATUS = "under_review"

# Intercom's RICE impact scale.
IMPACTS = (0.25, 0.5, 1.0, 2.0, 3.0)
IMPACT_LABELS = {
    0.25: N_("Minimal"),
    0.5: N_("Low"),
    1.0: N_("Medium"),
    2.0: N_("High"),
    3.0: N_("Massive"),
}
MAX_EFFORT = 1000.0  # person-months
TITLE_LIMITS = (3, 150)
DESCRIPTION_LIMITS = (0, 5000)
NOTE_LIMIT = idea_rules.NOTE_LIMIT
MAX_IDEAS = 500  # linked to one item at a time
TARGET = re.compile(r"^[12][0-9]{3}-(?:0[1-9]|1[0-2]|Q[1-4])$")


@dataclass(frozen=True)
class Score:
    """An item's RICE score and the numbers it is made of."""

    voters: int
    weighted_voters: float
    impact: float
    confidence: float
    effort: float
    weighted: bool

    @property
    def reach(self) -> float:
        return self.weighted_voters if self.weighted else float(self.voters)

    @property
    def value(self) -> float:
        return self.reach * self.impact * self.confidence / self.effort


@dataclass(frozen=True)
class Fields:
    """What the team writes on an item, as given: a form's strings or the API's values."""

    title: str
    description: str = ""
    target: str = ""
    impact: object = 1.0
    confidence: object = 0.8
    effort: object = 1.0
    weighted_reach: object = False

    @classmethod
    def of(cls, item: RoadmapItem) -> Fields:
        return cls(
            item.title,
            item.description,
            item.target or "",
            item.impact,
            item.confidence,
            item.effort,
            item.weighted_reach,
        )


def _ensure_staff(actor: User) -> None:
    if not actor.is_staff or actor.is_blocked:
        raise Forbidden()


def _number(value: object) -> float | None:
    """A finite number from a number or its text ("0,5" too); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def parse_target(raw: str) -> str | None:
    """ "2027-03" (a month) or "2027-Q1" (a quarter); None when empty. Raises ValueError."""
    target = raw.strip().upper()
    if not target:
        return None
    if not TARGET.match(target):
        raise ValueError(target)
    return target


def validate(fields: Fields) -> dict[str, Any]:
    """The fields as the item stores them, or a ValidationError naming each bad one."""
    errors = Errors()
    title = " ".join(fields.title.split())
    description = fields.description.strip()
    errors.check_length("title", title, *TITLE_LIMITS)
    errors.check_length("description", description, *DESCRIPTION_LIMITS)
    target = None
    try:
        target = parse_target(fields.target)
    except ValueError:
        errors.add("target", N_("A month like 2027-03 or a quarter like 2027-Q1."))
    impact = _number(fields.impact)
    if impact not in IMPACTS:
        errors.add("impact", N_("One of: %(values)s."), values=", ".join(f"{i:g}" for i in IMPACTS))
    confidence = _number(fields.confidence)
    if confidence is None or not 0 <= confidence <= 1:
        errors.add("confidence", N_("A number from 0 to 1, such as 0.8."))
    effort = _number(fields.effort)
    if effort is None or not 0 < effort <= MAX_EFFORT:
        errors.add(
            "effort", N_("Person-months: more than 0, at most %(max)d."), max=int(MAX_EFFORT)
        )
    if not isinstance(fields.weighted_reach, bool):
        errors.add("weighted_reach", N_("Yes or no (true or false)."))
    errors.raise_if_any()
    return {
        "title": title,
        "description": description,
        "target": target,
        "impact": impact,
        "confidence": confidence,
        "effort": effort,
        "weighted_reach": fields.weighted_reach,
    }


def _check_move(status: str, note: str) -> None:
    errors = Errors()
    if status not in STATUSES:
        errors.add("status", N_("Unknown status."))
    errors.check_length("note", note, 0, NOTE_LIMIT)
    errors.raise_if_any()


# Reading -----------------------------------------------------------------------------------


def get(session: Session, item_id: int) -> RoadmapItem:
    item = session.get(RoadmapItem, item_id)
    if item is None:
        raise NotFound(N_("There is no such roadmap item."))
    return item


def find_ideas(session: Session, idea_ids: Iterable[int], field: str = "ideas") -> list[Idea]:
    """The ideas with these ids, in the order given; a ValidationError on ``field`` naming the
    ones that do not exist or were merged (their surviving idea is the one to link)."""
    wanted = list(dict.fromkeys(idea_ids))
    found = {idea.id: idea for idea in session.scalars(select(Idea).where(Idea.id.in_(wanted)))}
    errors = Errors()
    if len(wanted) > MAX_IDEAS:
        errors.add(field, N_("At most %(n)d ideas."), n=MAX_IDEAS)
    missing = [idea_id for idea_id in wanted if idea_id not in found]
    if missing:
        errors.add(
            field,
            N_("There is no idea %(ids)s."),
            ids=", ".join(f"#{idea_id}" for idea_id in missing),
        )
    for idea_id in wanted:
        idea = found.get(idea_id)
        if idea is not None and idea.merged_into_id is not None:
            errors.add(
                field,
                N_("Idea #%(id)d was merged into #%(into)d: link that one."),
                id=idea.id,
                into=idea.merged_into_id,
            )
    errors.raise_if_any()
    return [found[idea_id] for idea_id in wanted]


def by_status(session: Session, statuses: Sequence[str] = STATUSES) -> dict[str, list[RoadmapItem]]:
    """The items in each status column, in their order."""
    columns: dict[str, list[RoadmapItem]] = {status: [] for status in statuses}
    items = session.scalars(
        select(RoadmapItem)
        .where(RoadmapItem.status.in_(list(statuses)))
        .order_by(RoadmapItem.position, RoadmapItem.id)
    )
    for item in items:
        columns[item.status].append(item)
    return columns


def shipped(session: Session, page: int = 1, per_page: int = 20) -> tuple[list[RoadmapItem], int]:
    """Shipped items, newest first, for the changelog."""
    query = select(RoadmapItem).where(RoadmapItem.status == "shipped")
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(RoadmapItem.shipped_at.desc(), RoadmapItem.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(items), total


def linked_ideas(
    session: Session, item_ids: Sequence[int], viewer: User | None = None
) -> dict[int, list[Idea]]:
    """Each item's linked ideas, most votes first. Hidden ideas are for the team only."""
    linked: dict[int, list[Idea]] = {item_id: [] for item_id in item_ids}
    if not item_ids:
        return linked
    query = (
        select(RoadmapItemIdea.item_id, Idea)
        .join(Idea, Idea.id == RoadmapItemIdea.idea_id)
        .where(RoadmapItemIdea.item_id.in_(item_ids))
        .order_by(Idea.vote_count.desc(), Idea.id)
    )
    if not (viewer and viewer.is_staff):
        query = query.where(Idea.hidden_at.is_(None))
    for item_id, idea in session.execute(query):
        linked[item_id].append(idea)
    return linked


def scores(session: Session, items: Sequence[RoadmapItem]) -> dict[int, Score]:
    """The RICE score of each item, in one query for all of them."""
    ids = [item.id for item in items]
    reach: dict[int, tuple[int, float]] = {}
    if ids:
        voters = (
            select(RoadmapItemIdea.item_id, Vote.user_id)
            .join(Vote, Vote.idea_id == RoadmapItemIdea.idea_id)
            .where(RoadmapItemIdea.item_id.in_(ids))
            .distinct()  # a person who voted for two linked ideas counts once
            .subquery()
        )
        rows = session.execute(
            select(voters.c.item_id, func.count(), func.sum(User.weight))
            .join(User, User.id == voters.c.user_id)
            .group_by(voters.c.item_id)
        )
        reach = {item_id: (count, float(weight or 0)) for item_id, count, weight in rows}
    return {
        item.id: Score(
            *reach.get(item.id, (0, 0.0)),
            impact=item.impact,
            confidence=item.confidence,
            effort=item.effort,
            weighted=item.weighted_reach,
        )
        for item in items
    }


def history(session: Session, item: RoadmapItem) -> list[RoadmapChange]:
    return list(
        session.scalars(
            select(RoadmapChange).where(RoadmapChange.item_id == item.id).order_by(RoadmapChange.id)
        )
    )


# Changing ----------------------------------------------------------------------------------


def _idea_status(item_status: str, idea_status: str) -> str | None:
    """What a linked idea becomes when its item is in ``item_status`` (None: it stays)."""
    if item_status == "cancelled":
        return CANCELLED_IDEA_STATUS if idea_status in ("planned", "in_progress") else None
    return IDEA_STATUS[item_status]


def _follow_item(
    session: Session,
    actor: User,
    item: RoadmapItem,
    ideas: Iterable[Idea],
    note: str,
    joining: bool = False,
) -> None:
    """Brings the ideas to their item's status; their voters and followers are told, with the
    note, once each.
    Ideas ``joining`` a cancelled item keep their status: nothing was withdrawn from them."""
    if joining and item.status == "cancelled":
        return
    changes = []
    for idea in sorted(ideas, key=lambda idea: idea.id):
        if idea.merged_into_id is not None:
            continue  # it lives on in its surviving idea, which is the one to move
        status = _idea_status(item.status, idea.status)
        if status is not None:
            change = idea_rules.set_status(session, actor, idea, status, note, tell=False)
            if change is not None:
                changes.append((change, idea))
    updates.tell(session, actor, changes, item)


def _ideas_of(session: Session, item: RoadmapItem) -> list[Idea]:
    return list(
        session.scalars(
            select(Idea)
            .join(RoadmapItemIdea, RoadmapItemIdea.idea_id == Idea.id)
            .where(RoadmapItemIdea.item_id == item.id)
        )
    )


def _place(session: Session, item: RoadmapItem, status: str, position: int | None) -> None:
    """Puts the item in ``status``'s column at ``position`` (0 is the top; None the bottom)
    and numbers the column again."""
    column = list(
        session.scalars(
            select(RoadmapItem)
            .where(RoadmapItem.status == status, RoadmapItem.id != item.id)
            .order_by(RoadmapItem.position, RoadmapItem.id)
        )
    )
    index = len(column) if position is None else max(0, min(position, len(column)))
    column.insert(index, item)
    for number, member in enumerate(column):
        member.position = number


def create(
    session: Session,
    actor: User,
    fields: Fields,
    ideas: Sequence[Idea] = (),
    status: str = "planned",
    note: str = "",
    theme: Theme | None = None,
) -> RoadmapItem:
    """A new item at the bottom of its column, with its ideas linked (they follow its status)."""
    _ensure_staff(actor)
    note = note.strip()
    values = validate(fields)
    _check_move(status, note)
    item = RoadmapItem(
        **values,
        status=status,
        note=note,
        theme_id=theme.id if theme else None,
        shipped_at=utcnow() if status == "shipped" else None,
    )
    session.add(item)
    session.flush()
    _place(session, item, status, None)
    session.add(
        RoadmapChange(
            item_id=item.id, actor_id=actor.id, from_status=None, to_status=status, note=note
        )
    )
    audit.record(session, actor, "roadmap.create", "roadmap_item", item.id, title=item.title)
    unique = list({idea.id: idea for idea in ideas}.values())
    session.add_all(RoadmapItemIdea(item_id=item.id, idea_id=idea.id) for idea in unique)
    session.flush()
    webhooks.roadmap_changed(
        session, actor, item, "created", note=note, idea_ids=[idea.id for idea in unique]
    )
    _follow_item(session, actor, item, unique, note, joining=True)
    return item


def from_theme(session: Session, actor: User, theme: Theme) -> RoadmapItem:
    """An item named after the theme, with every idea of the theme linked."""
    _ensure_staff(actor)
    taken = session.scalar(
        select(RoadmapItem.id).where(
            RoadmapItem.theme_id == theme.id, RoadmapItem.status != "cancelled"
        )
    )
    if taken is not None:
        raise Conflict(
            Message(N_("This theme is on the roadmap already: item #%(id)d."), {"id": taken})
        )
    ideas = session.scalars(
        select(Idea)
        .join(ThemeIdea, ThemeIdea.idea_id == Idea.id)
        .where(ThemeIdea.theme_id == theme.id)
        .order_by(Idea.id)
    )
    title = " ".join(theme.name.split())[: TITLE_LIMITS[1]]
    return create(session, actor, Fields(title), list(ideas), theme=theme)


def update(session: Session, actor: User, item: RoadmapItem, fields: Fields) -> None:
    """Changes what the item says and its RICE inputs (not its status: see `move`)."""
    _ensure_staff(actor)
    values = validate(fields)
    changed = sorted(name for name, value in values.items() if getattr(item, name) != value)
    if not changed:
        return
    for name in changed:
        setattr(item, name, values[name])
    item.updated_at = utcnow()
    audit.record(session, actor, "roadmap.update", "roadmap_item", item.id, fields=changed)
    webhooks.roadmap_changed(session, actor, item, "updated", fields=changed)


def move(
    session: Session,
    actor: User,
    item: RoadmapItem,
    status: str,
    position: int | None = None,
    note: str = "",
) -> None:
    """Moves the item to a status column (and a place in it). A new status, or a note, is
    recorded and passed on to the linked ideas and their followers."""
    _ensure_staff(actor)
    note = note.strip()
    _check_move(status, note)
    old = item.status
    if status != old or position is not None:
        _place(session, item, status, position)
    if status == old and not note:
        return  # a new place in the same column: nothing to tell anyone
    session.add(
        RoadmapChange(
            item_id=item.id, actor_id=actor.id, from_status=old, to_status=status, note=note
        )
    )
    audit.record(session, actor, "roadmap.move", "roadmap_item", item.id, old=old, new=status)
    item.status, item.note, item.updated_at = status, note, utcnow()
    if status != old:
        item.shipped_at = utcnow() if status == "shipped" else None
    moved = {"from": old, "to": status, "note": note}
    webhooks.roadmap_changed(session, actor, item, "moved", **moved)
    _follow_item(session, actor, item, _ideas_of(session, item), note)


def link(session: Session, actor: User, item: RoadmapItem, ideas: Sequence[Idea]) -> list[Idea]:
    """Links the ideas (those not linked yet, which are returned); they take the item's status."""
    _ensure_staff(actor)
    linked = set(
        session.scalars(select(RoadmapItemIdea.idea_id).where(RoadmapItemIdea.item_id == item.id))
    )
    new = list({idea.id: idea for idea in ideas if idea.id not in linked}.values())
    if len(linked) + len(new) > MAX_IDEAS:
        raise ValidationError({"ideas": Message(N_("At most %(n)d ideas."), {"n": MAX_IDEAS})})
    if not new:
        return []
    session.add_all(RoadmapItemIdea(item_id=item.id, idea_id=idea.id) for idea in new)
    item.updated_at = utcnow()
    audit.record(
        session, actor, "roadmap.link", "roadmap_item", item.id, ideas=[idea.id for idea in new]
    )
    session.flush()
    webhooks.roadmap_changed(session, actor, item, "linked", idea_ids=[idea.id for idea in new])
    _follow_item(session, actor, item, new, "", joining=True)
    return new


def unlink(session: Session, actor: User, item: RoadmapItem, idea_ids: Iterable[int]) -> None:
    """Unlinks the ideas; they keep the status they have."""
    _ensure_staff(actor)
    linked = RoadmapItemIdea.item_id == item.id, RoadmapItemIdea.idea_id.in_(set(idea_ids))
    gone = sorted(session.scalars(select(RoadmapItemIdea.idea_id).where(*linked)))
    if not gone:
        return
    session.execute(delete(RoadmapItemIdea).where(*linked))
    item.updated_at = utcnow()
    audit.record(session, actor, "roadmap.unlink", "roadmap_item", item.id, ideas=gone)
    webhooks.roadmap_changed(session, actor, item, "unlinked", idea_ids=gone)


def change(
    session: Session,
    actor: User,
    item: RoadmapItem,
    fields: Fields | None = None,
    ideas: Sequence[Idea] | None = None,
    status: str | None = None,
    position: int | None = None,
    note: str = "",
) -> None:
    """Several changes at once (the API's PATCH). ``ideas`` replaces the linked ideas. Ideas
    unlinked leave before the move and ideas linked join after it, so each one hears once."""
    _ensure_staff(actor)
    if fields is not None:
        update(session, actor, item, fields)
    if ideas is not None:
        keep = {idea.id for idea in ideas}
        current = session.scalars(
            select(RoadmapItemIdea.idea_id).where(RoadmapItemIdea.item_id == item.id)
        )
        unlink(session, actor, item, [idea_id for idea_id in current if idea_id not in keep])
    if status is not None or position is not None or note.strip():
        move(session, actor, item, item.status if status is None else status, position, note)
    if ideas is not None:
        link(session, actor, item, ideas)
