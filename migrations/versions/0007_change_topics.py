"""change counters for regions and the working calendar (one cache-sync scheme: app.changes)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TOPICS = ("regions", "calendar")


def upgrade():
    table = sa.table("change_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(table, [{"name": name, "value": 0} for name in TOPICS])


def downgrade():
    op.execute(sa.text("DELETE FROM change_counters WHERE name IN ('regions', 'calendar')"))
