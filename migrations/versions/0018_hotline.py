"""hotline (issue 15): 12345 work orders, each linked to the case it became

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 14:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hotline_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=True),
        sa.Column("category_name", sa.String(length=64), nullable=True),
        sa.Column("mapped_code", sa.String(length=16), nullable=True),
        sa.Column("coord_sys", sa.String(length=8), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("reply_deadline", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("push_seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_hotline_orders_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_orders")),
        sa.UniqueConstraint(
            "platform", "order_id", name=op.f("uq_hotline_orders_platform_order_id")
        ),
        sa.UniqueConstraint("report_id", name=op.f("uq_hotline_orders_report_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        "ix_hotline_orders_answered_deadline",
        "hotline_orders",
        ["answered_at", "reply_deadline"],
        unique=False,
    )


def downgrade():
    op.drop_table("hotline_orders")
