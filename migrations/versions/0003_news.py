"""news (城管动态 articles)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:55:33.053076

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "news_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("cover_media_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft", "published", "withdrawn", name="newsstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("author_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_staff_id"],
            ["staff_users.id"],
            name=op.f("fk_news_articles_author_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["cover_media_id"], ["media.id"], name=op.f("fk_news_articles_cover_media_id_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_articles")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("news_articles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_news_articles_author_staff_id"), ["author_staff_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_news_articles_cover_media_id"), ["cover_media_id"], unique=False
        )
        # The public list: published articles, newest first.
        batch_op.create_index(
            "ix_news_articles_status_published", ["status", "published_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("news_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_news_articles_status_published")
        batch_op.drop_index(batch_op.f("ix_news_articles_cover_media_id"))
        batch_op.drop_index(batch_op.f("ix_news_articles_author_staff_id"))

    op.drop_table("news_articles")
