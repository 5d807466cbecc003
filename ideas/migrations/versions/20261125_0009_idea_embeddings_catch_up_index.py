"""index idea vectors by (model, updated_at, idea_id), what the similar index's catch-up reads

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 03:00:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # With one index on model and one on updated_at, SQLite answered "this model's vectors
    # written since T, in (updated_at, idea_id) order" from the model index: a read and sort of
    # every vector, 1.7 s per look at 1,000,000 ideas (bench/similar.py). This one serves the
    # filter and the order. The model index stays: SQLite reads a model's vectors in id order
    # from it (the first look).
    op.create_index(
        "ix_idea_embeddings_model_updated",
        "idea_embeddings",
        ["model", "updated_at", "idea_id"],
        unique=False,
    )
    op.drop_index("ix_idea_embeddings_updated_at", table_name="idea_embeddings")


def downgrade() -> None:
    op.create_index("ix_idea_embeddings_updated_at", "idea_embeddings", ["updated_at"])
    op.drop_index("ix_idea_embeddings_model_updated", table_name="idea_embeddings")
