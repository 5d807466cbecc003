"""index votes by idea and time, for the trending sort

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 13:40:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_votes_idea_created", "votes", ["idea_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_votes_idea_created", table_name="votes")
