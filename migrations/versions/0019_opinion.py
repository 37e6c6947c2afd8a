"""opinion (issue 15): public-opinion watch (网络舆情): the sources watched, the keyword lists of the
relevance filter, and the posts found with what observers did (case, reply, follow-up)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 14:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade():
    op.create_table(
        "opinion_keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("word", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_keywords")),
        sa.UniqueConstraint("kind", "word", name=op.f("uq_opinion_keywords_kind_word")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "opinion_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("rss", "atom", "json", "page", name="sourcekind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("next_fetch_at", sa.DateTime(), nullable=True),
        sa.Column("last_fetched_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("items_found", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_opinion_sources_name")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("opinion_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opinion_sources_next_fetch_at"), ["next_fetch_at"], unique=False
        )

    op.create_table(
        "opinion_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("guid_hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("guid", sa.String(length=500), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("suggested_category", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "case", "irrelevant", name="itemstate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("case_number", sa.String(length=20), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.Column("replied_by_id", sa.Integer(), nullable=True),
        sa.Column("followup_result", sa.String(length=500), nullable=True),
        sa.Column(
            "satisfaction",
            sa.Enum(
                "satisfied",
                "basic",
                "dissatisfied",
                "unreachable",
                name="satisfaction",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("followed_up_at", sa.DateTime(), nullable=True),
        sa.Column("followed_up_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_users.id"],
            name=op.f("fk_opinion_items_decided_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["followed_up_by_id"],
            ["staff_users.id"],
            name=op.f("fk_opinion_items_followed_up_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["replied_by_id"],
            ["staff_users.id"],
            name=op.f("fk_opinion_items_replied_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_opinion_items_report_id_reports")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["opinion_sources.id"],
            name=op.f("fk_opinion_items_source_id_opinion_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_items")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_opinion_items_content_hash")),
        sa.UniqueConstraint("report_id", name=op.f("uq_opinion_items_report_id")),
        sa.UniqueConstraint(
            "source_id", "guid_hash", name=op.f("uq_opinion_items_source_id_guid_hash")
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("opinion_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opinion_items_found_at"), ["found_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_opinion_items_replied_at"), ["replied_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_opinion_items_source_id"), ["source_id"], unique=False)
        batch_op.create_index("ix_opinion_items_state_found", ["state", "found_at"], unique=False)


def downgrade():
    # Each table takes its indexes with it (MariaDB refuses to drop an index a foreign key needs).
    op.drop_table("opinion_items")
    op.drop_table("opinion_sources")
    op.drop_table("opinion_keywords")
