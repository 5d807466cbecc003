"""The database schema as SQLAlchemy 2.0 models. Rules live in the domain modules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default="member")
    locale: Mapped[str | None] = mapped_column(String(10))
    blocked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Customer weight (set by admins): a big account's voice counts more in weighted figures,
    # which always sit beside the plain counts.
    segment: Mapped[str | None] = mapped_column(String(40))
    weight: Mapped[float] = mapped_column(default=1.0, server_default="1")
    # Email about ideas they follow: "immediately", "weekly" (a digest) or "never".
    email_updates: Mapped[str] = mapped_column(
        String(12), default="immediately", server_default="immediately"
    )
    # Opted in to the weekly roadmap update by email (ideas.weekly).
    roadmap_updates: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


class UserSession(Base):
    """A signed-in browser. The cookie holds the token; we keep only its hash."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Board(Base):
    __tablename__ = "boards"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    vote_budget: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Idea(Base):
    __tablename__ = "ideas"
    __table_args__ = (
        Index("ix_ideas_board_status", "board_id", "status"),
        Index("ix_ideas_vote_count", "vote_count"),
        Index("ix_ideas_created_at", "created_at"),
        # The trending order, read from the index (see ideas.trending).
        Index("ix_ideas_trending", "recent_votes", "vote_count", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    vote_count: Mapped[int] = mapped_column(default=0)
    # Its votes of the last two weeks, for the trending order (kept by ideas.trending).
    recent_votes: Mapped[int] = mapped_column(default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(default=0)
    comments_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_at: Mapped[datetime | None]
    # Set when staff merge this idea into another (the surviving idea); cleared by an undo.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    board: Mapped[Board] = relationship(lazy="joined")
    author: Mapped[User] = relationship(lazy="joined")


class StatusChange(Base):
    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User] = relationship(lazy="joined")


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("idea_id", "user_id", name="uq_votes_idea_user"),
        # An idea's recent votes are counted from this index alone (see ideas.trending).
        Index("ix_votes_idea_created", "idea_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # A vote carried onto the surviving idea by a merge (removed again by its undo).
    via_merge_id: Mapped[int | None] = mapped_column(
        ForeignKey("merges.id", ondelete="CASCADE"), index=True
    )


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    hidden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]

    author: Mapped[User] = relationship(lazy="joined")


class Follow(Base):
    __tablename__ = "follows"

    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A follow carried onto the surviving idea by a merge (removed again by its undo).
    via_merge_id: Mapped[int | None] = mapped_column(
        ForeignKey("merges.id", ondelete="CASCADE"), index=True
    )


class Notification(Base):
    """An in-app notification. `kind` and `data` are rendered in the reader's language."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    idea: Mapped[Idea | None] = relationship(lazy="joined")
    actor: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[actor_id])


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Job(Base):
    """Background work (mail, later webhooks and rebuilds), written in the same transaction
    as the change that causes it and run by the worker."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "done_at", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Names the work once (e.g. "status:12:34"): the same key is never queued twice.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    locked_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitHit(Base):
    """Requests counted per key and fixed window, shared by every web process."""

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class SiteSetting(Base):
    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Merge(Base):
    """Staff merged `source` into `target`; what the merge carried over points back here, so
    an undo restores the state exactly."""

    __tablename__ = "merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]


class DuplicateCandidate(Base):
    """A pair of ideas that look alike, waiting for staff (or decided). `idea_id` < `other_id`."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        UniqueConstraint("idea_id", "other_id", name="uq_duplicate_candidates_pair"),
        Index("ix_duplicate_candidates_status", "status", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    other_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, dismissed, merged
    source: Mapped[str] = mapped_column(String(20), default="similarity")  # or "author"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]


class IdeaEmbedding(Base):
    """An idea's text vector (L2-normalised float32 bytes) and the model that made it."""

    __tablename__ = "idea_embeddings"
    # What the similar index's catch-up reads: a model's vectors written since a time, in order.
    __table_args__ = (Index("ix_idea_embeddings_model_updated", "model", "updated_at", "idea_id"),)

    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(100), index=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Theme(Base):
    """A group of active ideas that ask for related things, found by clustering and kept across
    rebuilds by member overlap. ``board_id`` None: a theme across all boards."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int | None] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    auto_name: Mapped[str] = mapped_column(String(200), default="")  # keywords + central title
    custom_name: Mapped[str | None] = mapped_column(String(120))  # staff's; survives rebuilds
    central_idea_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="SET NULL"))
    size: Mapped[int] = mapped_column(default=0)
    voters: Mapped[int] = mapped_column(default=0)
    weighted_voters: Mapped[float] = mapped_column(default=0.0)
    growth: Mapped[int] = mapped_column(default=0)  # new distinct voters in the last 7 days
    hidden_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]  # no cluster matched it at a rebuild
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def name(self) -> str:
        return self.custom_name or self.auto_name


class ThemeIdea(Base):
    """An idea's place in a theme. ``pinned``: staff moved it there, rebuilds keep it."""

    __tablename__ = "theme_ideas"

    theme_id: Mapped[int] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)


class ThemeEvent(Base):
    """What a rebuild or staff did to a theme: created, split, merged, retired, renamed..."""

    __tablename__ = "theme_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    other_theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThemeWeek(Base):
    """A theme's figures for one ISO week (``week``: its Monday), for growth charts."""

    __tablename__ = "theme_weeks"

    theme_id: Mapped[int] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    size: Mapped[int] = mapped_column(default=0)
    voters: Mapped[int] = mapped_column(default=0)
    votes: Mapped[int] = mapped_column(default=0)  # votes cast that week
    weighted_voters: Mapped[float] = mapped_column(default=0.0)


class RoadmapItem(Base):
    """A public commitment: ideas it answers, a status and target, and a RICE score."""

    __tablename__ = "roadmap_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    target: Mapped[str | None] = mapped_column(String(7))  # "2027-03" or "2027-Q1"
    note: Mapped[str] = mapped_column(Text, default="")  # the latest public note
    impact: Mapped[float] = mapped_column(default=1.0)
    confidence: Mapped[float] = mapped_column(default=0.8)
    effort: Mapped[float] = mapped_column(default=1.0)
    weighted_reach: Mapped[bool] = mapped_column(Boolean, default=False)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=0)  # order within its status column
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    shipped_at: Mapped[datetime | None]


