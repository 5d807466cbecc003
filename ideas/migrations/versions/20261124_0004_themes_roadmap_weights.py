"""themes, roadmap, customer weight and email preferences

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 18:07:34.411271
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "themes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.Integer(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("auto_name", sa.String(length=200), nullable=False),
        sa.Column("custom_name", sa.String(length=120), nullable=True),
        sa.Column("central_idea_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("weighted_voters", sa.Double(), nullable=False),
        sa.Column("growth", sa.Integer(), nullable=False),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_themes_board_id_boards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["central_idea_id"],
            ["ideas.id"],
            name=op.f("fk_themes_central_idea_id_ideas"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["themes.id"], name=op.f("fk_themes_merged_into_id_themes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themes")),
    )
    op.create_table(
        "roadmap_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=7), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("impact", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("effort", sa.Double(), nullable=False),
        sa.Column("weighted_reach", sa.Boolean(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_roadmap_items_theme_id_themes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadmap_items")),
    )
    with op.batch_alter_table("roadmap_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roadmap_items_status"), ["status"], unique=False)

    op.create_table(
        "theme_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("other_theme_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["other_theme_id"],
            ["themes.id"],
            name=op.f("fk_theme_events_other_theme_id_themes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_theme_events_theme_id_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_events")),
    )
    with op.batch_alter_table("theme_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_theme_events_theme_id"), ["theme_id"], unique=False)

    op.create_table(
        "theme_ideas",
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_theme_ideas_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_theme_ideas_theme_id_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("theme_id", "idea_id", name=op.f("pk_theme_ideas")),
    )
    with op.batch_alter_table("theme_ideas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_theme_ideas_idea_id"), ["idea_id"], unique=False)

    op.create_table(
        "theme_weeks",
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("weighted_voters", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["themes.id"],
            name=op.f("fk_theme_weeks_theme_id_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("theme_id", "week", name=op.f("pk_theme_weeks")),
    )
    op.create_table(
        "roadmap_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_roadmap_changes_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["roadmap_items.id"],
            name=op.f("fk_roadmap_changes_item_id_roadmap_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadmap_changes")),
    )
    with op.batch_alter_table("roadmap_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadmap_changes_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_roadmap_changes_item_id"), ["item_id"], unique=False)

    op.create_table(
        "roadmap_item_ideas",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"],
            ["ideas.id"],
            name=op.f("fk_roadmap_item_ideas_idea_id_ideas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["roadmap_items.id"],
            name=op.f("fk_roadmap_item_ideas_item_id_roadmap_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "idea_id", name=op.f("pk_roadmap_item_ideas")),
    )
    with op.batch_alter_table("roadmap_item_ideas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadmap_item_ideas_idea_id"), ["idea_id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("weight", sa.Double(), server_default="1", nullable=False))
        batch_op.add_column(
            sa.Column(
                "email_updates", sa.String(length=12), server_default="immediately", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_updates")
        batch_op.drop_column("weight")
        batch_op.drop_column("segment")

    with op.batch_alter_table("roadmap_item_ideas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadmap_item_ideas_idea_id"))

    op.drop_table("roadmap_item_ideas")
    with op.batch_alter_table("roadmap_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadmap_changes_item_id"))
        batch_op.drop_index(batch_op.f("ix_roadmap_changes_created_at"))

    op.drop_table("roadmap_changes")
    op.drop_table("theme_weeks")
    with op.batch_alter_table("theme_ideas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_theme_ideas_idea_id"))

    op.drop_table("theme_ideas")
    with op.batch_alter_table("theme_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_theme_events_theme_id"))

    op.drop_table("theme_events")
    with op.batch_alter_table("roadmap_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadmap_items_status"))

    op.drop_table("roadmap_items")
    op.drop_table("themes")
