"""wechat_subscribe_grants: each "accept" of the mini-program's subscribe prompt, spent by one
message (one-time subscribe messages); a retried report of the same prompt adds nothing

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 11:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wechat_subscribe_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("report_number", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_wechat_subscribe_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_subscribe_grants")),
        sa.UniqueConstraint(
            "user_id",
            "template_id",
            "request_key",
            name=op.f("uq_wechat_subscribe_grants_user_id_template_id_request_key"),
        ),
    )


def downgrade():
    op.drop_table("wechat_subscribe_grants")