class RoadmapItemIdea(Base):
    __tablename__ = "roadmap_item_ideas"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("roadmap_items.id", ondelete="CASCADE"), primary_key=True
    )
    idea_id: Mapped[int] = mapped_column(
        ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RoadmapChange(Base):
    """A roadmap item's status change (or creation: ``from_status`` None), with its note."""

    __tablename__ = "roadmap_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("roadmap_items.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[User | None] = relationship(lazy="joined")


class MailDelivery(Base):
    """One outgoing mail, by its job's key, recorded before it is handed to the server and
    marked once the server accepted it: a job retried after a crash sends it no second time."""

    __tablename__ = "mail_deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(250))  # the same on every attempt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Digest(Base):
    """A member's weekly digest: the status changes from ``since`` to ``until`` (one a week)."""

    __tablename__ = "digests"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)  # the Monday of its ISO week
    since: Mapped[datetime]
    until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeeklySnapshot(Base):
    """An ISO week (in the portal's time zone) frozen as it ended: the roadmap items, the top
    themes, the most voted new ideas. Every export of the week is rendered from ``data`` alone,
    so a past week comes out the same, byte for byte, however the portal changed since."""

    __tablename__ = "weekly_snapshots"

    week: Mapped[str] = mapped_column(String(8), primary_key=True)  # "2026-W48"
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """An outgoing webhook set by an admin: the events it wants, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: its body, and how the attempts to deliver it went."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the receiver's HTTP status
    last_response: Mapped[str | None] = mapped_column(Text)  # its body, cut short
    last_error: Mapped[str | None] = mapped_column(Text)  # no answer: why
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # gave up
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ImportRef(Base):
    """An idea imported from another tool, by that tool's id: importing again updates it."""

    __tablename__ = "import_refs"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)  # "fider", "csv", "json"
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
