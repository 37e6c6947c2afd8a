"""change counter for the public account's keyword replies (wechat.keywords keeps them in memory
and follows app.changes, topic mp_keywords)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 09:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

TOPICS = ("mp_keywords",)


def upgrade():
    table = sa.table("change_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(table, [{"name": name, "value": 0} for name in TOPICS])


def downgrade():
    op.execute(sa.text("DELETE FROM change_counters WHERE name = 'mp_keywords'"))
