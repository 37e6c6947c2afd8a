"""report_follows: a citizen follows a public case someone else reported (我也遇到了), once per
case and citizen

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_follows_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_report_follows_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_follows")),
        sa.UniqueConstraint(
            "report_id", "user_id", name=op.f("uq_report_follows_report_id_user_id")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("report_follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_follows_user_id"), ["user_id"], unique=False)


def downgrade():
    # The table takes its indexes with it; MariaDB refuses to drop ix_report_follows_user_id on
    # its own while the user_id foreign key needs it.
    op.drop_table("report_follows")
