"""the console's case lists at millions of cases: per filter (state, category, district, channel)
an index of its cases newest first holding the scope (department, region) and the other
filters; the scope by creation time; the flagged to-dos (attention). ix_reports_category_state
gives way to ix_reports_category_list (same first column; with both, the planner merged
ix_reports_category_state with ix_reports_district_code and read 130,000 rows for a page). See
docs/benchmarks.md, "Console case lists at 1.34 million cases" (building them there: about 25 s)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_reports_state_list": ["state", "id", "department_id", "region_id", "district_code",
                              "category_id", "channel"],
    "ix_reports_category_list": ["category_id", "id", "department_id", "region_id", "state",
                                 "district_code", "channel"],
    "ix_reports_district_list": ["district_code", "id", "department_id", "region_id", "state",
                                 "category_id", "channel"],
    "ix_reports_channel_list": ["channel", "id", "department_id", "region_id", "state",
                                "district_code", "category_id"],
    "ix_reports_scope": ["department_id", "created_at", "region_id"],
    "ix_reports_attention_scope": ["attention", "department_id", "region_id"],
}  # fmt: skip
# MariaDB drops the index it made for the department_id foreign key once ix_reports_scope can
# serve it (one made by the downgrade below stays: dropped here), and refuses to drop
# ix_reports_scope until another index can serve the key again.
FK_INDEX = "fk_reports_department_id_departments"


def _mariadb() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "reports", columns, unique=False)
    op.drop_index("ix_reports_category_state", table_name="reports")
    if _mariadb() and op.get_bind().scalar(sa.text(
        "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() "
        "AND table_name = 'reports' AND index_name = :name"), {"name": FK_INDEX}):  # fmt: skip
        op.drop_index(FK_INDEX, table_name="reports")


def downgrade():
    op.create_index("ix_reports_category_state", "reports", ["category_id", "state"], unique=False)
    if _mariadb():
        op.create_index(FK_INDEX, "reports", ["department_id"], unique=False)
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="reports")
