"""change counter for facilities (the nearest-search index follows app.changes, topic facilities)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TOPICS = ("facilities",)


def upgrade():
    table = sa.table("change_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(table, [{"name": name, "value": 0} for name in TOPICS])


def downgrade():
    op.execute(sa.text("DELETE FROM change_counters WHERE name = 'facilities'"))
