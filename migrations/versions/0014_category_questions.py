"""categories.questions (follow-up questions as data), reports.answers and reports.urgent (the
citizen's answers; an urgent answer puts the case first in the dispatcher's queues)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 09:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("questions", sa.JSON(), nullable=True))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("urgent")
        batch_op.drop_column("answers")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_column("questions")
