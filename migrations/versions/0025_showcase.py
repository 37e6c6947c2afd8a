"""Civil-behaviour showcase (文明行为展示): posts, likes, abuse reports, featured

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 08:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

STATE = sa.Enum(
    "pending", "approved", "refused", "hidden", name="poststate", native_enum=False, length=16
)
REASON = sa.Enum(
    "improper",
    "privacy",
    "fake",
    "unrelated",
    "other",
    name="flagreason",
    native_enum=False,
    length=16,
)


def upgrade():
    op.create_table(
        "showcase_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=True),
        sa.Column("text", sa.String(200), nullable=False),
        sa.Column("district_code", sa.String(32), nullable=True),
        sa.Column("state", STATE, nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("featured_at", sa.DateTime(), nullable=True),
        sa.Column("featured_by_id", sa.Integer(), nullable=True),
        sa.Column("like_count", sa.Integer(), nullable=False),
        sa.Column("flag_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_showcase_posts_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["staff_users.id"],
            name=op.f("fk_showcase_posts_reviewed_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["featured_by_id"],
            ["staff_users.id"],
            name=op.f("fk_showcase_posts_featured_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcase_posts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_showcase_posts_idempotency_key")),
    )
    for column in (
        "author_id",
        "district_code",
        "reviewed_by_id",
        "featured_at",
        "featured_by_id",
        "created_at",
    ):
        op.create_index(op.f(f"ix_showcase_posts_{column}"), "showcase_posts", [column])
    op.create_index(
        "ix_showcase_posts_state_published", "showcase_posts", ["state", "published_at", "id"]
    )
    op.create_index(
        "ix_showcase_posts_state_likes", "showcase_posts", ["state", "like_count", "id"]
    )
    op.create_table(
        "showcase_photos",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["showcase_posts.id"],
            name=op.f("fk_showcase_photos_post_id_showcase_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_showcase_photos_media_id_media")
        ),
        sa.PrimaryKeyConstraint("post_id", "position", name=op.f("pk_showcase_photos")),
        sa.UniqueConstraint("media_id", name=op.f("uq_showcase_photos_media_id")),
    )
    op.create_table(
        "showcase_likes",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["showcase_posts.id"],
            name=op.f("fk_showcase_likes_post_id_showcase_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_showcase_likes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_showcase_likes")),
    )
    op.create_index(op.f("ix_showcase_likes_user_id"), "showcase_likes", ["user_id"])
    op.create_table(
        "showcase_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", REASON, nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["showcase_posts.id"],
            name=op.f("fk_showcase_flags_post_id_showcase_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_showcase_flags_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcase_flags")),
        sa.UniqueConstraint("post_id", "user_id", name=op.f("uq_showcase_flags_post_id_user_id")),
    )
    op.create_index(op.f("ix_showcase_flags_user_id"), "showcase_flags", ["user_id"])


def downgrade():
    op.drop_table("showcase_flags")
    op.drop_table("showcase_likes")
    op.drop_table("showcase_photos")
    # The table's indexes go with it (MariaDB refuses to drop one a foreign key needs).
    op.drop_table("showcase_posts")
