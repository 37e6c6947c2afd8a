"""the case heat map reads points from ix_reports_stats_created

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:45:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD = ["created_at", "state", "department_id", "category_id"]


def upgrade():
    op.drop_index("ix_reports_stats_created", table_name="reports")
    op.create_index("ix_reports_stats_created", "reports", [*OLD, "lat", "lng"], unique=False)


def downgrade():
    op.drop_index("ix_reports_stats_created", table_name="reports")
    op.create_index("ix_reports_stats_created", "reports", OLD, unique=False)
