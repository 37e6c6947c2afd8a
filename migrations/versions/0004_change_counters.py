"""change counters (cheap "did the shops change?" for per-process caches)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.bulk_insert(table, [{"name": "shops", "value": 0}])


def downgrade():
    op.drop_table("change_counters")
