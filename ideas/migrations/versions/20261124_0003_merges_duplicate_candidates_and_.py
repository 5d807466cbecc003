"""merges, duplicate candidates and embeddings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 14:39:12.047044
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_duplicate_candidates_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_duplicate_candidates_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["ideas.id"],
            name=op.f("fk_duplicate_candidates_other_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.UniqueConstraint("idea_id", "other_id", name="uq_duplicate_candidates_pair"),
    )
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_duplicate_candidates_other_id"), ["other_id"], unique=False
        )
        batch_op.create_index("ix_duplicate_candidates_status", ["status", "score"], unique=False)

    op.create_table(
        "idea_embeddings",
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_idea_embeddings_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("idea_id", name=op.f("pk_idea_embeddings")),
    )
    with op.batch_alter_table("idea_embeddings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idea_embeddings_model"), ["model"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_idea_embeddings_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_merges_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["ideas.id"], name=op.f("fk_merges_source_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["ideas.id"], name=op.f("fk_merges_target_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merges_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_merges_target_id"), ["target_id"], unique=False)

    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("via_merge_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_follows_via_merge_id"), ["via_merge_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_follows_via_merge_id_merges"),
            "merges",
            ["via_merge_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_ideas_merged_into_id"), ["merged_into_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ideas_merged_into_id_ideas"), "ideas", ["merged_into_id"], ["id"]
        )

    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("via_merge_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_votes_via_merge_id"), ["via_merge_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_votes_via_merge_id_merges"),
            "merges",
            ["via_merge_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_votes_via_merge_id_merges"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_votes_via_merge_id"))
        batch_op.drop_column("via_merge_id")

    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ideas_merged_into_id_ideas"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_ideas_merged_into_id"))
        batch_op.drop_column("merged_into_id")

    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_follows_via_merge_id_merges"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_follows_via_merge_id"))
        batch_op.drop_column("via_merge_id")

    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merges_target_id"))
        batch_op.drop_index(batch_op.f("ix_merges_source_id"))

    op.drop_table("merges")
    with op.batch_alter_table("idea_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idea_embeddings_updated_at"))
        batch_op.drop_index(batch_op.f("ix_idea_embeddings_model"))

    op.drop_table("idea_embeddings")
    with op.batch_alter_table("duplicate_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_candidates_status")
        batch_op.drop_index(batch_op.f("ix_duplicate_candidates_other_id"))

    op.drop_table("duplicate_candidates")
