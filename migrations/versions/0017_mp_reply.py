"""the public account's passive reply kept with each inbound message (WeChat's retry gets the
same answer), and the tables of issue 15's public-account work

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("wechat_mp_messages") as batch:
        batch.add_column(sa.Column("reply", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("wechat_mp_messages") as batch:
        batch.drop_column("reply")
