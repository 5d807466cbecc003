"""trending kept on each idea: recent_votes and its index, counted once here

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 02:00:00
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WINDOW = timedelta(days=14)  # ideas.trending's when this was written

ideas = sa.table("ideas", sa.column("id", sa.Integer()), sa.column("recent_votes", sa.Integer()))
votes = sa.table(
    "votes", sa.column("idea_id", sa.Integer()), sa.column("created_at", sa.DateTime(True))
)


def upgrade() -> None:
    # The listing counted every idea's recent votes on every view (3.3 s at 1,000,000 ideas,
    # bench/scale.py); the count is kept on the idea now and read from an index.
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recent_votes", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_ideas_trending", ["recent_votes", "vote_count", "id"], unique=False
        )
    since = datetime.now(UTC) - WINDOW
    recent = (
        sa.select(sa.func.count())
        .where(votes.c.idea_id == ideas.c.id, votes.c.created_at >= since)
        .scalar_subquery()
    )
    voted = sa.select(votes.c.idea_id).where(votes.c.created_at >= since)
    op.execute(ideas.update().where(ideas.c.id.in_(voted)).values(recent_votes=recent))
    # The worker's first decay run looks at every older vote (seconds at 100,000 ideas), then
    # only at those that left the window since: a row written here would make a freshly
    # migrated database look not empty to a restore.


def downgrade() -> None:
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_index("ix_ideas_trending")
        batch_op.drop_column("recent_votes")
