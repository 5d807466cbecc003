"""trigram indexes on idea titles and descriptions, for the search box (PostgreSQL only)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 23:40:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The search box filters with ILIKE '%word%' on the title and the description, which read
    # every idea: 0.7 s a search at 100,000 ideas (bench/scale.py). pg_trgm's GIN indexes answer
    # words of three letters or more from the index. SQLite has no such index; its search scans.
    # The indexes are not in the models (ideas.migrate.POSTGRESQL_ONLY_INDEXES).
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in ("title", "description"):
        op.create_index(
            f"ix_ideas_{column}_trgm",
            "ideas",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in ("title", "description"):
        op.drop_index(f"ix_ideas_{column}_trgm", table_name="ideas")
