"""categories.gb_code, categories.definition: each subcategory's GB/T 30428.2 class (null for a
city's own) and a plain-Chinese definition of what belongs in it (the citizens' help text)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 12:00:00

Both are nullable: rows get their values from reports/data/categories.csv at the next
`flask reports seed-reference` (which fills them in even with --keep-existing).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gb_code", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("definition", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_column("definition")
        batch_op.drop_column("gb_code")
